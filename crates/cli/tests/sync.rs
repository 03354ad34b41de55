//! `keyward sync` end to end: ESO semantics on the fake provider, a real OpenBao with its
//! token in the bundle, failures that leave the projection untouched, and a canary.

use crate::util::{Scratch, stderr, stdout, wait_for};

use std::path::Path;
use std::process::{Command, Output};

use keyward_test_support::OpenBao;

const CANARY: &str = "kw-canary-sync-7e21b9";

/// `keyward sync ARGS --out out --state-dir state` in `scratch`, the password file `pw` (which
/// the tests that use a bundle write) in the environment.
fn sync_command(scratch: &Scratch, args: &[&str]) -> Command {
    let mut command = scratch.command(&["sync"]);
    command
        .args(args)
        .args(["--out", "out", "--state-dir", "state"])
        .env("KEYWARD_VAULT_PASSWORD_FILE", scratch.join("pw"));
    command
}

fn sync(scratch: &Scratch, args: &[&str]) -> Output {
    sync_command(scratch, args).output().expect("run keyward")
}

/// The run succeeded; otherwise fail with everything it printed.
fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "{}{}",
        stdout(output),
        stderr(output)
    );
}

const FAKE_STORE: &str = r#"
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: fake}
spec:
  conditions: [{namespaceRegexes: ["^app"]}]
  provider:
    fake:
      data:
        - {key: /db, value: '{"user":"app","password":"CANARY","port":5432}'}
        - {key: /db, value: '{"user":"app","password":"old"}', version: v1}
        - {key: /api/token, value: dG9rZW4tYmFzZTY0}
        - {key: /api/other, value: other}
"#;

fn fake_store() -> String {
    FAKE_STORE.replace("CANARY", CANARY)
}

#[test]
fn eso_semantics_on_the_fake_provider() {
    let scratch = Scratch::new();
    scratch.write("m/store.yaml", &fake_store());
    scratch.write(
        "m/es.yaml",
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: db, namespace: apps}
spec:
  secretStoreRef: {name: fake, kind: ClusterSecretStore}
  target: {name: db-credentials}
  dataFrom:
    - extract: {key: /db}
    - find: {name: {regexp: "^/api/"}}
      rewrite: [{regexp: {source: "^/api/(.*)$", target: "api-$1"}}]
  data:
    - secretKey: password
      remoteRef: {key: /db, version: v1, property: password}
    - secretKey: token
      remoteRef: {key: /api/token, decodingStrategy: Base64}
"#,
    );
    let output = sync(&scratch, &["-f", "m"]);
    assert_success(&output);
    let target = "out/apps/db-credentials";
    assert_eq!(scratch.read(format!("{target}/user")), "app");
    assert_eq!(scratch.read(format!("{target}/port")), "5432");
    assert_eq!(
        scratch.read(format!("{target}/password")),
        "old",
        "data[] overrides dataFrom[]"
    );
    assert_eq!(scratch.read(format!("{target}/token")), "token-base64");
    assert_eq!(
        scratch.read(format!("{target}/api-token")),
        "dG9rZW4tYmFzZTY0"
    );
    assert_eq!(scratch.read(format!("{target}/api-other")), "other");
    let table = stdout(&output);
    assert!(
        table.contains("apps/db") && table.contains("synced") && table.contains("kw1:"),
        "{table}"
    );
    assert!(!table.contains(CANARY));

    let again = sync(&scratch, &["-f", "m"]);
    assert!(stdout(&again).contains("unchanged"), "{}", stdout(&again));
}

#[test]
fn one_bad_external_secret_does_not_stop_the_others_nor_touch_the_projection() {
    let scratch = Scratch::new();
    scratch.write("m/store.yaml", &fake_store());
    let good = r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: good, namespace: apps}
spec:
  secretStoreRef: {name: fake, kind: ClusterSecretStore}
  data: [{secretKey: user, remoteRef: {key: /db, property: user}}]
"#;
    scratch.write("m/good.yaml", good);
    scratch.write(
        "m/changing.yaml",
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: changing, namespace: apps}
spec:
  secretStoreRef: {name: fake, kind: ClusterSecretStore}
  data: [{secretKey: user, remoteRef: {key: /db, property: user}}]
"#,
    );
    let first = sync(&scratch, &["-f", "m"]);
    assert!(first.status.success(), "{}", stdout(&first));
    let before = scratch.read("out/apps/changing/user");

    // Now `changing` points at a missing key, and more problems arrive next to it.
    scratch.write(
        "m/changing.yaml",
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: changing, namespace: apps}
spec:
  secretStoreRef: {name: fake, kind: ClusterSecretStore}
  data: [{secretKey: user, remoteRef: {key: /missing}}]
"#,
    );
    scratch.write(
        "m/problems.yaml",
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: no-store, namespace: apps}
spec:
  secretStoreRef: {name: nope}
  data: [{secretKey: a, remoteRef: {key: /db}}]
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: other-namespace, namespace: forbidden}
spec:
  secretStoreRef: {name: fake, kind: ClusterSecretStore}
  data: [{secretKey: a, remoteRef: {key: /db}}]
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: mistyped, namespace: apps}
spec:
  data: [{secretKey: a, remoteRef: {key: [not, a, string]}}]
"#,
    );
    scratch.write(
        "m/broken.yaml",
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: [\n",
    );
    scratch.write(
        "m/old.yaml",
        "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: {name: old}\nspec: {}\n",
    );
    let second = sync(&scratch, &["-f", "m"]);
    let report = stdout(&second);
    assert_eq!(second.status.code(), Some(20), "{report}");
    assert_eq!(
        scratch.read("out/apps/changing/user"),
        before,
        "a failure touched the projection"
    );
    assert!(
        report.contains("apps/good") && report.contains("unchanged"),
        "{report}"
    );
    for expected in [
        "apps/changing: m/changing.yaml document 1: spec.data[0]: store ClusterSecretStore/fake, key /missing: not found",
        "apps/no-store: m/problems.yaml document 1: spec.data[0]: store SecretStore/apps/nope: misconfigured",
        "forbidden/other-namespace: m/problems.yaml document 2: spec.data[0]: store ClusterSecretStore/fake: permission denied (using cluster store \"fake\" is not allowed from namespace \"forbidden\": denied by spec.condition)",
        "broken.yaml: document 1",
        // A document that does not type-check fails alone; its neighbours still ran.
        "problems.yaml: document 3 (ExternalSecret/mistyped): spec.data[0].remoteRef.key",
        "no longer served; use external-secrets.io/v1",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in:\n{report}"
        );
    }

    scratch.write(
        "m/dup.yaml",
        &good
            .replace("name: good", "name: good-twin")
            .replace("  data:", "  target: {name: good}\n  data:"),
    );
    let third = sync(
        &scratch,
        &[
            "-f",
            "m/store.yaml",
            "-f",
            "m/good.yaml",
            "-f",
            "m/dup.yaml",
        ],
    );
    assert_eq!(third.status.code(), Some(11), "{}", stdout(&third));
    assert!(
        stdout(&third).contains("is also written by apps/good, apps/good-twin"),
        "{}",
        stdout(&third)
    );
}

#[test]
fn plaintext_secret_manifests_need_the_flag() {
    let scratch = Scratch::new();
    scratch.write("m/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: apps}\nstringData: {token: x}\n");
    let refused = sync(&scratch, &["-f", "m"]);
    assert_eq!(refused.status.code(), Some(11));
    assert!(
        stdout(&refused).contains("--allow-plaintext-secrets"),
        "{}",
        stdout(&refused)
    );
    let allowed = sync(&scratch, &["-f", "m", "--allow-plaintext-secrets"]);
    assert!(allowed.status.success(), "{}", stdout(&allowed));
    assert!(
        stderr(&allowed).contains("warning: 1 plaintext Secret"),
        "{}",
        stderr(&allowed)
    );
}

#[tokio::test]
async fn openbao_store_with_its_token_in_the_bundle() {
    let bao = OpenBao::start().await.expect("openbao");
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/v1/secret/data/apps/db", bao.address()))
        .header("X-Vault-Token", bao.root_token())
        .json(&serde_json::json!({ "data": { "password": CANARY, "user": "app" } }))
        .send()
        .await
        .expect("seed");
    assert!(response.status().is_success());

    let scratch = Scratch::new();
    std::fs::write(scratch.join("pw"), "bundle password\n").expect("pw");
    let bundle = keyward_bundle::vault::encrypt(
        format!("VAULT_TOKEN__TOKEN=\"{}\"\n", bao.root_token()).as_bytes(),
        &keyward_core::SecretValue::from("bundle password"),
        None,
        None,
    )
    .expect("bundle");
    std::fs::write(scratch.join("bundle.vault.env"), bundle).expect("write");
    scratch.write(
        "m/all.yaml",
        &format!(
            r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: vault, namespace: apps}}
spec:
  provider:
    vault:
      server: {}
      path: secret
      version: v2
      auth: {{tokenSecretRef: {{name: vault-token, key: token}}}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: db, namespace: apps}}
spec:
  secretStoreRef: {{name: vault}}
  data:
    - {{secretKey: DB_PASSWORD, remoteRef: {{key: apps/db, property: password}}}}
  dataFrom:
    - extract: {{key: apps/db}}
"#,
            bao.address()
        ),
    );
    let trace = scratch
        .command(&["--log-level", "trace", "sync", "-f", "m"])
        .args(["--bundle", "bundle.vault.env", "--format", "env"])
        .args(["--out", "out", "--state-dir", "state"])
        .env("KEYWARD_VAULT_PASSWORD_FILE", scratch.join("pw"))
        .output()
        .expect("run");
    assert_success(&trace);
    assert_eq!(
        scratch.read("out/apps/db.env"),
        format!("DB_PASSWORD=\"{CANARY}\"\npassword=\"{CANARY}\"\nuser=\"app\"\n")
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(scratch.join("out/apps/db.env"))
            .expect("meta")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // Canary: the value is in the file, and in no output, log (trace) or JSON report.
    let again = sync(
        &scratch,
        &["-f", "m", "--bundle", "bundle.vault.env", "--format", "env"],
    );
    let json = scratch
        .command(&["--output", "json", "sync", "-f", "m"])
        .args(["--bundle", "bundle.vault.env"])
        .args(["--out", "out", "--state-dir", "state"])
        .env("KEYWARD_VAULT_PASSWORD_FILE", scratch.join("pw"))
        .output()
        .expect("run");
    for output in [&trace, &again, &json] {
        for text in [stdout(output), stderr(output)] {
            assert!(!text.contains(CANARY), "canary leaked: {text}");
            assert!(
                !text.contains(bao.root_token()),
                "store token leaked: {text}"
            );
        }
    }
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json report");
    assert_eq!(report["results"][0]["status"], "synced");
    assert!(
        report["storeCalls"]
            .as_str()
            .is_some_and(|c| c.contains("provider=\"vault\""))
    );
    assert!(Path::new(&scratch.join("state/fingerprint.key")).exists());
}

/// A raw PKCS#12 file (binary, as `decodingStrategy: Base64` yields it) reaches the template's
/// `pkcs12certPass` intact: template data keep non-UTF-8 values as bytes.
#[test]
fn binary_values_reach_byte_reading_template_functions() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template/tests/fixtures/crypto");
    let read = |name: &str| std::fs::read_to_string(fixtures.join(name)).expect("fixture");
    let scratch = Scratch::new();
    scratch.write(
        "m/store.yaml",
        &format!(
            "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {{name: fake, namespace: apps}}\nspec:\n  provider:\n    fake:\n      data:\n        - {{key: /keystore, value: '{}'}}\n",
            read("openssl-rsa-pass.p12.b64").trim()
        ),
    );
    scratch.write(
        "m/es.yaml",
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: tls, namespace: apps}
spec:
  secretStoreRef: {name: fake}
  target:
    template:
      data:
        tls.crt: '{{ .keystore | pkcs12certPass "ossl" }}'
  data:
    - {secretKey: keystore, remoteRef: {key: /keystore, decodingStrategy: Base64}}
"#,
    );
    let output = sync(&scratch, &["-f", "m"]);
    assert_success(&output);
    let certificate = scratch.read("out/apps/tls/tls.crt");
    let leaf = read("leaf-rsa.pem");
    assert!(
        certificate.starts_with(leaf.trim_end()),
        "the keystore's leaf certificate comes first: {certificate}"
    );
}

#[test]
fn target_templates_render_with_the_template_engine() {
    let scratch = Scratch::new();
    scratch.write("m/store.yaml", &fake_store());
    scratch.write(
        "m/es.yaml",
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: registry, namespace: apps}
spec:
  secretStoreRef: {name: fake, kind: ClusterSecretStore}
  target:
    template:
      type: kubernetes.io/dockerconfigjson
      data:
        .dockerconfigjson: '{"auths":{"r.example":{"auth":"{{ printf "%s:%s" .user .password | b64enc }}"}}}'
  data:
    - {secretKey: user, remoteRef: {key: /db, property: user}}
    - {secretKey: password, remoteRef: {key: /db, version: v1, property: password}}
"#,
    );
    let output = sync(&scratch, &["-f", "m"]);
    assert_success(&output);
    assert_eq!(
        scratch.read("out/apps/registry/.dockerconfigjson"),
        r#"{"auths":{"r.example":{"auth":"YXBwOm9sZA=="}}}"#
    );
    assert!(
        std::fs::symlink_metadata(scratch.join("out/apps/registry/user")).is_err(),
        "Replace drops fetched keys"
    );

    scratch.write(
        "m/es.yaml",
        &std::fs::read_to_string(scratch.join("m/es.yaml"))
            .expect("read")
            .replace("b64enc", "nosuchfn"),
    );
    let broken = sync(&scratch, &["-f", "m"]);
    assert_eq!(broken.status.code(), Some(11), "{}", stdout(&broken));
    assert!(
        stdout(&broken).contains("spec.target.template.data..dockerconfigjson"),
        "{}",
        stdout(&broken)
    );
    assert_eq!(
        scratch.read("out/apps/registry/.dockerconfigjson"),
        r#"{"auths":{"r.example":{"auth":"YXBwOm9sZA=="}}}"#
    );
}

#[test]
fn rewrite_merge_transform_and_config_map_templates() {
    let scratch = Scratch::new();
    scratch.write("m/store.yaml", &fake_store());
    scratch.write(
        "m/es.yaml",
        r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: app-templates, namespace: apps}
data:
  app.ini: "user={{ .DB_USER }}\nmerged={{ .merged }}"
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: app, namespace: apps}
spec:
  secretStoreRef: {name: fake, kind: ClusterSecretStore}
  target:
    template:
      mergePolicy: Merge
      templateFrom:
        - configMap: {name: app-templates, items: [{key: app.ini}]}
  dataFrom:
    - extract: {key: /db}
      rewrite:
        - transform: {template: 'DB_{{ .value | upper }}'}
    - find: {name: {regexp: "^/db$"}}
      rewrite:
        - merge: {strategy: JSON, into: merged}
"#,
    );
    let output = sync(&scratch, &["-f", "m", "--log-level", "trace"]);
    assert_success(&output);
    assert_eq!(scratch.read("out/apps/app/DB_USER"), "app");
    assert_eq!(scratch.read("out/apps/app/DB_PORT"), "5432");
    let merged = format!(r#"{{"password":"{CANARY}","port":5432,"user":"app"}}"#);
    assert_eq!(scratch.read("out/apps/app/merged"), merged);
    assert_eq!(
        scratch.read("out/apps/app/app.ini"),
        format!("user=app\nmerged={merged}")
    );
    assert!(!stdout(&output).contains(CANARY) && !stderr(&output).contains(CANARY));
}

#[test]
fn creation_deletion_and_immutable_policies_on_a_host() {
    let scratch = Scratch::new();
    scratch.write("m/store.yaml", &fake_store());
    let es = |name: &str, target: &str, key: &str| {
        format!(
            r#"
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: {name}, namespace: apps}}
spec:
  secretStoreRef: {{name: fake, kind: ClusterSecretStore}}
  target: {target}
  dataFrom:
    - find: {{name: {{regexp: "{key}"}}}}
"#
        )
    };
    let write = |api_other: &str| {
        let text = [
            es("kept", "{name: kept, immutable: true}", "^/api/other$"),
            es("none", "{creationPolicy: None}", "^/api/other$"),
            es(
                "merged",
                "{name: kept, creationPolicy: Merge}",
                "^/api/token$",
            ),
            es(
                "orphan-merge",
                "{name: absent, creationPolicy: Merge}",
                "^/api/token$",
            ),
            es("gone", "{deletionPolicy: Delete}", api_other),
            es("retained", "{deletionPolicy: Retain}", api_other),
        ]
        .concat();
        scratch.write("m/es.yaml", &text);
    };
    write("^/api/other$");
    let first = sync(&scratch, &["-f", "m", "--format", "json"]);
    let table = stdout(&first);
    assert_eq!(first.status.code(), Some(0), "{table}");
    assert!(
        table.contains("apps/orphan-merge")
            && table.contains("creationPolicy Merge: the target does not exist"),
        "{table}"
    );
    assert!(
        table.contains("note: apps/none: creationPolicy None"),
        "{table}"
    );
    assert!(!scratch.join("out/apps/none.json").exists());
    assert!(!scratch.join("out/apps/absent.json").exists());
    assert!(scratch.join("out/apps/gone.json").exists());
    let kept: serde_json::Value =
        serde_json::from_str(&scratch.read("out/apps/kept.json")).expect("json");
    assert_eq!(kept["_api_other"], "other");

    // The sources of `gone` and `retained` disappear: Delete removes, Retain keeps.
    write("^/nothing$");
    let second = sync(&scratch, &["-f", "m", "--format", "json"]);
    let table = stdout(&second);
    assert!(!scratch.join("out/apps/gone.json").exists(), "{table}");
    assert!(scratch.join("out/apps/retained.json").exists(), "{table}");
    assert!(table.contains("deleted"), "{table}");
    let kept: serde_json::Value =
        serde_json::from_str(&scratch.read("out/apps/kept.json")).expect("json");
    assert!(
        kept.get("_api_token").is_some(),
        "creationPolicy Merge laid its keys over the existing target: {kept}"
    );
}

fn single_key_store(value: &str) -> String {
    format!(
        r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: fake, namespace: apps}}
spec:
  provider:
    fake:
      data: [{{key: /k, value: "{value}"}}]
"#
    )
}

/// SIGTERM while a round waits on a store that never answers: the round gets its grace, then
/// the process stops, instead of waiting out the store's timeouts and retries.
#[test]
fn sigterm_while_a_round_hangs_on_a_store_stops_after_the_grace() {
    use std::os::unix::fs::PermissionsExt;
    // No real peer hangs on purpose: this listener plays a Vault server that accepts
    // connections and never answers (a test double of a hung server).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let contacted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = std::sync::Arc::clone(&contacted);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for connection in listener.incoming() {
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            held.push(connection);
        }
    });
    let scratch = Scratch::new();
    scratch.write(
        "m/all.yaml",
        &format!(
            r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: vault, namespace: apps}}
spec:
  provider:
    vault:
      server: http://{address}
      path: secret
      version: v2
      auth: {{tokenSecretRef: {{name: vault-token, key: token}}}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: hung, namespace: apps}}
spec:
  secretStoreRef: {{name: vault}}
  data: [{{secretKey: key, remoteRef: {{key: apps/db, property: password}}}}]
"#
        ),
    );
    let token = scratch.write("creds/apps/vault-token/token", "root");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let mut child = sync_command(
        &scratch,
        &["-f", "m", "--watch", "--credentials-dir", "creds"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("start keyward sync --watch");
    wait_for("the store call", || {
        contacted.load(std::sync::atomic::Ordering::SeqCst)
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    // The grace is 5 s; the store's own timeout (30 s per call, then retries) is far longer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("keyward sync --watch did not stop within 20 s of SIGTERM during a round");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("output");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("SIGTERM: stopping"),
        "{}",
        stdout(&output)
    );
}

const WATCHED_ES: &str = r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: watched, namespace: apps}
spec:
  refreshInterval: 1s
  secretStoreRef: {name: fake}
  data: [{secretKey: key, remoteRef: {key: /k}}]
"#;

#[test]
fn watch_refreshes_keeps_the_last_good_projection_runs_the_hook_and_stops_on_sigterm() {
    let scratch = Scratch::new();
    scratch.write("m/store.yaml", &single_key_store("first"));
    scratch.write("m/es.yaml", WATCHED_ES);
    let child = sync_command(
        &scratch,
        &[
            "-f",
            "m",
            "--watch",
            "--log-level",
            "trace",
            "--debounce",
            "100ms",
            "--on-change",
            "echo \"$KEYWARD_CHANGED\" >> hook.log",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("start keyward sync --watch");
    let target = scratch.join("out/apps/watched/key");
    let value = || std::fs::read_to_string(&target).unwrap_or_default();
    wait_for("the first projection", || value() == "first");
    wait_for("the hook", || scratch.join("hook.log").exists());

    scratch.write("m/store.yaml", &single_key_store("second"));
    wait_for("the refreshed value", || value() == "second");
    wait_for("the second hook", || {
        std::fs::read_to_string(scratch.join("hook.log")).is_ok_and(|log| {
            log.lines()
                .filter(|l| l.ends_with("out/apps/watched"))
                .count()
                >= 2
        })
    });

    // The store loses the key: the refresh fails, the projection stays.
    scratch.write(
        "m/store.yaml",
        &single_key_store("second").replace("/k", "/other"),
    );
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(
        value(),
        "second",
        "a failed refresh keeps the last good projection"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let output = child.wait_with_output().expect("wait");
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    assert!(out.contains("SIGTERM: stopping"), "{out}");
    assert!(
        out.contains("failed") && out.contains("spec.data[0]"),
        "{out}"
    );
    assert!(
        !out.contains("second") && !out.contains("first"),
        "values never printed: {out}"
    );
}

#[test]
fn once_signals_the_process_in_the_pidfile_after_a_change() {
    let scratch = Scratch::new();
    scratch.write("m/store.yaml", &single_key_store("v"));
    scratch.write("m/es.yaml", WATCHED_ES);
    let mut service = Command::new("sh")
        .args(["-c", "trap 'echo reloaded >> reload.log' HUP; echo $$ > app.pid; while :; do sleep 0.05; done"])
        .current_dir(scratch.path())
        .spawn()
        .expect("start a service");
    wait_for("the pidfile", || scratch.join("app.pid").exists());
    std::thread::sleep(std::time::Duration::from_millis(100));
    let output = sync(
        &scratch,
        &["-f", "m", "--signal", "HUP", "--pidfile", "app.pid"],
    );
    assert_success(&output);
    wait_for("the service's reload", || {
        scratch.join("reload.log").exists()
    });

    // Unchanged: no signal.
    std::fs::remove_file(scratch.join("reload.log")).expect("rm");
    let again = sync(
        &scratch,
        &["-f", "m", "--signal", "HUP", "--pidfile", "app.pid"],
    );
    assert!(stdout(&again).contains("unchanged"), "{}", stdout(&again));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!scratch.join("reload.log").exists(), "no change, no signal");

    let bad = sync(
        &scratch,
        &["-f", "m", "--signal", "NOPE", "--pidfile", "app.pid"],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("'NOPE' is not a signal name"),
        "{}",
        stderr(&bad)
    );
    service.kill().expect("kill the service");
    let _ = service.wait();
}

/// Kill -9 at random moments while targets flip between two versions: every target must be
/// wholly one version or the other, and the next run must repair nothing by hand.
#[test]
fn kill_9_during_a_sync_leaves_each_target_old_or_new_never_mixed() {
    let scratch = Scratch::new();
    let store = |version: &str| {
        let data: String = (0..40)
            .map(|i| format!("        - {{key: /k{i}, value: '{version}-{i}'}}\n"))
            .collect();
        format!(
            "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {{name: fake, namespace: apps}}\nspec:\n  provider:\n    fake:\n      data:\n{data}"
        )
    };
    let es: String = (0..30)
        .map(|t| {
            format!(
                "---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: t{t}, namespace: apps}}\nspec:\n  secretStoreRef: {{name: fake}}\n  dataFrom: [{{find: {{name: {{regexp: '^/k'}}}}}}]\n"
            )
        })
        .collect();
    scratch.write("m/es.yaml", &es);
    let mut killed = 0;
    for round in 0..24u64 {
        let version = if round % 2 == 0 { "old" } else { "new" };
        scratch.write("m/store.yaml", &store(version));
        let mut child = sync_command(&scratch, &["-f", "m"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start keyward sync");
        // Kill at a different moment each round, from start-up to mid-write.
        std::thread::sleep(std::time::Duration::from_millis(5 + (round * 7) % 60));
        if child.try_wait().expect("poll").is_none() {
            child.kill().expect("kill -9");
            killed += 1;
        }
        let _ = child.wait();
        for t in 0..30 {
            let dir = scratch.join(format!("out/apps/t{t}"));
            if !dir.join("..data").exists() {
                continue;
            }
            let versions: std::collections::BTreeSet<String> = (0..40)
                .map(|i| {
                    let value = std::fs::read_to_string(dir.join(format!("_k{i}")))
                        .unwrap_or_else(|e| panic!("t{t}/_k{i} after round {round}: {e}"));
                    value.split('-').next().unwrap_or_default().to_owned()
                })
                .collect();
            assert_eq!(
                versions.len(),
                1,
                "t{t} mixes versions after round {round}: {versions:?}"
            );
        }
    }
    assert!(
        killed > 0,
        "no run was interrupted: the test proved nothing"
    );
    scratch.write("m/store.yaml", &store("final"));
    let last = sync(&scratch, &["-f", "m"]);
    assert_success(&last);
    for t in 0..30 {
        let dir = scratch.join(format!("out/apps/t{t}"));
        let versions = std::fs::read_dir(&dir)
            .expect("target dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("..2"))
            .count();
        assert_eq!(
            versions, 1,
            "t{t}: a completed run leaves exactly one version directory"
        );
    }
}

const GENERATORS: &str = r#"
apiVersion: generators.external-secrets.io/v1alpha1
kind: Password
metadata: {name: db-password, namespace: apps}
spec: {length: 32, digits: 8, symbols: 3, symbolCharacters: "-_.", noUpper: true}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: UUID
metadata: {name: id, namespace: apps}
spec: {}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: ClusterGenerator
metadata: {name: shared-fake}
spec:
  kind: Fake
  generator:
    fakeSpec: {data: {region: eu-west-1}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: generated, namespace: apps}
spec:
  target: {name: generated}
  dataFrom:
    - sourceRef: {generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: Password, name: db-password}}
      rewrite: [{regexp: {source: "^password$", target: "DB_PASSWORD"}}]
    - sourceRef: {generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: UUID, name: id}}
    - sourceRef: {generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: ClusterGenerator, name: shared-fake}}
"#;

#[test]
fn generators_give_new_values_on_every_sync_and_never_show_them() {
    let scratch = Scratch::new();
    scratch.write("m/generated.yaml", GENERATORS);
    let first = sync(&scratch, &["-f", "m", "--log-level", "trace"]);
    assert_success(&first);
    let password = scratch.read("out/apps/generated/DB_PASSWORD");
    assert_eq!(password.len(), 32);
    assert_eq!(password.chars().filter(char::is_ascii_digit).count(), 8);
    assert_eq!(password.chars().filter(|c| "-_.".contains(*c)).count(), 3);
    assert!(!password.chars().any(|c| c.is_ascii_uppercase()));
    let uuid = scratch.read("out/apps/generated/uuid");
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4", "a version 4 UUID: {uuid}");
    assert_eq!(scratch.read("out/apps/generated/region"), "eu-west-1");
    for text in [stdout(&first), stderr(&first)] {
        assert!(!text.contains(&password), "a generated password was shown");
        assert!(!text.contains(&uuid), "a generated UUID was shown");
    }

    // Every sync is a refresh: the generators run again, as ESO runs them on every refresh.
    let second = sync(&scratch, &["-f", "m"]);
    assert_success(&second);
    let rotated = scratch.read("out/apps/generated/DB_PASSWORD");
    assert_ne!(rotated, password);
    assert_ne!(scratch.read("out/apps/generated/uuid"), uuid);

    // With refreshPolicy CreatedOnce, a run that finds the target leaves it: generated once.
    scratch.write(
        "m/generated.yaml",
        &GENERATORS.replace(
            "  target: {name: generated}",
            "  refreshPolicy: CreatedOnce\n  target: {name: generated}",
        ),
    );
    let kept = sync(&scratch, &["-f", "m"]);
    assert_success(&kept);
    assert!(stdout(&kept).contains("kept"), "{}", stdout(&kept));
    assert_eq!(scratch.read("out/apps/generated/DB_PASSWORD"), rotated);
}

#[test]
fn generator_references_that_cannot_work_say_why() {
    let scratch = Scratch::new();
    let es = |name: &str, entry: &str| {
        format!(
            "---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: {name}, namespace: apps}}\nspec:\n{entry}\n"
        )
    };
    let reference = |kind: &str, name: &str| {
        format!(
            "{{apiVersion: generators.external-secrets.io/v1alpha1, kind: {kind}, name: {name}}}"
        )
    };
    let manifests = [
        es(
            "missing",
            &format!("  dataFrom: [{{sourceRef: {{generatorRef: {}}}}}]", reference("Password", "nope")),
        ),
        es(
            "unserved",
            &format!("  dataFrom: [{{sourceRef: {{generatorRef: {}}}}}]", reference("Webhook", "hook")),
        ),
        es(
            "in-data",
            &format!(
                "  data: [{{secretKey: k, remoteRef: {{key: k}}, sourceRef: {{generatorRef: {}}}}}]",
                reference("UUID", "id")
            ),
        ),
        es(
            "impossible",
            &format!("  dataFrom: [{{sourceRef: {{generatorRef: {}}}}}]", reference("Password", "short")),
        ),
        "---\napiVersion: generators.external-secrets.io/v1alpha1\nkind: Password\nmetadata: {name: short, namespace: apps}\nspec: {length: 4, digits: 3, symbols: 2}\n".to_owned(),
    ]
    .concat();
    scratch.write("m/bad.yaml", &manifests);
    let output = sync(&scratch, &["-f", "m", "--output", "json"]);
    assert_eq!(output.status.code(), Some(11), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let message = |name: &str| -> String {
        report["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|row| row["externalSecret"] == format!("apps/{name}"))
            .and_then(|row| row["message"].as_str())
            .unwrap_or_else(|| panic!("no failure for {name}: {report}"))
            .to_owned()
    };
    assert!(
        message("missing").contains(
            "unable to get generator: Password.generators.external-secrets.io \"nope\" not found"
        ),
        "{}",
        message("missing")
    );
    assert!(message("unserved").contains("generator kind Webhook is not served"));
    assert!(message("in-data").contains("spec.data[0].sourceRef.generatorRef"));
    assert!(
        message("impossible")
            .contains("number of digits and symbols must be less than total length")
    );
}
