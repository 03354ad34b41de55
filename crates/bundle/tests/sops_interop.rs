//! keyward's SOPS reader and writer against the real sops binary, dotenv and YAML, with one
//! and several age recipients, both directions, and tampering detected by both.

use std::path::{Path, PathBuf};
use std::process::Command;

use keyward_bundle::env::EnvMap;
use keyward_bundle::sops::{self, Identities, Kind, Sealed};
use keyward_core::SecretValue;
use keyward_test_support::Tools;

struct Keys {
    recipients: Vec<String>,
    files: Vec<PathBuf>,
}

fn age_keys(tools: &Tools, dir: &Path, count: usize) -> Keys {
    let mut keys = Keys {
        recipients: Vec::new(),
        files: Vec::new(),
    };
    for index in 0..count {
        let file = dir.join(format!("key-{index}.txt"));
        let status = Command::new(&tools.age_keygen)
            .arg("-o")
            .arg(&file)
            .output()
            .expect("age-keygen");
        assert!(status.status.success());
        let text = std::fs::read_to_string(&file).expect("key file");
        let recipient = text
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .expect("public key");
        keys.recipients.push(recipient.to_owned());
        keys.files.push(file);
    }
    keys
}

fn sops(tools: &Tools, dir: &Path, key_file: &Path) -> Command {
    let mut command = Command::new(&tools.sops);
    command
        .current_dir(dir)
        .env("SOPS_AGE_KEY_FILE", key_file)
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .env("HOME", dir)
        .env_remove("SOPS_AGE_KEY");
    command
}

fn values() -> EnvMap {
    let mut map = EnvMap::new();
    map.insert("API_TOKEN".into(), SecretValue::from("tok-123"));
    map.insert(
        "DB_URL".into(),
        SecretValue::from("postgres://u:p@db/app?sslmode=require"),
    );
    map.insert(
        "UNICODE".into(),
        SecretValue::from("p\u{e4}ssw\u{f6}rd \u{1f511}"),
    );
    map.insert("QUOTES".into(), SecretValue::from("it's \"quoted\""));
    map.insert("EMPTY".into(), SecretValue::from(""));
    map
}

fn kinds() -> [(Kind, &'static str); 2] {
    [(Kind::Dotenv, "dotenv"), (Kind::Yaml, "yaml")]
}

fn as_text(map: &EnvMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| (k.clone(), v.expose_str().expect("utf-8").to_owned()))
        .collect()
}

#[test]
fn sops_decrypts_what_keyward_writes_for_every_recipient() {
    let tools = Tools::find().expect("tools");
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = age_keys(&tools, dir.path(), 3);
    for (kind, name) in kinds() {
        let sealed = Sealed::new(kind, &keys.recipients).expect("new");
        let file = dir.path().join(format!("bundle.{name}"));
        std::fs::write(&file, sealed.encrypt(&values()).expect("encrypt")).expect("write");
        for key_file in &keys.files {
            let output = sops(&tools, dir.path(), key_file)
                .args(["--decrypt", "--input-type", name, "--output-type", "json"])
                .arg(&file)
                .output()
                .expect("sops");
            assert!(
                output.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
            for (key, value) in as_text(&values()) {
                assert_eq!(json[&key], value.as_str(), "{name} {key}");
            }
        }
    }
}

#[test]
fn keyward_decrypts_what_sops_writes() {
    let tools = Tools::find().expect("tools");
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = age_keys(&tools, dir.path(), 2);
    let plain_env = dir.path().join("plain.env");
    std::fs::write(
        &plain_env,
        "API_TOKEN=tok-123\nEMPTY=\nNOTE_unencrypted=public\nURL=https://x/?a=b\n",
    )
    .expect("write");
    let plain_yaml = dir.path().join("plain.yaml");
    std::fs::write(
        &plain_yaml,
        "API_TOKEN: tok-123\nCOUNT: 3\nFLAG: true\nMULTI: |\n  line1\n  line2\n",
    )
    .expect("write");
    for (plain, name) in [(&plain_env, "dotenv"), (&plain_yaml, "yaml")] {
        let output = sops(&tools, dir.path(), &keys.files[0])
            .args([
                "--encrypt",
                "--age",
                &keys.recipients.join(","),
                "--input-type",
                name,
                "--output-type",
                name,
            ])
            .arg(plain)
            .output()
            .expect("sops");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for key_file in &keys.files {
            let identities = Identities::from_text("test", &std::fs::read(key_file).expect("key"));
            let opened = sops::decrypt(&output.stdout, &identities).expect("keyward decrypts");
            let got = as_text(&opened.values);
            assert!(
                got.contains(&("API_TOKEN".into(), "tok-123".into())),
                "{name}: {got:?}"
            );
            if name == "yaml" {
                assert!(got.contains(&("COUNT".into(), "3".into())), "{got:?}");
                assert!(got.contains(&("FLAG".into(), "True".into())), "{got:?}");
                assert!(
                    got.contains(&("MULTI".into(), "line1\nline2\n".into())),
                    "{got:?}"
                );
            } else {
                assert!(
                    got.contains(&("NOTE_unencrypted".into(), "public".into())),
                    "{got:?}"
                );
                assert!(
                    got.contains(&("URL".into(), "https://x/?a=b".into())),
                    "{got:?}"
                );
            }
        }
    }
}

#[test]
fn a_file_rewritten_by_keyward_still_opens_in_sops() {
    let tools = Tools::find().expect("tools");
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = age_keys(&tools, dir.path(), 2);
    let plain = dir.path().join("plain.env");
    std::fs::write(&plain, "A=1\n").expect("write");
    let output = sops(&tools, dir.path(), &keys.files[0])
        .args([
            "--encrypt",
            "--age",
            &keys.recipients.join(","),
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
        ])
        .arg(&plain)
        .output()
        .expect("sops");
    assert!(output.status.success());
    let identities = Identities::from_text("test", &std::fs::read(&keys.files[0]).expect("key"));
    let mut opened = sops::decrypt(&output.stdout, &identities).expect("open");
    opened.values.insert("B".into(), SecretValue::from("2"));
    let rewritten = dir.path().join("rewritten.env");
    std::fs::write(
        &rewritten,
        opened.sealed.encrypt(&opened.values).expect("encrypt"),
    )
    .expect("write");
    // The second recipient's wrap of the same data key survived the rewrite.
    let decrypted = sops(&tools, dir.path(), &keys.files[1])
        .args([
            "--decrypt",
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
        ])
        .arg(&rewritten)
        .output()
        .expect("sops");
    assert!(
        decrypted.status.success(),
        "{}",
        String::from_utf8_lossy(&decrypted.stderr)
    );
    assert_eq!(decrypted.stdout, b"A=1\nB=2\n");
}

#[test]
fn both_detect_tampering() {
    let tools = Tools::find().expect("tools");
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = age_keys(&tools, dir.path(), 1);
    let sealed = Sealed::new(Kind::Dotenv, &keys.recipients).expect("new");
    let text = String::from_utf8(sealed.encrypt(&values()).expect("encrypt")).expect("utf-8");
    // Swap the encrypted values of two keys: the AAD binds each value to its key, so both
    // tools must refuse.
    let lines: Vec<&str> = text.lines().collect();
    let api = lines
        .iter()
        .position(|l| l.starts_with("API_TOKEN="))
        .expect("API_TOKEN");
    let db = lines
        .iter()
        .position(|l| l.starts_with("DB_URL="))
        .expect("DB_URL");
    let mut swapped: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    swapped[api] = format!("API_TOKEN={}", &lines[db]["DB_URL=".len()..]);
    swapped[db] = format!("DB_URL={}", &lines[api]["API_TOKEN=".len()..]);
    let tampered = dir.path().join("tampered.env");
    std::fs::write(&tampered, swapped.join("\n") + "\n").expect("write");

    let identities = Identities::from_text("test", &std::fs::read(&keys.files[0]).expect("key"));
    let ours = sops::decrypt(&std::fs::read(&tampered).expect("read"), &identities);
    assert!(ours.is_err(), "keyward accepted a tampered file");
    let theirs = sops(&tools, dir.path(), &keys.files[0])
        .args([
            "--decrypt",
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
        ])
        .arg(&tampered)
        .output()
        .expect("sops");
    assert!(!theirs.status.success(), "sops accepted a tampered file");
}
