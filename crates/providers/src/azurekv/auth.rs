//! [`KvCredential`]: the Entra ID token source behind one Key Vault client, with its cache.
//!
//! One credential serves one store and identity. Tokens are cached per scope until
//! [`REFRESH_BEFORE_EXPIRY`] before they expire, and a lock makes concurrent callers share one
//! token request. Grants:
//!
//! - client secret: OAuth2 client credentials at `{authority}/{tenant}/oauth2/v2.0/token`;
//! - client certificate: the same grant with an assertion signed by the certificate's key,
//!   made afresh for each token request (see [`super::certificate`]);
//! - client assertion (workload identity): the same grant with a federated token (a
//!   Kubernetes service account token for audience `api://AzureADTokenExchange`, from a token
//!   request or a mounted file, re-read on every token request because the kubelet rotates it);
//! - managed identity: the IMDS endpoint, optionally for a given identity.
//!
//! Written on reqwest rather than azure_identity so the authority host and the trusted CA can
//! be set per store (tests point both at a local server) and so token requests are countable.

use std::collections::HashMap;
use std::path::PathBuf;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::{Error, ErrorKind};
use azure_core::time::{Duration, OffsetDateTime};
use keyward_core::SecretValue;
use serde::Deserialize;

use super::certificate::ClientCertificate;
use tokio::sync::Mutex;

/// How long before expiry a cached token is replaced.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::minutes(5);

/// Where a workload identity's federated token comes from.
#[derive(Debug)]
pub enum Assertion {
    /// A token obtained once through a Kubernetes token request.
    Token(SecretValue),
    /// A projected token file (`AZURE_FEDERATED_TOKEN_FILE`).
    File(PathBuf),
}

/// How the credential obtains tokens.
#[derive(Debug)]
pub enum Grant {
    /// Client credentials with a client secret.
    ClientSecret {
        /// The directory (tenant) id.
        tenant: String,
        /// The application (client) id.
        client_id: String,
        /// The client secret.
        secret: SecretValue,
    },
    /// Client credentials with an assertion signed by a client certificate.
    ClientCertificate {
        /// The directory (tenant) id.
        tenant: String,
        /// The application (client) id.
        client_id: String,
        /// The certificate and its key.
        certificate: ClientCertificate,
    },
    /// Client credentials with a federated client assertion.
    ClientAssertion {
        /// The directory (tenant) id.
        tenant: String,
        /// The application (client) id.
        client_id: String,
        /// The assertion's source.
        assertion: Assertion,
    },
    /// The managed identity endpoint.
    ManagedIdentity {
        /// The IMDS token endpoint.
        endpoint: String,
        /// A client id or (starting with `/`) a resource id; `None` for the system identity.
        identity: Option<String>,
    },
}

/// A cached, lock-shared token source for one Key Vault client.
#[derive(Debug)]
pub struct KvCredential {
    grant: Grant,
    authority: String,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, AccessToken>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl KvCredential {
    /// A credential using `grant` against `authority` (e.g. `https://login.microsoftonline.com`).
    pub fn new(grant: Grant, authority: &str, http: reqwest::Client) -> Self {
        Self {
            grant,
            authority: authority.trim_end_matches('/').to_owned(),
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn request(&self, scope: &str) -> azure_core::Result<AccessToken> {
        let request = match &self.grant {
            Grant::ClientSecret {
                tenant,
                client_id,
                secret,
            } => {
                let secret = secret
                    .expose_str()
                    .map_err(|_| credential_error("the client secret is not UTF-8"))?;
                self.client_credentials(tenant, client_id, scope, &[("client_secret", secret)])
            }
            Grant::ClientCertificate {
                tenant,
                client_id,
                certificate,
            } => {
                let now = OffsetDateTime::now_utc().unix_timestamp();
                let assertion = certificate
                    .assertion(&self.token_url(tenant), client_id, now)
                    .map_err(|e| credential_error(&e))?;
                self.with_assertion(tenant, client_id, scope, &assertion)?
            }
            Grant::ClientAssertion {
                tenant,
                client_id,
                assertion,
            } => {
                let token = read_assertion(assertion).await?;
                self.with_assertion(tenant, client_id, scope, &token)?
            }
            Grant::ManagedIdentity { endpoint, identity } => {
                imds_request(&self.http, endpoint, identity.as_deref(), scope)
            }
        };
        let response = request.send().await.map_err(|e| {
            Error::with_message(
                ErrorKind::Io,
                format!("token endpoint unreachable: {}", e.without_url()),
            )
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(credential_error(&format!(
                "token request refused with HTTP {}",
                status.as_u16()
            )));
        }
        let body: TokenResponse = response
            .json()
            .await
            .map_err(|_| credential_error("token response is not the expected JSON"))?;
        Ok(AccessToken::new(
            body.access_token,
            OffsetDateTime::now_utc() + lifetime(body.expires_in.as_ref()),
        ))
    }

    /// The client credentials grant with a JWT client assertion.
    fn with_assertion(
        &self,
        tenant: &str,
        client_id: &str,
        scope: &str,
        assertion: &SecretValue,
    ) -> azure_core::Result<reqwest::RequestBuilder> {
        let assertion = assertion
            .expose_str()
            .map_err(|_| credential_error("the client assertion is not UTF-8"))?;
        Ok(self.client_credentials(
            tenant,
            client_id,
            scope,
            &[
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
            ],
        ))
    }

    /// The tenant's token endpoint, also the audience of client assertions.
    fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.authority)
    }

    fn client_credentials(
        &self,
        tenant: &str,
        client_id: &str,
        scope: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("scope", scope),
        ];
        form.extend_from_slice(extra);
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.http
            .post(self.token_url(tenant))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }
}

fn imds_request(
    http: &reqwest::Client,
    endpoint: &str,
    identity: Option<&str>,
    scope: &str,
) -> reqwest::RequestBuilder {
    let resource = scope.trim_end_matches("/.default");
    let mut query = vec![("api-version", "2018-02-01"), ("resource", resource)];
    match identity {
        Some(id) if id.starts_with('/') => query.push(("msi_res_id", id)),
        Some(id) => query.push(("client_id", id)),
        None => {}
    }
    http.get(endpoint).query(&query).header("Metadata", "true")
}

async fn read_assertion(assertion: &Assertion) -> azure_core::Result<SecretValue> {
    match assertion {
        Assertion::Token(token) => Ok(token.clone()),
        Assertion::File(path) => tokio::fs::read(path)
            .await
            .map(|bytes| SecretValue::from(String::from_utf8_lossy(&bytes).trim().to_owned()))
            .map_err(|e| {
                credential_error(&format!("federated token file {}: {e}", path.display()))
            }),
    }
}

/// `expires_in` is a number from Entra ID and a string from IMDS; default one hour.
fn lifetime(expires_in: Option<&serde_json::Value>) -> Duration {
    let seconds = match expires_in {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Duration::seconds(seconds.unwrap_or(3600))
}

fn credential_error(message: &str) -> Error {
    Error::with_message(ErrorKind::Credential, message.to_owned())
}

/// `application/x-www-form-urlencoded` encoding of one field.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[async_trait::async_trait]
impl TokenCredential for KvCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let scope = scopes
            .first()
            .copied()
            .unwrap_or("https://vault.azure.net/.default");
        let mut cache = self.cache.lock().await;
        if let Some(token) = cache.get(scope)
            && token.expires_on - REFRESH_BEFORE_EXPIRY > OffsetDateTime::now_utc()
        {
            return Ok(token.clone());
        }
        let token = self.request(scope).await?;
        cache.insert(scope.to_owned(), token.clone());
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_encoded() {
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn lifetimes_parse_numbers_and_strings() {
        assert_eq!(
            lifetime(Some(&serde_json::json!(60))),
            Duration::seconds(60)
        );
        assert_eq!(
            lifetime(Some(&serde_json::json!("120"))),
            Duration::seconds(120)
        );
        assert_eq!(lifetime(None), Duration::seconds(3600));
    }
}
