//! `keyward bundle`: the encrypted env file of bootstrap, CI and disaster-recovery credentials.
//!
//! Argument parsing and output only; formats, passwords, atomic writes and exec live in
//! keyward-bundle.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use keyward_bundle::env::{self, EnvMap};
use keyward_bundle::exec::{self, ExecError};
use keyward_bundle::password::{Environment, Interaction, PasswordOptions};
use keyward_bundle::{Bundle, BundleUpdate, Format, Keyring, input, random};
use keyward_core::{ErrorKind, ExitCode, REDACTED, SecretValue};

use crate::commands::Done;
use crate::failure::{ClassifiedResult, Failure};
use crate::output::{Output, OutputFormat};

const ABOUT: &str = "Encrypted env file of bootstrap credentials (ansible-vault or SOPS+age)";

const LONG_ABOUT: &str = "\
The bundle is a small encrypted env file (default control/secrets.vault.env) carrying the
bootstrap, CI and disaster-recovery credentials needed before the secret store can be reached.
Its values are decrypted in memory only and handed to one child process (exec, exec-file).

Formats: ansible-vault 1.1/1.2 (ansible-vault opens it too) or SOPS dotenv/YAML with age
recipients (sops opens it too); the format of an existing file is detected from its content.

Vault password, first found wins: --vault-password-file, --vault-password-command,
--vault-id LABEL@SOURCE (repeatable; SOURCE is a file, an executable script or 'prompt'),
then KEYWARD_VAULT_PASSWORD_FILE, ANSIBLE_VAULT_PASSWORD_FILE, KEYWARD_VAULT_PASSWORD_COMMAND,
then `[bundle] password_command` in ~/.config/keyward/config.toml (used only when the file is
yours and not group- or world-writable). SOPS bundles use age identities from SOPS_AGE_KEY,
SOPS_AGE_KEY_FILE or ~/.config/sops/age/keys.txt.

Writers (set, unset, ensure, edit, rekey) lock BUNDLE.lock beside the bundle from read to
write, and write through a symlinked bundle to its target. A plaintext that is not KEY=value
lines (an Ansible YAML vars file) is refused by set, unset, ensure and edit and reported by
verify; rekey re-encrypts it byte for byte. Files read must be regular files of bounded size.";

const EXAMPLES: &str = "\
Examples:
  keyward bundle new --vault-password-file ~/.vault-pass
  printf %s \"$TOKEN\" | keyward bundle set GITHUB_TOKEN
  keyward bundle set DB_PASSWORD --from-env DB_PASSWORD
  keyward bundle ensure POSTGRES_PASSWORD GRAFANA_ADMIN --length 40
  keyward bundle view
  keyward bundle exec --only AZURE_CLIENT_SECRET -- terraform apply
  keyward bundle exec-file -- kubectl apply --kubeconfig {}
  keyward bundle new -f ci.sops.env --format sops-dotenv --age age1...";

/// The longest `--password-timeout`: a day. Larger values overflowed the deadline.
const MAX_PASSWORD_TIMEOUT_SECS: u64 = 86_400;

/// `keyward bundle …`
#[derive(Debug, Args)]
#[command(about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct BundleArgs {
    /// The bundle file.
    #[arg(
        long,
        short = 'f',
        global = true,
        env = "KEYWARD_BUNDLE",
        default_value = "control/secrets.vault.env"
    )]
    file: PathBuf,

    #[command(flatten)]
    password: PasswordArgs,

    #[command(subcommand)]
    command: BundleCommand,
}

/// The vault password flags, shared by `keyward bundle` and `keyward sync --bundle`.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the vault password from FILE (run it when it is executable).
    #[arg(long, global = true, value_name = "FILE")]
    vault_password_file: Option<PathBuf>,

    /// Run COMMAND (with sh -c) and use what it prints as the vault password.
    #[arg(long, global = true, value_name = "COMMAND")]
    vault_password_command: Option<String>,

    /// A vault-id, LABEL@SOURCE (SOURCE: a file, a script or 'prompt'); repeatable.
    #[arg(long, global = true, value_name = "[LABEL@]SOURCE")]
    vault_id: Vec<String>,

    /// How long a password command may run (1 to 86400 seconds).
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=MAX_PASSWORD_TIMEOUT_SECS)
    )]
    password_timeout: u64,
}

impl PasswordArgs {
    /// The options these flags give; the environment is consulted by [`Keyring::resolve`].
    pub fn options(&self) -> PasswordOptions {
        PasswordOptions {
            password_file: self.vault_password_file.clone(),
            password_command: self.vault_password_command.clone(),
            vault_ids: self.vault_id.clone(),
            timeout: Some(Duration::from_secs(self.password_timeout)),
            interaction: Interaction::Allowed,
        }
    }
}

/// Opens the bundle of `keyward sync --bundle` and keeps only what store credentials can be
/// looked up by: keys of the `<SECRET>__<KEY>` form. The rest of the bundle (CI tokens,
/// break-glass passwords) is dropped here, zeroized, instead of living in the sync's
/// credentials for the life of the process.
pub fn open_credentials(path: &Path, password: &PasswordArgs) -> Result<EnvMap, Failure> {
    let mut keyring = Keyring::resolve(&password.options(), &Environment::from_process());
    let mut values = Bundle::open(path, &mut keyring).classified()?.into_values();
    values.retain(|key, _| is_credential_key(key));
    Ok(values)
}

/// Whether `key` has the shape of a store credential in a bundle (`VAULT_TOKEN__TOKEN`).
fn is_credential_key(key: &str) -> bool {
    key.split_once("__")
        .is_some_and(|(secret, key)| !secret.is_empty() && !key.is_empty())
}

/// The format of a new bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum NewFormat {
    /// ansible-vault 1.1 (1.2 with a --vault-id label).
    AnsibleVault,
    /// SOPS dotenv with age recipients.
    SopsDotenv,
    /// SOPS YAML with age recipients.
    SopsYaml,
}

impl From<NewFormat> for Format {
    fn from(format: NewFormat) -> Self {
        match format {
            NewFormat::AnsibleVault => Format::AnsibleVault,
            NewFormat::SopsDotenv => Format::SopsDotenv,
            NewFormat::SopsYaml => Format::SopsYaml,
        }
    }
}

#[derive(Debug, Subcommand)]
enum BundleCommand {
    /// Create an empty bundle (mode 0600); never overwrites.
    New {
        /// The format.
        #[arg(long, value_enum, default_value_t = NewFormat::AnsibleVault)]
        format: NewFormat,
        /// An age recipient (age1…) for SOPS formats; repeatable.
        #[arg(long = "age", value_name = "RECIPIENT")]
        age: Vec<String>,
    },
    /// List the names of the values.
    Keys,
    /// List names with values shown as [redacted] (--reveal prints them).
    View {
        /// Print the values.
        #[arg(long)]
        reveal: bool,
    },
    /// Print one value: only into a pipe or a file, or with --reveal.
    Get {
        /// The name.
        key: String,
        /// Print to a terminal too.
        #[arg(long)]
        reveal: bool,
    },
    /// Set a value, read from stdin (a terminal prompts without echo), --from-env or --from-file.
    #[command(after_help = "Examples:\n  \
        printf %s \"$TOKEN\" | keyward bundle set API_TOKEN\n  \
        keyward bundle set API_TOKEN --from-env API_TOKEN\n  \
        keyward bundle set TLS_KEY --from-file tls.key\n\n\
        KEY=VALUE on the command line works, but other users can see it (ps, shell history).\n\
        One trailing newline is stripped from stdin; files are taken byte for byte.")]
    Set {
        /// KEY, or KEY=VALUE (visible to other users: prefer stdin). Exactly one: extra
        /// arguments are refused without repeating them (they may be values).
        #[arg(required = true, num_args = 1.., value_name = "KEY[=VALUE]")]
        assignment: Vec<String>,
        /// Take the value from this environment variable.
        #[arg(long, value_name = "VAR", conflicts_with = "from_file")]
        from_env: Option<String>,
        /// Take the value from this file, byte for byte.
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
    },
    /// Remove values.
    Unset {
        /// The names.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Generate random values for the names that have none; print no value.
    #[command(after_help = "Examples:\n  \
        keyward bundle ensure DB_PASSWORD SESSION_KEY\n  \
        keyward bundle ensure DB_PASSWORD --force --audit-log audit.jsonl   # rotate it\n\n\
        --force is the bundle's rotation: new values for the names given, set or not.")]
    Ensure {
        /// The names.
        #[arg(required = true)]
        keys: Vec<String>,
        /// Length of each generated value (letters and digits).
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(8..))]
        length: u16,
        /// Generate new values for names that already have one too (rotation).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        audit: ExecAudit,
    },
    /// Edit the plaintext in $VISUAL/$EDITOR (a 0600 file on tmpfs, removed afterwards;
    /// SIGTERM stops the editor's whole process group).
    Edit,
    /// Re-encrypt under a new password or vault-id (mode and owner kept; the plaintext is
    /// kept byte for byte).
    Rekey {
        /// The new password file.
        #[arg(long, value_name = "FILE")]
        new_vault_password_file: Option<PathBuf>,
        /// The new password command.
        #[arg(long, value_name = "COMMAND")]
        new_vault_password_command: Option<String>,
        /// The new vault-id, LABEL@SOURCE.
        #[arg(long, value_name = "[LABEL@]SOURCE")]
        new_vault_id: Option<String>,
        #[command(flatten)]
        audit: ExecAudit,
    },
    /// Encrypt a plaintext file in place, or into --out.
    Encrypt {
        /// The plaintext file.
        input: PathBuf,
        /// Write here instead of replacing INPUT.
        #[arg(long = "out", short = 'o', value_name = "FILE")]
        out: Option<PathBuf>,
        /// The format.
        #[arg(long, value_enum, default_value_t = NewFormat::AnsibleVault)]
        format: NewFormat,
        /// An age recipient for SOPS formats; repeatable.
        #[arg(long = "age", value_name = "RECIPIENT")]
        age: Vec<String>,
    },
    /// Decrypt a file in place, or into --out (`--out -` prints it); the file ends 0600.
    Decrypt {
        /// The encrypted file.
        input: PathBuf,
        /// Write here instead of replacing INPUT; `-` is stdout.
        #[arg(long = "out", short = 'o', value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Decrypt and parse; print the number of keys (exit 0, or 21, also for a plaintext that
    /// is not an env file).
    Verify,
    /// Run a command with the values in its environment; exits with its exit code.
    #[command(after_help = "Examples:\n  \
        keyward bundle exec -- ./deploy.sh\n  \
        keyward bundle exec --only ARM_CLIENT_SECRET,ARM_CLIENT_ID -- terraform plan\n  \
        keyward bundle exec --pristine -- env\n\n\
        keyward replaces itself with the command (execve): the command receives signals\n\
        directly and its exit code is keyward's.")]
    Exec {
        /// Pass only these names (comma-separated).
        #[arg(long, value_delimiter = ',', value_name = "KEYS")]
        only: Vec<String>,
        /// Do not pass keyward's own environment on, only the values.
        #[arg(long)]
        pristine: bool,
        #[command(flatten)]
        audit: ExecAudit,
        /// The command and its arguments, after --.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// Run a command with {} replaced by the path of the plaintext (a FIFO, removed after).
    #[command(after_help = "Examples:\n  \
        keyward bundle exec-file -- sh -c '. {} && ./bootstrap.sh'\n  \
        keyward bundle exec-file --no-fifo -- docker run --env-file {} image\n\n\
        The file holds KEY=\"value\" lines. A FIFO can be read once; --no-fifo gives a 0600\n\
        file on tmpfs for programs that read twice or seek.")]
    ExecFile {
        /// A regular 0600 file instead of a FIFO.
        #[arg(long)]
        no_fifo: bool,
        #[command(flatten)]
        audit: ExecAudit,
        /// The command and its arguments, after --; {} becomes the path.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
}

/// Where `bundle exec` and `exec-file` record that they handed values to a command, and
/// `ensure` and `rekey` that they rotated values or the password.
#[derive(Debug, Args)]
pub struct ExecAudit {
    /// Record what was done (the bundle, the key names, the command's name; never values or
    /// arguments) in this audit log: an exec before the command runs (if it cannot be
    /// written, the command does not run), ensure and rekey once the bundle is saved (see
    /// `keyward audit`).
    #[arg(long, value_name = "FILE", env = "KEYWARD_AUDIT_LOG")]
    audit_log: Option<PathBuf>,
    /// The state directory holding the audit signing key.
    #[arg(long, value_name = "DIR", requires = "audit_log")]
    state_dir: Option<PathBuf>,
}

impl ExecAudit {
    /// Appends the handover of `keys` from `bundle` to `command`.
    fn record<'a>(
        &self,
        bundle: &Path,
        keys: impl Iterator<Item = &'a String>,
        command: &[OsString],
    ) -> Result<(), Failure> {
        if self.audit_log.is_none() {
            return Ok(());
        }
        let program = command
            .first()
            .map(|c| {
                Path::new(c)
                    .file_name()
                    .unwrap_or(c)
                    .to_string_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        let mut detail = serde_json::Map::new();
        detail.insert("keys".into(), keys.cloned().collect::<Vec<_>>().into());
        detail.insert("command".into(), program.into());
        self.record_event(bundle, "bundle.exec", detail)
    }

    /// Appends one `event` about `bundle` (names, labels, counts; never a value).
    fn record_event(
        &self,
        bundle: &Path,
        event: &str,
        detail: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), Failure> {
        let Some(log) = &self.audit_log else {
            return Ok(());
        };
        let record = keyward_evidence::audit::Record {
            event: event.into(),
            subject: bundle.display().to_string(),
            detail,
        };
        super::audit::append_records(log, self.state_dir.as_deref(), &[record])
    }
}

/// Runs `keyward bundle …`.
pub fn run(args: BundleArgs, output: &Output) -> Result<Done, Failure> {
    // Plaintext left on tmpfs by an edit or exec-file that was killed outright goes now.
    exec::remove_stale_private_dirs();
    let context = Context_::new(&args);
    match args.command {
        BundleCommand::New { format, age } => new(&context, format.into(), &age, output),
        BundleCommand::Keys => keys(&context, output),
        BundleCommand::View { reveal } => view(&context, reveal, output),
        BundleCommand::Get { key, reveal } => get(&context, &key, reveal, output),
        BundleCommand::Set {
            assignment,
            from_env,
            from_file,
        } => set(
            &context,
            one_assignment(&assignment)?,
            from_env.as_deref(),
            from_file.as_deref(),
            output,
        ),
        BundleCommand::Unset { keys } => unset(&context, &keys, output),
        BundleCommand::Ensure {
            keys,
            length,
            force,
            audit,
        } => ensure(
            &context,
            &keys,
            Generate {
                length: usize::from(length),
                force,
            },
            &audit,
            output,
        ),
        BundleCommand::Edit => edit(&context, output),
        BundleCommand::Rekey {
            new_vault_password_file,
            new_vault_password_command,
            new_vault_id,
            audit,
        } => {
            let new = PasswordOptions {
                password_file: new_vault_password_file,
                password_command: new_vault_password_command,
                vault_ids: new_vault_id.into_iter().collect(),
                timeout: context.options.timeout,
                interaction: Interaction::Allowed,
            };
            rekey(&context, &new, &audit, output)
        }
        BundleCommand::Encrypt {
            input,
            out,
            format,
            age,
        } => encrypt(
            &context,
            &input,
            out.as_deref(),
            format.into(),
            &age,
            output,
        ),
        BundleCommand::Decrypt { input, out } => decrypt(&context, &input, out.as_deref(), output),
        BundleCommand::Verify => verify(&context, output),
        BundleCommand::Exec {
            only,
            pristine,
            audit,
            command,
        } => exec_env(&context, &only, pristine, &audit, &command),
        BundleCommand::ExecFile {
            no_fifo,
            audit,
            command,
        } => exec_file(&context, !no_fifo, &audit, &command),
    }
}

/// What every subcommand needs: the file and how to get passwords.
struct Context_ {
    file: PathBuf,
    options: PasswordOptions,
}

impl Context_ {
    fn new(args: &BundleArgs) -> Self {
        Self {
            file: args.file.clone(),
            options: args.password.options(),
        }
    }

    fn keyring(&self, options: &PasswordOptions) -> Keyring {
        Keyring::resolve(options, &Environment::from_process())
    }

    fn open(&self) -> Result<Bundle, Failure> {
        Bundle::open(&self.file, &mut self.keyring(&self.options)).classified()
    }

    /// Opens the bundle to change it; a plaintext that is not an env file is refused.
    fn open_for_update(&self) -> Result<BundleUpdate, Failure> {
        Bundle::open_for_update(&self.file, &mut self.keyring(&self.options)).classified()
    }
}

fn new(
    context: &Context_,
    format: Format,
    age: &[String],
    output: &Output,
) -> Result<Done, Failure> {
    if let Some(parent) = context.file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))
            .map_err(|e| Failure::new(ErrorKind::Write, e))?;
    }
    let bundle = match format {
        Format::AnsibleVault => {
            Bundle::new_vault(&context.file, &mut context.keyring(&context.options))
        }
        sops => Bundle::new_sops(&context.file, sops, age),
    }
    .classified()?;
    bundle.create().classified()?;
    report(
        output,
        &format!(
            "created {} ({}, mode 0600)",
            context.file.display(),
            format.name()
        ),
        serde_json::json!({ "file": json_path(&context.file), "format": format.name(), "created": true }),
    )
}

fn keys(context: &Context_, output: &Output) -> Result<Done, Failure> {
    let bundle = context.open()?;
    let names: Vec<&String> = bundle.values().keys().collect();
    let text = names
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    report(
        output,
        &text,
        serde_json::json!({ "file": json_path(bundle.path()), "format": bundle.format().name(), "keys": names }),
    )
}

fn view(context: &Context_, reveal: bool, output: &Output) -> Result<Done, Failure> {
    let bundle = context.open()?;
    match output.format {
        OutputFormat::Json => {
            let values: serde_json::Map<String, serde_json::Value> = bundle
                .values()
                .iter()
                .map(|(key, value)| (key.clone(), json_value(value, reveal)))
                .collect();
            let document = serde_json::json!({
                "file": json_path(bundle.path()),
                "format": bundle.format().name(),
                "values": values,
            });
            write_stdout(format!("{document}\n").as_bytes())?;
        }
        OutputFormat::Text if reveal => write_stdout(&env::render(bundle.values()))?,
        OutputFormat::Text => {
            let lines: String = bundle
                .values()
                .keys()
                .map(|key| format!("{key}={REDACTED}\n"))
                .collect();
            write_stdout(lines.as_bytes())?;
        }
    }
    Ok(Done::Exit(ExitCode::Success))
}

/// The one place `view --output json` turns a value into JSON: only under --reveal.
fn json_value(value: &SecretValue, reveal: bool) -> serde_json::Value {
    if reveal {
        serde_json::Value::String(String::from_utf8_lossy(value.expose_bytes()).into_owned())
    } else {
        serde_json::Value::String(REDACTED.to_owned())
    }
}

fn get(context: &Context_, key: &str, reveal: bool, output: &Output) -> Result<Done, Failure> {
    check_key(key, "the key")?;
    if std::io::stdout().is_terminal() && !reveal {
        return Err(Failure::new(
            ErrorKind::Usage,
            anyhow::anyhow!(
                "refusing to print the value of {key} to a terminal: pipe it (keyward bundle get {key} | …) or pass --reveal"
            ),
        ));
    }
    let bundle = context.open()?;
    let value = bundle.values().get(key).ok_or_else(|| {
        Failure::new(
            ErrorKind::InvalidConfig,
            anyhow::anyhow!("{}: no key {key}", bundle.path().display()),
        )
    })?;
    match output.format {
        OutputFormat::Json => {
            let document = serde_json::json!({ "key": key, "value": json_value(value, true) });
            write_stdout(format!("{document}\n").as_bytes())?;
        }
        OutputFormat::Text => write_stdout(value.expose_bytes())?,
    }
    Ok(Done::Exit(ExitCode::Success))
}

fn set(
    context: &Context_,
    assignment: &str,
    from_env: Option<&str>,
    from_file: Option<&Path>,
    output: &Output,
) -> Result<Done, Failure> {
    let (key, inline) = match assignment.split_once('=') {
        Some((key, value)) => (key, Some(SecretValue::from(value))),
        None => (assignment, None),
    };
    check_key(key, "the key")?;
    let value = match (inline, from_env, from_file) {
        (Some(value), None, None) => {
            tracing::warn!(
                "a value on the command line is visible to other users (ps, shell history); prefer stdin or --from-env"
            );
            eprintln!(
                "keyward: warning: a value given as KEY=VALUE is visible to other users (ps, shell history); prefer stdin or --from-env"
            );
            value
        }
        (Some(_), _, _) => {
            return Err(Failure::new(
                ErrorKind::Usage,
                anyhow::anyhow!(
                    "give the value once: KEY=VALUE, or KEY with --from-env or --from-file"
                ),
            ));
        }
        (None, Some(var), _) => value_from_env(var)?,
        (None, None, Some(path)) => {
            SecretValue::from(read_input(path, input::MAX_PLAINTEXT_BYTES)?.as_slice())
        }
        (None, None, None) => value_from_stdin(key)?,
    };
    if value.expose_bytes().contains(&0) {
        return Err(Failure::new(
            ErrorKind::Usage,
            anyhow::anyhow!(
                "the value of {key} contains a NUL byte, which no environment variable can hold"
            ),
        ));
    }
    let mut bundle = context.open_for_update()?;
    let replaced = bundle.values_mut().insert(key.to_owned(), value).is_some();
    bundle.save().classified()?;
    let verb = if replaced { "updated" } else { "added" };
    report(
        output,
        &format!("{verb} {key} in {}", bundle.path().display()),
        serde_json::json!({ "file": json_path(bundle.path()), "key": key, "action": verb }),
    )
}

fn value_from_env(var: &str) -> Result<SecretValue, Failure> {
    use std::os::unix::ffi::OsStrExt;
    let value = std::env::var_os(var).ok_or_else(|| {
        Failure::new(
            ErrorKind::Usage,
            anyhow::anyhow!("environment variable {var} is not set"),
        )
    })?;
    Ok(SecretValue::from(value.as_bytes()))
}

fn value_from_stdin(key: &str) -> Result<SecretValue, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let typed = rpassword::prompt_password(format!("Value for {key} (not echoed): "))
            .context("reading the value from the terminal")
            .map_err(|e| Failure::new(ErrorKind::Cancelled, e))?;
        return Ok(SecretValue::from(typed));
    }
    let bytes = input::read_stream(stdin.lock(), input::MAX_PLAINTEXT_BYTES).map_err(|e| {
        let kind = match e {
            input::ReadError::TooLarge(_) => ErrorKind::Usage,
            _ => ErrorKind::Write,
        };
        Failure::new(
            kind,
            anyhow::Error::new(e).context("reading the value from stdin"),
        )
    })?;
    // `echo value | keyward bundle set KEY` means "value", not "value\n".
    let trimmed = bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(&bytes);
    Ok(SecretValue::from(trimmed))
}

fn unset(context: &Context_, keys: &[String], output: &Output) -> Result<Done, Failure> {
    check_keys(keys)?;
    let mut bundle = context.open_for_update()?;
    let (removed, absent): (Vec<&String>, Vec<&String>) = keys
        .iter()
        .partition(|key| bundle.values_mut().remove(key.as_str()).is_some());
    if !removed.is_empty() {
        bundle.save().classified()?;
    }
    let mut text = format!(
        "removed {} of {} keys from {}",
        removed.len(),
        keys.len(),
        bundle.path().display()
    );
    if !absent.is_empty() {
        let names: Vec<&str> = absent.iter().map(|k| k.as_str()).collect();
        text.push_str(&format!(" (not set: {})", names.join(", ")));
    }
    report(
        output,
        &text,
        serde_json::json!({ "file": json_path(bundle.path()), "removed": removed, "not_set": absent }),
    )
}

/// How `bundle ensure` generates values.
struct Generate {
    /// Characters per value.
    length: usize,
    /// New values for set names too (a rotation).
    force: bool,
}

fn ensure(
    context: &Context_,
    keys: &[String],
    how: Generate,
    audit: &ExecAudit,
    output: &Output,
) -> Result<Done, Failure> {
    check_keys(keys)?;
    let length = how.length;
    let mut bundle = context.open_for_update()?;
    let mut generated = Vec::new();
    for key in keys {
        if bundle.values().contains_key(key) && !how.force {
            continue;
        }
        let value = random::generate(length, random::ALPHANUMERIC).map_err(|e| {
            Failure::new(ErrorKind::Internal, anyhow::anyhow!("no randomness: {e}"))
        })?;
        bundle.values_mut().insert(key.clone(), value);
        generated.push(key.as_str());
    }
    if !generated.is_empty() {
        bundle.save().classified()?;
        let mut detail = serde_json::Map::new();
        detail.insert("keys".into(), generated.clone().into());
        detail.insert("length".into(), length.into());
        detail.insert("forced".into(), how.force.into());
        audit.record_event(bundle.path(), "bundle.generated", detail)?;
    }
    let text = if generated.is_empty() {
        format!(
            "all {} keys already set in {}",
            keys.len(),
            bundle.path().display()
        )
    } else {
        format!(
            "generated {} in {}",
            generated.join(", "),
            bundle.path().display()
        )
    };
    report(
        output,
        &text,
        serde_json::json!({ "file": json_path(bundle.path()), "generated": generated, "length": length }),
    )
}

fn edit(context: &Context_, output: &Output) -> Result<Done, Failure> {
    let mut bundle = context.open_for_update()?;
    let plaintext = env::render(bundle.values());
    let edited = exec::edit(&plaintext, &exec::editor_from_env()).map_err(exec_failure)?;
    let Some(edited) = edited else {
        return report(
            output,
            &format!("no changes; {} left as it was", bundle.path().display()),
            serde_json::json!({ "file": json_path(bundle.path()), "changed": false }),
        );
    };
    let invalid = |e: env::EnvError| {
        Failure::new(
            ErrorKind::Decryption,
            anyhow::anyhow!(
                "{}: the edited text is invalid, nothing was saved: {e}",
                bundle.path().display()
            ),
        )
    };
    // A line the reader would skip (YAML typed into the editor) would be lost on save.
    if let Some(foreign) = env::foreign_line(&edited) {
        return Err(invalid(foreign));
    }
    let values: EnvMap = env::parse(&edited).map_err(invalid)?;
    *bundle.values_mut() = values;
    bundle.save().classified()?;
    report(
        output,
        &format!(
            "saved {} ({} keys)",
            bundle.path().display(),
            bundle.values().len()
        ),
        serde_json::json!({ "file": json_path(bundle.path()), "changed": true, "keys": bundle.values().len() }),
    )
}

fn rekey(
    context: &Context_,
    new: &PasswordOptions,
    audit: &ExecAudit,
    output: &Output,
) -> Result<Done, Failure> {
    if new.password_file.is_none() && new.password_command.is_none() && new.vault_ids.is_empty() {
        return Err(Failure::new(
            ErrorKind::Usage,
            anyhow::anyhow!(
                "rekey needs the new password: --new-vault-password-file, --new-vault-password-command or --new-vault-id"
            ),
        ));
    }
    // The new password comes from the --new-* flags only, never from the environment.
    let mut new_keyring = Keyring::resolve(new, &Environment::default());
    let rekeyed = keyward_bundle::rekey(
        &context.file,
        &mut context.keyring(&context.options),
        &mut new_keyring,
    )
    .classified()?;
    let label = rekeyed.label.as_deref().unwrap_or("default");
    let mut detail = serde_json::Map::new();
    detail.insert("label".into(), label.into());
    audit.record_event(&context.file, "bundle.rekeyed", detail)?;
    report(
        output,
        &format!("rekeyed {} (label {label})", context.file.display()),
        serde_json::json!({ "file": json_path(&context.file), "label": label }),
    )
}

fn encrypt(
    context: &Context_,
    input: &Path,
    out: Option<&Path>,
    format: Format,
    age: &[String],
    output: &Output,
) -> Result<Done, Failure> {
    let plaintext = read_input(input, input::MAX_PLAINTEXT_BYTES)?;
    keyward_bundle::protect_process();
    if Format::detect(&plaintext).is_some() {
        return Err(Failure::new(
            ErrorKind::Usage,
            anyhow::anyhow!("{} is already encrypted", input.display()),
        ));
    }
    let target = out.unwrap_or(input);
    let sealed = match format {
        // ansible-vault encrypts any bytes, as `ansible-vault encrypt` does.
        Format::AnsibleVault => {
            let bundle =
                Bundle::new_vault(target, &mut context.keyring(&context.options)).classified()?;
            bundle.seal_raw(&plaintext).classified()?
        }
        sops => {
            let values = env::parse(&plaintext).map_err(|e| {
                Failure::new(
                    ErrorKind::InvalidConfig,
                    anyhow::anyhow!("{}: {e}", input.display()),
                )
            })?;
            let mut bundle = Bundle::new_sops(target, sops, age).classified()?;
            *bundle.values_mut() = values;
            bundle.seal_bytes().classified()?
        }
    };
    write_result(target, out, &sealed)?;
    report(
        output,
        &format!(
            "encrypted {} into {} ({})",
            input.display(),
            target.display(),
            format.name()
        ),
        serde_json::json!({ "input": json_path(input), "file": json_path(target), "format": format.name() }),
    )
}

fn decrypt(
    context: &Context_,
    input: &Path,
    out: Option<&Path>,
    output: &Output,
) -> Result<Done, Failure> {
    let content = read_input(input, input::MAX_BUNDLE_BYTES)?;
    keyward_bundle::protect_process();
    let plaintext = match Format::detect(&content) {
        Some(Format::AnsibleVault) => keyward_bundle::open_vault_bytes(
            input,
            &content,
            &mut context.keyring(&context.options),
        )
        .classified()?,
        Some(_) => env::render(
            Bundle::open(input, &mut context.keyring(&context.options))
                .classified()?
                .values(),
        ),
        None => {
            return Err(Failure::new(
                ErrorKind::Decryption,
                anyhow::anyhow!(
                    "{}: not encrypted (no $ANSIBLE_VAULT header and no sops metadata)",
                    input.display()
                ),
            ));
        }
    };
    if out == Some(Path::new("-")) {
        write_stdout(&plaintext)?;
        return Ok(Done::Exit(ExitCode::Success));
    }
    let target = out.unwrap_or(input);
    // Plaintext ends 0600, also over an existing file that was wider (as ansible-vault).
    keyward_bundle::write_plaintext_atomic(target, &plaintext, out.is_none())
        .with_context(|| format!("writing {}", target.display()))
        .map_err(|e| Failure::new(ErrorKind::Write, e))?;
    report(
        output,
        &format!(
            "decrypted {} into {} (mode kept or 0600)",
            input.display(),
            target.display()
        ),
        serde_json::json!({ "input": json_path(input), "file": json_path(target) }),
    )
}

fn verify(context: &Context_, output: &Output) -> Result<Done, Failure> {
    let bundle = context.open()?;
    // A plaintext that is not an env file is not a usable bundle: say what was found.
    bundle.check_env().classified()?;
    report(
        output,
        &format!(
            "ok: {} ({}) holds {} keys",
            bundle.path().display(),
            bundle.format().name(),
            bundle.values().len()
        ),
        serde_json::json!({
            "file": json_path(bundle.path()),
            "format": bundle.format().name(),
            "label": bundle.label(),
            "keys": bundle.values().len(),
            "ok": true,
        }),
    )
}

fn exec_env(
    context: &Context_,
    only: &[String],
    pristine: bool,
    audit: &ExecAudit,
    command: &[OsString],
) -> Result<Done, Failure> {
    let bundle = context.open()?;
    let values = select(&bundle, only)?;
    audit.record(bundle.path(), values.keys(), command)?;
    let error = exec::exec_env(&values, pristine, command);
    Err(exec_failure(error))
}

fn exec_file(
    context: &Context_,
    use_fifo: bool,
    audit: &ExecAudit,
    command: &[OsString],
) -> Result<Done, Failure> {
    let bundle = context.open()?;
    audit.record(bundle.path(), bundle.values().keys(), command)?;
    let plaintext = env::render(bundle.values());
    drop(bundle);
    let code = exec::exec_file(&plaintext, use_fifo, command).map_err(exec_failure)?;
    Ok(Done::Child(code))
}

/// The values named by `--only`, all of them when it is empty.
fn select(bundle: &Bundle, only: &[String]) -> Result<EnvMap, Failure> {
    for (index, key) in only.iter().enumerate() {
        check_key(key, &format!("name {} of --only", index + 1))?;
    }
    if only.is_empty() {
        return Ok(bundle.values().clone());
    }
    let mut selected = EnvMap::new();
    for key in only {
        let value = bundle.values().get(key).ok_or_else(|| {
            Failure::new(
                ErrorKind::InvalidConfig,
                anyhow::anyhow!(
                    "{}: --only names {key}, which the bundle does not hold",
                    bundle.path().display()
                ),
            )
        })?;
        selected.insert(key.clone(), value.clone());
    }
    Ok(selected)
}

fn exec_failure(error: ExecError) -> Failure {
    match error {
        ExecError::Spawn { .. } => {
            let code = error.exit_code();
            Failure::new(ErrorKind::MissingDependency, error).with_exit_code(code)
        }
        ExecError::Interrupted => Failure::new(ErrorKind::Cancelled, error),
        ExecError::NoCommand | ExecError::NoPlaceholder => Failure::new(ErrorKind::Usage, error),
        other => Failure::new(ErrorKind::Write, other),
    }
}

/// The one `KEY[=VALUE]` of `set`. More arguments are refused by count: the extra ones are
/// most likely values (`set A=v1 B=v2`), and clap's own error would quote them.
fn one_assignment(arguments: &[String]) -> Result<&str, Failure> {
    match arguments {
        [one] => Ok(one),
        _ => Err(Failure::new(
            ErrorKind::Usage,
            anyhow::anyhow!(
                "set takes one KEY or KEY=VALUE, got {} arguments (not repeated here: they may \
                 hold values); run set once per key",
                arguments.len()
            ),
        )),
    }
}

/// Checks a key given on the command line; the error names `what`, never the token.
fn check_key(key: &str, what: &str) -> Result<(), Failure> {
    env::validate_key(key).map_err(|error| {
        let reason = match error {
            env::EnvError::InvalidKey { reason, .. } => reason,
            other => other.to_string(),
        };
        Failure::new(ErrorKind::Usage, anyhow::anyhow!("{what}: {reason}"))
    })
}

/// Checks the KEY arguments of `unset` and `ensure`, naming a bad one by its position.
fn check_keys(keys: &[String]) -> Result<(), Failure> {
    for (index, key) in keys.iter().enumerate() {
        check_key(key, &format!("key argument {}", index + 1))?;
    }
    Ok(())
}

/// Writes the result of `encrypt`: in place through a symlinked input to the file it names
/// (as ansible-vault does), or to `--out`, where a symlink is replaced.
fn write_result(target: &Path, out: Option<&Path>, bytes: &[u8]) -> Result<(), Failure> {
    let written = match out {
        None => keyward_bundle::write_atomic_through_symlink(target, bytes),
        Some(_) => keyward_bundle::write_atomic(target, bytes),
    };
    written
        .with_context(|| format!("writing {}", target.display()))
        .map_err(|e| Failure::new(ErrorKind::Write, e))
}

/// Reads a file named on the command line: a regular file within `limit`. A missing or
/// unreadable file is a missing dependency; a FIFO, a device or an oversized file is a usage
/// error (for a stream, use stdin).
fn read_input(path: &Path, limit: u64) -> Result<zeroize::Zeroizing<Vec<u8>>, Failure> {
    input::read_regular(path, limit).map_err(|error| {
        let kind = match error {
            input::ReadError::NotRegular(_) | input::ReadError::TooLarge(_) => ErrorKind::Usage,
            _ => ErrorKind::MissingDependency,
        };
        Failure::new(
            kind,
            anyhow::Error::new(error).context(format!("reading {}", path.display())),
        )
    })
}

/// A path as a JSON string. Paths are bytes on Unix; serde_json refuses non-UTF-8 ones (and
/// `json!` would panic on that), so invalid sequences become U+FFFD here.
fn json_path(path: &Path) -> serde_json::Value {
    serde_json::Value::String(path.to_string_lossy().into_owned())
}

/// Prints a one-line text report, or the JSON document.
fn report(output: &Output, text: &str, json: serde_json::Value) -> Result<Done, Failure> {
    let line = match output.format {
        OutputFormat::Text => text.to_owned(),
        OutputFormat::Json => json.to_string(),
    };
    if !line.is_empty() {
        write_stdout(format!("{line}\n").as_bytes())?;
    }
    Ok(Done::Exit(ExitCode::Success))
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .context("writing to stdout")
        .map_err(|e| Failure::new(ErrorKind::Write, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password_file(dir: &Path) -> PasswordArgs {
        let file = dir.join("pw");
        std::fs::write(&file, "pw\n").expect("password file");
        PasswordArgs {
            vault_password_file: Some(file),
            vault_password_command: None,
            vault_id: Vec::new(),
            password_timeout: 30,
        }
    }

    /// `keyward sync --bundle` keeps the store credentials only, not the whole bundle for the
    /// life of the process (issue 15).
    #[test]
    fn sync_credentials_keep_only_the_store_credential_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bundle.vault.env");
        let plaintext = "VAULT_TOKEN__TOKEN=\"t\"\nCI_DEPLOY_KEY=\"k\"\n__X=\"a\"\nY__=\"b\"\n";
        let sealed = keyward_bundle::vault::encrypt(
            plaintext.as_bytes(),
            &SecretValue::from("pw"),
            None,
            None,
        )
        .expect("encrypt");
        std::fs::write(&path, sealed).expect("bundle");
        let values = open_credentials(&path, &password_file(dir.path())).expect("open");
        assert_eq!(
            values.keys().collect::<Vec<_>>(),
            ["VAULT_TOKEN__TOKEN"],
            "entries other than store credentials were kept"
        );
    }
}
