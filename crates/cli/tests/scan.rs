//! `keyward scan` through the binary: the canary test (a planted secret never appears in any
//! output format, only its 4-character prefix), exit codes, SARIF shape and the baseline flow.

use crate::util::keyward_in as keyward;

use std::path::Path;
use std::process::Output;

use base64::Engine;
use keyward_scan::synth::expand;
use keyward_test_support::git;

/// Planted values, generated at run time.
struct Canaries {
    token: String,
    password: String,
    k8s_value: String,
}

fn plant(dir: &Path) -> Canaries {
    let canaries = Canaries {
        token: expand("canary-token", "gh{}p_{an:36}").replace("{}", ""),
        password: expand("canary-password", "Kw{an:14}!7"),
        k8s_value: expand("canary-k8s", "{an:24}"),
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(&canaries.k8s_value);
    git(dir, &["init", "-q"]);
    std::fs::create_dir_all(dir.join("deploy")).expect("mkdir");
    std::fs::write(
        dir.join("config.py"),
        format!("GITHUB_TOKEN = \"{}\"\n", canaries.token),
    )
    .expect("write");
    std::fs::write(
        dir.join(".env"),
        format!("DB_PASSWORD={}\n", canaries.password),
    )
    .expect("write");
    let manifest =
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  blob: {encoded}\n");
    std::fs::write(dir.join("deploy/secret.yaml"), manifest).expect("write");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "plant canaries"]);
    canaries
}

fn all_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn planted_secrets_never_appear_in_any_output_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let canaries = plant(dir.path());
    let runs: [&[&str]; 8] = [
        &["scan"],
        &["scan", "--format", "json"],
        &["scan", "--format", "sarif"],
        &["--output", "json", "scan"],
        &["scan", "--history"],
        &["scan", "--history", "--format", "sarif"],
        &[
            "--log-level",
            "trace",
            "scan",
            "--history",
            "--format",
            "json",
        ],
        &["--color", "always", "scan", "."],
    ];
    for args in runs {
        assert_no_canary_in(dir.path(), args, &canaries);
    }
    // The runs above read history from loose objects; packed, it goes through the pack reader.
    git(dir.path(), &["repack", "-adq"]);
    for args in runs.iter().filter(|args| args.contains(&"--history")) {
        assert_no_canary_in(dir.path(), args, &canaries);
    }
}

/// Runs keyward with `args` in `dir`: it reports findings, shows the token's prefix and no
/// planted value (nor 8 characters of one) anywhere in its output.
fn assert_no_canary_in(dir: &Path, args: &[&str], canaries: &Canaries) {
    let output = keyward(dir, args);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{args:?} must report findings"
    );
    let text = all_output(&output);
    for canary in [&canaries.token, &canaries.password, &canaries.k8s_value] {
        assert!(
            !text.contains(canary.as_str()),
            "{args:?} leaked a planted value"
        );
        // Not even a long fragment: nothing beyond the 4-character prefix.
        assert!(!text.contains(&canary[..8]), "{args:?} leaked 8 characters");
    }
    assert!(
        text.contains(&canaries.token[..4]),
        "{args:?} lacks the token's prefix"
    );
}

#[test]
fn text_output_names_rule_path_line_prefix_and_length() {
    let dir = tempfile::tempdir().expect("tempdir");
    let canaries = plant(dir.path());
    let output = keyward(dir.path(), &["scan"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("github-pat config.py:1"), "{text}");
    assert!(
        text.contains(&format!("{}… (40 chars)", &canaries.token[..4])),
        "{text}"
    );
    assert!(
        text.contains("policy/k8s-secret deploy/secret.yaml:6"),
        "{text}"
    );
    assert!(text.contains("policy/env-file .env:1"), "{text}");
}

#[test]
fn sarif_is_version_2_1_0_with_rules_and_fingerprints() {
    let dir = tempfile::tempdir().expect("tempdir");
    plant(dir.path());
    let output = keyward(dir.path(), &["scan", "--format", "sarif"]);
    let log: serde_json::Value = serde_json::from_slice(&output.stdout).expect("sarif json");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "keyward");
    let results = run["results"].as_array().expect("results");
    assert!(results.len() >= 3);
    for result in results {
        let fingerprint = result["partialFingerprints"]["keyward/v1"]
            .as_str()
            .expect("fp");
        assert!(fingerprint.starts_with("kw1:"));
        let index = result["ruleIndex"].as_u64().expect("index") as usize;
        assert_eq!(
            run["tool"]["driver"]["rules"][index]["id"],
            result["ruleId"]
        );
    }
}

#[test]
fn a_baseline_accepts_current_findings_and_holds_no_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let canaries = plant(dir.path());
    let baseline = dir.path().join(".git/keyward-baseline.json");
    let path = baseline.to_str().expect("utf-8 path");
    let written = keyward(dir.path(), &["scan", "--write-baseline", path]);
    assert_eq!(written.status.code(), Some(0));
    let stored = std::fs::read_to_string(&baseline).expect("baseline");
    assert!(!stored.contains(&canaries.token) && stored.contains("kw1:"));
    let output = keyward(dir.path(), &["scan", "--baseline", path]);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
}

#[test]
fn a_clean_tree_exits_0_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("README.md"), "# nothing here\n").expect("write");
    assert_eq!(keyward(dir.path(), &["scan"]).status.code(), Some(0));
    let usage = keyward(dir.path(), &["scan", "--since", "HEAD"]);
    assert_eq!(usage.status.code(), Some(2));
    let both = keyward(dir.path(), &["scan", "--staged", "--history"]);
    assert_eq!(both.status.code(), Some(2));
    let missing = keyward(dir.path(), &["scan", "no/such/dir"]);
    assert_eq!(missing.status.code(), Some(12));
    let not_repo = keyward(dir.path(), &["scan", "--history"]);
    assert_eq!(not_repo.status.code(), Some(12));
}

#[test]
fn scan_help_teaches_with_examples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = keyward(dir.path(), &["scan", "--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "Examples:",
        "--staged",
        "--history",
        "--since",
        "--format",
        "keyward:allow",
    ] {
        assert!(help.contains(needle), "scan --help lacks {needle}");
    }
}
