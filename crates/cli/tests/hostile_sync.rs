//! Hostile input to `keyward sync`: manifests from a pull request, a shared `--out`, files
//! that are not what they claim. Each test is a finding of the hardening review (issue 12)
//! and failed before its fix. The next review starts here.

use crate::util::{Scratch, everything as text};

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const CANARY: &str = "kw-canary-hostile-5c19e4";

/// `keyward --output json sync -f m --out OUT --state-dir state ARGS` in `scratch`.
fn sync_command(scratch: &Scratch, out: &str, args: &[&str]) -> Command {
    let mut command = scratch.command(&["--output", "json", "sync", "-f", "m", "--out", out]);
    command.args(["--state-dir", "state"]).args(args);
    command
}

fn sync(scratch: &Scratch, out: &str, args: &[&str]) -> Output {
    sync_command(scratch, out, args)
        .output()
        .expect("run keyward")
}

fn report(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}): {}", text(output)))
}

/// The report row of ExternalSecret `namespace/name`.
fn row<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|row| row["externalSecret"] == id)
        .unwrap_or_else(|| panic!("no row for {id} in {report:#}"))
}

const STORE: &str = "apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: fake}
spec:
  provider:
    fake:
      data:
        - {key: k, value: CANARY}
";

fn store() -> String {
    STORE.replace("CANARY", CANARY)
}

/// An ExternalSecret `namespace/name` reading key `k` into `target` (none: its own name).
fn external_secret(namespace: &str, name: &str, target: Option<&str>) -> String {
    let target = target.map_or(String::new(), |t| format!("\n  target: {{name: '{t}'}}"));
    format!(
        "apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: '{name}', namespace: '{namespace}'}}
spec:
  secretStoreRef: {{name: fake, kind: ClusterSecretStore}}{target}
  data: [{{secretKey: evil, remoteRef: {{key: k}}}}]
"
    )
}

#[test]
fn names_that_would_leave_out_are_refused_and_nothing_is_written_outside() {
    let scratch = Scratch::new();
    scratch.write("m/store.yaml", &store());
    let hostile = [
        ("apps", "climb", Some("../../../../escape-target")),
        ("apps", "absolute", Some("/tmp/escape-absolute")),
        ("apps", "dotdot", Some("..")),
        ("..", "namespace", None),
        ("apps", "../escape-name", None),
        ("/tmp", "rooted", None),
    ];
    for (index, (namespace, name, target)) in hostile.iter().enumerate() {
        scratch.write(
            format!("m/hostile-{index}.yaml"),
            &external_secret(namespace, name, *target),
        );
    }
    scratch.write("m/good.yaml", &external_secret("apps", "good", None));
    std::fs::create_dir_all(scratch.join("a/b")).expect("mkdir");

    let output = sync(&scratch, "a/b/out", &[]);
    assert_eq!(output.status.code(), Some(11), "{}", text(&output));
    let all = text(&output);
    for field in ["spec.target.name", "metadata.namespace", "metadata.name"] {
        assert!(all.contains(field), "the error names {field}: {all}");
    }
    assert!(all.contains("DNS-1123"), "{all}");
    assert_eq!(
        row(&report(&output), "apps/good")["status"],
        "synced",
        "the valid ExternalSecret still syncs"
    );
    let tree = scratch.tree();
    let outside: Vec<_> = tree
        .iter()
        .filter(|path| {
            !path.starts_with("a/b/out") && !path.starts_with("m") && !path.starts_with("state")
        })
        .filter(|path| !matches!(path.as_str(), "a" | "a/b"))
        .collect();
    assert!(outside.is_empty(), "written outside --out: {outside:?}");
    assert!(!Path::new("/tmp/escape-absolute").exists());
    assert!(!all.contains(CANARY), "{all}");
}

#[test]
fn aliases_of_one_target_never_count_as_other_targets() {
    let scratch = Scratch::new();
    scratch.write("m/store.yaml", &store());
    for (index, alias) in ["./t", "t/", "x/../t"].iter().enumerate() {
        scratch.write(
            format!("m/alias-{index}.yaml"),
            &external_secret("apps", &format!("alias-{index}"), Some(alias)),
        );
    }
    scratch.write("m/owner.yaml", &external_secret("apps", "owner", Some("t")));
    let output = sync(&scratch, "out", &[]);
    assert_eq!(output.status.code(), Some(11), "{}", text(&output));
    let report = report(&output);
    assert_eq!(row(&report, "apps/owner")["status"], "synced");
    for index in 0..3 {
        // Refused when the manifest is loaded: the row names the file.
        let alias = row(&report, &format!("m/alias-{index}.yaml"));
        assert_eq!(alias["status"], "failed", "{alias}");
        assert!(
            alias["message"]
                .as_str()
                .is_some_and(|m| m.contains("spec.target.name")),
            "{alias}"
        );
    }
    let targets: Vec<_> = std::fs::read_dir(scratch.join("out/apps"))
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(targets, ["t"], "one target, written once");
}

#[test]
fn links_under_out_are_refused_not_followed() {
    let scratch = Scratch::new();
    scratch.write("m/store.yaml", &store());
    scratch.write("m/db.yaml", &external_secret("apps", "db", None));
    scratch.write("m/web.yaml", &external_secret("web", "web", None));
    std::fs::create_dir_all(scratch.join("elsewhere")).expect("mkdir");
    std::fs::create_dir_all(scratch.join("victim/keep")).expect("mkdir");
    std::fs::write(scratch.join("victim/keep/file"), "precious").expect("write");
    std::fs::create_dir_all(scratch.join("out/web/web")).expect("mkdir");
    // A namespace directory that is a link, and a `..data` that names a directory outside.
    std::os::unix::fs::symlink("../elsewhere", scratch.join("out/apps")).expect("link");
    std::os::unix::fs::symlink("../../../victim/keep", scratch.join("out/web/web/..data"))
        .expect("link");

    let output = sync(&scratch, "out", &[]);
    assert_eq!(output.status.code(), Some(30), "{}", text(&output));
    let report = report(&output);
    for id in ["apps/db", "web/web"] {
        let row = row(&report, id);
        assert_eq!(row["status"], "failed", "{row}");
    }
    assert!(text(&output).contains("symbolic link"), "{}", text(&output));
    assert_eq!(
        std::fs::read_dir(scratch.join("elsewhere"))
            .expect("list")
            .count(),
        0,
        "nothing written through the link"
    );
    assert_eq!(
        std::fs::read_to_string(scratch.join("victim/keep/file")).expect("kept"),
        "precious",
        "nothing outside removed"
    );
}

#[test]
fn a_foreign_file_in_a_target_directory_is_refused_and_kept() {
    let scratch = Scratch::new();
    scratch.write("m/store.yaml", &store());
    scratch.write("m/db.yaml", &external_secret("apps", "db", None));
    let first = sync(&scratch, "out", &[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    // Someone leaves a file where a reader of the directory would take it for a key.
    scratch.write("out/apps/db/POSTGRES_PASSWORD", "stale");

    let output = sync(&scratch, "out", &[]);
    assert_eq!(output.status.code(), Some(30), "{}", text(&output));
    let row = row(&report(&output), "apps/db").clone();
    assert_eq!(row["status"], "failed", "{row}");
    let message = row["message"].as_str().expect("message");
    assert!(
        message.contains("POSTGRES_PASSWORD") && message.contains("not written by keyward"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(scratch.join("out/apps/db/POSTGRES_PASSWORD")).expect("kept"),
        "stale"
    );
}

#[test]
fn a_template_that_panics_fails_its_external_secret_alone() {
    let scratch = Scratch::new();
    scratch.write("m/store.yaml", &store());
    scratch.write("m/good.yaml", &external_secret("apps", "good", None));
    scratch.write(
        "m/wide.yaml",
        "apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: wide, namespace: apps}
spec:
  secretStoreRef: {name: fake, kind: ClusterSecretStore}
  data: [{secretKey: evil, remoteRef: {key: k}}]
  target:
    template:
      data:
        out: '{{ printf \"%.65536f\" 1.0 }}{{ .evil }}'
",
    );
    let output = sync(&scratch, "out", &[]);
    let report = report(&output);
    assert_eq!(row(&report, "apps/good")["status"], "synced");
    // Reported, whatever the outcome: rendered, or failed with the documented code.
    let wide = row(&report, "apps/wide");
    match wide["status"].as_str() {
        Some("synced") => assert_eq!(output.status.code(), Some(0)),
        Some("failed") => assert_ne!(output.status.code(), Some(0), "{}", text(&output)),
        other => panic!("unexpected status {other:?}: {wide}"),
    }
    assert!(!text(&output).contains(CANARY));
}

/// Builds manifests for `count` targets of two keys each.
fn many_targets(scratch: &Scratch, count: usize) {
    scratch.write(
        "m/store.yaml",
        "apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: fake}
spec:
  provider:
    fake:
      data: [{key: a, value: one}, {key: b, value: two}]
",
    );
    let mut text = String::new();
    for index in 0..count {
        text.push_str(&format!(
            "---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: t{index}, namespace: apps}}
spec:
  secretStoreRef: {{name: fake, kind: ClusterSecretStore}}
  data: [{{secretKey: k1, remoteRef: {{key: a}}}}, {{secretKey: k2, remoteRef: {{key: b}}}}]
"
        ));
    }
    scratch.write("m/es.yaml", &text);
}

#[test]
fn two_syncs_into_one_out_never_interleave() {
    let scratch = Scratch::new();
    many_targets(&scratch, 150);
    for round in 0..3 {
        let children: Vec<_> = (0..2)
            .map(|_| sync_command(&scratch, "out", &[]).spawn().expect("spawn"))
            .collect();
        for child in children {
            let output = child.wait_with_output().expect("wait");
            assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        }
        for index in 0..150 {
            for key in ["k1", "k2"] {
                let path = scratch.join(format!("out/apps/t{index}/{key}"));
                assert!(
                    std::fs::read(&path).is_ok(),
                    "round {round}: {} does not resolve",
                    path.display()
                );
            }
        }
        // Force the next round to rewrite every target.
        std::fs::remove_dir_all(scratch.join("out")).expect("clear");
    }
}

#[test]
fn no_wait_fails_at_once_while_another_run_holds_out() {
    let scratch = Scratch::new();
    many_targets(&scratch, 1);
    std::fs::create_dir_all(scratch.join("out")).expect("mkdir");
    let mut holder = Command::new("flock")
        .args(["out/.keyward.lock", "sleep", "30"])
        .current_dir(scratch.join(""))
        .spawn()
        .expect("flock");
    // Wait until the holder has the lock.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while Command::new("flock")
        .args(["-n", "out/.keyward.lock", "true"])
        .current_dir(scratch.join(""))
        .status()
        .expect("probe")
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "flock never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = sync(&scratch, "out", &["--no-wait"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(output.status.code(), Some(30), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("another keyward sync is writing to"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(!scratch.join("out/apps").exists(), "nothing written");
}

#[test]
fn first_runs_at_once_share_one_fingerprint_key() {
    let scratch = Scratch::new();
    many_targets(&scratch, 1);
    let children: Vec<_> = (0..8)
        .map(|n| {
            sync_command(&scratch, &format!("out{n}"), &[])
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut fingerprints = std::collections::BTreeSet::new();
    for child in children {
        let output = child.wait_with_output().expect("wait");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        fingerprints.insert(row(&report(&output), "apps/t0")["fingerprint"].to_string());
    }
    assert_eq!(
        fingerprints.len(),
        1,
        "one key, one fingerprint: {fingerprints:?}"
    );
    let key_mode = std::fs::metadata(scratch.join("state/fingerprint.key"))
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
}

#[test]
fn a_fingerprint_key_others_can_read_is_refused() {
    let scratch = Scratch::new();
    many_targets(&scratch, 1);
    assert_eq!(sync(&scratch, "out", &[]).status.code(), Some(0));
    std::fs::set_permissions(
        scratch.join("state/fingerprint.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let output = sync(&scratch, "out", &[]);
    assert_eq!(output.status.code(), Some(30), "{}", text(&output));
    assert!(
        text(&output).contains("readable by group or others"),
        "{}",
        text(&output)
    );
}

#[test]
fn out_and_namespace_directories_are_tightened_to_0700() {
    let scratch = Scratch::new();
    many_targets(&scratch, 1);
    std::fs::create_dir_all(scratch.join("out/apps")).expect("mkdir");
    for dir in ["out", "out/apps"] {
        std::fs::set_permissions(scratch.join(dir), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
    let output = sync(&scratch, "out", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    for dir in ["out", "out/apps", "out/apps/t0"] {
        let mode = std::fs::metadata(scratch.join(dir))
            .expect("dir")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{dir}");
    }
}

#[test]
fn a_fifo_among_the_manifests_is_refused_without_hanging() {
    let scratch = Scratch::new();
    many_targets(&scratch, 1);
    let status = Command::new("mkfifo")
        .arg(scratch.join("m/pipe.yaml"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let mut child = sync_command(&scratch, "out", &[]).spawn().expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("keyward sync hangs on a FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(11));
    let output = sync(&scratch, "out", &[]);
    assert!(
        text(&output).contains("pipe.yaml") && text(&output).contains("not a regular file"),
        "{}",
        text(&output)
    );
    assert_eq!(row(&report(&output), "apps/t0")["status"], "unchanged");
}

#[test]
fn deeply_nested_yaml_and_duplicate_keys_are_refused() {
    let scratch = Scratch::new();
    many_targets(&scratch, 1);
    scratch.write("m/deep.yaml", &format!("a: {}", "[".repeat(100_000)));
    scratch.write(
        "m/dup.yaml",
        "apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: dup, namespace: apps}
spec:
  secretStoreRef: {name: fake, kind: ClusterSecretStore}
  data: [{secretKey: k1, remoteRef: {key: a}}]
  data: [{secretKey: k1, remoteRef: {key: b}}]
",
    );
    let output = sync(&scratch, "out", &[]);
    assert_eq!(output.status.code(), Some(11), "{}", text(&output));
    let all = text(&output);
    assert!(
        all.contains("deep.yaml") && all.contains("nest deeper"),
        "{all}"
    );
    let duplicate = row(&report(&output), "m/dup.yaml")["message"].to_string();
    assert!(
        duplicate.contains(r#"duplicate key \"data\""#),
        "{duplicate}"
    );
    assert_eq!(row(&report(&output), "apps/t0")["status"], "synced");
}

#[test]
fn credentials_are_read_only_from_inside_the_credentials_directory() {
    let scratch = Scratch::new();
    scratch.write(
        "m/store.yaml",
        "apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: vault, namespace: apps}
spec:
  provider:
    vault:
      server: http://127.0.0.1:9
      path: secret
      version: v2
      auth: {tokenSecretRef: {name: vault-token, key: token}}
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: climbing, namespace: apps}
spec:
  provider:
    vault:
      server: http://127.0.0.1:9
      path: secret
      version: v2
      auth: {tokenSecretRef: {name: ../../outside, key: token}}
",
    );
    for (name, store) in [("linked", "vault"), ("climbing", "climbing")] {
        scratch.write(
            format!("m/{name}.yaml"),
            &format!(
                "apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: {name}, namespace: apps}}
spec:
  secretStoreRef: {{name: {store}}}
  data: [{{secretKey: k, remoteRef: {{key: k}}}}]
"
            ),
        );
    }
    let outside = scratch.write("outside/token", CANARY);
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::create_dir_all(scratch.join("creds/apps/vault-token")).expect("mkdir");
    std::os::unix::fs::symlink(&outside, scratch.join("creds/apps/vault-token/token"))
        .expect("link");

    let output = sync(&scratch, "out", &["--credentials-dir", "creds"]);
    assert_eq!(output.status.code(), Some(11), "{}", text(&output));
    let report = report(&output);
    let linked = row(&report, "apps/linked")["message"].to_string();
    assert!(
        linked.contains("leads out of the credentials directory"),
        "{linked}"
    );
    let climbing = row(&report, "apps/climbing")["message"].to_string();
    assert!(climbing.contains("DNS-1123"), "{climbing}");
    assert!(!text(&output).contains(CANARY));
}

#[test]
fn a_key_built_from_a_value_is_never_echoed_when_it_is_refused() {
    let scratch = Scratch::new();
    scratch.write("m/store.yaml", &store());
    scratch.write(
        "m/literal.yaml",
        "apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: literal, namespace: apps}
spec:
  secretStoreRef: {name: fake, kind: ClusterSecretStore}
  data: [{secretKey: evil, remoteRef: {key: k}}]
  target:
    template:
      templateFrom:
        - literal: '{{ .evil }}/x: v'
",
    );
    let output = sync(&scratch, "out", &[]);
    assert_eq!(output.status.code(), Some(11), "{}", text(&output));
    let message = row(&report(&output), "apps/literal")["message"].to_string();
    assert!(message.contains("is not a valid Secret key"), "{message}");
    assert!(!text(&output).contains(CANARY), "{}", text(&output));
    assert!(!text(&output).contains("canary"), "{}", text(&output));
}
