//! `keyward check --stores-only` and `keyward check --verify --out` on a host, against the
//! real stores: OpenBao (KV v2, metadata reads) and moto (DescribeSecret). Keys and versions
//! are found without reading values; a projection is proved to match its store, told stale
//! when the store has a newer version, and told different when it was tampered with. The
//! planted value appears in no output.

use std::time::Duration;

use crate::util::{Scratch, command_in, everything, openbao_and_moto_stores, stdout};
use keyward_test_support::{Moto, OpenBao};

const CANARY: &str = "kw-canary-verify-91e2";

async fn put_bao(bao: &OpenBao, path: &str, data: serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/secret/data/{path}", bao.address()))
        .header("X-Vault-Token", bao.root_token())
        .json(&serde_json::json!({ "data": data }))
        .send()
        .await
        .expect("seed OpenBao");
    assert!(response.status().is_success(), "{}", response.status());
}

const EXTERNAL_SECRETS: &str = r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: db, namespace: apps}
spec:
  secretStoreRef: {name: vault}
  data:
    - {secretKey: password, remoteRef: {key: apps/db, property: password}}
    - {secretKey: first-password, remoteRef: {key: apps/db, property: password, version: "1"}}
  dataFrom:
    - extract: {key: apps/db}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: api, namespace: apps}
spec:
  secretStoreRef: {name: aws}
  data:
    - {secretKey: token, remoteRef: {key: apps/api}}
"#;

fn check(scratch: &Scratch, moto: &Moto, args: &[&str]) -> std::process::Output {
    let output = command_in(scratch.path(), &["--log-level", "trace", "check"])
        .args(args)
        .args(["--credentials-dir", "creds"])
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .output()
        .expect("run keyward check");
    assert!(
        !everything(&output).contains(CANARY),
        "the canary leaked: {}",
        everything(&output)
    );
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_only_and_verify_prove_keys_and_projections_on_openbao_and_moto() {
    let bao = OpenBao::start().await.expect("openbao");
    let moto = Moto::start().await.expect("moto");
    put_bao(
        &bao,
        "apps/db",
        serde_json::json!({"password": "first", "user": "app"}),
    )
    .await;
    put_bao(
        &bao,
        "apps/db",
        serde_json::json!({"password": CANARY, "user": "app"}),
    )
    .await;
    aws_sdk_secretsmanager::Client::new(&moto.admin_config().await)
        .create_secret()
        .name("apps/api")
        .secret_string(CANARY)
        .send()
        .await
        .expect("seed moto");

    let scratch = Scratch::new();
    scratch.write_store_credentials(bao.root_token());
    scratch.write("m/stores.yaml", &openbao_and_moto_stores(bao.address()));
    scratch.write("m/es.yaml", EXTERNAL_SECRETS);

    // Every key and pinned version exists, read from metadata alone.
    let found = check(&scratch, &moto, &["--stores-only", "m"]);
    let text = stdout(&found);
    assert_eq!(found.status.code(), Some(0), "{}", everything(&found));
    assert!(
        text.contains("ok       ExternalSecret apps/db (")
            && text.contains(
                "spec.data[0]: apps/db exists in SecretStore/apps/vault, version 2, created 20"
            ),
        "{text}"
    );
    assert!(
        text.contains("spec.data[1]: apps/db exists in SecretStore/apps/vault, version 1"),
        "{text}"
    );
    assert!(
        text.contains("spec.data[0]: apps/api exists in SecretStore/apps/aws, version uuid/"),
        "{text}"
    );
    assert!(
        !text.contains("was read and dropped"),
        "metadata reads only: {text}"
    );

    // A missing key and a missing version fail (exit 1), naming them; JSON says the same.
    scratch.write(
        "m/missing.yaml",
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: gone, namespace: apps}
spec:
  secretStoreRef: {name: vault}
  data:
    - {secretKey: a, remoteRef: {key: apps/nope}}
    - {secretKey: b, remoteRef: {key: apps/db, version: "9"}}
"#,
    );
    let missing = check(&scratch, &moto, &["--output", "json", "--stores-only", "m"]);
    assert_eq!(missing.status.code(), Some(1), "{}", everything(&missing));
    let report: serde_json::Value = serde_json::from_slice(&missing.stdout).expect("JSON");
    assert_eq!(report["outcome"], "unhealthy");
    let gone = report["checked"]
        .as_array()
        .expect("checked")
        .iter()
        .find(|c| c["name"] == "gone")
        .expect("gone");
    let messages: Vec<&str> = gone["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(messages[0].contains("apps/nope"), "{messages:?}");
    assert!(
        messages[1].contains("version 9 does not exist"),
        "{messages:?}"
    );
    std::fs::remove_file(scratch.join("m/missing.yaml")).expect("remove");

    // A store that cannot be reached is exit 20.
    scratch.write(
        "m2/stores.yaml",
        &openbao_and_moto_stores("http://127.0.0.1:9"),
    );
    scratch.write("m2/es.yaml", EXTERNAL_SECRETS);
    let down = check(&scratch, &moto, &["--stores-only", "m2"]);
    assert_eq!(down.status.code(), Some(20), "{}", everything(&down));
    assert!(
        stdout(&down).contains("DOWN     ExternalSecret apps/db"),
        "{}",
        stdout(&down)
    );

    // Sync, then prove the targets match their stores, key by key.
    let synced = command_in(
        scratch.path(),
        &[
            "sync",
            "-f",
            "m",
            "--out",
            "out",
            "--state-dir",
            "state",
            "--credentials-dir",
            "creds",
            "--audit-log",
            "audit.log",
        ],
    )
    .env("AWS_ENDPOINT_URL", moto.endpoint())
    .output()
    .expect("sync");
    assert!(synced.status.success(), "{}", everything(&synced));
    let verify = ["--verify", "m", "--out", "out", "--state-dir", "state"];
    let proved = check(&scratch, &moto, &verify);
    assert_eq!(proved.status.code(), Some(0), "{}", everything(&proved));
    let text = stdout(&proved);
    for key in ["password", "first-password", "user"] {
        assert!(
            text.contains(&format!(
                "ok       ExternalSecret apps/db (m/es.yaml document 1): key {key} matches the store (fingerprints from the files under --out)"
            )),
            "{key}: {text}"
        );
    }
    assert!(
        text.contains(
            "ExternalSecret apps/api (m/es.yaml document 2): key token matches the store"
        ),
        "{text}"
    );

    // The store moves on: the projection is stale until the next sync.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    put_bao(
        &bao,
        "apps/db",
        serde_json::json!({"password": "rotated", "user": "app"}),
    )
    .await;
    let stale = check(&scratch, &moto, &verify);
    assert_eq!(stale.status.code(), Some(1), "{}", everything(&stale));
    assert!(
        stdout(&stale).contains("key password is stale: the store has a newer version since 20"),
        "{}",
        stdout(&stale)
    );
    assert!(
        stdout(&stale).contains("key user matches the store"),
        "{}",
        stdout(&stale)
    );

    // Someone edits a projected file: it differs, and the store has nothing newer.
    let resynced = command_in(
        scratch.path(),
        &[
            "sync",
            "-f",
            "m",
            "--out",
            "out",
            "--state-dir",
            "state",
            "--credentials-dir",
            "creds",
            "--audit-log",
            "audit.log",
        ],
    )
    .env("AWS_ENDPOINT_URL", moto.endpoint())
    .output()
    .expect("sync");
    assert!(resynced.status.success(), "{}", everything(&resynced));
    std::fs::write(scratch.join("out/apps/db/user"), "intruder").expect("tamper");
    let differs = check(&scratch, &moto, &verify);
    assert_eq!(differs.status.code(), Some(1), "{}", everything(&differs));
    assert!(
        stdout(&differs).contains("key user differs from the store, which has nothing newer"),
        "{}",
        stdout(&differs)
    );

    evidence_folder_renders_in_chromium(&scratch, &moto);

    // Without the state directory of the sync there is no key to verify with.
    let keyless = check(
        &scratch,
        &moto,
        &["--verify", "m", "--out", "out", "--state-dir", "elsewhere"],
    );
    assert_eq!(keyless.status.code(), Some(2), "{}", everything(&keyless));
    assert!(everything(&keyless).contains("elsewhere/fingerprint.key does not exist"));
}

/// `keyward evidence` over the same manifests and targets (one tampered): the JSON says what
/// holds, and the HTML page, rendered by Chromium's headless shell, shows it, with no value
/// anywhere in the folder.
fn evidence_folder_renders_in_chromium(scratch: &Scratch, moto: &Moto) {
    let key = command_in(scratch.path(), &["audit", "key", "--state-dir", "state"])
        .output()
        .expect("audit key");
    let public = stdout(&key).trim().to_owned();
    let run = command_in(
        scratch.path(),
        &[
            "--output",
            "json",
            "evidence",
            "--out",
            "evidence",
            "-f",
            "m",
            "--sync-out",
            "out",
            "--state-dir",
            "state",
            "--credentials-dir",
            "creds",
            "--audit-log",
            "audit.log",
            "--audit-key",
            &public,
        ],
    )
    .env("AWS_ENDPOINT_URL", moto.endpoint())
    .output()
    .expect("keyward evidence");
    assert_eq!(
        run.status.code(),
        Some(1),
        "db was tampered with: {}",
        everything(&run)
    );
    let told: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON");
    let folder = std::path::PathBuf::from(told["folder"].as_str().expect("folder"));
    let folder = scratch.join(folder.display().to_string());
    let evidence: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("evidence.json")).expect("json"))
            .expect("evidence.json");
    assert_eq!(evidence["summary"]["externalSecrets"], 2, "{evidence:#}");
    assert_eq!(evidence["summary"]["healthy"], 1, "{evidence:#}");
    assert_eq!(evidence["summary"]["keysFailing"], 1, "{evidence:#}");
    let db = &evidence["externalSecrets"][0];
    assert_eq!(db["name"], "db");
    let user = db["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["key"] == "user")
        .expect("user");
    assert_eq!(user["verdict"], "differs");
    assert!(db["sources"][0]["ageDays"].as_f64().is_some(), "{db:#}");
    assert_eq!(evidence["audit"]["status"], "intact", "{evidence:#}");
    // The last sync recorded which store versions it projected (pinned ones left out).
    let written = evidence["audit"]["excerpt"]
        .as_array()
        .expect("excerpt")
        .iter()
        .rfind(|e| e["event"] == "projection.written" && e["subject"] == "apps/db")
        .expect("db written");
    assert_eq!(
        written["detail"]["sourceVersions"],
        serde_json::json!({"SecretStore/apps/vault": {"apps/db": "3"}}),
        "{written:#}"
    );
    assert!(evidence["stores"].as_array().is_some_and(|s| s.len() == 2));
    for file in ["evidence.json", "index.html"] {
        let text = std::fs::read_to_string(folder.join(file)).expect("read");
        assert!(!text.contains(CANARY), "{file} holds the value");
        assert!(!text.contains("rotated"), "{file} holds a value");
    }

    let Some(chromium) = keyward_test_support::or_skip_unavailable(
        keyward_test_support::peer_path(keyward_test_support::Peer::Chromium),
    ) else {
        return;
    };
    let page = format!("file://{}", folder.join("index.html").display());
    let profile = scratch.join("chromium-profile");
    let chromium_run = |extra: &[String]| {
        std::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&page)
            .output()
            .expect("run chromium")
    };
    let dom = chromium_run(&["--dump-dom".to_owned()]);
    assert!(dom.status.success(), "{}", everything(&dom));
    let dom = stdout(&dom);
    assert!(
        dom.contains("<tr data-name=\"apps/db\" data-healthy=\"false\">"),
        "{dom}"
    );
    assert!(
        dom.contains("<tr data-name=\"apps/api\" data-healthy=\"true\">"),
        "{dom}"
    );
    assert!(
        dom.contains("<code>user</code> <span class=\"bad\" data-verdict=\"bad\">differs</span>"),
        "{dom}"
    );
    assert!(dom.contains("<b id=\"count-healthy\">1/2</b>"), "{dom}");
    assert_eq!(
        dom.matches("<rect class=\"bar\"").count(),
        4,
        "one bar per dated source: {dom}"
    );
    assert!(dom.contains("id=\"health-chart\""), "{dom}");
    assert!(
        dom.contains("<p id=\"audit-status\" class=\"ok\">"),
        "{dom}"
    );
    let shot = scratch.join("evidence.png");
    let screenshot = chromium_run(&[
        format!("--screenshot={}", shot.display()),
        "--window-size=1280,1600".to_owned(),
    ]);
    assert!(screenshot.status.success(), "{}", everything(&screenshot));
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
}
