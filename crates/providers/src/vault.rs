//! The `vault` provider: HashiCorp Vault and OpenBao, KV version 1 and 2.
//!
//! Configuration is ESO's `spec.provider.vault`: `server`, `path` (the KV mount), `version`
//! (`v2` by default), `namespace`, `caBundle`, and `auth` with `tokenSecretRef`, `appRole` or
//! `kubernetes`. Other auth methods are refused at validation, naming the method.
//!
//! Paths follow ESO: with `path` set, a key is relative to the mount (a leading `mount/` and,
//! for v2, `data/` are stripped); without it, the key's first segment is the mount. A login
//! token is obtained once and reused until shortly before its lease ends.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use keyward_api::{ExternalSecretFind, SecretKeySelector, ServiceAccountSelector};
use keyward_core::SecretValue;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use zeroize::{Zeroize, Zeroizing};

use crate::raw_json::{Kind, RawJson};
use crate::{
    Credentials, Fetched, KeyInfo, Provider, ProviderError, ProviderErrorKind, StoreId, Versioned,
};

/// Renew a login this long before its lease ends.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);

/// `spec.provider.vault`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultConfig {
    /// `https://vault.example:8200`.
    pub server: String,
    /// The KV mount (`secret`).
    #[serde(default)]
    pub path: Option<String>,
    /// `v1` or `v2` (default).
    #[serde(default)]
    pub version: Option<String>,
    /// A Vault Enterprise / OpenBao namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// PEM CA certificates, base64-encoded.
    #[serde(default)]
    pub ca_bundle: Option<String>,
    /// How to log in.
    #[serde(default)]
    pub auth: VaultAuth,
}

/// `spec.provider.vault.auth`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultAuth {
    /// A static token.
    #[serde(default)]
    pub token_secret_ref: Option<SecretKeySelector>,
    /// AppRole login.
    #[serde(default)]
    pub app_role: Option<AppRoleAuth>,
    /// Kubernetes login.
    #[serde(default)]
    pub kubernetes: Option<KubernetesAuth>,
    /// Methods keyward does not implement (named in the validation error).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `auth.appRole`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAuth {
    /// The mount of the AppRole method (`approle`).
    #[serde(default)]
    pub path: Option<String>,
    /// The role id, inline.
    #[serde(default)]
    pub role_id: Option<String>,
    /// The role id, from a Secret.
    #[serde(default)]
    pub role_ref: Option<SecretKeySelector>,
    /// The secret id.
    pub secret_ref: SecretKeySelector,
}

/// The audience ESO always requests for Vault's Kubernetes auth.
const VAULT_TOKEN_AUDIENCE: &str = "vault";
/// Where a pod's own service account token is mounted.
const MOUNTED_SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// `auth.kubernetes`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesAuth {
    /// The mount of the Kubernetes method (`kubernetes`).
    #[serde(default)]
    pub mount_path: Option<String>,
    /// The Vault role.
    pub role: String,
    /// A ServiceAccount whose token is requested (audiences `vault` plus those given); needs
    /// credentials that can issue tokens (a cluster).
    #[serde(default)]
    pub service_account_ref: Option<ServiceAccountSelector>,
    /// A Secret holding a service-account JWT.
    #[serde(default)]
    pub secret_ref: Option<SecretKeySelector>,
}

/// A Vault or OpenBao KV store.
#[derive(Debug)]
pub struct VaultProvider {
    store: StoreId,
    config: VaultConfig,
    v2: bool,
    namespace: String,
    credentials: Arc<dyn Credentials>,
    http: reqwest::Client,
    token: Mutex<Option<(SecretValue, Option<Instant>)>>,
}

impl VaultProvider {
    /// The JWT of `auth.kubernetes`, in ESO's order: a requested token for
    /// `serviceAccountRef`, the Secret of `secretRef`, or the pod's mounted token.
    async fn kubernetes_jwt(
        &self,
        kubernetes: &KubernetesAuth,
    ) -> Result<SecretValue, ProviderError> {
        if let Some(account) = &kubernetes.service_account_ref {
            let mut audiences = vec![VAULT_TOKEN_AUDIENCE.to_owned()];
            audiences.extend(account.audiences.iter().cloned());
            return self
                .credentials
                .service_account_token(account, &self.namespace, &audiences)
                .await;
        }
        if let Some(selector) = &kubernetes.secret_ref {
            return self.credentials.secret_key(selector, &self.namespace).await;
        }
        tokio::fs::read(MOUNTED_SERVICE_ACCOUNT_TOKEN)
            .await
            .map(SecretValue::from)
            .map_err(|e| {
                self.error(
                    ProviderErrorKind::Misconfigured,
                    None,
                    format!(
                        "auth.kubernetes has neither serviceAccountRef nor secretRef, and the mounted token {MOUNTED_SERVICE_ACCOUNT_TOKEN} cannot be read: {e}"
                    ),
                )
            })
    }

    /// Validates the configuration (no call is made).
    pub fn new(
        store: StoreId,
        config: VaultConfig,
        namespace: &str,
        credentials: Arc<dyn Credentials>,
    ) -> Result<Self, ProviderError> {
        let misconfigured = |message: String| {
            ProviderError::new(
                ProviderErrorKind::Misconfigured,
                store.as_str(),
                None,
                message,
            )
        };
        if config.server.is_empty() {
            return Err(misconfigured(
                "spec.provider.vault.server is required".into(),
            ));
        }
        let v2 = match config.version.as_deref() {
            None | Some("v2") => true,
            Some("v1") => false,
            Some(other) => {
                return Err(misconfigured(format!(
                    "spec.provider.vault.version '{other}' is not v1 or v2"
                )));
            }
        };
        let auth = &config.auth;
        let methods = usize::from(auth.token_secret_ref.is_some())
            + usize::from(auth.app_role.is_some())
            + usize::from(auth.kubernetes.is_some());
        if let Some(method) = auth.other.keys().next() {
            return Err(misconfigured(format!(
                "spec.provider.vault.auth.{method} is not supported by keyward (tokenSecretRef, appRole, kubernetes are)"
            )));
        }
        if methods != 1 {
            return Err(misconfigured(format!(
                "spec.provider.vault.auth needs exactly one method, found {methods}"
            )));
        }
        if auth
            .app_role
            .as_ref()
            .is_some_and(|a| a.role_id.is_none() && a.role_ref.is_none())
        {
            return Err(misconfigured(
                "spec.provider.vault.auth.appRole needs roleId or roleRef".into(),
            ));
        }
        let http = http_client(&config, &store)?;
        Ok(Self {
            store,
            v2,
            namespace: namespace.to_owned(),
            config,
            credentials,
            http,
            token: Mutex::new(None),
        })
    }

    /// The API path of `key`, as ESO builds it.
    fn data_path(&self, key: &str) -> String {
        let key = key.trim_start_matches('/');
        let Some(mount) = self.config.path.as_deref().filter(|p| !p.is_empty()) else {
            if self.v2 && !key.contains("/data/") {
                return match key.split_once('/') {
                    Some((mount, rest)) => format!("{mount}/data/{rest}"),
                    None => format!("{key}/data"),
                };
            }
            return key.to_owned();
        };
        let mut rest = key.strip_prefix(&format!("{mount}/")).unwrap_or(key);
        if self.v2 {
            rest = rest.strip_prefix("data/").unwrap_or(rest);
            format!("{mount}/data/{rest}")
        } else {
            format!("{mount}/{rest}")
        }
    }

    fn mount_and_rest<'k>(&'k self, key: &'k str) -> (&'k str, &'k str) {
        let key = key.trim_start_matches('/');
        match self.config.path.as_deref().filter(|p| !p.is_empty()) {
            Some(mount) => (mount, key.strip_prefix(&format!("{mount}/")).unwrap_or(key)),
            None => key.split_once('/').unwrap_or((key, "")),
        }
    }

    fn error(
        &self,
        kind: ProviderErrorKind,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ProviderError {
        ProviderError::new(kind, self.store.as_str(), key, message)
    }

    /// A valid token: the cached one, or a fresh login.
    async fn token(&self) -> Result<SecretValue, ProviderError> {
        let mut cached = self.token.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && expires.is_none_or(|at| Instant::now() + TOKEN_MARGIN < at)
        {
            return Ok(token.clone());
        }
        let (token, lease) = self.login().await?;
        let expires = lease.map(|lease| Instant::now() + lease);
        *cached = Some((token.clone(), expires));
        Ok(token)
    }

    async fn login(&self) -> Result<(SecretValue, Option<Duration>), ProviderError> {
        let auth = &self.config.auth;
        if let Some(selector) = &auth.token_secret_ref {
            return Ok((
                self.credentials
                    .secret_key(selector, &self.namespace)
                    .await?,
                None,
            ));
        }
        let (mount, body) = if let Some(app_role) = &auth.app_role {
            let role_id = match (&app_role.role_id, &app_role.role_ref) {
                (Some(inline), _) => inline.clone(),
                (None, Some(selector)) => text(
                    self.credentials
                        .secret_key(selector, &self.namespace)
                        .await?,
                ),
                (None, None) => String::new(),
            };
            let secret_id = text(
                self.credentials
                    .secret_key(&app_role.secret_ref, &self.namespace)
                    .await?,
            );
            let mount = app_role.path.clone().unwrap_or_else(|| "approle".into());
            (
                mount,
                serde_json::json!({ "role_id": role_id, "secret_id": secret_id }),
            )
        } else if let Some(kubernetes) = &auth.kubernetes {
            let jwt = text(self.kubernetes_jwt(kubernetes).await?);
            let mount = kubernetes
                .mount_path
                .clone()
                .unwrap_or_else(|| "kubernetes".into());
            (
                mount,
                serde_json::json!({ "role": kubernetes.role, "jwt": jwt }),
            )
        } else {
            return Err(self.error(ProviderErrorKind::Misconfigured, None, "no auth method"));
        };
        let url = format!("{}/v1/auth/{mount}/login", self.server());
        let sent = self.send(self.http.post(url).json(&body), None).await;
        let mut body = body;
        wipe_json(&mut body);
        let mut response = sent?;
        let token = response
            .pointer("/auth/client_token")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                self.error(
                    ProviderErrorKind::PermissionDenied,
                    None,
                    "login returned no token",
                )
            })?;
        let lease = response
            .pointer("/auth/lease_duration")
            .and_then(Value::as_u64)
            .filter(|&seconds| seconds > 0)
            .map(Duration::from_secs);
        let token = SecretValue::from(token);
        wipe_json(&mut response);
        Ok((token, lease))
    }

    fn server(&self) -> &str {
        self.config.server.trim_end_matches('/')
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        key: &str,
    ) -> Result<Value, ProviderError> {
        let text = self.get_text(path, query, key).await?;
        self.parse(text, Some(key))
    }

    /// A GET's body as Vault sent it (`None` for 204), so values keep their stored text.
    async fn get_text(
        &self,
        path: &str,
        query: &[(&str, String)],
        key: &str,
    ) -> Result<Option<Zeroizing<String>>, ProviderError> {
        let token = self.token().await?;
        let request = self
            .http
            .get(format!("{}/v1/{path}", self.server()))
            .query(query)
            .header("X-Vault-Token", token.expose_bytes());
        self.send_text(request, Some(key)).await
    }

    /// Sends a request and maps Vault's statuses to error kinds.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        key: Option<&str>,
    ) -> Result<Value, ProviderError> {
        let text = self.send_text(request, key).await?;
        self.parse(text, key)
    }

    fn parse(
        &self,
        text: Option<Zeroizing<String>>,
        key: Option<&str>,
    ) -> Result<Value, ProviderError> {
        match text {
            None => Ok(Value::Null),
            Some(text) => serde_json::from_str(&text).map_err(|_| {
                self.error(
                    ProviderErrorKind::InvalidData,
                    key,
                    "the response is not JSON",
                )
            }),
        }
    }

    /// Sends a request; a success's body as text (`None` for 204), else the error its status
    /// means.
    async fn send_text(
        &self,
        request: reqwest::RequestBuilder,
        key: Option<&str>,
    ) -> Result<Option<Zeroizing<String>>, ProviderError> {
        let request = match &self.config.namespace {
            Some(namespace) => request.header("X-Vault-Namespace", namespace),
            None => request,
        };
        let response = request.send().await.map_err(|e| {
            self.error(
                ProviderErrorKind::Unreachable,
                key,
                format!("{}: {}", self.server(), without_url(&e)),
            )
        })?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        if status == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if status.is_success() {
            // Bodies hold values and tokens: wiped when dropped.
            return response
                .text()
                .await
                .map(|t| Some(Zeroizing::new(t)))
                .map_err(|e| {
                    self.error(
                        ProviderErrorKind::Unreachable,
                        key,
                        format!("{}: {}", self.server(), without_url(&e)),
                    )
                });
        }
        let kind = match status.as_u16() {
            404 => ProviderErrorKind::NotFound,
            401 | 403 => ProviderErrorKind::PermissionDenied,
            429 => ProviderErrorKind::Throttled,
            400 => ProviderErrorKind::Misconfigured,
            _ => ProviderErrorKind::Unreachable,
        };
        // Vault's error texts name paths and policies, never values.
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let detail = body
            .get("errors")
            .and_then(Value::as_array)
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        Err(self
            .error(
                kind,
                key,
                format!(
                    "HTTP {status}{}",
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {detail}")
                    }
                ),
            )
            .with_retry_after(retry_after))
    }

    /// Sends a write (`POST`/`DELETE`) with the store token.
    async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        key: &str,
    ) -> Result<Value, ProviderError> {
        let token = self.token().await?;
        let mut request = self
            .http
            .request(method, format!("{}/v1/{path}", self.server()))
            .header("X-Vault-Token", token.expose_bytes());
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request, Some(key)).await
    }

    /// Whether `key` exists (`Some`) and is managed by keyward or ESO (its custom metadata
    /// `managed-by`). KV v1 has no metadata, so keyward does not write to it.
    async fn managed(&self, key: &str) -> Result<Option<bool>, ProviderError> {
        if !self.v2 {
            return Err(self.error(
                ProviderErrorKind::Unsupported,
                Some(key),
                "push and delete need KV v2 (v1 has no metadata to mark keyward's secrets)",
            ));
        }
        let (mount, rest) = self.mount_and_rest(key);
        match self
            .get(&format!("{mount}/metadata/{rest}"), &[], key)
            .await
        {
            Ok(body) => Ok(Some(matches!(
                body.pointer("/data/custom_metadata/managed-by")
                    .and_then(Value::as_str),
                Some("keyward" | "external-secrets")
            ))),
            Err(error) if error.kind == ProviderErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn refuse_unmanaged(&self, key: &str, what: &str) -> ProviderError {
        self.error(
            ProviderErrorKind::PermissionDenied,
            Some(key),
            format!("refusing to {what}: its custom metadata lacks managed-by=keyward (or external-secrets)"),
        )
    }

    /// Recursively lists keys under `prefix` (v2 metadata listing).
    async fn list_under(
        &self,
        mount: &str,
        prefix: &str,
        out: &mut Vec<String>,
    ) -> Result<(), ProviderError> {
        let mut pending = vec![prefix.trim_matches('/').to_owned()];
        while let Some(dir) = pending.pop() {
            let path = if dir.is_empty() {
                format!("{mount}/metadata/")
            } else {
                format!("{mount}/metadata/{dir}/")
            };
            let listed = match self.get(&path, &[("list", "true".into())], &dir).await {
                Ok(listed) => listed,
                Err(error) if error.kind == ProviderErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            };
            for entry in listed
                .pointer("/data/keys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = entry.as_str() else { continue };
                let full = if dir.is_empty() {
                    name.to_owned()
                } else {
                    format!("{dir}/{name}")
                };
                match full.strip_suffix('/') {
                    Some(subdir) => pending.push(subdir.to_owned()),
                    None => out.push(full),
                }
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Provider for VaultProvider {
    fn name(&self) -> &'static str {
        "vault"
    }

    fn store(&self) -> &StoreId {
        &self.store
    }

    async fn fetch(&self, key: &str, version: Option<&str>) -> Result<Fetched, ProviderError> {
        self.fetch_versioned(key, version)
            .await
            .map(|versioned| versioned.fetched)
    }

    /// KV v2 answers with the version it read (`data.metadata.version`); KV v1 has none.
    async fn fetch_versioned(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Versioned, ProviderError> {
        let query: Vec<(&str, String)> = match version.filter(|_| self.v2) {
            Some(version) => vec![("version", version.to_owned())],
            None => Vec::new(),
        };
        let body = self
            .get_text(&self.data_path(key), &query, key)
            .await?
            .unwrap_or_default();
        let json = RawJson::parse(&body).ok_or_else(|| {
            self.error(
                ProviderErrorKind::InvalidData,
                Some(key),
                "the response is not JSON",
            )
        })?;
        // The entry's own text, not a re-encoding: ESO reads its values from Vault's JSON as
        // stored (numbers keep their digits).
        let data = json.member("data").and_then(|data| {
            if self.v2 {
                data.member("data")
            } else {
                Some(data)
            }
        });
        let read_version = self
            .v2
            .then(|| json.member("data")?.member("metadata")?.member("version"))
            .flatten()
            .filter(|v| v.kind() == Kind::Number)
            .map(|v| v.text().to_owned());
        match data {
            Some(data) if data.kind() == Kind::Object => Ok(Versioned {
                fetched: Fetched::Document(SecretValue::from(data.text())),
                version: read_version,
            }),
            // A deleted or destroyed v2 version has `data: null`.
            _ => Err(self.error(
                ProviderErrorKind::NotFound,
                Some(key),
                "the version is deleted or holds no data",
            )),
        }
    }

    async fn fetch_metadata(&self, key: &str) -> Result<Fetched, ProviderError> {
        if !self.v2 {
            return Err(self.error(
                ProviderErrorKind::Unsupported,
                Some(key),
                "KV v1 has no metadata",
            ));
        }
        let (mount, rest) = self.mount_and_rest(key);
        let body = self
            .get(&format!("{mount}/metadata/{rest}"), &[], key)
            .await?;
        let custom = body
            .pointer("/data/custom_metadata")
            .and_then(Value::as_object);
        Ok(Fetched::Map(
            custom
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), value_text(v)))
                .collect(),
        ))
    }

    /// KV v2: the metadata endpoint (current version, each version's creation and deletion),
    /// no value read. KV v1 keeps no versions: the value is read and dropped.
    async fn describe(&self, key: &str, version: Option<&str>) -> Result<KeyInfo, ProviderError> {
        if !self.v2 {
            return self.fetch(key, version).await.map(|_| KeyInfo {
                read_value: true,
                ..KeyInfo::default()
            });
        }
        let (mount, rest) = self.mount_and_rest(key);
        let body = self
            .get(&format!("{mount}/metadata/{rest}"), &[], key)
            .await?;
        let wanted = match version.filter(|v| !v.is_empty()) {
            Some(version) => version.to_owned(),
            None => match body
                .pointer("/data/current_version")
                .and_then(Value::as_u64)
            {
                Some(current) if current > 0 => current.to_string(),
                _ => {
                    return Err(self.error(
                        ProviderErrorKind::NotFound,
                        Some(key),
                        "the secret has no current version",
                    ));
                }
            },
        };
        let entry = body
            .pointer("/data/versions")
            .and_then(|versions| versions.get(&wanted))
            .filter(|entry| {
                let deleted = entry
                    .get("deletion_time")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty());
                let destroyed = entry.get("destroyed").and_then(Value::as_bool) == Some(true);
                !deleted && !destroyed
            })
            .ok_or_else(|| {
                self.error(
                    ProviderErrorKind::NotFound,
                    Some(key),
                    format!("version {wanted} does not exist or is deleted"),
                )
            })?;
        Ok(KeyInfo {
            created: entry
                .get("created_time")
                .and_then(Value::as_str)
                .map(str::to_owned),
            version: Some(wanted),
            read_value: false,
        })
    }

    async fn list(&self, find: &ExternalSecretFind) -> Result<Vec<String>, ProviderError> {
        if !self.v2 {
            return Err(self.error(
                ProviderErrorKind::Unsupported,
                None,
                "dataFrom.find needs KV v2",
            ));
        }
        let matcher = crate::value::name_matcher(find, self.store().as_str())?;
        let (mount, prefix) = match self.config.path.as_deref().filter(|p| !p.is_empty()) {
            Some(mount) => (mount.to_owned(), find.path.clone().unwrap_or_default()),
            None => {
                let path = find.path.clone().unwrap_or_default();
                let (mount, rest) = path.split_once('/').unwrap_or((path.as_str(), ""));
                (mount.to_owned(), rest.to_owned())
            }
        };
        let mut keys = Vec::new();
        self.list_under(&mount, &prefix, &mut keys).await?;
        keys.retain(|key| matcher.as_ref().is_none_or(|m| m.is_match(key)));
        if !find.tags.is_empty() {
            let mut tagged = Vec::new();
            for key in keys {
                let Fetched::Map(metadata) = self.fetch_metadata(&key).await? else {
                    continue;
                };
                let all_match = find.tags.iter().all(|(tag, wanted)| {
                    metadata
                        .get(tag)
                        .is_some_and(|v| v.expose_bytes() == wanted.as_bytes())
                });
                if all_match {
                    tagged.push(key);
                }
            }
            keys = tagged;
        }
        keys.sort();
        Ok(keys)
    }

    /// Writes a JSON object value as the entry's data (anything else as `{"value": …}`) and
    /// marks a new entry `managed-by=keyward` in its custom metadata.
    async fn push(
        &self,
        key: &str,
        value: &SecretValue,
        _metadata: Option<&serde_json::Value>,
    ) -> Result<(), ProviderError> {
        let existing = self.managed(key).await?;
        if existing == Some(false) {
            return Err(self.refuse_unmanaged(key, "overwrite it"));
        }
        let data = match serde_json::from_slice::<Value>(value.expose_bytes()) {
            Ok(Value::Object(object)) => Value::Object(object),
            _ => serde_json::json!({ "value": String::from_utf8_lossy(value.expose_bytes()) }),
        };
        let body = serde_json::json!({ "data": data });
        self.write(reqwest::Method::POST, &self.data_path(key), Some(body), key)
            .await?;
        if existing.is_none() {
            let (mount, rest) = self.mount_and_rest(key);
            let metadata = serde_json::json!({"custom_metadata": {"managed-by": "keyward"}});
            self.write(
                reqwest::Method::POST,
                &format!("{mount}/metadata/{rest}"),
                Some(metadata),
                key,
            )
            .await?;
        }
        Ok(())
    }

    /// Deletes every version and the metadata of a managed entry.
    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        match self.managed(key).await? {
            None => Ok(()),
            Some(false) => Err(self.refuse_unmanaged(key, "delete it")),
            Some(true) => {
                let (mount, rest) = self.mount_and_rest(key);
                self.write(
                    reqwest::Method::DELETE,
                    &format!("{mount}/metadata/{rest}"),
                    None,
                    key,
                )
                .await
                .map(|_| ())
            }
        }
    }

    /// Adds `managed-by=keyward` to the key's custom metadata, keeping the other entries
    /// (Vault replaces `custom_metadata` whole on a metadata write).
    async fn adopt(&self, key: &str) -> Result<(), ProviderError> {
        if !self.v2 {
            return Err(self.error(
                ProviderErrorKind::Unsupported,
                Some(key),
                "taking over a key needs KV v2 (v1 has no metadata to mark keyward's secrets)",
            ));
        }
        let (mount, rest) = self.mount_and_rest(key);
        let path = format!("{mount}/metadata/{rest}");
        let body = self.get(&path, &[], key).await?;
        let mut custom = body
            .pointer("/data/custom_metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        custom.insert("managed-by".into(), Value::String("keyward".into()));
        let metadata = serde_json::json!({ "custom_metadata": custom });
        self.write(reqwest::Method::POST, &path, Some(metadata), key)
            .await
            .map(|_| ())
    }
}

fn http_client(config: &VaultConfig, store: &StoreId) -> Result<reqwest::Client, ProviderError> {
    let misconfigured = |message: String| {
        ProviderError::new(
            ProviderErrorKind::Misconfigured,
            store.as_str(),
            None,
            message,
        )
    };
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10));
    if let Some(bundle) = &config.ca_bundle {
        let pem = base64::engine::general_purpose::STANDARD
            .decode(bundle.trim())
            .map_err(|_| misconfigured("spec.provider.vault.caBundle is not base64".into()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| misconfigured(format!("spec.provider.vault.caBundle: {e}")))?;
        builder = builder.tls_certs_only(certificates);
    }
    builder
        .build()
        .map_err(|e| misconfigured(format!("HTTP client: {e}")))
}

/// A KV value as ESO serves it: strings as they are, anything else as JSON.
/// Wipes every string in a JSON value (a login body or answer holds credentials), before it is
/// dropped.
fn wipe_json(value: &mut Value) {
    match value {
        Value::String(text) => text.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe_json),
        Value::Object(map) => map.values_mut().for_each(wipe_json),
        _ => {}
    }
}

fn value_text(value: &Value) -> SecretValue {
    match value {
        Value::String(text) => SecretValue::from(text.as_str()),
        other => SecretValue::from(other.to_string()),
    }
}

fn text(value: SecretValue) -> String {
    String::from_utf8_lossy(value.expose_bytes()).into_owned()
}

/// reqwest errors print the URL with its query; keep the cause only.
fn without_url(error: &reqwest::Error) -> String {
    let mut message = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    if let Some(source) = std::error::Error::source(error) {
        message.push_str(&format!(" ({source})"));
    }
    message
}

/// `Retry-After` in seconds (the HTTP-date form is rare from secret stores and ignored).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StaticCredentials;

    fn provider(path: Option<&str>, version: &str) -> VaultProvider {
        let config = VaultConfig {
            server: "http://127.0.0.1:1".into(),
            path: path.map(str::to_owned),
            version: Some(version.into()),
            auth: VaultAuth {
                token_secret_ref: Some(SecretKeySelector::default()),
                ..VaultAuth::default()
            },
            ..VaultConfig::default()
        };
        VaultProvider::new(
            StoreId::cluster("s"),
            config,
            "ns",
            Arc::new(StaticCredentials::new()),
        )
        .expect("valid")
    }

    #[test]
    fn paths_are_built_as_eso_builds_them() {
        let v2 = provider(Some("secret"), "v2");
        assert_eq!(v2.data_path("app/db"), "secret/data/app/db");
        assert_eq!(v2.data_path("secret/app/db"), "secret/data/app/db");
        assert_eq!(v2.data_path("secret/data/app/db"), "secret/data/app/db");
        let v1 = provider(Some("kv"), "v1");
        assert_eq!(v1.data_path("app/db"), "kv/app/db");
        let no_mount = provider(None, "v2");
        assert_eq!(no_mount.data_path("secret/app/db"), "secret/data/app/db");
        assert_eq!(no_mount.data_path("secret/data/app"), "secret/data/app");
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let store = StoreId::namespaced("ns", "v");
        let credentials: Arc<dyn Credentials> = Arc::new(StaticCredentials::new());
        let parse = |json: Value| serde_json::from_value::<VaultConfig>(json).expect("shape");
        let cases = [
            (
                serde_json::json!({"server": "", "auth": {"tokenSecretRef": {"name": "t"}}}),
                "server is required",
            ),
            (
                serde_json::json!({"server": "http://x", "version": "v3", "auth": {"tokenSecretRef": {"name": "t"}}}),
                "'v3' is not v1 or v2",
            ),
            (
                serde_json::json!({"server": "http://x", "auth": {"ldap": {}}}),
                "auth.ldap is not supported",
            ),
            (
                serde_json::json!({"server": "http://x", "auth": {}}),
                "exactly one method, found 0",
            ),
            (
                serde_json::json!({"server": "http://x", "caBundle": "%%%", "auth": {"tokenSecretRef": {"name": "t"}}}),
                "caBundle is not base64",
            ),
        ];
        for (json, expected) in cases {
            let error =
                VaultProvider::new(store.clone(), parse(json), "ns", Arc::clone(&credentials))
                    .expect_err(expected);
            assert_eq!(error.kind, ProviderErrorKind::Misconfigured);
            assert!(error.to_string().contains(expected), "{error}");
        }
    }
}
