//! [`Credentials`]: where providers get the secrets a store's auth block refers to.

use std::collections::BTreeMap;

use keyward_api::SecretKeySelector;
use keyward_core::SecretValue;

use crate::{ProviderError, ProviderErrorKind};

/// Resolves `SecretKeySelector`s (`{name, key, namespace}`) of a store's auth block.
///
/// The operator reads Kubernetes Secrets; host mode reads the bundle or a credentials
/// directory. `namespace` is the namespace to use when the selector has none.
#[async_trait::async_trait]
pub trait Credentials: Send + Sync + std::fmt::Debug {
    /// The value of `selector`.
    async fn secret_key(
        &self,
        selector: &SecretKeySelector,
        namespace: &str,
    ) -> Result<SecretValue, ProviderError>;
}

/// Credentials held in memory: `(namespace, name, key) → value`.
#[derive(Debug, Default, Clone)]
pub struct StaticCredentials {
    values: BTreeMap<(String, String, String), SecretValue>,
}

impl StaticCredentials {
    /// No credentials.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value.
    pub fn insert(&mut self, namespace: &str, name: &str, key: &str, value: SecretValue) {
        self.values.insert(
            (namespace.to_owned(), name.to_owned(), key.to_owned()),
            value,
        );
    }
}

#[async_trait::async_trait]
impl Credentials for StaticCredentials {
    async fn secret_key(
        &self,
        selector: &SecretKeySelector,
        namespace: &str,
    ) -> Result<SecretValue, ProviderError> {
        let namespace = selector.namespace.as_deref().unwrap_or(namespace);
        let key = selector.key.as_deref().unwrap_or("");
        self.values
            .get(&(namespace.to_owned(), selector.name.clone(), key.to_owned()))
            .cloned()
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::Misconfigured,
                    "credentials",
                    None,
                    format!("no credential {namespace}/{}[{key}]", selector.name),
                )
            })
    }
}
