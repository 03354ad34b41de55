//! [`ClusterCredentials`]: store credentials read from a Kubernetes cluster, the way ESO's
//! controller reads them: Secrets by selector, short-lived service account tokens through the
//! TokenRequest API (workload identity, Vault's Kubernetes auth, IRSA), and service account
//! annotations (the client and tenant ids of Azure workload identity, IRSA's role ARN).
//!
//! The operator uses these; so can any caller holding a kube client. Errors name the object,
//! never a value.

use std::collections::BTreeMap;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use keyward_api::{SecretKeySelector, ServiceAccountSelector};
use keyward_core::SecretValue;
use kube::api::{Api, PostParams};

use crate::{Credentials, ProviderError, ProviderErrorKind};

/// How long a requested service account token lives (ESO's value; the API's minimum).
pub const TOKEN_EXPIRATION_SECONDS: i64 = 600;

/// Credentials from the cluster `client` talks to.
#[derive(Clone)]
pub struct ClusterCredentials {
    client: kube::Client,
}

impl std::fmt::Debug for ClusterCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCredentials").finish_non_exhaustive()
    }
}

impl ClusterCredentials {
    /// Credentials read through `client`.
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }
}

/// A Kubernetes API error as a provider error about `what` (`kind namespace/name`).
fn api_error(error: &kube::Error, what: &str) -> ProviderError {
    let (kind, reason) = match error {
        kube::Error::Api(status) if status.code == 404 => {
            (ProviderErrorKind::Misconfigured, "not found".to_owned())
        }
        kube::Error::Api(status) if status.code == 401 || status.code == 403 => (
            ProviderErrorKind::PermissionDenied,
            format!("forbidden (HTTP {})", status.code),
        ),
        kube::Error::Api(status) => (
            ProviderErrorKind::Unreachable,
            format!("HTTP {}: {}", status.code, status.reason),
        ),
        _ => (
            ProviderErrorKind::Unreachable,
            "the API server is unreachable".to_owned(),
        ),
    };
    ProviderError::new(kind, "credentials", None, format!("{what}: {reason}"))
}

#[async_trait::async_trait]
impl Credentials for ClusterCredentials {
    async fn secret_key(
        &self,
        selector: &SecretKeySelector,
        namespace: &str,
    ) -> Result<SecretValue, ProviderError> {
        let namespace = selector.namespace.as_deref().unwrap_or(namespace);
        let key = selector.key.as_deref().unwrap_or("");
        let what = format!("Secret {namespace}/{}", selector.name);
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = secrets
            .get(&selector.name)
            .await
            .map_err(|e| api_error(&e, &what))?;
        secret
            .data
            .and_then(|mut data| data.remove(key))
            .map(|bytes| SecretValue::from(bytes.0))
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::Misconfigured,
                    "credentials",
                    None,
                    format!("{what} has no key '{key}'"),
                )
            })
    }

    async fn service_account_token(
        &self,
        account: &ServiceAccountSelector,
        namespace: &str,
        audiences: &[String],
    ) -> Result<SecretValue, ProviderError> {
        let namespace = account.namespace.as_deref().unwrap_or(namespace);
        let what = format!(
            "token request for ServiceAccount {namespace}/{}",
            account.name
        );
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                audiences: (!audiences.is_empty()).then(|| audiences.to_vec()),
                expiration_seconds: Some(TOKEN_EXPIRATION_SECONDS),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let answer = accounts
            .create_token_request(&account.name, &PostParams::default(), &request)
            .await
            .map_err(|e| api_error(&e, &what))?;
        answer
            .status
            .and_then(|status| status.token)
            .map(SecretValue::from)
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::Unreachable,
                    "credentials",
                    None,
                    format!("{what}: the answer holds no token"),
                )
            })
    }

    async fn service_account_annotations(
        &self,
        account: &ServiceAccountSelector,
        namespace: &str,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        let namespace = account.namespace.as_deref().unwrap_or(namespace);
        let what = format!("ServiceAccount {namespace}/{}", account.name);
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let found = accounts
            .get(&account.name)
            .await
            .map_err(|e| api_error(&e, &what))?;
        Ok(found.metadata.annotations.unwrap_or_default())
    }
}
