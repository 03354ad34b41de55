//! Selectors and references shared by several kinds.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A key of a Kubernetes Secret: `{name, key, namespace?}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// The Secret's name.
    #[serde(default)]
    pub name: String,
    /// The key inside the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The Secret's namespace (only ClusterSecretStores may set it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A Kubernetes ServiceAccount, for token requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountSelector {
    /// The ServiceAccount's name.
    pub name: String,
    /// Its namespace (only ClusterSecretStores may set it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Audiences of the requested token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
}

/// `SecretStore` or `ClusterSecretStore`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub enum StoreKind {
    /// A namespaced store (the default).
    #[default]
    SecretStore,
    /// A cluster-wide store.
    ClusterSecretStore,
}

/// A reference to a store: `{name, kind}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreRef {
    /// The store's name.
    #[serde(default)]
    pub name: String,
    /// Its kind; `SecretStore` when omitted.
    #[serde(default)]
    pub kind: StoreKind,
}
