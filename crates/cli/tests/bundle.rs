//! `keyward bundle` end to end: against the real ansible-vault and sops, bad input that must
//! fail cleanly and leave the file byte-identical, and a canary that no output may contain.

use crate::util::{Scratch, ansible_vault, ok, stderr};

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use keyward_test_support::Tools;

const CANARY: &str = "kw-canary-9f2c7d1e-never-print-me";
const PASSWORD: &str = "correct horse";

/// A bundle holding the canary and two ordinary values.
fn seeded(scratch: &Scratch) {
    ok(&scratch.keyward(&["bundle", "new"]));
    ok(&scratch.keyward_with_stdin(
        &["bundle", "set", "CANARY_VALUE"],
        format!("{CANARY}\n").as_bytes(),
    ));
    ok(&scratch.keyward_with_stdin(&["bundle", "set", "DB_USER"], b"app"));
    ok(&scratch.keyward_with_stdin(&["bundle", "set", "MULTI"], b"line one\nline \"two\"\n\n"));
}

#[test]
fn values_round_trip_with_ansible_vault() {
    let tools = Tools::find().expect("tools");
    let scratch = Scratch::with_password(PASSWORD);
    seeded(&scratch);
    let mode = std::fs::metadata(scratch.bundle())
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let viewed = ansible_vault(&tools, &scratch)
        .args([
            "view",
            "--vault-password-file",
            "pw",
            "control/secrets.vault.env",
        ])
        .output()
        .expect("ansible-vault");
    assert!(viewed.status.success(), "{}", stderr(&viewed));
    assert_eq!(
        String::from_utf8_lossy(&viewed.stdout),
        format!(
            "CANARY_VALUE=\"{CANARY}\"\nDB_USER=\"app\"\nMULTI=\"line one\\nline \\\"two\\\"\\n\"\n"
        )
    );

    // ansible-vault writes a 1.2 file with a vault-id; keyward reads it with the same id.
    std::fs::write(scratch.join("plain.env"), "FROM_ANSIBLE='single quoted'\n").expect("plain");
    let encrypted = ansible_vault(&tools, &scratch)
        .args(["encrypt", "--vault-id", "ops@pw", "plain.env"])
        .output()
        .expect("ansible-vault");
    assert!(encrypted.status.success(), "{}", stderr(&encrypted));
    let got = scratch.keyward(&[
        "bundle",
        "-f",
        "plain.env",
        "--vault-id",
        "ops@pw",
        "get",
        "FROM_ANSIBLE",
    ]);
    assert_eq!(ok(&got), "single quoted");
}

#[test]
fn exec_hands_values_to_the_child_only() {
    let scratch = Scratch::with_password(PASSWORD);
    seeded(&scratch);
    let all = scratch.keyward(&[
        "bundle",
        "exec",
        "--",
        "sh",
        "-c",
        "printf '%s|%s' \"$DB_USER\" \"$HOME\"; exit 5",
    ]);
    assert_eq!(all.status.code(), Some(5));
    assert_eq!(
        String::from_utf8_lossy(&all.stdout),
        format!("app|{}", scratch.path().display())
    );
    let only = scratch.keyward(&[
        "bundle",
        "exec",
        "--only",
        "DB_USER",
        "--pristine",
        "--",
        "/bin/sh",
        "-c",
        "printf '%s|%s|%s' \"$DB_USER\" \"${CANARY_VALUE:-none}\" \"${HOME:-nohome}\"",
    ]);
    assert_eq!(ok(&only), "app|none|nohome");
    let missing = scratch.keyward(&["bundle", "exec", "--", "/no/such/program"]);
    assert_eq!(missing.status.code(), Some(127));
    let unknown = scratch.keyward(&["bundle", "exec", "--only", "NOPE", "--", "true"]);
    assert_eq!(unknown.status.code(), Some(11));
}

#[test]
fn exec_file_gives_a_path_that_is_gone_afterwards() {
    let scratch = Scratch::with_password(PASSWORD);
    seeded(&scratch);
    for extra in [&[][..], &["--no-fifo"][..]] {
        let mut args = vec!["bundle", "exec-file"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            "--",
            "sh",
            "-c",
            "grep -c = \"$1\"; echo \"$1\" >&2; exit 6",
            "sh",
            "{}",
        ]);
        let output = scratch.keyward(&args);
        assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "3");
        let path = stderr(&output);
        assert!(!Path::new(path.trim()).exists(), "{path} left behind");
    }
}

#[test]
fn exec_file_forwards_sigterm_and_cleans_up() {
    let scratch = Scratch::with_password(PASSWORD);
    seeded(&scratch);
    let marker = scratch.join("got-term");
    let script = format!(
        "trap 'echo term > {}; exit 9' TERM; echo \"$1\"; while :; do sleep 0.05; done",
        marker.display()
    );
    let mut child = scratch
        .command(&[
            "bundle",
            "exec-file",
            "--no-fifo",
            "--",
            "sh",
            "-c",
            &script,
            "sh",
            "{}",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first_line = Vec::new();
    let mut byte = [0u8; 1];
    while std::io::Read::read(&mut stdout, &mut byte).expect("read") == 1 && byte[0] != b'\n' {
        first_line.push(byte[0]);
    }
    let path = PathBuf::from(String::from_utf8(first_line).expect("utf-8"));
    assert!(path.exists(), "the child's file should exist while it runs");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(&marker).expect("marker").trim(),
        "term"
    );
    assert!(!path.exists(), "plaintext left behind after SIGTERM");
}

#[test]
fn edit_saves_changes_only_when_valid() {
    let scratch = Scratch::with_password(PASSWORD);
    seeded(&scratch);
    let before = std::fs::read(scratch.bundle()).expect("read");
    let unchanged = scratch
        .command(&["bundle", "edit"])
        .env("EDITOR", "true")
        .output()
        .expect("run");
    assert!(ok(&unchanged).contains("no changes"));
    assert_eq!(std::fs::read(scratch.bundle()).expect("read"), before);

    let invalid = scratch
        .command(&["bundle", "edit"])
        .env("EDITOR", "sh -c 'echo \"9BAD=x\" >> \"$0\"'")
        .output()
        .expect("run");
    assert_eq!(invalid.status.code(), Some(21), "{}", stderr(&invalid));
    assert!(stderr(&invalid).contains("line 4"), "{}", stderr(&invalid));
    assert_eq!(std::fs::read(scratch.bundle()).expect("read"), before);

    let added = scratch
        .command(&["bundle", "edit"])
        .env("VISUAL", "sh -c 'echo \"NEW_KEY=fresh\" >> \"$0\"'")
        .output()
        .expect("run");
    assert!(ok(&added).contains("4 keys"));
    assert_eq!(ok(&scratch.keyward(&["bundle", "get", "NEW_KEY"])), "fresh");
}

#[test]
fn rekey_switches_password_and_keeps_the_mode() {
    let tools = Tools::find().expect("tools");
    let scratch = Scratch::with_password(PASSWORD);
    seeded(&scratch);
    std::fs::set_permissions(scratch.bundle(), std::fs::Permissions::from_mode(0o640))
        .expect("chmod");
    std::fs::write(scratch.join("new-pw"), "new password\n").expect("write");
    ok(&scratch.keyward(&["bundle", "rekey", "--new-vault-id", "prod@new-pw"]));
    let header = std::fs::read_to_string(scratch.bundle()).expect("read");
    assert!(
        header.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"),
        "{header}"
    );
    let mode = std::fs::metadata(scratch.bundle())
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    let old = scratch.keyward(&["bundle", "verify"]);
    assert_eq!(old.status.code(), Some(21));
    let viewed = ansible_vault(&tools, &scratch)
        .args([
            "view",
            "--vault-id",
            "prod@new-pw",
            "control/secrets.vault.env",
        ])
        .output()
        .expect("ansible-vault");
    assert!(viewed.status.success(), "{}", stderr(&viewed));
}

#[test]
fn encrypt_and_decrypt_files_in_place_and_to_out() {
    let tools = Tools::find().expect("tools");
    let scratch = Scratch::with_password(PASSWORD);
    std::fs::write(scratch.join("notes.txt"), "any bytes, not env\n").expect("write");
    ok(&scratch.keyward(&["bundle", "encrypt", "notes.txt"]));
    let sealed = std::fs::read_to_string(scratch.join("notes.txt")).expect("read");
    assert!(sealed.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
    let viewed = ansible_vault(&tools, &scratch)
        .args(["view", "--vault-password-file", "pw", "notes.txt"])
        .output()
        .expect("ansible-vault");
    assert_eq!(
        String::from_utf8_lossy(&viewed.stdout),
        "any bytes, not env\n"
    );
    let again = scratch.keyward(&["bundle", "encrypt", "notes.txt"]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "encrypting twice must be refused"
    );
    ok(&scratch.keyward(&["bundle", "decrypt", "notes.txt", "--out", "plain.txt"]));
    assert_eq!(
        std::fs::read_to_string(scratch.join("plain.txt")).expect("read"),
        "any bytes, not env\n"
    );
    let mode = std::fs::metadata(scratch.join("plain.txt"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    ok(&scratch.keyward(&["bundle", "decrypt", "notes.txt"]));
    assert_eq!(
        std::fs::read_to_string(scratch.join("notes.txt")).expect("read"),
        "any bytes, not env\n"
    );
}

#[test]
fn sops_bundles_work_through_the_same_commands() {
    let tools = Tools::find().expect("tools");
    let scratch = Scratch::with_password(PASSWORD);
    let key = scratch.join("age.key");
    let keygen = Command::new(&tools.age_keygen)
        .arg("-o")
        .arg(&key)
        .output()
        .expect("age-keygen");
    assert!(keygen.status.success());
    let recipient = std::fs::read_to_string(&key)
        .expect("key")
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .expect("recipient");
    let with_key = |args: &[&str], stdin: &[u8]| {
        let mut child = scratch
            .command(args)
            .env("SOPS_AGE_KEY_FILE", &key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin)
            .expect("stdin");
        child.wait_with_output().expect("wait")
    };
    ok(&with_key(
        &[
            "bundle",
            "-f",
            "ci.env",
            "new",
            "--format",
            "sops-dotenv",
            "--age",
            &recipient,
        ],
        b"",
    ));
    ok(&with_key(
        &["bundle", "-f", "ci.env", "set", "TOKEN"],
        b"tok-42",
    ));
    let exec = with_key(
        &[
            "bundle",
            "-f",
            "ci.env",
            "exec",
            "--",
            "sh",
            "-c",
            "printf %s \"$TOKEN\"",
        ],
        b"",
    );
    assert_eq!(ok(&exec), "tok-42");
    let decrypted = Command::new(&tools.sops)
        .args([
            "--decrypt",
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
            "ci.env",
        ])
        .current_dir(scratch.path())
        .env("SOPS_AGE_KEY_FILE", &key)
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .expect("sops");
    assert_eq!(String::from_utf8_lossy(&decrypted.stdout), "TOKEN=tok-42\n");
    let no_key = scratch.keyward(&["bundle", "-f", "ci.env", "keys"]);
    assert_eq!(no_key.status.code(), Some(21), "{}", stderr(&no_key));
}

/// Each bad input: exit code, one line on stderr naming the file, the file byte-identical.
#[test]
fn bad_input_fails_cleanly_and_changes_nothing() {
    let scratch = Scratch::with_password(PASSWORD);
    seeded(&scratch);
    let good = std::fs::read(scratch.bundle()).expect("read");
    let text = String::from_utf8(good.clone()).expect("ascii");
    let body_line = |n: usize| text.lines().nth(n).expect("line").to_owned();

    let mut cases: Vec<(&str, Vec<u8>, Vec<&str>, i32)> = Vec::new();
    let tampered = text.replacen(&body_line(3), &flip_hex(&body_line(3)), 1);
    cases.push(("tampered", tampered.into_bytes(), vec![], 21));
    let truncated = text.lines().take(3).collect::<Vec<_>>().join("\n") + "\n";
    cases.push(("truncated", truncated.into_bytes(), vec![], 21));
    cases.push((
        "non-hex",
        text.replacen(&body_line(2), &"zz".repeat(40), 1)
            .into_bytes(),
        vec![],
        21,
    ));
    cases.push((
        "version",
        text.replacen("1.1;AES256", "9.9;AES256", 1).into_bytes(),
        vec![],
        21,
    ));
    cases.push((
        "header",
        text.replacen("$ANSIBLE_VAULT;", "$ANSIBLE_VAULX;", 1)
            .into_bytes(),
        vec![],
        21,
    ));
    for (name, content, extra, code) in cases {
        std::fs::write(scratch.bundle(), &content).expect("write");
        let mut args = vec!["bundle", "set", "X"];
        args.extend(extra);
        let output = scratch.keyward_with_stdin(&args, b"new value");
        assert_eq!(
            output.status.code(),
            Some(code),
            "{name}: {}",
            stderr(&output)
        );
        assert_one_line_naming_the_file(name, &output);
        assert_eq!(
            std::fs::read(scratch.bundle()).expect("read"),
            content,
            "{name}: file changed"
        );
    }
    std::fs::write(scratch.bundle(), &good).expect("restore");

    std::fs::write(scratch.join("wrong"), "wrong password\n").expect("write");
    std::fs::write(scratch.join("empty"), "\n").expect("write");
    let password_cases: Vec<(&str, Vec<&str>, i32)> = vec![
        ("wrong password", vec!["--vault-password-file", "wrong"], 21),
        ("empty password", vec!["--vault-password-file", "empty"], 21),
        (
            "failing command",
            vec!["--vault-password-command", "exit 4"],
            21,
        ),
        (
            "slow command",
            vec![
                "--vault-password-command",
                "sleep 5",
                "--password-timeout",
                "1",
            ],
            21,
        ),
        ("bad vault-id", vec!["--vault-id", "@"], 2),
    ];
    for (name, flags, code) in password_cases {
        let mut args = vec!["bundle", "set", "X"];
        args.extend(flags);
        let output = scratch.keyward_with_stdin(&args, b"new value");
        assert_eq!(
            output.status.code(),
            Some(code),
            "{name}: {}",
            stderr(&output)
        );
        assert_eq!(
            stderr(&output).lines().count(),
            1,
            "{name}: {}",
            stderr(&output)
        );
        assert_eq!(
            std::fs::read(scratch.bundle()).expect("read"),
            good,
            "{name}: file changed"
        );
    }

    // Valid encryption of invalid content: non-UTF-8 plaintext, a key that is no env name.
    for (name, plaintext) in [
        ("non-utf8", &b"A=\xff\xfe\n"[..]),
        ("bad key", &b"1X=2\n"[..]),
    ] {
        let sealed = keyward_bundle::vault::encrypt(
            plaintext,
            &keyward_core::SecretValue::from("correct horse"),
            None,
            None,
        )
        .expect("encrypt");
        std::fs::write(scratch.bundle(), &sealed).expect("write");
        let output = scratch.keyward(&["bundle", "verify"]);
        assert_eq!(
            output.status.code(),
            Some(21),
            "{name}: {}",
            stderr(&output)
        );
        assert_one_line_naming_the_file(name, &output);
        assert_eq!(std::fs::read(scratch.bundle()).expect("read"), sealed);
    }

    let missing = scratch.keyward(&["bundle", "-f", "nope.env", "keys"]);
    assert_eq!(missing.status.code(), Some(12));
    assert_one_line_naming_the_file("missing", &missing);
}

fn flip_hex(line: &str) -> String {
    let mut chars: Vec<char> = line.chars().collect();
    chars[10] = if chars[10] == '3' { '4' } else { '3' };
    chars.into_iter().collect()
}

fn assert_one_line_naming_the_file(name: &str, output: &Output) {
    let text = stderr(output);
    assert_eq!(text.lines().count(), 1, "{name}: not one line: {text:?}");
    assert!(text.starts_with("keyward: error: "), "{name}: {text}");
    assert!(
        text.contains(".env"),
        "{name}: the file is not named: {text}"
    );
}

/// Invariant 1: every subcommand but the explicit reveal paths (`--reveal`, `get` into a pipe,
/// `decrypt --out -`, exec's child) keeps the canary out of stdout, stderr and trace logs.
#[test]
fn canary_appears_in_no_output() {
    let scratch = Scratch::with_password(PASSWORD);
    let trace = ["--log-level", "trace"];
    let mut outputs: Vec<(String, Output)> = Vec::new();
    let mut record = |label: &str, output: Output| outputs.push((label.to_owned(), output));

    record(
        "new",
        scratch.keyward(&[&trace[..], &["bundle", "new"]].concat()),
    );
    record(
        "set stdin",
        scratch.keyward_with_stdin(
            &[&trace[..], &["bundle", "set", "CANARY_VALUE"]].concat(),
            CANARY.as_bytes(),
        ),
    );
    let inline = format!("INLINE={CANARY}");
    record(
        "set inline",
        scratch.keyward(&[&trace[..], &["bundle", "set", &inline]].concat()),
    );
    std::fs::write(scratch.join("value"), CANARY).expect("write");
    record(
        "set file",
        scratch.keyward(
            &[
                &trace[..],
                &["bundle", "set", "FROM_FILE", "--from-file", "value"],
            ]
            .concat(),
        ),
    );
    record(
        "set env",
        scratch
            .command(
                &[
                    &trace[..],
                    &["bundle", "set", "FROM_ENV", "--from-env", "SOURCE"],
                ]
                .concat(),
            )
            .env("SOURCE", CANARY)
            .output()
            .expect("run"),
    );
    record(
        "ensure",
        scratch.keyward(&[&trace[..], &["bundle", "ensure", "GENERATED"]].concat()),
    );
    for format in ["text", "json"] {
        for sub in [&["keys"][..], &["view"][..], &["verify"][..]] {
            let args = [&trace[..], &["--output", format, "bundle"], sub].concat();
            record(&format!("{sub:?} {format}"), scratch.keyward(&args));
        }
    }
    record(
        "unset",
        scratch.keyward(&[&trace[..], &["bundle", "unset", "INLINE", "ABSENT"]].concat()),
    );
    record(
        "edit",
        scratch
            .command(&[&trace[..], &["bundle", "edit"]].concat())
            .env("EDITOR", "true")
            .output()
            .expect("run"),
    );
    record(
        "exec failing",
        scratch.keyward(&[&trace[..], &["bundle", "exec", "--", "/no/such"]].concat()),
    );
    record(
        "exec child silent",
        scratch.keyward(&[&trace[..], &["bundle", "exec", "--", "true"]].concat()),
    );
    record(
        "exec-file",
        scratch.keyward(&[&trace[..], &["bundle", "exec-file", "--", "true", "{}"]].concat()),
    );
    std::fs::write(scratch.join("new-pw"), "rotated\n").expect("write");
    record(
        "rekey",
        scratch.keyward(
            &[
                &trace[..],
                &["bundle", "rekey", "--new-vault-password-file", "new-pw"],
            ]
            .concat(),
        ),
    );
    record(
        "wrong password",
        scratch.keyward(&[&trace[..], &["bundle", "view"]].concat()),
    );
    record(
        "view after rekey",
        scratch.keyward(
            &[
                &trace[..],
                &["bundle", "view", "--vault-password-file", "new-pw"],
            ]
            .concat(),
        ),
    );
    std::fs::write(scratch.join("plain.env"), format!("P={CANARY}\n")).expect("write");
    record(
        "encrypt",
        scratch.keyward(&[&trace[..], &["bundle", "encrypt", "plain.env"]].concat()),
    );
    record(
        "decrypt to file",
        scratch.keyward(
            &[
                &trace[..],
                &["bundle", "decrypt", "plain.env", "--out", "out.env"],
            ]
            .concat(),
        ),
    );
    record(
        "get to a terminal is refused elsewhere; get of a missing key",
        scratch.keyward(
            &[
                &trace[..],
                &["bundle", "get", "NOPE", "--vault-password-file", "new-pw"],
            ]
            .concat(),
        ),
    );

    for (label, output) in &outputs {
        for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains(CANARY),
                "{label}: canary in {stream}: {text}"
            );
        }
    }
    assert!(outputs.len() >= 20, "too few outputs checked");
    let on_disk = std::fs::read(scratch.bundle()).expect("read");
    assert!(
        !String::from_utf8_lossy(&on_disk).contains(CANARY),
        "plaintext on disk"
    );

    // The reveal paths do show it: the canary really was there to find.
    let revealed = scratch.keyward(&[
        "bundle",
        "view",
        "--reveal",
        "--vault-password-file",
        "new-pw",
    ]);
    assert!(ok(&revealed).contains(CANARY));
}
