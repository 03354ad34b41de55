//! `spec.provider.azurekv` as ESO spells it, its validation, and the token grant it implies.

use keyward_api::{SecretKeySelector, ServiceAccountSelector};
use serde::Deserialize;

use super::auth::{Assertion, Grant};
use super::certificate::ClientCertificate;
use crate::{Credentials, ProviderError, ProviderErrorKind, StoreId};

/// The audience of a workload identity's federated token.
pub const WORKLOAD_IDENTITY_AUDIENCE: &str = "api://AzureADTokenExchange";
const CLIENT_ID_ANNOTATION: &str = "azure.workload.identity/client-id";
const TENANT_ID_ANNOTATION: &str = "azure.workload.identity/tenant-id";
const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
const IMDS: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// `spec.provider.azurekv`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzureKvConfig {
    /// `https://NAME.vault.azure.net`.
    #[serde(default)]
    pub vault_url: String,
    /// `ServicePrincipal` (default), `ManagedIdentity` or `WorkloadIdentity`.
    #[serde(default)]
    pub auth_type: Option<String>,
    /// The directory (tenant) id.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// `PublicCloud` (default), `USGovernmentCloud`, `ChinaCloud` or `GermanCloud`.
    #[serde(default)]
    pub environment_type: Option<String>,
    /// Client id and secret (ServicePrincipal; optional ids for WorkloadIdentity).
    #[serde(default)]
    pub auth_secret_ref: Option<AzureSecretRef>,
    /// The ServiceAccount whose token is exchanged (WorkloadIdentity).
    #[serde(default)]
    pub service_account_ref: Option<ServiceAccountSelector>,
    /// A user-assigned managed identity: client id or resource id.
    #[serde(default)]
    pub identity_id: Option<String>,
}

/// `spec.provider.azurekv.authSecretRef`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzureSecretRef {
    /// The application (client) id.
    #[serde(default)]
    pub client_id: Option<SecretKeySelector>,
    /// The client secret.
    #[serde(default)]
    pub client_secret: Option<SecretKeySelector>,
    /// A PEM client certificate with its key.
    #[serde(default)]
    pub client_certificate: Option<SecretKeySelector>,
    /// The tenant id (WorkloadIdentity).
    #[serde(default)]
    pub tenant_id: Option<SecretKeySelector>,
}

/// Where keyward reaches Entra ID and IMDS, and which CA it trusts besides none: set by tests
/// (a local server) and by [`AzureOptions::from_env`].
#[derive(Clone, Debug, Default)]
pub struct AzureOptions {
    /// Overrides the environment's authority host (`AZURE_AUTHORITY_HOST`).
    pub authority_host: Option<String>,
    /// Overrides the IMDS token endpoint.
    pub imds_endpoint: Option<String>,
    /// Trust only this CA (PEM) for the vault and token endpoints (tests).
    pub extra_ca_pem: Option<String>,
    /// The mounted federated token file (default: `AZURE_FEDERATED_TOKEN_FILE`).
    pub federated_token_file: Option<std::path::PathBuf>,
}

impl AzureOptions {
    /// What the Azure SDKs read from the environment: `AZURE_AUTHORITY_HOST` (Entra ID), and
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` (the host serving the managed identity endpoint
    /// `/metadata/identity/oauth2/token` instead of 169.254.169.254).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            authority_host: var("AZURE_AUTHORITY_HOST"),
            imds_endpoint: var("AZURE_POD_IDENTITY_AUTHORITY_HOST")
                .map(|host| format!("{}{IMDS_PATH}", host.trim().trim_end_matches('/'))),
            ..Self::default()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthType {
    ServicePrincipal,
    ManagedIdentity,
    WorkloadIdentity,
}

impl AzureKvConfig {
    fn auth(&self) -> Option<AuthType> {
        match self.auth_type.as_deref().unwrap_or("ServicePrincipal") {
            "ServicePrincipal" => Some(AuthType::ServicePrincipal),
            "ManagedIdentity" => Some(AuthType::ManagedIdentity),
            "WorkloadIdentity" => Some(AuthType::WorkloadIdentity),
            _ => None,
        }
    }

    /// The Entra ID authority host of `environmentType`.
    pub fn authority_host(&self) -> &'static str {
        match self.environment_type.as_deref() {
            Some("USGovernmentCloud") => "https://login.microsoftonline.us",
            Some("ChinaCloud") => "https://login.chinacloudapi.cn",
            Some("GermanCloud") => "https://login.microsoftonline.de",
            _ => "https://login.microsoftonline.com",
        }
    }

    /// The Key Vault resource of `environmentType` (token scopes outside the SDK client).
    pub fn vault_resource(&self) -> &'static str {
        match self.environment_type.as_deref() {
            Some("USGovernmentCloud") => "vault.usgovcloudapi.net",
            Some("ChinaCloud") => "vault.azure.cn",
            Some("GermanCloud") => "vault.microsoftazure.de",
            _ => "vault.azure.net",
        }
    }

    /// Every check that needs no call.
    pub fn validate(&self, store: &StoreId) -> Result<(), ProviderError> {
        let fail = |message: &str| {
            Err(ProviderError::new(
                ProviderErrorKind::Misconfigured,
                store.as_str(),
                None,
                message,
            ))
        };
        if !self.vault_url.starts_with("https://") {
            return fail("spec.provider.azurekv.vaultUrl is required and must be an https:// URL");
        }
        match self.environment_type.as_deref() {
            None | Some("PublicCloud" | "USGovernmentCloud" | "ChinaCloud" | "GermanCloud") => {}
            Some("AzureStackCloud") => {
                return fail(
                    "spec.provider.azurekv.environmentType AzureStackCloud needs a custom cloud configuration, which keyward does not read yet",
                );
            }
            Some(_) => {
                return fail(
                    "spec.provider.azurekv.environmentType must be PublicCloud, USGovernmentCloud, ChinaCloud or GermanCloud",
                );
            }
        }
        match self.auth() {
            None => fail(
                "spec.provider.azurekv.authType must be ServicePrincipal, ManagedIdentity or WorkloadIdentity",
            ),
            Some(AuthType::ServicePrincipal) => self.validate_service_principal(store),
            Some(AuthType::ManagedIdentity) => Ok(()),
            Some(AuthType::WorkloadIdentity) => Ok(()),
        }
    }

    fn validate_service_principal(&self, store: &StoreId) -> Result<(), ProviderError> {
        let fail = |message: &str| {
            Err(ProviderError::new(
                ProviderErrorKind::Misconfigured,
                store.as_str(),
                None,
                message,
            ))
        };
        if self.tenant_id.as_deref().is_none_or(str::is_empty) {
            return fail(
                "spec.provider.azurekv.tenantId is required for authType ServicePrincipal",
            );
        }
        let Some(reference) = &self.auth_secret_ref else {
            return fail(
                "spec.provider.azurekv.authSecretRef is required for authType ServicePrincipal",
            );
        };
        if reference.client_id.is_none() {
            return fail("spec.provider.azurekv.authSecretRef.clientId is required");
        }
        match (&reference.client_secret, &reference.client_certificate) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            (Some(_), Some(_)) => fail(
                "spec.provider.azurekv.authSecretRef: set clientSecret or clientCertificate, not both",
            ),
            (None, None) => {
                fail("spec.provider.azurekv.authSecretRef needs clientSecret or clientCertificate")
            }
        }
    }
}

/// Resolves the credentials `config` refers to into a token grant (the first call of a store).
pub(super) async fn grant(
    config: &AzureKvConfig,
    options: &AzureOptions,
    store: &StoreId,
    namespace: &str,
    credentials: &dyn Credentials,
) -> Result<Grant, ProviderError> {
    match config.auth() {
        Some(AuthType::ManagedIdentity) => Ok(Grant::ManagedIdentity {
            endpoint: options
                .imds_endpoint
                .clone()
                .unwrap_or_else(|| IMDS.to_owned()),
            identity: config.identity_id.clone().filter(|id| !id.is_empty()),
        }),
        Some(AuthType::WorkloadIdentity) => {
            workload_identity(config, options, store, namespace, credentials).await
        }
        _ => service_principal(config, store, namespace, credentials).await,
    }
}

async fn text(
    credentials: &dyn Credentials,
    selector: &SecretKeySelector,
    namespace: &str,
    store: &StoreId,
) -> Result<String, ProviderError> {
    let value = credentials.secret_key(selector, namespace).await?;
    value
        .expose_str()
        .map(|s| s.trim().to_owned())
        .map_err(|_| {
            ProviderError::new(
                ProviderErrorKind::Misconfigured,
                store.as_str(),
                None,
                format!(
                    "credential {}[{}] is not UTF-8",
                    selector.name,
                    selector.key.as_deref().unwrap_or("")
                ),
            )
        })
}

async fn service_principal(
    config: &AzureKvConfig,
    store: &StoreId,
    namespace: &str,
    credentials: &dyn Credentials,
) -> Result<Grant, ProviderError> {
    let missing = || {
        ProviderError::new(
            ProviderErrorKind::Misconfigured,
            store.as_str(),
            None,
            "spec.provider.azurekv.authSecretRef needs clientId and clientSecret or clientCertificate",
        )
    };
    let reference = config.auth_secret_ref.as_ref().ok_or_else(missing)?;
    let client_id = text(
        credentials,
        reference.client_id.as_ref().ok_or_else(missing)?,
        namespace,
        store,
    )
    .await?;
    let tenant = config.tenant_id.clone().unwrap_or_default();
    if let Some(selector) = &reference.client_certificate {
        let pem = credentials.secret_key(selector, namespace).await?;
        let certificate = ClientCertificate::from_pem(pem.expose_bytes()).map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::Misconfigured,
                store.as_str(),
                None,
                format!(
                    "spec.provider.azurekv.authSecretRef.clientCertificate ({}[{}]): {e}",
                    selector.name,
                    selector.key.as_deref().unwrap_or("")
                ),
            )
        })?;
        return Ok(Grant::ClientCertificate {
            tenant,
            client_id,
            certificate,
        });
    }
    let secret_ref = reference.client_secret.as_ref().ok_or_else(missing)?;
    let secret = credentials.secret_key(secret_ref, namespace).await?;
    Ok(Grant::ClientSecret {
        tenant,
        client_id,
        secret,
    })
}

async fn workload_identity(
    config: &AzureKvConfig,
    options: &AzureOptions,
    store: &StoreId,
    namespace: &str,
    credentials: &dyn Credentials,
) -> Result<Grant, ProviderError> {
    let misconfigured =
        |m: &str| ProviderError::new(ProviderErrorKind::Misconfigured, store.as_str(), None, m);
    let from_ref = |pick: fn(&AzureSecretRef) -> Option<&SecretKeySelector>| {
        config.auth_secret_ref.as_ref().and_then(pick).cloned()
    };
    let mut client_id = match from_ref(|r| r.client_id.as_ref()) {
        Some(selector) => Some(text(credentials, &selector, namespace, store).await?),
        None => None,
    };
    let mut tenant = match from_ref(|r| r.tenant_id.as_ref()) {
        Some(selector) => Some(text(credentials, &selector, namespace, store).await?),
        None => config.tenant_id.clone(),
    };
    let assertion = match &config.service_account_ref {
        Some(account) => {
            let annotations = credentials
                .service_account_annotations(account, namespace)
                .await?;
            client_id = client_id.or_else(|| annotations.get(CLIENT_ID_ANNOTATION).cloned());
            tenant = tenant.or_else(|| annotations.get(TENANT_ID_ANNOTATION).cloned());
            let token = credentials
                .service_account_token(account, namespace, &[WORKLOAD_IDENTITY_AUDIENCE.to_owned()])
                .await?;
            Assertion::Token(token)
        }
        None => {
            client_id = client_id.or_else(|| std::env::var("AZURE_CLIENT_ID").ok());
            tenant = tenant.or_else(|| std::env::var("AZURE_TENANT_ID").ok());
            let file = match &options.federated_token_file {
                Some(path) => path.clone(),
                None => std::env::var("AZURE_FEDERATED_TOKEN_FILE").map(Into::into).map_err(|_| misconfigured("WorkloadIdentity needs serviceAccountRef or a mounted token (AZURE_FEDERATED_TOKEN_FILE)"))?,
            };
            Assertion::File(file)
        }
    };
    Ok(Grant::ClientAssertion {
        tenant: tenant.filter(|t| !t.is_empty()).ok_or_else(|| misconfigured("WorkloadIdentity: no tenant id (tenantId, authSecretRef.tenantId, the azure.workload.identity/tenant-id annotation or AZURE_TENANT_ID)"))?,
        client_id: client_id.filter(|c| !c.is_empty()).ok_or_else(|| misconfigured("WorkloadIdentity: no client id (authSecretRef.clientId, the azure.workload.identity/client-id annotation or AZURE_CLIENT_ID)"))?,
        assertion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_moves_the_authority_and_the_identity_endpoint() {
        let options = AzureOptions::from_lookup(|name| match name {
            "AZURE_AUTHORITY_HOST" => Some("https://login.example".to_owned()),
            "AZURE_POD_IDENTITY_AUTHORITY_HOST" => Some("http://127.0.0.1:8080/".to_owned()),
            _ => None,
        });
        assert_eq!(
            options.authority_host.as_deref(),
            Some("https://login.example")
        );
        assert_eq!(
            options.imds_endpoint.as_deref(),
            Some("http://127.0.0.1:8080/metadata/identity/oauth2/token")
        );
        let unset = AzureOptions::from_lookup(|_| Some(" ".to_owned()));
        assert_eq!(unset.authority_host, None);
        assert_eq!(unset.imds_endpoint, None);
    }
}
