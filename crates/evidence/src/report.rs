//! A [`Report`] as people and CI systems read it: text lines, JSON, JUnit XML.
//!
//! Every renderer prints what the report holds and nothing else; a report is built from
//! names, so none of them can print a value.

use std::fmt::Write as _;

use crate::check::{Checked, Report, Severity};

/// The text report: one line per finding (`ok` lines are what `--verify` and
/// `--stores-only` proved), then a summary. `verbose` adds a line for each object that passed
/// without findings.
pub fn text(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    for checked in &report.checked {
        if checked.findings.is_empty() {
            if verbose {
                let _ = writeln!(
                    out,
                    "ok       {} ({})",
                    printable(&checked.subject()),
                    printable(&checked.origin)
                );
            }
            continue;
        }
        for finding in &checked.findings {
            let _ = writeln!(
                out,
                "{:<8} {} ({}): {}",
                finding.severity.label(),
                printable(&checked.subject()),
                printable(&checked.origin),
                printable(&finding.message)
            );
        }
    }
    out.push_str(&summary(report));
    out.push('\n');
    out
}

/// Names from manifests (a workload's, a key a pod reads) are not checked as Kubernetes names
/// before they are reported: control characters are shown escaped, so that a manifest cannot
/// move the cursor or recolour the terminal of whoever reads the report.
fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `checked 3 ExternalSecrets, 1 PushSecret, 2 workloads: 1 invalid, 1 unhealthy, 0 warnings`.
pub fn summary(report: &Report) -> String {
    let workloads = report
        .checked
        .iter()
        .filter(|c| {
            !matches!(
                c.kind.as_str(),
                "ExternalSecret"
                    | "PushSecret"
                    | "SecretStore"
                    | "ClusterSecretStore"
                    | "Secret"
                    | "file"
            )
        })
        .count();
    format!(
        "checked {}, {}, {}, {}: {} invalid, {} unhealthy, {}",
        plural(report.objects("ExternalSecret"), "ExternalSecret"),
        plural(report.objects("PushSecret"), "PushSecret"),
        plural(
            report.objects("SecretStore") + report.objects("ClusterSecretStore"),
            "store"
        ),
        plural(workloads, "workload"),
        report.count(Severity::Invalid),
        report.count(Severity::Unhealthy),
        plural(report.count(Severity::Warning), "warning"),
    )
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The JSON report: `{"outcome", "summary", "checked": [...]}`.
pub fn json(report: &Report, strict: bool) -> serde_json::Value {
    let outcome = match report.outcome(strict) {
        crate::check::Outcome::Healthy => "healthy",
        crate::check::Outcome::Unhealthy => "unhealthy",
        crate::check::Outcome::Unreachable => "unreachable",
        crate::check::Outcome::Invalid => "invalid",
    };
    serde_json::json!({
        "outcome": outcome,
        "summary": {
            "invalid": report.count(Severity::Invalid),
            "unhealthy": report.count(Severity::Unhealthy),
            "unreachable": report.count(Severity::Unreachable),
            "warnings": report.count(Severity::Warning),
        },
        "checked": report.checked,
    })
}

/// JUnit XML: one test case per object checked, grouped in one suite per kind; an invalid or
/// unhealthy object is a failure (each finding a line of its text), warnings go to
/// `system-out`, and with `strict` fail too.
pub fn junit(report: &Report, strict: bool) -> String {
    let mut kinds: Vec<&str> = report.checked.iter().map(|c| c.kind.as_str()).collect();
    kinds.dedup();
    let mut seen = std::collections::BTreeSet::new();
    kinds.retain(|k| seen.insert(*k));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failing = |c: &Checked| {
        c.worst()
            .is_some_and(|w| w > Severity::Warning || (strict && w == Severity::Warning))
    };
    let _ = writeln!(
        out,
        "<testsuites name=\"keyward check\" tests=\"{}\" failures=\"{}\">",
        report.checked.len(),
        report.checked.iter().filter(|c| failing(c)).count()
    );
    for kind in kinds {
        let cases: Vec<&Checked> = report.checked.iter().filter(|c| c.kind == kind).collect();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">",
            xml(kind),
            cases.len(),
            cases.iter().filter(|c| failing(c)).count()
        );
        for case in cases {
            junit_case(&mut out, case, failing(case));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn junit_case(out: &mut String, case: &Checked, failed: bool) {
    let name = if case.namespace.is_empty() {
        case.name.clone()
    } else {
        format!("{}/{}", case.namespace, case.name)
    };
    let _ = writeln!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\">",
        xml(&case.kind),
        xml(&name),
        xml(&case.origin)
    );
    let lines: Vec<String> = case
        .findings
        .iter()
        .map(|f| format!("{}: {}", f.severity.label(), f.message))
        .collect();
    if failed {
        let first = case
            .findings
            .iter()
            .max_by_key(|f| f.severity)
            .map(|f| f.message.as_str())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "      <failure message=\"{}\" type=\"{}\">{}</failure>",
            xml(first),
            case.worst().map_or("", |w| w.label()),
            xml(&lines.join("\n"))
        );
    } else if !lines.is_empty() {
        let _ = writeln!(
            out,
            "      <system-out>{}</system-out>",
            xml(&lines.join("\n"))
        );
    }
    out.push_str("    </testcase>\n");
}

/// Text for XML attributes and content: the five entities, and characters XML 1.0 cannot
/// carry (control characters other than tab and newline) replaced.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Finding;

    fn report() -> Report {
        Report {
            checked: vec![
                Checked {
                    kind: "ExternalSecret".into(),
                    namespace: "apps".into(),
                    name: "db".into(),
                    origin: "es.yaml document 1".into(),
                    findings: vec![],
                },
                Checked {
                    kind: "Deployment".into(),
                    namespace: "apps".into(),
                    name: "web<1>".into(),
                    origin: "web.yaml document 1".into(),
                    findings: vec![Finding {
                        severity: Severity::Unhealthy,
                        rule: "key",
                        message: "container app env X reads key \"x\" & more".into(),
                    }],
                },
            ],
        }
    }

    #[test]
    fn text_has_a_line_per_finding_and_a_summary() {
        let text = text(&report(), false);
        assert_eq!(
            text,
            "FAIL     Deployment apps/web<1> (web.yaml document 1): container app env X reads key \"x\" & more\n\
             checked 1 ExternalSecret, 0 PushSecrets, 0 stores, 1 workload: 0 invalid, 1 unhealthy, 0 warnings\n"
        );
    }

    #[test]
    fn control_characters_from_manifests_are_shown_escaped() {
        let mut report = report();
        report.checked[1].name = "web\u{1b}[2J".into();
        let text = text(&report, false);
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert!(text.contains("web\\u{1b}[2J"), "{text:?}");
    }

    #[test]
    fn junit_escapes_and_counts_failures() {
        let xml = junit(&report(), false);
        assert!(
            xml.contains("<testsuites name=\"keyward check\" tests=\"2\" failures=\"1\">"),
            "{xml}"
        );
        assert!(xml.contains("name=\"apps/web&lt;1&gt;\""), "{xml}");
        assert!(xml.contains("reads key &quot;x&quot; &amp; more"), "{xml}");
        assert!(
            xml.contains("<testsuite name=\"ExternalSecret\" tests=\"1\" failures=\"0\">"),
            "{xml}"
        );
    }
}
