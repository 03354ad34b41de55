//! keyward's store providers: one [`Provider`] trait, one module per store, and the call
//! discipline that makes keyward cheaper on stores than ESO.
//!
//! - A provider does one thing: turn a key (and version) into what the store holds, with as
//!   few calls as the store allows. Property lookup, map extraction and decoding are shared
//!   ([`value`]), so every provider behaves the same on them.
//! - [`Disciplined`] wraps any provider: reads of the same (key, version) within a freshness
//!   window share one call (concurrent ones too), a token bucket per store caps the call rate,
//!   throttling and transient failures are retried with full-jitter exponential backoff that
//!   honours `Retry-After`, and every call is counted under ESO's metric name.
//! - Store credentials (ESO's `authSecretRef`, `tokenSecretRef`, …) come through the
//!   [`Credentials`] trait, so the operator can read Kubernetes Secrets and host mode the
//!   bundle, with the same providers.
//! - [`registry::build`] is the one explicit list of providers.
//! - Features: `aws` (Secrets Manager and Parameter Store), `azure` (Key Vault) and `vault`
//!   (Vault, OpenBao) are on by default; without one, its provider is not built and a store
//!   that names it is refused with the feature to turn on. `fake`, `kubernetes` and `local`
//!   are always there.
//!
//! Errors name the store and the key, never a value; an error never becomes an empty value.
//! This crate knows nothing of targets, templates or sinks.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod aws_ssm;
#[cfg(feature = "azure")]
pub mod azurekv;
mod cluster_credentials;
mod credentials;
mod discipline;
mod error;
pub mod fake;
pub mod kubernetes;
pub mod local;
mod provider;
pub mod push;
mod raw_json;
pub mod registry;
pub mod value;
#[cfg(feature = "vault")]
pub mod vault;

pub use cluster_credentials::{ClusterCredentials, TOKEN_EXPIRATION_SECONDS};
pub use credentials::{Credentials, StaticCredentials};
pub use discipline::{CallCounters, DisciplineConfig, Disciplined, StoreRead, fresh_reads};
pub use error::{ProviderError, ProviderErrorKind};
pub use provider::{Fetched, KeyInfo, Provider, StoreId, Versioned};
