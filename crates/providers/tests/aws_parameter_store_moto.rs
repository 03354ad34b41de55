//! The aws provider, Parameter Store service, against moto: values, versions, tags as
//! metadata, find by name, path and tags (paged), push and delete of managed parameters only,
//! not found, and an assumed role through moto's STS.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_ssm::types::{ParameterType, Tag};
use keyward_api::{ExternalSecretFind, FindName, ProviderSpec};
use keyward_core::SecretValue;
use keyward_providers::aws::AwsConfig;
use keyward_providers::aws_ssm::ParameterStoreProvider;
use keyward_providers::{Provider, ProviderErrorKind, StaticCredentials, StoreId};
use keyward_test_support::Moto;

use crate::util::selected;

async fn admin(moto: &Moto) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&moto.admin_config().await)
}

fn provider(moto: &Moto, extra: serde_json::Value) -> ParameterStoreProvider {
    let mut config = crate::util::aws_config_json("ParameterStore");
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    let config: AwsConfig = serde_json::from_value(config).expect("config");
    ParameterStoreProvider::new(
        StoreId::namespaced("apps", "ssm"),
        config,
        "apps",
        crate::util::aws_key_credentials(),
    )
    .expect("valid")
    .with_endpoint(moto.endpoint())
}

async fn put(ssm: &aws_sdk_ssm::Client, name: &str, value: &str, tags: &[(&str, &str)]) {
    let mut request = ssm
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::SecureString);
    for (k, v) in tags {
        request = request.tags(Tag::builder().key(*k).value(*v).build().expect("tag"));
    }
    request.send().await.expect("put parameter");
}

#[tokio::test]
async fn values_versions_tags_and_find() {
    let moto = Moto::start().await.expect("moto");
    let ssm = admin(&moto).await;
    put(
        &ssm,
        "/apps/db",
        r#"{"password":"one"}"#,
        &[("team", "payments")],
    )
    .await;
    ssm.put_parameter()
        .name("/apps/db")
        .value(r#"{"password":"two"}"#)
        .overwrite(true)
        .send()
        .await
        .expect("second version");
    for i in 0..12 {
        let team = if i % 3 == 0 { "payments" } else { "search" };
        put(&ssm, &format!("/apps/p{i:02}"), "v", &[("team", team)]).await;
    }
    put(&ssm, "/other/x", "v", &[("team", "payments")]).await;
    let provider = provider(&moto, serde_json::json!({}));

    assert_eq!(
        selected(
            &provider.fetch("/apps/db", None).await.expect("current"),
            Some("password")
        ),
        "two"
    );
    assert_eq!(
        selected(
            &provider.fetch("/apps/db", Some("1")).await.expect("v1"),
            Some("password")
        ),
        "one"
    );
    assert_eq!(
        selected(
            &provider.fetch_metadata("/apps/db").await.expect("tags"),
            Some("team")
        ),
        "payments"
    );
    let missing = provider
        .fetch("/apps/nope", None)
        .await
        .expect_err("missing");
    assert_eq!(missing.kind, ProviderErrorKind::NotFound);

    let find = ExternalSecretFind {
        path: Some("/apps/".into()),
        name: Some(FindName {
            regexp: "p[0-9]+$".into(),
        }),
        tags: BTreeMap::from([("team".to_owned(), "payments".to_owned())]),
        ..ExternalSecretFind::default()
    };
    let names = provider.list(&find).await.expect("list");
    assert_eq!(names, ["/apps/p00", "/apps/p03", "/apps/p06", "/apps/p09"]);
}

#[tokio::test]
async fn push_and_delete_touch_only_managed_parameters() {
    let moto = Moto::start().await.expect("moto");
    let ssm = admin(&moto).await;
    put(&ssm, "/hand-made", "keep-me", &[]).await;
    put(
        &ssm,
        "/from-eso",
        "old",
        &[("managed-by", "external-secrets")],
    )
    .await;
    let provider = provider(&moto, serde_json::json!({}));
    let current = |name: &'static str| {
        let ssm = ssm.clone();
        async move {
            ssm.get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .ok()
                .and_then(|o| o.parameter().and_then(|p| p.value()).map(str::to_owned))
        }
    };

    provider
        .push("/pushed", &SecretValue::from("v1"), None)
        .await
        .expect("create");
    provider
        .push("/pushed", &SecretValue::from("v2"), None)
        .await
        .expect("update own");
    assert_eq!(current("/pushed").await.as_deref(), Some("v2"));
    let refused = provider
        .push("/hand-made", &SecretValue::from("x"), None)
        .await
        .expect_err("unmanaged");
    assert_eq!(refused.kind, ProviderErrorKind::PermissionDenied);
    assert_eq!(current("/hand-made").await.as_deref(), Some("keep-me"));
    provider
        .push("/from-eso", &SecretValue::from("migrated"), None)
        .await
        .expect("ESO-managed");
    assert_eq!(current("/from-eso").await.as_deref(), Some("migrated"));

    let refused = provider.delete("/hand-made").await.expect_err("unmanaged");
    assert_eq!(refused.kind, ProviderErrorKind::PermissionDenied);
    provider.delete("/pushed").await.expect("delete own");
    assert_eq!(current("/pushed").await, None);
    provider.delete("/pushed").await.expect("missing is fine");
}

#[tokio::test]
async fn an_assumed_role_reads_through_sts() {
    let moto = Moto::start().await.expect("moto");
    let ssm = admin(&moto).await;
    put(&ssm, "/apps/db", "v", &[]).await;
    let provider = provider(
        &moto,
        serde_json::json!({"role": "arn:aws:iam::123456789012:role/keyward-reader"}),
    );
    assert_eq!(
        selected(
            &provider.fetch("/apps/db", None).await.expect("via role"),
            None
        ),
        "v"
    );
}

#[test]
fn the_registry_builds_parameter_store_stores() {
    let spec = ProviderSpec(BTreeMap::from([(
        "aws".to_owned(),
        serde_json::json!({"service": "ParameterStore", "region": "eu-west-1"}),
    )]));
    let provider = keyward_providers::registry::build(
        StoreId::namespaced("apps", "ssm"),
        &spec,
        "apps",
        Arc::new(StaticCredentials::new()),
    )
    .expect("valid");
    assert!(format!("{provider:?}").contains("ParameterStoreProvider"));
}

#[tokio::test]
async fn web_identity_irsa_exchanges_a_token_at_sts() {
    let moto = Moto::start().await.expect("moto");
    let ssm = admin(&moto).await;
    put(&ssm, "/apps/db", "via-irsa", &[]).await;
    let dir = tempfile::tempdir().expect("dir");
    let token_file = dir.path().join("token");
    std::fs::write(
        &token_file,
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXBwczphcHAifQ.c2ln",
    )
    .expect("token");
    let config: AwsConfig = serde_json::from_value(serde_json::json!({
        "service": "ParameterStore", "region": "eu-west-1"
    }))
    .expect("config");
    let provider = ParameterStoreProvider::new(
        StoreId::namespaced("apps", "ssm"),
        config,
        "apps",
        Arc::new(StaticCredentials::new()),
    )
    .expect("valid")
    .with_endpoint(moto.endpoint())
    .with_web_identity(token_file, "arn:aws:iam::123456789012:role/keyward-irsa");
    assert_eq!(
        selected(
            &provider.fetch("/apps/db", None).await.expect("via IRSA"),
            None
        ),
        "via-irsa"
    );
}
