//! The ExternalSecret controller: one reconcile per ExternalSecret, in ESO's order.
//!
//! 1. An ExternalSecret being deleted, or one whose stores belong to another controller
//!    class, is left alone.
//! 2. If it is not due ([`status::should_refresh`]) and its Secret is still as written
//!    ([`status::secret_valid`]), nothing is fetched or written: it is requeued for when it
//!    is due.
//! 3. Otherwise the sync engine resolves it against its stores and projects it through the
//!    [`SecretSink`]; a panic fails this ExternalSecret alone.
//! 4. The `Ready` condition, `refreshTime`, `syncedResourceVersion` and `binding` are written
//!    when they changed (one status patch), and an event says what happened; on failure the
//!    event carries the reason (never a value) and the Secret is left as it was.
//! 5. It is requeued at its next refresh ([`keyward_sync::refresh`]), or sooner after a
//!    failure, with backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use keyward_api::{ExternalSecret, StoreRef};
use keyward_core::FingerprintKey;
use keyward_sync::{Projected, SyncError, SyncErrorKind};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store as Reader};
use kube::{Resource, ResourceExt};

use crate::metrics::Metrics;
use crate::recent::Recent;
use crate::secret_sink::{SecretAction, SecretSink, Writer};
use crate::stores::ClusterStores;
use crate::{resources, status};

/// What every reconcile shares.
pub struct Context {
    /// The API client.
    pub client: kube::Client,
    /// The cluster's stores.
    pub stores: Arc<ClusterStores>,
    /// Managed Secrets (label `reconcile.external-secrets.io/managed=true`).
    pub secrets: Reader<Secret>,
    /// Secrets this operator wrote that the Secret watch has not delivered yet.
    pub written_secrets: Arc<Recent<Secret>>,
    /// ExternalSecrets as their last status patch returned them, until the watch delivers
    /// them: the reconcile a write triggers must not take a stale cache for "never synced".
    pub written_statuses: Recent<DynamicObject>,
    /// The key of the fingerprints the engine computes.
    pub fingerprint_key: FingerprintKey,
    /// Events.
    pub recorder: Recorder,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Consecutive failures per ExternalSecret, for the backoff.
    pub failures: Mutex<HashMap<(String, String), u32>>,
    /// Told of every Secret created, updated or deleted (the audit log).
    pub on_projection: Option<crate::ProjectionObserver>,
    /// Restarts the workloads that read a Secret whose data changed.
    pub restarter: Arc<crate::consumers::Restarter>,
    /// How many timed refreshes may run at once: fewer than the workers, so that new and
    /// changed ExternalSecrets (and Secrets to repair) always find a free worker.
    pub refresh_slots: Arc<tokio::sync::Semaphore>,
}

/// The refresh slots for `concurrency` workers: three quarters of them, at least one.
pub fn refresh_slots(concurrency: u16) -> Arc<tokio::sync::Semaphore> {
    let workers = usize::from(concurrency.max(1));
    Arc::new(tokio::sync::Semaphore::new((workers - workers / 4).max(1)))
}

/// A slot for a timed refresh, or how long to wait before trying again when every slot is
/// busy (the worker is freed meanwhile). Anything else (a new or changed ExternalSecret, a
/// Secret to repair) needs no slot: it goes ahead of the refreshes.
pub fn refresh_slot(
    slots: &Arc<tokio::sync::Semaphore>,
    timed_refresh: bool,
) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, Duration> {
    if !timed_refresh {
        return Ok(None);
    }
    Arc::clone(slots)
        .try_acquire_owned()
        .map(Some)
        .map_err(|_| keyward_sync::refresh::jittered(REFRESH_BUSY_WAIT))
}

/// How long a timed refresh waits for a slot before it asks again.
const REFRESH_BUSY_WAIT: Duration = Duration::from_secs(2);

/// Why a reconcile could not finish (the status write failed); the controller retries it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    /// Writing the ExternalSecret's status failed.
    #[error("writing the status of ExternalSecret {namespace}/{name}: {source}")]
    StatusWrite {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// Reconciles one ExternalSecret.
pub async fn reconcile(
    object: Arc<DynamicObject>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let start = time::OffsetDateTime::now_utc();
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let _working = ctx.metrics.working(&namespace, &name);
    let object = ctx
        .written_statuses
        .freshest(&namespace, &name, Some(Arc::clone(&object)))
        .unwrap_or(object);
    tracing::debug!(
        external_secret = %format!("{namespace}/{name}"),
        resource_version = object.metadata.resource_version.as_deref().unwrap_or_default(),
        "reconciling"
    );
    if object.metadata.deletion_timestamp.is_some() {
        ctx.metrics.forget(&namespace, &name);
        return Ok(Action::await_change());
    }
    let es: ExternalSecret = match resources::typed(&object) {
        Ok(es) => es,
        Err(reason) => {
            let error = SyncError::invalid(&format!("{namespace}/{name}"), "spec".into(), reason);
            let outcome = Err(error);
            finish(&object, None, &outcome, None, &ctx, start).await?;
            ctx.metrics
                .reconciled(&namespace, &name, started.elapsed(), Some(false), true);
            return Ok(Action::await_change());
        }
    };
    if !store_refs(&es).all(|store| ctx.stores.serves(store, &namespace)) {
        tracing::debug!(external_secret = %format!("{namespace}/{name}"), "a store of another controller class: left alone");
        return Ok(Action::await_change());
    }
    ctx.metrics
        .described(&namespace, &name, &es, store_refs(&es));
    let target = es
        .spec
        .target
        .name
        .as_ref()
        .map_or_else(|| name.clone(), ToString::to_string);
    let cached = ctx.secrets.get(&ObjectRef::new(&target).within(&namespace));
    let existing = ctx.written_secrets.freshest(&namespace, &target, cached);
    if !status::should_refresh(&es, start) && status::secret_valid(existing.as_deref()) {
        tracing::debug!(external_secret = %format!("{namespace}/{name}"), "not due, Secret as written: nothing to fetch");
        ctx.metrics
            .reconciled(&namespace, &name, started.elapsed(), None, false);
        return Ok(
            status::remaining(&es, start).map_or_else(Action::await_change, |wait| {
                requeue(&ctx, &namespace, &name, wait)
            }),
        );
    }

    let timed_refresh =
        status::is_timed_refresh(&es, start) && status::secret_valid(existing.as_deref());
    let _slot = match refresh_slot(&ctx.refresh_slots, timed_refresh) {
        Ok(slot) => slot,
        Err(wait) => return Ok(requeue(&ctx, &namespace, &name, wait)),
    };
    let sink = SecretSink::new(
        ctx.client.clone(),
        ctx.secrets.clone(),
        Arc::clone(&ctx.written_secrets),
        Writer {
            name: name.clone(),
            namespace: namespace.clone(),
            uid: es.metadata.uid.clone().unwrap_or_default(),
            restart_readers: es
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(crate::consumers::RESTART_READERS))
                .is_some_and(|value| value == "true"),
        },
        ctx.fingerprint_key.clone(),
        Arc::clone(&ctx.restarter),
    );
    let reconciling =
        keyward_sync::reconcile(&es, ctx.stores.as_ref(), &sink, &ctx.fingerprint_key);
    let reconciling = if status::is_change_since_sync(&es) {
        futures::future::Either::Left(keyward_providers::fresh_reads(reconciling))
    } else {
        futures::future::Either::Right(reconciling)
    };
    let outcome = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(reconciling))
        .await
        .unwrap_or_else(|_| Err(SyncError::panicked(&format!("{namespace}/{name}"))));
    let bound = match sink.action() {
        Some(SecretAction::Deleted) | None => None,
        Some(_) => Some(target.as_str()),
    };
    finish(&object, Some(&es), &outcome, bound, &ctx, start).await?;
    let failed = outcome.is_err();
    ctx.metrics.reconciled(
        &namespace,
        &name,
        started.elapsed(),
        Some(status::ready(&outcome).ok),
        failed,
    );
    if let Some(action) = sink.action() {
        observe(&ctx, &namespace, &name, &target, action, &outcome);
        publish(&ctx, &object, success_event(action)).await;
    }
    Ok(next_action(&ctx, &es, &namespace, &name, &outcome))
}

/// Tells the audit observer of a Secret written or removed.
fn observe(
    ctx: &Context,
    namespace: &str,
    name: &str,
    target: &str,
    action: SecretAction,
    outcome: &Result<Projected, SyncError>,
) {
    let Some(observer) = &ctx.on_projection else {
        return;
    };
    let action = match action {
        SecretAction::Created => "created",
        SecretAction::Updated => "updated",
        SecretAction::Deleted => "deleted",
        SecretAction::Unchanged => return,
    };
    let (keys, fingerprint) = match outcome {
        Ok(Projected {
            projection:
                keyward_sync::Projection::Written {
                    keys, fingerprint, ..
                },
            ..
        }) => (*keys, Some(fingerprint.clone())),
        _ => (0, None),
    };
    (observer.0)(crate::ProjectionRecord {
        external_secret: format!("{namespace}/{name}"),
        target: format!("{namespace}/{target}"),
        action,
        keys,
        fingerprint,
    });
}

/// What happens after a reconcile: the next refresh, a backoff after a failure, or nothing
/// until the ExternalSecret changes when retrying cannot help.
fn next_action(
    ctx: &Context,
    es: &ExternalSecret,
    namespace: &str,
    name: &str,
    outcome: &Result<Projected, SyncError>,
) -> Action {
    let key = (namespace.to_owned(), name.to_owned());
    let failures = match ctx.failures.lock() {
        Ok(mut failures) if outcome.is_err() => {
            let count = failures.entry(key).or_insert(0);
            *count += 1;
            *count
        }
        Ok(mut failures) => {
            failures.remove(&key);
            0
        }
        Err(_) => u32::from(outcome.is_err()),
    };
    if let Err(error) = outcome
        && error.kind == (SyncErrorKind::Target { retryable: false })
    {
        // ESO does not retry what only a change can mend (an owner conflict, an immutable
        // target); the next change of the ExternalSecret or its Secret tries again.
        return Action::await_change();
    }
    keyward_sync::refresh::next_refresh(es, failures).map_or_else(Action::await_change, |wait| {
        requeue(ctx, namespace, name, wait)
    })
}

/// `Action::requeue(after)`, noted so that the ExternalSecret counts in `workqueue_depth`
/// once `after` has passed and no worker has started it.
fn requeue(ctx: &Context, namespace: &str, name: &str, after: Duration) -> Action {
    ctx.metrics.queued(namespace, name, after);
    Action::requeue(after)
}

/// Writes the status (when it changed) and, on failure, the Warning event.
async fn finish(
    object: &DynamicObject,
    es: Option<&ExternalSecret>,
    outcome: &Result<Projected, SyncError>,
    bound: Option<&str>,
    ctx: &Context,
    start: time::OffsetDateTime,
) -> Result<(), ReconcileError> {
    let ready = status::ready(outcome);
    let fallback;
    let es = match es {
        Some(es) => es,
        None => {
            // An object that does not type: keep what can be read of its status.
            fallback = ExternalSecret {
                metadata: object.metadata.clone(),
                spec: Default::default(),
                status: object
                    .data
                    .get("status")
                    .and_then(|s| serde_json::from_value(s.clone()).ok()),
            };
            &fallback
        }
    };
    let next = status::next_status(es, &ready, start, bound);
    if es.status.as_ref() != Some(&next) {
        let namespace = object.namespace().unwrap_or_default();
        let name = object.name_any();
        let api: Api<DynamicObject> = Api::namespaced_with(
            ctx.client.clone(),
            &namespace,
            &resources::external_secret(),
        );
        let patch = serde_json::json!({ "status": next });
        let mut patched = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| ReconcileError::StatusWrite {
                namespace,
                name,
                source,
            })?;
        // Slimmed as the watch's copies are: the next reconcile may read this one, and an
        // object with kubectl's last-applied annotation hashes to another
        // syncedResourceVersion and projects that annotation onto the Secret (a refresh and
        // two writes for nothing; a Secret ESO wrote would not be adopted as it is).
        crate::slim_object(&mut patched);
        ctx.written_statuses.wrote(patched);
    }
    if let Err(error) = outcome {
        let note = format!("{}: {}", error.field, error.message);
        publish(
            ctx,
            object,
            Event {
                type_: EventType::Warning,
                reason: "UpdateFailed".into(),
                note: Some(note),
                action: "Sync".into(),
                secondary: None,
            },
        )
        .await;
    }
    Ok(())
}

fn success_event(action: SecretAction) -> Event {
    let (reason, note) = match action {
        SecretAction::Created => ("Created", "secret created"),
        SecretAction::Updated => ("Updated", "secret updated"),
        SecretAction::Deleted => ("Deleted", "secret deleted due to DeletionPolicy=Delete"),
        SecretAction::Unchanged => ("Synced", "secret unchanged"),
    };
    Event {
        type_: EventType::Normal,
        reason: reason.into(),
        note: Some(note.into()),
        action: "Sync".into(),
        secondary: None,
    }
}

/// Publishes an event; an event that cannot be written is logged, never a failure.
async fn publish(ctx: &Context, object: &DynamicObject, event: Event) {
    // An unchanged Secret is not news: ESO emits nothing then either.
    if event.reason == "Synced" {
        return;
    }
    let reference = object.object_ref(&resources::external_secret());
    if let Err(error) = ctx.recorder.publish(&event, &reference).await {
        tracing::warn!(%error, reason = %event.reason, "could not publish an event");
    }
}

/// Every store an ExternalSecret names.
fn store_refs(es: &ExternalSecret) -> impl Iterator<Item = &StoreRef> {
    let from_data = es
        .spec
        .data
        .iter()
        .filter_map(|d| d.source_ref.as_ref()?.store_ref.as_ref());
    let from_data_from = es
        .spec
        .data_from
        .iter()
        .filter_map(|d| d.source_ref.as_ref()?.store_ref.as_ref());
    es.spec
        .secret_store_ref
        .iter()
        .chain(from_data)
        .chain(from_data_from)
        .filter(|store| !store.name.is_empty())
}

/// The controller's answer to a reconcile that could not finish: try again soon.
pub fn error_policy(
    object: Arc<DynamicObject>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    tracing::warn!(%error, "reconcile failed; retrying");
    let namespace = object.namespace().unwrap_or_default();
    requeue(&ctx, &namespace, &object.name_any(), Duration::from_secs(5))
}

/// The ExternalSecrets a Secret event concerns: its controller owner, else every
/// ExternalSecret in its namespace whose target it is.
pub fn external_secrets_of(
    secret: &Secret,
    external_secrets: &Reader<DynamicObject>,
) -> Vec<ObjectRef<DynamicObject>> {
    let resource = resources::external_secret();
    let namespace = secret.namespace().unwrap_or_default();
    let owner = secret
        .owner_references()
        .iter()
        .find(|r| r.controller == Some(true) && r.kind == "ExternalSecret");
    if let Some(owner) = owner {
        return vec![ObjectRef::new_with(&owner.name, resource).within(&namespace)];
    }
    let name = secret.name_any();
    external_secrets
        .state()
        .iter()
        .filter(|es| es.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|es| {
            let target = es
                .data
                .pointer("/spec/target/name")
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| es.name_any(), str::to_owned);
            target == name
        })
        .map(|es| ObjectRef::from_obj_with(es.as_ref(), resource.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_refreshes_leave_a_quarter_of_the_workers_to_new_external_secrets() {
        let slots = refresh_slots(16);
        let held: Vec<_> = (0..12)
            .map(|_| refresh_slot(&slots, true).expect("a free slot"))
            .collect();
        assert!(held.iter().all(Option::is_some));
        let wait = refresh_slot(&slots, true).expect_err("all twelve busy");
        assert!((1_800..=2_200).contains(&wait.as_millis()), "{wait:?}");
        assert!(
            refresh_slot(&slots, false)
                .expect("new ones need no slot")
                .is_none(),
            "a new or changed ExternalSecret goes ahead"
        );
        drop(held);
        assert!(refresh_slot(&slots, true).expect("freed").is_some());
        assert_eq!(refresh_slots(1).available_permits(), 1);
        assert_eq!(refresh_slots(0).available_permits(), 1);
    }
}
