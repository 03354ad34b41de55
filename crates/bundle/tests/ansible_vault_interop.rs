//! keyward's ansible-vault format against the real ansible-vault (ansible-core 2.19), both
//! ways, versions 1.1 and 1.2, and byte for byte with a fixed salt.

use std::path::Path;
use std::process::Command;

use keyward_bundle::vault;
use keyward_core::SecretValue;
use keyward_test_support::Tools;

const PASSWORD: &str = "correct horse battery staple";

/// Plaintexts that exercise padding edges, multi-line, unicode, quotes and CRLF.
fn plaintexts() -> Vec<Vec<u8>> {
    let mut cases: Vec<Vec<u8>> = vec![
        b"A=\"1\"\n".to_vec(),
        b"".to_vec(),
        vec![b'x'; 15],
        vec![b'y'; 16],
        vec![b'z'; 17],
        "MULTI=\"line one\\nline two\"\nUNICODE=\"p\u{e4}ssw\u{f6}rd \u{1f511}\"\n".into(),
        b"QUOTES=\"she said \\\"hi\\\" and 'bye'\"\r\nCRLF=\"yes\"\r\n".to_vec(),
    ];
    cases.push(
        (0..500)
            .flat_map(|i| format!("KEY_{i}=\"value-{i}\"\n").into_bytes())
            .collect(),
    );
    cases
}

fn ansible_vault(tools: &Tools, dir: &Path) -> Command {
    let mut command = Command::new(&tools.ansible_vault);
    // Keep ansible from reading or writing anything outside the test directory.
    command
        .current_dir(dir)
        .env("HOME", dir)
        .env("ANSIBLE_LOCAL_TEMP", dir.join("tmp"))
        .env_remove("ANSIBLE_VAULT_PASSWORD_FILE")
        .env_remove("ANSIBLE_CONFIG");
    command
}

fn run_with_stdin(command: Command, stdin: &[u8]) -> Vec<u8> {
    let output = keyward_test_support::output_with_stdin(command, stdin).expect("run");
    assert!(
        output.status.success(),
        "ansible-vault failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn password_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("password");
    std::fs::write(&path, format!("{PASSWORD}\n")).expect("password file");
    path
}

#[test]
fn ansible_vault_decrypts_what_keyward_writes() {
    let tools = Tools::find().expect("tools");
    let dir = tempfile::tempdir().expect("tempdir");
    let password = password_file(dir.path());
    for (index, plaintext) in plaintexts().into_iter().enumerate() {
        for label in [None, Some("prod")] {
            let sealed = vault::encrypt(&plaintext, &SecretValue::from(PASSWORD), label, None)
                .expect("encrypt");
            let file = dir.path().join(format!("case-{index}.vault"));
            std::fs::write(&file, &sealed).expect("write");
            let mut command = ansible_vault(&tools, dir.path());
            let id = match label {
                Some(label) => format!("{label}@{}", password.display()),
                None => password.display().to_string(),
            };
            // `decrypt --output -` prints the exact plaintext (`view` adds a newline to an
            // empty one).
            command
                .args(["decrypt", "--vault-id", &id, "--output", "-"])
                .arg(&file);
            let viewed = run_with_stdin(command, b"");
            assert_eq!(viewed, plaintext, "case {index} label {label:?}");
        }
    }
}

#[test]
fn keyward_decrypts_what_ansible_vault_writes() {
    let tools = Tools::find().expect("tools");
    let dir = tempfile::tempdir().expect("tempdir");
    let password = password_file(dir.path());
    for (index, plaintext) in plaintexts().into_iter().enumerate() {
        for label in [None, Some("ci")] {
            let mut command = ansible_vault(&tools, dir.path());
            let id = match label {
                Some(label) => format!("{label}@{}", password.display()),
                None => password.display().to_string(),
            };
            command.args(["encrypt", "--vault-id", &id, "--output", "-", "-"]);
            let sealed = run_with_stdin(command, &plaintext);
            let envelope = vault::parse(&sealed).expect("parse ansible output");
            assert_eq!(envelope.label.as_deref(), label, "case {index}");
            let opened = vault::decrypt(&envelope, &SecretValue::from(PASSWORD)).expect("decrypt");
            assert_eq!(opened.as_slice(), plaintext.as_slice(), "case {index}");
        }
    }
}

#[test]
fn same_salt_gives_the_same_bytes_as_ansible_vault() {
    let tools = Tools::find().expect("tools");
    let dir = tempfile::tempdir().expect("tempdir");
    let password = password_file(dir.path());
    let salt = "keyward-fixed-salt-for-comparison";
    for plaintext in plaintexts() {
        for label in [None, Some("prod")] {
            let mut command = ansible_vault(&tools, dir.path());
            let id = match label {
                Some(label) => format!("{label}@{}", password.display()),
                None => password.display().to_string(),
            };
            command.env("ANSIBLE_VAULT_ENCRYPT_SALT", salt).args([
                "encrypt",
                "--vault-id",
                &id,
                "--output",
                "-",
                "-",
            ]);
            let theirs = run_with_stdin(command, &plaintext);
            let ours = vault::encrypt(
                &plaintext,
                &SecretValue::from(PASSWORD),
                label,
                Some(salt.as_bytes()),
            )
            .expect("encrypt");
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "label {label:?}"
            );
        }
    }
}

#[test]
fn keyward_reads_an_indented_vault_block_from_yaml() {
    let tools = Tools::find().expect("tools");
    let dir = tempfile::tempdir().expect("tempdir");
    let password = password_file(dir.path());
    let mut command = ansible_vault(&tools, dir.path());
    command
        .args(["encrypt_string", "--vault-password-file"])
        .arg(&password)
        .args(["--stdin-name", "db_password"]);
    let yaml = run_with_stdin(command, b"s3cr3t");
    let yaml = String::from_utf8(yaml).expect("utf-8");
    // `db_password: !vault |` followed by the indented envelope.
    let block = yaml.split_once("!vault |").expect("vault block").1;
    let envelope = vault::parse(block.as_bytes()).expect("parse indented block");
    let opened = vault::decrypt(&envelope, &SecretValue::from(PASSWORD)).expect("decrypt");
    assert_eq!(opened.as_slice(), b"s3cr3t");
}
