//! `keyward scan`: parses the scan options, runs `keyward_scan::run`, prints the report in the
//! chosen format and maps the outcome to an exit code (0 clean, 1 findings).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use keyward_core::{Classify, ErrorKind, ExitCode};
use keyward_scan::{Baseline, Mode, Report, ScanOptions};

use crate::failure::Failure;
use crate::output::{Output, OutputFormat};

/// `keyward scan --help`, long form.
pub const LONG_ABOUT: &str = "\
Scan for secret values that must not be in Git.

Policies: Kubernetes Secrets with data, plaintext env files, unencrypted bundle files
(*.vault.env without an ansible-vault header or SOPS metadata), SOPS files with plaintext
values. Detectors: over 100 credential formats (Azure, AWS, GCP, GitHub, GitLab, Slack,
Stripe, npm, PyPI, private keys, JWTs, database URLs, generic assignments), also inside
base64- or hex-wrapped values.

A value is only ever shown as its first 4 characters and its length. Findings carry a keyed
fingerprint (kw1:...) for ignores and baselines.";

/// `keyward scan --help`, examples and configuration.
pub const AFTER_LONG_HELP: &str = "\
Examples:
  keyward scan                          tracked files of the current repository
  keyward scan --staged                 staged changes (pre-commit)
  keyward scan --history                every blob reachable from any ref
  keyward scan --history --since v1.2   only what is new since v1.2
  keyward scan --history --cache .git/keyward/scan.cache   incremental: new objects only
  keyward scan --format sarif > keyward.sarif
  keyward scan --explain policy/k8s-secret   what a rule finds, why, how to fix and allow
  keyward scan --write-baseline .keyward-baseline.json
  keyward scan --baseline .keyward-baseline.json

Ignoring:
  a comment 'keyward:allow RULE' on the line or the line above;
  .keyward.toml [scan]: allow_paths, ignore (fingerprints), disable, severity, rules, baseline.

Not scanned, always reported as warnings: a FIFO, device or symbolic link where a tracked
file should be, a file that cannot be read, a history blob over 256 MiB, blobs a partial
clone lacks, the history before a shallow clone's boundary. --strict makes them exit 1. Files of any size are scanned (large ones streamed);
binary files (a NUL byte in the first 8000) are not scanned.

Exit codes: 0 clean, 1 findings (or, with --strict, content not scanned), 2 usage,
11 invalid configuration (also a key file others can read, a baseline or configuration that
is not a regular file or over its size cap), 12 path, repository or configured key missing,
30 internal or write failure, or a repository that cannot be read (lost or truncated packs).";

/// Report format of `keyward scan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// Text for people.
    Text,
    /// One JSON document.
    Json,
    /// SARIF 2.1.0 for code scanning.
    Sarif,
}

/// Options of `keyward scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Directory or file to scan; for --staged and --history, any path in the repository.
    #[arg(default_value = ".")]
    pub path: PathBuf,

    /// Scan staged changes that differ from HEAD (for pre-commit hooks).
    #[arg(long, conflicts_with = "history")]
    pub staged: bool,

    /// Scan every unique blob reachable from any ref, attributed to the commit introducing it.
    #[arg(long)]
    pub history: bool,

    /// With --history: skip content reachable from this revision.
    #[arg(long, value_name = "REV", requires = "history")]
    pub since: Option<String>,

    /// With --history: a file of object ids scanned before; they are skipped and this run's
    /// ids are added, so a rescan reads only new objects.
    #[arg(long, value_name = "FILE", requires = "history")]
    pub cache: Option<PathBuf>,

    /// Report format (default: follows --output).
    #[arg(long, value_enum)]
    pub format: Option<ScanFormat>,

    /// Suppress findings whose fingerprints are in this baseline file.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Write the fingerprints of all current findings to this baseline file and exit 0.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Print the documentation of one rule (what it finds, why, how to fix and allow) and exit.
    #[arg(long, value_name = "RULE", conflicts_with_all = ["staged", "history", "write_baseline"])]
    pub explain: Option<String>,

    /// Fingerprint key file, readable by its owner only (default: $KEYWARD_SCAN_KEY_FILE,
    /// .keyward.toml's, or <git dir>/keyward/fingerprint.key, created on first use).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,

    /// Exit 1 when any content could not be scanned (a FIFO or link where a tracked file
    /// should be, an unreadable file, a blob too large or missing from a partial clone, the
    /// history before a shallow clone's boundary), even without findings. Each such item is
    /// always reported as a warning.
    #[arg(long)]
    pub strict: bool,
}

/// Runs `keyward scan`.
pub fn run(args: &ScanArgs, output: &Output) -> Result<ExitCode, Failure> {
    if let Some(rule) = &args.explain {
        return explain(rule);
    }
    let mode = if args.staged {
        Mode::Staged
    } else if args.history {
        Mode::History {
            since: args.since.clone(),
            cache: args.cache.clone(),
        }
    } else {
        Mode::WorkTree
    };
    let options = ScanOptions {
        path: args.path.clone(),
        mode,
        baseline: args.baseline.clone(),
        key_file: args.key_file.clone(),
    };
    let mut bar = Progress::new(args.history && std::io::stderr().is_terminal());
    let report = keyward_scan::run_with_progress(&options, &mut |items, bytes| {
        bar.update(items, bytes);
    });
    bar.finish();
    let report = report.map_err(|e| Failure::new(e.kind(), e))?;
    if let Some(path) = &args.write_baseline {
        Baseline::of(&report.findings)
            .write(path)
            .map_err(|e| Failure::new(e.kind(), e))?;
        return Ok(ExitCode::Success);
    }
    let format = format_of(args.format, output);
    if format != ScanFormat::Text {
        // Text reports carry their warnings; JSON and SARIF carry them as data, and a person
        // watching the run sees them here.
        for warning in report.warnings() {
            eprintln!("{warning}");
        }
    }
    print(&render(&report, format, output))?;
    Ok(
        if report.has_findings() || (args.strict && report.is_incomplete()) {
            ExitCode::Findings
        } else {
            ExitCode::Success
        },
    )
}

/// `keyward scan --explain RULE`: the rule's documentation, or a usage error naming the ids.
fn explain(rule: &str) -> Result<ExitCode, Failure> {
    match keyward_scan::explain(rule) {
        Some(text) => {
            print(&text)?;
            Ok(ExitCode::Success)
        }
        None => Err(Failure::new(
            ErrorKind::Usage,
            anyhow::anyhow!(
                "unknown rule '{rule}'; known rules: {}",
                keyward_scan::rule_ids().join(", ")
            ),
        )),
    }
}

/// A one-line progress display on stderr for history scans at a terminal.
struct Progress {
    enabled: bool,
    last: Option<std::time::Instant>,
}

impl Progress {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            last: None,
        }
    }

    fn update(&mut self, items: usize, bytes: u64) {
        let due = self
            .last
            .is_none_or(|last| last.elapsed() >= std::time::Duration::from_millis(200));
        if !self.enabled || !due {
            return;
        }
        self.last = Some(std::time::Instant::now());
        let mib = bytes as f64 / (1024.0 * 1024.0);
        // Counts only: a progress line never shows a path or content.
        eprint!("\rscanning history: {items} blobs, {mib:.1} MiB");
    }

    fn finish(&self) {
        if self.enabled && self.last.is_some() {
            eprint!("\r\x1b[2K");
        }
    }
}

fn format_of(format: Option<ScanFormat>, output: &Output) -> ScanFormat {
    format.unwrap_or(match output.format {
        OutputFormat::Json => ScanFormat::Json,
        OutputFormat::Text => ScanFormat::Text,
    })
}

fn render(report: &Report, format: ScanFormat, output: &Output) -> String {
    match format {
        ScanFormat::Text => {
            // --color decides for stderr; stdout additionally has to be a terminal.
            let color = output.color_stderr && std::io::stdout().is_terminal();
            keyward_scan::render_text(report, color)
        }
        ScanFormat::Json => keyward_scan::render_json(report) + "\n",
        ScanFormat::Sarif => keyward_scan::render_sarif(report) + "\n",
    }
}

fn print(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to stdout")
        .map_err(|error| Failure::new(ErrorKind::Write, error))
}
