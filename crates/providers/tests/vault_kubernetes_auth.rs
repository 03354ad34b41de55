//! The vault provider's Kubernetes auth against real peers: OpenBao's kubernetes auth method
//! reviews a real kube-apiserver service account token (TokenReview) before keyward reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use keyward_api::ProviderSpec;
use keyward_core::SecretValue;
use keyward_providers::{StaticCredentials, StoreId, registry, value};
use keyward_test_support::{Kubernetes, OpenBao};
use kube::api::{Api, ObjectMeta, PostParams};
use serde_json::{Value, json};

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

async fn service_account_token(cluster: &Kubernetes) -> String {
    let client = cluster.admin_client().await.expect("admin client");
    let accounts: Api<ServiceAccount> = Api::namespaced(client, "default");
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("keyward".into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    accounts
        .create(&PostParams::default(), &account)
        .await
        .expect("service account");
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: None,
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    accounts
        .create_token_request("keyward", &PostParams::default(), &request)
        .await
        .expect("token request")
        .status
        .and_then(|status| status.token)
        .expect("token")
}

#[tokio::test]
async fn kubernetes_auth_logs_in_with_a_reviewed_service_account_token() {
    let cluster = Kubernetes::start().await.expect("cluster");
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
            "bound_service_account_names": ["keyward"],
            "bound_service_account_namespaces": ["default"],
            "token_policies": ["reader"],
        }),
    )
    .await;
    bao_call(
        &bao,
        "secret/data/app",
        json!({ "data": { "db": "via-k8s-auth" } }),
    )
    .await;

    let mut credentials = StaticCredentials::new();
    let jwt = service_account_token(&cluster).await;
    credentials.insert("apps", "sa-jwt", "token", SecretValue::from(jwt));
    let spec = ProviderSpec(BTreeMap::from([(
        "vault".to_owned(),
        json!({
            "server": bao.address(), "path": "secret", "version": "v2",
            "auth": { "kubernetes": { "role": "keyward",
                      "secretRef": { "name": "sa-jwt", "key": "token" } } }
        }),
    )]));
    let provider = registry::build(
        StoreId("SecretStore/apps/vault".into()),
        &spec,
        "apps",
        Arc::new(credentials),
    )
    .expect("valid");
    let fetched = provider.fetch("app", None).await.expect("read after login");
    let db = value::select(&fetched, Some("db"), "s", "k").expect("db");
    assert_eq!(db.expose_str().expect("utf-8"), "via-k8s-auth");
}
