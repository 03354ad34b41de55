//! [`LowkeyClients`]: the official Azure Key Vault clients pointed at a [`LowkeyVault`], so
//! tests seed and inspect the vault through the same SDK a Key Vault user would, not through
//! the code under test.

use std::collections::HashMap;
use std::sync::Arc;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_core::time::{Duration, OffsetDateTime};
use azure_security_keyvault_certificates::models::{
    CertificatePolicy, CreateCertificateParameters, IssuerParameters, KeyProperties,
    SecretProperties, X509CertificateProperties,
};
use azure_security_keyvault_certificates::{CertificateClient, CertificateClientOptions};
use azure_security_keyvault_keys::models::{CreateKeyParameters, KeyType};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
use azure_security_keyvault_secrets::models::{
    DeletedSecret, Secret, SecretAttributes, SecretClientGetSecretOptions, SetSecretParameters,
};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};

use crate::{HarnessError, LowkeyVault};

const PEER: &str = "lowkey-vault";

/// lowkey-vault accepts any bearer token; this credential hands one out without a call.
#[derive(Debug)]
struct AnyToken;

#[async_trait::async_trait]
impl TokenCredential for AnyToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            "lowkey-vault-accepts-any-token",
            OffsetDateTime::now_utc() + Duration::hours(1),
        ))
    }
}

/// The SDK's secret, key and certificate clients for one lowkey-vault, trusting its CA,
/// without retries, with the challenge resource check off (the vault is on localhost).
pub struct LowkeyClients {
    /// Secrets.
    pub secrets: SecretClient,
    /// Keys.
    pub keys: KeyClient,
    /// Certificates.
    pub certificates: CertificateClient,
}

impl std::fmt::Debug for LowkeyClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LowkeyClients").finish_non_exhaustive()
    }
}

fn fail(what: &str, error: impl std::fmt::Display) -> HarnessError {
    HarnessError::call(PEER, format!("{what}: {error}"))
}

impl LowkeyClients {
    /// Clients for `vault`.
    pub fn new(vault: &LowkeyVault) -> Result<Self, HarnessError> {
        let ca = reqwest::Certificate::from_pem(vault.ca_pem().as_bytes())
            .map_err(|e| HarnessError::prepare(PEER, format!("CA certificate: {e}")))?;
        let http = reqwest::Client::builder()
            .tls_certs_only([ca])
            .no_proxy()
            .build()
            .map_err(|e| HarnessError::prepare(PEER, format!("HTTP client: {e}")))?;
        let client_options = ClientOptions {
            transport: Some(Transport::new(Arc::new(http))),
            retry: RetryOptions::none(),
            ..ClientOptions::default()
        };
        let credential: Arc<dyn TokenCredential> = Arc::new(AnyToken);
        let url = vault.vault_url();
        let secrets = SecretClient::new(
            url,
            credential.clone(),
            Some(SecretClientOptions {
                client_options: client_options.clone(),
                verify_challenge_resource: Some(false),
                ..SecretClientOptions::default()
            }),
        )
        .map_err(|e| fail("secret client", e))?;
        let keys = KeyClient::new(
            url,
            credential.clone(),
            Some(KeyClientOptions {
                client_options: client_options.clone(),
                verify_challenge_resource: Some(false),
                ..KeyClientOptions::default()
            }),
        )
        .map_err(|e| fail("key client", e))?;
        let certificates = CertificateClient::new(
            url,
            credential,
            Some(CertificateClientOptions {
                client_options,
                verify_challenge_resource: Some(false),
                ..CertificateClientOptions::default()
            }),
        )
        .map_err(|e| fail("certificate client", e))?;
        Ok(Self {
            secrets,
            keys,
            certificates,
        })
    }

    /// Sets a new version of the secret `name`; returns its version id.
    pub async fn put_secret(
        &self,
        name: &str,
        value: &str,
        tags: &[(&str, &str)],
        content_type: Option<&str>,
    ) -> Result<String, HarnessError> {
        let parameters = SetSecretParameters {
            value: Some(value.to_owned()),
            tags: Some(
                tags.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<HashMap<_, _>>(),
            ),
            content_type: content_type.map(str::to_owned),
            ..SetSecretParameters::default()
        };
        let body = parameters
            .try_into()
            .map_err(|e: azure_core::Error| fail("secret body", e))?;
        let secret = self
            .secrets
            .set_secret(name, body, None)
            .await
            .map_err(|e| fail(&format!("set secret {name}"), e))?
            .into_model()
            .map_err(|e| fail(&format!("set secret {name}"), e))?;
        secret
            .id
            .as_deref()
            .and_then(|id| id.rsplit('/').next())
            .map(str::to_owned)
            .ok_or_else(|| fail(&format!("set secret {name}"), "no version in the answer"))
    }

    /// Disables the current version of the secret `name`.
    pub async fn disable_secret(&self, name: &str) -> Result<(), HarnessError> {
        let version = self
            .secret(name)
            .await?
            .and_then(|s| s.id)
            .and_then(|id| id.rsplit('/').next().map(str::to_owned))
            .ok_or_else(|| fail(&format!("disable {name}"), "no current version"))?;
        let parameters =
            azure_security_keyvault_secrets::models::UpdateSecretPropertiesParameters {
                secret_attributes: Some(SecretAttributes {
                    enabled: Some(false),
                    ..SecretAttributes::default()
                }),
                ..Default::default()
            };
        let body = parameters
            .try_into()
            .map_err(|e: azure_core::Error| fail("update body", e))?;
        let options =
            azure_security_keyvault_secrets::models::SecretClientUpdateSecretPropertiesOptions {
                secret_version: Some(version),
                ..Default::default()
            };
        self.secrets
            .update_secret_properties(name, body, Some(options))
            .await
            .map_err(|e| fail(&format!("disable {name}"), e))?;
        Ok(())
    }

    /// The current version of the secret `name`, or `None` when it does not exist (or is
    /// deleted).
    pub async fn secret(&self, name: &str) -> Result<Option<Secret>, HarnessError> {
        let options = SecretClientGetSecretOptions::default();
        match self.secrets.get_secret(name, Some(options)).await {
            Ok(response) => response
                .into_model()
                .map(Some)
                .map_err(|e| fail(&format!("get secret {name}"), e)),
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => Err(fail(&format!("get secret {name}"), error)),
        }
    }

    /// The soft-deleted secret `name`, or `None` when there is none.
    pub async fn deleted_secret(&self, name: &str) -> Result<Option<DeletedSecret>, HarnessError> {
        match self.secrets.get_deleted_secret(name, None).await {
            Ok(response) => response
                .into_model()
                .map(Some)
                .map_err(|e| fail(&format!("get deleted secret {name}"), e)),
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => Err(fail(&format!("get deleted secret {name}"), error)),
        }
    }

    /// Soft-deletes the secret `name`.
    pub async fn delete_secret(&self, name: &str) -> Result<(), HarnessError> {
        self.secrets
            .delete_secret(name, None)
            .await
            .map_err(|e| fail(&format!("delete secret {name}"), e))?;
        Ok(())
    }

    /// Creates a self-signed certificate `name` (subject `CN=<name>`, RSA 2048, a year, its
    /// backing secret `secret/<name>` a base64 PKCS#12, as Key Vault's default policy makes
    /// it); returns its DER (`cer`). lowkey-vault wants every part of the policy spelled out.
    pub async fn create_certificate(&self, name: &str) -> Result<Vec<u8>, HarnessError> {
        let policy = CertificatePolicy {
            x509_certificate_properties: Some(X509CertificateProperties {
                subject: Some(format!("CN={name}")),
                validity_in_months: Some(12),
                ..X509CertificateProperties::default()
            }),
            key_properties: Some(KeyProperties {
                key_type: Some(azure_security_keyvault_certificates::models::KeyType::Rsa),
                key_size: Some(2048),
                reuse_key: Some(false),
                exportable: Some(true),
                ..KeyProperties::default()
            }),
            secret_properties: Some(SecretProperties {
                content_type: Some("application/x-pkcs12".into()),
            }),
            issuer_parameters: Some(IssuerParameters {
                name: Some("Self".into()),
                ..IssuerParameters::default()
            }),
            ..CertificatePolicy::default()
        };
        let body = CreateCertificateParameters {
            certificate_policy: Some(policy),
            ..CreateCertificateParameters::default()
        };
        let body = body
            .try_into()
            .map_err(|e: azure_core::Error| fail("certificate body", e))?;
        let certificate = self
            .certificates
            .begin_create_certificate(name, body, None)
            .map_err(|e| fail(&format!("create certificate {name}"), e))?
            .await
            .map_err(|e| fail(&format!("create certificate {name}"), e))?
            .into_model()
            .map_err(|e| fail(&format!("create certificate {name}"), e))?;
        certificate.cer.ok_or_else(|| {
            fail(
                &format!("create certificate {name}"),
                "no cer in the answer",
            )
        })
    }

    /// Creates an RSA key `name`; returns its public JWK as JSON.
    pub async fn create_rsa_key(&self, name: &str) -> Result<serde_json::Value, HarnessError> {
        let body = CreateKeyParameters {
            kty: Some(KeyType::Rsa),
            key_size: Some(2048),
            ..CreateKeyParameters::default()
        };
        let body = body
            .try_into()
            .map_err(|e: azure_core::Error| fail("key body", e))?;
        let key = self
            .keys
            .create_key(name, body, None)
            .await
            .map_err(|e| fail(&format!("create key {name}"), e))?
            .into_model()
            .map_err(|e| fail(&format!("create key {name}"), e))?;
        let jwk = key
            .key
            .ok_or_else(|| fail(&format!("create key {name}"), "no key in the answer"))?;
        serde_json::to_value(&jwk).map_err(|e| fail(&format!("create key {name}"), e))
    }
}

fn is_not_found(error: &azure_core::Error) -> bool {
    matches!(
        error.kind(),
        azure_core::error::ErrorKind::HttpResponse { status, .. } if u16::from(*status) == 404
    )
}
