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

/// A namespace and object name from a manifest, checked as Kubernetes checks them before
/// they go into a request path: kube-rs puts names into URLs as they are, so `a/../b` would
/// otherwise address another object, or another namespace's.
fn checked_names(namespace: &str, name: &str, what: &str) -> Result<(), ProviderError> {
    let invalid = |part: &str, error: keyward_api::NameError| {
        ProviderError::new(
            ProviderErrorKind::Misconfigured,
            "credentials",
            None,
            format!("the {what} reference's {part} {error}"),
        )
    };
    keyward_api::NamespaceName::parse(namespace).map_err(|e| invalid("namespace", e))?;
    keyward_api::ResourceName::parse(name).map_err(|e| invalid("name", e))?;
    Ok(())
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
        checked_names(namespace, &selector.name, "Secret")?;
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
        checked_names(namespace, &account.name, "ServiceAccount")?;
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
        checked_names(namespace, &account.name, "ServiceAccount")?;
        let what = format!("ServiceAccount {namespace}/{}", account.name);
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let found = accounts
            .get(&account.name)
            .await
            .map_err(|e| api_error(&e, &what))?;
        Ok(found.metadata.annotations.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client for an address where nothing listens: any request fails as unreachable, so a
    /// misconfiguration error proves the name was refused before a request was made.
    fn nowhere() -> ClusterCredentials {
        let url = "http://127.0.0.1:9".parse().expect("url");
        let client = kube::Client::try_from(kube::Config::new(url)).expect("client");
        ClusterCredentials::new(client)
    }

    #[tokio::test]
    async fn names_that_would_walk_the_request_path_are_refused_before_a_request() {
        let credentials = nowhere();
        for (namespace, name) in [
            ("apps", "db/../../kube-system/secrets/admin"),
            ("apps", "../x"),
            ("kube-system/secrets", "x"),
            ("apps", ""),
        ] {
            let selector = SecretKeySelector {
                name: name.to_owned(),
                key: Some("k".to_owned()),
                namespace: Some(namespace.to_owned()),
            };
            let error = credentials
                .secret_key(&selector, "apps")
                .await
                .expect_err("refused");
            assert_eq!(
                error.kind,
                ProviderErrorKind::Misconfigured,
                "{name}: {error}"
            );
            let account = ServiceAccountSelector {
                name: name.to_owned(),
                namespace: Some(namespace.to_owned()),
                audiences: Vec::new(),
            };
            let error = credentials
                .service_account_token(&account, "apps", &[])
                .await
                .expect_err("refused");
            assert_eq!(
                error.kind,
                ProviderErrorKind::Misconfigured,
                "{name}: {error}"
            );
        }
        // A valid name does go out (and fails here only because nothing listens).
        let valid = SecretKeySelector {
            name: "db".to_owned(),
            key: Some("k".to_owned()),
            namespace: None,
        };
        let error = credentials
            .secret_key(&valid, "apps")
            .await
            .expect_err("no server");
        assert_ne!(error.kind, ProviderErrorKind::Misconfigured, "{error}");
    }
}
