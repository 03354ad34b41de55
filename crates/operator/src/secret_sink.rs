//! [`SecretSink`]: the sync engine's targets as Kubernetes Secrets, written as ESO writes
//! them.
//!
//! - Create (POST) and update (PUT, with the cached `resourceVersion`) under ESO's field
//!   manager `externalsecrets.external-secrets.io/<ExternalSecret>`. The API server records
//!   which keys, labels and annotations that manager wrote (`managedFields`), and ESO reads
//!   that record to know what it may remove; writing under the same name means a cluster can
//!   switch from ESO to keyward, and back, without orphaned or stolen keys. (A server-side
//!   apply would record ownership under a different operation, which ESO's reading
//!   tolerates, but it keeps keys other managers wrote, where ESO's `Owner` policy drops
//!   them.)
//! - Every Secret gets ESO's managed label and data-hash annotation; `Owner` adds the
//!   `created-by` label and a controller owner reference, other policies remove both.
//! - Every Secret written also gets keyward's keyed fingerprints
//!   ([`keyward_core::FINGERPRINTS_ANNOTATION`]), which `keyward check --verify` compares
//!   with the store, and the store version of each value it was made from
//!   ([`keyward_core::SOURCE_VERSIONS_ANNOTATION`]). They alone never cause a write: a Secret ESO wrote is adopted as it is,
//!   and gets them with its next change.
//! - Labels and annotations this manager wrote earlier and no longer wants are removed;
//!   everyone else's are kept.
//! - A Secret that already holds exactly this is not written: a Secret ESO wrote is adopted
//!   without a write.
//!
//! The current Secret comes from the reflector of managed Secrets (label
//! `reconcile.external-secrets.io/managed=true`): no GET for the common case. A Secret that is
//! not managed yet is read with one GET only when `creationPolicy: Merge` needs it, or when a
//! create finds it already there.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use keyward_api::CreationPolicy;
use keyward_core::{
    FINGERPRINTS_ANNOTATION, FingerprintKey, Fingerprints, SOURCE_VERSIONS_ANNOTATION, SecretValue,
};
use keyward_sync::engine::Desired;
use keyward_sync::{Applied, Applying, Sink, SinkError};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store as Reader};

use crate::eso;
use crate::recent::Recent;

/// What the sink did, for the ExternalSecret's events and `status.binding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretAction {
    /// The Secret was created.
    Created,
    /// The Secret was updated.
    Updated,
    /// The Secret already held what it should.
    Unchanged,
    /// The Secret was deleted (`deletionPolicy: Delete`).
    Deleted,
}

/// The ExternalSecret a sink writes for.
#[derive(Clone, Debug)]
pub struct Writer {
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its uid, for the owner reference.
    pub uid: String,
    /// Whether it asks for every workload that reads its Secret to be restarted when the
    /// data changes (`keyward.io/restart-readers: "true"`, crate::consumers).
    pub restart_readers: bool,
}

/// One ExternalSecret's target Secret.
pub struct SecretSink {
    client: kube::Client,
    secrets: Reader<Secret>,
    written: Arc<Recent<Secret>>,
    writer: Writer,
    fingerprint_key: FingerprintKey,
    restarter: Arc<crate::consumers::Restarter>,
    action: Mutex<Option<SecretAction>>,
}

impl SecretSink {
    /// A sink for `writer`'s target, reading managed Secrets from `secrets`, or from
    /// `written` while the watch has not delivered this operator's own last write; a change
    /// of its data is handed to `restarter`.
    pub fn new(
        client: kube::Client,
        secrets: Reader<Secret>,
        written: Arc<Recent<Secret>>,
        writer: Writer,
        fingerprint_key: FingerprintKey,
        restarter: Arc<crate::consumers::Restarter>,
    ) -> Self {
        Self {
            client,
            secrets,
            written,
            writer,
            fingerprint_key,
            restarter,
            action: Mutex::new(None),
        }
    }

    /// What the last `apply` did.
    pub fn action(&self) -> Option<SecretAction> {
        self.action.lock().ok().and_then(|action| *action)
    }

    fn record(&self, action: SecretAction) {
        if let Ok(mut slot) = self.action.lock() {
            *slot = Some(action);
        }
    }

    fn api(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.writer.namespace)
    }

    fn manager(&self) -> String {
        eso::field_manager(&self.writer.name)
    }

    /// The target from the reflector; with `read_through`, from the API server when the
    /// reflector does not have it (a Secret not managed yet).
    async fn existing(&self, name: &str, read_through: bool) -> Result<Option<Secret>, SinkError> {
        let key = ObjectRef::new(name).within(&self.writer.namespace);
        let cached = self.secrets.get(&key);
        if let Some(secret) = self.written.freshest(&self.writer.namespace, name, cached) {
            return Ok(Some(Secret::clone(&secret)));
        }
        if !read_through {
            return Ok(None);
        }
        self.api()
            .get_opt(name)
            .await
            .map_err(|e| api_error("reading", name, &e))
    }

    async fn write(&self, desired: Desired) -> Result<SecretAction, SinkError> {
        let name = desired.target.to_string();
        let existing = self.existing(&name, false).await?;
        let params = PostParams {
            field_manager: Some(self.manager()),
            ..PostParams::default()
        };
        let existing = match existing {
            Some(existing) => existing,
            None => {
                let secret = Wiped(self.build(None, &desired)?);
                match self.api().create(&params, &secret).await {
                    Ok(created) => {
                        self.remember(created);
                        return Ok(SecretAction::Created);
                    }
                    // There, but not managed yet (not in the reflector): update it.
                    Err(kube::Error::Api(status)) if status.code == 409 => {
                        self.existing(&name, true).await?.ok_or_else(|| {
                            SinkError::transient(format!(
                                "Secret {name} was there and is gone; retrying"
                            ))
                        })?
                    }
                    Err(error) => return Err(api_error("creating", &name, &error)),
                }
            }
        };
        let existing = Wiped(existing);
        let secret = Wiped(self.build(Some(&existing), &desired)?);
        if same_content(&existing, &secret) {
            return Ok(SecretAction::Unchanged);
        }
        if existing.immutable == Some(true)
            && (existing.data != secret.data || existing.type_ != secret.type_)
        {
            return Err(SinkError::permanent(
                "could not update secret, target is immutable",
            ));
        }
        let data_changed = existing.data != secret.data;
        let updated = self
            .api()
            .replace(&name, &params, &secret)
            .await
            .map_err(|e| api_error("updating", &name, &e))?;
        self.remember(updated);
        if data_changed {
            // The workloads that opted in follow the new data (crate::consumers).
            let every = self.writer.restart_readers;
            self.restarter.changed(&self.writer.namespace, &name, every);
        }
        Ok(SecretAction::Updated)
    }

    /// Keeps a Secret the API server returned from a write until the watch delivers it, so
    /// that the reconcile it triggers does not write it again.
    fn remember(&self, mut secret: Secret) {
        crate::slim(&mut secret);
        self.written.wrote(secret);
    }

    /// The Secret this ExternalSecret wants, laid over `existing` as ESO lays it.
    fn build(&self, existing: Option<&Secret>, desired: &Desired) -> Result<Secret, SinkError> {
        let manager = self.manager();
        let owner = desired.creation_policy == CreationPolicy::Owner;
        let mut metadata = existing
            .map(|s| s.metadata.clone())
            .unwrap_or_else(|| ObjectMeta {
                name: Some(desired.target.to_string()),
                namespace: Some(self.writer.namespace.clone()),
                ..ObjectMeta::default()
            });
        let owned_labels = existing.map_or_else(BTreeSet::new, |s| owned(s, &manager, "f:labels"));
        let owned_annotations =
            existing.map_or_else(BTreeSet::new, |s| owned(s, &manager, "f:annotations"));

        let mut labels = metadata.labels.take().unwrap_or_default();
        labels.retain(|key, _| !owned_labels.contains(key));
        labels.extend(desired.labels.clone());
        if owner {
            labels.insert(
                eso::CREATED_BY_LABEL.into(),
                eso::created_by(&self.writer.namespace, &self.writer.name),
            );
        } else {
            labels.remove(eso::CREATED_BY_LABEL);
        }
        labels.insert(eso::MANAGED_LABEL.into(), "true".into());

        let data: BTreeMap<String, ByteString> = desired
            .data
            .iter()
            .map(|(key, value)| (key.clone(), ByteString(value.expose_bytes().to_vec())))
            .collect();
        let mut annotations = metadata.annotations.take().unwrap_or_default();
        annotations.retain(|key, _| !owned_annotations.contains(key));
        annotations.extend(desired.annotations.clone());
        annotations.insert(
            eso::DATA_HASH_ANNOTATION.into(),
            eso::data_hash(data.iter().map(|(k, v)| (k, v.0.as_slice()))),
        );
        annotations.insert(
            FINGERPRINTS_ANNOTATION.into(),
            Fingerprints::of(&self.fingerprint_key, &desired.data).encode(),
        );
        if desired.source_versions.is_empty() {
            annotations.remove(SOURCE_VERSIONS_ANNOTATION);
        } else if let Ok(text) = serde_json::to_string(&desired.source_versions) {
            annotations.insert(SOURCE_VERSIONS_ANNOTATION.into(), text);
        }

        metadata.labels = Some(labels);
        metadata.annotations = Some(annotations);
        metadata.owner_references =
            self.owner_references(metadata.owner_references.take(), owner)?;
        // Never sent back: the API server owns it, and it is large.
        metadata.managed_fields = None;
        Ok(Secret {
            metadata,
            data: Some(data),
            type_: desired
                .type_
                .clone()
                .or_else(|| existing.and_then(|s| s.type_.clone())),
            immutable: (desired.immutable || existing.and_then(|s| s.immutable) == Some(true))
                .then_some(true),
            string_data: None,
        })
    }

    /// ESO's ownership rules: a Secret controlled by another ExternalSecret is never taken;
    /// `Owner` takes (or keeps) the controller reference, other policies give theirs up.
    fn owner_references(
        &self,
        references: Option<Vec<OwnerReference>>,
        owner: bool,
    ) -> Result<Option<Vec<OwnerReference>>, SinkError> {
        let mut references = references.unwrap_or_default();
        let is_es = |r: &OwnerReference| {
            r.kind == "ExternalSecret" && r.api_version.starts_with("external-secrets.io/")
        };
        if let Some(controller) = references.iter().find(|r| r.controller == Some(true)) {
            if is_es(controller) && controller.name != self.writer.name {
                return Err(SinkError::permanent(format!(
                    "target is owned by another ExternalSecret: {}",
                    controller.name
                )));
            }
            if owner && !is_es(controller) {
                return Err(SinkError::permanent(format!(
                    "failed to take ownership of target secret: it is controlled by {} {}",
                    controller.kind, controller.name
                )));
            }
        }
        references.retain(|r| !(is_es(r) && r.name == self.writer.name));
        if owner {
            references.push(OwnerReference {
                api_version: format!("{}/{}", keyward_api::GROUP, keyward_api::VERSION),
                kind: "ExternalSecret".into(),
                name: self.writer.name.clone(),
                uid: self.writer.uid.clone(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            });
        }
        Ok((!references.is_empty()).then_some(references))
    }
}

#[async_trait::async_trait]
impl Sink for SecretSink {
    async fn current(
        &self,
        desired: &Desired,
    ) -> Result<Option<BTreeMap<String, SecretValue>>, SinkError> {
        let merge = desired.creation_policy == CreationPolicy::Merge;
        let Some(secret) = self.existing(desired.target.as_str(), merge).await? else {
            return Ok(None);
        };
        // Keys this ExternalSecret wrote before are its own to drop: what Merge keeps is
        // only what others wrote.
        let mine = owned(&secret, &self.manager(), "f:data");
        Ok(Some(
            secret
                .data
                .unwrap_or_default()
                .into_iter()
                .filter(|(key, _)| !merge || !mine.contains(key))
                .map(|(key, value)| (key, SecretValue::new(value.0)))
                .collect(),
        ))
    }

    async fn apply(&self, desired: Desired, plan: Applying) -> Result<Applied, SinkError> {
        let location = self.location(&desired);
        let action = match plan {
            Applying::Write { .. } => self.write(desired).await?,
            Applying::Delete => {
                let name = desired.target.to_string();
                self.written.forget(&self.writer.namespace, &name);
                match self.api().delete(&name, &DeleteParams::default()).await {
                    Ok(_) => SecretAction::Deleted,
                    Err(kube::Error::Api(status)) if status.code == 404 => SecretAction::Deleted,
                    Err(error) => return Err(api_error("deleting", &name, &error)),
                }
            }
        };
        self.record(action);
        Ok(Applied {
            location,
            changed: action != SecretAction::Unchanged,
        })
    }

    fn location(&self, desired: &Desired) -> String {
        format!("{}/{}", self.writer.namespace, desired.target)
    }
}

/// The keys under `f:data`, `f:metadata.f:labels` or `f:metadata.f:annotations` that field
/// manager `manager` wrote, from the Secret's `managedFields`.
pub fn owned(secret: &Secret, manager: &str, section: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for entry in secret.metadata.managed_fields.iter().flatten() {
        if entry.manager.as_deref() != Some(manager) {
            continue;
        }
        let Some(fields) = &entry.fields_v1 else {
            continue;
        };
        let node = if section == "f:data" {
            fields.0.get("f:data")
        } else {
            fields.0.get("f:metadata").and_then(|m| m.get(section))
        };
        if let Some(serde_json::Value::Object(map)) = node {
            keys.extend(
                map.keys()
                    .filter_map(|key| key.strip_prefix("f:"))
                    .map(str::to_owned),
            );
        }
    }
    keys
}

/// A Secret built or copied by the sink (or read as a PushSecret's source), its values wiped
/// when it is dropped (kube-rs' types do not wipe; what the reflector and the API client keep
/// is theirs).
pub(crate) struct Wiped(pub(crate) Secret);

impl std::ops::Deref for Wiped {
    type Target = Secret;

    fn deref(&self) -> &Secret {
        &self.0
    }
}

impl Drop for Wiped {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for value in self.0.data.iter_mut().flat_map(|data| data.values_mut()) {
            value.0.zeroize();
        }
        for value in self
            .0
            .string_data
            .iter_mut()
            .flat_map(|data| data.values_mut())
        {
            value.zeroize();
        }
    }
}

/// Whether `wanted` would change nothing in `existing` that matters: keyward's fingerprints
/// are left out, so that a Secret written by ESO (or under another fingerprint key) is not
/// rewritten for them alone.
fn same_content(existing: &Secret, wanted: &Secret) -> bool {
    let labels = |s: &Secret| s.metadata.labels.clone().unwrap_or_default();
    let annotations = |s: &Secret| {
        let mut annotations = s.metadata.annotations.clone().unwrap_or_default();
        annotations.remove(FINGERPRINTS_ANNOTATION);
        annotations.remove(SOURCE_VERSIONS_ANNOTATION);
        annotations
    };
    let owners = |s: &Secret| s.metadata.owner_references.clone().unwrap_or_default();
    labels(existing) == labels(wanted)
        && annotations(existing) == annotations(wanted)
        && owners(existing) == owners(wanted)
        && existing.data.clone().unwrap_or_default() == wanted.data.clone().unwrap_or_default()
        && existing.type_.as_deref().unwrap_or("Opaque")
            == wanted.type_.as_deref().unwrap_or("Opaque")
        && existing.immutable.unwrap_or(false) == wanted.immutable.unwrap_or(false)
}

/// An API error in words that never quote the object: the API server's message for an
/// invalid Secret can quote its content, so only the status is kept, except for conflicts
/// and refusals, whose messages name verbs and resources.
fn api_error(doing: &str, name: &str, error: &kube::Error) -> SinkError {
    match error {
        kube::Error::Api(status) => {
            let detail = match status.code {
                403 | 404 | 409 => format!(": {}", status.message),
                _ => String::new(),
            };
            let message = format!(
                "{doing} Secret {name}: the API server answered {} {}{detail}",
                status.code, status.reason
            );
            if status.code == 409 || status.code == 429 || status.code >= 500 {
                SinkError::transient(message)
            } else {
                SinkError::permanent(message)
            }
        }
        other => SinkError::transient(format!("{doing} Secret {name}: {other}")),
    }
}
