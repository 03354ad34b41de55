//! [`Report`] and its three renderings: text for people, JSON for scripts, SARIF 2.1.0 for code
//! scanning. Every rendering shows a value only as its preview (four characters and a length).

mod sarif;
mod text;

use serde::Serialize;

use crate::finding::Finding;
use crate::source::{Skipped, Stats};

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
    /// Content that was not scanned, and why.
    pub skipped: Vec<Skipped>,
    /// What the source went through.
    pub stats: Stats,
}

impl Report {
    /// Whether anything was found.
    pub fn has_findings(&self) -> bool {
        !self.findings.is_empty()
    }

    /// Whether some content was not scanned (skipped, or missing from a partial clone):
    /// a clean report then does not prove the content clean.
    pub fn is_incomplete(&self) -> bool {
        !self.skipped.is_empty() || self.stats.missing > 0 || self.stats.shallow > 0
    }

    /// One warning line per piece of content not scanned (no content, only places).
    pub fn warnings(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .skipped
            .iter()
            .map(|skip| match &skip.commit {
                Some(commit) => format!(
                    "warning: not scanned: {} (commit {}): {}",
                    skip.path,
                    commit.get(..12).unwrap_or(commit),
                    skip.reason
                ),
                None => format!("warning: not scanned: {}: {}", skip.path, skip.reason),
            })
            .collect();
        if self.stats.missing > 0 {
            lines.push(format!(
                "warning: {} blob(s) missing from the object store (a partial clone?) were not scanned",
                self.stats.missing
            ));
        }
        if self.stats.shallow > 0 {
            lines.push(
                "warning: a shallow clone: the history before its boundary commits is not in the \
                 repository and was not scanned (git fetch --unshallow to scan all of it)"
                    .to_owned(),
            );
        }
        lines
    }
}

/// The report as one JSON document.
pub fn render_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
