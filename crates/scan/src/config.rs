//! `.keyward.toml`, section `[scan]`: path allowlists, bundle globs, ignored fingerprints,
//! disabled rules, severity overrides, custom rules and the fingerprint key file.
//!
//! ```toml
//! [scan]
//! allow_paths = ["testdata/**", "*.md"]
//! bundle_globs = ["control/*.env"]
//! ignore = ["kw1:3f2a…"]            # fingerprints, not lines: they survive moves
//! disable = ["generic-secret-assignment"]
//! fingerprint_key_file = "/run/keyward/scan.key"
//! baseline = ".keyward-baseline.json"
//!
//! [scan.severity]
//! jwt = "low"
//!
//! [[scan.rules]]
//! id = "acme-token"
//! title = "ACME internal token"
//! pattern = 'acme_[a-z0-9]{32}'
//! keywords = ["acme_"]
//! severity = "high"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::catalog::Check;
use crate::detect::Rule;
use crate::error::ScanError;
use crate::finding::Severity;
use crate::glob::Glob;
use crate::input;

/// The file name keyward looks for at the scanned root.
pub const FILE_NAME: &str = ".keyward.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    scan: RawConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    allow_paths: Vec<String>,
    #[serde(default)]
    bundle_globs: Vec<String>,
    #[serde(default)]
    ignore: Vec<String>,
    #[serde(default)]
    disable: Vec<String>,
    fingerprint_key_file: Option<PathBuf>,
    baseline: Option<PathBuf>,
    #[serde(default)]
    severity: BTreeMap<String, String>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    title: Option<String>,
    pattern: String,
    #[serde(default)]
    keywords: Vec<String>,
    severity: Option<String>,
    entropy: Option<f64>,
}

/// The scan configuration, validated.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Paths never scanned.
    pub allow_paths: Vec<Glob>,
    /// Extra bundle file patterns (besides `*.vault.env`).
    pub bundle_globs: Vec<Glob>,
    /// Fingerprints whose findings are suppressed.
    pub ignore: Vec<String>,
    /// Rule ids that do not run.
    pub disable: Vec<String>,
    /// Where the fingerprint key lives, if not the per-repository default.
    pub fingerprint_key_file: Option<PathBuf>,
    /// Baseline file, relative to the root.
    pub baseline: Option<PathBuf>,
    /// Severity overrides by rule id.
    pub severity: BTreeMap<String, Severity>,
    /// Custom detectors.
    pub rules: Vec<Rule>,
}

impl Config {
    /// Reads `.keyward.toml` in `root`; a missing file is the default configuration.
    pub fn load(root: &Path) -> Result<Config, ScanError> {
        let path = root.join(FILE_NAME);
        // A committed symbolic link can point this read anywhere (`/dev/zero`, a FIFO): only
        // a regular file within the configuration cap is read.
        let bytes = match input::read_capped(&path, input::CONFIG_LIMIT) {
            Ok(bytes) => bytes,
            Err(error) if error.is_not_found() => return Ok(Config::default()),
            Err(error) => return Err(ScanError::Config(path, error.to_string())),
        };
        let text = String::from_utf8(bytes)
            .map_err(|_| ScanError::Config(path.clone(), "is not UTF-8 text".to_owned()))?;
        Config::parse(&text).map_err(|message| ScanError::Config(path, message))
    }

    /// Parses the text of a `.keyward.toml`.
    pub fn parse(text: &str) -> Result<Config, String> {
        let file: File = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let raw = file.scan;
        let mut severity = BTreeMap::new();
        for (rule, name) in raw.severity {
            let level = Severity::parse(&name)
                .ok_or_else(|| format!("severity of {rule}: unknown level {name:?}"))?;
            severity.insert(rule, level);
        }
        let rules = raw
            .rules
            .into_iter()
            .map(custom_rule)
            .collect::<Result<_, _>>()?;
        Ok(Config {
            allow_paths: globs(&raw.allow_paths)?,
            bundle_globs: globs(&raw.bundle_globs)?,
            ignore: raw.ignore,
            disable: raw.disable,
            fingerprint_key_file: raw.fingerprint_key_file,
            baseline: raw.baseline,
            severity,
            rules,
        })
    }

    /// Whether `path` is allowlisted.
    pub fn path_allowed(&self, path: &str) -> bool {
        self.allow_paths.iter().any(|glob| glob.matches(path))
    }
}

fn globs(patterns: &[String]) -> Result<Vec<Glob>, String> {
    patterns
        .iter()
        .map(|p| Glob::new(p).ok_or_else(|| format!("invalid glob {p:?}")))
        .collect()
}

fn custom_rule(raw: RawRule) -> Result<Rule, String> {
    let severity = match raw.severity.as_deref() {
        None => Severity::High,
        Some(name) => Severity::parse(name)
            .ok_or_else(|| format!("rule {}: unknown severity {name:?}", raw.id))?,
    };
    Ok(Rule {
        title: raw
            .title
            .unwrap_or_else(|| format!("custom rule {}", raw.id)),
        id: raw.id,
        category: "custom".to_owned(),
        severity,
        keywords: raw
            .keywords
            .iter()
            .map(|k| k.to_ascii_lowercase())
            .collect(),
        pattern: raw.pattern,
        min_entropy: raw.entropy.unwrap_or(0.0),
        check: Check::None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_configuration_parses() {
        let text = r#"
[scan]
allow_paths = ["testdata/**"]
ignore = ["kw1:00"]
disable = ["jwt"]
[scan.severity]
jwt = "low"
[[scan.rules]]
id = "acme-token"
pattern = 'acme_[a-z0-9]{32}'
keywords = ["ACME_"]
"#;
        let config = Config::parse(text).expect("parse");
        assert!(config.path_allowed("testdata/x/y.txt"));
        assert_eq!(config.severity.get("jwt"), Some(&Severity::Low));
        assert_eq!(config.rules[0].keywords, ["acme_"]);
        assert_eq!(config.rules[0].severity, Severity::High);
    }

    #[test]
    fn unknown_fields_and_levels_are_errors() {
        assert!(Config::parse("[scan]\nallow = []\n").is_err());
        assert!(Config::parse("[scan.severity]\njwt = \"urgent\"\n").is_err());
    }
}
