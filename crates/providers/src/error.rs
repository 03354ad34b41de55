//! [`ProviderError`]: what went wrong with a store call, naming store and key, never a value.

use std::time::Duration;

use keyward_core::{Classify, ErrorKind};

/// The kinds of provider failure, each with its own handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderErrorKind {
    /// The key (or version) does not exist.
    NotFound,
    /// The credentials are refused or lack a permission.
    PermissionDenied,
    /// The store asked us to slow down (HTTP 429, or 503 with Retry-After).
    Throttled,
    /// The store could not be reached, or answered with a server error.
    Unreachable,
    /// The store configuration is wrong (caught at validation, before any call).
    Misconfigured,
    /// The provider does not do this (push to a read-only store, find on a store without
    /// listing).
    Unsupported,
    /// The store answered with something keyward cannot use (a property that does not
    /// exist, a value that is not the JSON a property needs).
    InvalidData,
}

impl ProviderErrorKind {
    /// Whether a retry may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ProviderErrorKind::Throttled | ProviderErrorKind::Unreachable
        )
    }

    /// A stable lowercase name (metrics, JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderErrorKind::NotFound => "not_found",
            ProviderErrorKind::PermissionDenied => "permission_denied",
            ProviderErrorKind::Throttled => "throttled",
            ProviderErrorKind::Unreachable => "unreachable",
            ProviderErrorKind::Misconfigured => "misconfigured",
            ProviderErrorKind::Unsupported => "unsupported",
            ProviderErrorKind::InvalidData => "invalid_data",
        }
    }
}

/// A failed store call or store configuration.
#[derive(Clone, Debug, thiserror::Error)]
#[error("store {store}{}: {} ({message})", key.as_ref().map(|k| format!(", key {k}")).unwrap_or_default(), kind.as_str().replace('_', " "))]
pub struct ProviderError {
    /// What kind of failure.
    pub kind: ProviderErrorKind,
    /// The store (`Kind/namespace/name` or a provider name).
    pub store: String,
    /// The key, when the failure concerns one.
    pub key: Option<String>,
    /// Details for people: status codes, the store's own error text (never a value).
    pub message: String,
    /// How long the store asked us to wait.
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    /// A new error.
    pub fn new(
        kind: ProviderErrorKind,
        store: &str,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            store: store.to_owned(),
            key: key.map(str::to_owned),
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error with a Retry-After hint.
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }
}

impl Classify for ProviderError {
    fn kind(&self) -> ErrorKind {
        match self.kind {
            ProviderErrorKind::Misconfigured => ErrorKind::InvalidConfig,
            _ => ErrorKind::Store,
        }
    }
}
