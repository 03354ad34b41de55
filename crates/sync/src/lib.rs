//! keyward's sync engine and its host sink.
//!
//! The engine ([`engine::resolve`]) turns an ExternalSecret and its stores into what the
//! target should hold, following ESO's semantics, and knows nothing of where the target is
//! written: [`plan`] decides what to write under the target policies and [`sink::reconcile`]
//! applies it through a [`Sink`]. The host sink ([`host`]) writes targets as files,
//! atomically; `keyward-operator` is the second sink (Kubernetes Secrets). [`run::run`] is one
//! `keyward sync --once` over manifests. kube-runtime never enters this crate.
//!
//! Values stay in `SecretValue`s; reports carry keyed fingerprints, never values or hashes.

pub mod credentials;
pub mod engine;
mod error;
pub mod generate;
pub mod host;
pub mod plan;
pub mod refresh;
pub mod rewrite;
pub mod run;
pub mod sink;
pub mod stores;
pub mod template;
pub mod watch;

pub use engine::Desired;
pub use error::{SyncError, SyncErrorKind};
pub use sink::{Applied, Applying, Projected, Projection, Sink, SinkError, project, reconcile};
pub use stores::{StoreLookup, StoreSet};
