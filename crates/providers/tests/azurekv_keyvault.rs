//! The azurekv provider against Azure Key Vault through the official Azure crates.
//!
//! **Peers.** Every Key Vault behaviour runs against lowkey-vault, the real peer (one server
//! shared by this test binary; each test uses its own secret names and its own managed
//! identity id, so the server's request log tells its calls apart). The vault is seeded and
//! inspected through the SDK ([`LowkeyClients`]), not through the provider under test.
//!
//! lowkey-vault accepts any bearer token, so token acquisition from Entra ID (client secret,
//! client certificate assertion, workload identity) is tested against keyward's
//! `KeyVaultDouble` as the Entra ID token endpoint, with lowkey-vault still serving the vault.
//! The double also stands in where lowkey-vault cannot play the part: throttling with
//! `Retry-After`, and a disabled secret's 403 (lowkey-vault answers 404). Those tests end in
//! `_keyward_double` and say so.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyward_api::{ExternalSecretFind, FindName};
use keyward_core::SecretValue;
use keyward_providers::azurekv::{AzureKvConfig, AzureKvProvider, AzureOptions};
use keyward_providers::{
    CallCounters, DisciplineConfig, Disciplined, Fetched, Provider, ProviderErrorKind,
    StaticCredentials, StoreId, value,
};
use keyward_test_support::{
    DOUBLE_TENANT, KeyVaultDouble, LowkeyClients, LowkeyVault, or_skip_unavailable,
    rsa_client_certificate,
};

use crate::util::selected;

const STORE: &str = "SecretStore/apps/akv";

/// The shared lowkey-vault, or `None` when it is unavailable outside CI (reported).
async fn lowkey() -> Option<&'static LowkeyVault> {
    or_skip_unavailable(LowkeyVault::shared().await)
}

fn seeder(vault: &LowkeyVault) -> LowkeyClients {
    LowkeyClients::new(vault).expect("SDK clients")
}

/// A managed identity store on lowkey-vault: tokens from lowkey-vault's own endpoint, for
/// the user-assigned identity `identity` (a name per test: its token requests carry it).
fn managed_identity(vault: &LowkeyVault, identity: &str) -> AzureKvProvider {
    let config: AzureKvConfig = serde_json::from_value(serde_json::json!({
        "vaultUrl": vault.vault_url(), "authType": "ManagedIdentity", "identityId": identity
    }))
    .expect("config");
    let options = AzureOptions {
        imds_endpoint: Some(vault.token_endpoint()),
        extra_ca_pem: Some(vault.ca_pem().to_owned()),
        ..AzureOptions::default()
    };
    AzureKvProvider::new(
        STORE.parse::<StoreId>().expect("a store id"),
        config,
        "apps",
        Arc::new(StaticCredentials::new()),
        options,
    )
    .expect("valid")
}

fn fast() -> DisciplineConfig {
    DisciplineConfig {
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..DisciplineConfig::default()
    }
}

#[tokio::test]
async fn reads_versions_properties_tags_and_metadata_from_lowkey_vault() {
    let Some(vault) = lowkey().await else { return };
    let kv = seeder(vault);
    let first = kv
        .put_secret(
            "rv-db",
            r#"{"user":"app","password":"one"}"#,
            &[("team", "core")],
            None,
        )
        .await
        .expect("seed");
    kv.put_secret(
        "rv-db",
        r#"{"user":"app","password":"two", "port": 5432.0}"#,
        &[("team", "core"), ("tier", "gold")],
        Some("application/json"),
    )
    .await
    .expect("seed");
    let provider = managed_identity(vault, "reads");

    let current = provider.fetch("rv-db", None).await.expect("current");
    assert_eq!(selected(&current, Some("password")), "two");
    assert_eq!(
        selected(&current, Some("port")),
        "5432",
        "gjson's number text"
    );
    let prefixed = provider
        .fetch("secret/rv-db", None)
        .await
        .expect("prefixed");
    assert_eq!(selected(&prefixed, Some("user")), "app");
    let old = provider
        .fetch("rv-db", Some(&first))
        .await
        .expect("old version");
    assert_eq!(selected(&old, Some("password")), "one");

    let metadata = provider.fetch_metadata("rv-db").await.expect("metadata");
    assert_eq!(selected(&metadata, Some("team")), "core");
    assert_eq!(selected(&metadata, Some("tier")), "gold");
    let attributes: serde_json::Value =
        serde_json::from_str(&selected(&metadata, Some("attributes"))).expect("attributes JSON");
    assert_eq!(attributes["enabled"], serde_json::json!(true));
    assert_eq!(attributes["contentType"], "application/json");
    assert!(attributes["created"].as_i64().is_some(), "{attributes}");

    // Both versions were made within one second, which Key Vault's dates cannot order: the
    // current one is asked for (the value read and dropped).
    let described = provider.describe("rv-db", None).await.expect("describe");
    assert!(described.version.is_some() && described.version.as_deref() != Some(first.as_str()));
    assert!(described.created.is_some(), "{described:?}");
    let read = provider.fetch_versioned("rv-db", None).await.expect("read");
    assert_eq!(
        read.version, described.version,
        "the version the read returned"
    );
    let pinned = provider
        .describe("rv-db", Some(&first))
        .await
        .expect("first");
    assert_eq!(pinned.version.as_deref(), Some(first.as_str()));
    // A version a second later is the newest by its date: versions listed without values.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let third = kv
        .put_secret("rv-db", r#"{"user":"app","password":"three"}"#, &[], None)
        .await
        .expect("seed");
    let described = provider.describe("rv-db", None).await.expect("describe");
    assert!(!described.read_value, "{described:?}");
    assert_eq!(described.version.as_deref(), Some(third.as_str()));
    for (key, version) in [
        ("rv-db", Some("00000000000000000000000000000000")),
        ("rv-missing", None),
    ] {
        let error = provider.describe(key, version).await.expect_err("missing");
        assert_eq!(error.kind, ProviderErrorKind::NotFound, "{key}: {error}");
    }

    let missing = provider
        .fetch("rv-missing", None)
        .await
        .expect_err("missing");
    assert_eq!(missing.kind, ProviderErrorKind::NotFound);
    assert!(missing.to_string().contains("rv-missing"), "{missing}");
    let no_version = provider
        .fetch("rv-db", Some("00000000000000000000000000000000"))
        .await
        .expect_err("no such version");
    assert_eq!(no_version.kind, ProviderErrorKind::NotFound);
}

#[tokio::test]
async fn certificates_and_keys_are_read_as_eso_reads_them_from_lowkey_vault() {
    let Some(vault) = lowkey().await else { return };
    let kv = seeder(vault);
    let der = kv.create_certificate("ck-web").await.expect("certificate");
    let jwk = kv.create_rsa_key("ck-sign").await.expect("key");
    let provider = managed_identity(vault, "objects");

    let Fetched::Value(read) = provider.fetch("cert/ck-web", None).await.expect("cert/") else {
        panic!("a certificate is one value")
    };
    assert_eq!(read.expose_bytes(), der.as_slice(), "the certificate's DER");
    let key = provider.fetch("key/ck-sign", None).await.expect("key/");
    assert_eq!(selected(&key, Some("kty")), "RSA");
    assert_eq!(selected(&key, Some("e")), jwk["e"].as_str().expect("e"));
    assert_eq!(selected(&key, Some("n")), jwk["n"].as_str().expect("n"));
    // The certificate's backing secret is its PKCS#12, base64 (Key Vault's default policy).
    let backing = provider
        .fetch("secret/ck-web", None)
        .await
        .expect("secret/");
    assert!(!selected(&backing, None).is_empty());

    for missing in ["cert/ck-none", "key/ck-none"] {
        let error = provider.fetch(missing, None).await.expect_err(missing);
        assert_eq!(error.kind, ProviderErrorKind::NotFound, "{error}");
    }
}

#[tokio::test]
async fn find_matches_names_and_tags_over_every_page_and_skips_disabled_on_lowkey_vault() {
    let Some(vault) = lowkey().await else { return };
    let kv = seeder(vault);
    // More than one page of Key Vault's 25.
    for i in 0..30 {
        let env = if i % 3 == 0 { "prod" } else { "dev" };
        kv.put_secret(&format!("fd-app-{i:02}"), "v", &[("env", env)], None)
            .await
            .expect("seed");
    }
    kv.put_secret("fd-app-off", "v", &[("env", "prod")], None)
        .await
        .expect("seed");
    kv.disable_secret("fd-app-off").await.expect("disable");
    kv.put_secret("fd-other", "v", &[("env", "prod")], None)
        .await
        .expect("seed");
    let provider = managed_identity(vault, "find");

    let find = ExternalSecretFind {
        name: Some(FindName {
            regexp: "^fd-app-".into(),
        }),
        tags: BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
        ..ExternalSecretFind::default()
    };
    let mut names = provider.list(&find).await.expect("list");
    names.sort();
    let expected: Vec<String> = (0..30)
        .filter(|i| i % 3 == 0)
        .map(|i| format!("fd-app-{i:02}"))
        .collect();
    assert_eq!(names, expected);
    let pages = vault
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/secrets")
        .filter(|r| r.query.contains("skiptoken"))
        .count();
    assert!(pages >= 1, "the listing followed nextLink");

    let by_tag_only = ExternalSecretFind {
        tags: BTreeMap::from([("env".to_owned(), "dev".to_owned())]),
        ..ExternalSecretFind::default()
    };
    let names = provider.list(&by_tag_only).await.expect("list");
    assert_eq!(
        names.iter().filter(|n| n.starts_with("fd-app-")).count(),
        20
    );
}

#[tokio::test]
async fn push_and_delete_touch_only_managed_secrets_on_lowkey_vault() {
    let Some(vault) = lowkey().await else { return };
    let kv = seeder(vault);
    kv.put_secret("pd-hand-made", "keep-me", &[], None)
        .await
        .expect("seed");
    kv.put_secret(
        "pd-from-eso",
        "old",
        &[("managed-by", "external-secrets"), ("owner", "eso")],
        None,
    )
    .await
    .expect("seed");
    let provider = managed_identity(vault, "push");
    let current = |name: &'static str| {
        let kv = &kv;
        async move { kv.secret(name).await.expect("read back") }
    };

    let tags = serde_json::json!({"tags": {"team": "core"}});
    provider
        .push("pd-pushed", &SecretValue::from("new"), Some(&tags))
        .await
        .expect("push new");
    let pushed = current("pd-pushed").await.expect("created");
    assert_eq!(pushed.value.as_deref(), Some("new"));
    let pushed_tags = pushed.tags.unwrap_or_default();
    assert_eq!(
        pushed_tags.get("managed-by").map(String::as_str),
        Some("keyward")
    );
    assert_eq!(pushed_tags.get("team").map(String::as_str), Some("core"));

    let refused = provider
        .push("pd-hand-made", &SecretValue::from("overwrite"), None)
        .await
        .expect_err("unmanaged");
    assert_eq!(refused.kind, ProviderErrorKind::PermissionDenied);
    assert_eq!(
        current("pd-hand-made")
            .await
            .and_then(|s| s.value)
            .as_deref(),
        Some("keep-me")
    );

    provider
        .push("pd-from-eso", &SecretValue::from("migrated"), None)
        .await
        .expect("ESO-managed secrets are accepted");
    let migrated = current("pd-from-eso").await.expect("exists");
    assert_eq!(migrated.value.as_deref(), Some("migrated"));
    assert_eq!(
        migrated
            .tags
            .unwrap_or_default()
            .get("owner")
            .map(String::as_str),
        Some("eso"),
        "the tags of the replaced version are kept"
    );

    let refused = provider
        .delete("pd-hand-made")
        .await
        .expect_err("unmanaged");
    assert_eq!(refused.kind, ProviderErrorKind::PermissionDenied);
    assert!(current("pd-hand-made").await.is_some());
    provider.delete("pd-pushed").await.expect("delete managed");
    assert!(current("pd-pushed").await.is_none());
    provider
        .delete("pd-pushed")
        .await
        .expect("deleting a missing secret is fine");
}

/// Key Vault's delete is a soft delete: the name stays taken until the purge. A push to a
/// managed soft-deleted name recovers the secret and writes the new version; a soft-deleted
/// secret keyward does not manage is refused and stays deleted.
#[tokio::test]
async fn a_soft_deleted_secret_is_recovered_for_a_push_only_when_managed_on_lowkey_vault() {
    let Some(vault) = lowkey().await else { return };
    let kv = seeder(vault);
    let provider = managed_identity(vault, "soft-delete");

    provider
        .push("sd-managed", &SecretValue::from("first"), None)
        .await
        .expect("push");
    provider.delete("sd-managed").await.expect("delete");
    let gone = provider
        .fetch("sd-managed", None)
        .await
        .expect_err("a soft-deleted secret is not read");
    assert_eq!(gone.kind, ProviderErrorKind::NotFound);
    assert!(
        kv.deleted_secret("sd-managed")
            .await
            .expect("deleted")
            .is_some(),
        "soft-deleted, not purged"
    );
    provider
        .push("sd-managed", &SecretValue::from("second"), None)
        .await
        .expect("push over a soft-deleted managed secret");
    let back = kv
        .secret("sd-managed")
        .await
        .expect("read")
        .expect("recovered");
    assert_eq!(back.value.as_deref(), Some("second"));
    assert!(
        kv.deleted_secret("sd-managed")
            .await
            .expect("deleted")
            .is_none()
    );

    kv.put_secret("sd-foreign", "theirs", &[], None)
        .await
        .expect("seed");
    kv.delete_secret("sd-foreign").await.expect("soft delete");
    let refused = provider
        .push("sd-foreign", &SecretValue::from("mine"), None)
        .await
        .expect_err("unmanaged");
    assert_eq!(
        refused.kind,
        ProviderErrorKind::PermissionDenied,
        "{refused}"
    );
    assert!(refused.message.contains("soft-deleted"), "{refused}");
    assert!(kv.secret("sd-foreign").await.expect("read").is_none());
    assert!(
        kv.deleted_secret("sd-foreign")
            .await
            .expect("deleted")
            .is_some()
    );
}

/// The SDK sends a client's first request without a token, learns the resource from
/// lowkey-vault's 401 challenge, fetches a token for it from the managed identity endpoint and
/// retries. 100 concurrent reads of 10 secrets then cost one token and one read per secret,
/// counted on the server (its log holds what passed authentication). The token's resource is
/// the vault's own URL, which only the challenge tells: the SDK's default scope would name
/// vault.azure.net.
#[tokio::test]
async fn the_401_challenge_costs_one_token_for_many_reads_on_lowkey_vault() {
    let Some(vault) = lowkey().await else { return };
    let kv = seeder(vault);
    for i in 0..10 {
        kv.put_secret(&format!("ch-s{i}"), "v", &[], None)
            .await
            .expect("seed");
    }
    let provider = Arc::new(Disciplined::new(
        managed_identity(vault, "challenge-identity"),
        fast(),
        Arc::default(),
    ));
    let mut tasks = Vec::new();
    for i in 0..100 {
        let provider = Arc::clone(&provider);
        tasks.push(tokio::spawn(async move {
            provider.fetch(&format!("ch-s{}", i % 10), None).await
        }));
    }
    for task in tasks {
        task.await.expect("join").expect("read");
    }
    let requests = vault.requests();
    let tokens: Vec<_> = requests
        .iter()
        .filter(|r| r.is_token_request() && r.has_query("client_id", "challenge-identity"))
        .collect();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert!(
        tokens[0]
            .query
            .contains("resource=https%3A%2F%2Flocalhost%3A"),
        "the token is for the resource the challenge named: {tokens:?}"
    );
    let reads = (0..10)
        .map(|i| {
            requests
                .iter()
                .filter(|r| r.is_value_read_of(&format!("ch-s{i}")))
                .count()
        })
        .sum::<usize>();
    assert_eq!(reads, 10, "one authorised read per secret");
}

/// The Entra ID side of token acquisition, where lowkey-vault (which takes any token) cannot
/// play the part: keyward's double is the token endpoint, lowkey-vault still the vault.
struct EntraAndVault {
    entra: KeyVaultDouble,
    vault: &'static LowkeyVault,
}

impl EntraAndVault {
    fn options(&self) -> AzureOptions {
        AzureOptions {
            authority_host: Some(self.entra.authority_host().to_owned()),
            imds_endpoint: None,
            extra_ca_pem: Some(format!("{}{}", self.entra.ca_pem(), self.vault.ca_pem())),
            federated_token_file: None,
        }
    }

    fn provider(&self, auth: serde_json::Value, credentials: StaticCredentials) -> AzureKvProvider {
        self.provider_with(auth, credentials, self.options())
    }

    fn provider_with(
        &self,
        mut auth: serde_json::Value,
        credentials: StaticCredentials,
        options: AzureOptions,
    ) -> AzureKvProvider {
        auth["vaultUrl"] = self.vault.vault_url().into();
        let config: AzureKvConfig = serde_json::from_value(auth).expect("config");
        AzureKvProvider::new(
            STORE.parse::<StoreId>().expect("a store id"),
            config,
            "apps",
            Arc::new(credentials),
            options,
        )
        .expect("valid")
    }

    fn client_secret(&self, secret: &str) -> AzureKvProvider {
        let mut credentials = StaticCredentials::new();
        credentials.insert(
            "apps",
            "azure-sp",
            "client-id",
            SecretValue::from(self.entra.client_id()),
        );
        credentials.insert(
            "apps",
            "azure-sp",
            "client-secret",
            SecretValue::from(secret),
        );
        self.provider(
            serde_json::json!({"tenantId": DOUBLE_TENANT, "authSecretRef": {
                "clientId": {"name": "azure-sp", "key": "client-id"},
                "clientSecret": {"name": "azure-sp", "key": "client-secret"}}}),
            credentials,
        )
    }

    fn client_certificate(&self, pem: &str) -> AzureKvProvider {
        let mut credentials = StaticCredentials::new();
        credentials.insert(
            "apps",
            "azure-sp",
            "client-id",
            SecretValue::from(self.entra.client_id()),
        );
        credentials.insert("apps", "azure-sp", "cert", SecretValue::from(pem));
        self.provider(
            serde_json::json!({"tenantId": DOUBLE_TENANT, "authSecretRef": {
                "clientId": {"name": "azure-sp", "key": "client-id"},
                "clientCertificate": {"name": "azure-sp", "key": "cert"}}}),
            credentials,
        )
    }
}

async fn entra_and_vault() -> Option<EntraAndVault> {
    let vault = lowkey().await?;
    let entra = KeyVaultDouble::start().await.expect("double");
    Some(EntraAndVault { entra, vault })
}

/// Client secret, client certificate (an RS256 assertion the double checks as Entra ID
/// does) and workload identity (a federated token file) each obtain one token from the
/// Entra ID double, and lowkey-vault serves the value with it.
#[tokio::test]
async fn entra_id_grants_obtain_tokens_for_lowkey_vault_keyward_double() {
    let Some(setup) = entra_and_vault().await else {
        return;
    };
    seeder(setup.vault)
        .put_secret("en-db", "from-entra", &[], None)
        .await
        .expect("seed");

    let by_secret = setup.client_secret(setup.entra.client_secret());
    assert_eq!(
        selected(&by_secret.fetch("en-db", None).await.expect("read"), None),
        "from-entra"
    );
    by_secret.fetch("en-db", None).await.expect("second read");
    assert_eq!(
        setup.entra.counts().token_requests,
        1,
        "the token is cached"
    );

    let pem = rsa_client_certificate("keyward-sp").expect("certificate");
    setup
        .entra
        .register_client_certificate(&pem)
        .expect("register");
    let by_certificate = setup.client_certificate(&pem);
    assert_eq!(
        selected(
            &by_certificate.fetch("en-db", None).await.expect("read"),
            None
        ),
        "from-entra"
    );
    assert_eq!(setup.entra.counts().token_requests, 2);

    let dir = tempfile::tempdir().expect("dir");
    let token_file = dir.path().join("azure-identity-token");
    std::fs::write(&token_file, "a.projected.service-account-token").expect("token file");
    let mut credentials = StaticCredentials::new();
    credentials.insert(
        "apps",
        "azure-sp",
        "client-id",
        SecretValue::from(setup.entra.client_id()),
    );
    let workload = setup.provider_with(
        serde_json::json!({"authType": "WorkloadIdentity", "tenantId": DOUBLE_TENANT,
            "authSecretRef": {"clientId": {"name": "azure-sp", "key": "client-id"}}}),
        credentials,
        AzureOptions {
            federated_token_file: Some(token_file),
            ..setup.options()
        },
    );
    assert_eq!(
        selected(&workload.fetch("en-db", None).await.expect("read"), None),
        "from-entra"
    );
    assert_eq!(setup.entra.counts().token_requests, 3);
}

/// Entra ID's refusals (a wrong client secret, a certificate it does not know) are
/// permission errors naming store and key and never the secret; a PEM without a certificate
/// is a configuration error naming the field.
#[tokio::test]
async fn entra_id_refusals_are_permission_denied_keyward_double() {
    let Some(setup) = entra_and_vault().await else {
        return;
    };
    let wrong = setup.client_secret("not-the-secret");
    let error = wrong.fetch("en-refused", None).await.expect_err("refused");
    assert_eq!(error.kind, ProviderErrorKind::PermissionDenied, "{error}");
    assert!(
        error.to_string().contains(STORE) && error.to_string().contains("en-refused"),
        "{error}"
    );
    assert!(!error.to_string().contains("not-the-secret"), "{error}");

    let stranger = rsa_client_certificate("not-registered").expect("certificate");
    let refused = setup
        .client_certificate(&stranger)
        .fetch("en-refused", None)
        .await
        .expect_err("an unknown certificate is refused");
    assert_eq!(
        refused.kind,
        ProviderErrorKind::PermissionDenied,
        "{refused}"
    );

    let key_only = stranger
        .split("-----END CERTIFICATE-----")
        .nth(1)
        .expect("key part")
        .to_owned();
    let bad = setup
        .client_certificate(&key_only)
        .fetch("en-refused", None)
        .await
        .expect_err("no certificate in the PEM");
    assert_eq!(bad.kind, ProviderErrorKind::Misconfigured, "{bad}");
    assert!(bad.message.contains("clientCertificate"), "{bad}");
    assert!(bad.message.contains("no CERTIFICATE block"), "{bad}");
    assert!(!bad.to_string().contains("PRIVATE KEY-----\n"), "{bad}");
}

fn double_provider(kv: &KeyVaultDouble) -> AzureKvProvider {
    let mut credentials = StaticCredentials::new();
    credentials.insert("apps", "sp", "id", SecretValue::from(kv.client_id()));
    credentials.insert(
        "apps",
        "sp",
        "secret",
        SecretValue::from(kv.client_secret()),
    );
    let config: AzureKvConfig = serde_json::from_value(serde_json::json!({
        "vaultUrl": kv.vault_url(), "tenantId": DOUBLE_TENANT,
        "authSecretRef": {"clientId": {"name": "sp", "key": "id"},
                          "clientSecret": {"name": "sp", "key": "secret"}}
    }))
    .expect("config");
    let options = AzureOptions {
        authority_host: Some(kv.authority_host().to_owned()),
        imds_endpoint: Some(kv.imds_endpoint()),
        extra_ca_pem: Some(kv.ca_pem().to_owned()),
        federated_token_file: None,
    };
    AzureKvProvider::new(
        STORE.parse::<StoreId>().expect("a store id"),
        config,
        "apps",
        Arc::new(credentials),
        options,
    )
    .expect("valid")
}

/// lowkey-vault never throttles; the double answers 429 with `Retry-After` on demand.
#[tokio::test]
async fn throttling_is_retried_after_retry_after_keyward_double() {
    let kv = KeyVaultDouble::start().await.expect("double");
    kv.put("db", "v", &[], true);
    let counters = Arc::new(CallCounters::default());
    let provider = Disciplined::new(double_provider(&kv), fast(), Arc::clone(&counters));
    provider
        .fetch("db", None)
        .await
        .expect("warm up the client");
    kv.put("fresh", "v", &[], true);
    kv.throttle_next(2, 1);
    let started = Instant::now();
    provider
        .fetch("fresh", None)
        .await
        .expect("read after two 429s");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After was not honoured"
    );
    assert_eq!(kv.counts().throttled, 2);
    assert_eq!(counters.get("azurekv", "GetSecret", "error"), 2);
    assert_eq!(counters.get("azurekv", "GetSecret", "success"), 2);
}

/// Key Vault refuses a disabled secret's value with 403; lowkey-vault answers 404, so the
/// double plays Key Vault here.
#[tokio::test]
async fn a_disabled_secret_is_refused_not_missing_keyward_double() {
    let kv = KeyVaultDouble::start().await.expect("double");
    kv.put("off", "v", &[], false);
    let disabled = double_provider(&kv)
        .fetch("off", None)
        .await
        .expect_err("disabled");
    assert_eq!(
        disabled.kind,
        ProviderErrorKind::PermissionDenied,
        "{disabled}"
    );
}

/// Collects everything the tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A value read from lowkey-vault, pushed there, refused, recovered after a soft delete, and
/// a client certificate's key used for an Entra ID assertion: none of them reaches a log line
/// at any level, an error or a debug print.
#[tokio::test]
async fn canary_value_never_reaches_logs_or_errors_on_lowkey_vault() {
    const CANARY: &str = "CANARY-4f1c9e-never-print-me";
    let Some(setup) = entra_and_vault().await else {
        return;
    };
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let kv = seeder(setup.vault);
    kv.put_secret(
        "cy-canary",
        &format!(r#"{{"token":"{CANARY}"}}"#),
        &[],
        None,
    )
    .await
    .expect("seed");
    let provider = Disciplined::new(
        managed_identity(setup.vault, "canary"),
        fast(),
        Arc::default(),
    );
    let fetched = provider.fetch("cy-canary", None).await.expect("read");
    let mut messages = vec![format!("{fetched:?}")];
    for property in ["missing", "token.deeper"] {
        if let Err(error) = value::select(&fetched, Some(property), STORE, "cy-canary") {
            messages.push(format!("{error} {error:?}"));
        }
    }
    let refused = provider
        .push("cy-canary", &SecretValue::from(CANARY), None)
        .await
        .expect_err("unmanaged");
    messages.push(format!("{refused} {refused:?}"));
    provider
        .push("cy-pushed", &SecretValue::from(CANARY), None)
        .await
        .expect("push");
    provider.delete("cy-pushed").await.expect("delete");
    provider
        .push("cy-pushed", &SecretValue::from(format!("{CANARY}-2")), None)
        .await
        .expect("push after a soft delete");

    // The client certificate's key (its base64 body) is a value too: signing with it, and
    // failing with it, print none of it.
    let pem = rsa_client_certificate("canary-sp").expect("certificate");
    let key_line = pem
        .lines()
        .skip_while(|line| !line.contains("PRIVATE KEY"))
        .nth(2)
        .expect("a line of the key body")
        .to_owned();
    setup
        .entra
        .register_client_certificate(&pem)
        .expect("register");
    let signed = Disciplined::new(setup.client_certificate(&pem), fast(), Arc::default());
    messages.push(format!(
        "{:?}",
        signed.fetch("cy-canary", None).await.expect("read")
    ));
    let broken = pem.replace("-----BEGIN CERTIFICATE-----", "-----BEGIN NOTHING-----");
    let broken = Disciplined::new(setup.client_certificate(&broken), fast(), Arc::default());
    let error = broken
        .fetch("cy-canary", None)
        .await
        .expect_err("no certificate");
    messages.push(format!("{error} {error:?}"));

    let logs = String::from_utf8_lossy(&captured.0.lock().expect("logs")).into_owned();
    assert!(!logs.is_empty(), "trace logging was captured");
    for text in messages.iter().chain([&logs]) {
        assert!(!text.contains(CANARY), "the canary escaped: {text}");
        assert!(!text.contains(&key_line), "the private key escaped: {text}");
    }
}

#[test]
fn bad_configuration_is_reported_before_any_call() {
    let build = |config: serde_json::Value| {
        keyward_providers::registry::build(
            STORE.parse::<StoreId>().expect("a store id"),
            &keyward_api::ProviderSpec(BTreeMap::from([("azurekv".to_owned(), config)])),
            "apps",
            Arc::new(StaticCredentials::new()),
        )
        .map(|_| ())
        .expect_err("invalid")
    };
    let cases = [
        (serde_json::json!({"tenantId": "t"}), "vaultUrl"),
        (
            serde_json::json!({"vaultUrl": "https://v.vault.azure.net", "authType": "Magic"}),
            "authType",
        ),
        (
            serde_json::json!({"vaultUrl": "https://v.vault.azure.net"}),
            "tenantId",
        ),
        (
            serde_json::json!({"vaultUrl": "https://v.vault.azure.net", "tenantId": "t",
                               "authSecretRef": {"clientId": {"name": "a", "key": "b"}}}),
            "clientSecret",
        ),
        (
            serde_json::json!({"vaultUrl": "https://v.vault.azure.net", "environmentType": "Mars"}),
            "environmentType",
        ),
    ];
    for (config, field) in cases {
        let error = build(config);
        assert_eq!(error.kind, ProviderErrorKind::Misconfigured);
        assert!(error.to_string().contains(STORE), "{error}");
        assert!(error.message.contains(field), "{field}: {error}");
    }
}
