//! `keyward rotate` on a host against the real stores: OpenBao (a property of a KV v2 secret,
//! custom metadata) and moto (a whole Secrets Manager secret). A rotation writes a new store
//! version, the projection follows, the consumer hook runs, and the audit log records every
//! step; a key the store does not mark as keyward's is refused until --force; --dry-run
//! changes nothing; a projection that cannot be written puts the previous value back as the
//! store's current version and leaves the projection as it was. The planted value appears in
//! no output, log (trace) or audit entry.

use crate::util::{
    Scratch, command_in, everything, fails_with, ok, openbao_and_moto_stores, stderr, stdout,
    with_stdin,
};
use keyward_test_support::{Moto, OpenBao};

const CANARY: &str = "kw-canary-rotate-5d1c";
const OLD: &str = "old-password-1";

fn bao_request(bao: &OpenBao, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("{}/v1/secret/{path}", bao.address()))
        .header("X-Vault-Token", bao.root_token())
}

async fn bao_get(bao: &OpenBao, path: &str) -> serde_json::Value {
    bao_request(bao, reqwest::Method::GET, path)
        .send()
        .await
        .expect("read OpenBao")
        .json()
        .await
        .expect("json")
}

/// The current data of `apps/db` and its current version.
async fn bao_current(bao: &OpenBao) -> (serde_json::Value, u64) {
    let body = bao_get(bao, "data/apps/db").await;
    let version = body
        .pointer("/data/metadata/version")
        .and_then(serde_json::Value::as_u64)
        .expect("version");
    (body["data"]["data"].clone(), version)
}

/// The stores, and two ExternalSecrets: `apps/db` reads two properties of an OpenBao
/// secret, `apps/api` a whole Secrets Manager secret.
const EXTERNAL_SECRETS: &str = r#"
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: db, namespace: apps}
spec:
  secretStoreRef: {name: vault}
  data:
    - {secretKey: password, remoteRef: {key: apps/db, property: password}}
    - {secretKey: user, remoteRef: {key: apps/db, property: user}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: api, namespace: apps}
spec:
  secretStoreRef: {name: aws}
  data:
    - {secretKey: token, remoteRef: {key: apps/api}}
"#;

fn scratch_for(bao: &OpenBao) -> Scratch {
    let scratch = Scratch::new();
    scratch.write_store_credentials(bao.root_token());
    let manifests = openbao_and_moto_stores(bao.address()) + EXTERNAL_SECRETS;
    scratch.write("m/all.yaml", &manifests);
    scratch
}

fn rotate(scratch: &Scratch, moto: &Moto, args: &[&str]) -> std::process::Command {
    let mut command = command_in(
        scratch.path(),
        &["--log-level", "trace", "rotate", "-f", "m"],
    );
    command
        .args(args)
        .args([
            "--credentials-dir",
            "creds",
            "--out",
            "out",
            "--state-dir",
            "state",
        ])
        .env("AWS_ENDPOINT_URL", moto.endpoint());
    command
}

/// Asserts exit `code` (with a trace log on stderr) and returns keyward's error line.
fn failed(output: &std::process::Output, code: i32) -> String {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{text}");
    let errors: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("keyward: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {text}");
    errors[0].to_owned()
}

fn no_canary(output: &std::process::Output) {
    assert!(
        !everything(output).contains(CANARY),
        "the canary leaked: {}",
        everything(output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_on_openbao_writes_a_version_follows_restarts_and_audits() {
    let bao = OpenBao::start().await.expect("openbao");
    let moto = Moto::start().await.expect("moto");
    let seeded = bao_request(&bao, reqwest::Method::POST, "data/apps/db")
        .json(&serde_json::json!({"data": {"password": OLD, "user": "app"}}))
        .send()
        .await
        .expect("seed");
    assert!(seeded.status().is_success());
    let scratch = scratch_for(&bao);
    // apps/api is not in moto here: that ExternalSecret fails (exit 20), apps/db syncs.
    let first = command_in(
        scratch.path(),
        &[
            "sync",
            "-f",
            "m",
            "--credentials-dir",
            "creds",
            "--out",
            "out",
            "--state-dir",
            "state",
        ],
    )
    .env("AWS_ENDPOINT_URL", moto.endpoint())
    .output()
    .expect("sync");
    assert_eq!(first.status.code(), Some(20), "{}", everything(&first));
    assert_eq!(scratch.read("out/apps/db/password"), OLD);

    // A person created the key: keyward refuses to write it (exit 20), and changes nothing.
    let refused = with_stdin(
        rotate(
            &scratch,
            &moto,
            &["--secret", "apps/db", "--key", "password", "--from-stdin"],
        ),
        format!("{CANARY}\n").as_bytes(),
    );
    let message = failed(&refused, 20);
    assert!(message.contains("managed-by=keyward"), "{message}");
    no_canary(&refused);
    assert_eq!(bao_current(&bao).await.1, 1);
    assert_eq!(scratch.read("out/apps/db/password"), OLD);

    // --dry-run says what it would do and does nothing.
    let dry = rotate(
        &scratch,
        &moto,
        &[
            "--secret",
            "apps/db",
            "--key",
            "password",
            "--generate",
            "--force",
            "--dry-run",
        ],
    )
    .output()
    .expect("dry run");
    let plan = ok(&dry);
    assert!(
        plan.contains("would write a new version of apps/db property password in SecretStore/apps/vault, tagging it managed-by=keyward first"),
        "{plan}"
    );
    assert_eq!(bao_current(&bao).await.1, 1);
    assert!(
        bao_get(&bao, "metadata/apps/db").await["data"]["custom_metadata"].is_null(),
        "dry run tagged the key"
    );

    // --force takes the key over, writes version 2, the projection follows, the hook runs.
    let rotated = with_stdin(
        rotate(
            &scratch,
            &moto,
            &[
                "--secret",
                "apps/db",
                "--key",
                "password",
                "--from-stdin",
                "--force",
                "--audit-log",
                "audit.jsonl",
                "--on-change",
                "printf '%s' \"$KEYWARD_CHANGED\" > restarted",
            ],
        ),
        format!("{CANARY}\n").as_bytes(),
    );
    let report = ok(&rotated);
    no_canary(&rotated);
    assert!(report.contains("store        ok     new value of apps/db property password written to SecretStore/apps/vault (version 2)"), "{report}");
    let (data, version) = bao_current(&bao).await;
    assert_eq!(version, 2);
    assert_eq!(data, serde_json::json!({"password": CANARY, "user": "app"}));
    assert_eq!(
        bao_get(&bao, "metadata/apps/db").await["data"]["custom_metadata"]["managed-by"],
        "keyward"
    );
    assert_eq!(scratch.read("out/apps/db/password"), CANARY);
    assert_eq!(scratch.read("out/apps/db/user"), "app");
    assert!(
        scratch.read("restarted").ends_with("out/apps/db"),
        "{}",
        scratch.read("restarted")
    );

    // The audit log holds each step, no value, and verifies.
    let audit = scratch.read("audit.jsonl");
    assert!(!audit.contains(CANARY), "the canary is in the audit log");
    for event in [
        "rotation.adopt",
        "rotation.store",
        "store.read",
        "projection.written",
        "rotation.projection",
        "rotation.consumers",
    ] {
        assert!(
            audit.contains(&format!("\"event\":\"{event}\"")),
            "{event} missing: {audit}"
        );
    }
    assert!(audit.contains("\"version\":\"2\""), "{audit}");
    let public = ok(&scratch.keyward(&["audit", "key", "--state-dir", "state"]))
        .trim()
        .to_owned();
    ok(&scratch.keyward(&["audit", "verify", "audit.jsonl", "--key", &public]));

    // The key is keyward's now: a generated password rotates it without --force, and JSON
    // output reports the steps.
    let generated = rotate(
        &scratch,
        &moto,
        &[
            "--secret",
            "apps/db",
            "--key",
            "password",
            "--generate",
            "--length",
            "40",
        ],
    )
    .arg("--output")
    .arg("json")
    .output()
    .expect("generate");
    let json: serde_json::Value = serde_json::from_str(ok(&generated).trim()).expect("json report");
    assert_eq!(json["rotated"], true, "{json}");
    let (data, version) = bao_current(&bao).await;
    assert_eq!(version, 3);
    let password = data["password"].as_str().expect("password");
    assert_eq!(password.len(), 40);
    assert!(!stdout(&generated).contains(password) && !everything(&generated).contains(password));
    assert_eq!(scratch.read("out/apps/db/password"), password);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_that_cannot_follow_puts_the_previous_value_back() {
    let bao = OpenBao::start().await.expect("openbao");
    let moto = Moto::start().await.expect("moto");
    let seeded = bao_request(&bao, reqwest::Method::POST, "data/apps/db")
        .json(&serde_json::json!({"data": {"password": OLD, "user": "app"}}))
        .send()
        .await
        .expect("seed");
    assert!(seeded.status().is_success());
    let scratch = scratch_for(&bao);
    // The target's namespace directory is a file: the projection cannot be written.
    scratch.write("out/apps", "not a directory");

    let failed_run = with_stdin(
        rotate(
            &scratch,
            &moto,
            &[
                "--secret",
                "apps/db",
                "--key",
                "password",
                "--from-stdin",
                "--force",
                "--audit-log",
                "audit.jsonl",
            ],
        ),
        CANARY.as_bytes(),
    );
    let message = failed(&failed_run, 30);
    assert!(
        message.contains("the store's previous value is its current version again"),
        "{message}"
    );
    no_canary(&failed_run);
    // Version 2 held the canary, version 3 holds the old value again.
    let (data, version) = bao_current(&bao).await;
    assert_eq!(version, 3);
    assert_eq!(data, serde_json::json!({"password": OLD, "user": "app"}));
    assert_eq!(scratch.read("out/apps"), "not a directory");
    let audit = scratch.read("audit.jsonl");
    assert!(
        audit.contains("\"event\":\"rotation.restore\"") && !audit.contains(CANARY),
        "{audit}"
    );

    // A value over 1 MiB is refused whole, not cut to size.
    let mut huge = command_in(
        scratch.path(),
        &[
            "rotate",
            "-f",
            "m",
            "--credentials-dir",
            "creds",
            "--secret",
            "apps/db",
        ],
    );
    huge.args(["--key", "password", "--from-stdin"]);
    let huge = with_stdin(huge, &vec![b'x'; (1 << 20) + 1]);
    let message = fails_with(&huge, 2, "a value over 1 MiB");
    assert!(message.contains("larger than 1 MiB"), "{message}");
    assert_eq!(bao_current(&bao).await.1, 3);

    // What cannot be rotated says why, with exit 11.
    for (args, why) in [
        (
            vec!["--secret", "apps/db", "--generate"],
            "several data entries (password, user): choose one with --key",
        ),
        (
            vec!["--secret", "apps/nope", "--generate"],
            "no ExternalSecret apps/nope",
        ),
        (
            vec!["--secret", "apps/db", "--key", "nope", "--generate"],
            "has no data entry with secretKey nope",
        ),
    ] {
        let output = command_in(
            scratch.path(),
            &["rotate", "-f", "m", "--credentials-dir", "creds"],
        )
        .args(&args)
        .output()
        .expect("run");
        let message = fails_with(&output, 11, why);
        assert!(message.contains(why), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_on_moto_writes_a_new_secrets_manager_version() {
    let bao = OpenBao::start().await.expect("openbao");
    let moto = Moto::start().await.expect("moto");
    let client = aws_sdk_secretsmanager::Client::new(&moto.admin_config().await);
    client
        .create_secret()
        .name("apps/api")
        .secret_string(OLD)
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("managed-by")
                .value("keyward")
                .build(),
        )
        .send()
        .await
        .expect("seed moto");
    let scratch = scratch_for(&bao);
    let rotated = with_stdin(
        rotate(&scratch, &moto, &["--secret", "apps/api", "--from-stdin"]),
        CANARY.as_bytes(),
    );
    let report = ok(&rotated);
    no_canary(&rotated);
    assert!(
        report.contains("new value of apps/api written to SecretStore/apps/aws (version "),
        "{report}"
    );
    let current = client
        .get_secret_value()
        .secret_id("apps/api")
        .send()
        .await
        .expect("read moto");
    assert_eq!(current.secret_string(), Some(CANARY));
    let versions = client
        .list_secret_version_ids()
        .secret_id("apps/api")
        .send()
        .await
        .expect("versions");
    assert_eq!(versions.versions().len(), 2);
    assert_eq!(scratch.read("out/apps/api/token"), CANARY);
}
