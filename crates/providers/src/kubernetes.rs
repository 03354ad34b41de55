//! The `kubernetes` provider: Secrets of another namespace or cluster, on kube-rs.
//!
//! ESO's `spec.provider.kubernetes`: `server.url` and `server.caBundle` (base64 PEM),
//! `auth.token.bearerToken` or `auth.cert.{clientCert,clientKey}` (through the store
//! credentials), `auth.serviceAccount` (a token requested for that service account, renewed
//! before it expires), and `remoteNamespace` (`default`). Without `server.url` the client is
//! inferred (in-cluster, or the local kubeconfig). A key is a Secret's name; its data is a
//! map, so a property is one of its keys. `metadataPolicy: Fetch` returns
//! `{"labels": …, "annotations": …}`; `find` filters names by regexp and labels by `tags`.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use keyward_api::{ExternalSecretFind, SecretKeySelector, ServiceAccountSelector};
use keyward_core::SecretValue;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use serde::Deserialize;
use std::time::{Duration, Instant};

use crate::{
    Credentials, Fetched, KeyInfo, Provider, ProviderError, ProviderErrorKind, StoreId, Versioned,
};

/// `spec.provider.kubernetes`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesConfig {
    /// The API server.
    #[serde(default)]
    pub server: KubernetesServer,
    /// How to authenticate.
    #[serde(default)]
    pub auth: Option<KubernetesAuth>,
    /// The namespace Secrets are read from.
    #[serde(default)]
    pub remote_namespace: Option<String>,
}

/// `spec.provider.kubernetes.server`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesServer {
    /// `https://host:port`.
    #[serde(default)]
    pub url: Option<String>,
    /// PEM CA certificates, base64-encoded.
    #[serde(default)]
    pub ca_bundle: Option<String>,
}

/// `spec.provider.kubernetes.auth`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesAuth {
    /// A bearer token.
    #[serde(default)]
    pub token: Option<TokenAuth>,
    /// A client certificate.
    #[serde(default)]
    pub cert: Option<CertAuth>,
    /// A ServiceAccount whose requested token is the bearer token (needs credentials that
    /// can issue tokens: a cluster).
    #[serde(default)]
    pub service_account: Option<ServiceAccountSelector>,
}

/// `auth.token`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAuth {
    /// Where the token is.
    pub bearer_token: SecretKeySelector,
}

/// `auth.cert`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertAuth {
    /// The client certificate (PEM).
    pub client_cert: SecretKeySelector,
    /// The client key (PEM).
    pub client_key: SecretKeySelector,
}

/// Secrets of a Kubernetes namespace.
#[derive(Debug)]
pub struct KubernetesProvider {
    store: StoreId,
    config: KubernetesConfig,
    namespace: String,
    credentials: Arc<dyn Credentials>,
    /// The client, and when it must be rebuilt (its requested token expiring), if ever.
    api: tokio::sync::Mutex<Option<(Api<Secret>, Option<Instant>)>>,
}

/// A client built on a requested token is rebuilt after this long, well before the token's
/// [`crate::TOKEN_EXPIRATION_SECONDS`].
const REQUESTED_TOKEN_REUSE: Duration = Duration::from_secs(300);

impl KubernetesProvider {
    /// Validates the configuration (the client is built on first use).
    pub fn new(
        store: StoreId,
        config: KubernetesConfig,
        namespace: &str,
        credentials: Arc<dyn Credentials>,
    ) -> Result<Self, ProviderError> {
        let misconfigured = |message: &str| {
            ProviderError::new(
                ProviderErrorKind::Misconfigured,
                store.as_str(),
                None,
                message,
            )
        };
        if let Some(auth) = &config.auth {
            let methods = [
                auth.token.is_some(),
                auth.cert.is_some(),
                auth.service_account.is_some(),
            ];
            if methods.iter().filter(|set| **set).count() != 1 {
                return Err(misconfigured(
                    "spec.provider.kubernetes.auth needs exactly one of token, cert, serviceAccount",
                ));
            }
        }
        if config.server.url.is_some() && config.auth.is_none() {
            return Err(misconfigured(
                "spec.provider.kubernetes.server.url needs auth",
            ));
        }
        Ok(Self {
            store,
            config,
            namespace: namespace.to_owned(),
            credentials,
            api: tokio::sync::Mutex::new(None),
        })
    }

    fn error(
        &self,
        kind: ProviderErrorKind,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ProviderError {
        ProviderError::new(kind, self.store.as_str(), key, message)
    }

    fn remote_namespace(&self) -> &str {
        self.config.remote_namespace.as_deref().unwrap_or("default")
    }

    async fn api(&self) -> Result<Api<Secret>, ProviderError> {
        let mut cached = self.api.lock().await;
        if let Some((api, renew_at)) = cached.as_ref()
            && renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(api.clone());
        }
        let api = self.build_api().await?;
        let uses_requested_token = self
            .config
            .auth
            .as_ref()
            .is_some_and(|auth| auth.service_account.is_some());
        let renew_at = uses_requested_token.then(|| Instant::now() + REQUESTED_TOKEN_REUSE);
        *cached = Some((api.clone(), renew_at));
        Ok(api)
    }

    async fn build_api(&self) -> Result<Api<Secret>, ProviderError> {
        let mut config = match &self.config.server.url {
            None => kube::Config::infer().await.map_err(|e| {
                self.error(
                    ProviderErrorKind::Misconfigured,
                    None,
                    format!("no cluster configuration: {e}"),
                )
            })?,
            Some(url) => self.explicit_config(url)?,
        };
        self.authenticate(&mut config).await?;
        let client = kube::Client::try_from(config).map_err(|e| {
            self.error(
                ProviderErrorKind::Misconfigured,
                None,
                format!("client: {e}"),
            )
        })?;
        Ok(Api::namespaced(client, self.remote_namespace()))
    }

    /// The server of `server.url`, trusting `server.caBundle` when given.
    fn explicit_config(&self, url: &str) -> Result<kube::Config, ProviderError> {
        let misconfigured =
            |message: String| self.error(ProviderErrorKind::Misconfigured, None, message);
        let uri = url
            .parse()
            .map_err(|_| misconfigured(format!("server.url '{url}' is not a URL")))?;
        let mut config = kube::Config::new(uri);
        if let Some(bundle) = &self.config.server.ca_bundle {
            let pem = base64::engine::general_purpose::STANDARD
                .decode(bundle.trim())
                .map_err(|_| misconfigured("server.caBundle is not base64".into()))?;
            config.root_cert = Some(pem_certificates(&pem).map_err(misconfigured)?);
        }
        Ok(config)
    }

    /// Puts `auth`'s credentials (if any) into `config`.
    async fn authenticate(&self, config: &mut kube::Config) -> Result<(), ProviderError> {
        match self.config.auth.as_ref() {
            Some(KubernetesAuth {
                token: Some(token), ..
            }) => {
                let value = self
                    .credentials
                    .secret_key(&token.bearer_token, &self.namespace)
                    .await?;
                let token = String::from_utf8_lossy(value.expose_bytes())
                    .trim()
                    .to_owned();
                config.auth_info.token = Some(token.into());
            }
            Some(KubernetesAuth {
                cert: Some(cert), ..
            }) => {
                let certificate = self
                    .credentials
                    .secret_key(&cert.client_cert, &self.namespace)
                    .await?;
                let key = self
                    .credentials
                    .secret_key(&cert.client_key, &self.namespace)
                    .await?;
                config.auth_info.client_certificate_data = Some(
                    base64::engine::general_purpose::STANDARD.encode(certificate.expose_bytes()),
                );
                config.auth_info.client_key_data = Some(
                    base64::engine::general_purpose::STANDARD
                        .encode(key.expose_bytes())
                        .into(),
                );
            }
            Some(KubernetesAuth {
                service_account: Some(account),
                ..
            }) => {
                let token = self
                    .credentials
                    .service_account_token(account, &self.namespace, &account.audiences)
                    .await?;
                let token = String::from_utf8_lossy(token.expose_bytes()).into_owned();
                config.auth_info.token = Some(token.into());
            }
            _ => {}
        }
        Ok(())
    }

    fn classify(&self, error: kube::Error, key: Option<&str>) -> ProviderError {
        let (kind, message) = match &error {
            kube::Error::Api(status) => {
                let kind = match status.code {
                    404 => ProviderErrorKind::NotFound,
                    401 | 403 => ProviderErrorKind::PermissionDenied,
                    429 => ProviderErrorKind::Throttled,
                    code if code >= 500 => ProviderErrorKind::Unreachable,
                    _ => ProviderErrorKind::InvalidData,
                };
                (kind, format!("HTTP {}: {}", status.code, status.reason))
            }
            kube::Error::HyperError(_) | kube::Error::Service(_) => (
                ProviderErrorKind::Unreachable,
                "connection failed".to_owned(),
            ),
            other => (ProviderErrorKind::Unreachable, other.to_string()),
        };
        self.error(kind, key, message)
    }
}

/// The label keyward puts on Secrets it creates; ESO's value is accepted as managed too.
const MANAGED_LABEL: &str = "app.kubernetes.io/managed-by";

fn is_managed(secret: &Secret) -> bool {
    secret
        .metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(MANAGED_LABEL))
        .is_some_and(|v| v == "keyward" || v == "external-secrets")
}

impl KubernetesProvider {
    /// The Secret `key`, or `None` when it does not exist.
    async fn existing(&self, key: &str) -> Result<Option<Secret>, ProviderError> {
        self.api()
            .await?
            .get_opt(key)
            .await
            .map_err(|e| self.classify(e, Some(key)))
    }

    fn refuse_unmanaged(&self, key: &str, what: &str) -> ProviderError {
        self.error(
            ProviderErrorKind::PermissionDenied,
            Some(key),
            format!("refusing to {what}: the Secret is not labelled {MANAGED_LABEL}=keyward (or external-secrets)"),
        )
    }
}

/// Splits a PEM bundle into DER certificates (kube-rs takes DER).
fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let text =
        std::str::from_utf8(pem).map_err(|_| "server.caBundle is not PEM text".to_owned())?;
    let mut certificates = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match (line, body.as_mut()) {
            ("-----BEGIN CERTIFICATE-----", None) => body = Some(String::new()),
            ("-----END CERTIFICATE-----", Some(collected)) => {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(collected.as_bytes())
                    .map_err(|_| "server.caBundle holds a malformed certificate".to_owned())?;
                certificates.push(der);
                body = None;
            }
            (line, Some(collected)) => collected.push_str(line),
            _ => {}
        }
    }
    if certificates.is_empty() {
        return Err("server.caBundle holds no certificate".to_owned());
    }
    Ok(certificates)
}

#[async_trait::async_trait]
impl Provider for KubernetesProvider {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn store(&self) -> &StoreId {
        &self.store
    }

    async fn fetch(&self, key: &str, version: Option<&str>) -> Result<Fetched, ProviderError> {
        self.fetch_versioned(key, version)
            .await
            .map(|versioned| versioned.fetched)
    }

    /// A Secret's version is its resourceVersion.
    async fn fetch_versioned(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Versioned, ProviderError> {
        if version.is_some_and(|v| !v.is_empty()) {
            return Err(self.error(
                ProviderErrorKind::Unsupported,
                Some(key),
                "Kubernetes Secrets have no versions",
            ));
        }
        let secret = self
            .api()
            .await?
            .get(key)
            .await
            .map_err(|e| self.classify(e, Some(key)))?;
        let mut map: BTreeMap<String, SecretValue> = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, SecretValue::new(v.0)))
            .collect();
        for (k, v) in secret.string_data.unwrap_or_default() {
            map.insert(k, SecretValue::from(v));
        }
        Ok(Versioned {
            fetched: Fetched::Map(map),
            version: secret.metadata.resource_version,
        })
    }

    async fn fetch_metadata(&self, key: &str) -> Result<Fetched, ProviderError> {
        let secret = self
            .api()
            .await?
            .get(key)
            .await
            .map_err(|e| self.classify(e, Some(key)))?;
        let document = serde_json::json!({
            "labels": secret.metadata.labels.unwrap_or_default(),
            "annotations": secret.metadata.annotations.unwrap_or_default(),
        });
        Ok(Fetched::Document(SecretValue::from(document.to_string())))
    }

    /// The Secret's metadata alone (its resourceVersion and creation time); its data is
    /// not transferred.
    async fn describe(&self, key: &str, version: Option<&str>) -> Result<KeyInfo, ProviderError> {
        if version.is_some_and(|v| !v.is_empty()) {
            return Err(self.error(
                ProviderErrorKind::Unsupported,
                Some(key),
                "Kubernetes Secrets have no versions",
            ));
        }
        let meta = self
            .api()
            .await?
            .get_metadata(key)
            .await
            .map_err(|e| self.classify(e, Some(key)))?
            .metadata;
        Ok(KeyInfo {
            version: meta.resource_version,
            created: meta.creation_timestamp.map(|t| t.0.to_string()),
            read_value: false,
        })
    }

    async fn list(&self, find: &ExternalSecretFind) -> Result<Vec<String>, ProviderError> {
        let matcher = crate::value::name_matcher(find, self.store().as_str())?;
        let selector: Vec<String> = find.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let params = ListParams::default().labels(&selector.join(","));
        let list = self
            .api()
            .await?
            .list(&params)
            .await
            .map_err(|e| self.classify(e, None))?;
        let mut names: Vec<String> = list
            .items
            .into_iter()
            .filter_map(|secret| secret.metadata.name)
            .filter(|name| matcher.as_ref().is_none_or(|m| m.is_match(name)))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Sets one data key of Secret `key` (`metadata.property`, default `value`), creating the
    /// Secret labelled as keyward's when it does not exist.
    async fn push(
        &self,
        key: &str,
        value: &SecretValue,
        metadata: Option<&serde_json::Value>,
    ) -> Result<(), ProviderError> {
        let property = metadata
            .and_then(|m| m.get("property"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("value")
            .to_owned();
        let bytes = k8s_openapi::ByteString(value.expose_bytes().to_vec());
        let api = self.api().await?;
        let result = match self.existing(key).await? {
            Some(secret) if !is_managed(&secret) => {
                return Err(self.refuse_unmanaged(key, "overwrite it"));
            }
            Some(mut secret) => {
                secret
                    .data
                    .get_or_insert_with(BTreeMap::new)
                    .insert(property, bytes);
                api.replace(key, &PostParams::default(), &secret).await
            }
            None => {
                let secret = Secret {
                    metadata: ObjectMeta {
                        name: Some(key.to_owned()),
                        labels: Some(BTreeMap::from([(
                            MANAGED_LABEL.to_owned(),
                            "keyward".to_owned(),
                        )])),
                        ..ObjectMeta::default()
                    },
                    data: Some(BTreeMap::from([(property, bytes)])),
                    ..Secret::default()
                };
                api.create(&PostParams::default(), &secret).await
            }
        };
        result.map(|_| ()).map_err(|e| self.classify(e, Some(key)))
    }

    /// Deletes Secret `key` if keyward (or ESO) manages it.
    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        match self.existing(key).await? {
            None => Ok(()),
            Some(secret) if !is_managed(&secret) => Err(self.refuse_unmanaged(key, "delete it")),
            Some(_) => self
                .api()
                .await?
                .delete(key, &DeleteParams::default())
                .await
                .map(|_| ())
                .map_err(|e| self.classify(e, Some(key))),
        }
    }
}
