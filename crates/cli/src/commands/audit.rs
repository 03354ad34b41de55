//! `keyward audit`: the public key that verifies keyward's audit log, and the verification;
//! also the writer `keyward sync --audit-log` uses (keyward-evidence's `audit` does the work).

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use keyward_core::{ErrorKind, ExitCode};
use keyward_evidence::audit::{self, Record};

use crate::failure::Failure;
use crate::output::{Output, OutputFormat};

/// `keyward audit --help`, examples.
pub const AFTER_LONG_HELP: &str = "\
The audit log is append-only JSON lines: each entry holds the SHA-256 of the one before it,
and signed checkpoints (ed25519) close every batch of writes and every 100 entries. Entries
name what changed (target, key count, keyed fingerprint), never a value.

Examples:
  keyward sync -f deploy/ --out /run/secrets --audit-log /var/log/keyward/audit.log
  keyward audit key > audit.pub                      # give this to the auditor
  keyward audit verify /var/log/keyward/audit.log --key \"$(cat audit.pub)\"
  keyward audit verify audit.log --key ed25519:... --anchor 253:sha256:...

Exit codes: 0 intact, 1 tampered (an edited, deleted, inserted or reordered entry, a torn
line, a missing anchor), 2 usage, 11 a malformed --key, 12 the log is missing.";

/// `keyward audit`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the public key that verifies this machine's audit log (created on first use).
    Key(KeyArgs),
    /// Verify an audit log: the hash chain, the checkpoint signatures, an anchor.
    Verify(VerifyArgs),
}

/// Where the signing key lives.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The state directory holding audit.key (default: the one `keyward sync` uses).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// What to verify, against which key.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The audit log.
    pub file: PathBuf,

    /// The public key, as `keyward audit key` printed it (ed25519:BASE64).
    #[arg(long, value_name = "PUBLIC_KEY")]
    pub key: String,

    /// A checkpoint kept elsewhere (SEQ:sha256:HEX, logged by the writer): the log must
    /// still hold it, which catches a truncation back to an earlier checkpoint.
    #[arg(long, value_name = "SEQ:HASH")]
    pub anchor: Option<String>,
}

/// Runs `keyward audit`.
pub fn run(command: &AuditCommand, output: &Output) -> Result<ExitCode, Failure> {
    match command {
        AuditCommand::Key(args) => {
            let key = signing_key(args.state_dir.as_deref())?;
            println!("{}", audit::public_key_text(&key.verifying_key()));
            Ok(ExitCode::Success)
        }
        AuditCommand::Verify(args) => verify(args, output),
    }
}

fn verify(args: &VerifyArgs, output: &Output) -> Result<ExitCode, Failure> {
    let key = audit::parse_public_key(&args.key)
        .map_err(|reason| Failure::new(ErrorKind::InvalidConfig, anyhow!("--key: {reason}")))?;
    let text = read_log(&args.file)?;
    let verified = audit::verify(&text, &key, args.anchor.as_deref());
    let path = args.file.display();
    match output.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({"file": path.to_string(), "intact": verified.problems.is_empty(), "verified": verified})
        ),
        OutputFormat::Text => {
            for problem in &verified.problems {
                println!("{path}: {problem}");
            }
            println!("{}", verified.summary(&path.to_string()));
        }
    }
    Ok(if verified.problems.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::Findings
    })
}

/// The log's bytes: a regular file only, at most 4 GiB.
fn read_log(path: &Path) -> Result<Vec<u8>, Failure> {
    const MAX: u64 = 4 << 30;
    let missing = |e: std::io::Error| {
        Failure::new(
            ErrorKind::MissingDependency,
            anyhow!("{}: {e}", path.display()),
        )
    };
    let meta = std::fs::metadata(path).map_err(missing)?;
    if !meta.is_file() {
        return Err(Failure::new(
            ErrorKind::InvalidConfig,
            anyhow!("{}: not a regular file; refused", path.display()),
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(missing)?
        .take(MAX)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(|e| Failure::new(ErrorKind::Write, e))?;
    Ok(bytes)
}

/// The signing key in `state_dir` (or the default state directory), created on first use.
pub fn signing_key(state_dir: Option<&Path>) -> Result<ed25519_dalek::SigningKey, Failure> {
    let dir = state_dir.map_or_else(crate::state::default_state_dir, Path::to_path_buf);
    audit::signing_key(&dir.join("audit.key"))
        .context("preparing the audit signing key")
        .map_err(|e| Failure::new(ErrorKind::Write, e))
}

/// Appends `records` to `log`, signed with the key in `state_dir` (or the default state
/// directory), and logs the closing checkpoint's anchor at info level.
pub fn append_records(
    log: &Path,
    state_dir: Option<&Path>,
    records: &[Record],
) -> Result<(), Failure> {
    let key = signing_key(state_dir)?;
    append_signed(log, &key, records)
}

/// Appends `records` to `log` with `key`, logging the closing checkpoint's anchor.
pub fn append_signed(
    log: &Path,
    key: &ed25519_dalek::SigningKey,
    records: &[Record],
) -> Result<(), Failure> {
    let appended = audit::append(log, key, records, &host(), &actor())
        .context("writing the audit log")
        .map_err(|e| Failure::new(ErrorKind::Write, e))?;
    tracing::info!(
        log = %log.display(),
        entries = appended.written,
        anchor = %appended.anchor,
        "audit checkpoint"
    );
    Ok(())
}

/// Appends what a sync changed to the audit log: one entry per target written, deleted or
/// failed (target, key count, fingerprint or reason; never a value), then a checkpoint whose
/// anchor is logged at info level for a log shipper to keep.
pub struct SyncAudit {
    /// The log.
    pub path: PathBuf,
    /// The signing key.
    pub key: ed25519_dalek::SigningKey,
}

impl SyncAudit {
    /// Records the store `reads` of a round, then its `rows`; nothing when there was no read
    /// and nothing changed.
    pub fn record<'a>(
        &self,
        reads: &[keyward_sync::run::StoreRead],
        rows: impl Iterator<Item = &'a keyward_sync::run::Row>,
    ) -> Result<(), Failure> {
        let records: Vec<Record> = reads
            .iter()
            .map(read_record)
            .chain(rows.filter_map(record_of))
            .collect();
        if records.is_empty() {
            return Ok(());
        }
        append_signed(&self.path, &self.key, &records)
    }
}

/// A store read: the store, the call, the key and version, whether it worked; never a value.
pub fn read_record(read: &keyward_sync::run::StoreRead) -> Record {
    let mut detail = serde_json::Map::new();
    detail.insert("call".into(), read.call.into());
    detail.insert("key".into(), read.key.clone().into());
    if let Some(version) = &read.version {
        detail.insert("version".into(), version.clone().into());
    }
    detail.insert("ok".into(), read.ok.into());
    Record {
        event: "store.read".into(),
        subject: read.store.clone(),
        detail,
    }
}

fn record_of(row: &keyward_sync::run::Row) -> Option<Record> {
    use keyward_sync::run::Status;
    let mut detail = serde_json::Map::new();
    detail.insert("target".into(), row.target.clone().into());
    let event = match &row.status {
        Status::Synced => {
            detail.insert("keys".into(), row.keys.into());
            if let Some(fingerprint) = &row.fingerprint {
                detail.insert("fingerprint".into(), fingerprint.clone().into());
            }
            if !row.source_versions.is_empty()
                && let Ok(sources) = serde_json::to_value(&row.source_versions)
            {
                detail.insert("sourceVersions".into(), sources);
            }
            "projection.written"
        }
        Status::Deleted => "projection.deleted",
        Status::Failed(reason) => {
            detail.insert("reason".into(), reason.clone().into());
            "projection.failed"
        }
        Status::Unchanged | Status::Kept(_) => return None,
    };
    Some(Record {
        event: event.into(),
        subject: row.external_secret.clone(),
        detail,
    })
}

fn host() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_default()
}

fn actor() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid {}", nix::unistd::getuid()))
}
