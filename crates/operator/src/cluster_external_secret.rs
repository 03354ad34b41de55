//! The ClusterExternalSecret controller: one ExternalSecret spec stamped into every namespace
//! the selectors pick, in ESO's order (`clusterexternalsecret_controller.go`).
//!
//! 1. A ClusterExternalSecret being deleted is left alone: its ExternalSecrets carry it as
//!    their controller owner, so the garbage collector removes them.
//! 2. When `externalSecretName` changed, the ExternalSecrets under the old name are deleted
//!    where this ClusterExternalSecret controls them.
//! 3. The target namespaces are those `namespaces` names and those any selector matches (read
//!    from the namespace cache, not listed per selector as ESO does); ExternalSecrets in
//!    namespaces no longer targeted are deleted.
//! 4. In each target namespace the ExternalSecret is created, or replaced when its labels,
//!    annotations, spec or controller reference differ: an ExternalSecret of that name that
//!    this ClusterExternalSecret does not control is never touched (the namespace fails
//!    with ESO's `external secret already exists in namespace`).
//! 5. The status (`externalSecretName`, sorted provisioned and failed namespaces, `Ready`)
//!    is patched when it changed, and the next look is `refreshTime` later (default 1h).
//!
//! The spec written into each ExternalSecret is the ClusterExternalSecret's
//! `externalSecretSpec` as the API server holds it, field for field: a field keyward does
//! not know is carried, not dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use keyward_api::{ClusterExternalSecret, ClusterExternalSecretSpec, ClusterExternalSecretStatus};
use kube::api::{Api, DeleteParams, DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store as Reader};
use kube::{Resource, ResourceExt};

use crate::resources;

/// ESO's refresh when `refreshTime` is absent.
const DEFAULT_REFRESH: Duration = Duration::from_secs(3600);
/// ESO's status message when a namespace failed.
const NAMESPACES_FAILED: &str = "one or more namespaces failed";
/// ESO's reason for an ExternalSecret of the same name it does not control.
const ALREADY_EXISTS: &str = "external secret already exists in namespace";

/// What every ClusterExternalSecret reconcile shares.
pub struct ClusterContext {
    /// The API client.
    pub client: kube::Client,
    /// The ExternalSecret controller's cache: the children as they are.
    pub external_secrets: Reader<DynamicObject>,
    /// Namespaces with their labels.
    pub namespaces: Reader<kube::api::PartialObjectMeta<Namespace>>,
}

/// Why a reconcile could not finish; the controller retries it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterReconcileError {
    /// Writing the ClusterExternalSecret's status failed.
    #[error("writing the status of ClusterExternalSecret {name}: {source}")]
    StatusWrite {
        /// Its name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// Reconciles one ClusterExternalSecret.
pub async fn reconcile(
    object: Arc<DynamicObject>,
    ctx: Arc<ClusterContext>,
) -> Result<Action, ClusterReconcileError> {
    if object.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let previous = previous_status(&object);
    let ces: ClusterExternalSecret = match resources::typed(&object) {
        Ok(ces) => ces,
        Err(reason) => {
            let mut status = previous.clone();
            status.conditions = vec![condition(Some(format!("invalid spec: {reason}")))];
            write_status(&ctx, &object, &previous, &status).await?;
            return Ok(Action::await_change());
        }
    };
    let refresh = refresh_of(&ces.spec);
    let child_name = ces
        .spec
        .external_secret_name
        .as_ref()
        .map_or_else(|| object.name_any(), ToString::to_string);
    let owner = controller_reference(&object);
    let mut failed = BTreeMap::new();

    if let Some(old) = previous.external_secret_name.as_deref()
        && old != child_name
    {
        for namespace in &previous.provisioned_namespaces {
            if let Err(reason) = delete_child(&ctx, namespace, old, &owner).await {
                failed.insert(namespace.clone(), reason);
            }
        }
        if !failed.is_empty() {
            let status = next_status(&child_name, &[], &failed, Some(old));
            write_status(&ctx, &object, &previous, &status).await?;
            return Ok(Action::requeue(refresh));
        }
    }

    let targets = target_namespaces(&ces.spec, &ctx.namespaces.state());
    for namespace in previous
        .provisioned_namespaces
        .iter()
        .filter(|n| !targets.contains(*n))
    {
        if let Err(reason) = delete_child(&ctx, namespace, &child_name, &owner).await {
            let reason =
                format!("external secret in non matching namespace could not be deleted: {reason}");
            failed.insert(namespace.clone(), reason);
        }
    }
    let metadata = ces
        .spec
        .external_secret_metadata
        .clone()
        .unwrap_or_default();
    let spec = object
        .data
        .pointer("/spec/externalSecretSpec")
        .cloned()
        .unwrap_or_default();
    let mut provisioned = Vec::new();
    for namespace in &targets {
        let desired = Child {
            name: &child_name,
            namespace,
            labels: &metadata.labels,
            annotations: &metadata.annotations,
            spec: &spec,
            owner: &owner,
        };
        match ensure_child(&ctx, &desired).await {
            Ok(()) => provisioned.push(namespace.clone()),
            Err(reason) => {
                failed.insert(namespace.clone(), reason);
            }
        }
    }
    let status = next_status(&child_name, &provisioned, &failed, None);
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
    error: &ClusterReconcileError,
    _ctx: Arc<ClusterContext>,
) -> Action {
    tracing::warn!(%error, "ClusterExternalSecret reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

/// `spec.refreshTime`, or ESO's hour.
fn refresh_of(spec: &ClusterExternalSecretSpec) -> Duration {
    resources::duration_or(spec.refresh_time.as_deref(), DEFAULT_REFRESH)
}

fn previous_status(object: &DynamicObject) -> ClusterExternalSecretStatus {
    resources::status_of(object)
}

/// The namespaces a spec targets, among those that exist: named ones, and those any
/// selector (the deprecated single one included) matches. No names and no selectors: none.
pub fn target_namespaces(
    spec: &ClusterExternalSecretSpec,
    namespaces: &[Arc<kube::api::PartialObjectMeta<Namespace>>],
) -> BTreeSet<String> {
    let selectors: Vec<_> = spec
        .namespace_selector
        .iter()
        .chain(&spec.namespace_selectors)
        .collect();
    let no_labels = BTreeMap::new();
    namespaces
        .iter()
        .filter(|namespace| namespace.metadata.deletion_timestamp.is_none())
        .filter(|namespace| {
            let name = namespace.name_any();
            let labels = namespace.metadata.labels.as_ref().unwrap_or(&no_labels);
            spec.namespaces.iter().any(|n| n.as_str() == name)
                || selectors
                    .iter()
                    .any(|selector| keyward_api::selects(selector, labels))
        })
        .map(|namespace| namespace.name_any())
        .collect()
}

/// The ClusterExternalSecrets a namespace event concerns: those that target it now and
/// those that provisioned it before (so a namespace that stops matching is cleaned up).
pub fn cluster_external_secrets_of(
    namespace: &kube::api::PartialObjectMeta<Namespace>,
    cluster_external_secrets: &Reader<DynamicObject>,
) -> Vec<ObjectRef<DynamicObject>> {
    let name = namespace.name_any();
    let resource = resources::cluster_external_secret();
    cluster_external_secrets
        .state()
        .iter()
        .filter(|object| {
            let provisioned = previous_status(object)
                .provisioned_namespaces
                .contains(&name);
            provisioned
                || resources::typed::<ClusterExternalSecret>(object).is_ok_and(|ces| {
                    !target_namespaces(&ces.spec, &[Arc::new(namespace.clone())]).is_empty()
                })
        })
        .map(|object| ObjectRef::from_obj_with(object.as_ref(), resource.clone()))
        .collect()
}

/// The ClusterExternalSecret controlling an ExternalSecret, if any.
pub fn controller_of<K: Resource>(child: &K) -> Option<ObjectRef<DynamicObject>> {
    child
        .meta()
        .owner_references
        .iter()
        .flatten()
        .find(|owner| is_controller_ces(owner))
        .map(|owner| ObjectRef::new_with(&owner.name, resources::cluster_external_secret()))
}

fn is_controller_ces(owner: &OwnerReference) -> bool {
    owner.controller == Some(true)
        && owner.kind == "ClusterExternalSecret"
        && owner.api_version.split('/').next() == Some(keyward_api::GROUP)
}

/// The controller reference each ExternalSecret carries, as controller-runtime's
/// `SetControllerReference` writes it.
fn controller_reference(object: &DynamicObject) -> OwnerReference {
    OwnerReference {
        api_version: format!("{}/{}", keyward_api::GROUP, keyward_api::VERSION),
        kind: "ClusterExternalSecret".into(),
        name: object.name_any(),
        uid: object.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether `owner` (matched as ESO matches: group, kind and name) controls `child`.
fn controlled_by(child: &ObjectMeta, owner: &OwnerReference) -> bool {
    child
        .owner_references
        .iter()
        .flatten()
        .any(|r| is_controller_ces(r) && r.name == owner.name)
}

/// One ExternalSecret as the ClusterExternalSecret wants it.
struct Child<'a> {
    name: &'a str,
    namespace: &'a str,
    labels: &'a BTreeMap<String, String>,
    annotations: &'a BTreeMap<String, String>,
    spec: &'a serde_json::Value,
    owner: &'a OwnerReference,
}

impl Child<'_> {
    /// The object to write over `existing` (or to create): labels and annotations replace
    /// the whole maps, the spec replaces the spec, other owner references are kept.
    fn object(&self, existing: Option<&DynamicObject>) -> DynamicObject {
        let resource = resources::external_secret();
        let mut object = match existing {
            Some(existing) => existing.clone(),
            None => DynamicObject::new(self.name, &resource).within(self.namespace),
        };
        object.metadata.labels = Some(self.labels.clone()).filter(|m| !m.is_empty());
        object.metadata.annotations = Some(self.annotations.clone()).filter(|m| !m.is_empty());
        let mut owners: Vec<_> = object
            .metadata
            .owner_references
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| !(r.controller == Some(true) || same_owner(r, self.owner)))
            .collect();
        owners.push(self.owner.clone());
        object.metadata.owner_references = Some(owners);
        object.metadata.managed_fields = None;
        object.data = serde_json::json!({ "spec": self.spec });
        object
    }

    /// Whether `existing` already is what [`Child::object`] would write.
    fn satisfied_by(&self, existing: &DynamicObject) -> bool {
        let labels = existing.metadata.labels.clone().unwrap_or_default();
        let annotations = existing.metadata.annotations.clone().unwrap_or_default();
        let owned = existing
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|r| r == self.owner);
        &labels == self.labels
            && &annotations == self.annotations
            && owned
            && existing.data.get("spec") == Some(self.spec)
    }
}

fn same_owner(a: &OwnerReference, b: &OwnerReference) -> bool {
    a.api_version.split('/').next() == b.api_version.split('/').next()
        && a.kind == b.kind
        && a.name == b.name
}

/// Creates or replaces one ExternalSecret; the error is the namespace's failure reason.
async fn ensure_child(ctx: &ClusterContext, desired: &Child<'_>) -> Result<(), String> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        ctx.client.clone(),
        desired.namespace,
        &resources::external_secret(),
    );
    let cached = ctx.external_secrets.get(
        &ObjectRef::new_with(desired.name, resources::external_secret()).within(desired.namespace),
    );
    let existing = match cached {
        Some(existing) => Some(existing.as_ref().clone()),
        None => {
            let created = api
                .create(&PostParams::default(), &desired.object(None))
                .await;
            match created {
                Ok(_) => return Ok(()),
                // The cache lags behind the API server: read the one that is there.
                Err(kube::Error::Api(status)) if status.code == 409 => api
                    .get_opt(desired.name)
                    .await
                    .map_err(|e| update_failed(&e))?,
                Err(error) => return Err(update_failed(&error)),
            }
        }
    };
    let Some(existing) = existing else {
        return Err(
            "could not create or update ExternalSecret: it vanished while being created".into(),
        );
    };
    if !controlled_by(&existing.metadata, desired.owner) {
        return Err(ALREADY_EXISTS.into());
    }
    if desired.satisfied_by(&existing) {
        return Ok(());
    }
    api.replace(
        desired.name,
        &PostParams::default(),
        &desired.object(Some(&existing)),
    )
    .await
    .map(drop)
    .map_err(|e| update_failed(&e))
}

fn update_failed(error: &kube::Error) -> String {
    format!(
        "could not create or update ExternalSecret: {}",
        api_reason(error)
    )
}

/// An API error as one line: the status message, never a response body.
fn api_reason(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}

/// Deletes `name` in `namespace` when `owner` controls it; absent is fine.
async fn delete_child(
    ctx: &ClusterContext,
    namespace: &str,
    name: &str,
    owner: &OwnerReference,
) -> Result<(), String> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), namespace, &resources::external_secret());
    let existing = match api.get_opt(name).await {
        Ok(Some(existing)) => existing,
        Ok(None) => return Ok(()),
        Err(error) => return Err(api_reason(&error)),
    };
    if !controlled_by(&existing.metadata, owner) {
        return Ok(());
    }
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(api_reason(&error)),
    }
}

/// The `Ready` condition: no message when true.
fn condition(message: Option<String>) -> keyward_api::ClusterExternalSecretCondition {
    keyward_api::ClusterExternalSecretCondition {
        type_: "Ready".into(),
        status: if message.is_none() { "True" } else { "False" }.into(),
        message,
    }
}

/// The status after a reconcile. `name_kept` is the old name when renaming failed, which
/// ESO keeps so that the next reconcile tries the deletions again.
pub fn next_status(
    name: &str,
    provisioned: &[String],
    failed: &BTreeMap<String, String>,
    name_kept: Option<&str>,
) -> ClusterExternalSecretStatus {
    let mut provisioned = provisioned.to_vec();
    provisioned.sort();
    ClusterExternalSecretStatus {
        external_secret_name: Some(name_kept.unwrap_or(name).to_owned()),
        failed_namespaces: failed
            .iter()
            .map(
                |(namespace, reason)| keyward_api::ClusterExternalSecretNamespaceFailure {
                    namespace: namespace.clone(),
                    reason: Some(reason.clone()),
                },
            )
            .collect(),
        provisioned_namespaces: provisioned,
        conditions: vec![condition(
            (!failed.is_empty()).then(|| NAMESPACES_FAILED.to_owned()),
        )],
    }
}

/// Patches the status when it changed.
async fn write_status(
    ctx: &ClusterContext,
    object: &DynamicObject,
    previous: &ClusterExternalSecretStatus,
    next: &ClusterExternalSecretStatus,
) -> Result<(), ClusterReconcileError> {
    if previous == next && object.data.get("status").is_some() {
        return Ok(());
    }
    let name = object.name_any();
    let api: Api<DynamicObject> =
        Api::all_with(ctx.client.clone(), &resources::cluster_external_secret());
    // A merge patch replaces lists whole and removes what is null: the emptied lists must
    // be sent as null, or the old entries would stay.
    let mut status = serde_json::to_value(next).unwrap_or_default();
    if let Some(fields) = status.as_object_mut() {
        for key in ["failedNamespaces", "provisionedNamespaces"] {
            fields.entry(key).or_insert(serde_json::Value::Null);
        }
    }
    let patch = serde_json::json!({ "status": status });
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
        .map_err(|source| ClusterReconcileError::StatusWrite { name, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespace(
        name: &str,
        labels: &[(&str, &str)],
    ) -> Arc<kube::api::PartialObjectMeta<Namespace>> {
        let mut meta = kube::api::PartialObjectMeta::<Namespace>::default();
        meta.metadata.name = Some(name.into());
        meta.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        Arc::new(meta)
    }

    fn spec(json: serde_json::Value) -> ClusterExternalSecretSpec {
        serde_json::from_value(json).expect("spec")
    }

    #[test]
    fn namespaces_by_name_and_by_any_selector_that_exist() {
        let all = [
            namespace("team-a", &[("tier", "app")]),
            namespace("team-b", &[("tier", "app"), ("pci", "true")]),
            namespace("kube-system", &[]),
        ];
        let pick = |json| {
            target_namespaces(&spec(json), &all)
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            pick(serde_json::json!({"externalSecretSpec": {}})),
            Vec::<String>::new()
        );
        assert_eq!(
            pick(
                serde_json::json!({"externalSecretSpec": {}, "namespaces": ["kube-system", "absent"]})
            ),
            ["kube-system"]
        );
        assert_eq!(
            pick(serde_json::json!({"externalSecretSpec": {},
                "namespaceSelectors": [{"matchLabels": {"pci": "true"}}, {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}]})),
            ["kube-system", "team-b"]
        );
        assert_eq!(
            pick(serde_json::json!({"externalSecretSpec": {}, "namespaceSelector": {}})),
            ["kube-system", "team-a", "team-b"]
        );
    }

    #[test]
    fn status_reads_like_esos() {
        let mut failed = BTreeMap::new();
        failed.insert("b".to_owned(), ALREADY_EXISTS.to_owned());
        let status = next_status("db", &["z".into(), "a".into()], &failed, None);
        let json = serde_json::to_value(&status).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "externalSecretName": "db",
                "provisionedNamespaces": ["a", "z"],
                "failedNamespaces": [{"namespace": "b", "reason": ALREADY_EXISTS}],
                "conditions": [{"type": "Ready", "status": "False", "message": NAMESPACES_FAILED}],
            })
        );
        let fine =
            serde_json::to_value(next_status("db", &[], &BTreeMap::new(), None)).expect("json");
        assert_eq!(
            fine["conditions"],
            serde_json::json!([{"type": "Ready", "status": "True"}])
        );
    }

    #[test]
    fn children_keep_foreign_owners_and_replace_labels_whole() {
        let owner = OwnerReference {
            api_version: "external-secrets.io/v1".into(),
            kind: "ClusterExternalSecret".into(),
            name: "shared".into(),
            uid: "u-1".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        let labels = BTreeMap::from([("team".to_owned(), "x".to_owned())]);
        let annotations = BTreeMap::new();
        let spec = serde_json::json!({"refreshInterval": "1h", "someFutureField": true});
        let child = Child {
            name: "db",
            namespace: "apps",
            labels: &labels,
            annotations: &annotations,
            spec: &spec,
            owner: &owner,
        };
        let mut existing = child.object(None);
        assert!(child.satisfied_by(&existing));
        existing.metadata.labels =
            Some(BTreeMap::from([("added".to_owned(), "by hand".to_owned())]));
        let foreign = OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "anchor".into(),
            uid: "u-2".into(),
            controller: None,
            block_owner_deletion: None,
        };
        existing.metadata.owner_references = Some(vec![foreign.clone(), owner.clone()]);
        assert!(!child.satisfied_by(&existing));
        let rewritten = child.object(Some(&existing));
        assert_eq!(rewritten.metadata.labels, Some(labels.clone()));
        assert_eq!(
            rewritten.metadata.owner_references,
            Some(vec![foreign, owner.clone()])
        );
        assert_eq!(rewritten.data["spec"]["someFutureField"], true);
        assert!(controlled_by(&rewritten.metadata, &owner));
        assert_eq!(
            controller_of(&rewritten).map(|r| r.name),
            Some("shared".to_owned())
        );
    }
}
