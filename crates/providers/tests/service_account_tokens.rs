//! Store authentication with service account tokens issued by a real kube-apiserver through
//! [`ClusterCredentials`] (the TokenRequest API), as the operator will run it:
//!
//! - Vault/OpenBao `auth.kubernetes` with `serviceAccountRef` or a token in a Secret
//!   (`secretRef`): OpenBao reviews the token (TokenReview) and its role demands the audience
//!   `vault`;
//! - AWS `auth.jwt.serviceAccountRef` (IRSA): the role ARN comes from the service account's
//!   annotation and the token is exchanged at STS (moto);
//! - Azure `WorkloadIdentity` with `serviceAccountRef`: client and tenant ids from the
//!   annotations, the token's audience `api://AzureADTokenExchange`. Entra ID has no real peer:
//!   keyward's test double plays the token endpoint (and records the token's claims), while
//!   lowkey-vault serves the vault.
//!
//! Also: Secrets read by selector, and a missing Secret, key or service account named in
//! the error.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use keyward_api::{ProviderSpec, SecretKeySelector, ServiceAccountSelector};
use keyward_providers::aws::{AwsConfig, AwsProvider};
use keyward_providers::azurekv::{AzureKvConfig, AzureKvProvider, AzureOptions};
use keyward_providers::{
    ClusterCredentials, Credentials, Provider, ProviderErrorKind, StoreId, registry, value,
};
use keyward_test_support::{
    DOUBLE_TENANT, KeyVaultDouble, Kubernetes, LowkeyClients, LowkeyVault, MOTO_REGION, Moto,
    OpenBao, or_skip_unavailable,
};
use kube::api::{Api, ObjectMeta, PostParams};
use serde_json::{Value, json};

const NAMESPACE: &str = "apps";

/// A cluster with the `apps` namespace and the given annotated service accounts.
async fn cluster_with(accounts: &[(&str, &[(&str, &str)])]) -> (Kubernetes, kube::Client) {
    let cluster = Kubernetes::start().await.expect("cluster");
    cluster
        .create_service_accounts(NAMESPACE, accounts)
        .await
        .expect("service accounts");
    let client = cluster.admin_client().await.expect("admin client");
    (cluster, client)
}

fn account(name: &str) -> ServiceAccountSelector {
    ServiceAccountSelector {
        name: name.into(),
        namespace: None,
        audiences: Vec::new(),
    }
}

/// The claims of a JWT, decoded (only to check audiences and subjects in tests).
fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

async fn bao_call(bao: &OpenBao, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/{path}", bao.address()))
        .header("X-Vault-Token", bao.root_token())
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

#[tokio::test]
async fn secrets_tokens_and_annotations_come_from_the_cluster() {
    let (_cluster, client) = cluster_with(&[("app", &[("team", "payments")])]).await;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("store-auth".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "token".to_owned(),
            ByteString(b"s3cr3t-token".to_vec()),
        )])),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &secret)
        .await
        .expect("secret");
    let credentials = ClusterCredentials::new(client);
    let selector = |name: &str, key: &str| SecretKeySelector {
        name: name.into(),
        key: Some(key.into()),
        namespace: None,
    };
    let value = credentials
        .secret_key(&selector("store-auth", "token"), NAMESPACE)
        .await
        .expect("secret key");
    assert_eq!(value.expose_str().expect("utf-8"), "s3cr3t-token");
    let no_key = credentials
        .secret_key(&selector("store-auth", "nope"), NAMESPACE)
        .await
        .expect_err("missing key");
    assert!(
        no_key
            .to_string()
            .contains("Secret apps/store-auth has no key 'nope'"),
        "{no_key}"
    );
    let no_secret = credentials
        .secret_key(&selector("absent", "token"), NAMESPACE)
        .await
        .expect_err("missing secret");
    assert_eq!(no_secret.kind, ProviderErrorKind::Misconfigured);
    assert!(
        no_secret
            .to_string()
            .contains("Secret apps/absent: not found"),
        "{no_secret}"
    );

    let token = credentials
        .service_account_token(&account("app"), NAMESPACE, &["my-audience".to_owned()])
        .await
        .expect("token request");
    let claims = claims(token.expose_str().expect("utf-8"));
    assert_eq!(claims["aud"], json!(["my-audience"]));
    assert_eq!(claims["sub"], "system:serviceaccount:apps:app");
    let lifetime = claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat");
    assert_eq!(lifetime, keyward_providers::TOKEN_EXPIRATION_SECONDS);
    let annotations = credentials
        .service_account_annotations(&account("app"), NAMESPACE)
        .await
        .expect("annotations");
    assert_eq!(
        annotations.get("team").map(String::as_str),
        Some("payments")
    );
    let missing = credentials
        .service_account_token(&account("ghost"), NAMESPACE, &[])
        .await
        .expect_err("no such service account");
    assert!(
        missing.to_string().contains("ServiceAccount apps/ghost"),
        "{missing}"
    );
}

#[tokio::test]
async fn vault_kubernetes_auth_with_a_requested_or_stored_token() {
    let (cluster, client) = cluster_with(&[("reader", &[])]).await;
    let bao = OpenBao::start().await.expect("openbao");
    bao_call(&bao, "sys/auth/kubernetes", json!({ "type": "kubernetes" })).await;
    bao_call(
        &bao,
        "auth/kubernetes/config",
        json!({
            "kubernetes_host": cluster.server(),
            "kubernetes_ca_cert": cluster.ca_pem(),
            "token_reviewer_jwt": cluster.admin_token(),
        }),
    )
    .await;
    bao_call(
        &bao,
        "sys/policies/acl/reader",
        json!({ "policy": "path \"secret/*\" { capabilities = [\"read\"] }" }),
    )
    .await;
    bao_call(
        &bao,
        "auth/kubernetes/role/keyward",
        json!({
            "bound_service_account_names": ["reader"],
            "bound_service_account_namespaces": [NAMESPACE],
            "audience": "vault",
            "token_policies": ["reader"],
        }),
    )
    .await;
    bao_call(
        &bao,
        "secret/data/app",
        json!({ "data": { "db": "via-token-request" } }),
    )
    .await;

    let credentials = ClusterCredentials::new(client.clone());
    let build = |kubernetes_auth: Value| {
        let spec = ProviderSpec(BTreeMap::from([(
            "vault".to_owned(),
            json!({
                "server": bao.address(), "path": "secret", "version": "v2",
                "auth": { "kubernetes": kubernetes_auth }
            }),
        )]));
        registry::build(
            StoreId::namespaced("apps", "vault"),
            &spec,
            NAMESPACE,
            Arc::new(credentials.clone()),
        )
        .expect("valid")
    };
    let by_account = build(json!({"role": "keyward", "serviceAccountRef": {"name": "reader"}}));
    assert_eq!(read_db(by_account.as_ref()).await, "via-token-request");

    // The same login with a token kept in a Secret (`secretRef`).
    let token = credentials
        .service_account_token(&account("reader"), NAMESPACE, &["vault".to_owned()])
        .await
        .expect("token");
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("reader-jwt".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "token".to_owned(),
            ByteString(token.expose_bytes().to_vec()),
        )])),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &secret)
        .await
        .expect("secret");
    let by_secret =
        build(json!({"role": "keyward", "secretRef": {"name": "reader-jwt", "key": "token"}}));
    assert_eq!(read_db(by_secret.as_ref()).await, "via-token-request");

    let ghost = build(json!({"role": "keyward", "serviceAccountRef": {"name": "ghost"}}));
    let refused = ghost.fetch("app", None).await.expect_err("no such account");
    assert!(
        refused.to_string().contains("ServiceAccount apps/ghost"),
        "{refused}"
    );
}

/// The `db` property of the Vault secret `app`.
async fn read_db(provider: &dyn Provider) -> String {
    let fetched = provider.fetch("app", None).await.expect("read after login");
    let db = value::select(&fetched, Some("db"), "s", "k").expect("db");
    db.expose_str().expect("utf-8").to_owned()
}

#[tokio::test]
async fn aws_irsa_with_a_requested_token() {
    let role = "arn:aws:iam::123456789012:role/keyward-irsa";
    let (_cluster, client) = cluster_with(&[
        ("irsa", &[("eks.amazonaws.com/role-arn", role)]),
        ("plain", &[]),
    ])
    .await;
    let moto = Moto::start().await.expect("moto");
    let admin = aws_sdk_secretsmanager::Client::new(&moto.admin_config().await);
    admin
        .create_secret()
        .name("db")
        .secret_string("via-irsa-token-request")
        .send()
        .await
        .expect("seed");
    let provider = |account: &str| {
        let config: AwsConfig = serde_json::from_value(json!({
            "service": "SecretsManager", "region": MOTO_REGION,
            "auth": { "jwt": { "serviceAccountRef": { "name": account } } }
        }))
        .expect("config");
        AwsProvider::new(
            StoreId::namespaced("apps", "aws"),
            config,
            NAMESPACE,
            Arc::new(ClusterCredentials::new(client.clone())),
        )
        .expect("valid")
        .with_endpoint(moto.endpoint())
    };
    let fetched = provider("irsa")
        .fetch("db", None)
        .await
        .expect("read via IRSA");
    let value = value::select(&fetched, None, "s", "db").expect("value");
    assert_eq!(value.expose_str().expect("utf-8"), "via-irsa-token-request");
    let unannotated = provider("plain")
        .fetch("db", None)
        .await
        .expect_err("no role");
    assert_eq!(
        unannotated.kind,
        ProviderErrorKind::Misconfigured,
        "{unannotated}"
    );
    assert!(
        unannotated
            .to_string()
            .contains("eks.amazonaws.com/role-arn"),
        "{unannotated}"
    );
}

#[tokio::test]
async fn azure_workload_identity_with_a_requested_token_keyward_double() {
    // Entra ID is keyward's test double (no real peer exists); the service account token is
    // real (kube-apiserver), and so is the vault (lowkey-vault).
    let Some(vault) = or_skip_unavailable(LowkeyVault::shared().await) else {
        return;
    };
    LowkeyClients::new(vault)
        .expect("SDK clients")
        .put_secret("wi-db", "via-workload-identity", &[], None)
        .await
        .expect("seed");
    let kv = KeyVaultDouble::start().await.expect("double");
    let (_cluster, client) = cluster_with(&[(
        "wi",
        &[
            ("azure.workload.identity/client-id", kv.client_id()),
            ("azure.workload.identity/tenant-id", DOUBLE_TENANT),
        ],
    )])
    .await;
    let config: AzureKvConfig = serde_json::from_value(json!({
        "vaultUrl": vault.vault_url(), "authType": "WorkloadIdentity",
        "serviceAccountRef": { "name": "wi" }
    }))
    .expect("config");
    let provider = AzureKvProvider::new(
        StoreId::namespaced("apps", "akv"),
        config,
        NAMESPACE,
        Arc::new(ClusterCredentials::new(client)),
        AzureOptions {
            authority_host: Some(kv.authority_host().to_owned()),
            imds_endpoint: None,
            extra_ca_pem: Some(format!("{}{}", kv.ca_pem(), vault.ca_pem())),
            federated_token_file: None,
        },
    )
    .expect("valid");
    let fetched = provider.fetch("wi-db", None).await.expect("read");
    let value = value::select(&fetched, None, "s", "wi-db").expect("value");
    assert_eq!(value.expose_str().expect("utf-8"), "via-workload-identity");
    let presented = kv.federated_claims();
    assert_eq!(presented.len(), 1, "one token exchange");
    assert_eq!(presented[0]["aud"], json!(["api://AzureADTokenExchange"]));
    assert_eq!(presented[0]["sub"], "system:serviceaccount:apps:wi");
}
