//! Hardening regression tests of the scanner (issue 12, items 4, 8, 9 and 15): hostile
//! repositories, hostile configuration, damaged object stores and racing first runs. Each test
//! failed on the code before its fix.
//!
//! - Keys: two first runs end with one key; a key others can read is refused; a key path a
//!   repository names is never created.
//! - Not looking is not clean: large files are scanned (streamed), a FIFO or device where a
//!   file should be is reported, lost or truncated packs and missing blobs fail the scan.
//! - Unbounded reads: configuration, baseline, cache and key are regular files within caps.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};

use keyward_core::{Classify, ErrorKind};
use keyward_scan::synth::expand;
use keyward_scan::{FingerprintKey, Mode, Report, ScanError, ScanOptions, run};
use keyward_test_support::git;

fn write(dir: &Path, path: &str, text: &str) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(file, text).expect("write");
}

/// A repository with one commit holding one token; returns the token.
fn repo_with_token(dir: &Path) -> String {
    let token = expand("hostile-token", "npm_{an:36}");
    git(dir, &["init", "-q"]);
    write(dir, "README.md", "# demo\n");
    write(dir, "ci/publish.sh", &format!("NPM_TOKEN={token}\n"));
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "one"]);
    token
}

/// A key file of 32 bytes with `mode`.
fn key_file(path: &Path, mode: u32) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, [7u8; 32]).expect("write key");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn options(path: &Path, mode: Mode) -> ScanOptions {
    ScanOptions {
        path: path.to_path_buf(),
        mode,
        baseline: None,
        key_file: None,
    }
}

fn history() -> Mode {
    Mode::History {
        since: None,
        cache: None,
    }
}

/// Runs a scan on another thread; a scan that blocks (on a FIFO) fails the test instead of
/// hanging it. The bound is a hang guard, not a timing assertion.
fn run_guarded(options: ScanOptions) -> Result<Report, ScanError> {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(run(&options));
    });
    receive
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the scan blocked instead of refusing")
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

// ---- Item 4: one key, however many first runs ----

/// Sixteen threads that all find no key create it at once, ten times over: every one of them
/// gets the key that ends up on disk (before: temporary-file collisions failed some runs, and
/// a later rename replaced the key others had used).
#[test]
fn first_runs_at_once_end_with_one_key_they_all_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    for round in 0..10 {
        let path = dir.path().join(format!("r{round}/keyward/fingerprint.key"));
        let barrier = Arc::new(Barrier::new(16));
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (path, barrier) = (path.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    FingerprintKey::load_or_create(&path)
                        .map(|key| key.fingerprint("rule", b"value"))
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        let on_disk = || {
            FingerprintKey::load(&path)
                .expect("the key exists")
                .fingerprint("rule", b"value")
        };
        for handle in handles {
            let used = handle
                .join()
                .expect("thread")
                .expect("every run gets a key");
            assert_eq!(used, on_disk(), "round {round}: a run used another key");
        }
        let leftovers = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .count();
        assert_eq!(leftovers, 1, "round {round}: temporary files left behind");
    }
}

// ---- Item 15: keys others can read, keys a repository places ----

#[test]
fn a_key_file_others_can_read_is_refused_wherever_it_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    repo_with_token(d);
    let readable = d.join("keys/scan.key");
    key_file(&readable, 0o644);
    // Named by the repository's configuration…
    write(
        d,
        ".keyward.toml",
        &format!("[scan]\nfingerprint_key_file = {:?}\n", readable),
    );
    let error = run(&options(d, Mode::WorkTree)).expect_err("refused");
    assert!(matches!(error, ScanError::KeyRefused(..)), "{error}");
    assert_eq!(error.kind(), ErrorKind::InvalidConfig);
    assert!(error.to_string().contains("chmod 600"), "{error}");
    // …or by the user.
    std::fs::remove_file(d.join(".keyward.toml")).expect("rm");
    let mut by_user = options(d, Mode::WorkTree);
    by_user.key_file = Some(readable.clone());
    assert!(matches!(run(&by_user), Err(ScanError::KeyRefused(..))));
    // Owner-only is accepted.
    std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    assert!(run(&by_user).is_ok());
    // A device is no key.
    by_user.key_file = Some(PathBuf::from("/dev/zero"));
    assert!(matches!(run(&by_user), Err(ScanError::KeyRefused(..))));
}

#[test]
fn a_key_path_the_repository_names_is_never_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    repo_with_token(d);
    let outside = tempfile::tempdir().expect("tempdir");
    let placed = outside.path().join("made-by-a-repository/scan.key");
    write(
        d,
        ".keyward.toml",
        &format!("[scan]\nfingerprint_key_file = {:?}\n", placed),
    );
    let error = run(&options(d, Mode::WorkTree)).expect_err("missing key");
    assert!(
        matches!(error, ScanError::ConfiguredKeyMissing(_)),
        "{error}"
    );
    assert_eq!(error.kind(), ErrorKind::MissingDependency);
    assert!(
        !placed.parent().expect("parent").exists(),
        "created a directory"
    );
}

// ---- Item 9: unbounded reads ----

#[test]
fn a_baseline_that_is_a_device_or_too_large_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    repo_with_token(d);
    write(d, ".keyward.toml", "[scan]\nbaseline = \"/dev/zero\"\n");
    let error = run_guarded(options(d, Mode::WorkTree)).expect_err("refused");
    assert!(error.to_string().contains("not a regular file"), "{error}");
    assert_eq!(error.kind(), ErrorKind::InvalidConfig);
    // A sparse file over the 64 MiB cap: refused before a byte is read.
    let big = d.join(".git/big-baseline.json");
    std::fs::File::create(&big)
        .and_then(|f| f.set_len((64 << 20) + 1))
        .expect("sparse file");
    write(
        d,
        ".keyward.toml",
        "[scan]\nbaseline = \".git/big-baseline.json\"\n",
    );
    let error = run(&options(d, Mode::WorkTree)).expect_err("refused");
    assert!(error.to_string().contains("larger than 64 MiB"), "{error}");
}

#[test]
fn a_configuration_linked_to_a_device_or_a_fifo_is_refused_not_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    repo_with_token(d);
    // Git stores symbolic links: a cloned repository can hold this one.
    std::os::unix::fs::symlink("/dev/zero", d.join(".keyward.toml")).expect("symlink");
    let error = run_guarded(options(d, Mode::WorkTree)).expect_err("refused");
    assert!(error.to_string().contains("character device"), "{error}");
    assert_eq!(error.kind(), ErrorKind::InvalidConfig);
    std::fs::remove_file(d.join(".keyward.toml")).expect("rm");
    mkfifo(&d.join(".keyward.toml"));
    let error = run_guarded(options(d, Mode::WorkTree)).expect_err("refused");
    assert!(error.to_string().contains("a FIFO"), "{error}");
    // Over the cap.
    std::fs::remove_file(d.join(".keyward.toml")).expect("rm");
    write(d, ".keyward.toml", &format!("# {}\n", "x".repeat(1 << 20)));
    let error = run(&options(d, Mode::WorkTree)).expect_err("refused");
    assert!(error.to_string().contains("larger than 1 MiB"), "{error}");
}

#[test]
fn a_cache_that_is_not_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    repo_with_token(d);
    let mode = Mode::History {
        since: None,
        cache: Some(PathBuf::from("/dev/zero")),
    };
    let error = run_guarded(options(d, mode)).expect_err("refused");
    assert!(matches!(error, ScanError::Cache(..)), "{error}");
    assert_eq!(error.kind(), ErrorKind::InvalidConfig);
}

/// serde's messages quote the strings of the file they parse; a baseline read from wherever
/// a repository points must not put them in an error.
#[test]
fn a_baseline_error_never_quotes_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    repo_with_token(d);
    let canary = expand("baseline-canary", "{an:24}");
    write(
        d,
        "elsewhere.json",
        &format!("{{\"version\": \"{canary}\"}}"),
    );
    write(
        d,
        ".keyward.toml",
        "[scan]\nbaseline = \"elsewhere.json\"\n",
    );
    let error = run(&options(d, Mode::WorkTree)).expect_err("not a baseline");
    let message = format!("{error} {error:?}");
    assert!(!message.contains(&canary[..8]), "the error quotes the file");
    assert!(message.contains("not a keyward baseline"), "{message}");
}

// ---- Item 8: a scan that did not look does not say clean ----

#[test]
fn a_fifo_where_a_tracked_file_was_is_reported_and_does_not_hang_the_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    repo_with_token(d);
    std::fs::remove_file(d.join("README.md")).expect("rm");
    mkfifo(&d.join("README.md"));
    let report = run_guarded(options(d, Mode::WorkTree)).expect("scans");
    assert_eq!(report.findings.len(), 1, "the token is still found");
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert_eq!(report.skipped[0].path, "README.md");
    assert!(
        report.skipped[0].reason.contains("FIFO"),
        "{:?}",
        report.skipped
    );
    assert!(report.is_incomplete());
}

#[test]
fn a_tracked_file_replaced_by_a_link_to_a_device_is_reported_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    repo_with_token(d);
    std::fs::remove_file(d.join("README.md")).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", d.join("README.md")).expect("symlink");
    let report = run_guarded(options(d, Mode::WorkTree)).expect("scans");
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert!(
        report.skipped[0].reason.contains("symbolic link"),
        "{:?}",
        report.skipped
    );
}

/// A 20 MiB file with tokens at its start, in the overlap of its first two pieces (found by
/// both, reported once), just past the first piece and at its end: all found with their true
/// lines, in the working tree and in history (before: files over 16 MiB were skipped without
/// a word).
#[test]
fn files_over_16_mib_are_scanned_in_the_tree_and_in_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    git(d, &["init", "-q"]);
    let tokens: Vec<String> = (0..4)
        .map(|i| expand(&format!("large-{i}"), "npm_{an:36}"))
        .collect();
    let filler_line = "setting: a value that repeats to make the file large\n";
    let lines_total = (20 << 20) / filler_line.len();
    let line_at = |byte: usize| byte / filler_line.len();
    let at = [
        2,
        line_at((16 << 20) - (40 << 10)),
        line_at((16 << 20) + (1 << 10)),
        lines_total - 1,
    ];
    let mut text = String::with_capacity(21 << 20);
    for line in 1..=lines_total {
        match at.iter().position(|&l| l == line) {
            Some(i) => text.push_str(&format!("token: {}\n", tokens[i])),
            None => text.push_str(filler_line),
        }
    }
    write(d, "data/huge.yaml", &text);
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "huge"]);
    for mode in [Mode::WorkTree, history()] {
        let report = run(&options(d, mode.clone())).expect("scan");
        let mut lines: Vec<usize> = report
            .findings
            .iter()
            .filter(|f| f.rule == "npm-access-token")
            .map(|f| f.location.line)
            .collect();
        lines.sort_unstable();
        assert_eq!(lines, at, "{mode:?}: {:?}", report.findings);
        assert!(report.skipped.is_empty(), "{mode:?}");
    }
}

fn pack_files(d: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(d.join(".git/objects/pack"))
        .expect("pack dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pack"))
        .collect()
}

/// Lost or cut-short packs: `git fsck` fails, and so does the scan (exit 30), instead of
/// reporting "0 findings in 0 blobs".
#[test]
fn a_history_whose_packs_are_lost_or_truncated_fails_instead_of_reading_clean() {
    for damage in ["delete", "truncate"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        repo_with_token(d);
        for i in 0..20 {
            write(d, &format!("src/f{i}.txt"), &format!("version {i}\n"));
        }
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "more"]);
        git(d, &["repack", "-adq"]);
        git(d, &["prune-packed"]);
        for pack in pack_files(d) {
            if damage == "delete" {
                std::fs::remove_file(&pack).expect("rm pack");
            } else {
                let len = std::fs::metadata(&pack).expect("stat").len();
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&pack)
                    .expect("open pack");
                file.set_len(len / 3).expect("truncate");
            }
        }
        let result = run(&options(d, history()));
        let error = match result {
            Ok(report) => panic!(
                "{damage}: read as {} findings in {} blobs",
                report.findings.len(),
                report.stats.items
            ),
            Err(error) => error,
        };
        assert_eq!(error.kind(), ErrorKind::Internal, "{damage}: {error}");
    }
}

/// A blob lost from a repository that is not a partial clone is damage, not a filtered blob.
#[test]
fn a_blob_missing_outside_a_partial_clone_fails_the_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    repo_with_token(d);
    let blob = git(d, &["rev-parse", "HEAD:ci/publish.sh"]);
    let loose = d.join(".git/objects").join(&blob[..2]).join(&blob[2..]);
    std::fs::remove_file(loose).expect("rm loose blob");
    let error = run(&options(d, history())).expect_err("damaged");
    assert_eq!(error.kind(), ErrorKind::Internal);
    assert!(error.to_string().contains("not a partial clone"), "{error}");
}

/// A shallow clone (CI's default checkout) scans what it holds and says the history before
/// its boundary was not scanned (before: the walk failed on the first missing parent).
#[test]
fn a_shallow_clone_scans_what_it_holds_and_says_what_it_lacks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("source");
    std::fs::create_dir_all(&source).expect("mkdir");
    let token = repo_with_token(&source);
    write(&source, "later.txt", "a later commit\n");
    git(&source, &["add", "-A"]);
    git(&source, &["commit", "-q", "-m", "two"]);
    let url = format!("file://{}", source.display());
    git(
        dir.path(),
        &["clone", "-q", "--depth", "1", &url, "shallow"],
    );
    let report = run(&options(&dir.path().join("shallow"), history())).expect("scans");
    assert_eq!(report.stats.shallow, 1, "{:?}", report.stats);
    assert!(report.is_incomplete());
    assert!(
        report
            .warnings()
            .iter()
            .any(|w| w.contains("shallow clone"))
    );
    // The token's file is still in the boundary commit's tree: found, attributed to it.
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert!(!format!("{report:?}").contains(&token[..8]));
}
