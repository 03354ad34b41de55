//! The `azurekv` provider: ESO's `spec.provider.azurekv` on the official
//! azure_security_keyvault_secrets, _keys and _certificates crates. Azure Key Vault is keyward's primary store.
//!
//! - **Auth** (`authType`): `ServicePrincipal` (default; `authSecretRef.clientId` with
//!   `clientSecret` or `clientCertificate` (PEM certificate and RSA key), and `tenantId`), `WorkloadIdentity` (`serviceAccountRef`: a token request
//!   for audience `api://AzureADTokenExchange`, client and tenant ids from the service account's
//!   `azure.workload.identity/client-id` and `/tenant-id` annotations; without it, the mounted
//!   `AZURE_FEDERATED_TOKEN_FILE` with `AZURE_CLIENT_ID` / `AZURE_TENANT_ID`) and
//!   `ManagedIdentity` (IMDS, optional `identityId`). See [`auth`].
//! - **One client per store and identity**, built on first use; its token is cached until
//!   shortly before expiry, so a refresh of many references costs one token request.
//! - **Keys**: `secret/NAME` or `NAME` reads a secret; `version` selects a version. `cert/NAME`
//!   reads a certificate's DER (`cer`), `key/NAME` a key's public JWK as JSON (ESO's values).
//! - **`metadataPolicy: Fetch`** returns the tags, plus (a documented keyward addition, unless
//!   a tag of that name exists) `attributes`: a JSON object of `enabled`, `created`, `updated`,
//!   `notBefore`, `expires` and `contentType`.
//! - **find** lists secrets (all pages), skips disabled ones, and matches the name regexp and
//!   all tags.
//! - **push / delete** only touch secrets tagged `managed-by=keyward` (or ESO's
//!   `managed-by=external-secrets`, so a migrated cluster keeps working); new secrets are
//!   tagged `managed-by=keyward`. Delete is Key Vault's soft delete; pushing to a name whose
//!   managed secret is soft-deleted recovers it first (Key Vault refuses the name until the
//!   purge), while a soft-deleted secret keyward does not manage is refused. **adopt**
//!   (`keyward rotate --force`) adds `managed-by=keyward` to the tags of the current version
//!   (Key Vault keeps tags per version; a push copies them onto the new one).
//!
//! Retries are switched off in the SDK: [`crate::Disciplined`] owns them (and honours
//! `Retry-After`). Errors carry the HTTP status and Key Vault's error code, never a body that
//! could hold a value.

pub mod auth;
pub mod certificate;
mod config;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use azure_core::http::headers::HeaderName;
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_security_keyvault_certificates::models::CertificateClientGetCertificateOptions;
use azure_security_keyvault_certificates::{CertificateClient, CertificateClientOptions};
use azure_security_keyvault_keys::models::KeyClientGetKeyOptions;
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
use azure_security_keyvault_secrets::models::{
    Secret, SecretAttributes, SecretClientGetSecretOptions,
    SecretClientUpdateSecretPropertiesOptions, SecretProperties, SetSecretParameters,
    UpdateSecretPropertiesParameters,
};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use futures::TryStreamExt;
use keyward_api::ExternalSecretFind;
use keyward_core::SecretValue;
use tokio::sync::OnceCell;

pub use config::{AzureKvConfig, AzureOptions, AzureSecretRef};

use self::auth::KvCredential;
use crate::{
    Credentials, Fetched, KeyInfo, Provider, ProviderError, ProviderErrorKind, StoreId, Versioned,
};

/// The tag keyward puts on secrets it creates.
pub const MANAGED_BY_KEYWARD: (&str, &str) = ("managed-by", "keyward");
/// The tag ESO puts on secrets it creates (accepted as managed, for migrations).
pub const MANAGED_BY_ESO: (&str, &str) = ("managed-by", "external-secrets");

/// An Azure Key Vault store.
pub struct AzureKvProvider {
    store: StoreId,
    config: AzureKvConfig,
    options: AzureOptions,
    namespace: String,
    credentials: Arc<dyn Credentials>,
    client: OnceCell<Clients>,
    /// Set once a call has taught the client the vault's auth challenge (see [`Self::primed`]).
    primed: std::sync::atomic::AtomicBool,
    priming: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for AzureKvProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureKvProvider")
            .field("store", &self.store)
            .field("vault_url", &self.config.vault_url)
            .field("client_built", &self.client.initialized())
            .finish_non_exhaustive()
    }
}

/// The store's one authenticated client set: the SDK's secret, key and certificate clients,
/// sharing one token source and one HTTP connection pool.
struct Clients {
    secrets: SecretClient,
    keys: KeyClient,
    certificates: CertificateClient,
}

/// How long a push waits, poll by poll, for a recovered soft-deleted secret to read again
/// (Key Vault documents recovery as asynchronous; about 30 s in all).
const RECOVERY_POLL: [std::time::Duration; 8] = {
    use std::time::Duration;
    [
        Duration::from_millis(100),
        Duration::from_millis(250),
        Duration::from_millis(500),
        Duration::from_secs(1),
        Duration::from_secs(2),
        Duration::from_secs(4),
        Duration::from_secs(8),
        Duration::from_secs(15),
    ]
};

/// The outcome of one attempt to write a secret.
enum Written {
    Done,
    /// Key Vault refused a new secret with 409 (the error): the name may be soft-deleted.
    SoftDeleted(ProviderError),
}

/// Which kind of Key Vault object a `remoteRef.key` names.
#[derive(Debug, PartialEq, Eq)]
enum Object<'a> {
    Secret(&'a str),
    Certificate(&'a str),
    Key(&'a str),
}

fn parse_key(key: &str) -> Object<'_> {
    if let Some(name) = key.strip_prefix("cert/") {
        Object::Certificate(name)
    } else if let Some(name) = key.strip_prefix("key/") {
        Object::Key(name)
    } else {
        Object::Secret(key.strip_prefix("secret/").unwrap_or(key))
    }
}

impl AzureKvProvider {
    /// Validates `config` (no call is made; the client is built on first use).
    pub fn new(
        store: StoreId,
        config: AzureKvConfig,
        namespace: &str,
        credentials: Arc<dyn Credentials>,
        options: AzureOptions,
    ) -> Result<Self, ProviderError> {
        config.validate(&store)?;
        Ok(Self {
            store,
            config,
            options,
            namespace: namespace.to_owned(),
            credentials,
            client: OnceCell::new(),
            primed: std::sync::atomic::AtomicBool::new(false),
            priming: tokio::sync::Mutex::new(()),
        })
    }

    async fn client(&self) -> Result<&SecretClient, ProviderError> {
        Ok(&self.clients().await?.secrets)
    }

    async fn clients(&self) -> Result<&Clients, ProviderError> {
        self.client.get_or_try_init(|| self.build_client()).await
    }

    async fn build_client(&self) -> Result<Clients, ProviderError> {
        let http = self.http_client()?;
        let grant = config::grant(
            &self.config,
            &self.options,
            &self.store,
            &self.namespace,
            self.credentials.as_ref(),
        )
        .await?;
        let authority = self
            .options
            .authority_host
            .clone()
            .unwrap_or_else(|| self.config.authority_host().to_owned());
        let credential = Arc::new(KvCredential::new(grant, &authority, http.clone()));
        // The three official clients share the transport (one connection pool) and the
        // credential (one token cache).
        let client_options = ClientOptions {
            transport: Some(Transport::new(Arc::new(http))),
            retry: RetryOptions::none(),
            ..ClientOptions::default()
        };
        let verify_challenge_resource = Some(!is_local(&self.config.vault_url));
        let url = &self.config.vault_url;
        let bad_url = |e: azure_core::Error| {
            self.misconfigured(&format!("spec.provider.azurekv.vaultUrl: {e}"))
        };
        let secrets = SecretClient::new(
            url,
            credential.clone(),
            Some(SecretClientOptions {
                client_options: client_options.clone(),
                verify_challenge_resource,
                ..SecretClientOptions::default()
            }),
        )
        .map_err(bad_url)?;
        let keys = KeyClient::new(
            url,
            credential.clone(),
            Some(KeyClientOptions {
                client_options: client_options.clone(),
                verify_challenge_resource,
                ..KeyClientOptions::default()
            }),
        )
        .map_err(bad_url)?;
        let certificates = CertificateClient::new(
            url,
            credential,
            Some(CertificateClientOptions {
                client_options,
                verify_challenge_resource,
                ..CertificateClientOptions::default()
            }),
        )
        .map_err(bad_url)?;
        Ok(Clients {
            secrets,
            keys,
            certificates,
        })
    }

    /// Reads a certificate (`cer`: its DER bytes) or a key (its public JWK as JSON), ESO's
    /// values for `cert/` and `key/`.
    async fn fetch_object(
        &self,
        key: &str,
        object: &Object<'_>,
        version: Option<&str>,
    ) -> Result<Fetched, ProviderError> {
        let clients = self.clients().await?;
        let version = version.filter(|v| !v.is_empty()).map(str::to_owned);
        let invalid = |what: &str| {
            ProviderError::new(
                ProviderErrorKind::InvalidData,
                self.store.as_str(),
                Some(key),
                format!("Key Vault's {what} answer lacks its value"),
            )
        };
        match object {
            Object::Certificate(name) => {
                let options = CertificateClientGetCertificateOptions {
                    certificate_version: version,
                    ..CertificateClientGetCertificateOptions::default()
                };
                let response = clients
                    .certificates
                    .get_certificate(name, Some(options))
                    .await
                    .map_err(|e| self.error(key, &e))?;
                let certificate = response.into_model().map_err(|e| self.error(key, &e))?;
                let der = certificate.cer.ok_or_else(|| invalid("certificate"))?;
                Ok(Fetched::Value(SecretValue::new(der)))
            }
            Object::Key(name) => {
                let options = KeyClientGetKeyOptions {
                    key_version: version,
                    ..KeyClientGetKeyOptions::default()
                };
                let response = clients
                    .keys
                    .get_key(name, Some(options))
                    .await
                    .map_err(|e| self.error(key, &e))?;
                let model = response.into_model().map_err(|e| self.error(key, &e))?;
                let jwk = model.key.ok_or_else(|| invalid("key"))?;
                let json = serde_json::to_string(&jwk).map_err(|_| invalid("key"))?;
                Ok(Fetched::Value(SecretValue::from(json)))
            }
            Object::Secret(_) => Err(invalid("secret")),
        }
    }

    fn http_client(&self) -> Result<reqwest::Client, ProviderError> {
        let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
        if let Some(pem) = &self.options.extra_ca_pem {
            let cas = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| self.misconfigured(&format!("CA certificates: {e}")))?;
            builder = builder.tls_certs_only(cas);
        }
        builder
            .build()
            .map_err(|e| self.misconfigured(&format!("HTTP client: {e}")))
    }

    fn misconfigured(&self, message: &str) -> ProviderError {
        ProviderError::new(
            ProviderErrorKind::Misconfigured,
            self.store.as_str(),
            None,
            message,
        )
    }

    fn secret_name<'a>(&self, key: &'a str, what: &str) -> Result<&'a str, ProviderError> {
        match parse_key(key) {
            Object::Secret("") => Err(ProviderError::new(
                ProviderErrorKind::Misconfigured,
                self.store.as_str(),
                Some(key),
                "the secret name is empty",
            )),
            Object::Secret(name) => Ok(name),
            Object::Certificate(_) | Object::Key(_) => Err(ProviderError::new(
                ProviderErrorKind::Unsupported,
                self.store.as_str(),
                Some(key),
                format!(
                    "{what} of cert/ and key/ objects is not served by keyward yet; use secret/"
                ),
            )),
        }
    }

    /// Runs `call`, letting only one call at a time through until one has completed. The SDK
    /// sends a client's first request without a token to learn the vault's challenge; without
    /// this, every concurrent first request would be challenged and answered twice.
    async fn primed<T, F, Fut>(&self, call: F) -> Result<T, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        use std::sync::atomic::Ordering;
        if self.primed.load(Ordering::Acquire) {
            return call().await;
        }
        let turn = self.priming.lock().await;
        if self.primed.load(Ordering::Acquire) {
            drop(turn);
            return call().await;
        }
        let result = call().await;
        let learned = match &result {
            Ok(_) => true,
            Err(error) => !matches!(
                error.kind,
                ProviderErrorKind::Unreachable
                    | ProviderErrorKind::PermissionDenied
                    | ProviderErrorKind::Misconfigured
            ),
        };
        if learned {
            self.primed.store(true, Ordering::Release);
        }
        result
    }

    /// Maps an SDK error onto a provider error naming store and key, never a value.
    fn error(&self, key: &str, error: &azure_core::Error) -> ProviderError {
        classify(self.store.as_str(), key, error)
    }

    async fn get(
        &self,
        key: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Secret, ProviderError> {
        let options = SecretClientGetSecretOptions {
            secret_version: version.filter(|v| !v.is_empty()).map(str::to_owned),
            ..SecretClientGetSecretOptions::default()
        };
        let client = self.client().await?;
        self.primed(|| async {
            let response = client
                .get_secret(name, Some(options))
                .await
                .map_err(|e| self.error(key, &e))?;
            response.into_model().map_err(|e| self.error(key, &e))
        })
        .await
    }

    /// The current secret, or `None` when it does not exist.
    async fn existing(&self, key: &str, name: &str) -> Result<Option<Secret>, ProviderError> {
        match self.get(key, name, None).await {
            Ok(secret) => Ok(Some(secret)),
            Err(error) if error.kind == ProviderErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// One attempt to write `value` to the secret `name`, keeping the tags of the secret it
    /// replaces. A new name that Key Vault refuses with 409 is reported as
    /// [`Written::SoftDeleted`]: a deleted secret of that name still waits for its purge.
    async fn write(
        &self,
        key: &str,
        name: &str,
        value: &SecretValue,
        metadata: Option<&serde_json::Value>,
    ) -> Result<Written, ProviderError> {
        let mut tags: HashMap<String, String> = HashMap::new();
        let existing = self.existing(key, name).await?;
        if let Some(existing) = existing.as_ref() {
            self.refuse_unmanaged(key, existing.tags.as_ref(), "overwrite it")?;
            if existing.value.as_deref().map(str::as_bytes) == Some(value.expose_bytes()) {
                return Ok(Written::Done);
            }
            tags = existing.tags.clone().unwrap_or_default();
        }
        tags.extend(metadata_tags(metadata));
        tags.entry(MANAGED_BY_KEYWARD.0.to_owned())
            .or_insert_with(|| MANAGED_BY_KEYWARD.1.to_owned());
        let text = value.expose_str().map_err(|_| {
            ProviderError::new(
                ProviderErrorKind::InvalidData,
                self.store.as_str(),
                Some(key),
                "Key Vault secrets hold text; the value is not UTF-8",
            )
        })?;
        let parameters = SetSecretParameters {
            value: Some(text.to_owned()),
            tags: Some(tags),
            ..SetSecretParameters::default()
        };
        let body = parameters
            .try_into()
            .map_err(|e: azure_core::Error| self.error(key, &e))?;
        match self.client().await?.set_secret(name, body, None).await {
            Ok(_) => Ok(Written::Done),
            Err(error) if existing.is_none() && http_status(&error) == Some(409) => {
                Ok(Written::SoftDeleted(self.error(key, &error)))
            }
            Err(error) => Err(self.error(key, &error)),
        }
    }

    /// Recovers the soft-deleted secret `name` when keyward (or ESO) manages it, and waits
    /// until it reads again: Key Vault recovers asynchronously. `conflict` is the refused
    /// write, returned when no deleted secret explains it (a deletion still in progress).
    async fn recover_managed(
        &self,
        key: &str,
        name: &str,
        conflict: ProviderError,
    ) -> Result<(), ProviderError> {
        let client = self.client().await?;
        let deleted = match client.get_deleted_secret(name, None).await {
            Ok(response) => response.into_model().map_err(|e| self.error(key, &e))?,
            Err(error) if http_status(&error) == Some(404) => return Err(conflict),
            Err(error) => return Err(self.error(key, &error)),
        };
        self.refuse_unmanaged(
            key,
            deleted.tags.as_ref(),
            "recover it (it is soft-deleted in Key Vault; recover or purge it there)",
        )?;
        client
            .recover_deleted_secret(name, None)
            .await
            .map_err(|e| self.error(key, &e))?;
        tracing::debug!(store = %self.store, key, "recovered a soft-deleted Azure Key Vault secret");
        for wait in RECOVERY_POLL {
            if self.existing(key, name).await?.is_some() {
                return Ok(());
            }
            tokio::time::sleep(wait).await;
        }
        Err(ProviderError::new(
            ProviderErrorKind::Unreachable,
            self.store.as_str(),
            Some(key),
            "Key Vault accepted the recovery of the soft-deleted secret, but it did not become readable in time",
        ))
    }

    fn refuse_unmanaged(
        &self,
        key: &str,
        tags: Option<&HashMap<String, String>>,
        what: &str,
    ) -> Result<(), ProviderError> {
        if is_managed(tags) {
            return Ok(());
        }
        Err(ProviderError::new(
            ProviderErrorKind::PermissionDenied,
            self.store.as_str(),
            Some(key),
            format!(
                "refusing to {what}: the secret is not tagged managed-by=keyward (or managed-by=external-secrets)"
            ),
        ))
    }
}

fn is_local(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', ':']).next().unwrap_or("");
    matches!(host, "localhost" | "127.0.0.1")
}

fn is_managed(tags: Option<&HashMap<String, String>>) -> bool {
    tags.and_then(|tags| tags.get(MANAGED_BY_KEYWARD.0))
        .is_some_and(|v| v == MANAGED_BY_KEYWARD.1 || v == MANAGED_BY_ESO.1)
}

fn classify(store: &str, key: &str, error: &azure_core::Error) -> ProviderError {
    use azure_core::error::ErrorKind as Azure;
    let key = (!key.is_empty()).then_some(key);
    match error.kind() {
        Azure::HttpResponse {
            status,
            error_code,
            raw_response,
        } => {
            let status = u16::from(*status);
            let kind = match status {
                404 => ProviderErrorKind::NotFound,
                401 | 403 => ProviderErrorKind::PermissionDenied,
                429 => ProviderErrorKind::Throttled,
                503 if retry_after(raw_response.as_deref()).is_some() => {
                    ProviderErrorKind::Throttled
                }
                400 => ProviderErrorKind::InvalidData,
                _ => ProviderErrorKind::Unreachable,
            };
            let code = error_code.as_deref().unwrap_or("no error code");
            ProviderError::new(
                kind,
                store,
                key,
                format!("Key Vault answered HTTP {status} ({code})"),
            )
            .with_retry_after(retry_after(raw_response.as_deref()))
        }
        Azure::Credential => ProviderError::new(
            ProviderErrorKind::PermissionDenied,
            store,
            key,
            format!("authentication failed: {error}"),
        ),
        Azure::Io | Azure::Connection => ProviderError::new(
            ProviderErrorKind::Unreachable,
            store,
            key,
            format!("Key Vault unreachable: {error}"),
        ),
        _ => ProviderError::new(
            ProviderErrorKind::InvalidData,
            store,
            key,
            format!("unexpected Key Vault response: {}", error.kind()),
        ),
    }
}

/// The HTTP status of a Key Vault answer the SDK turned into an error.
fn http_status(error: &azure_core::Error) -> Option<u16> {
    match error.kind() {
        azure_core::error::ErrorKind::HttpResponse { status, .. } => Some(u16::from(*status)),
        _ => None,
    }
}

fn retry_after(response: Option<&azure_core::http::RawResponse>) -> Option<std::time::Duration> {
    let value = response?
        .headers()
        .get_optional_str(&HeaderName::from_static("retry-after"))?;
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(std::time::Duration::from_secs)
}

fn attributes_json(
    attributes: Option<&SecretAttributes>,
    content_type: Option<&str>,
) -> serde_json::Value {
    let time = |t: Option<azure_core::time::OffsetDateTime>| t.map(|t| t.unix_timestamp());
    let a = attributes.cloned().unwrap_or_default();
    serde_json::json!({
        "enabled": a.enabled,
        "created": time(a.created),
        "updated": time(a.updated),
        "notBefore": time(a.not_before),
        "expires": time(a.expires),
        "contentType": content_type,
    })
}

/// The version at the end of a Key Vault id (`https://v/secrets/NAME/VERSION`).
fn version_from_id(id: &str) -> Option<&str> {
    let rest = id.split_once("/secrets/")?.1;
    rest.split('/').nth(1).filter(|version| !version.is_empty())
}

/// The secret name at the end of a Key Vault id (`https://v/secrets/NAME[/VERSION]`).
fn name_from_id(id: &str) -> Option<&str> {
    let rest = id.split_once("/secrets/")?.1;
    rest.split('/').next().filter(|name| !name.is_empty())
}

fn listed_name<'a>(
    item: &'a SecretProperties,
    find: &ExternalSecretFind,
    matcher: Option<&regex::Regex>,
) -> Option<&'a str> {
    if item.attributes.as_ref().and_then(|a| a.enabled) == Some(false) {
        return None;
    }
    let name = name_from_id(item.id.as_deref()?)?;
    let tags = item.tags.as_ref();
    let tags_match = find
        .tags
        .iter()
        .all(|(k, v)| tags.and_then(|t| t.get(k)) == Some(v));
    (tags_match && matcher.is_none_or(|m| m.is_match(name))).then_some(name)
}

#[async_trait::async_trait]
impl Provider for AzureKvProvider {
    fn name(&self) -> &'static str {
        "azurekv"
    }

    fn store(&self) -> &StoreId {
        &self.store
    }

    async fn fetch(&self, key: &str, version: Option<&str>) -> Result<Fetched, ProviderError> {
        self.fetch_versioned(key, version)
            .await
            .map(|versioned| versioned.fetched)
    }

    /// A secret names its version in its id; certificates and keys are read without one.
    async fn fetch_versioned(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Versioned, ProviderError> {
        let object = parse_key(key);
        if !matches!(object, Object::Secret(_)) {
            let version = version.filter(|v| !v.is_empty());
            return self
                .primed(|| self.fetch_object(key, &object, version))
                .await
                .map(|fetched| Versioned {
                    fetched,
                    version: None,
                });
        }
        let name = self.secret_name(key, "reading")?;
        let secret = self.get(key, name, version).await?;
        tracing::trace!(store = %self.store, key, "read an Azure Key Vault secret");
        let read_version = secret
            .id
            .as_deref()
            .and_then(version_from_id)
            .map(str::to_owned);
        secret
            .value
            .map(|v| Versioned {
                fetched: Fetched::Value(SecretValue::from(v)),
                version: read_version,
            })
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::InvalidData,
                    self.store.as_str(),
                    Some(key),
                    "Key Vault returned a secret without a value",
                )
            })
    }

    async fn fetch_metadata(&self, key: &str) -> Result<Fetched, ProviderError> {
        let name = self.secret_name(key, "metadata")?;
        let secret = self.get(key, name, None).await?;
        let mut map: BTreeMap<String, SecretValue> = secret
            .tags
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, SecretValue::from(v)))
            .collect();
        map.entry("attributes".to_owned()).or_insert_with(|| {
            SecretValue::from(
                attributes_json(secret.attributes.as_ref(), secret.content_type.as_deref())
                    .to_string(),
            )
        });
        Ok(Fetched::Map(map))
    }

    /// A secret's versions, listed without values: the one asked for, or the newest enabled
    /// one (Key Vault's current version). Certificates and keys are read whole (the default).
    async fn describe(&self, key: &str, version: Option<&str>) -> Result<KeyInfo, ProviderError> {
        if !matches!(parse_key(key), Object::Secret(_)) {
            return self.fetch(key, version).await.map(|_| KeyInfo {
                version: version.filter(|v| !v.is_empty()).map(str::to_owned),
                created: None,
                read_value: true,
            });
        }
        let name = self.secret_name(key, "describing")?;
        let client = self.client().await?;
        let mut pager = self
            .primed(|| async {
                client
                    .list_secret_properties_versions(name, None)
                    .map_err(|e| self.error(key, &e))
            })
            .await?;
        let wanted = version.filter(|v| !v.is_empty());
        let mut best: Option<(String, Option<azure_core::time::OffsetDateTime>)> = None;
        // Key Vault dates versions to the second: two made in one second cannot be told apart
        // from the list, and then the current one is asked for (its value read and dropped).
        let mut tied = false;
        while let Some(item) = pager.try_next().await.map_err(|e| self.error(key, &e))? {
            let attributes = item.attributes.as_ref();
            let Some(id) = item.id.as_deref().and_then(version_from_id) else {
                continue;
            };
            let created = attributes.and_then(|a| a.created);
            let enabled = attributes.and_then(|a| a.enabled) != Some(false);
            let pick = match wanted {
                Some(wanted) => id == wanted,
                None if !enabled => false,
                None => {
                    let newest = best.as_ref().map(|(_, at)| *at);
                    tied = match newest {
                        Some(at) if created == at => true,
                        Some(at) if created < at => tied,
                        _ => false,
                    };
                    newest.is_none_or(|at| created > at)
                }
            };
            if pick {
                best = Some((id.to_owned(), created));
            }
        }
        if tied {
            let current = self.get(key, name, None).await?;
            let id = current
                .id
                .as_deref()
                .and_then(version_from_id)
                .map(str::to_owned);
            let created = current.attributes.as_ref().and_then(|a| a.created);
            return Ok(KeyInfo {
                version: id,
                created: created.map(|t| azure_core::time::to_rfc3339(&t)),
                read_value: true,
            });
        }
        let Some((id, created)) = best else {
            return Err(ProviderError::new(
                ProviderErrorKind::NotFound,
                self.store.as_str(),
                Some(key),
                match wanted {
                    Some(_) => "no such version of the secret",
                    None => "the secret has no enabled version",
                },
            ));
        };
        Ok(KeyInfo {
            version: Some(id),
            created: created.map(|t| azure_core::time::to_rfc3339(&t)),
            read_value: false,
        })
    }

    async fn list(&self, find: &ExternalSecretFind) -> Result<Vec<String>, ProviderError> {
        let matcher = crate::value::name_matcher(find, self.store.as_str())?;
        let client = self.client().await?;
        let mut pager = client
            .list_secret_properties(None)
            .map_err(|e| self.error("", &e))?;
        let mut names = Vec::new();
        while let Some(item) = pager.try_next().await.map_err(|e| self.error("", &e))? {
            if let Some(name) = listed_name(&item, find, matcher.as_ref()) {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    async fn push(
        &self,
        key: &str,
        value: &SecretValue,
        metadata: Option<&serde_json::Value>,
    ) -> Result<(), ProviderError> {
        let name = self.secret_name(key, "pushing")?;
        match self.write(key, name, value, metadata).await? {
            Written::Done => Ok(()),
            Written::SoftDeleted(conflict) => {
                self.recover_managed(key, name, conflict).await?;
                match self.write(key, name, value, metadata).await? {
                    Written::Done => Ok(()),
                    Written::SoftDeleted(conflict) => Err(conflict),
                }
            }
        }
    }

    /// Tags the current version `managed-by=keyward` (replacing another `managed-by` value),
    /// keeping its other tags.
    async fn adopt(&self, key: &str) -> Result<(), ProviderError> {
        let name = self.secret_name(key, "taking over")?;
        let existing = self.existing(key, name).await?.ok_or_else(|| {
            ProviderError::new(
                ProviderErrorKind::NotFound,
                self.store.as_str(),
                Some(key),
                "the secret does not exist",
            )
        })?;
        let version = existing
            .id
            .as_deref()
            .and_then(|id| id.rsplit('/').next())
            .map(str::to_owned);
        let mut tags = existing.tags.clone().unwrap_or_default();
        tags.insert(
            MANAGED_BY_KEYWARD.0.to_owned(),
            MANAGED_BY_KEYWARD.1.to_owned(),
        );
        let parameters = UpdateSecretPropertiesParameters {
            tags: Some(tags),
            ..UpdateSecretPropertiesParameters::default()
        };
        let body = parameters
            .try_into()
            .map_err(|e: azure_core::Error| self.error(key, &e))?;
        let options = SecretClientUpdateSecretPropertiesOptions {
            secret_version: version,
            ..SecretClientUpdateSecretPropertiesOptions::default()
        };
        self.client()
            .await?
            .update_secret_properties(name, body, Some(options))
            .await
            .map_err(|e| self.error(key, &e))?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        let name = self.secret_name(key, "deleting")?;
        let Some(existing) = self.existing(key, name).await? else {
            return Ok(());
        };
        self.refuse_unmanaged(key, existing.tags.as_ref(), "delete it")?;
        self.client()
            .await?
            .delete_secret(name, None)
            .await
            .map_err(|e| self.error(key, &e))?;
        Ok(())
    }
}

/// `metadata.tags` of a push (PushSecret's provider metadata), as strings.
fn metadata_tags(metadata: Option<&serde_json::Value>) -> Vec<(String, String)> {
    metadata
        .and_then(|m| m.get("tags"))
        .and_then(serde_json::Value::as_object)
        .map(|tags| {
            tags.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_object_kind() {
        assert_eq!(parse_key("db"), Object::Secret("db"));
        assert_eq!(parse_key("secret/db"), Object::Secret("db"));
        assert_eq!(parse_key("cert/web"), Object::Certificate("web"));
        assert_eq!(parse_key("key/sign"), Object::Key("sign"));
    }

    #[test]
    fn names_come_from_ids() {
        assert_eq!(
            name_from_id("https://v.vault.azure.net/secrets/db"),
            Some("db")
        );
        assert_eq!(
            name_from_id("https://v.vault.azure.net/secrets/db/0123"),
            Some("db")
        );
        assert_eq!(name_from_id("https://v.vault.azure.net/keys/db"), None);
    }

    #[test]
    fn local_hosts_are_recognised() {
        assert!(is_local("https://localhost:8443"));
        assert!(is_local("https://127.0.0.1:8443/"));
        assert!(!is_local("https://keyward.vault.azure.net"));
    }
}
