//! [`Credentials`]: where providers get the secrets a store's auth block refers to.

use std::collections::BTreeMap;

use keyward_api::{SecretKeySelector, ServiceAccountSelector};
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

    /// A token for `account` with `audiences` (a Kubernetes TokenRequest). Only the operator
    /// can issue these; other sources say so.
    async fn service_account_token(
        &self,
        account: &ServiceAccountSelector,
        namespace: &str,
        audiences: &[String],
    ) -> Result<SecretValue, ProviderError> {
        let _ = audiences;
        Err(no_service_accounts(account, namespace))
    }

    /// The annotations of `account` (workload identity reads client and tenant ids there).
    async fn service_account_annotations(
        &self,
        account: &ServiceAccountSelector,
        namespace: &str,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        Err(no_service_accounts(account, namespace))
    }
}

fn no_service_accounts(account: &ServiceAccountSelector, namespace: &str) -> ProviderError {
    let namespace = account.namespace.as_deref().unwrap_or(namespace);
    ProviderError::new(
        ProviderErrorKind::Misconfigured,
        "credentials",
        None,
        format!(
            "service account {namespace}/{} needs a cluster: these credentials cannot issue service account tokens",
            account.name
        ),
    )
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
