//! The binary's contract: version, help, usage errors on one line with exit 2, failures with
//! the documented exit code, JSON errors, colour control, completions and man pages.

use crate::util::{Scratch, stderr, stdout};

use std::process::Output;

/// `keyward ARGS` in a fresh scratch directory.
fn keyward(args: &[&str]) -> Output {
    Scratch::new().keyward(args)
}

#[test]
fn version_prints_name_and_version() {
    let output = keyward(&["--version"]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output),
        format!("keyward {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_teaches_with_examples_and_exit_codes() {
    let output = keyward(&["--help"]);
    assert!(output.status.success());
    let help = stdout(&output);
    for needle in [
        "Examples:",
        "Exit codes:",
        "NO_COLOR",
        "--output",
        "--log-level",
        "--log-format",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn no_arguments_shows_help_and_exits_2() {
    let output = keyward(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("Usage: keyward"));
}

#[test]
fn a_usage_error_is_one_line_with_exit_2() {
    let output = keyward(&["--output", "yaml", "completions", "bash"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert_eq!(text.lines().count(), 1, "not one line: {text:?}");
    assert!(
        text.starts_with("keyward: error: invalid value 'yaml'"),
        "{text}"
    );
    assert!(text.contains("text, json"), "{text}");
    assert!(stdout(&output).is_empty());
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    let output = keyward(&["frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
}

#[test]
fn a_write_failure_exits_30_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a directory").expect("write");
    let target = blocker.join("man");
    let output = keyward(&["man", "--out-dir", target.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(30));
    let text = stderr(&output);
    assert_eq!(text.lines().count(), 1, "not one line: {text:?}");
    assert!(text.starts_with("keyward: error: creating "), "{text}");
}

#[test]
fn json_output_makes_errors_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").expect("write");
    let target = blocker.join("man");
    let output = keyward(&[
        "--output",
        "json",
        "man",
        "--out-dir",
        target.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(30));
    let error: serde_json::Value =
        serde_json::from_str(stderr(&output).trim()).expect("JSON error");
    assert_eq!(error["error"]["kind"], "write");
    assert_eq!(error["error"]["exit_code"], 30);
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("creating "))
    );
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let always = keyward(&["--color", "always", "man", "--out-dir", "/dev/null/x"]);
    assert!(
        stderr(&always).contains("\x1b["),
        "--color always did not colour"
    );
    let auto = Scratch::new()
        .command(&["man", "--out-dir", "/dev/null/x"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run");
    assert!(
        !stderr(&auto).contains('\x1b'),
        "NO_COLOR was not respected"
    );
}

#[test]
fn completions_for_every_shell() {
    for (shell, marker) in [
        ("bash", "_keyward()"),
        ("zsh", "#compdef keyward"),
        ("fish", "complete -c keyward"),
        ("elvish", "keyward"),
        ("powershell", "keyward"),
    ] {
        let output = keyward(&["completions", shell]);
        assert!(output.status.success(), "{shell}: {}", stderr(&output));
        assert!(
            stdout(&output).contains(marker),
            "{shell} completion lacks {marker}"
        );
    }
}

#[test]
fn man_pages_render_and_write() {
    let output = keyward(&["man"]);
    assert!(output.status.success());
    assert!(stdout(&output).starts_with(".ie \\n(.g .ds Aq"), "not roff");
    assert!(stdout(&output).contains(".TH keyward 1"));

    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("man1");
    let output = keyward(&[
        "--output",
        "json",
        "man",
        "--out-dir",
        out_dir.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON report");
    let pages = report["pages"].as_array().expect("pages");
    assert!(pages.iter().any(|p| p == "keyward.1"), "{report}");
    assert!(
        pages.iter().any(|p| p == "keyward-completions.1"),
        "{report}"
    );
    assert!(out_dir.join("keyward.1").is_file());
}

#[test]
fn logs_go_to_stderr_as_json_when_asked() {
    let output = keyward(&[
        "--log-level",
        "trace",
        "--log-format",
        "json",
        "completions",
        "bash",
    ]);
    assert!(output.status.success());
    // Every stderr line (if any) is a JSON object; stdout holds only the script.
    for line in stderr(&output).lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("JSON log line");
    }
    assert!(stdout(&output).contains("_keyward()"));
}
