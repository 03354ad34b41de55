//! Helpers shared by the CLI's test binaries (as ripgrep's `tests/util.rs`): run the built
//! `keyward` in a scratch directory and read what it printed. A test binary includes this
//! with `mod util;`; not every binary uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch directory that the test writes files into and runs keyward in.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// A new, empty directory, removed when the test ends.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `relative` under the directory.
    pub fn join(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes `text` to `relative`, creating parent directories.
    pub fn write(&self, relative: &str, text: &str) {
        let path = self.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directory");
        }
        std::fs::write(&path, text).expect("write file");
    }

    /// Reads `relative` as text.
    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.join(relative)).expect("read file")
    }

    /// Runs `keyward ARGS` in the directory.
    pub fn keyward(&self, args: &[&str]) -> Output {
        keyward_in(self.path(), args)
    }
}

/// Runs the built `keyward ARGS` in `dir`, with no environment that could change its output.
pub fn keyward_in(dir: &Path, args: &[&str]) -> Output {
    command_in(dir, args).output().expect("run keyward")
}

/// The built `keyward ARGS` in `dir`, with no environment that could change its output and
/// `dir` as HOME, ready for more settings.
pub fn command_in(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    command
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("XDG_STATE_HOME")
        .env_remove("KEYWARD_LOG_LEVEL")
        .env_remove("KEYWARD_LOG_FORMAT")
        .env_remove("KEYWARD_AUDIT_LOG")
        .env_remove("KEYWARD_VAULT_PASSWORD_FILE")
        .env_remove("ANSIBLE_VAULT_PASSWORD_FILE")
        .env_remove("KEYWARD_VAULT_PASSWORD_COMMAND")
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(std::process::Stdio::null());
    command
}

/// What keyward printed on stdout.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What keyward printed on stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Everything keyward printed: stdout, then stderr.
pub fn everything(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}
