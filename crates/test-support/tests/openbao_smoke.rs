//! Smoke test of the OpenBao peer: a KV v2 write and read over its HTTP API.

use keyward_test_support::OpenBao;
use serde_json::{Value, json};

#[tokio::test]
async fn kv_v2_write_then_read() {
    let bao = OpenBao::start().await.expect("start openbao");
    let http = reqwest::Client::new();
    let url = format!("{}/v1/secret/data/keyward/smoke", bao.address());

    let written: Value = http
        .post(&url)
        .header("X-Vault-Token", bao.root_token())
        .json(&json!({ "data": { "username": "svc-keyward", "password": "s3cr3t-v1" } }))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("write")
        .json()
        .await
        .expect("write response");
    assert_eq!(written["data"]["version"], 1);

    let read: Value = http
        .get(&url)
        .header("X-Vault-Token", bao.root_token())
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("read")
        .json()
        .await
        .expect("read response");
    assert_eq!(read["data"]["data"]["password"], "s3cr3t-v1");
    assert_eq!(read["data"]["metadata"]["version"], 1);

    let denied = http
        .get(&url)
        .header("X-Vault-Token", "not-a-token")
        .send()
        .await
        .expect("request");
    assert_eq!(denied.status(), reqwest::StatusCode::FORBIDDEN);
}
