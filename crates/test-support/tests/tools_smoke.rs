//! Smoke tests of the reference CLI tools: ansible-vault, sops and age round trips, and the Go
//! template renderer.

use std::path::Path;
use std::process::{Command, Output};

use keyward_test_support::Tools;

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("run tool");
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn age_identity(tools: &Tools, dir: &Path) -> String {
    let key = dir.join("age.key");
    run(Command::new(&tools.age_keygen).arg("-o").arg(&key));
    let text = std::fs::read_to_string(&key).expect("read key");
    text.lines()
        .find_map(|line| line.strip_prefix("# public key: "))
        .expect("public key line")
        .to_owned()
}

#[test]
fn ansible_vault_round_trip() {
    let tools = Tools::find().expect("tools");
    let dir = tempfile::tempdir().expect("tempdir");
    let password = dir.path().join("password");
    std::fs::write(&password, "correct horse\n").expect("password file");
    let file = dir.path().join("secrets.vault.env");
    std::fs::write(&file, "DB_PASSWORD=\"s3cr3t\"\n").expect("plaintext");

    run(Command::new(&tools.ansible_vault)
        .args(["encrypt", "--vault-password-file"])
        .arg(&password)
        .arg(&file));
    let encrypted = std::fs::read_to_string(&file).expect("read");
    assert!(
        encrypted.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"),
        "{encrypted}"
    );
    assert!(!encrypted.contains("s3cr3t"));

    let view = run(Command::new(&tools.ansible_vault)
        .args(["view", "--vault-password-file"])
        .arg(&password)
        .arg(&file));
    assert_eq!(view.stdout, b"DB_PASSWORD=\"s3cr3t\"\n");

    std::fs::write(&password, "wrong\n").expect("password file");
    let wrong = Command::new(&tools.ansible_vault)
        .args(["view", "--vault-password-file"])
        .arg(&password)
        .arg(&file)
        .output()
        .expect("run");
    assert!(!wrong.status.success(), "a wrong password decrypted");
}

#[test]
fn sops_round_trip_with_age() {
    let tools = Tools::find().expect("tools");
    let dir = tempfile::tempdir().expect("tempdir");
    let recipient = age_identity(&tools, dir.path());
    let plain = dir.path().join("app.env");
    std::fs::write(&plain, "API_TOKEN=tok-123\n").expect("plaintext");

    let encrypted = run(Command::new(&tools.sops)
        .args([
            "--encrypt",
            "--age",
            &recipient,
            "--input-type",
            "dotenv",
            "--output-type",
        ])
        .arg("dotenv")
        .arg(&plain)
        .env("SOPS_DISABLE_VERSION_CHECK", "1"));
    let text = String::from_utf8(encrypted.stdout).expect("utf-8");
    assert!(text.contains("API_TOKEN=ENC[AES256_GCM,data:"), "{text}");
    assert!(text.contains("sops_age__list_0__map_recipient="), "{text}");
    let sealed = dir.path().join("app.enc.env");
    std::fs::write(&sealed, &text).expect("write");

    let decrypted = run(Command::new(&tools.sops)
        .args([
            "--decrypt",
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
        ])
        .arg(&sealed)
        .env("SOPS_AGE_KEY_FILE", dir.path().join("age.key"))
        .env("SOPS_DISABLE_VERSION_CHECK", "1"));
    assert_eq!(decrypted.stdout, b"API_TOKEN=tok-123\n");
}

#[test]
fn age_round_trip() {
    let tools = Tools::find().expect("tools");
    let dir = tempfile::tempdir().expect("tempdir");
    let recipient = age_identity(&tools, dir.path());
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "bootstrap token").expect("plaintext");
    let sealed = dir.path().join("sealed.age");
    run(Command::new(&tools.age)
        .args(["-r", &recipient, "-o"])
        .arg(&sealed)
        .arg(&plain));
    let opened = run(Command::new(&tools.age)
        .args(["-d", "-i"])
        .arg(dir.path().join("age.key"))
        .arg(&sealed));
    assert_eq!(opened.stdout, b"bootstrap token");
}

#[test]
fn go_template_renders_with_sprig() {
    let tools = Tools::find().expect("tools");
    let dir = tempfile::tempdir().expect("tempdir");
    let template = dir.path().join("t.tmpl");
    std::fs::write(
        &template,
        "{{ .password | b64enc }} {{ .user | upper }} {{ .cfg | fromJson | toJson }}",
    )
    .expect("template");
    let data = dir.path().join("data.json");
    std::fs::write(
        &data,
        r#"{"password":"s3cr3t","user":"svc","cfg":"{\"b\":1,\"a\":2}"}"#,
    )
    .expect("data");
    // toJson sorts map keys the way Go's encoding/json does.
    let rendered = Command::new(&tools.gotemplate)
        .arg("-template")
        .arg(&template)
        .arg("-data")
        .arg(&data)
        .output()
        .expect("run gotemplate");
    let stdout = String::from_utf8_lossy(&rendered.stdout);
    let stderr = String::from_utf8_lossy(&rendered.stderr);
    assert!(rendered.status.success(), "{stderr}");
    assert_eq!(stdout, r#"czNjcjN0 SVC {"a":2,"b":1}"#);

    std::fs::write(&template, "{{ env \"HOME\" }}").expect("template");
    let removed = Command::new(&tools.gotemplate)
        .arg("-template")
        .arg(&template)
        .output()
        .expect("run gotemplate");
    assert!(
        !removed.status.success(),
        "env must not be available, as in ESO"
    );
    assert!(String::from_utf8_lossy(&removed.stderr).contains("function \"env\" not defined"));
}
