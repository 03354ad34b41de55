//! keyward's Git guard: keeps secret values out of Git, in the working tree, in staged changes
//! and through all history.
//!
//! This crate owns the scan policies ([`policy`]), the credential detectors ([`catalog`],
//! [`Detectors`]), the decoding of wrapped values, the sources ([`source`]: tracked files,
//! staged changes, every unique blob of history read once with gix), ignores (path allowlists,
//! `keyward:allow RULE` comments, keyed fingerprints, a [`Baseline`]) and the reports (text,
//! JSON, SARIF 2.1.0). The `keyward scan` command is a thin wrapper over [`run`].
//!
//! It must never let a value out: a [`Finding`] holds a [`Preview`] (at most four characters
//! and a length) and a `kw1:` HMAC-SHA256 fingerprint under a key readers of the repository do
//! not have, never the value or an unkeyed hash of it. Errors name paths and steps, never
//! content.
//!
//! ```
//! use keyward_scan::{Config, FingerprintKey, Scanner};
//!
//! let scanner = Scanner::new(Config::default(), FingerprintKey::from_bytes(b"an example key"))
//!     .expect("built-in rules compile");
//! let value = ["q8Zr", "2LmX9vTb"].concat(); // synthetic, assembled so this file stays clean
//! let manifest = format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\nstringData:\n  password: {value}\n");
//! let findings = scanner.scan("k8s/db.yaml", manifest.as_bytes());
//! let policy = findings.iter().find(|f| f.rule == "policy/k8s-secret").expect("flagged");
//! assert_eq!(policy.location.line, 5);
//! assert_eq!(policy.preview.as_ref().map(|p| p.length), Some(12));
//! ```

mod baseline;
pub mod catalog;
mod config;
mod decode;
mod detect;
mod error;
mod explain;
mod filters;
mod finding;
mod fingerprint;
mod glob;
mod input;
mod parallel;
mod pieces;
pub mod policy;
mod report;
mod scanner;
pub mod source;
pub mod synth;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub use baseline::Baseline;
pub use config::{Config, FILE_NAME as CONFIG_FILE_NAME};
pub use detect::{Detectors, Hit, Rule, builtin_rules};
pub use error::ScanError;
pub use explain::{explain, rule_ids, rules_markdown};
pub use finding::{Finding, Location, Preview, Severity};
pub use fingerprint::{FingerprintKey, PREFIX as FINGERPRINT_PREFIX};
pub use report::{Report, render_json, render_sarif, render_text};
pub use scanner::{ALLOW_MARKER, Lines, MAX_DEPTH, Scanner};
pub use source::{Mode, Skipped};

/// Environment variable naming a fingerprint key file; it wins over `.keyward.toml`.
pub const KEY_FILE_ENV: &str = "KEYWARD_SCAN_KEY_FILE";

/// What to scan and how.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// A directory or file; for git sources, any path inside the repository.
    pub path: PathBuf,
    /// Tracked files, staged changes or history.
    pub mode: Mode,
    /// A baseline file that must exist (otherwise `.keyward.toml`'s, if present).
    pub baseline: Option<PathBuf>,
    /// A fingerprint key file (otherwise the environment, `.keyward.toml`, the repository's).
    pub key_file: Option<PathBuf>,
}

/// Runs a scan and returns the report (findings are a result, not an error).
pub fn run(options: &ScanOptions) -> Result<Report, ScanError> {
    run_with_progress(options, &mut |_, _| {})
}

/// [`run`], calling `progress(items scanned, bytes scanned)` after every file or blob.
pub fn run_with_progress(
    options: &ScanOptions,
    progress: &mut dyn FnMut(usize, u64),
) -> Result<Report, ScanError> {
    let root = source::locate(&options.path)?;
    let config = Config::load(&root.dir)?;
    let key = resolve_key(options, &config, &root)?;
    let baseline = resolve_baseline(options, &config, &root.dir)?;
    let scanner = Scanner::new(config, key)?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (all, skipped, stats) =
        parallel::scan_source(&scanner, &options.path, &options.mode, workers, progress)?;
    let history = matches!(options.mode, Mode::History { .. });
    let mut seen = HashSet::new();
    let findings = all
        .into_iter()
        .filter(|f| !history || seen.insert((f.fingerprint.clone(), f.location.path.clone())))
        .collect();
    let mut report = suppress(
        scanner.config(),
        baseline.as_ref(),
        findings,
        options,
        stats,
    );
    report.skipped = skipped;
    Ok(report)
}

fn suppress(
    config: &Config,
    baseline: Option<&Baseline>,
    findings: Vec<Finding>,
    options: &ScanOptions,
    stats: source::Stats,
) -> Report {
    let mut used = HashSet::new();
    let mut kept = Vec::new();
    let mut suppressed = 0;
    for finding in findings {
        if config.ignore.contains(&finding.fingerprint) {
            used.insert(finding.fingerprint.clone());
            suppressed += 1;
        } else if baseline.is_some_and(|b| b.contains(&finding.fingerprint)) {
            suppressed += 1;
        } else {
            kept.push(finding);
        }
    }
    kept.sort_by(|a, b| {
        (&a.location.path, a.location.line, &a.rule).cmp(&(
            &b.location.path,
            b.location.line,
            &b.rule,
        ))
    });
    Report {
        source: match options.mode {
            Mode::WorkTree => "worktree",
            Mode::Staged => "staged",
            Mode::History { .. } => "history",
        }
        .to_owned(),
        findings: kept,
        suppressed,
        unused_ignores: config
            .ignore
            .iter()
            .filter(|i| !used.contains(*i))
            .cloned()
            .collect(),
        skipped: Vec::new(),
        stats,
    }
}

fn resolve_key(
    options: &ScanOptions,
    config: &Config,
    root: &source::Root,
) -> Result<FingerprintKey, ScanError> {
    let chosen = options
        .key_file
        .clone()
        .or_else(|| std::env::var_os(KEY_FILE_ENV).map(PathBuf::from));
    if let Some(path) = chosen {
        return FingerprintKey::load_or_create(&path);
    }
    if let Some(path) = &config.fingerprint_key_file {
        // The scanned repository chose this path: keyward reads a key there but never creates
        // files (or directories) where a repository says.
        let path = root.dir.join(path);
        return FingerprintKey::load(&path).map_err(|error| match error {
            ScanError::ReadKey(path, e) if e.kind() == std::io::ErrorKind::NotFound => {
                ScanError::ConfiguredKeyMissing(path)
            }
            other => other,
        });
    }
    match &root.git_dir {
        Some(git_dir) => FingerprintKey::load_or_create(&fingerprint::repo_key_path(git_dir)),
        // Outside a repository there is nowhere private to keep a key: fingerprints then hold
        // for this run only (pass --key-file to make them stable).
        None => FingerprintKey::ephemeral(),
    }
}

fn resolve_baseline(
    options: &ScanOptions,
    config: &Config,
    root: &Path,
) -> Result<Option<Baseline>, ScanError> {
    if let Some(path) = &options.baseline {
        return Baseline::read(path).map(Some);
    }
    match &config.baseline {
        Some(path) if root.join(path).exists() => Baseline::read(&root.join(path)).map(Some),
        _ => Ok(None),
    }
}
