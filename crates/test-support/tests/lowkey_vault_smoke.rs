//! Smoke test of the Azure Key Vault peer (lowkey-vault) through the official
//! azure_security_keyvault_* crates: the harness starts the shared jar over HTTPS with its own
//! CA, the SDK round-trips a secret, a certificate and a key, and the request log counts what
//! the server received.
//!
//! Outside CI, a machine without the jar reports the test as not run (loudly); under CI
//! (`CI=true`) a missing lowkey-vault fails it.

use keyward_test_support::{LowkeyClients, LowkeyVault, or_skip_unavailable};

#[tokio::test]
async fn secrets_certificates_and_keys_round_trip_through_the_sdk() {
    let Some(vault) = or_skip_unavailable(LowkeyVault::start().await) else {
        return;
    };
    let clients = LowkeyClients::new(&vault).expect("clients");
    let first = clients
        .put_secret("keyward-smoke", "s3cr3t", &[("team", "core")], None)
        .await
        .expect("set secret");
    clients
        .put_secret("keyward-smoke", "s3cr3t-2", &[], None)
        .await
        .expect("second version");
    let current = clients
        .secret("keyward-smoke")
        .await
        .expect("get secret")
        .expect("exists");
    assert_eq!(current.value.as_deref(), Some("s3cr3t-2"));
    assert!(!first.is_empty());

    let der = clients
        .create_certificate("keyward-smoke-cert")
        .await
        .expect("self-signed certificate");
    assert_eq!(der.first(), Some(&0x30), "a DER SEQUENCE");
    let jwk = clients
        .create_rsa_key("keyward-smoke-key")
        .await
        .expect("RSA key");
    assert_eq!(jwk["kty"], "RSA");

    let requests = vault.requests();
    let reads = requests
        .iter()
        .filter(|r| r.is_value_read_of("keyward-smoke"))
        .count();
    // lowkey-vault logs what passes its authentication filter: the 401-challenged first
    // request of the client is not in the log.
    assert_eq!(reads, 1, "{requests:?}");
    let puts = requests
        .iter()
        .filter(|r| r.method == "PUT" && r.path == "/secrets/keyward-smoke")
        .count();
    assert_eq!(puts, 2, "{requests:?}");
}
