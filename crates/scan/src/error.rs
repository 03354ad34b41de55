//! [`ScanError`]: why a scan could not run, classified for the exit code. Messages name paths
//! and steps, never file content.

use std::path::PathBuf;

use keyward_core::{Classify, ErrorKind};

/// A scan that could not run (findings are not errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// A rule's regex does not compile.
    #[error("rule {0} has an invalid pattern: {1}")]
    BadRule(String, String),
    /// `.keyward.toml` cannot be read or parsed.
    #[error("cannot use configuration {0}: {1}")]
    Config(PathBuf, String),
    /// The baseline file cannot be read or parsed.
    #[error("cannot use baseline {0}: {1}")]
    Baseline(PathBuf, String),
    /// The baseline file cannot be written.
    #[error("cannot write baseline {0}")]
    WriteBaseline(PathBuf, #[source] std::io::Error),
    /// The history cache cannot be read or is not one.
    #[error("cannot use scan cache {0}: {1}")]
    Cache(PathBuf, String),
    /// The history cache cannot be written.
    #[error("cannot write scan cache {0}")]
    WriteCache(PathBuf, #[source] std::io::Error),
    /// The fingerprint key file cannot be read.
    #[error("cannot read fingerprint key {0}")]
    ReadKey(PathBuf, #[source] std::io::Error),
    /// The fingerprint key file is refused: others can read it, or it is no regular file
    /// within the size cap.
    #[error("fingerprint key {0} {1}")]
    KeyRefused(PathBuf, String),
    /// A fingerprint key named by `.keyward.toml` does not exist (keyward creates keys only
    /// where the user, not the scanned repository, chose).
    #[error(
        "fingerprint key {0} named by .keyward.toml does not exist; create it (32 random bytes, mode 0600) or pass --key-file"
    )]
    ConfiguredKeyMissing(PathBuf),
    /// The fingerprint key file is too short to be a key.
    #[error("fingerprint key {0} is shorter than 16 bytes")]
    KeyTooShort(PathBuf),
    /// The fingerprint key file cannot be created.
    #[error("cannot create fingerprint key {0}")]
    CreateKey(PathBuf, #[source] std::io::Error),
    /// The path to scan does not exist.
    #[error("cannot read {0}")]
    ReadPath(PathBuf, #[source] std::io::Error),
    /// `--staged` or `--history` outside a git repository.
    #[error("{0} is not inside a git repository (needed for --staged and --history)")]
    NotARepository(PathBuf),
    /// A git operation failed.
    #[error("git: {step} failed: {message}")]
    Git {
        /// What was being done.
        step: &'static str,
        /// The library's message (object ids and paths, never content).
        message: String,
    },
    /// A git object is larger than the history reader inflates.
    #[error("a git object of {0} bytes is larger than the history scan reads")]
    ObjectTooLarge(u64),
    /// `--since` names nothing.
    #[error("--since {0}: no such revision")]
    UnknownRevision(String),
}

impl ScanError {
    /// A git failure at `step`.
    pub fn git(step: &'static str, error: impl std::fmt::Display) -> Self {
        ScanError::Git {
            step,
            message: error.to_string(),
        }
    }
}

impl Classify for ScanError {
    fn kind(&self) -> ErrorKind {
        match self {
            ScanError::BadRule(..)
            | ScanError::Config(..)
            | ScanError::Baseline(..)
            | ScanError::Cache(..)
            | ScanError::KeyRefused(..)
            | ScanError::KeyTooShort(_) => ErrorKind::InvalidConfig,
            ScanError::ReadPath(..)
            | ScanError::ReadKey(..)
            | ScanError::ConfiguredKeyMissing(_)
            | ScanError::NotARepository(_) => ErrorKind::MissingDependency,
            ScanError::UnknownRevision(_) => ErrorKind::Usage,
            ScanError::WriteBaseline(..) | ScanError::WriteCache(..) | ScanError::CreateKey(..) => {
                ErrorKind::Write
            }
            ScanError::Git { .. } | ScanError::ObjectTooLarge(_) => ErrorKind::Internal,
        }
    }
}
