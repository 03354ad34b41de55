//! The kubernetes provider against a real kube-apiserver: Secret data and properties, labels
//! and annotations as metadata, find by name and labels, a bad token, not found, and
//! `auth.serviceAccount` (a requested token, with RBAC deciding).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use keyward_api::{ExternalSecretFind, FindName};
use keyward_core::SecretValue;
use keyward_providers::kubernetes::{KubernetesConfig, KubernetesProvider};
use keyward_providers::{
    ClusterCredentials, Fetched, Provider, ProviderErrorKind, StaticCredentials, StoreId, value,
};
use keyward_test_support::Kubernetes;

use crate::util::text;
use kube::api::{Api, ObjectMeta, PostParams};

async fn admin(cluster: &Kubernetes) -> kube::Client {
    cluster.admin_client().await.expect("admin client")
}

async fn create(api: &Api<Secret>, name: &str, team: &str, data: &[(&str, &str)]) {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("team".to_owned(), team.to_owned())])),
            annotations: Some(BTreeMap::from([(
                "owner".to_owned(),
                "platform".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    };
    api.create(&PostParams::default(), &secret)
        .await
        .expect("create secret");
}

fn provider(cluster: &Kubernetes, token: &str) -> KubernetesProvider {
    let mut credentials = StaticCredentials::new();
    credentials.insert("apps", "remote-cluster", "token", SecretValue::from(token));
    let config: KubernetesConfig = serde_json::from_value(serde_json::json!({
        "server": {
            "url": cluster.server(),
            "caBundle": base64::engine::general_purpose::STANDARD.encode(cluster.ca_pem()),
        },
        "auth": { "token": { "bearerToken": { "name": "remote-cluster", "key": "token" } } },
        "remoteNamespace": "default",
    }))
    .expect("config");
    KubernetesProvider::new(
        StoreId::namespaced("apps", "remote"),
        config,
        "apps",
        Arc::new(credentials),
    )
    .expect("valid")
}

#[tokio::test]
async fn reads_secrets_metadata_and_finds_them() {
    let cluster = Kubernetes::start().await.expect("cluster");
    let api: Api<Secret> = Api::namespaced(admin(&cluster).await, "default");
    create(
        &api,
        "db-credentials",
        "payments",
        &[("user", "app"), ("password", "p4ss")],
    )
    .await;
    create(&api, "api-token", "payments", &[("token", "t")]).await;
    create(&api, "other", "search", &[("x", "y")]).await;
    let provider = provider(&cluster, cluster.admin_token());

    let fetched = provider.fetch("db-credentials", None).await.expect("fetch");
    assert_eq!(
        text(&value::select(&fetched, Some("password"), "s", "k").expect("password")),
        "p4ss"
    );
    let Fetched::Map(map) = &fetched else {
        panic!("a Secret is a map")
    };
    assert_eq!(map.len(), 2);

    let metadata = provider
        .fetch_metadata("db-credentials")
        .await
        .expect("metadata");
    assert_eq!(
        text(&value::select(&metadata, Some("labels.team"), "s", "k").expect("label")),
        "payments"
    );

    let by_label = ExternalSecretFind {
        tags: BTreeMap::from([("team".to_owned(), "payments".to_owned())]),
        ..ExternalSecretFind::default()
    };
    assert_eq!(
        provider.list(&by_label).await.expect("list"),
        ["api-token", "db-credentials"]
    );
    let by_name = ExternalSecretFind {
        name: Some(FindName {
            regexp: "^db-".into(),
        }),
        ..ExternalSecretFind::default()
    };
    assert_eq!(
        provider.list(&by_name).await.expect("list"),
        ["db-credentials"]
    );

    let described = provider
        .describe("db-credentials", None)
        .await
        .expect("describe");
    assert!(described.version.is_some() && described.created.is_some());
    let read = provider
        .fetch_versioned("db-credentials", None)
        .await
        .expect("read");
    assert_eq!(read.version, described.version, "resourceVersion");
    assert!(!described.read_value);
    let missing = provider.describe("nope", None).await.expect_err("missing");
    assert_eq!(missing.kind, ProviderErrorKind::NotFound);
    let missing = provider.fetch("nope", None).await.expect_err("missing");
    assert_eq!(missing.kind, ProviderErrorKind::NotFound);
}

/// A provider authenticating as the service account `apps/NAME` (`auth.serviceAccount`),
/// its token requested through the admin's credentials.
fn service_account_provider(
    cluster: &Kubernetes,
    admin: kube::Client,
    name: &str,
) -> KubernetesProvider {
    let config: KubernetesConfig = serde_json::from_value(serde_json::json!({
        "server": {
            "url": cluster.server(),
            "caBundle": base64::engine::general_purpose::STANDARD.encode(cluster.ca_pem()),
        },
        "auth": { "serviceAccount": { "name": name } },
        "remoteNamespace": "default",
    }))
    .expect("config");
    KubernetesProvider::new(
        StoreId::namespaced("apps", "remote"),
        config,
        "apps",
        Arc::new(ClusterCredentials::new(admin)),
    )
    .expect("valid")
}

/// `apps/reader` may read Secrets of `default` (RBAC); `apps/stranger` may not.
async fn service_accounts(cluster: &Kubernetes, admin: &kube::Client) {
    cluster
        .create_service_accounts("apps", &[("reader", &[]), ("stranger", &[])])
        .await
        .expect("service accounts");
    let role = Role {
        metadata: ObjectMeta {
            name: Some("secret-reader".into()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["secrets".into()]),
            verbs: vec!["get".into(), "list".into()],
            ..PolicyRule::default()
        }]),
    };
    Api::<Role>::namespaced(admin.clone(), "default")
        .create(&PostParams::default(), &role)
        .await
        .expect("role");
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some("reader-reads-secrets".into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: "secret-reader".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: "reader".into(),
            namespace: Some("apps".into()),
            ..Subject::default()
        }]),
    };
    Api::<RoleBinding>::namespaced(admin.clone(), "default")
        .create(&PostParams::default(), &binding)
        .await
        .expect("role binding");
}

#[tokio::test]
async fn bad_tokens_are_denied_and_service_accounts_authenticate() {
    let cluster = Kubernetes::start().await.expect("cluster");
    let provider = provider(&cluster, "not-a-valid-token");
    let error = provider.fetch("anything", None).await.expect_err("denied");
    assert_eq!(error.kind, ProviderErrorKind::PermissionDenied, "{error}");
    assert!(!error.to_string().contains("not-a-valid-token"), "{error}");

    let admin = admin(&cluster).await;
    service_accounts(&cluster, &admin).await;
    create(
        &Api::namespaced(admin.clone(), "default"),
        "db-credentials",
        "payments",
        &[("password", "via-service-account")],
    )
    .await;
    let reader = service_account_provider(&cluster, admin.clone(), "reader");
    let fetched = reader
        .fetch("db-credentials", None)
        .await
        .expect("the reader's token reads");
    let password = value::select(&fetched, Some("password"), "s", "k").expect("password");
    assert_eq!(text(&password), "via-service-account");
    let stranger = service_account_provider(&cluster, admin, "stranger");
    let refused = stranger
        .fetch("db-credentials", None)
        .await
        .expect_err("RBAC refuses the stranger");
    assert_eq!(
        refused.kind,
        ProviderErrorKind::PermissionDenied,
        "{refused}"
    );
}

#[tokio::test]
async fn push_and_delete_touch_only_managed_secrets() {
    let cluster = Kubernetes::start().await.expect("cluster");
    let api: Api<Secret> = Api::namespaced(admin(&cluster).await, "default");
    create(&api, "hand-made", "payments", &[("keep", "me")]).await;
    let provider = provider(&cluster, cluster.admin_token());

    let metadata = serde_json::json!({"property": "password"});
    provider
        .push("pushed", &SecretValue::from("p1"), Some(&metadata))
        .await
        .expect("create");
    provider
        .push("pushed", &SecretValue::from("p2"), Some(&metadata))
        .await
        .expect("update own");
    let Fetched::Map(data) = provider.fetch("pushed", None).await.expect("read") else {
        panic!("a Secret is a map")
    };
    assert_eq!(data.get("password").map(text).as_deref(), Some("p2"));
    let created = api.get("pushed").await.expect("get");
    assert_eq!(
        created
            .metadata
            .labels
            .and_then(|l| l.get("app.kubernetes.io/managed-by").cloned())
            .as_deref(),
        Some("keyward")
    );

    let refused = provider
        .push("hand-made", &SecretValue::from("x"), None)
        .await
        .expect_err("unmanaged");
    assert_eq!(refused.kind, ProviderErrorKind::PermissionDenied);
    let refused = provider.delete("hand-made").await.expect_err("unmanaged");
    assert_eq!(refused.kind, ProviderErrorKind::PermissionDenied);
    assert!(api.get_opt("hand-made").await.expect("get").is_some());

    provider.delete("pushed").await.expect("delete own");
    assert!(api.get_opt("pushed").await.expect("get").is_none());
    provider.delete("pushed").await.expect("missing is fine");
}
