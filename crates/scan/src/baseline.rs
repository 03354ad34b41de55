//! The baseline file: fingerprints of findings accepted at one point in time, so a team can
//! adopt the scanner without fixing history first. JSON: `{"version":1,"fingerprints":[…]}`.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ScanError;
use crate::finding::Finding;
use crate::input;

/// Accepted fingerprints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// Format version (1).
    pub version: u32,
    /// Keyed fingerprints (`kw1:…`); never values, never unkeyed hashes.
    pub fingerprints: BTreeSet<String>,
}

impl Baseline {
    /// The baseline of `findings`.
    pub fn of(findings: &[Finding]) -> Baseline {
        Baseline {
            version: 1,
            fingerprints: findings.iter().map(|f| f.fingerprint.clone()).collect(),
        }
    }

    /// Reads a baseline file.
    pub fn read(path: &Path) -> Result<Baseline, ScanError> {
        // `.keyward.toml` may name any path here: a regular file within the cap, or an error.
        let bytes = input::read_capped(path, input::BASELINE_LIMIT)
            .map_err(|e| ScanError::Baseline(path.to_path_buf(), e.to_string()))?;
        // serde's messages can quote the file's strings: only the place is reported.
        serde_json::from_slice(&bytes).map_err(|e| {
            let message = format!(
                "not a keyward baseline (JSON error at line {}, column {})",
                e.line(),
                e.column()
            );
            ScanError::Baseline(path.to_path_buf(), message)
        })
    }

    /// Writes the baseline file (atomically: temporary file, then rename).
    pub fn write(&self, path: &Path) -> Result<(), ScanError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| ScanError::Baseline(path.to_path_buf(), e.to_string()))?;
        let temp = path.with_extension("tmp");
        std::fs::write(&temp, format!("{text}\n"))
            .and_then(|()| std::fs::rename(&temp, path))
            .map_err(|e| ScanError::WriteBaseline(path.to_path_buf(), e))
    }

    /// Whether `fingerprint` is accepted.
    pub fn contains(&self, fingerprint: &str) -> bool {
        self.fingerprints.contains(fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_baseline_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("baseline.json");
        let mut baseline = Baseline {
            version: 1,
            ..Baseline::default()
        };
        baseline.fingerprints.insert("kw1:abc".into());
        baseline.write(&path).expect("write");
        assert_eq!(Baseline::read(&path).expect("read"), baseline);
        assert!(Baseline::read(&dir.path().join("missing.json")).is_err());
    }
}
