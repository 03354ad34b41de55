//! Where vault passwords come from, as ansible-vault defines it, plus keyward's own
//! environment variables and a user config file.
//!
//! The design document's contract: "first found wins": `--vault-password-file`,
//! `--vault-password-command`, `--vault-id label@source`, then the environment
//! (`KEYWARD_VAULT_PASSWORD_FILE`, `ANSIBLE_VAULT_PASSWORD_FILE`,
//! `KEYWARD_VAULT_PASSWORD_COMMAND`), then `password_command` in the user config file
//! (`$XDG_CONFIG_HOME/keyward/config.toml`), read only when the user owns it and nobody else
//! can write it. An executable password file is run; one whose name (without extension)
//! ends in `-client` is called with `--vault-id LABEL`.
//!
//! As in ansible: a password file is read and stripped of surrounding white space; a script's
//! output is stripped of surrounding CR and LF. Several `--vault-id`s give several candidate
//! passwords; the one whose label matches the file's header is tried first.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyward_core::SecretValue;
use zeroize::Zeroizing;

use crate::group::{GroupChild, Terminal};
use crate::input::{self, ReadError};

/// How long a password command or script may run before it is killed.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why no password could be obtained. Never carries a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// No source was given and none is configured.
    #[error(
        "no vault password source: pass --vault-password-file, --vault-password-command or \
         --vault-id, or set KEYWARD_VAULT_PASSWORD_FILE"
    )]
    NoSource,
    /// A `--vault-id` argument is not `[LABEL@]SOURCE`. The argument is not repeated: a
    /// password typed in its place would be echoed.
    #[error("invalid --vault-id: {0}; expected LABEL@SOURCE (SOURCE a file, a script or 'prompt')")]
    InvalidVaultId(&'static str),
    /// The password file cannot be read, is not a regular file, or is too large.
    #[error("cannot read password file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ReadError,
    },
    /// The command or script failed to start, failed, or timed out.
    #[error("password {what} {reason}")]
    Command {
        /// Which command: a script's path, or where a command line came from (never the line,
        /// which may hold the password itself: `echo hunter2`).
        what: String,
        /// What happened.
        reason: String,
    },
    /// The source produced an empty password.
    #[error("the password from {0} is empty")]
    Empty(String),
    /// A prompt was asked for without a terminal.
    #[error("cannot prompt for the vault password: {0}")]
    Prompt(String),
    /// The user config file exists but is unsafe or invalid.
    #[error("config file {}: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One place a password can come from.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// A file (run when executable).
    File(PathBuf),
    /// A command line, run with `sh -c`. Messages and logs name its origin, never the line.
    Command {
        /// The command line.
        line: String,
        /// Where it was configured.
        origin: CommandOrigin,
    },
    /// Ask on the terminal.
    Prompt,
}

/// Debug names a command's origin only: the line may carry the password.
impl std::fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordSource::File(path) => f.debug_tuple("File").field(path).finish(),
            PasswordSource::Command { origin, .. } => f
                .debug_struct("Command")
                .field("origin", origin)
                .finish_non_exhaustive(),
            PasswordSource::Prompt => f.write_str("Prompt"),
        }
    }
}

/// Where a password command line was configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandOrigin {
    /// `--vault-password-command` (or `--new-vault-password-command`).
    Flag,
    /// `KEYWARD_VAULT_PASSWORD_COMMAND`.
    Environment,
    /// `password_command` in the user config file.
    ConfigFile,
}

impl CommandOrigin {
    /// How messages name the command.
    pub fn describe(self) -> &'static str {
        match self {
            CommandOrigin::Flag => "command (--vault-password-command)",
            CommandOrigin::Environment => "command (KEYWARD_VAULT_PASSWORD_COMMAND)",
            CommandOrigin::ConfigFile => "command (password_command in the config file)",
        }
    }
}

/// A password source with its vault-id label (`default` when none was given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultId {
    /// The label written into 1.2 headers and matched against them.
    pub label: String,
    /// Where its password comes from.
    pub source: PasswordSource,
}

impl VaultId {
    /// Parses `[LABEL@]SOURCE`, where SOURCE is `prompt` or a path.
    pub fn parse(spec: &str) -> Result<Self, PasswordError> {
        let (label, source) = match spec.split_once('@') {
            Some((label, source)) => (label, source),
            None => ("default", spec),
        };
        if label.is_empty() {
            return Err(PasswordError::InvalidVaultId("the label is empty"));
        }
        if source.is_empty() {
            return Err(PasswordError::InvalidVaultId("the source is empty"));
        }
        if label.contains(';') {
            return Err(PasswordError::InvalidVaultId("the label contains ';'"));
        }
        let source = match source {
            "prompt" | "prompt_ask_vault_pass" => PasswordSource::Prompt,
            path => PasswordSource::File(PathBuf::from(path)),
        };
        Ok(Self {
            label: label.to_owned(),
            source,
        })
    }
}

/// The command-line options that name password sources.
#[derive(Clone, Debug, Default)]
pub struct PasswordOptions {
    /// `--vault-password-file`.
    pub password_file: Option<PathBuf>,
    /// `--vault-password-command`.
    pub password_command: Option<String>,
    /// `--vault-id`, in order.
    pub vault_ids: Vec<String>,
    /// How long commands may run ([`DEFAULT_COMMAND_TIMEOUT`] when `None`).
    pub timeout: Option<Duration>,
    /// Whether a password may be asked for (prompt, a command reading the terminal).
    pub interaction: Interaction,
}

/// Everything resolution reads from outside the command line, so tests can pin it.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    /// `KEYWARD_VAULT_PASSWORD_FILE`.
    pub keyward_password_file: Option<PathBuf>,
    /// `ANSIBLE_VAULT_PASSWORD_FILE`.
    pub ansible_password_file: Option<PathBuf>,
    /// `KEYWARD_VAULT_PASSWORD_COMMAND`.
    pub keyward_password_command: Option<String>,
    /// The user config file to consult last.
    pub config_file: Option<PathBuf>,
}

impl Environment {
    /// Reads the variables and the config path from the process environment.
    pub fn from_process() -> Self {
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let config_dir =
            path("XDG_CONFIG_HOME").or_else(|| path("HOME").map(|h| h.join(".config")));
        Self {
            keyward_password_file: path("KEYWARD_VAULT_PASSWORD_FILE"),
            ansible_password_file: path("ANSIBLE_VAULT_PASSWORD_FILE"),
            keyward_password_command: std::env::var("KEYWARD_VAULT_PASSWORD_COMMAND")
                .ok()
                .filter(|v| !v.is_empty()),
            config_file: config_dir.map(|dir| dir.join("keyward").join("config.toml")),
        }
    }
}

/// The vault-ids to use, from the first kind of source that is present.
pub fn resolve(
    options: &PasswordOptions,
    env: &Environment,
) -> Result<Vec<VaultId>, PasswordError> {
    let default = |source| VaultId {
        label: "default".to_owned(),
        source,
    };
    if let Some(file) = &options.password_file {
        return Ok(vec![default(PasswordSource::File(file.clone()))]);
    }
    if let Some(command) = &options.password_command {
        return Ok(vec![default(PasswordSource::Command {
            line: command.clone(),
            origin: CommandOrigin::Flag,
        })]);
    }
    if !options.vault_ids.is_empty() {
        return options
            .vault_ids
            .iter()
            .map(|spec| VaultId::parse(spec))
            .collect();
    }
    let from_env = env
        .keyward_password_file
        .clone()
        .or_else(|| env.ansible_password_file.clone())
        .map(PasswordSource::File)
        .or_else(|| {
            env.keyward_password_command
                .clone()
                .map(|line| PasswordSource::Command {
                    line,
                    origin: CommandOrigin::Environment,
                })
        });
    if let Some(source) = from_env {
        return Ok(vec![default(source)]);
    }
    if let Some(path) = &env.config_file
        && let Some(command) = config_password_command(path)?
    {
        return Ok(vec![default(PasswordSource::Command {
            line: command,
            origin: CommandOrigin::ConfigFile,
        })]);
    }
    Err(PasswordError::NoSource)
}

/// Whether obtaining a password may involve the user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Interaction {
    /// Commands get the terminal and stdin; `prompt` asks (the CLI).
    #[default]
    Allowed,
    /// Never: a `prompt` source is refused and commands get no stdin and no terminal (a
    /// store provider inside a long-running sync).
    Never,
}

/// Obtains the password of one vault-id, interactively if the source needs it.
pub fn obtain(id: &VaultId, timeout: Duration) -> Result<SecretValue, PasswordError> {
    obtain_with(id, timeout, Interaction::Allowed)
}

/// Obtains the password of one vault-id.
pub fn obtain_with(
    id: &VaultId,
    timeout: Duration,
    interaction: Interaction,
) -> Result<SecretValue, PasswordError> {
    tracing::debug!(vault_id = %id.label, source = ?id.source, "obtaining vault password");
    let (password, origin) = match &id.source {
        PasswordSource::File(path) if is_executable(path) => {
            let mut command = Command::new(path);
            if is_client_script(path) {
                command.args(["--vault-id", &id.label]);
            }
            let what = format!("script {}", path.display());
            let out = run(command, &what, timeout, interaction)?;
            (trim_newlines(out), what)
        }
        PasswordSource::File(path) => {
            let bytes = input::read_regular(path, input::MAX_PASSWORD_BYTES).map_err(|source| {
                PasswordError::Read {
                    path: path.clone(),
                    source,
                }
            })?;
            (
                SecretValue::from(bytes.trim_ascii()),
                path.display().to_string(),
            )
        }
        PasswordSource::Command { line, origin } => {
            let mut command = Command::new("/bin/sh");
            command.args(["-c", line]);
            let out = run(command, origin.describe(), timeout, interaction)?;
            (trim_newlines(out), origin.describe().to_owned())
        }
        PasswordSource::Prompt if interaction == Interaction::Never => {
            return Err(PasswordError::Prompt(
                "this caller never prompts; give a password file or command".to_owned(),
            ));
        }
        PasswordSource::Prompt => (prompt(&id.label)?, "the prompt".to_owned()),
    };
    if password.is_empty() {
        return Err(PasswordError::Empty(origin));
    }
    Ok(password)
}

fn trim_newlines(bytes: Zeroizing<Vec<u8>>) -> SecretValue {
    let start = bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(start, |i| i + 1);
    SecretValue::from(&bytes[start..end])
}

/// ansible's rule: a script whose name without extension ends in `-client`.
fn is_client_script(path: &Path) -> bool {
    path.file_stem()
        .and_then(|stem| stem.to_str())
        .is_some_and(|stem| stem.ends_with("-client"))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Runs a password command in its own process group, capturing stdout (stderr goes to ours,
/// for prompts and errors). `timeout` covers the whole run: until the command has exited *and*
/// its output has ended. A background child still holding stdout (`sleep 15 & echo pw`) keeps
/// the output open; at the deadline the whole group is killed, that child included.
fn run(
    mut command: Command,
    what: &str,
    timeout: Duration,
    interaction: Interaction,
) -> Result<Zeroizing<Vec<u8>>, PasswordError> {
    let fail = |reason: String| PasswordError::Command {
        what: what.to_owned(),
        reason,
    };
    let (stdin, terminal) = match interaction {
        Interaction::Allowed => (Stdio::inherit(), Terminal::Share),
        Interaction::Never => (Stdio::null(), Terminal::Withhold),
    };
    command
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = GroupChild::spawn(&mut command, terminal)
        .map_err(|error| fail(format!("could not start: {error}")))?;
    let stdout = child
        .child_mut()
        .stdout
        .take()
        .ok_or_else(|| fail("has no stdout".into()))?;
    // A timeout too large to add to the clock (years) means no deadline, not a panic.
    let deadline = Instant::now().checked_add(timeout);
    let timed_out = |child: &mut GroupChild| {
        child.kill_group();
        fail(format!("timed out after {}s", timeout.as_secs()))
    };
    let (sender, output) = std::sync::mpsc::channel();
    // Reading stops past the limit; the group is then killed, ending a command that prints
    // forever. The thread is not joined: a pipe held open outside the group ends it later.
    std::thread::spawn(move || {
        let _ = sender.send(input::read_stream(stdout, input::MAX_PASSWORD_BYTES));
    });
    let out = match deadline {
        Some(deadline) => output.recv_timeout(deadline.saturating_duration_since(Instant::now())),
        None => output
            .recv()
            .map_err(|_| std::sync::mpsc::RecvTimeoutError::Disconnected),
    };
    let out = match out {
        Ok(Ok(out)) => out,
        Ok(Err(error)) => {
            child.kill_group();
            return Err(fail(format!("output unreadable: {error}")));
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => return Err(timed_out(&mut child)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            child.kill_group();
            return Err(fail("output reader ended without a result".into()));
        }
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if deadline.is_some_and(|deadline| Instant::now() >= deadline) => {
                return Err(timed_out(&mut child));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(error) => return Err(fail(format!("could not be waited for: {error}"))),
        }
    };
    if !status.success() {
        return Err(fail(format!("failed ({status})")));
    }
    Ok(out)
}

fn prompt(label: &str) -> Result<SecretValue, PasswordError> {
    let question = if label == "default" {
        "Vault password: ".to_owned()
    } else {
        format!("Vault password ({label}): ")
    };
    rpassword::prompt_password(question)
        .map(SecretValue::from)
        .map_err(|error| PasswordError::Prompt(error.to_string()))
}

/// `password_command` from the user config file, if the file exists and is safe to trust.
fn config_password_command(path: &Path) -> Result<Option<String>, PasswordError> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    let unsafe_config = |reason: &str| PasswordError::Config {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(unsafe_config(
            "not owned by the current user; refusing to run its password_command",
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_config(
            "group- or world-writable; refusing to run its password_command (chmod go-w)",
        ));
    }
    let bytes = input::read_regular(path, input::MAX_SMALL_FILE_BYTES)
        .map_err(|error| unsafe_config(&error.to_string()))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| unsafe_config("not UTF-8"))?;
    let config: UserConfig =
        toml::from_str(text).map_err(|error| unsafe_config(&one_line(&error.to_string())))?;
    Ok(config.bundle.and_then(|bundle| bundle.password_command))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `$XDG_CONFIG_HOME/keyward/config.toml`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UserConfig {
    bundle: Option<BundleConfig>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleConfig {
    /// A command line printing the default vault password on stdout.
    password_command: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> PasswordOptions {
        PasswordOptions::default()
    }

    fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        path
    }

    #[test]
    fn vault_id_specs_parse() {
        let id = VaultId::parse("prod@/etc/pw").expect("parse");
        assert_eq!(id.label, "prod");
        assert_eq!(id.source, PasswordSource::File("/etc/pw".into()));
        assert_eq!(
            VaultId::parse("dev@prompt").expect("parse").source,
            PasswordSource::Prompt
        );
        assert_eq!(VaultId::parse("/pw").expect("parse").label, "default");
        assert!(VaultId::parse("@/pw").is_err());
        assert!(VaultId::parse("a;b@/pw").is_err());
    }

    #[test]
    fn the_first_source_found_wins() {
        let env = Environment {
            keyward_password_file: Some("/env/keyward".into()),
            ansible_password_file: Some("/env/ansible".into()),
            keyward_password_command: Some("echo env".into()),
            config_file: None,
        };
        let mut opts = options();
        opts.vault_ids = vec!["a@/a".into(), "b@/b".into()];
        let ids = resolve(&opts, &env).expect("resolve");
        assert_eq!(
            ids.iter().map(|i| i.label.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        opts.password_command = Some("echo cmd".into());
        assert_eq!(
            resolve(&opts, &env).expect("resolve")[0].source,
            PasswordSource::Command {
                line: "echo cmd".into(),
                origin: CommandOrigin::Flag
            }
        );
        opts.password_file = Some("/flag".into());
        assert_eq!(
            resolve(&opts, &env).expect("resolve")[0].source,
            PasswordSource::File("/flag".into())
        );
        let from_env = resolve(&options(), &env).expect("resolve");
        assert_eq!(
            from_env[0].source,
            PasswordSource::File("/env/keyward".into())
        );
        let ansible_only = Environment {
            ansible_password_file: Some("/env/ansible".into()),
            ..Environment::default()
        };
        assert_eq!(
            resolve(&options(), &ansible_only).expect("resolve")[0].source,
            PasswordSource::File("/env/ansible".into())
        );
        assert!(matches!(
            resolve(&options(), &Environment::default()),
            Err(PasswordError::NoSource)
        ));
    }

    #[test]
    fn files_are_stripped_and_scripts_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pw");
        std::fs::write(&file, "  hunter2 \n\n").expect("write");
        let id = VaultId::parse(file.to_str().expect("utf-8")).expect("parse");
        assert_eq!(
            obtain(&id, DEFAULT_COMMAND_TIMEOUT)
                .expect("obtain")
                .expose_str(),
            Ok("hunter2")
        );

        let script = write_script(dir.path(), "pw.sh", "printf ' spaced \\r\\n'");
        let id = VaultId::parse(script.to_str().expect("utf-8")).expect("parse");
        assert_eq!(
            obtain(&id, DEFAULT_COMMAND_TIMEOUT)
                .expect("obtain")
                .expose_str(),
            Ok(" spaced ")
        );

        let client = write_script(dir.path(), "keyring-client.py", "echo \"pw-for-$2\"");
        let id = VaultId::parse(&format!("prod@{}", client.display())).expect("parse");
        assert_eq!(
            obtain(&id, DEFAULT_COMMAND_TIMEOUT)
                .expect("obtain")
                .expose_str(),
            Ok("pw-for-prod")
        );
    }

    #[test]
    fn failing_slow_and_empty_sources_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let failing = VaultId {
            label: "default".into(),
            source: PasswordSource::Command {
                line: "echo oops >&2; exit 3".into(),
                origin: CommandOrigin::Flag,
            },
        };
        let error = obtain(&failing, DEFAULT_COMMAND_TIMEOUT).expect_err("fails");
        assert!(
            error.to_string().contains("failed (exit status: 3)"),
            "{error}"
        );

        let slow = VaultId {
            label: "default".into(),
            source: PasswordSource::Command {
                line: "sleep 5".into(),
                origin: CommandOrigin::Flag,
            },
        };
        let error = obtain(&slow, Duration::from_millis(200)).expect_err("times out");
        assert!(error.to_string().contains("timed out"), "{error}");

        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").expect("write");
        let id = VaultId::parse(empty.to_str().expect("utf-8")).expect("parse");
        assert!(matches!(
            obtain(&id, DEFAULT_COMMAND_TIMEOUT),
            Err(PasswordError::Empty(_))
        ));
    }

    #[test]
    fn a_command_line_is_never_repeated_in_errors_or_debug() {
        let canary = "kw-CANARY-in-a-command";
        let id = VaultId {
            label: "default".into(),
            source: PasswordSource::Command {
                line: format!("echo {canary}; exit 3"),
                origin: CommandOrigin::Environment,
            },
        };
        assert!(!format!("{id:?}").contains("CANARY"));
        let error = obtain(&id, DEFAULT_COMMAND_TIMEOUT).expect_err("fails");
        assert!(!error.to_string().contains("CANARY"), "{error}");
        assert!(
            error.to_string().contains("KEYWARD_VAULT_PASSWORD_COMMAND"),
            "{error}"
        );
        let empty = VaultId {
            source: PasswordSource::Command {
                line: format!("true {canary}"),
                origin: CommandOrigin::Flag,
            },
            ..id
        };
        let error = obtain(&empty, DEFAULT_COMMAND_TIMEOUT).expect_err("empty");
        assert!(!error.to_string().contains("CANARY"), "{error}");
        let error = VaultId::parse(&format!("{canary};x@/pw")).expect_err("invalid");
        assert!(!error.to_string().contains("CANARY"), "{error}");
    }

    #[test]
    fn the_config_file_is_trusted_only_when_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            "[bundle]\npassword_command = \"echo from-config\"\n",
        )
        .expect("write");
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let env = Environment {
            config_file: Some(config.clone()),
            ..Environment::default()
        };
        let ids = resolve(&options(), &env).expect("resolve");
        assert_eq!(
            ids[0].source,
            PasswordSource::Command {
                line: "echo from-config".into(),
                origin: CommandOrigin::ConfigFile
            }
        );

        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let error = resolve(&options(), &env).expect_err("refused");
        assert!(error.to_string().contains("world-writable"), "{error}");

        let missing = Environment {
            config_file: Some(dir.path().join("absent.toml")),
            ..Environment::default()
        };
        assert!(matches!(
            resolve(&options(), &missing),
            Err(PasswordError::NoSource)
        ));
    }
}
