//! The aws provider (Secrets Manager) against moto: values, properties, version stages and
//! ids, tags as metadata, find by path, name and tags, not found, and static keys resolved
//! through the store credentials.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::types::Tag;
use keyward_api::{ExternalSecretFind, FindName};
use keyward_core::SecretValue;
use keyward_providers::aws::{AwsConfig, AwsProvider};
use keyward_providers::{Fetched, Provider, ProviderErrorKind, StoreId, value};
use keyward_test_support::Moto;

use crate::util::text;

async fn admin_client(moto: &Moto) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto.admin_config().await)
}

fn provider(moto: &Moto) -> AwsProvider {
    let config: AwsConfig =
        serde_json::from_value(crate::util::aws_config_json("SecretsManager")).expect("config");
    AwsProvider::new(
        StoreId::namespaced("apps", "aws"),
        config,
        "apps",
        crate::util::aws_key_credentials(),
    )
    .expect("valid")
    .with_endpoint(moto.endpoint())
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

#[tokio::test]
async fn values_versions_properties_and_tags() {
    let moto = Moto::start().await.expect("moto");
    let admin = admin_client(&moto).await;
    admin
        .create_secret()
        .name("apps/db")
        .secret_string(r#"{"user":"app","password":"old"}"#)
        .tags(tag("team", "payments"))
        .send()
        .await
        .expect("create");
    let updated = admin
        .put_secret_value()
        .secret_id("apps/db")
        .secret_string(r#"{"user":"app","password":"new"}"#)
        .send()
        .await
        .expect("update");
    let provider = provider(&moto);

    let current = provider.fetch("apps/db", None).await.expect("current");
    assert_eq!(
        text(&value::select(&current, Some("password"), "s", "k").expect("password")),
        "new"
    );
    let previous = provider
        .fetch("apps/db", Some("AWSPREVIOUS"))
        .await
        .expect("stage");
    assert_eq!(
        text(&value::select(&previous, Some("password"), "s", "k").expect("password")),
        "old"
    );
    let by_id = format!("uuid/{}", updated.version_id().expect("version id"));
    let pinned = provider
        .fetch("apps/db", Some(&by_id))
        .await
        .expect("version id");
    assert_eq!(
        text(&value::select(&pinned, Some("password"), "s", "k").expect("password")),
        "new"
    );

    let Fetched::Map(tags) = provider.fetch_metadata("apps/db").await.expect("tags") else {
        panic!("tags are a map")
    };
    assert_eq!(text(&tags["team"]), "payments");

    // DescribeSecret: versions and stages, no value.
    let described = provider.describe("apps/db", None).await.expect("describe");
    assert_eq!(described.version.as_deref(), Some(by_id.as_str()));
    assert!(
        !described.read_value && described.created.is_some(),
        "{described:?}"
    );
    let read = provider
        .fetch_versioned("apps/db", None)
        .await
        .expect("read");
    assert_eq!(
        read.version, described.version,
        "the version the read returned"
    );
    let previous = provider
        .describe("apps/db", Some("AWSPREVIOUS"))
        .await
        .expect("stage");
    assert_ne!(previous.version, described.version);
    assert!(provider.describe("apps/db", Some(&by_id)).await.is_ok());
    for (key, version) in [
        ("apps/db", Some("uuid/00000000-0000-0000-0000-000000000000")),
        ("apps/db", Some("NOSTAGE")),
        ("apps/nope", None),
    ] {
        let error = provider.describe(key, version).await.expect_err("missing");
        assert_eq!(
            error.kind,
            ProviderErrorKind::NotFound,
            "{key} {version:?}: {error}"
        );
    }
    let missing = provider
        .fetch("apps/nope", None)
        .await
        .expect_err("missing");
    assert_eq!(missing.kind, ProviderErrorKind::NotFound);
    assert!(missing.to_string().contains("apps/nope"), "{missing}");
}

#[tokio::test]
async fn find_by_path_name_and_tags() {
    let moto = Moto::start().await.expect("moto");
    let admin = admin_client(&moto).await;
    for (name, team) in [("apps/a", "x"), ("apps/b", "y"), ("other/c", "x")] {
        admin
            .create_secret()
            .name(name)
            .secret_string("v")
            .tags(tag("team", team))
            .send()
            .await
            .expect("create");
    }
    let provider = provider(&moto);
    let by_path = ExternalSecretFind {
        path: Some("apps/".into()),
        ..ExternalSecretFind::default()
    };
    assert_eq!(
        provider.list(&by_path).await.expect("list"),
        ["apps/a", "apps/b"]
    );
    let by_name = ExternalSecretFind {
        name: Some(FindName {
            regexp: "c$".into(),
        }),
        ..ExternalSecretFind::default()
    };
    assert_eq!(provider.list(&by_name).await.expect("list"), ["other/c"]);
    let by_tag = ExternalSecretFind {
        tags: BTreeMap::from([("team".to_owned(), "x".to_owned())]),
        ..ExternalSecretFind::default()
    };
    assert_eq!(
        provider.list(&by_tag).await.expect("list"),
        ["apps/a", "other/c"]
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_reported_as_such() {
    let moto = Moto::start().await.expect("moto");
    let unreachable = format!(
        "http://127.0.0.1:{}",
        keyward_test_support::free_port().expect("port")
    );
    let provider = provider(&moto).with_endpoint(&unreachable);
    let error = provider
        .fetch("apps/db", None)
        .await
        .expect_err("unreachable");
    assert_eq!(error.kind, ProviderErrorKind::Unreachable, "{error}");
}

#[tokio::test]
async fn push_and_delete_touch_only_managed_secrets() {
    let moto = Moto::start().await.expect("moto");
    let admin = admin_client(&moto).await;
    admin
        .create_secret()
        .name("hand-made")
        .secret_string("keep-me")
        .send()
        .await
        .expect("create");
    admin
        .create_secret()
        .name("from-eso")
        .secret_string("old")
        .tags(tag("managed-by", "external-secrets"))
        .send()
        .await
        .expect("create");
    let provider = provider(&moto);
    let current = |name: &'static str| {
        let admin = admin.clone();
        async move {
            admin
                .get_secret_value()
                .secret_id(name)
                .send()
                .await
                .ok()
                .and_then(|o| o.secret_string().map(str::to_owned))
        }
    };

    provider
        .push("pushed", &SecretValue::from("v1"), None)
        .await
        .expect("create");
    provider
        .push("pushed", &SecretValue::from("v2"), None)
        .await
        .expect("update own");
    assert_eq!(current("pushed").await.as_deref(), Some("v2"));
    let tags = admin
        .describe_secret()
        .secret_id("pushed")
        .send()
        .await
        .expect("describe");
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == Some("managed-by") && t.value() == Some("keyward"))
    );

    let refused = provider
        .push("hand-made", &SecretValue::from("overwrite"), None)
        .await
        .expect_err("unmanaged");
    assert_eq!(refused.kind, ProviderErrorKind::PermissionDenied);
    assert_eq!(current("hand-made").await.as_deref(), Some("keep-me"));
    provider
        .push("from-eso", &SecretValue::from("migrated"), None)
        .await
        .expect("ESO-managed");
    assert_eq!(current("from-eso").await.as_deref(), Some("migrated"));

    let refused = provider.delete("hand-made").await.expect_err("unmanaged");
    assert_eq!(refused.kind, ProviderErrorKind::PermissionDenied);
    provider.delete("pushed").await.expect("delete own");
    assert_eq!(current("pushed").await, None);
    provider.delete("pushed").await.expect("missing is fine");
}
