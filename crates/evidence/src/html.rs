//! The evidence page: one self-contained HTML file (no script, no external asset; styles and
//! charts inline as CSS and SVG) that a person opens in a browser and an archive keeps as is.
//!
//! Every name on it comes from manifests or stores and is escaped; the page holds no value,
//! only what [`Evidence`] holds.

use std::fmt::Write as _;

use crate::check::verify::Verdict;
use crate::dossier::{DayActivity, Evidence, SecretEvidence};

/// The page.
pub fn page(evidence: &Evidence) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>keyward evidence {id}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>keyward evidence</h1><p>Run <code id=\"run-id\">{id}</code>, gathered \
         {at} by keyward {version}, over {scope}. No value appears here: only names, store \
         metadata, keyed fingerprints' verdicts and audit entries.</p></header>\n",
        id = esc(&evidence.run_id),
        at = esc(&evidence.generated_at),
        version = esc(&evidence.keyward_version),
        scope = esc(&evidence.scope),
    );
    summary(&mut out, evidence);
    secrets_table(&mut out, evidence);
    rotation_chart(&mut out, &evidence.external_secrets);
    health_chart(&mut out, evidence);
    consumers_table(&mut out, evidence);
    stores_table(&mut out, evidence);
    audit_section(&mut out, evidence);
    out.push_str("</body>\n</html>\n");
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24;max-width:72rem}\
h1{margin:0 0 .3rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.3rem .5rem;\
border-bottom:1px solid #eaeef2;vertical-align:top;overflow-wrap:anywhere}th{background:#f6f8fa}\
.tiles{display:flex;gap:1rem;flex-wrap:wrap}.tile{border:1px solid #d0d7de;border-radius:6px;\
padding:.6rem 1rem;min-width:9rem}.tile b{display:block;font-size:1.6rem}\
.ok{color:#1a7f37}.bad{color:#cf222e}.warn{color:#9a6700}code{font-size:.85rem}\
svg text{font-size:11px;font-family:system-ui,sans-serif}";

fn summary(out: &mut String, evidence: &Evidence) {
    let s = &evidence.summary;
    let oldest = s
        .oldest_source_days
        .map_or_else(|| "unknown".to_owned(), |d| format!("{d:.1} days"));
    let _ = writeln!(
        out,
        "<section id=\"summary\" class=\"tiles\">\
         <div class=\"tile\"><b id=\"count-healthy\">{}/{}</b>ExternalSecrets healthy and verified</div>\
         <div class=\"tile\"><b id=\"count-matching\" class=\"ok\">{}</b>keys match their store</div>\
         <div class=\"tile\"><b id=\"count-failing\" class=\"{}\">{}</b>keys stale or different</div>\
         <div class=\"tile\"><b id=\"oldest\">{}</b>oldest source version</div></section>",
        s.healthy,
        s.external_secrets,
        s.keys_matching,
        if s.keys_failing == 0 { "ok" } else { "bad" },
        s.keys_failing,
        esc(&oldest),
    );
}

fn secrets_table(out: &mut String, evidence: &Evidence) {
    out.push_str(
        "<h2>ExternalSecrets</h2>\n<table id=\"secrets\"><thead><tr><th>ExternalSecret</th>\
         <th>Target</th><th>Health</th><th>Keys</th><th>Sources (store, key, version, age)</th>\
         <th>Refreshed</th></tr></thead><tbody>\n",
    );
    for es in &evidence.external_secrets {
        let health = if es.healthy {
            "<span class=\"ok\">healthy</span>".to_owned()
        } else {
            let reasons: Vec<String> = es.findings.iter().map(|f| esc(&f.message)).collect();
            format!(
                "<span class=\"bad\">unhealthy</span><br>{}",
                reasons.join("<br>")
            )
        };
        let keys: Vec<String> = es
            .keys
            .iter()
            .map(|k| verdict_cell(&k.key, &k.verdict))
            .collect();
        let sources: Vec<String> = es
            .sources
            .iter()
            .map(|s| {
                format!(
                    "{} <code>{}</code> {} {}",
                    esc(&s.source.store),
                    esc(&s.source.key),
                    s.source.version.as_deref().map(esc).unwrap_or_default(),
                    s.age_days
                        .map(|d| format!("({d:.1} days)"))
                        .unwrap_or_default()
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr data-name=\"{ns}/{name}\" data-healthy=\"{healthy}\"><td>{ns}/{name}<br><small>{origin}</small></td>\
             <td>{ns}/{target}</td><td>{health}</td><td>{keys}</td><td>{sources}</td><td>{refreshed}</td></tr>",
            ns = esc(&es.namespace),
            name = esc(&es.name),
            healthy = es.healthy,
            origin = esc(&es.origin),
            target = esc(&es.target),
            keys = keys.join("<br>"),
            sources = sources.join("<br>"),
            refreshed = es
                .refreshed
                .as_deref()
                .map(esc)
                .unwrap_or_else(|| "never".into()),
        );
    }
    out.push_str("</tbody></table>\n");
}

fn verdict_cell(key: &str, verdict: &Verdict) -> String {
    let (class, text) = match verdict {
        Verdict::Matches => ("ok", "matches the store".to_owned()),
        Verdict::Differs => ("bad", "differs".to_owned()),
        Verdict::Stale {
            since,
            store_version,
            projected_version,
        } => {
            let mut text = "stale".to_owned();
            if let (Some(current), Some(held)) = (store_version, projected_version) {
                text.push_str(&format!(": store at {current}, projection from {held}"));
            }
            if let Some(since) = since {
                text.push_str(&format!(" (since {since})"));
            }
            ("warn", text)
        }
        Verdict::Missing => ("bad", "missing".to_owned()),
        Verdict::Unexpected => ("bad", "not from the store".to_owned()),
    };
    format!(
        "<code>{}</code> <span class=\"{class}\" data-verdict=\"{class}\">{}</span>",
        esc(key),
        esc(&text)
    )
}

/// Rotation age: one bar per source, its length the days since the store made the version.
fn rotation_chart(out: &mut String, secrets: &[SecretEvidence]) {
    out.push_str("<h2>Rotation age</h2>\n");
    let bars: Vec<(String, f64)> = secrets
        .iter()
        .flat_map(|es| {
            es.sources.iter().filter_map(move |s| {
                s.age_days.map(|d| {
                    (
                        format!("{}/{} ← {}", es.namespace, es.name, s.source.key),
                        d,
                    )
                })
            })
        })
        .collect();
    if bars.is_empty() {
        out.push_str("<p id=\"rotation-none\">No store dated its versions.</p>\n");
        return;
    }
    let longest = bars.iter().map(|(_, d)| *d).fold(1.0_f64, f64::max);
    let row = 22;
    let height = bars.len() * row + 10;
    let _ = writeln!(
        out,
        "<svg id=\"rotation-chart\" role=\"img\" aria-label=\"days since each source version was made\" \
         width=\"720\" height=\"{height}\" viewBox=\"0 0 720 {height}\">"
    );
    for (index, (label, days)) in bars.iter().enumerate() {
        let y = index * row + 5;
        let width = (days / longest * 380.0).max(2.0);
        let colour = if *days > 90.0 { "#cf222e" } else { "#2da44e" };
        let _ = writeln!(
            out,
            "<text x=\"0\" y=\"{ty}\">{label}</text><rect class=\"bar\" x=\"260\" y=\"{y}\" width=\"{width:.1}\" \
             height=\"16\" fill=\"{colour}\"/><text x=\"{tx:.1}\" y=\"{ty}\">{days:.1} d</text>",
            ty = y + 12,
            label = esc(&truncate(label, 40)),
            tx = 266.0 + width,
        );
    }
    out.push_str("</svg>\n");
}

/// Sync health over time: per day of the audit log, projections written and failed.
fn health_chart(out: &mut String, evidence: &Evidence) {
    out.push_str("<h2>Sync health over time</h2>\n");
    let Some(days) = evidence
        .audit
        .as_ref()
        .map(|a| &a.activity)
        .filter(|d| !d.is_empty())
    else {
        out.push_str("<p id=\"health-none\">No audit log given (--audit-log): no history.</p>\n");
        return;
    };
    let tallest = days
        .iter()
        .map(|d| d.written + d.failed)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let column = 48;
    let width = days.len() * column + 20;
    let _ = writeln!(
        out,
        "<svg id=\"health-chart\" role=\"img\" aria-label=\"projections written and failed per day\" \
         width=\"{width}\" height=\"170\" viewBox=\"0 0 {width} 170\">"
    );
    for (index, day) in days.iter().enumerate() {
        bar_pair(out, index * column + 10, day, tallest);
    }
    out.push_str(
        "</svg>\n<p><span class=\"ok\">■</span> written <span class=\"bad\">■</span> failed</p>\n",
    );
}

fn bar_pair(out: &mut String, x: usize, day: &DayActivity, tallest: f64) {
    let scale = |n: usize| n as f64 / tallest * 120.0;
    let (written, failed) = (scale(day.written), scale(day.failed));
    let _ = writeln!(
        out,
        "<rect class=\"written\" x=\"{x}\" y=\"{wy:.1}\" width=\"16\" height=\"{written:.1}\" fill=\"#2da44e\"/>\
         <rect class=\"failed\" x=\"{fx}\" y=\"{fy:.1}\" width=\"16\" height=\"{failed:.1}\" fill=\"#cf222e\"/>\
         <text x=\"{x}\" y=\"160\">{label}</text>",
        wy = 140.0 - written,
        fx = x + 18,
        fy = 140.0 - failed,
        label = esc(day.day.get(5..).unwrap_or(&day.day)),
    );
}

fn consumers_table(out: &mut String, evidence: &Evidence) {
    out.push_str(
        "<h2>Consumers</h2>\n<table id=\"consumers\"><thead><tr><th>Workload</th><th>Secret</th>\
         <th>Key</th><th>Where</th></tr></thead><tbody>\n",
    );
    for c in &evidence.consumers {
        let _ = writeln!(
            out,
            "<tr><td>{} {}/{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.kind),
            esc(&c.namespace),
            esc(&c.name),
            esc(&c.secret),
            c.key
                .as_deref()
                .map(esc)
                .unwrap_or_else(|| "(all keys)".into()),
            esc(&c.place)
        );
    }
    out.push_str("</tbody></table>\n");
}

fn stores_table(out: &mut String, evidence: &Evidence) {
    out.push_str(
        "<h2>Stores</h2>\n<table id=\"stores\"><thead><tr><th>Store</th><th>Provider</th>\
         <th>Health</th></tr></thead><tbody>\n",
    );
    for store in &evidence.stores {
        let name = if store.namespace.is_empty() {
            format!("{} {}", store.kind, store.name)
        } else {
            format!("{} {}/{}", store.kind, store.namespace, store.name)
        };
        let health = if store.findings.is_empty() {
            "<span class=\"ok\">ok</span>".to_owned()
        } else {
            let reasons: Vec<String> = store.findings.iter().map(|f| esc(&f.message)).collect();
            format!("<span class=\"bad\">{}</span>", reasons.join("<br>"))
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{health}</td></tr>",
            esc(&name),
            esc(&store.provider)
        );
    }
    out.push_str("</tbody></table>\n");
}

fn audit_section(out: &mut String, evidence: &Evidence) {
    out.push_str("<h2>Audit log</h2>\n");
    let Some(audit) = &evidence.audit else {
        out.push_str("<p>No audit log given.</p>\n");
        return;
    };
    let class = if audit.status == "intact" {
        "ok"
    } else {
        "bad"
    };
    let _ = writeln!(
        out,
        "<p id=\"audit-status\" class=\"{class}\">{}</p>\n<table id=\"audit\"><thead><tr>\
         <th>#</th><th>Time</th><th>Event</th><th>Subject</th><th>Detail</th></tr></thead><tbody>",
        esc(&audit.verdict)
    );
    for entry in &audit.excerpt {
        let detail = entry
            .get("detail")
            .map(serde_json::Value::to_string)
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            entry["seq"],
            esc(entry["time"].as_str().unwrap_or("")),
            esc(entry["event"].as_str().unwrap_or("")),
            esc(entry["subject"].as_str().unwrap_or("")),
            esc(&truncate(&detail, 160))
        );
    }
    out.push_str("</tbody></table>\n");
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(chars - 1).collect();
    cut.push('…');
    cut
}

/// Text for HTML content and attributes.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped() {
        assert_eq!(
            esc("<script>\"a\" & 'b'\u{1b}"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;\u{fffd}"
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        let evidence = Evidence::new("test".into(), Vec::new(), Vec::new(), Vec::new(), None);
        let page = page(&evidence);
        for outside in ["src=", "href=", "url(", "<script", "@import", "http"] {
            assert!(!page.contains(outside), "{outside}");
        }
        assert!(page.contains("id=\"rotation-none\"") && page.contains("id=\"health-none\""));
    }
}
