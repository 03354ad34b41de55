//! `ExternalSecret` (`external-secrets.io/v1`): what to fetch, from which store, and how the
//! target Secret is shaped. Field names, defaults and enum values follow ESO's CRD.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::StoreRef;

/// The desired state of an ExternalSecret.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "ExternalSecret",
    namespaced,
    shortname = "es",
    status = "ExternalSecretStatus",
    doc = "ExternalSecret: which values to fetch from which store, and the Secret to write them to."
)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretSpec {
    /// The default store of `data` and `dataFrom` entries without their own `sourceRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_store_ref: Option<StoreRef>,
    /// How the target Secret is created and shaped.
    #[serde(default)]
    pub target: ExternalSecretTarget,
    /// How often to refresh, as a Go duration (`1h`, `15m0s`); `0` syncs once. Default `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<String>,
    /// When to refresh. Default `Periodic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_policy: Option<RefreshPolicy>,
    /// One key of the target per entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<ExternalSecretData>,
    /// Many keys per entry: extract a map, or find by name/tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_from: Vec<ExternalSecretDataFromRemoteRef>,
}

/// `spec.refreshPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RefreshPolicy {
    /// Sync once, when the target is created.
    CreatedOnce,
    /// Sync every `refreshInterval`.
    Periodic,
    /// Sync when the ExternalSecret changes.
    OnChange,
}

/// `spec.target`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretTarget {
    /// The target Secret's name (a DNS-1123 subdomain, checked when the manifest is loaded);
    /// the ExternalSecret's name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<crate::ResourceName>,
    /// Who owns the target. Default `Owner`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_policy: Option<CreationPolicy>,
    /// What happens to target keys whose source is gone. Default `Retain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
    /// Marks the target immutable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub immutable: bool,
    /// Shapes the target with Go templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ExternalSecretTemplate>,
}

/// `spec.target.creationPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CreationPolicy {
    /// Create the target and own it (deleted with the ExternalSecret).
    Owner,
    /// Create the target and leave ownership alone.
    Orphan,
    /// Merge into an existing target; never create it.
    Merge,
    /// Do not create or update the target.
    None,
}

/// `spec.target.deletionPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the target when all its sources are gone.
    Delete,
    /// Remove only the keys whose sources are gone.
    Merge,
    /// Keep the target as it is.
    Retain,
}

/// `spec.target.template`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretTemplate {
    /// The target Secret's type (`Opaque`, `kubernetes.io/dockerconfigjson`, …).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Template engine version; only `v2` is served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// Labels and annotations of the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMetadata>,
    /// `Replace` (default) or `Merge` the rendered keys with the fetched ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_policy: Option<TemplateMergePolicy>,
    /// Templates by target key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// Templates from ConfigMaps, Secrets or literals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub template_from: Vec<TemplateFrom>,
}

/// `spec.target.template.metadata`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMetadata {
    /// Annotations of the target.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Labels of the target.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Finalizers of the target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

/// `spec.target.template.mergePolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TemplateMergePolicy {
    /// Only the rendered keys.
    Replace,
    /// Rendered keys over fetched keys.
    Merge,
}

/// One `spec.target.template.templateFrom` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateFrom {
    /// Templates held in a ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<TemplateRef>,
    /// Templates held in a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<TemplateRef>,
    /// An inline template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<String>,
    /// Where the result goes: `Data` (default), `Annotations`, `Labels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A ConfigMap or Secret holding templates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRef {
    /// Its name.
    pub name: String,
    /// The keys to use, and how.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<TemplateRefItem>,
}

/// One key of a template source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRefItem {
    /// The key.
    pub key: String,
    /// `Values` (the key's value is a template) or `KeysAndValues`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_as: Option<String>,
}

/// One `spec.data` entry: one target key from one remote reference.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretData {
    /// The key in the target.
    pub secret_key: String,
    /// What to fetch.
    pub remote_ref: RemoteRef,
    /// Another store (or a generator) for this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<SourceRef>,
}

/// A reference into a store: `remoteRef` of `data`, `extract` of `dataFrom`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoteRef {
    /// The key (or path, or name) in the store.
    pub key: String,
    /// A property inside a structured value (a JSON path for most providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// A version of the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `None` (default) or `Fetch`: fetch tags/metadata instead of the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_policy: Option<MetadataPolicy>,
    /// `Default` or `Unicode` key conversion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion_strategy: Option<ConversionStrategy>,
    /// `Auto`, `Base64`, `Base64URL` or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoding_strategy: Option<DecodingStrategy>,
    /// `Ignore` (default) or `Fail` on NUL bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_byte_policy: Option<NullBytePolicy>,
}

/// `metadataPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum MetadataPolicy {
    /// Fetch the value.
    None,
    /// Fetch the metadata (tags, attributes).
    Fetch,
}

/// `conversionStrategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ConversionStrategy {
    /// Keys as they are.
    Default,
    /// Unicode escapes in keys are decoded.
    Unicode,
}

/// `decodingStrategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DecodingStrategy {
    /// Base64 when it decodes, else as is.
    Auto,
    /// Standard base64.
    Base64,
    /// URL-safe base64.
    #[serde(rename = "Base64URL")]
    Base64Url,
    /// As is.
    None,
}

/// `nullBytePolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum NullBytePolicy {
    /// Accept NUL bytes.
    Ignore,
    /// Fail on NUL bytes.
    Fail,
}

/// `sourceRef`: another store, or a generator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceRef {
    /// Another store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_ref: Option<StoreRef>,
    /// A generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_ref: Option<GeneratorRef>,
}

/// `sourceRef.generatorRef`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorRef {
    /// `generators.external-secrets.io/v1alpha1` and friends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The generator kind (`Password`, `UUID`, …).
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// One `spec.dataFrom` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretDataFromRemoteRef {
    /// Extract every key of a structured value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<RemoteRef>,
    /// Find values by name or tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find: Option<ExternalSecretFind>,
    /// Rewrite the resulting keys, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrite: Vec<ExternalSecretRewrite>,
    /// Another store (or a generator) for this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<SourceRef>,
}

/// `dataFrom.find`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretFind {
    /// A path prefix to search under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Names matching a regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<FindName>,
    /// Tags that must all match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// `Default` or `Unicode` key conversion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion_strategy: Option<ConversionStrategy>,
    /// `Auto`, `Base64`, `Base64URL` or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoding_strategy: Option<DecodingStrategy>,
    /// `Ignore` or `Fail` on NUL bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_byte_policy: Option<NullBytePolicy>,
}

/// `find.name`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct FindName {
    /// The regular expression.
    pub regexp: String,
}

/// One `dataFrom.rewrite` step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretRewrite {
    /// Replace `source` matches with `target` in each key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<RewriteRegexp>,
    /// Render each key through a template (`{{ .value }}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<RewriteTransform>,
    /// Merge JSON values into one map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<RewriteMerge>,
}

/// `rewrite.merge`: every value is a JSON object; their keys are merged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RewriteMerge {
    /// `Extract` (default): the merged keys replace the map. `JSON`: the merged object is
    /// written as JSON under `into`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<MergeStrategy>,
    /// The key that receives the merged object (required by `JSON`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub into: String,
    /// Keys processed last, in this order (the others in alphabetical order), so they win.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority: Vec<String>,
    /// `Strict` (default): a `priority` key missing from the map is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_policy: Option<MergePriorityPolicy>,
    /// `Error` (default) or `Ignore` when two values carry the same key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_policy: Option<MergeConflictPolicy>,
}

/// `rewrite.merge.strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MergeStrategy {
    /// Hoist the merged keys to the top level.
    Extract,
    /// Write the merged object as JSON under `into`.
    #[serde(rename = "JSON")]
    Json,
}

/// `rewrite.merge.priorityPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MergePriorityPolicy {
    /// A missing priority key is an error.
    Strict,
    /// A missing priority key is skipped.
    IgnoreNotFound,
}

/// `rewrite.merge.conflictPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MergeConflictPolicy {
    /// Two values carrying one key fail the ExternalSecret.
    Error,
    /// The value processed later wins.
    Ignore,
}

/// `rewrite.regexp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RewriteRegexp {
    /// The pattern.
    pub source: String,
    /// The replacement (`$1` references groups).
    pub target: String,
}

/// `rewrite.transform`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RewriteTransform {
    /// The template.
    pub template: String,
}

/// `status`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretStatus {
    /// Last refresh, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<String>,
    /// The resourceVersion of the ExternalSecret last synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_resource_version: Option<String>,
    /// `Ready` and `Deleted` conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ExternalSecretCondition>,
    /// The target Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
}

/// One status condition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretCondition {
    /// `Ready` or `Deleted`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False`, `Unknown`.
    pub status: String,
    /// A machine-readable reason (`SecretSynced`, `SecretSyncedError`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A message for people; never a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// `status.binding`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Binding {
    /// The target Secret's name.
    #[serde(default)]
    pub name: String,
}
