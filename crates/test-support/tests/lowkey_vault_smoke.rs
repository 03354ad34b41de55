//! Smoke test of the Azure Key Vault peer (lowkey-vault) through the official
//! azure_security_keyvault_secrets crate.
//!
//! lowkey-vault is published to GitHub Packages only, not to any registry this project's
//! machines reach, so on them the installer records it as unavailable. This test then checks
//! that the harness says so loudly (and never falls back to a fake); with
//! `KEYWARD_REQUIRE_ALL_PEERS=1`, or wherever the jar is present, it runs the real round trip.

use std::sync::Arc;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_core::time::{Duration, OffsetDateTime};
use azure_security_keyvault_secrets::models::SetSecretParameters;
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use keyward_test_support::{HarnessError, LowkeyVault, require_all_peers};

/// lowkey-vault accepts any bearer token; this credential hands one out without a network call.
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

#[tokio::test]
async fn set_then_get_a_secret() {
    let vault = match LowkeyVault::start().await {
        Ok(vault) => vault,
        Err(error @ HarnessError::PeerUnavailable { .. }) if !require_all_peers() => {
            let message = error.to_string();
            assert!(message.contains("lowkey-vault is UNAVAILABLE"), "{message}");
            assert!(message.contains("no fake is substituted"), "{message}");
            eprintln!("NOT RUN against a real peer: {message}");
            return;
        }
        Err(error) => panic!("{error}"),
    };
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(vault.ca_pem().as_bytes()).expect("CA")])
        .build()
        .expect("http client");
    let options = SecretClientOptions {
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(http))),
            retry: RetryOptions::none(),
            ..ClientOptions::default()
        },
        // The challenge names a localhost resource, not a *.vault.azure.net domain.
        verify_challenge_resource: Some(false),
        ..SecretClientOptions::default()
    };
    let client = SecretClient::new(vault.vault_url(), Arc::new(AnyToken), Some(options))
        .expect("secret client");
    let parameters = SetSecretParameters {
        value: Some("s3cr3t".into()),
        ..SetSecretParameters::default()
    };
    client
        .set_secret("keyward-smoke", parameters.try_into().expect("body"), None)
        .await
        .expect("set secret");
    let secret = client
        .get_secret("keyward-smoke", None)
        .await
        .expect("get secret")
        .into_model()
        .expect("secret model");
    assert_eq!(secret.value.as_deref(), Some("s3cr3t"));
}
