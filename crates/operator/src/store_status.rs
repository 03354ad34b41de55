//! The SecretStore and ClusterSecretStore controllers: each store's `Ready` condition and
//! `capabilities`, as ESO sets them.
//!
//! A store is valid when its provider block builds: exactly one provider, a configuration
//! that provider accepts, Secret references that stay in a SecretStore's namespace. That is
//! what ESO's `NewClient` checks too; keyward does not call the store to validate it (ESO's
//! providers mostly do not either). Stores are validated again every 5 minutes (ESO's
//! `--store-requeue-interval`), or every `spec.refreshInterval` seconds.

use std::sync::Arc;
use std::time::Duration;

use keyward_api::SecretStoreSpec;
use keyward_providers::{CallCounters, Credentials, StoreId};
use keyward_sync::stores::Store;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::status::rfc3339;

/// What the store controllers share.
pub struct StoreContext {
    /// The API client.
    pub client: kube::Client,
    /// Where Secret references resolve (validation never reads them).
    pub credentials: Arc<dyn Credentials>,
    /// The operator's controller class.
    pub controller_class: String,
    /// Events.
    pub recorder: Recorder,
    /// Which kind this controller serves.
    pub resource: ApiResource,
}

/// The requeue of a valid store when it names no `refreshInterval`.
const REVALIDATE: Duration = Duration::from_secs(300);

/// Why a store reconcile could not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The status could not be written.
    #[error("writing the status of {kind} {name}: {source}")]
    StatusWrite {
        /// The kind.
        kind: String,
        /// `namespace/name` or `name`.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// Providers that can also write (PushSecret), as ESO reports `status.capabilities`.
fn capabilities(provider: &str) -> &'static str {
    match provider {
        "fake" | "kubernetes" | "vault" | "aws" | "gcpsm" | "azurekv" | "local" => "ReadWrite",
        _ => "ReadOnly",
    }
}

/// Validates one store and writes its status.
pub async fn reconcile(
    object: Arc<DynamicObject>,
    ctx: Arc<StoreContext>,
) -> Result<Action, StoreError> {
    if object.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = object.namespace();
    let name = object.name_any();
    let spec: Result<SecretStoreSpec, String> = match object.data.get("spec") {
        Some(spec) => keyward_api::load::from_value(spec.clone()),
        None => Ok(SecretStoreSpec::default()),
    };
    if let Ok(spec) = &spec {
        let controller = spec.controller.as_deref().unwrap_or("");
        if !controller.is_empty() && controller != ctx.controller_class {
            return Ok(Action::await_change());
        }
    }
    let id = match &namespace {
        Some(namespace) => StoreId::namespaced(namespace, &name),
        None => StoreId::cluster(&name),
    };
    let validated = spec.and_then(|spec| {
        let provider = spec
            .provider
            .single()
            .map(|(name, _)| name.to_owned())
            .unwrap_or_default();
        let requeue = spec
            .refresh_interval
            .filter(|seconds| *seconds > 0)
            .map_or(REVALIDATE, |seconds| {
                Duration::from_secs(seconds.unsigned_abs())
            });
        Store::new(spec, object.metadata.annotations.as_ref())
            .build(
                id,
                namespace.as_deref().unwrap_or("default"),
                Arc::clone(&ctx.credentials),
                Arc::new(CallCounters::default()),
            )
            .map(|_| (provider, requeue))
            .map_err(|error| error.to_string())
    });
    let (condition, capability, event, action) = match &validated {
        Ok((provider, requeue)) => (
            json!({"type": "Ready", "status": "True", "reason": "Valid", "message": "store validated"}),
            Some(capabilities(provider)),
            Event {
                type_: EventType::Normal,
                reason: "Valid".into(),
                note: Some("store validated".into()),
                action: "Validate".into(),
                secondary: None,
            },
            Action::requeue(*requeue),
        ),
        Err(detail) => (
            json!({"type": "Ready", "status": "False", "reason": "InvalidProviderConfig", "message": "unable to create client"}),
            None,
            Event {
                type_: EventType::Warning,
                reason: "InvalidProviderConfig".into(),
                note: Some(detail.clone()),
                action: "Validate".into(),
                secondary: None,
            },
            Action::await_change(),
        ),
    };
    write_status(&object, &ctx, condition, capability).await?;
    if let Err(error) = ctx
        .recorder
        .publish(&event, &object.object_ref(&ctx.resource))
        .await
    {
        tracing::warn!(%error, "could not publish a store event");
    }
    Ok(action)
}

/// Writes the condition (keeping its transition time while its status holds) and the
/// capabilities, when they changed.
async fn write_status(
    object: &DynamicObject,
    ctx: &StoreContext,
    mut condition: serde_json::Value,
    capability: Option<&str>,
) -> Result<(), StoreError> {
    let old = object.data.get("status");
    let old_ready = old
        .and_then(|s| s.get("conditions"))
        .and_then(|c| c.as_array())
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"));
    let transition = match old_ready {
        Some(old) if old["status"] == condition["status"] => old["lastTransitionTime"].clone(),
        _ => json!(rfc3339(time::OffsetDateTime::now_utc())),
    };
    condition["lastTransitionTime"] = transition;
    let mut status = json!({"conditions": [condition]});
    if let Some(capability) = capability {
        status["capabilities"] = json!(capability);
    }
    let unchanged = old.is_some_and(|old| {
        old.get("conditions") == status.get("conditions")
            && old.get("capabilities") == status.get("capabilities")
    });
    if unchanged {
        return Ok(());
    }
    let name = object.name_any();
    let api: Api<DynamicObject> = match object.namespace() {
        Some(namespace) => Api::namespaced_with(ctx.client.clone(), &namespace, &ctx.resource),
        None => Api::all_with(ctx.client.clone(), &ctx.resource),
    };
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": status })),
    )
    .await
    .map(|_| ())
    .map_err(|source| StoreError::StatusWrite {
        kind: ctx.resource.kind.clone(),
        name,
        source,
    })
}

/// Retry soon when a status could not be written.
pub fn error_policy(
    _object: Arc<DynamicObject>,
    error: &StoreError,
    _ctx: Arc<StoreContext>,
) -> Action {
    tracing::warn!(%error, "store reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}
