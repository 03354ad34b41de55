//! The text rendering: one block per finding, coloured when asked.

use std::fmt::Write;

use super::Report;
use crate::finding::Severity;

/// Renders `report` as text; `color` adds ANSI colours to severities.
pub fn render_text(report: &Report, color: bool) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let severity = paint(f.severity, color);
        let _ = write!(
            out,
            "{severity} {} {}:{}",
            f.rule, f.location.path, f.location.line
        );
        if let Some(commit) = &f.location.commit {
            let _ = write!(out, " (commit {})", commit.get(..12).unwrap_or(commit));
        }
        out.push('\n');
        let _ = writeln!(out, "    {}", f.title);
        if let Some(preview) = &f.preview {
            let wrapped = f
                .decoded_from
                .as_deref()
                .map_or(String::new(), |e| format!(", {e}-wrapped"));
            let _ = writeln!(out, "    value: {preview}{wrapped}");
        }
        let _ = writeln!(out, "    fingerprint: {}", f.fingerprint);
    }
    for unused in &report.unused_ignores {
        let _ = writeln!(
            out,
            "warning: ignore {unused} in .keyward.toml matched nothing"
        );
    }
    for warning in report.warnings() {
        let _ = writeln!(out, "{warning}");
    }
    let _ = writeln!(
        out,
        "{} finding(s) in {} {} ({} suppressed{}{})",
        report.findings.len(),
        report.stats.items,
        if report.source == "history" {
            "blobs"
        } else {
            "files"
        },
        report.suppressed,
        if report.source == "history" {
            format!(", {} commits", report.stats.commits)
        } else {
            String::new()
        },
        match report.skipped.len() + report.stats.missing {
            0 => String::new(),
            n => format!(", {n} not scanned"),
        }
    );
    out
}

fn paint(severity: Severity, color: bool) -> String {
    let name = severity.as_str().to_ascii_uppercase();
    if !color {
        return format!("[{name}]");
    }
    let code = match severity {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
    };
    format!("\x1b[{code}m[{name}]\x1b[0m")
}
