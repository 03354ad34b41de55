//! `PushSecret` (`external-secrets.io/v1alpha1`): the reverse of an ExternalSecret, a
//! Kubernetes Secret's keys written to stores. Field names, defaults and enum values follow
//! ESO's CRD.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ExternalSecretCondition, ExternalSecretTemplate, StoreKind};

/// A field the API server keeps as sent, whatever its shape (each provider reads its own).
fn preserved(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

/// The version PushSecret is served under, as ESO serves it.
pub const PUSH_SECRET_VERSION: &str = "v1alpha1";

/// The desired state of a PushSecret.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1alpha1",
    kind = "PushSecret",
    namespaced,
    status = "PushSecretStatus",
    doc = "PushSecret: keys of a Secret of its namespace written to stores."
)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretSpec {
    /// How often to push again, as a Go duration; `0` pushes once. Default `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<String>,
    /// The stores to push to, by name or by label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_store_refs: Vec<PushSecretStoreRef>,
    /// `Replace` (default) overwrites what the store holds; `IfNotExists` leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_policy: Option<PushSecretUpdatePolicy>,
    /// `Delete` removes what was pushed when the PushSecret or an entry goes. Default `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<PushSecretDeletionPolicy>,
    /// Where the values come from.
    pub selector: PushSecretSelector,
    /// Which keys go where.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<PushSecretData>,
    /// Shapes the data before it is pushed (not served by keyward yet: refused with a
    /// condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ExternalSecretTemplate>,
}

/// One entry of `spec.secretStoreRefs`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretStoreRef {
    /// The store's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its kind; `SecretStore` when omitted.
    #[serde(default)]
    pub kind: StoreKind,
    /// Stores of that kind with these labels (SecretStores of the PushSecret's namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
}

/// `spec.updatePolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PushSecretUpdatePolicy {
    /// Overwrite.
    #[default]
    Replace,
    /// Leave a key that exists.
    IfNotExists,
}

/// `spec.deletionPolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PushSecretDeletionPolicy {
    /// Leave what was pushed.
    #[default]
    None,
    /// Delete what was pushed when it is no longer wanted.
    Delete,
}

/// `spec.selector`: exactly one source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretSelector {
    /// A Secret of the PushSecret's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<PushSecretSecret>,
    /// A generator (`Password`, `UUID`, `Fake`, `ClusterGenerator`): a new value on every push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved")]
    pub generator_ref: Option<serde_json::Value>,
}

/// `spec.selector.secret`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PushSecretSecret {
    /// The Secret's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Secrets of the namespace with these labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// One entry of `spec.data`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretData {
    /// Which key goes where.
    #[serde(rename = "match")]
    pub match_: PushSecretMatch,
    /// Provider-specific metadata of the pushed secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved")]
    pub metadata: Option<serde_json::Value>,
    /// `None` (default) or `ReverseUnicode` (`_U0020_` in a key becomes a space).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion_strategy: Option<PushSecretConversionStrategy>,
}

/// `spec.data[].match`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretMatch {
    /// The Secret's key; empty or absent: the whole Secret, as a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// Where it goes.
    pub remote_ref: PushSecretRemoteRef,
}

/// `spec.data[].match.remoteRef`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretRemoteRef {
    /// The store's key.
    pub remote_key: String,
    /// A property of the stored JSON object; the whole value when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

/// `spec.data[].conversionStrategy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PushSecretConversionStrategy {
    /// Keys as they are.
    #[default]
    None,
    /// `_UXXXX_` sequences in keys become the character they name.
    ReverseUnicode,
}

/// What was pushed, as ESO reports it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretStatus {
    /// When the last push succeeded (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<String>,
    /// The generation and metadata hash last pushed, as ESO's ExternalSecret status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_resource_version: Option<String>,
    /// Per store (`Kind/name`), per remote ref (`key` or `key/property`): the entry pushed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub synced_push_secrets: BTreeMap<String, BTreeMap<String, PushSecretData>>,
    /// `Ready`, with ESO's reasons (`Synced`, `Errored`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ExternalSecretCondition>,
}
