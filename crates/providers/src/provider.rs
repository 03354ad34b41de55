//! The [`Provider`] trait and what a fetch returns.

use std::collections::BTreeMap;

use keyward_api::{ExternalSecretFind, StoreKind};
use keyward_core::SecretValue;

use crate::ProviderError;

/// Identifies a store for caches, limits and messages: its kind, its namespace (a
/// `SecretStore`'s) and its name, shown as `SecretStore/ns/name` or `ClusterSecretStore/name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreId {
    kind: StoreKind,
    namespace: Option<String>,
    name: String,
    /// The text form, made once: every error and metric label names the store.
    text: String,
}

impl StoreId {
    /// The SecretStore `namespace/name`.
    pub fn namespaced(namespace: &str, name: &str) -> Self {
        Self {
            kind: StoreKind::SecretStore,
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
            text: format!("SecretStore/{namespace}/{name}"),
        }
    }

    /// The ClusterSecretStore `name`.
    pub fn cluster(name: &str) -> Self {
        Self {
            kind: StoreKind::ClusterSecretStore,
            namespace: None,
            name: name.to_owned(),
            text: format!("ClusterSecretStore/{name}"),
        }
    }

    /// A store of `kind`: namespaced when it is a SecretStore.
    pub fn of(kind: StoreKind, namespace: &str, name: &str) -> Self {
        match kind {
            StoreKind::SecretStore => Self::namespaced(namespace, name),
            StoreKind::ClusterSecretStore => Self::cluster(name),
        }
    }

    /// `SecretStore` or `ClusterSecretStore`.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// A SecretStore's namespace; `None` for a ClusterSecretStore.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `SecretStore/ns/name` or `ClusterSecretStore/name`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::str::FromStr for StoreId {
    type Err = String;

    /// Reads `SecretStore/ns/name` or `ClusterSecretStore/name`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.split('/').collect::<Vec<_>>().as_slice() {
            ["SecretStore", namespace, name] if !namespace.is_empty() && !name.is_empty() => {
                Ok(Self::namespaced(namespace, name))
            }
            ["ClusterSecretStore", name] if !name.is_empty() => Ok(Self::cluster(name)),
            _ => Err(format!(
                "'{text}' is not SecretStore/NAMESPACE/NAME or ClusterSecretStore/NAME"
            )),
        }
    }
}

impl std::fmt::Display for StoreId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// What one store call returns for a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// One value (AWS SecretString, an Azure secret, a fake entry): properties address JSON
    /// inside it.
    Value(SecretValue),
    /// A map of flat values (a Kubernetes Secret, tags): properties address its keys.
    Map(BTreeMap<String, SecretValue>),
    /// A JSON object whose values may nest (a Vault KV entry): a property is first a
    /// top-level key, then a path.
    Document(SecretValue),
}

/// A fetch and the store's id of the version it read, where the store has version ids (a
/// Vault KV v2 version number, an AWS version id, a Key Vault version, a Secret's
/// resourceVersion).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// What was read.
    pub fetched: Fetched,
    /// The version read, if the store names it.
    pub version: Option<String>,
}

/// What a store says about one key without handing over its value: which version is current
/// (or whether the pinned one exists) and when it was made. `keyward check --stores-only`,
/// `check --verify` and `keyward evidence` read this.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyInfo {
    /// The store's id of the version described (the current one, or the one asked for), where
    /// the store numbers or names versions.
    pub version: Option<String>,
    /// When that version was created (RFC 3339, as the store reports it), where it says.
    pub created: Option<String>,
    /// Whether the value itself had to be read to learn this: the store (or keyward's
    /// provider for it) has no metadata-only read. The value is dropped unread.
    pub read_value: bool,
}

/// One store. Implementations make exactly one store call per method call; caching,
/// coalescing, rate limits and retries belong to [`crate::Disciplined`].
#[async_trait::async_trait]
pub trait Provider: Send + Sync + std::fmt::Debug {
    /// The provider's name as in `spec.provider` (`vault`, `fake`, …).
    fn name(&self) -> &'static str;

    /// The store this provider instance talks to.
    fn store(&self) -> &StoreId;

    /// Reads `key` (at `version`, or the current one).
    async fn fetch(&self, key: &str, version: Option<&str>) -> Result<Fetched, ProviderError>;

    /// Reads `key` as [`Self::fetch`] does, with the id of the version read, from the same
    /// store call. The default names no version.
    async fn fetch_versioned(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Versioned, ProviderError> {
        self.fetch(key, version).await.map(|fetched| Versioned {
            fetched,
            version: None,
        })
    }

    /// Reads the metadata (tags, custom metadata) of `key`, for `metadataPolicy: Fetch`.
    async fn fetch_metadata(&self, key: &str) -> Result<Fetched, ProviderError> {
        Err(unsupported(self.store(), key, "metadataPolicy: Fetch"))
    }

    /// Whether `key` (at `version`, or the current one) exists, and its version id and creation
    /// time, from a metadata read where the store has one. A missing key or version is a
    /// [`crate::ProviderErrorKind::NotFound`] error. The default reads the value and drops it.
    async fn describe(&self, key: &str, version: Option<&str>) -> Result<KeyInfo, ProviderError> {
        self.fetch(key, version).await.map(|_| KeyInfo {
            version: version.filter(|v| !v.is_empty()).map(str::to_owned),
            created: None,
            read_value: true,
        })
    }

    /// The keys matching `find` (name regexp, path, tags), without their values.
    async fn list(&self, find: &ExternalSecretFind) -> Result<Vec<String>, ProviderError> {
        let _ = find;
        Err(unsupported(self.store(), "", "dataFrom.find"))
    }

    /// Writes `value` to `key` (PushSecret), with provider-specific `metadata`. Refuses to
    /// overwrite an object that keyward (or ESO) does not manage.
    async fn push(
        &self,
        key: &str,
        value: &SecretValue,
        metadata: Option<&serde_json::Value>,
    ) -> Result<(), ProviderError> {
        let _ = (value, metadata);
        Err(unsupported(self.store(), key, "push"))
    }

    /// Deletes `key` (PushSecret deletionPolicy: Delete). A missing key is not an error;
    /// an object that keyward (or ESO) does not manage is refused.
    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        Err(unsupported(self.store(), key, "delete"))
    }

    /// Marks the existing `key` as managed by keyward (the store's `managed-by=keyward` tag or
    /// custom metadata, the others kept), so that [`Provider::push`] may write it: what
    /// `keyward rotate --force` does to take over a key that a person created. A missing key
    /// is a [`crate::ProviderErrorKind::NotFound`] error.
    async fn adopt(&self, key: &str) -> Result<(), ProviderError> {
        Err(unsupported(
            self.store(),
            key,
            "taking over a key (--force)",
        ))
    }
}

fn unsupported(store: &StoreId, key: &str, what: &str) -> ProviderError {
    ProviderError::new(
        crate::ProviderErrorKind::Unsupported,
        store.as_str(),
        (!key.is_empty()).then_some(key),
        format!("{what} is not supported by this provider"),
    )
}

/// A boxed provider is a provider (so [`crate::Disciplined`] can wrap what the registry builds).
#[async_trait::async_trait]
impl Provider for Box<dyn Provider> {
    fn name(&self) -> &'static str {
        self.as_ref().name()
    }

    fn store(&self) -> &StoreId {
        self.as_ref().store()
    }

    async fn fetch(&self, key: &str, version: Option<&str>) -> Result<Fetched, ProviderError> {
        self.as_ref().fetch(key, version).await
    }

    async fn fetch_versioned(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Versioned, ProviderError> {
        self.as_ref().fetch_versioned(key, version).await
    }

    async fn fetch_metadata(&self, key: &str) -> Result<Fetched, ProviderError> {
        self.as_ref().fetch_metadata(key).await
    }

    async fn describe(&self, key: &str, version: Option<&str>) -> Result<KeyInfo, ProviderError> {
        self.as_ref().describe(key, version).await
    }

    async fn list(&self, find: &ExternalSecretFind) -> Result<Vec<String>, ProviderError> {
        self.as_ref().list(find).await
    }

    async fn push(
        &self,
        key: &str,
        value: &SecretValue,
        metadata: Option<&serde_json::Value>,
    ) -> Result<(), ProviderError> {
        self.as_ref().push(key, value, metadata).await
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        self.as_ref().delete(key).await
    }

    async fn adopt(&self, key: &str) -> Result<(), ProviderError> {
        self.as_ref().adopt(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_ids_read_and_show_as_kind_namespace_name() {
        let namespaced: StoreId = "SecretStore/apps/vault".parse().expect("namespaced");
        assert_eq!(namespaced, StoreId::namespaced("apps", "vault"));
        assert_eq!(
            (namespaced.kind(), namespaced.namespace(), namespaced.name()),
            (StoreKind::SecretStore, Some("apps"), "vault")
        );
        let cluster: StoreId = "ClusterSecretStore/vault".parse().expect("cluster");
        assert_eq!(cluster.to_string(), "ClusterSecretStore/vault");
        assert_eq!(cluster.namespace(), None);
        for bad in [
            "",
            "vault",
            "SecretStore/vault",
            "ClusterSecretStore/a/b",
            "Secret/a/b",
        ] {
            assert!(bad.parse::<StoreId>().is_err(), "{bad}");
        }
    }
}
