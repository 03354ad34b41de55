//! [`SyncError`]: one ExternalSecret's failure, naming it and the field, never a value.

use keyward_core::{Classify, ErrorKind, ExitCode};
use keyward_providers::{ProviderError, ProviderErrorKind};

/// What kind of failure a [`SyncError`] is: the exit code on hosts, the condition reason in a
/// cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncErrorKind {
    /// The manifest itself is wrong (exit 11).
    Manifest,
    /// A store call failed; the provider's kind says how (exit 20, or 11 for a store whose
    /// configuration is wrong).
    Store(ProviderErrorKind),
    /// The target could not be read or written (exit 30); `retryable` says whether a later
    /// attempt may succeed.
    Target {
        /// A conflict or an unreachable sink, rather than a refusal.
        retryable: bool,
    },
    /// keyward itself failed (a panic caught around one ExternalSecret): exit 30.
    Internal,
}

/// Why one ExternalSecret could not be synced. Others go on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{external_secret}: {field}: {message}")]
pub struct SyncError {
    /// `namespace/name`.
    pub external_secret: String,
    /// The field at fault (`spec.data[0]`).
    pub field: String,
    /// What happened.
    pub message: String,
    /// What kind of failure.
    pub kind: SyncErrorKind,
}

impl SyncError {
    /// A problem with the manifest itself.
    pub fn invalid(external_secret: &str, field: String, message: String) -> Self {
        Self {
            external_secret: external_secret.to_owned(),
            field,
            message,
            kind: SyncErrorKind::Manifest,
        }
    }

    /// A provider error, classified: configuration problems are the manifest's, the rest the
    /// store's.
    pub fn from_store(external_secret: &str, field: &str, error: ProviderError) -> Self {
        Self {
            external_secret: external_secret.to_owned(),
            field: field.to_owned(),
            kind: SyncErrorKind::Store(error.kind),
            message: error.to_string(),
        }
    }

    /// The sink could not read or write the target.
    pub fn target(external_secret: &str, error: crate::sink::SinkError) -> Self {
        Self {
            external_secret: external_secret.to_owned(),
            field: "spec.target".to_owned(),
            kind: SyncErrorKind::Target {
                retryable: error.retryable,
            },
            message: error.message,
        }
    }

    /// keyward panicked while resolving this ExternalSecret. The panic's own message is not
    /// kept: it may quote data.
    pub fn panicked(external_secret: &str) -> Self {
        Self {
            external_secret: external_secret.to_owned(),
            field: "spec".to_owned(),
            message: "internal error: keyward panicked while resolving this ExternalSecret (a bug; please report it)".to_owned(),
            kind: SyncErrorKind::Internal,
        }
    }

    /// Whether a store call failed (exit 20), rather than the manifest or keyward.
    pub fn is_store_failure(&self) -> bool {
        matches!(self.kind, SyncErrorKind::Store(kind) if kind != ProviderErrorKind::Misconfigured)
    }

    /// The documented exit code for this failure.
    pub fn exit_code(&self) -> ExitCode {
        self.kind().exit_code()
    }
}

impl Classify for SyncError {
    fn kind(&self) -> ErrorKind {
        match self.kind {
            SyncErrorKind::Internal => ErrorKind::Internal,
            SyncErrorKind::Target { .. } => ErrorKind::Write,
            _ if self.is_store_failure() => ErrorKind::Store,
            _ => ErrorKind::InvalidConfig,
        }
    }
}
