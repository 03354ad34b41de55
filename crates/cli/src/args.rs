//! The command line: global options and the subcommands, as clap derives them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;

use crate::logging::{LogFormat, LogLevel};
use crate::output::{ColorChoice, OutputFormat};

const ABOUT: &str = "Secrets for hybrid Kubernetes and host workloads.";

const LONG_ABOUT: &str = "\
Secrets for hybrid Kubernetes and host workloads.

keyward keeps secret values in an external store and only references in Git:
  sync      pull values from stores into Kubernetes Secrets or host files,
            from the same ExternalSecret manifests External Secrets Operator reads
  bundle    an ansible-vault (or SOPS+age) encrypted env file for bootstrap,
            CI and disaster-recovery credentials, decrypted for one child only
  guard     keep values out of Git: working tree, staged changes, all history
  evidence  prove projections match their source without showing a value";

const AFTER_LONG_HELP: &str = "\
Examples:
  keyward sync -f deploy/ --out /run/secrets # ExternalSecrets as files on this host
  keyward bundle new                       # control/secrets.vault.env, ansible-vault
  keyward bundle exec -- ./bootstrap.sh    # the values, for this one command
  keyward --version
  keyward scan --history --format sarif > keyward.sarif
  keyward check --offline deploy/ --junit check.xml   # the CI gate for pull requests
  keyward completions bash > /etc/bash_completion.d/keyward
  keyward man --out-dir /usr/local/share/man/man1

Environment:
  NO_COLOR            disables colour when set to any non-empty value
  KEYWARD_LOG_LEVEL   default for --log-level
  KEYWARD_LOG_FORMAT  default for --log-format

Exit codes:
  0    success; scan clean; check healthy
  1    scan found something; check found something unhealthy
  2    usage error
  10   a config template was written for the user to fill in
  11   configuration or manifest invalid
  12   a required dependency is missing
  20   a store or cluster call failed
  21   decryption or bundle failure (wrong password, tampered file)
  30   write or internal failure
  130  cancelled";

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    long_version = env!("KEYWARD_LONG_VERSION"),
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP,
    arg_required_else_help = true,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Format of results on stdout (errors follow it on stderr).
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// How much to log on stderr. Logs never contain secret values, at any level.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "KEYWARD_LOG_LEVEL",
        default_value_t = LogLevel::Warn
    )]
    pub log_level: LogLevel,

    /// Log line format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "KEYWARD_LOG_FORMAT",
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,

    /// When to colour output; `auto` colours a terminal unless NO_COLOR is set.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Encrypted env file of bootstrap credentials (ansible-vault or SOPS+age).
    Bundle(crate::commands::bundle::BundleArgs),

    /// Project ExternalSecrets onto this host as files.
    Sync(crate::commands::sync::SyncArgs),

    /// Rotate a secret at its source; the projection and its consumers follow.
    Rotate(crate::commands::rotate::RotateArgs),

    /// Run the Kubernetes operator: ExternalSecrets pulled into Secrets, as ESO does.
    Operator(crate::commands::operator::OperatorArgs),

    /// Scan for secret values: tracked files, staged changes or all history.
    #[command(
        long_about = crate::commands::scan::LONG_ABOUT,
        after_long_help = crate::commands::scan::AFTER_LONG_HELP
    )]
    Scan(crate::commands::scan::ScanArgs),

    /// Check manifests before they are applied: stores, templates, the keys workloads read.
    #[command(
        long_about = crate::commands::check::LONG_ABOUT,
        after_long_help = crate::commands::check::AFTER_LONG_HELP
    )]
    Check(crate::commands::check::CheckArgs),

    /// Gather a dated evidence folder (JSON and HTML): inventory, health, rotation age,
    /// per-key verification, audit excerpt; never a value.
    #[command(
        long_about = crate::commands::evidence::LONG_ABOUT,
        after_long_help = crate::commands::evidence::AFTER_LONG_HELP
    )]
    Evidence(crate::commands::evidence::EvidenceArgs),

    /// Rewrite external-secrets.io/v1beta1 manifests to v1, keeping comments and key order.
    #[command(after_long_help = crate::commands::convert::AFTER_LONG_HELP)]
    Convert(crate::commands::convert::ConvertArgs),

    /// The tamper-evident audit log: its public key, and its verification.
    #[command(subcommand, after_long_help = crate::commands::audit::AFTER_LONG_HELP)]
    Audit(crate::commands::audit::AuditCommand),

    /// Print a shell completion script.
    #[command(after_help = "Examples:\n  \
        keyward completions bash > ~/.local/share/bash-completion/completions/keyward\n  \
        keyward completions zsh > \"${fpath[1]}/_keyward\"\n  \
        keyward completions fish > ~/.config/fish/completions/keyward.fish")]
    Completions {
        /// The shell to generate for.
        #[arg(value_enum)]
        shell: Shell,
    },

    /// Write man pages: keyward(1) and one page per subcommand.
    #[command(after_help = "Examples:\n  \
        keyward man | man -l -\n  \
        keyward man --out-dir /usr/local/share/man/man1")]
    Man {
        /// Write every page into this directory instead of printing keyward(1) to stdout.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },

    /// Render ExternalSecret templates offline (Go text/template + Sprig, as ESO does).
    #[command(subcommand)]
    Template(TemplateCommand),
}

/// `keyward template …`.
#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// Render spec.target.template of an ExternalSecret against key/value data.
    #[command(after_help = "Examples:\n  \
        keyward template render -f externalsecret.yaml --data data.json\n  \
        keyward template render -f externalsecret.yaml --data data.json --reveal\n  \
        keyward --output json template render -f externalsecret.yaml --data data.json")]
    Render(TemplateRenderArgs),
}

/// Arguments of `keyward template render`.
#[derive(Debug, Args)]
pub struct TemplateRenderArgs {
    /// The ExternalSecret manifest (YAML; the first ExternalSecret document is used).
    #[arg(short = 'f', long = "file", value_name = "EXTERNALSECRET.yaml")]
    pub file: PathBuf,

    /// A JSON object of key → value: the data the template sees, as ESO would fetch it
    /// (non-string values are passed as their JSON text, as a store would return them).
    #[arg(long, value_name = "FILE.json")]
    pub data: PathBuf,

    /// Print the rendered values instead of [redacted].
    #[arg(long)]
    pub reveal: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_lists_every_exit_code_of_the_table() {
        for exit in keyward_core::ExitCode::ALL {
            let row = format!("  {:<5}{}", exit.code(), exit.meaning());
            assert!(AFTER_LONG_HELP.contains(&row), "missing row: {row}");
        }
    }
}
