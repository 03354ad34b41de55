//! The PushSecret controller (`external-secrets.io/v1alpha1`): keys of a Secret written to
//! stores, in ESO's order (`pushsecret_controller.go`).
//!
//! 1. `deletionPolicy: Delete` keeps ESO's finalizer (`pushsecret.externalsecrets.io/finalizer`)
//!    on the PushSecret; when it is deleted, everything it pushed is deleted from the stores
//!    before the finalizer goes. With `None` the finalizer is removed.
//! 2. A PushSecret is pushed when it changed (its generation, labels or annotations: the
//!    `syncedResourceVersion` of ExternalSecrets), was never pushed, or its `refreshInterval`
//!    passed; otherwise it waits. As in ESO, the source Secret is not watched: a change to it
//!    is pushed at the next refresh.
//! 3. The source is the Secret `selector.secret.name` or the Secrets of its namespace that
//!    `selector.secret.selector` matches; the stores are those named, or those a label
//!    selector matches (SecretStores of the PushSecret's namespace only: ESO lists them across
//!    all namespaces), that this controller class serves.
//! 4. Each `data` entry pushes one key (or, without `secretKey`, the whole Secret as a JSON
//!    object of strings) to `remoteRef.remoteKey`, or into its JSON `property` (read, set,
//!    write). `updatePolicy: IfNotExists` leaves a key the store already has.
//! 5. With `deletionPolicy: Delete`, what was pushed before but is no longer in `data` is
//!    deleted from its store. The status records what was pushed (`syncedPushSecrets`, per
//!    `Kind/name` and remote ref), `refreshTime`, `syncedResourceVersion` and `Ready` with
//!    ESO's reasons and messages.
//!
//! Values pass from the Secret to the provider as [`SecretValue`]s: no status, event, log or
//! error carries one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use keyward_api::{
    ExternalSecretCondition, PushSecret, PushSecretConversionStrategy, PushSecretData,
    PushSecretDeletionPolicy, PushSecretSpec, PushSecretStatus, PushSecretUpdatePolicy, StoreKind,
    StoreRef,
};
use keyward_core::SecretValue;
use keyward_providers::{Provider, ProviderError, push};
use keyward_sync::StoreLookup;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};
use time::OffsetDateTime;

use crate::secret_sink::Wiped;
use crate::stores::ClusterStores;
use crate::{eso, resources, status};

/// ESO's finalizer for `deletionPolicy: Delete`.
pub const FINALIZER: &str = "pushsecret.externalsecrets.io/finalizer";
/// ESO's default `refreshInterval`.
const DEFAULT_REFRESH: Duration = Duration::from_secs(3600);

/// What every PushSecret reconcile shares.
pub struct PushContext {
    /// The API client.
    pub client: kube::Client,
    /// The cluster's stores.
    pub stores: Arc<ClusterStores>,
    /// Events.
    pub recorder: Recorder,
}

/// Why a reconcile could not finish; the controller retries it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushReconcileError {
    /// Writing the PushSecret (status or finalizer) failed.
    #[error("writing PushSecret {namespace}/{name}: {source}")]
    Write {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// A push that failed, as the condition's message says it.
type Failure = String;

/// Reconciles one PushSecret.
pub async fn reconcile(
    object: Arc<DynamicObject>,
    ctx: Arc<PushContext>,
) -> Result<Action, PushReconcileError> {
    let start = OffsetDateTime::now_utc();
    let previous = previous_status(&object);
    let ps: PushSecret = match resources::typed(&object) {
        Ok(ps) => ps,
        Err(reason) => {
            let failed = failed_status(&previous, format!("invalid spec: {reason}"), start);
            write_status(&ctx, &object, &previous, &failed).await?;
            return Ok(Action::await_change());
        }
    };
    let deleting = object.metadata.deletion_timestamp.is_some();
    let delete_policy = ps.spec.deletion_policy == Some(PushSecretDeletionPolicy::Delete);
    let has_finalizer = object.finalizers().iter().any(|f| f == FINALIZER);
    if deleting {
        if delete_policy && has_finalizer {
            return delete_everything(&ctx, &object, &previous, start).await;
        }
        if has_finalizer {
            set_finalizer(&ctx, &object, false).await?;
        }
        return Ok(Action::await_change());
    }
    if delete_policy != has_finalizer {
        set_finalizer(&ctx, &object, delete_policy).await?;
    }
    let refresh = refresh_of(&ps.spec);
    if !should_push(&ps, &previous, refresh, start) {
        return Ok(Action::requeue(remaining(&previous, refresh, start)));
    }
    let namespace = object.namespace().unwrap_or_default();
    let stores = match stores_of(&ctx, &ps.spec, &namespace) {
        Ok(stores) if stores.is_empty() => return Ok(Action::requeue(refresh)),
        Ok(stores) => stores,
        Err(message) => return fail(&ctx, &object, &previous, message, start).await,
    };
    if ps.spec.template.is_some() {
        let message =
            "spec.template: templates in PushSecrets are not served by keyward yet".into();
        return fail(&ctx, &object, &previous, message, start).await;
    }
    let sources = match sources_of(&ctx, &ps.spec, &namespace).await {
        Ok(sources) => sources,
        Err(()) => {
            let message = "could not get source secret".into();
            return fail(&ctx, &object, &previous, message, start).await;
        }
    };
    let mut pushed = BTreeMap::new();
    let mut failure = None;
    for secret in &sources {
        if let Err(message) =
            push_secret(&ctx, &ps.spec, secret, &stores, &namespace, &mut pushed).await
        {
            failure = Some(message);
            break;
        }
    }
    if let Some(message) = failure {
        let mut status = failed_status(&previous, format!("set secret failed: {message}"), start);
        // What was pushed this time joins what was pushed before, so a Delete policy still
        // knows about it.
        for (store, refs) in pushed {
            status
                .synced_push_secrets
                .entry(store)
                .or_default()
                .extend(refs);
        }
        publish(
            &ctx,
            &object,
            EventType::Warning,
            "Errored",
            condition_message(&status),
        )
        .await;
        write_status(&ctx, &object, &previous, &status).await?;
        return Ok(Action::requeue(
            Duration::from_secs(30).min(refresh.max(Duration::from_secs(5))),
        ));
    }
    if delete_policy && let Err(message) = delete_stale(&ctx, &namespace, &previous, &pushed).await
    {
        let status = failed_status(&previous, format!("set secret failed: {message}"), start);
        write_status(&ctx, &object, &previous, &status).await?;
        return Ok(Action::requeue(Duration::from_secs(30)));
    }
    let status = synced_status(&ps, &previous, pushed, start);
    if previous.synced_push_secrets != status.synced_push_secrets
        || previous.conditions.first().map(|c| &c.status) != Some(&"True".to_owned())
    {
        publish(
            &ctx,
            &object,
            EventType::Normal,
            "Synced",
            condition_message(&status),
        )
        .await;
    }
    write_status(&ctx, &object, &previous, &status).await?;
    Ok(if refresh.is_zero() {
        Action::await_change()
    } else {
        Action::requeue(refresh)
    })
}

/// The controller's answer to a reconcile that could not finish: try again soon.
pub fn error_policy(
    _object: Arc<DynamicObject>,
    error: &PushReconcileError,
    _ctx: Arc<PushContext>,
) -> Action {
    tracing::warn!(%error, "PushSecret reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

/// `spec.refreshInterval`, or ESO's hour.
fn refresh_of(spec: &PushSecretSpec) -> Duration {
    resources::duration_or(spec.refresh_interval.as_deref(), DEFAULT_REFRESH)
}

fn previous_status(object: &DynamicObject) -> PushSecretStatus {
    resources::status_of(object)
}

fn resource_version(ps: &PushSecret) -> String {
    let empty = BTreeMap::new();
    eso::synced_resource_version(
        ps.metadata.generation.unwrap_or_default(),
        ps.metadata.labels.as_ref().unwrap_or(&empty),
        ps.metadata.annotations.as_ref().unwrap_or(&empty),
    )
}

fn refreshed_at(status: &PushSecretStatus) -> Option<OffsetDateTime> {
    let text = status.refresh_time.as_deref()?;
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// ESO's `shouldRefresh`, in its order.
pub fn should_push(
    ps: &PushSecret,
    previous: &PushSecretStatus,
    refresh: Duration,
    now: OffsetDateTime,
) -> bool {
    if previous.synced_resource_version.as_deref() != Some(resource_version(ps).as_str()) {
        return true;
    }
    if refresh.is_zero() {
        return false;
    }
    match refreshed_at(previous) {
        None => true,
        Some(at) => at + refresh < now,
    }
}

fn remaining(previous: &PushSecretStatus, refresh: Duration, now: OffsetDateTime) -> Duration {
    let since = refreshed_at(previous).map_or(Duration::ZERO, |at| {
        Duration::try_from(now - at).unwrap_or(Duration::ZERO)
    });
    // ESO adds five seconds, so the refresh lands after the interval, not just before it.
    refresh.saturating_sub(since) + Duration::from_secs(5)
}

/// The stores to push to, as (reference, `Kind/name`), those of other controller classes
/// left out.
fn stores_of(
    ctx: &PushContext,
    spec: &PushSecretSpec,
    namespace: &str,
) -> Result<Vec<(StoreRef, String)>, Failure> {
    let mut stores = Vec::new();
    for entry in &spec.secret_store_refs {
        let names: Vec<String> = match (&entry.name, &entry.label_selector) {
            (Some(name), _) => vec![name.clone()],
            (None, Some(selector)) => ctx.stores.labelled(entry.kind, namespace, selector),
            (None, None) => {
                return Err("secretStoreRefs: an entry names no store and selects none".into());
            }
        };
        for name in names {
            let store = StoreRef {
                name: name.clone(),
                kind: entry.kind,
            };
            if ctx.stores.serves(&store, namespace) {
                let label = format!("{}/{name}", kind_name(entry.kind));
                stores.push((store, label));
            }
        }
    }
    stores.sort_by(|a, b| a.1.cmp(&b.1));
    stores.dedup_by(|a, b| a.1 == b.1);
    Ok(stores)
}

fn kind_name(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::SecretStore => "SecretStore",
        StoreKind::ClusterSecretStore => "ClusterSecretStore",
    }
}

/// The source Secrets; `Err` carries nothing (ESO's message says only that it failed).
async fn sources_of(
    ctx: &PushContext,
    spec: &PushSecretSpec,
    namespace: &str,
) -> Result<Vec<Wiped>, ()> {
    if let Some(reference) = &spec.selector.generator_ref {
        return generated_source(ctx, reference, namespace)
            .await
            .map(|secret| vec![Wiped(secret)]);
    }
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(source) = &spec.selector.secret else {
        return Err(());
    };
    match (&source.name, &source.selector) {
        // The name goes into the request path as it is: only a Kubernetes name, so it cannot
        // address another namespace's Secret.
        (Some(name), _) if keyward_api::ResourceName::parse(name).is_err() => Err(()),
        (Some(name), _) => match api.get(name).await {
            Ok(secret) => Ok(vec![Wiped(secret)]),
            Err(error) => {
                tracing::debug!(%error, "reading the source Secret of a PushSecret");
                Err(())
            }
        },
        (None, Some(selector)) => {
            let selector = kube::core::Selector::try_from(selector.clone()).map_err(|_| ())?;
            let list = api
                .list(&ListParams::default().labels_from(&selector))
                .await
                .map_err(|_| ())?;
            Ok(list.items.into_iter().map(Wiped).collect())
        }
        (None, None) => Err(()),
    }
}

/// The source of a PushSecret whose selector is a generator: generated anew on every push (so
/// every refresh writes a new version, as ESO rotates), held in memory as ESO's
/// `___generated-secret` and never stored in the cluster.
async fn generated_source(
    ctx: &PushContext,
    reference: &serde_json::Value,
    namespace: &str,
) -> Result<Secret, ()> {
    let reference: keyward_api::GeneratorRef =
        serde_json::from_value(reference.clone()).map_err(|_| ())?;
    let spec = ctx
        .stores
        .generator(namespace, &reference)
        .await
        .map_err(|message| tracing::debug!(%message, "resolving a PushSecret's generator"))?;
    let values = keyward_sync::generate::generate(&spec)
        .map_err(|message| tracing::debug!(%message, "generating a PushSecret's source"))?;
    let data = values
        .iter()
        .map(|(key, value)| {
            let bytes = k8s_openapi::ByteString(value.expose_bytes().to_vec());
            (key.clone(), bytes)
        })
        .collect();
    Ok(Secret {
        metadata: kube::core::ObjectMeta {
            name: Some("___generated-secret".to_owned()),
            namespace: Some(namespace.to_owned()),
            ..Default::default()
        },
        data: Some(data),
        ..Secret::default()
    })
}

/// Pushes every `data` entry of one source Secret to every store.
async fn push_secret(
    ctx: &PushContext,
    spec: &PushSecretSpec,
    secret: &Secret,
    stores: &[(StoreRef, String)],
    namespace: &str,
    pushed: &mut BTreeMap<String, BTreeMap<String, PushSecretData>>,
) -> Result<(), Failure> {
    let if_not_exists = spec.update_policy == Some(PushSecretUpdatePolicy::IfNotExists);
    for (store, label) in stores {
        let provider = ctx.stores.provider(store, namespace).map_err(|error| {
            format!(
                "could not get secrets client for store {}: {}",
                store.name, error.message
            )
        })?;
        for entry in &spec.data {
            let value = value_of(secret, entry)?;
            let remote = &entry.match_.remote_ref;
            let exists = if if_not_exists {
                push::remote_object(provider.as_ref(), &remote.remote_key)
                    .await
                    .map_err(|e| write_failed(remote, store, &e))?
                    .is_some()
            } else {
                false
            };
            if !exists {
                push_one(provider.as_ref(), entry, &value)
                    .await
                    .map_err(|e| write_failed(remote, store, &e))?;
            }
            pushed
                .entry(label.clone())
                .or_default()
                .insert(status_ref(entry), entry.clone());
        }
    }
    Ok(())
}

fn write_failed(
    remote: &keyward_api::PushSecretRemoteRef,
    store: &StoreRef,
    error: &ProviderError,
) -> Failure {
    format!(
        "could not write remote ref {} to target secretstore {}: {}",
        remote.remote_key, store.name, error.message
    )
}

/// `key`, or `key/property`: how ESO names a pushed entry in the status.
fn status_ref(entry: &PushSecretData) -> String {
    let remote = &entry.match_.remote_ref;
    match &remote.property {
        Some(property) if !property.is_empty() => format!("{}/{property}", remote.remote_key),
        _ => remote.remote_key.clone(),
    }
}

/// The value an entry pushes: one key, or the whole Secret as a JSON object of strings.
fn value_of(secret: &Secret, entry: &PushSecretData) -> Result<SecretValue, Failure> {
    let reverse = entry.conversion_strategy == Some(PushSecretConversionStrategy::ReverseUnicode);
    let data: BTreeMap<String, &[u8]> = secret
        .data
        .iter()
        .flatten()
        .map(|(key, value)| {
            let key = if reverse {
                reverse_unicode(key)
            } else {
                key.clone()
            };
            (key, value.0.as_slice())
        })
        .collect();
    match entry.match_.secret_key.as_deref() {
        None | Some("") => {
            let strings: BTreeMap<&str, String> = data
                .iter()
                .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v).into_owned()))
                .collect();
            let json = serde_json::to_vec(&strings).map_err(|e| e.to_string())?;
            Ok(SecretValue::new(json))
        }
        Some(key) => data
            .get(key)
            .map(|value| SecretValue::new(value.to_vec()))
            .ok_or_else(|| format!("secret key {key} does not exist")),
    }
}

/// ESO's `ReverseUnicode`: `_UXXXX_` (four hex digits) becomes the character it names.
pub fn reverse_unicode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut rest = key;
    while let Some(at) = rest.find("_U") {
        out.push_str(&rest[..at]);
        let candidate = &rest[at..];
        let decoded = candidate
            .get(2..6)
            .filter(|_| candidate.as_bytes().get(6) == Some(&b'_'))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32);
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &candidate[7..];
            }
            None => {
                out.push_str("_U");
                rest = &candidate[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Pushes one entry: the value itself, or the stored JSON object with `property` set.
async fn push_one(
    provider: &dyn Provider,
    entry: &PushSecretData,
    value: &SecretValue,
) -> Result<(), ProviderError> {
    let remote = &entry.match_.remote_ref;
    push::write_entry(
        provider,
        &remote.remote_key,
        remote.property.as_deref(),
        value,
        entry.metadata.as_ref(),
    )
    .await
}

/// Deletes one pushed entry: the key, or only its property (the key goes with its last one).
async fn delete_one(provider: &dyn Provider, entry: &PushSecretData) -> Result<(), ProviderError> {
    let remote = &entry.match_.remote_ref;
    push::delete_entry(
        provider,
        &remote.remote_key,
        remote.property.as_deref(),
        entry.metadata.as_ref(),
    )
    .await
}

/// `Kind/name` back to a store reference.
fn store_of(label: &str) -> Option<StoreRef> {
    let (kind, name) = label.split_once('/')?;
    let kind = match kind {
        "SecretStore" => StoreKind::SecretStore,
        "ClusterSecretStore" => StoreKind::ClusterSecretStore,
        _ => return None,
    };
    Some(StoreRef {
        name: name.to_owned(),
        kind,
    })
}

/// Deletes what `previous` pushed that `now` does not.
async fn delete_stale(
    ctx: &PushContext,
    namespace: &str,
    previous: &PushSecretStatus,
    now: &BTreeMap<String, BTreeMap<String, PushSecretData>>,
) -> Result<(), Failure> {
    for (label, refs) in &previous.synced_push_secrets {
        let Some(store) = store_of(label) else {
            continue;
        };
        let kept = now.get(label);
        for (status_ref, entry) in refs {
            if kept.is_some_and(|kept| kept.contains_key(status_ref)) {
                continue;
            }
            let provider = ctx.stores.provider(&store, namespace).map_err(|e| {
                format!(
                    "could not get secrets client for store {}: {}",
                    store.name, e.message
                )
            })?;
            delete_one(provider.as_ref(), entry).await.map_err(|e| {
                format!(
                    "could not delete remote ref {status_ref} from {label}: {}",
                    e.message
                )
            })?;
        }
    }
    Ok(())
}

/// The PushSecret is going: delete everything it pushed, then let it go.
async fn delete_everything(
    ctx: &PushContext,
    object: &DynamicObject,
    previous: &PushSecretStatus,
    start: OffsetDateTime,
) -> Result<Action, PushReconcileError> {
    let namespace = object.namespace().unwrap_or_default();
    match delete_stale(ctx, &namespace, previous, &BTreeMap::new()).await {
        Ok(()) => {
            set_finalizer(ctx, object, false).await?;
            Ok(Action::await_change())
        }
        Err(message) => {
            let message = format!("Failed to Delete Secrets from Provider: {message}");
            fail(ctx, object, previous, message, start).await
        }
    }
}

/// Marks the PushSecret failed (status and Warning event) and retries later.
async fn fail(
    ctx: &PushContext,
    object: &DynamicObject,
    previous: &PushSecretStatus,
    message: String,
    start: OffsetDateTime,
) -> Result<Action, PushReconcileError> {
    let status = failed_status(previous, message, start);
    publish(
        ctx,
        object,
        EventType::Warning,
        "Errored",
        condition_message(&status),
    )
    .await;
    write_status(ctx, object, previous, &status).await?;
    Ok(Action::requeue(Duration::from_secs(30)))
}

fn condition_message(status: &PushSecretStatus) -> String {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == status::READY)
        .and_then(|c| c.message.clone())
        .unwrap_or_default()
}

/// The `Ready` condition, keeping its transition time unless its status flips (ESO's rule).
fn with_ready(
    previous: &PushSecretStatus,
    ok: bool,
    reason: &str,
    message: String,
    now: OffsetDateTime,
) -> PushSecretStatus {
    let mut status = previous.clone();
    let text = if ok { "True" } else { "False" };
    let transition = match status.conditions.iter().find(|c| c.type_ == status::READY) {
        Some(old) if old.status == text => old.last_transition_time.clone(),
        _ => Some(status::rfc3339(now)),
    };
    status.conditions.retain(|c| c.type_ != status::READY);
    status.conditions.push(ExternalSecretCondition {
        type_: status::READY.into(),
        status: text.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: transition,
    });
    status
}

fn failed_status(
    previous: &PushSecretStatus,
    message: String,
    now: OffsetDateTime,
) -> PushSecretStatus {
    with_ready(previous, false, "Errored", message, now)
}

/// The status after a push that succeeded.
pub fn synced_status(
    ps: &PushSecret,
    previous: &PushSecretStatus,
    pushed: BTreeMap<String, BTreeMap<String, PushSecretData>>,
    now: OffsetDateTime,
) -> PushSecretStatus {
    let mut message = "PushSecret synced successfully".to_owned();
    if ps.spec.update_policy == Some(PushSecretUpdatePolicy::IfNotExists) {
        message.push_str(". Existing secrets in providers unchanged.");
    }
    let mut status = with_ready(previous, true, "Synced", message, now);
    status.synced_push_secrets = pushed;
    status.refresh_time = Some(status::rfc3339(now));
    status.synced_resource_version = Some(resource_version(ps));
    status
}

/// Patches the status when it changed. `syncedPushSecrets` is sent whole (null when empty),
/// since a merge patch would otherwise keep entries that are gone.
async fn write_status(
    ctx: &PushContext,
    object: &DynamicObject,
    previous: &PushSecretStatus,
    next: &PushSecretStatus,
) -> Result<(), PushReconcileError> {
    if previous == next {
        return Ok(());
    }
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &namespace, &resources::push_secret());
    let mut status = serde_json::to_value(next).unwrap_or_default();
    if let Some(fields) = status.as_object_mut() {
        fields.insert("syncedPushSecrets".into(), serde_json::Value::Null);
    }
    // First clear the map, then set it: a merge patch merges nested maps key by key.
    let clear = serde_json::json!({ "status": status });
    let set = serde_json::json!({ "status": { "syncedPushSecrets": next.synced_push_secrets } });
    let write = |source| PushReconcileError::Write {
        namespace: namespace.clone(),
        name: name.clone(),
        source,
    };
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&clear))
        .await
        .map_err(write)?;
    if !next.synced_push_secrets.is_empty() {
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&set))
            .await
            .map_err(write)?;
    }
    Ok(())
}

/// Adds or removes ESO's finalizer, guarded by the resourceVersion the decision was made on.
async fn set_finalizer(
    ctx: &PushContext,
    object: &DynamicObject,
    present: bool,
) -> Result<(), PushReconcileError> {
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let mut finalizers: Vec<String> = object
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    if present {
        finalizers.push(FINALIZER.into());
    }
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &namespace, &resources::push_secret());
    let patch = serde_json::json!({
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": object.resource_version(),
        }
    });
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
        .map_err(|source| PushReconcileError::Write {
            namespace,
            name,
            source,
        })
}

/// Publishes an event; one that cannot be written is logged, never a failure.
async fn publish(
    ctx: &PushContext,
    object: &DynamicObject,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let reference = object.object_ref(&resources::push_secret());
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Push".into(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, &reference).await {
        tracing::warn!(%error, reason, "could not publish an event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_unicode_decodes_esos_escapes_and_leaves_the_rest() {
        assert_eq!(reverse_unicode("a_U0020_b"), "a b");
        assert_eq!(reverse_unicode("_U002E_env_U002F_x"), ".env/x");
        assert_eq!(reverse_unicode("plain_key"), "plain_key");
        assert_eq!(reverse_unicode("_U12_ and _UZZZZ_"), "_U12_ and _UZZZZ_");
        assert_eq!(reverse_unicode("tail_U0041"), "tail_U0041");
    }

    fn entry(key: Option<&str>, remote: &str, property: Option<&str>) -> PushSecretData {
        serde_json::from_value(serde_json::json!({
            "match": {"secretKey": key, "remoteRef": {"remoteKey": remote, "property": property}},
        }))
        .expect("entry")
    }

    #[test]
    fn values_are_one_key_or_the_whole_secret_as_strings() {
        let secret = Secret {
            data: Some(
                [
                    ("user".to_owned(), k8s_openapi::ByteString(b"app".to_vec())),
                    (
                        "pass_U0021_".to_owned(),
                        k8s_openapi::ByteString(b"s3".to_vec()),
                    ),
                ]
                .into(),
            ),
            ..Secret::default()
        };
        let one = value_of(&secret, &entry(Some("user"), "k", None)).expect("one");
        assert_eq!(one.expose_bytes(), b"app");
        let whole = value_of(&secret, &entry(None, "k", None)).expect("whole");
        assert_eq!(
            whole.expose_bytes(),
            br#"{"pass_U0021_":"s3","user":"app"}"#
        );
        let mut reversed = entry(Some("pass!"), "k", None);
        reversed.conversion_strategy = Some(PushSecretConversionStrategy::ReverseUnicode);
        assert_eq!(
            value_of(&secret, &reversed)
                .expect("reversed")
                .expose_bytes(),
            b"s3"
        );
        let missing = value_of(&secret, &entry(Some("absent"), "k", None)).expect_err("missing");
        assert_eq!(missing, "secret key absent does not exist");
        assert_eq!(status_ref(&entry(None, "k", Some("p"))), "k/p");
        assert_eq!(status_ref(&entry(None, "k", None)), "k");
    }

    #[test]
    fn pushes_when_changed_never_pushed_or_due() {
        let mut ps = PushSecret::new("p", PushSecretSpec::default());
        ps.metadata.generation = Some(2);
        let now = OffsetDateTime::now_utc();
        let hour = Duration::from_secs(3600);
        let never = PushSecretStatus::default();
        assert!(should_push(&ps, &never, hour, now));
        let fresh = PushSecretStatus {
            synced_resource_version: Some(resource_version(&ps)),
            refresh_time: Some(status::rfc3339(now - time::Duration::minutes(10))),
            ..Default::default()
        };
        assert!(!should_push(&ps, &fresh, hour, now));
        assert!(should_push(&ps, &fresh, Duration::from_secs(60), now));
        assert!(!should_push(&ps, &fresh, Duration::ZERO, now));
        ps.metadata.generation = Some(3);
        assert!(should_push(&ps, &fresh, hour, now));
    }
}
