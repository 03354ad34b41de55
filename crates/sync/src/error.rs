//! [`SyncError`]: one ExternalSecret's failure, naming it and the field, never a value.

use keyward_core::{Classify, ErrorKind};
use keyward_providers::{ProviderError, ProviderErrorKind};

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
    /// A store failure (exit 20) or a manifest problem (exit 11).
    pub store_failure: bool,
}

impl SyncError {
    /// A problem with the manifest itself.
    pub fn invalid(external_secret: &str, field: String, message: String) -> Self {
        Self {
            external_secret: external_secret.to_owned(),
            field,
            message,
            store_failure: false,
        }
    }

    /// A provider error, classified: configuration problems are the manifest's, the rest the
    /// store's.
    pub fn from_store(external_secret: &str, field: &str, error: ProviderError) -> Self {
        Self {
            external_secret: external_secret.to_owned(),
            field: field.to_owned(),
            store_failure: error.kind != ProviderErrorKind::Misconfigured,
            message: error.to_string(),
        }
    }
}

impl Classify for SyncError {
    fn kind(&self) -> ErrorKind {
        if self.store_failure {
            ErrorKind::Store
        } else {
            ErrorKind::InvalidConfig
        }
    }
}
