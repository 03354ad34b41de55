//! Git repositories for tests: `git` run in a directory with a fixed identity and none of the
//! machine's configuration, so that histories are the same on every machine.

use std::path::Path;
use std::process::Command;

/// Runs `git ARGS` in `dir` as `kw <kw@kw.test>`, without the user's or system's
/// configuration, commit signing or a default branch other than `main`; panics when git
/// fails, with its stderr. Returns stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "kw")
        .env("GIT_AUTHOR_EMAIL", "kw@kw.test")
        .env("GIT_COMMITTER_NAME", "kw")
        .env("GIT_COMMITTER_EMAIL", "kw@kw.test")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
