//! The vault provider against a real OpenBao: KV v2 and v1, versions, properties, metadata,
//! find, token and AppRole login, errors; and the call discipline through a 127.0.0.1 proxy
//! that injects 429s with Retry-After and dropped connections.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use keyward_api::{ExternalSecretFind, FindName, ProviderSpec};
use keyward_core::SecretValue;
use keyward_providers::{
    CallCounters, DisciplineConfig, Disciplined, Fetched, Provider, ProviderErrorKind,
    StaticCredentials, StoreId, registry, value,
};
use keyward_test_support::OpenBao;

use crate::util::text;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

const CANARY: &str = "kw-canary-41d7-vault-value";

struct Bao {
    server: OpenBao,
    http: reqwest::Client,
}

impl Bao {
    async fn start() -> Self {
        Self {
            server: OpenBao::start().await.expect("start openbao"),
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}/v1/{path}", self.server.address()))
            .header("X-Vault-Token", self.server.root_token());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    async fn put_v2(&self, path: &str, data: Value) {
        self.call(
            reqwest::Method::POST,
            &format!("secret/data/{path}"),
            Some(json!({ "data": data })),
        )
        .await;
    }
}

fn credentials_with_token(token: &str) -> Arc<StaticCredentials> {
    let mut credentials = StaticCredentials::new();
    credentials.insert("apps", "vault-token", "token", SecretValue::from(token));
    Arc::new(credentials)
}

fn token_store(address: &str, extra: Value) -> ProviderSpec {
    let mut config = json!({
        "server": address,
        "path": "secret",
        "version": "v2",
        "auth": { "tokenSecretRef": { "name": "vault-token", "key": "token" } }
    });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    ProviderSpec(BTreeMap::from([("vault".to_owned(), config)]))
}

fn build(spec: &ProviderSpec, credentials: Arc<StaticCredentials>) -> Box<dyn Provider> {
    registry::build(
        StoreId::namespaced("apps", "vault"),
        spec,
        "apps",
        credentials,
    )
    .expect("valid store")
}

#[tokio::test]
async fn reads_versions_properties_and_metadata_from_kv_v2() {
    let bao = Bao::start().await;
    bao.put_v2(
        "apps/db",
        json!({ "user": "app", "password": "v1-pass", "cfg": { "port": 5432 } }),
    )
    .await;
    bao.put_v2(
        "apps/db",
        json!({ "user": "app", "password": CANARY, "cfg": { "port": 5433 } }),
    )
    .await;
    bao.call(
        reqwest::Method::POST,
        "secret/metadata/apps/db",
        Some(json!({ "custom_metadata": { "team": "payments", "env": "prod" } })),
    )
    .await;
    let provider = build(
        &token_store(bao.server.address(), json!({})),
        credentials_with_token(bao.server.root_token()),
    );

    let current = provider.fetch("apps/db", None).await.expect("current");
    assert_eq!(
        text(&value::select(&current, Some("password"), "s", "k").expect("password")),
        CANARY
    );
    assert_eq!(
        text(&value::select(&current, Some("cfg.port"), "s", "k").expect("nested")),
        "5433"
    );
    let old = provider
        .fetch("apps/db", Some("1"))
        .await
        .expect("version 1");
    assert_eq!(
        text(&value::select(&old, Some("password"), "s", "k").expect("password")),
        "v1-pass"
    );
    // With the mount in the key, as many ESO manifests write it.
    assert!(provider.fetch("secret/apps/db", None).await.is_ok());
    assert!(provider.fetch("secret/data/apps/db", None).await.is_ok());

    let Fetched::Map(metadata) = provider.fetch_metadata("apps/db").await.expect("metadata") else {
        panic!("metadata is a map")
    };
    assert_eq!(text(&metadata["team"]), "payments");

    // A metadata read: the current version and when it was made, no value.
    let described = provider.describe("apps/db", None).await.expect("describe");
    assert_eq!(described.version.as_deref(), Some("2"));
    assert!(!described.read_value);
    assert!(
        described
            .created
            .as_deref()
            .is_some_and(|t| t.starts_with("20")),
        "{described:?}"
    );
    let read = provider
        .fetch_versioned("apps/db", None)
        .await
        .expect("read");
    assert_eq!(
        read.version.as_deref(),
        Some("2"),
        "the version the read returned"
    );
    let pinned = provider.describe("apps/db", Some("1")).await.expect("v1");
    assert_eq!(pinned.version.as_deref(), Some("1"));
    for (key, version) in [("apps/db", Some("9")), ("apps/nope", None)] {
        let error = provider.describe(key, version).await.expect_err("missing");
        assert_eq!(error.kind, ProviderErrorKind::NotFound, "{error}");
    }

    let missing = provider
        .fetch("apps/nope", None)
        .await
        .expect_err("missing");
    assert_eq!(missing.kind, ProviderErrorKind::NotFound);
    let no_version = provider
        .fetch("apps/db", Some("9"))
        .await
        .expect_err("no such version");
    assert_eq!(no_version.kind, ProviderErrorKind::NotFound);
    let no_property =
        value::select(&current, Some("nope"), "s", "apps/db").expect_err("no property");
    assert_eq!(no_property.kind, ProviderErrorKind::NotFound);
    for error in [missing, no_version, no_property] {
        assert!(!error.to_string().contains(CANARY), "{error}");
    }
}

/// ESO's Vault provider reads a top-level key from Vault's JSON decoded with `UseNumber` (a
/// number keeps the text OpenBao sends, `null` is empty), a path with gjson, and extracts
/// through float64. OpenBao itself stores numbers as float64 (`1.50` comes back `1.5`,
/// `0.00000015` as `1.5e-7`); keyward reads the entry's own text and applies ESO's rules to
/// it.
#[tokio::test]
async fn non_string_values_are_read_as_esos_vault_provider_reads_them() {
    let bao = Bao::start().await;
    let response = bao
        .http
        .post(format!("{}/v1/secret/data/apps/numbers", bao.server.address()))
        .header("X-Vault-Token", bao.server.root_token())
        .body(r#"{"data": {"price": 1.50, "small": 0.00000015, "none": null, "deep": {"p": 2.50, "q": 1e21}}}"#)
        .send()
        .await
        .expect("seed");
    assert!(response.status().is_success(), "{}", response.status());
    let provider = build(
        &token_store(bao.server.address(), json!({})),
        credentials_with_token(bao.server.root_token()),
    );
    let fetched = provider.fetch("apps/numbers", None).await.expect("read");
    let property = |p: &str| text(&value::select(&fetched, Some(p), "s", "k").expect(p));
    assert_eq!(property("price"), "1.5");
    assert_eq!(
        property("small"),
        "1.5e-7",
        "a top-level key as OpenBao sent it"
    );
    assert_eq!(property("none"), "");
    assert_eq!(property("deep"), r#"{"p":2.5,"q":1e+21}"#);
    assert_eq!(
        property("deep.q"),
        "1000000000000000000000",
        "gjson's float text"
    );
    let extracted = value::extract(&fetched, "s", "k").expect("extract");
    assert_eq!(text(&extracted["small"]), "0.00000015", "through float64");
    assert_eq!(text(&extracted["none"]), "");
    assert_eq!(text(&extracted["deep"]), r#"{"p":2.5,"q":1e+21}"#);
}

#[tokio::test]
async fn find_by_path_name_and_tags() {
    let bao = Bao::start().await;
    for (path, team) in [
        ("apps/a", "x"),
        ("apps/b", "y"),
        ("apps/deep/c", "x"),
        ("other/d", "x"),
    ] {
        bao.put_v2(path, json!({ "v": path })).await;
        bao.call(
            reqwest::Method::POST,
            &format!("secret/metadata/{path}"),
            Some(json!({ "custom_metadata": { "team": team } })),
        )
        .await;
    }
    let provider = build(
        &token_store(bao.server.address(), json!({})),
        credentials_with_token(bao.server.root_token()),
    );
    let by_path = ExternalSecretFind {
        path: Some("apps".into()),
        ..ExternalSecretFind::default()
    };
    assert_eq!(
        provider.list(&by_path).await.expect("list"),
        ["apps/a", "apps/b", "apps/deep/c"]
    );
    let by_name = ExternalSecretFind {
        name: Some(FindName {
            regexp: "/(a|c)$".into(),
        }),
        ..ExternalSecretFind::default()
    };
    assert_eq!(
        provider.list(&by_name).await.expect("list"),
        ["apps/a", "apps/deep/c"]
    );
    let by_tag = ExternalSecretFind {
        tags: BTreeMap::from([("team".to_owned(), "x".to_owned())]),
        ..ExternalSecretFind::default()
    };
    assert_eq!(
        provider.list(&by_tag).await.expect("list"),
        ["apps/a", "apps/deep/c", "other/d"]
    );
}

#[tokio::test]
async fn kv_v1_and_approle_login() {
    let bao = Bao::start().await;
    bao.call(
        reqwest::Method::POST,
        "sys/mounts/kv1",
        Some(json!({ "type": "kv", "options": { "version": "1" } })),
    )
    .await;
    bao.call(
        reqwest::Method::POST,
        "kv1/app",
        Some(json!({ "token": "t-1" })),
    )
    .await;
    bao.call(
        reqwest::Method::POST,
        "sys/auth/approle",
        Some(json!({ "type": "approle" })),
    )
    .await;
    bao.call(
        reqwest::Method::POST,
        "sys/policies/acl/read-kv1",
        Some(json!({ "policy": "path \"kv1/*\" { capabilities = [\"read\"] }" })),
    )
    .await;
    bao.call(
        reqwest::Method::POST,
        "auth/approle/role/keyward",
        Some(json!({ "token_policies": ["read-kv1"], "token_ttl": "1h" })),
    )
    .await;
    let role_id = bao
        .call(
            reqwest::Method::GET,
            "auth/approle/role/keyward/role-id",
            None,
        )
        .await;
    let secret_id = bao
        .call(
            reqwest::Method::POST,
            "auth/approle/role/keyward/secret-id",
            None,
        )
        .await;
    let mut credentials = StaticCredentials::new();
    credentials.insert(
        "apps",
        "approle",
        "secret-id",
        SecretValue::from(secret_id["data"]["secret_id"].as_str().expect("secret id")),
    );
    let spec = ProviderSpec(BTreeMap::from([(
        "vault".to_owned(),
        json!({
            "server": bao.server.address(),
            "path": "kv1",
            "version": "v1",
            "auth": { "appRole": {
                "roleId": role_id["data"]["role_id"],
                "secretRef": { "name": "approle", "key": "secret-id" }
            } }
        }),
    )]));
    let provider = build(&spec, Arc::new(credentials));
    let fetched = provider.fetch("app", None).await.expect("approle read");
    assert_eq!(
        text(&value::select(&fetched, Some("token"), "s", "k").expect("token")),
        "t-1"
    );
    let denied = provider
        .fetch("../secret/data/x", None)
        .await
        .expect_err("outside the policy");
    assert!(
        matches!(
            denied.kind,
            ProviderErrorKind::PermissionDenied | ProviderErrorKind::NotFound
        ),
        "{denied}"
    );
}

#[tokio::test]
async fn a_bad_token_is_permission_denied_and_never_printed() {
    let bao = Bao::start().await;
    bao.put_v2("apps/db", json!({ "password": "x" })).await;
    let provider = build(
        &token_store(bao.server.address(), json!({})),
        credentials_with_token(CANARY),
    );
    let error = provider.fetch("apps/db", None).await.expect_err("denied");
    assert_eq!(error.kind, ProviderErrorKind::PermissionDenied);
    assert!(
        error.to_string().contains("SecretStore/apps/vault")
            && error.to_string().contains("apps/db"),
        "{error}"
    );
    assert!(!format!("{error} {error:?}").contains(CANARY), "{error:?}");
}

/// A 127.0.0.1 proxy in front of OpenBao: the first `throttle` connections get a 429 with
/// Retry-After, the next `drop` connections are closed at once, the rest are forwarded.
async fn chaos_proxy(upstream: String, throttle: usize, drop: usize) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let upstream = upstream.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        // Bounded: the proxy serves a fixed number of connections, then stops by itself.
        for _ in 0..200 {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let index = counter.fetch_add(1, Ordering::SeqCst);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if index < throttle {
                    let _ = client
                        .write_all(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                } else if index >= throttle + drop
                    && let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
                // Dropped connections: the client is closed without a response.
            });
        }
    });
    (address, seen)
}

#[tokio::test]
async fn throttling_and_dropped_connections_are_retried_and_counted() {
    let bao = Bao::start().await;
    bao.put_v2("apps/db", json!({ "password": "p" })).await;
    let (proxy, connections) = chaos_proxy(bao.server.address().to_owned(), 1, 1).await;
    let counters = Arc::new(CallCounters::default());
    let inner = keyward_providers::vault::VaultProvider::new(
        StoreId::namespaced("apps", "vault"),
        serde_json::from_value(json!({
            "server": proxy, "path": "secret",
            "auth": { "tokenSecretRef": { "name": "vault-token", "key": "token" } }
        }))
        .expect("config"),
        "apps",
        credentials_with_token(bao.server.root_token()),
    )
    .expect("valid");
    let provider = Disciplined::new(inner, DisciplineConfig::default(), Arc::clone(&counters));
    let fetched = provider
        .fetch("apps/db", None)
        .await
        .expect("read after retries");
    assert_eq!(
        text(&value::select(&fetched, Some("password"), "s", "k").expect("password")),
        "p"
    );
    assert_eq!(
        counters.get("vault", "GetSecret", "error"),
        2,
        "one 429 and one dropped connection"
    );
    assert_eq!(counters.get("vault", "GetSecret", "success"), 1);
    assert!(connections.load(Ordering::SeqCst) >= 3);
    // The second read within the freshness window makes no call at all.
    provider.fetch("apps/db", None).await.expect("cached");
    assert_eq!(counters.get("vault", "GetSecret", "success"), 1);
}

#[tokio::test]
async fn bad_store_configuration_fails_before_any_call() {
    let credentials: Arc<dyn keyward_providers::Credentials> = Arc::new(StaticCredentials::new());
    let spec = ProviderSpec(BTreeMap::from([(
        "vault".to_owned(),
        json!({ "server": "http://127.0.0.1:9", "auth": { "userPass": { "path": "userpass" } } }),
    )]));
    let error = registry::build(StoreId::namespaced("apps", "v"), &spec, "apps", credentials)
        .expect_err("refused");
    assert_eq!(error.kind, ProviderErrorKind::Misconfigured);
    assert!(
        error.to_string().contains("auth.userPass is not supported"),
        "{error}"
    );
}

#[tokio::test]
async fn push_and_delete_touch_only_managed_entries() {
    let bao = Bao::start().await;
    bao.put_v2("apps/hand-made", json!({ "keep": "me" })).await;
    bao.put_v2("apps/from-eso", json!({ "old": "value" })).await;
    bao.call(
        reqwest::Method::POST,
        "secret/metadata/apps/from-eso",
        Some(json!({ "custom_metadata": { "managed-by": "external-secrets" } })),
    )
    .await;
    let provider = build(
        &token_store(bao.server.address(), json!({})),
        credentials_with_token(bao.server.root_token()),
    );

    provider
        .push("apps/pushed", &SecretValue::from(r#"{"user":"app"}"#), None)
        .await
        .expect("create");
    let pushed = provider
        .fetch("apps/pushed", None)
        .await
        .expect("read back");
    assert_eq!(
        text(&value::select(&pushed, Some("user"), "s", "k").expect("user")),
        "app"
    );
    let Fetched::Map(metadata) = provider
        .fetch_metadata("apps/pushed")
        .await
        .expect("metadata")
    else {
        panic!("metadata is a map")
    };
    assert_eq!(
        metadata.get("managed-by").map(text).as_deref(),
        Some("keyward")
    );

    let refused = provider
        .push("apps/hand-made", &SecretValue::from("x"), None)
        .await
        .expect_err("unmanaged");
    assert_eq!(refused.kind, ProviderErrorKind::PermissionDenied);
    provider
        .push("apps/from-eso", &SecretValue::from("plain"), None)
        .await
        .expect("ESO-managed");
    let migrated = provider.fetch("apps/from-eso", None).await.expect("read");
    assert_eq!(
        text(&value::select(&migrated, Some("value"), "s", "k").expect("value")),
        "plain"
    );

    let refused = provider
        .delete("apps/hand-made")
        .await
        .expect_err("unmanaged");
    assert_eq!(refused.kind, ProviderErrorKind::PermissionDenied);
    assert!(provider.fetch("apps/hand-made", None).await.is_ok());
    provider.delete("apps/pushed").await.expect("delete own");
    let gone = provider
        .fetch("apps/pushed", None)
        .await
        .expect_err("deleted");
    assert_eq!(gone.kind, ProviderErrorKind::NotFound);
    provider
        .delete("apps/pushed")
        .await
        .expect("missing is fine");
}

#[tokio::test]
async fn namespaces_are_sent_with_every_call() {
    let bao = Bao::start().await;
    bao.call(
        reqwest::Method::POST,
        "sys/namespaces/team-a",
        Some(json!({})),
    )
    .await;
    let in_namespace = |path: &str| {
        bao.http
            .post(format!("{}/v1/{path}", bao.server.address()))
            .header("X-Vault-Token", bao.server.root_token())
            .header("X-Vault-Namespace", "team-a")
    };
    let mounted = in_namespace("sys/mounts/secret")
        .json(&json!({ "type": "kv", "options": { "version": "2" } }))
        .send()
        .await
        .expect("mount");
    assert!(mounted.status().is_success(), "{}", mounted.status());
    let written = in_namespace("secret/data/app")
        .json(&json!({ "data": { "who": "team-a" } }))
        .send()
        .await
        .expect("write");
    assert!(written.status().is_success(), "{}", written.status());

    let scoped = build(
        &token_store(bao.server.address(), json!({ "namespace": "team-a" })),
        credentials_with_token(bao.server.root_token()),
    );
    let fetched = scoped.fetch("app", None).await.expect("namespaced read");
    assert_eq!(
        text(&value::select(&fetched, Some("who"), "s", "k").expect("who")),
        "team-a"
    );
    let root = build(
        &token_store(bao.server.address(), json!({})),
        credentials_with_token(bao.server.root_token()),
    );
    let error = root
        .fetch("app", None)
        .await
        .expect_err("not in the root namespace");
    assert_eq!(error.kind, ProviderErrorKind::NotFound);
}
