//! `keyward sync`: ExternalSecret manifests projected onto this host as files.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use keyward_core::ErrorKind;
use keyward_sync::credentials::HostCredentials;
use keyward_sync::host::Layout;
use keyward_sync::run::{self, Report, RunOptions, Status};
use keyward_sync::watch::{self, ChangeHook, Event, WatchOptions};

use crate::commands::Done;
use crate::failure::Failure;
use crate::output::{Output, OutputFormat};

const LONG_ABOUT: &str = "\
Project ExternalSecrets onto this host as files, from the same manifests a cluster uses.

keyward sync reads ExternalSecret, SecretStore and ClusterSecretStore manifests
(external-secrets.io/v1), fetches the values from the stores and writes each target under
--out: by default as a directory with one file per key (the layout of a Secret mounted into
a pod), swapped atomically so a reader never sees half a set; or as OUT/NS/TARGET.env or
.json. Files are 0600 in 0700 directories. The report shows a keyed fingerprint per target,
never a value.

Store credentials (authSecretRef, tokenSecretRef, ...) resolve, first found wins, from
--credentials-dir (DIR/<namespace>/<secret>/<key>, 0600 files), from the bundle (--bundle;
key <SECRET>__<KEY> upper-cased, other characters as _), or from plaintext v1/Secret
manifests when --allow-plaintext-secrets is given. The bundle's password comes from the same
flags and environment as for `keyward bundle` (--vault-password-file, --vault-password-command,
--vault-id, --password-timeout); only its <SECRET>__<KEY> entries are kept once it is opened.";

const EXAMPLES: &str = "\
Examples:
  keyward sync -f examples/quickstart --out /run/secrets
  keyward sync -f deploy/ --namespace payments --bundle control/secrets.vault.env
  keyward sync -f es.yaml --format env --out /etc/app   # /etc/app/<ns>/<target>.env
  keyward --output json sync -f deploy/
  keyward sync -f deploy/ --watch --signal HUP --pidfile /run/nginx.pid
  keyward sync -f deploy/ --watch --on-change 'systemctl reload app'

Exit codes: 0 all synced, 20 a store call failed, 11 a manifest is invalid, 30 a target
could not be written (or keyward failed on one ExternalSecret); one failing ExternalSecret
does not stop the others, and never touches what is already projected. Two runs never write
one --out at once: a second waits for the first, or exits 30 with --no-wait.";

/// How targets are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetFormat {
    /// A directory per target, one file per key.
    Dir,
    /// A KEY="value" env file per target.
    Env,
    /// A JSON object per target.
    Json,
}

/// `keyward sync …`
#[derive(Debug, Args)]
#[command(
    about = "Project ExternalSecrets onto this host as files",
    long_about = LONG_ABOUT,
    after_help = EXAMPLES
)]
pub struct SyncArgs {
    /// Manifest files or directories (*.yaml, *.yml); repeatable.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,

    /// Where and how targets are written.
    #[command(flatten)]
    target: TargetArgs,

    /// Fail at once if another keyward sync is writing to --out, instead of waiting for it.
    #[arg(long)]
    no_wait: bool,

    /// Sync once and exit (the default).
    #[arg(long, conflicts_with = "watch")]
    once: bool,

    /// Keep syncing: each ExternalSecret at its refreshInterval (with jitter), manifests
    /// re-read when they change or on SIGHUP, until SIGTERM or SIGINT.
    #[arg(long)]
    watch: bool,

    /// After targets changed, run this shell command (changed paths in $KEYWARD_CHANGED).
    #[arg(long, value_name = "COMMAND", conflicts_with = "signal")]
    on_change: Option<String>,

    /// After targets changed, send this signal (HUP, SIGUSR1, …) to the process in --pidfile.
    #[arg(long, value_name = "SIG", requires = "pidfile", value_parser = parse_signal)]
    signal: Option<nix::sys::signal::Signal>,

    /// The file holding the process id that --signal is sent to.
    #[arg(long, value_name = "FILE", requires = "signal")]
    pidfile: Option<PathBuf>,

    /// With --watch: how long changes must be quiet before the hook runs (Go duration).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    debounce: std::time::Duration,

    /// Where store credentials come from.
    #[command(flatten)]
    credentials: StoreCredentialArgs,

    /// Where keyward keeps its fingerprint key (readers of --out must not read it).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,

    /// Append every target written, deleted or failed (with its fingerprint; never a value)
    /// to this audit log, hash-chained and signed with the state directory's audit.key
    /// (see `keyward audit`).
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
}

/// Where and how targets are written on this host, and the namespace of manifests that name
/// none: `keyward sync`'s flags, shared with `keyward rotate`.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Where targets are written: OUT/<namespace>/<target>.
    #[arg(long, value_name = "DIR", default_value = "secrets")]
    pub out: PathBuf,

    /// How targets are written.
    #[arg(long, value_enum, default_value_t = TargetFormat::Dir)]
    pub format: TargetFormat,

    /// The namespace of manifests that name none.
    #[arg(long, short = 'n', default_value = "default", value_parser = parse_namespace)]
    pub namespace: keyward_api::NamespaceName,
}

/// Where the stores of host manifests find their credentials: `keyward sync`'s flags, shared
/// with the checks that read the same stores (`keyward check --stores-only`, `--verify`).
#[derive(Debug, Args)]
pub struct StoreCredentialArgs {
    /// Store credentials as files: DIR/<namespace>/<secret>/<key>.
    #[arg(long, value_name = "DIR")]
    pub credentials_dir: Option<PathBuf>,

    /// A keyward bundle holding store credentials (see `keyward sync --help` for the key
    /// names).
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,

    /// The --bundle's vault password: the same flags as `keyward bundle`.
    #[command(flatten)]
    pub password: super::bundle::PasswordArgs,

    /// Accept plaintext v1/Secret manifests as store credentials (with a warning).
    #[arg(long)]
    pub allow_plaintext_secrets: bool,
}

impl StoreCredentialArgs {
    /// The credentials, the bundle opened (a wrong password is a failure here).
    pub fn host_credentials(&self) -> Result<HostCredentials, Failure> {
        Ok(HostCredentials {
            dir: self.credentials_dir.clone(),
            bundle: match &self.bundle {
                Some(path) => open_bundle(path, &self.password)?,
                None => Default::default(),
            },
            ..HostCredentials::default()
        })
    }
}

/// How `--format` names a target layout.
pub fn layout_of(format: TargetFormat) -> Layout {
    match format {
        TargetFormat::Dir => Layout::Dir,
        TargetFormat::Env => Layout::Env,
        TargetFormat::Json => Layout::Json,
    }
}

/// Runs `keyward sync`.
pub fn run(args: SyncArgs, output: &Output) -> Result<Done, Failure> {
    let credentials = args.credentials.host_credentials()?;
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(crate::state::default_state_dir);
    let fingerprint_key = run::fingerprint_key(&state_dir)
        .with_context(|| format!("preparing the fingerprint key in {}", state_dir.display()))
        .map_err(|e| Failure::new(ErrorKind::Write, e))?;
    let audit = match &args.audit_log {
        Some(path) => Some(super::audit::SyncAudit {
            path: path.clone(),
            key: super::audit::signing_key(Some(&state_dir))?,
        }),
        None => None,
    };
    let options = RunOptions {
        paths: args.paths,
        out: args.target.out,
        layout: layout_of(args.target.format),
        namespace: args.target.namespace,
        credentials,
        allow_plaintext_secrets: args.credentials.allow_plaintext_secrets,
        fingerprint_key,
        wait_for_lock: !args.no_wait,
        record_reads: audit.is_some(),
    };
    let hook = match (args.on_change, args.signal, args.pidfile) {
        (Some(command), _, _) => Some(ChangeHook::Command(command)),
        (None, Some(signal), Some(pidfile)) => Some(ChangeHook::Signal { signal, pidfile }),
        _ => None,
    };
    let runtime = super::runtime()?;
    if args.watch {
        let options = WatchOptions {
            run: options,
            hook,
            debounce: args.debounce,
        };
        let on_event = |event: Event<'_>| {
            print_event(&event, output);
            if let (Event::Round(outcomes, reads), Some(audit)) = (&event, &audit)
                && let Err(failure) = audit.record(reads, outcomes.iter().map(|o| &o.row))
            {
                eprintln!("keyward: error: {}", failure.message());
            }
        };
        runtime
            .block_on(watch::watch(options, on_event))
            .map_err(out_failure)?;
        return Ok(Done::Exit(keyward_core::ExitCode::Success));
    }
    let report = runtime.block_on(run::run(options)).map_err(out_failure)?;
    print_report(&report, output)?;
    if let Some(audit) = &audit {
        audit.record(&report.reads, report.rows.iter())?;
    }
    let changed: Vec<String> = report
        .rows
        .iter()
        .filter(|row| matches!(row.status, Status::Synced | Status::Deleted))
        .map(|row| row.target.clone())
        .collect();
    if let (Some(hook), false) = (hook, changed.is_empty()) {
        match runtime.block_on(watch::run_hook_once(&hook, &changed)) {
            Ok(done) => tracing::info!("{done}"),
            Err(reason) => eprintln!("keyward: warning: {reason}"),
        }
    }
    Ok(Done::Exit(report.exit))
}

/// The lock of --out could not be had (another run, with --no-wait), or --out cannot be
/// prepared: a write failure, exit 30.
fn out_failure(error: std::io::Error) -> Failure {
    Failure::new(ErrorKind::Write, anyhow::Error::new(error).context("--out"))
}

fn parse_namespace(text: &str) -> Result<keyward_api::NamespaceName, String> {
    keyward_api::NamespaceName::parse(text).map_err(|e| e.to_string())
}

pub(crate) fn parse_signal(text: &str) -> Result<nix::sys::signal::Signal, String> {
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse()
        .map_err(|_| format!("'{text}' is not a signal name such as HUP, USR1 or TERM"))
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    keyward_api::parse_go_duration(text)
}

/// One `--watch` event: a line of text per row, or one JSON object per line.
fn print_event(event: &Event<'_>, output: &Output) {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let json = output.format == OutputFormat::Json;
    match event {
        Event::Loaded(session) => {
            for warning in &session.warnings {
                eprintln!("keyward: warning: {warning}");
            }
            if json {
                let rows: Vec<_> = session.load_rows.iter().map(row_json).collect();
                println!(
                    "{}",
                    serde_json::json!({"time": now, "event": "loaded", "externalSecrets": session.external_secrets().len(), "problems": rows})
                );
            } else {
                println!(
                    "{now}  loaded {} ExternalSecrets",
                    session.external_secrets().len()
                );
                for row in &session.load_rows {
                    println!("{now}  {}", row_line(row));
                }
            }
        }
        Event::Round(outcomes, _) => {
            if json {
                let rows: Vec<_> = outcomes.iter().map(|o| row_json(&o.row)).collect();
                println!(
                    "{}",
                    serde_json::json!({"time": now, "event": "round", "results": rows})
                );
            } else {
                for outcome in outcomes.iter() {
                    println!("{now}  {}", row_line(&outcome.row));
                }
            }
        }
        Event::Hook(result) => {
            let (ok, message) = match result {
                Ok(message) => (true, message),
                Err(message) => (false, message),
            };
            if json {
                println!(
                    "{}",
                    serde_json::json!({"time": now, "event": "hook", "ok": ok, "message": message})
                );
            } else {
                println!("{now}  {}{message}", if ok { "" } else { "error: " });
            }
        }
        Event::Stopping(signal) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"time": now, "event": "stopping", "signal": signal})
                );
            } else {
                println!("{now}  {signal}: stopping");
            }
        }
    }
}

fn row_line(row: &run::Row) -> String {
    let (status, message) = status_text(&row.status);
    let target = if row.target.is_empty() {
        "-"
    } else {
        &row.target
    };
    let mut line = format!(
        "{} -> {target}  {} keys  {status}  age {}  {}",
        row.external_secret,
        row.keys,
        age_text(row.changed_at),
        row.fingerprint.as_deref().unwrap_or("-")
    );
    if let Some(message) = message {
        line.push_str(&format!("  ({message})"));
    }
    line
}

/// The store credentials in `--bundle`, opened with the password flags (then the
/// environment), as `keyward bundle` opens it.
fn open_bundle(
    path: &Path,
    password: &super::bundle::PasswordArgs,
) -> Result<keyward_bundle::env::EnvMap, Failure> {
    super::bundle::open_credentials(path, password)
}

fn print_report(report: &Report, output: &Output) -> Result<(), Failure> {
    let text = match output.format {
        OutputFormat::Json => json_report(report).to_string() + "\n",
        OutputFormat::Text => text_report(report),
    };
    for warning in &report.warnings {
        eprintln!("keyward: warning: {warning}");
    }
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to stdout")
        .map_err(|e| Failure::new(ErrorKind::Write, e))
}

fn status_text(status: &Status) -> (&'static str, Option<&str>) {
    match status {
        Status::Synced => ("synced", None),
        Status::Unchanged => ("unchanged", None),
        Status::Kept(reason) => ("kept", Some(reason.as_str())),
        Status::Deleted => ("deleted", None),
        Status::Failed(message) => ("failed", Some(message.as_str())),
    }
}

fn text_report(report: &Report) -> String {
    let headers = [
        "EXTERNALSECRET",
        "TARGET",
        "KEYS",
        "STATUS",
        "AGE",
        "FINGERPRINT",
    ];
    let rows: Vec<[String; 6]> = report
        .rows
        .iter()
        .map(|row| {
            [
                row.external_secret.clone(),
                if row.target.is_empty() {
                    "-".into()
                } else {
                    row.target.clone()
                },
                row.keys.to_string(),
                status_text(&row.status).0.to_owned(),
                age_text(row.changed_at),
                row.fingerprint.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut text = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if index + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        text.trim_end().to_owned() + "\n"
    };
    let mut out = line(&headers.map(str::to_owned));
    for row in &rows {
        out.push_str(&line(row));
    }
    for row in &report.rows {
        match &row.status {
            Status::Failed(message) => {
                out.push_str(&format!("error: {}: {message}\n", row.external_secret));
            }
            Status::Kept(reason) => {
                out.push_str(&format!("note: {}: {reason}\n", row.external_secret));
            }
            _ => {}
        }
    }
    let failed = report
        .rows
        .iter()
        .filter(|r| matches!(r.status, Status::Failed(_)))
        .count();
    out.push_str(&format!(
        "{} synced or current, {failed} failed\n",
        report.rows.len() - failed
    ));
    out
}

fn row_json(row: &run::Row) -> serde_json::Value {
    let (status, message) = status_text(&row.status);
    let changed_at = row.changed_at.and_then(|at| {
        time::OffsetDateTime::from(at)
            .format(&time::format_description::well_known::Rfc3339)
            .ok()
    });
    serde_json::json!({
        "externalSecret": row.external_secret,
        "target": row.target,
        "keys": row.keys,
        "status": status,
        "message": message,
        "changedAt": changed_at,
        "fingerprint": row.fingerprint,
        "sourceVersions": row.source_versions,
    })
}

/// How long ago the target changed, kubectl-style: `45s`, `12m`, `3h`, `9d`.
fn age_text(changed_at: Option<std::time::SystemTime>) -> String {
    let Some(elapsed) = changed_at.and_then(|at| at.elapsed().ok()) else {
        return "-".into();
    };
    let seconds = elapsed.as_secs();
    match seconds {
        0..=119 => format!("{seconds}s"),
        120..=7199 => format!("{}m", seconds / 60),
        7200..=172_799 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

fn json_report(report: &Report) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = report.rows.iter().map(row_json).collect();
    serde_json::json!({
        "results": rows,
        "warnings": report.warnings,
        "exitCode": report.exit.code(),
        "storeCalls": report.calls,
    })
}
