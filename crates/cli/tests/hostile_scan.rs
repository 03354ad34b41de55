//! Hardening regression tests of `keyward scan` through the binary (issue 12, items 4, 8, 9
//! and 15): what a person or CI sees when the scanner meets a hostile or damaged repository.
//! One clear line and the documented exit code; `--strict` fails a scan that could not look
//! everywhere; racing first runs share one key; no value in any output.

use crate::util::{command_in, everything, stderr, wait_guarded};

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output};

use keyward_scan::synth::expand;
use keyward_test_support::git;

fn keyward(dir: &Path, args: &[&str]) -> Output {
    wait_guarded(command_in(dir, args).spawn().expect("run keyward"))
}

/// A clean repository (no finding) with one commit.
fn clean_repo(dir: &Path) {
    git(dir, &["init", "-q"]);
    std::fs::write(dir.join("README.md"), "# nothing here\n").expect("write");
    std::fs::write(dir.join("notes.txt"), "plain notes\n").expect("write");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "clean"]);
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success());
}

/// A FIFO where a tracked file was: the scan does not block, says what it did not scan, exits
/// 0 (nothing found) and 1 under `--strict`; in JSON the skip is data and a warning on stderr.
#[test]
fn content_not_scanned_is_a_warning_and_fails_under_strict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    clean_repo(d);
    std::fs::remove_file(d.join("notes.txt")).expect("rm");
    mkfifo(&d.join("notes.txt"));
    let lenient = keyward(d, &["scan"]);
    assert_eq!(lenient.status.code(), Some(0), "{}", everything(&lenient));
    let text = String::from_utf8_lossy(&lenient.stdout);
    assert!(
        text.contains("warning: not scanned: notes.txt: is a FIFO, not a regular file"),
        "{text}"
    );
    assert!(text.contains("1 not scanned"), "{text}");
    let strict = keyward(d, &["scan", "--strict"]);
    assert_eq!(strict.status.code(), Some(1), "{}", everything(&strict));
    let json = keyward(d, &["scan", "--strict", "--format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(report["skipped"][0]["path"], "notes.txt");
    assert!(
        stderr(&json).contains("not scanned: notes.txt"),
        "{}",
        stderr(&json)
    );
    let sarif = keyward(d, &["scan", "--format", "sarif"]);
    let log: serde_json::Value = serde_json::from_slice(&sarif.stdout).expect("sarif");
    let notes = &log["runs"][0]["invocations"][0]["toolExecutionNotifications"];
    assert_eq!(notes[0]["level"], "warning", "{notes}");
}

/// Lost packs: one line naming the failed step, exit 30; never "0 findings".
#[test]
fn a_repository_whose_packs_are_lost_exits_30() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    clean_repo(d);
    git(d, &["repack", "-adq"]);
    git(d, &["prune-packed"]);
    for entry in std::fs::read_dir(d.join(".git/objects/pack")).expect("ls") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "pack") {
            std::fs::remove_file(path).expect("rm");
        }
    }
    let output = keyward(d, &["scan", "--history"]);
    assert_eq!(output.status.code(), Some(30), "{}", everything(&output));
    let err = stderr(&output);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("finding"));
}

/// Hostile configuration: one line naming the file and what is wrong with it, exit 11.
#[test]
fn hostile_configuration_exits_11_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    clean_repo(d);
    std::fs::write(
        d.join(".keyward.toml"),
        "[scan]\nbaseline = \"/dev/zero\"\n",
    )
    .expect("write");
    let output = keyward(d, &["scan"]);
    assert_eq!(output.status.code(), Some(11), "{}", everything(&output));
    let err = stderr(&output);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("/dev/zero") && err.contains("not a regular file"),
        "{err}"
    );

    let key = d.join(".git/shared.key");
    std::fs::write(&key, [9u8; 32]).expect("write key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(
        d.join(".keyward.toml"),
        "[scan]\nfingerprint_key_file = \".git/shared.key\"\n",
    )
    .expect("write");
    let output = keyward(d, &["scan"]);
    assert_eq!(output.status.code(), Some(11), "{}", everything(&output));
    let err = stderr(&output);
    assert!(
        err.contains("shared.key") && err.contains("chmod 600"),
        "{err}"
    );
}

/// Eight `keyward scan` processes started at once on a repository without a key: one key is
/// created and every run reports the same fingerprint under it.
#[test]
fn concurrent_first_runs_report_one_fingerprint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    git(d, &["init", "-q"]);
    let token = expand("race-token", "npm_{an:36}");
    std::fs::write(d.join("publish.sh"), format!("NPM_TOKEN={token}\n")).expect("write");
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "token"]);
    let children: Vec<Child> = (0..8)
        .map(|_| {
            command_in(d, &["scan", "--format", "json"])
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut fingerprints = std::collections::BTreeSet::new();
    for child in children {
        let output = wait_guarded(child);
        assert_eq!(output.status.code(), Some(1), "{}", everything(&output));
        assert!(!everything(&output).contains(&token[..8]), "a value leaked");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        fingerprints.insert(report["findings"][0]["fingerprint"].to_string());
    }
    assert_eq!(fingerprints.len(), 1, "{fingerprints:?}");
    let keys = std::fs::read_dir(d.join(".git/keyward"))
        .expect("ls")
        .count();
    assert_eq!(keys, 1, "temporary key files left behind");
}

/// A secret deep in a file over 16 MiB is found, and shown only as its preview.
#[test]
fn a_secret_in_a_large_file_is_found_and_never_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    git(d, &["init", "-q"]);
    let token = expand("large-canary", "npm_{an:36}");
    let mut text = "filler line of a generated file\n".repeat((17 << 20) / 32);
    text.push_str(&format!("NPM_TOKEN={token}\n"));
    std::fs::write(d.join("generated.txt"), &text).expect("write");
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "large"]);
    for args in [&["scan"][..], &["scan", "--history", "--format", "json"]] {
        let output = keyward(d, args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            everything(&output)
        );
        let all = everything(&output);
        assert!(!all.contains(&token[..8]), "{args:?} leaked a value");
        assert!(all.contains("npm-access-token"), "{args:?}: {all}");
    }
}
