//! Helpers shared by the CLI's integration tests (as ripgrep's `tests/util.rs`): run the built
//! `keyward` in a scratch directory with an environment that cannot change its output, and
//! read what it printed. Every test module reaches them as `crate::util`; not every module
//! uses every helper.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use keyward_test_support::Tools;

/// Where [`Scratch::with_password`] writes the bundle password, relative to the scratch.
pub const PASSWORD_FILE: &str = "pw";

/// The bundle path keyward uses when none is given, relative to the working directory.
pub const DEFAULT_BUNDLE: &str = "control/secrets.vault.env";

/// Settings of the person running the tests that would change what keyward does or prints.
const AMBIENT: [&str; 14] = [
    "NO_COLOR",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "KEYWARD_LOG_LEVEL",
    "KEYWARD_LOG_FORMAT",
    "KEYWARD_AUDIT_LOG",
    "KEYWARD_BUNDLE",
    "KEYWARD_SCAN_KEY_FILE",
    "KEYWARD_VAULT_PASSWORD_FILE",
    "KEYWARD_VAULT_PASSWORD_COMMAND",
    "ANSIBLE_VAULT_PASSWORD_FILE",
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "KUBECONFIG",
];

/// A scratch directory that a test writes files into and runs keyward in (as working
/// directory and HOME); removed when the test ends.
pub struct Scratch {
    dir: tempfile::TempDir,
    password_file: Option<PathBuf>,
}

impl Scratch {
    /// A new, empty directory.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary directory"),
            password_file: None,
        }
    }

    /// A new directory holding `password` in [`PASSWORD_FILE`], which every keyward run from
    /// it is given as `KEYWARD_VAULT_PASSWORD_FILE`.
    pub fn with_password(password: &str) -> Self {
        let mut scratch = Self::new();
        let file = scratch.write(PASSWORD_FILE, &format!("{password}\n"));
        scratch.password_file = Some(file);
        scratch
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `relative` under the directory.
    pub fn join(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// The default bundle path under the directory.
    pub fn bundle(&self) -> PathBuf {
        self.join(DEFAULT_BUNDLE)
    }

    /// Writes `text` to `relative`, creating parent directories; returns the full path.
    pub fn write(&self, relative: impl AsRef<Path>, text: &str) -> PathBuf {
        let path = self.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directory");
        }
        std::fs::write(&path, text).expect("write file");
        path
    }

    /// Reads `relative` as text.
    pub fn read(&self, relative: impl AsRef<Path>) -> String {
        std::fs::read_to_string(self.join(relative)).expect("read file")
    }

    /// Every path under the directory, relative, sorted.
    pub fn tree(&self) -> Vec<String> {
        fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("list").flatten() {
                let path = entry.path();
                let relative = path.strip_prefix(root).expect("under root");
                found.push(relative.display().to_string());
                if entry.file_type().expect("type").is_dir() {
                    walk(root, &path, found);
                }
            }
        }
        let mut found = Vec::new();
        walk(self.path(), self.path(), &mut found);
        found.sort();
        found
    }

    /// `keyward ARGS` in the directory, its own config home under it and the password file
    /// (if any) in the environment, ready for more settings.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut command = command_in(self.path(), args);
        command.env("XDG_CONFIG_HOME", self.join("config"));
        if let Some(file) = &self.password_file {
            command.env("KEYWARD_VAULT_PASSWORD_FILE", file);
        }
        command
    }

    /// Runs `keyward ARGS` in the directory.
    pub fn keyward<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.command(args).output().expect("run keyward")
    }

    /// Runs `keyward ARGS` in the directory with `stdin` as its standard input.
    pub fn keyward_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        with_stdin(self.command(args), stdin)
    }
}

/// The built `keyward ARGS` in `dir` (also its HOME), with none of the tester's settings,
/// stdin empty and the output captured, ready for more settings.
pub fn command_in<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    command.args(args).current_dir(dir).env("HOME", dir);
    for name in AMBIENT {
        command.env_remove(name);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs the built `keyward ARGS` in `dir`, as [`command_in`] sets it up.
pub fn keyward_in<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    command_in(dir, args).output().expect("run keyward")
}

/// Runs `command` with `stdin` written to its standard input.
pub fn with_stdin(command: Command, stdin: &[u8]) -> Output {
    keyward_test_support::output_with_stdin(command, stdin).expect("run keyward")
}

/// Waits for `child`; one that blocks (on a FIFO, say) is killed and fails the test instead of
/// hanging it. The bound is a hang guard, not a timing assertion.
pub fn wait_guarded(mut child: Child) -> Output {
    let started = Instant::now();
    while child.try_wait().expect("poll").is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("keyward blocked instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// Polls `condition` every 50 ms for up to a minute; fails the test naming `what` if it never
/// holds. A hang guard, not a timing assertion.
pub fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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

/// Asserts that keyward succeeded; returns its stdout.
pub fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "keyward failed ({}): {}",
        output.status,
        stderr(output)
    );
    stdout(output)
}

/// Asserts exit `code` and a one-line stderr; returns that line.
pub fn fails_with(output: &Output, code: i32, what: &str) -> String {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{what}: {text}");
    assert_eq!(text.lines().count(), 1, "{what}: not one line: {text:?}");
    text
}

/// The real `ansible-vault` in `scratch`, with the scratch as HOME and none of the tester's
/// password settings.
pub fn ansible_vault(tools: &Tools, scratch: &Scratch) -> Command {
    let mut command = Command::new(&tools.ansible_vault);
    command
        .current_dir(scratch.path())
        .env("HOME", scratch.path())
        .env_remove("ANSIBLE_VAULT_PASSWORD_FILE");
    command
}

/// Two SecretStores in namespace `apps`: `vault` (OpenBao at `bao_address`, KV v2 mounted at
/// `secret`, its token in the Secret `vault-token`) and `aws` (Secrets Manager; point
/// `AWS_ENDPOINT_URL` at moto), whose credentials [`Scratch::write_store_credentials`] puts
/// under `creds/` for `--credentials-dir creds`.
pub fn openbao_and_moto_stores(bao_address: &str) -> String {
    let region = keyward_test_support::MOTO_REGION;
    format!(
        r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: vault, namespace: apps}}
spec:
  provider:
    vault:
      server: {bao_address}
      path: secret
      version: v2
      auth: {{tokenSecretRef: {{name: vault-token, key: token}}}}
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: aws, namespace: apps}}
spec:
  provider:
    aws:
      service: SecretsManager
      region: {region}
      auth: {{secretRef: {{accessKeyIDSecretRef: {{name: aws, key: id}}, secretAccessKeySecretRef: {{name: aws, key: secret}}}}}}
"#
    )
}

impl Scratch {
    /// The credentials of [`openbao_and_moto_stores`] as 0600 files under `creds/apps/`.
    pub fn write_store_credentials(&self, vault_token: &str) {
        for (file, value) in [
            ("vault-token/token", vault_token),
            ("aws/id", "testing"),
            ("aws/secret", "testing"),
        ] {
            let path = self.write(format!("creds/apps/{file}"), value);
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .expect("chmod 600");
        }
    }
}
