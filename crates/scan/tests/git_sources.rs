//! Git sources against repositories built with the real `git` CLI in a temporary directory:
//! a secret only in a merge commit, in a deleted file, in an old revision, base64-wrapped;
//! attribution to the introducing commit; `--since`; staged changes.

use std::path::Path;

use base64::Engine;
use keyward_scan::synth::expand;
use keyward_scan::{Finding, Mode, ScanOptions, run};
use keyward_test_support::git;

fn write(dir: &Path, path: &str, text: &str) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(file, text).expect("write");
}

fn commit(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// Synthetic tokens, one per scenario, generated so no literal sits in this file.
struct Tokens {
    old_revision: String,
    deleted: String,
    merge_only: String,
    wrapped: String,
}

impl Tokens {
    fn new() -> Self {
        Self {
            old_revision: expand("old", "gh{}p_{an:36}").replace("{}", ""),
            deleted: expand("deleted", "npm_{an:36}"),
            merge_only: expand("merge", "glpat-{url:20}"),
            wrapped: expand("wrapped", "sk_live_{an:32}"),
        }
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    old_commit: String,
    deleted_commit: String,
    merge_commit: String,
    wrapped_commit: String,
}

fn build(tokens: &Tokens) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    git(d, &["init", "-q"]);
    write(d, "README.md", "# demo\n");
    commit(d, "initial");
    write(
        d,
        "app/settings.py",
        &format!("GITHUB_TOKEN = \"{}\"\n", tokens.old_revision),
    );
    let old_commit = commit(d, "add settings");
    write(
        d,
        "app/settings.py",
        "GITHUB_TOKEN = os.environ[\"GITHUB_TOKEN\"]\n",
    );
    commit(d, "read the token from the environment");
    write(
        d,
        "old/creds.txt",
        &format!("npm token {}\n", tokens.deleted),
    );
    let deleted_commit = commit(d, "add creds");
    std::fs::remove_file(d.join("old/creds.txt")).expect("rm");
    commit(d, "remove creds");
    git(d, &["checkout", "-q", "-b", "feature"]);
    write(d, "feature.txt", "feature\n");
    commit(d, "feature work");
    git(d, &["checkout", "-q", "main"]);
    write(d, "main.txt", "main\n");
    commit(d, "main work");
    git(d, &["merge", "-q", "--no-ff", "--no-commit", "feature"]);
    write(
        d,
        "ci/deploy.sh",
        &format!("export GITLAB_TOKEN={}\n", tokens.merge_only),
    );
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "merge feature"]);
    let merge_commit = git(d, &["rev-parse", "HEAD"]);
    write(d, "ci/deploy.sh", "export GITLAB_TOKEN=$CI_JOB_TOKEN\n");
    commit(d, "fix deploy");
    let wrapped = base64::engine::general_purpose::STANDARD
        .encode(format!("STRIPE_KEY={}\n", tokens.wrapped));
    write(d, "config/blob.yaml", &format!("payload: {wrapped}\n"));
    let wrapped_commit = commit(d, "add blob");
    Fixture {
        dir,
        old_commit,
        deleted_commit,
        merge_commit,
        wrapped_commit,
    }
}

fn scan(dir: &Path, mode: Mode) -> Vec<Finding> {
    let options = ScanOptions {
        path: dir.to_path_buf(),
        mode,
        baseline: None,
        key_file: None,
    };
    run(&options).expect("scan").findings
}

fn find<'a>(findings: &'a [Finding], rule: &str) -> Option<&'a Finding> {
    findings.iter().find(|f| f.rule == rule)
}

#[test]
fn history_finds_old_deleted_merge_only_and_wrapped_secrets_with_their_commits() {
    let tokens = Tokens::new();
    let fx = build(&tokens);
    let findings = scan(
        fx.dir.path(),
        Mode::History {
            since: None,
            cache: None,
        },
    );
    let expected = [
        ("github-pat", "app/settings.py", &fx.old_commit),
        ("npm-access-token", "old/creds.txt", &fx.deleted_commit),
        ("gitlab-pat", "ci/deploy.sh", &fx.merge_commit),
        ("stripe-secret-key", "config/blob.yaml", &fx.wrapped_commit),
    ];
    for (rule, path, commit) in expected {
        let finding =
            find(&findings, rule).unwrap_or_else(|| panic!("{rule} not found: {findings:?}"));
        assert_eq!(finding.location.path, path, "{rule}");
        assert_eq!(
            finding.location.commit.as_deref(),
            Some(commit.as_str()),
            "{rule}"
        );
    }
    let wrapped = find(&findings, "stripe-secret-key").expect("wrapped");
    assert_eq!(wrapped.decoded_from.as_deref(), Some("base64"));
    assert_eq!(findings.len(), expected.len(), "{findings:?}");
}

#[test]
fn the_working_tree_only_holds_what_is_still_there() {
    let tokens = Tokens::new();
    let fx = build(&tokens);
    let findings = scan(fx.dir.path(), Mode::WorkTree);
    let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["stripe-secret-key"]);
    assert!(findings[0].location.commit.is_none());
}

#[test]
fn since_skips_content_reachable_from_the_revision() {
    let tokens = Tokens::new();
    let fx = build(&tokens);
    let since = Mode::History {
        since: Some(fx.merge_commit.clone()),
        cache: None,
    };
    let rules: Vec<String> = scan(fx.dir.path(), since)
        .into_iter()
        .map(|f| f.rule)
        .collect();
    assert_eq!(rules, ["stripe-secret-key"]);
    let bad = ScanOptions {
        path: fx.dir.path().to_path_buf(),
        mode: Mode::History {
            since: Some("no-such-rev".into()),
            cache: None,
        },
        baseline: None,
        key_file: None,
    };
    assert!(run(&bad).is_err());
}

#[test]
fn staged_scans_only_what_differs_from_head() {
    let tokens = Tokens::new();
    let fx = build(&tokens);
    let d = fx.dir.path();
    assert!(scan(d, Mode::Staged).is_empty(), "nothing staged yet");
    let token = expand("staged", "xoxb-{dig:12}-{dig:12}-{an:24}");
    write(d, "bot.env.sh", &format!("SLACK={token}\n"));
    assert!(
        scan(d, Mode::Staged).is_empty(),
        "an unstaged file is not staged"
    );
    git(d, &["add", "bot.env.sh"]);
    let rules: Vec<String> = scan(d, Mode::Staged).into_iter().map(|f| f.rule).collect();
    assert_eq!(rules, ["slack-bot-token"]);
}

#[test]
fn fingerprints_are_stable_across_runs_and_sources() {
    let tokens = Tokens::new();
    let fx = build(&tokens);
    let tree = scan(fx.dir.path(), Mode::WorkTree);
    let history = scan(
        fx.dir.path(),
        Mode::History {
            since: None,
            cache: None,
        },
    );
    let wrapped = find(&history, "stripe-secret-key").expect("in history");
    assert_eq!(tree[0].fingerprint, wrapped.fingerprint);
    assert!(fx.dir.path().join(".git/keyward/fingerprint.key").exists());
}

#[test]
fn ignores_by_fingerprint_suppress_and_unused_ones_are_reported() {
    let tokens = Tokens::new();
    let fx = build(&tokens);
    let d = fx.dir.path();
    let fingerprint = scan(d, Mode::WorkTree)[0].fingerprint.clone();
    let config = format!("[scan]\nignore = [\"{fingerprint}\", \"kw1:0000\"]\n");
    write(d, ".keyward.toml", &config);
    let options = ScanOptions {
        path: d.to_path_buf(),
        mode: Mode::WorkTree,
        baseline: None,
        key_file: None,
    };
    let report = run(&options).expect("scan");
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.suppressed, 1);
    assert_eq!(report.unused_ignores, ["kw1:0000"]);
}

#[test]
fn the_cache_makes_a_rescan_read_only_new_objects() {
    let tokens = Tokens::new();
    let fx = build(&tokens);
    let d = fx.dir.path();
    let cache = d.join(".git/keyward-scan.cache");
    let mode = Mode::History {
        since: None,
        cache: Some(cache.clone()),
    };
    let options = ScanOptions {
        path: d.to_path_buf(),
        mode,
        baseline: None,
        key_file: None,
    };
    let first = run(&options).expect("first");
    assert_eq!(first.findings.len(), 4);
    let text = std::fs::read_to_string(&cache).expect("cache written");
    assert!(
        text.lines().all(|l| l.starts_with('#') || l.len() == 42),
        "ids only"
    );
    let second = run(&options).expect("second");
    assert!(second.findings.is_empty());
    assert_eq!(second.stats.items, 0);
    let token = expand("cache", "dckr_pat_{url:27}");
    write(d, "later.txt", &format!("docker {token}\n"));
    let later = commit(d, "later");
    let third = run(&options).expect("third");
    let found: Vec<(&str, Option<&str>)> = third
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.location.commit.as_deref()))
        .collect();
    assert_eq!(found, [("docker-hub-pat", Some(later.as_str()))]);
}

/// Later versions of a file are scanned only where their lines changed (issue: scan history
/// faster); what is reported must stay what a full scan of every version reports.
#[test]
fn edited_versions_report_what_a_full_scan_of_each_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    git(d, &["init", "-q"]);
    let npm = expand("versions", "npm_{an:36}");
    let body: Vec<String> = (0..4)
        .map(|i| expand(&format!("pem{i}"), "{b64:64}"))
        .collect();
    let pem = |middle: &str| {
        format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}\n{middle}\n{}\n-----END RSA PRIVATE KEY-----\n",
            body[0], body[2]
        )
    };
    let path = "deploy/settings.sh";
    write(
        d,
        path,
        &format!("# keyward:allow npm-access-token\nNPM={npm}\nx=1\n"),
    );
    commit(d, "allowed token");
    // Only the line above changed: the unchanged token line is no longer allowed.
    write(d, path, &format!("# no allow any more\nNPM={npm}\nx=1\n"));
    let unallowed = commit(d, "allow comment dropped");
    write(
        d,
        path,
        &format!("# no allow any more\nNPM={npm}\nx=2\n{}", pem(&body[1])),
    );
    let key_added = commit(d, "key added");
    // One line inside the PEM body changes: the key is a new value though its BEGIN line is not.
    write(
        d,
        path,
        &format!("# no allow any more\nNPM={npm}\nx=2\n{}", pem(&body[3])),
    );
    let key_edited = commit(d, "key edited");
    write(
        d,
        path,
        &format!("# no allow any more\nNPM={npm}\nx=3\n{}", pem(&body[3])),
    );
    commit(d, "unrelated edit");
    let findings = scan(
        d,
        Mode::History {
            since: None,
            cache: None,
        },
    );
    let found: Vec<(&str, usize, Option<&str>)> = findings
        .iter()
        .map(|f| {
            (
                f.rule.as_str(),
                f.location.line,
                f.location.commit.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("npm-access-token", 2, Some(unallowed.as_str())),
            ("pem-private-key", 5, Some(key_added.as_str())),
            ("pem-private-key", 5, Some(key_edited.as_str())),
        ]
    );
}

/// A partial clone lacks the blobs its filter left out: they are counted, the rest is scanned.
#[test]
fn blobs_missing_from_a_partial_clone_are_counted_not_fatal() {
    let tokens = Tokens::new();
    let fx = build(&tokens);
    let d = fx.dir.path();
    git(d, &["config", "uploadpack.allowFilter", "true"]);
    let clone = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", d.display());
    let target = clone.path().join("partial.git");
    let target = target.to_str().expect("utf-8 path");
    // Blobs over 20 bytes stay behind: the token files are among them.
    git(
        clone.path(),
        &[
            "clone",
            "-q",
            "--bare",
            "--filter=blob:limit=20",
            &url,
            target,
        ],
    );
    let options = ScanOptions {
        path: clone.path().join("partial.git"),
        mode: Mode::History {
            since: None,
            cache: None,
        },
        baseline: None,
        key_file: None,
    };
    let report = run(&options).expect("a partial clone scans");
    assert!(report.stats.missing > 0, "{:?}", report.stats);
    assert!(report.stats.items > 0, "{:?}", report.stats);
}
