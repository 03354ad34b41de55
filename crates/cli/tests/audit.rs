//! `keyward sync --audit-log` and `keyward audit`: what a sync changed goes into a
//! hash-chained, signed log that `keyward audit verify` checks with the public key alone;
//! every kind of tampering is caught; the log, the outputs and the logs at trace level never
//! hold the value.

use crate::util::{Scratch, stderr, stdout};

const CANARY: &str = "CANARY-audit-c41e";

fn manifests(value: &str) -> String {
    format!(
        "\
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: fake, namespace: apps}}
spec:
  provider:
    fake: {{data: [{{key: db, value: {value}}}]}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: db, namespace: apps}}
spec:
  secretStoreRef: {{name: fake}}
  data:
  - secretKey: password
    remoteRef: {{key: db}}
"
    )
}

fn sync(scratch: &Scratch) -> std::process::Output {
    scratch.keyward(&[
        "sync",
        "-f",
        "deploy",
        "--out",
        "out",
        "--state-dir",
        "state",
        "--audit-log",
        "audit.log",
        "--log-level",
        "trace",
    ])
}

#[test]
fn a_sync_leaves_a_verifiable_log_without_the_value() {
    let scratch = Scratch::new();
    scratch.write("deploy/db.yaml", &manifests(CANARY));
    let first = sync(&scratch);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let unchanged = sync(&scratch);
    assert_eq!(unchanged.status.code(), Some(0), "{}", stderr(&unchanged));
    scratch.write("deploy/db.yaml", &manifests(&format!("{CANARY}-rotated")));
    let rotated = sync(&scratch);
    assert_eq!(rotated.status.code(), Some(0), "{}", stderr(&rotated));

    let log = scratch.read("audit.log");
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or(""))
        .collect();
    // Every run read the store (recorded: store, call, key); the unchanged one wrote
    // nothing, each changing run a projection entry; each run closes with a checkpoint.
    assert_eq!(
        kinds,
        [
            "store.read",
            "projection.written",
            "checkpoint",
            "store.read",
            "checkpoint",
            "store.read",
            "projection.written",
            "checkpoint"
        ]
    );
    assert_eq!(events[0]["subject"], "SecretStore/apps/fake");
    assert_eq!(
        events[0]["detail"],
        serde_json::json!({"call": "GetSecret", "key": "db", "ok": true})
    );
    assert_eq!(events[1]["subject"], "apps/db");
    assert!(
        events[1]["detail"]["fingerprint"]
            .as_str()
            .is_some_and(|f| f.starts_with("kw1:"))
    );
    assert_ne!(
        events[1]["detail"]["fingerprint"],
        events[6]["detail"]["fingerprint"]
    );
    let anchor_logged = stderr(&rotated);
    assert!(
        anchor_logged.contains("audit checkpoint"),
        "{anchor_logged}"
    );

    let key = scratch.keyward(&["audit", "key", "--state-dir", "state"]);
    assert_eq!(key.status.code(), Some(0), "{}", stderr(&key));
    let public = stdout(&key).trim().to_owned();
    assert!(public.starts_with("ed25519:"), "{public}");
    let verified = scratch.keyward(&["audit", "verify", "audit.log", "--key", &public]);
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));
    assert_eq!(
        stdout(&verified),
        "audit.log: intact: 8 entries, 3 signed checkpoints (the last: entry 8); 0 entries after it are unsigned\n"
    );

    for output in [&first, &unchanged, &rotated, &key, &verified] {
        let everything = format!("{}{}", stdout(output), stderr(output));
        assert!(!everything.contains(CANARY), "{everything}");
    }
    assert!(!log.contains(CANARY), "{log}");
}

#[test]
fn tampering_and_truncation_are_caught() {
    let scratch = Scratch::new();
    scratch.write("deploy/db.yaml", &manifests("v1"));
    assert_eq!(sync(&scratch).status.code(), Some(0));
    scratch.write("deploy/db.yaml", &manifests("v2"));
    let second = sync(&scratch);
    assert_eq!(second.status.code(), Some(0));
    let public = stdout(&scratch.keyward(&["audit", "key", "--state-dir", "state"]))
        .trim()
        .to_owned();
    let log = scratch.read("audit.log");
    let verify = |text: &str, anchor: Option<&str>| {
        scratch.write("copy.log", text);
        let mut args = vec!["audit", "verify", "copy.log", "--key", public.as_str()];
        if let Some(anchor) = anchor {
            args.extend(["--anchor", anchor]);
        }
        let output = scratch.keyward(&args);
        (output.status.code(), stdout(&output))
    };

    let edited = log.replacen("apps/db", "apps/other", 1);
    let (code, out) = verify(&edited, None);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with("copy.log: line 3: does not follow the line before it"),
        "{out}"
    );

    let lines: Vec<&str> = log.lines().collect();
    // Each run: its store read, the projection written, a checkpoint.
    assert_eq!(lines.len(), 6, "{log}");
    let dropped: String = [lines[0], lines[1], lines[2], lines[4]]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    let (code, out) = verify(&dropped, None);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("line 4: holds entry 5"), "{out}");

    // Back to the first checkpoint: a valid log, unless the last anchor is kept elsewhere.
    let anchor = format!("6:{}", keyward_sha256(lines[5]));
    let truncated: String = lines[..3].iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(verify(&truncated, None).0, Some(0));
    let (code, out) = verify(&truncated, Some(&anchor));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("it was truncated"), "{out}");
    assert_eq!(verify(&log, Some(&anchor)).0, Some(0));

    let wrong = scratch.keyward(&["audit", "verify", "audit.log", "--key", "ed25519:AAAA"]);
    assert_eq!(wrong.status.code(), Some(11), "{}", stderr(&wrong));
    let missing = scratch.keyward(&["audit", "verify", "nope.log", "--key", &public]);
    assert_eq!(missing.status.code(), Some(12), "{}", stderr(&missing));
}

/// The anchor of a line, as the writer logs it (`sha256:HEX` of the line's bytes).
fn keyward_sha256(line: &str) -> String {
    let output = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(line.as_bytes())?;
            child.wait_with_output()
        })
        .expect("sha256sum");
    let text = String::from_utf8_lossy(&output.stdout);
    format!("sha256:{}", text.split_whitespace().next().unwrap_or(""))
}

#[test]
fn bundle_exec_records_the_handover_and_refuses_to_run_unrecorded() {
    let scratch = Scratch::with_password("correct horse");
    let with_password = |args: &[&str], stdin: Option<&str>| match stdin {
        None => scratch.keyward(args),
        Some(text) => scratch.keyward_with_stdin(args, text.as_bytes()),
    };
    assert_eq!(
        with_password(&["bundle", "new"], None).status.code(),
        Some(0)
    );
    let set = with_password(&["bundle", "set", "DB_PASSWORD"], Some(CANARY));
    assert_eq!(set.status.code(), Some(0), "{}", stderr(&set));

    let exec = with_password(
        &[
            "bundle",
            "exec",
            "--audit-log",
            "audit.log",
            "--state-dir",
            "state",
            "--",
            "sh",
            "-c",
            "test -n \"$DB_PASSWORD\"",
        ],
        None,
    );
    assert_eq!(exec.status.code(), Some(0), "{}", stderr(&exec));
    let log = scratch.read("audit.log");
    let entry: serde_json::Value =
        serde_json::from_str(log.lines().next().expect("an entry")).expect("JSON");
    assert_eq!(entry["event"], "bundle.exec");
    assert_eq!(entry["subject"], "control/secrets.vault.env");
    assert_eq!(entry["detail"]["keys"], serde_json::json!(["DB_PASSWORD"]));
    assert_eq!(entry["detail"]["command"], "sh");
    assert!(!log.contains(CANARY) && !log.contains("test -n"), "{log}");
    let public = stdout(&scratch.keyward(&["audit", "key", "--state-dir", "state"]))
        .trim()
        .to_owned();
    let verified = scratch.keyward(&["audit", "verify", "audit.log", "--key", &public]);
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));

    // A log that cannot be written: the command does not run.
    std::fs::create_dir(scratch.join("blocked.log")).expect("a directory where the log goes");
    let refused = with_password(
        &[
            "bundle",
            "exec",
            "--audit-log",
            "blocked.log",
            "--state-dir",
            "state",
            "--",
            "touch",
            "ran",
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(30), "{}", stderr(&refused));
    assert!(
        !scratch.join("ran").exists(),
        "the command ran without its audit entry"
    );
    assert!(!stderr(&refused).contains(CANARY));
}

/// The bundle's rotations (`ensure --force`, `rekey`) leave entries naming keys and labels,
/// never a value; `ensure` without --force leaves set values alone.
#[test]
fn bundle_rotations_are_audited_without_values() {
    let scratch = Scratch::with_password("correct horse");
    assert_eq!(scratch.keyward(&["bundle", "new"]).status.code(), Some(0));
    let set = scratch.keyward_with_stdin(&["bundle", "set", "DB_PASSWORD"], CANARY.as_bytes());
    assert_eq!(set.status.code(), Some(0), "{}", stderr(&set));
    let audit = ["--audit-log", "audit.log", "--state-dir", "state"];

    let kept = scratch.keyward(&[&["bundle", "ensure", "DB_PASSWORD"][..], &audit].concat());
    assert_eq!(kept.status.code(), Some(0), "{}", stderr(&kept));
    assert!(
        stdout(&kept).contains("all 1 keys already set"),
        "{}",
        stdout(&kept)
    );
    assert!(
        !scratch.join("audit.log").exists(),
        "nothing rotated, nothing recorded"
    );

    let rotated = scratch.keyward(
        &[
            &[
                "bundle",
                "ensure",
                "DB_PASSWORD",
                "--force",
                "--length",
                "40",
            ][..],
            &audit,
        ]
        .concat(),
    );
    assert_eq!(rotated.status.code(), Some(0), "{}", stderr(&rotated));
    let value = scratch.keyward(&["bundle", "get", "DB_PASSWORD"]);
    let new_value = stdout(&value);
    assert_eq!(new_value.trim_end().len(), 40, "a new 40-character value");
    assert_ne!(new_value.trim_end(), CANARY);

    std::fs::write(scratch.join("new-pw"), "battery staple\n").expect("new password");
    let rekeyed = scratch.keyward(
        &[
            &["bundle", "rekey", "--new-vault-password-file", "new-pw"][..],
            &audit,
        ]
        .concat(),
    );
    assert_eq!(rekeyed.status.code(), Some(0), "{}", stderr(&rekeyed));

    let log = scratch.read("audit.log");
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .filter(|entry: &serde_json::Value| entry["event"] != "checkpoint")
        .collect();
    assert_eq!(events.len(), 2, "{log}");
    assert_eq!(events[0]["event"], "bundle.generated");
    assert_eq!(
        events[0]["detail"]["keys"],
        serde_json::json!(["DB_PASSWORD"])
    );
    assert_eq!(events[0]["detail"]["forced"], true);
    assert_eq!(events[1]["event"], "bundle.rekeyed");
    assert_eq!(events[1]["detail"]["label"], "default");
    assert!(
        !log.contains(CANARY) && !log.contains(new_value.trim_end()),
        "a value is in the audit log: {log}"
    );
    let public = stdout(&scratch.keyward(&["audit", "key", "--state-dir", "state"]))
        .trim()
        .to_owned();
    let verified = scratch.keyward(&["audit", "verify", "audit.log", "--key", &public]);
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));
}
