//! [`Sink`]: where targets are written. The engine decides what a target should hold and the
//! [`plan`] what to do about it; a sink only reads what the target holds now and
//! carries out the plan. Host files ([`crate::host::HostSink`]) and Kubernetes Secrets (the
//! operator's sink) are the two.
//!
//! [`project`] is the one path from a resolved target to a written one, and [`reconcile`]
//! the one path from an ExternalSecret to a written target: both sinks go through them, so
//! every rule about creation, deletion, immutability and merging lives in one place.

use std::collections::BTreeMap;

use keyward_api::ExternalSecret;
use keyward_core::{FingerprintKey, SecretValue};

use crate::engine::{self, Desired};
use crate::plan::{self, Kept, Plan};
use crate::stores::StoreLookup;
use crate::{SyncError, SyncErrorKind};

/// Why a sink could not read or write a target.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    /// What went wrong, naming the target, never a value.
    pub message: String,
    /// Whether trying again later may succeed (a conflict, an unreachable API server).
    pub retryable: bool,
}

impl SinkError {
    /// A failure that a retry will not cure (a foreign file, a refused link, a forbidden write).
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }

    /// A failure that may pass (a conflict, a timeout).
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }
}

/// What a sink did with one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Where the target is: a path on a host, `namespace/name` in a cluster.
    pub location: String,
    /// Whether the target changed.
    pub changed: bool,
}

/// A place targets are written to.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// What the target of `desired` holds now, as far as this ExternalSecret's policies see
    /// it: `None` when it does not exist. A target that exists but cannot be read as this
    /// sink writes it is an error, never a guess.
    async fn current(
        &self,
        desired: &Desired,
    ) -> Result<Option<BTreeMap<String, SecretValue>>, SinkError>;

    /// Carries out `plan` for `desired` (whose `data` is what the plan writes). Takes the
    /// target by value so that a sink can move its values where they go without a copy.
    async fn apply(&self, desired: Desired, plan: Applying) -> Result<Applied, SinkError>;

    /// Where the target of `desired` is, for reports.
    fn location(&self, desired: &Desired) -> String;
}

/// The part of a [`Plan`] that reaches a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applying {
    /// Write `desired.data` (`create`: the target does not exist; `unchanged`: it already
    /// holds exactly those keys).
    Write {
        /// The target does not exist yet.
        create: bool,
        /// The target already holds exactly these keys and values.
        unchanged: bool,
    },
    /// Remove the target.
    Delete,
}

/// What happened to one ExternalSecret's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projection {
    /// Written (or found current): `changed` says which.
    Written {
        /// Whether the target changed.
        changed: bool,
        /// How many keys it holds.
        keys: usize,
        /// The keyed fingerprint of what it holds.
        fingerprint: String,
    },
    /// Removed: its sources are gone and `deletionPolicy` is `Delete`.
    Deleted,
    /// Left as it was, on purpose.
    Kept(Kept),
}

/// The outcome of projecting one ExternalSecret.
#[derive(Debug, Clone)]
pub struct Projected {
    /// Where the target is.
    pub location: String,
    /// What happened.
    pub projection: Projection,
    /// The version id of each source value read (store, key, version).
    pub source_versions: crate::engine::SourceVersions,
}

/// Projects a resolved target: reads what it holds, plans, and has the sink carry out the
/// plan. Values are moved, never copied, from `desired` to the sink.
pub async fn project(
    mut desired: Desired,
    sink: &dyn Sink,
    fingerprint_key: &FingerprintKey,
) -> Result<Projected, SyncError> {
    let location = sink.location(&desired);
    let name = desired.external_secret.clone();
    let fail = |error: SinkError| SyncError::target(&name, error);
    let current = sink.current(&desired).await.map_err(fail)?;
    let source_versions = desired.source_versions.clone();
    let data = std::mem::take(&mut desired.data);
    let projection = match plan::plan(desired.policies(), data, current) {
        Plan::Write {
            data,
            create,
            unchanged,
        } => {
            let keys = data.len();
            let fingerprint = fingerprint_key.map(&data);
            desired.data = data;
            let applied = sink
                .apply(desired, Applying::Write { create, unchanged })
                .await
                .map_err(fail)?;
            Projection::Written {
                changed: applied.changed,
                keys,
                fingerprint,
            }
        }
        Plan::Delete => {
            sink.apply(desired, Applying::Delete).await.map_err(fail)?;
            Projection::Deleted
        }
        Plan::Keep(kept) => Projection::Kept(kept),
        Plan::Refuse(message) => {
            return Err(SyncError {
                external_secret: name.clone(),
                field: "spec.target".into(),
                message,
                kind: SyncErrorKind::Manifest,
            });
        }
    };
    Ok(Projected {
        location,
        projection,
        source_versions,
    })
}

/// One ExternalSecret, end to end: resolve it against its stores, then project its target.
pub async fn reconcile(
    es: &ExternalSecret,
    stores: &dyn StoreLookup,
    sink: &dyn Sink,
    fingerprint_key: &FingerprintKey,
) -> Result<Projected, SyncError> {
    let desired = engine::resolve(es, stores).await?;
    project(desired, sink, fingerprint_key).await
}
