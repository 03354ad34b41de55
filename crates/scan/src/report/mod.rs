//! [`Report`] and its three renderings: text for people, JSON for scripts, SARIF 2.1.0 for code
//! scanning. Every rendering shows a value only as its preview (four characters and a length).

mod sarif;
mod text;

use serde::Serialize;

use crate::finding::Finding;
use crate::source::Stats;

pub use sarif::render_sarif;
pub use text::render_text;

/// The result of a scan.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// What was scanned: `worktree`, `staged` or `history`.
    pub source: String,
    /// Findings left after allowlists, ignores and the baseline.
    pub findings: Vec<Finding>,
    /// Findings suppressed by `ignore` fingerprints or the baseline.
    pub suppressed: usize,
    /// `ignore` fingerprints of `.keyward.toml` that matched nothing.
    pub unused_ignores: Vec<String>,
    /// What the source went through.
    pub stats: Stats,
}

impl Report {
    /// Whether anything was found.
    pub fn has_findings(&self) -> bool {
        !self.findings.is_empty()
    }
}

/// The report as one JSON document.
pub fn render_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
