//! The audit log: append-only JSON lines, each holding the SHA-256 of the line before it, with
//! ed25519-signed checkpoints. What happened to which secret (a projection written, a value
//! rotated), by whom and when; never a value.
//!
//! - Every [`append`] ends with a checkpoint, and one is written after every
//!   [`CHECKPOINT_EVERY`] entries within a batch: a checkpoint signs the hash of the entry
//!   before it, so everything up to it is signed through the chain.
//! - [`verify`] finds any edited, deleted, inserted or reordered entry (the chain or a
//!   signature breaks), a torn last line, and says how many entries after the last checkpoint
//!   are unsigned (an attacker could rewrite those). Truncation back to a checkpoint leaves a
//!   valid log; an *anchor* (`SEQ:HASH` of a checkpoint, logged by the writer where a log
//!   shipper keeps it) proves the log still reaches that far.
//! - Two writers at once are serialised by an exclusive lock on the log file; the signing key
//!   is 32 random bytes in a file only its owner may read, created once (a hard link publishes
//!   it, so racing first runs share one key).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A checkpoint after this many entries within one batch (and always at the end of one).
pub const CHECKPOINT_EVERY: u64 = 100;

/// The `prev` of the first entry.
const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The longest line the writer reads back to find where the log ends.
const MAX_LINE: u64 = 1 << 20;

/// One line of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// 1 for the first line, then one more per line.
    pub seq: u64,
    /// RFC 3339, UTC.
    pub time: String,
    /// The machine (host name).
    pub host: String,
    /// Who: the user keyward ran as.
    pub actor: String,
    /// What: `projection.created`, `projection.updated`, `projection.deleted`, `checkpoint`, …
    pub event: String,
    /// Which object: `namespace/name` of an ExternalSecret, a bundle path.
    pub subject: String,
    /// Names, fingerprints, versions; never a value.
    pub detail: serde_json::Map<String, serde_json::Value>,
    /// `sha256:HEX` of the line before (of its bytes, without the newline).
    pub prev: String,
    /// A checkpoint's `ed25519:BASE64` signature over this line without `sig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

/// What an entry says, before the log numbers, chains and stamps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// See [`Entry::event`].
    pub event: String,
    /// See [`Entry::subject`].
    pub subject: String,
    /// See [`Entry::detail`].
    pub detail: serde_json::Map<String, serde_json::Value>,
}

/// Where a batch ended: the last checkpoint, as an anchor (`SEQ:HASH`) to keep elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Entries written, checkpoints included.
    pub written: u64,
    /// `SEQ:sha256:HEX` of the closing checkpoint.
    pub anchor: String,
}

/// Why the log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not something keyward may use.
    #[error("{path}: {reason}")]
    Refused {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn refused(path: &Path, reason: impl Into<String>) -> AuditError {
    AuditError::Refused {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// `sha256:HEX` of a line's bytes.
pub fn line_hash(line: &[u8]) -> String {
    let digest = Sha256::digest(line);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The public key as `ed25519:BASE64`, as `keyward audit key` prints it.
pub fn public_key_text(key: &VerifyingKey) -> String {
    format!(
        "ed25519:{}",
        base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
    )
}

/// Reads `ed25519:BASE64`.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let encoded = text
        .trim()
        .strip_prefix("ed25519:")
        .ok_or("a public key looks like ed25519:BASE64 (keyward audit key prints it)")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "the public key is not base64")?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "an ed25519 public key is 32 bytes")?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not an ed25519 public key".to_owned())
}

/// The signing key in `path`, created (32 random bytes, 0600, its directory 0700) on first
/// use. A key file that group or others may read, or that is not a regular file, is refused.
pub fn signing_key(path: &Path) -> Result<SigningKey, AuditError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => read_key(path, &meta),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => create_key(path),
        Err(error) => Err(io(path)(error)),
    }
}

fn read_key(path: &Path, meta: &std::fs::Metadata) -> Result<SigningKey, AuditError> {
    if !meta.is_file() {
        return Err(refused(path, "not a regular file; refused"));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refused(
            path,
            "the audit signing key is readable by others; refused (chmod 600)",
        ));
    }
    let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(io(path))?);
    let seed: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| refused(path, "an audit signing key is 32 bytes"))?;
    Ok(SigningKey::from_bytes(&seed))
}

fn create_key(path: &Path) -> Result<SigningKey, AuditError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| refused(path, format!("no randomness: {e}")))?;
    let candidate = tempfile::Builder::new()
        .prefix(".audit-key-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(io(dir))?;
    candidate
        .as_file()
        .write_all(seed.as_ref())
        .and_then(|()| candidate.as_file().sync_all())
        .map_err(io(candidate.path()))?;
    // A hard link fails when another first run published its key meanwhile: use that one.
    match std::fs::hard_link(candidate.path(), path) {
        Ok(()) => Ok(SigningKey::from_bytes(&seed)),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let meta = std::fs::symlink_metadata(path).map_err(io(path))?;
            read_key(path, &meta)
        }
        Err(error) => Err(io(path)(error)),
    }
}

/// Appends `records` to the log at `path` (created 0600), then a checkpoint signed with
/// `key`; another every [`CHECKPOINT_EVERY`] entries. Holds an exclusive lock on the log
/// meanwhile. A log that ends in a torn line is refused, so a break is never built upon.
pub fn append(
    path: &Path,
    key: &SigningKey,
    records: &[Record],
    host: &str,
    actor: &str,
) -> Result<Appended, AuditError> {
    let mut file = open_log(path)?;
    let _lock = nix::fcntl::Flock::lock(
        file.try_clone().map_err(io(path))?,
        nix::fcntl::FlockArg::LockExclusive,
    )
    .map_err(|(_, errno)| io(path)(std::io::Error::from(errno)))?;
    let (mut seq, mut prev) = last_entry(&mut file, path)?;
    let mut out = Vec::new();
    let mut unsigned = 0;
    let mut anchor = String::new();
    let write_line = |entry: &Entry, out: &mut Vec<u8>, prev: &mut String| {
        let line = serde_json::to_vec(entry).unwrap_or_default();
        *prev = line_hash(&line);
        out.extend_from_slice(&line);
        out.push(b'\n');
    };
    for record in records {
        seq += 1;
        let entry = stamp(seq, record, host, actor, &prev);
        write_line(&entry, &mut out, &mut prev);
        unsigned += 1;
        if unsigned == CHECKPOINT_EVERY {
            seq += 1;
            write_line(
                &checkpoint(seq, key, host, actor, &prev),
                &mut out,
                &mut prev,
            );
            unsigned = 0;
        }
    }
    if unsigned > 0 || records.is_empty() {
        seq += 1;
        write_line(
            &checkpoint(seq, key, host, actor, &prev),
            &mut out,
            &mut prev,
        );
    }
    anchor.push_str(&format!("{seq}:{prev}"));
    file.write_all(&out)
        .and_then(|()| file.sync_data())
        .map_err(io(path))?;
    Ok(Appended {
        written: out.iter().filter(|b| **b == b'\n').count() as u64,
        anchor,
    })
}

fn open_log(path: &Path) -> Result<File, AuditError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(code) if code == nix::errno::Errno::ELOOP as i32 => {
                refused(path, "a symbolic link; refused")
            }
            _ => io(path)(e),
        })?;
    let meta = file.metadata().map_err(io(path))?;
    if !meta.is_file() {
        return Err(refused(path, "not a regular file; refused"));
    }
    Ok(file)
}

/// The number and hash of the log's last line; `(0, GENESIS)` for an empty log.
fn last_entry(file: &mut File, path: &Path) -> Result<(u64, String), AuditError> {
    let len = file.metadata().map_err(io(path))?.len();
    if len == 0 {
        return Ok((0, GENESIS.to_owned()));
    }
    let start = len.saturating_sub(MAX_LINE);
    file.seek(SeekFrom::Start(start)).map_err(io(path))?;
    let mut tail = Vec::new();
    file.take(MAX_LINE)
        .read_to_end(&mut tail)
        .map_err(io(path))?;
    if tail.last() != Some(&b'\n') {
        return Err(refused(
            path,
            "the log ends in a torn line; refusing to append (keyward audit verify says more)",
        ));
    }
    let body = &tail[..tail.len() - 1];
    let line = match body.iter().rposition(|b| *b == b'\n') {
        Some(at) => &body[at + 1..],
        None if start == 0 => body,
        None => return Err(refused(path, "the last line is longer than 1 MiB; refused")),
    };
    let entry: Entry = serde_json::from_slice(line).map_err(|_| {
        refused(
            path,
            "the last line is not an audit entry; refusing to append",
        )
    })?;
    Ok((entry.seq, line_hash(line)))
}

fn stamp(seq: u64, record: &Record, host: &str, actor: &str, prev: &str) -> Entry {
    Entry {
        seq,
        time: now(),
        host: host.to_owned(),
        actor: actor.to_owned(),
        event: record.event.clone(),
        subject: record.subject.clone(),
        detail: record.detail.clone(),
        prev: prev.to_owned(),
        sig: None,
    }
}

fn checkpoint(seq: u64, key: &SigningKey, host: &str, actor: &str, prev: &str) -> Entry {
    let mut detail = serde_json::Map::new();
    detail.insert("key".into(), public_key_text(&key.verifying_key()).into());
    let record = Record {
        event: "checkpoint".into(),
        subject: String::new(),
        detail,
    };
    let mut entry = stamp(seq, &record, host, actor, prev);
    let unsigned = serde_json::to_vec(&entry).unwrap_or_default();
    let signature = key.sign(&unsigned);
    entry.sig = Some(format!(
        "ed25519:{}",
        base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
    ));
    entry
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What [`verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// Lines read (checkpoints included).
    pub entries: u64,
    /// Checkpoints whose signature verifies.
    pub checkpoints: u64,
    /// The number of the last good checkpoint, if any.
    pub last_checkpoint: Option<u64>,
    /// Entries after it (unsigned: whoever can write the file could rewrite them).
    pub unsigned: u64,
    /// What breaks the log, first first; empty when it is intact.
    pub problems: Vec<String>,
}

impl Verified {
    /// Whether nothing breaks the log.
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }

    /// `FILE: intact: N entries, C signed checkpoints (the last: entry L); U entries after it
    /// are unsigned` (`TAMPERED` when a problem was found).
    pub fn summary(&self, file: &str) -> String {
        let state = if self.intact() { "intact" } else { "TAMPERED" };
        let last = self
            .last_checkpoint
            .map_or_else(|| "none".to_owned(), |n| format!("entry {n}"));
        format!(
            "{file}: {state}: {} entries, {} signed checkpoints (the last: {last}); {} entries after it are unsigned",
            self.entries, self.checkpoints, self.unsigned
        )
    }
}

/// Checks the log in `text` against `key`, and that it still holds `anchor` (`SEQ:HASH`)
/// when one is given.
pub fn verify(text: &[u8], key: &VerifyingKey, anchor: Option<&str>) -> Verified {
    let mut verified = Verified::default();
    let mut lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    let torn = lines.pop().filter(|last| !last.is_empty());
    let mut prev = GENESIS.to_owned();
    let mut hashes = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        let number = index as u64 + 1;
        verified.entries = number;
        if let Err(problem) = check_line(line, number, &prev, key) {
            verified.problems.push(problem);
            break;
        }
        prev = line_hash(line);
        hashes.push(prev.clone());
        if line_is_checkpoint(line) {
            verified.checkpoints += 1;
            verified.last_checkpoint = Some(number);
        }
    }
    if torn.is_some() && verified.problems.is_empty() {
        verified.problems.push(format!(
            "line {}: torn (no newline at the end): the log was cut mid-write or truncated",
            lines.len() + 1
        ));
    }
    verified.unsigned = verified.entries - verified.last_checkpoint.unwrap_or(0);
    if let Some(anchor) = anchor
        && let Some(problem) = check_anchor(anchor, &hashes)
    {
        verified.problems.push(problem);
    }
    verified
}

fn line_is_checkpoint(line: &[u8]) -> bool {
    serde_json::from_slice::<Entry>(line).is_ok_and(|e| e.event == "checkpoint")
}

fn check_line(line: &[u8], number: u64, prev: &str, key: &VerifyingKey) -> Result<(), String> {
    let entry: Entry = serde_json::from_slice(line)
        .map_err(|_| format!("line {number}: not an audit entry (edited, or not an audit log)"))?;
    if entry.seq != number {
        return Err(format!(
            "line {number}: holds entry {}: entries were deleted, inserted or reordered",
            entry.seq
        ));
    }
    if entry.prev != prev {
        return Err(format!(
            "line {number}: does not follow the line before it: that line was edited, or entries were deleted, inserted or reordered"
        ));
    }
    if entry.event == "checkpoint" {
        let signature = entry
            .sig
            .as_deref()
            .and_then(|s| s.strip_prefix("ed25519:"))
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or(format!(
                "line {number}: a checkpoint without a readable signature"
            ))?;
        let unsigned = Entry { sig: None, ..entry };
        let bytes = serde_json::to_vec(&unsigned).unwrap_or_default();
        key.verify(&bytes, &signature).map_err(|_| {
            format!("line {number}: the checkpoint's signature does not verify with this key (edited, or signed by another key)")
        })?;
    } else if entry.sig.is_some() {
        return Err(format!(
            "line {number}: a signature on an entry that is not a checkpoint"
        ));
    }
    Ok(())
}

fn check_anchor(anchor: &str, hashes: &[String]) -> Option<String> {
    let Some((seq, hash)) = anchor.split_once(':') else {
        return Some(format!("anchor {anchor:?}: expected SEQ:sha256:HEX"));
    };
    let Ok(seq) = seq.parse::<u64>() else {
        return Some(format!("anchor {anchor:?}: expected SEQ:sha256:HEX"));
    };
    match usize::try_from(seq)
        .ok()
        .and_then(|s| s.checked_sub(1))
        .and_then(|i| hashes.get(i))
    {
        None => Some(format!(
            "the log ends before the anchor's entry {seq}: it was truncated"
        )),
        Some(found) if found != hash => Some(format!(
            "entry {seq} differs from the anchor: the log was rewritten"
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(subject: &str) -> Record {
        let mut detail = serde_json::Map::new();
        detail.insert("fingerprint".into(), "kw1:abc".into());
        Record {
            event: "projection.updated".into(),
            subject: subject.into(),
            detail,
        }
    }

    fn log_with(entries: usize) -> (tempfile::TempDir, SigningKey, std::path::PathBuf, String) {
        let dir = tempfile::tempdir().expect("dir");
        let key = signing_key(&dir.path().join("state/audit.key")).expect("key");
        let path = dir.path().join("audit.log");
        let records: Vec<Record> = (0..entries)
            .map(|i| record(&format!("apps/es-{i}")))
            .collect();
        let appended = append(&path, &key, &records, "host", "ci").expect("append");
        (dir, key, path, appended.anchor)
    }

    #[test]
    fn an_intact_log_verifies_and_counts_checkpoints() {
        let (_dir, key, path, anchor) = log_with(250);
        let text = std::fs::read(&path).expect("read");
        let verified = verify(&text, &key.verifying_key(), Some(&anchor));
        assert_eq!(verified.problems, Vec::<String>::new());
        // 250 entries, a checkpoint after each hundred and one at the end.
        assert_eq!((verified.entries, verified.checkpoints), (253, 3));
        assert_eq!(
            (verified.last_checkpoint, verified.unsigned),
            (Some(253), 0)
        );
        let again = append(&path, &key, &[record("apps/later")], "host", "ci").expect("append");
        assert_eq!(again.written, 2);
        let text = std::fs::read(&path).expect("read");
        assert!(
            verify(&text, &key.verifying_key(), Some(&anchor))
                .problems
                .is_empty()
        );
    }

    #[test]
    fn every_kind_of_tampering_is_found() {
        let (_dir, key, path, anchor) = log_with(5);
        let text = String::from_utf8(std::fs::read(&path).expect("read")).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        let public = key.verifying_key();
        let problem = |text: String, anchor: Option<&str>| {
            verify(text.as_bytes(), &public, anchor)
                .problems
                .first()
                .cloned()
                .unwrap_or_default()
        };
        let join = |lines: &[&str]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();

        let edited = text.replacen("apps/es-1", "apps/es-X", 1);
        assert!(
            problem(edited, None).starts_with("line 3: does not follow"),
            "edited"
        );
        let deleted = join(&[lines[0], lines[2], lines[3], lines[4], lines[5]]);
        assert!(
            problem(deleted, None).starts_with("line 2: holds entry 3"),
            "deleted"
        );
        let reordered = join(&[lines[1], lines[0], lines[2], lines[3], lines[4], lines[5]]);
        assert!(
            problem(reordered, None).starts_with("line 1: holds entry 2"),
            "reordered"
        );
        let inserted = join(&[
            lines[0], lines[0], lines[1], lines[2], lines[3], lines[4], lines[5],
        ]);
        assert!(
            problem(inserted, None).starts_with("line 2: holds entry 1"),
            "inserted"
        );
        // Whoever rewrites an entry and recomputes every hash after it still cannot sign.
        let mut prev = GENESIS.to_owned();
        let mut forged = String::new();
        for line in &lines {
            let mut entry: Entry = serde_json::from_str(line).expect("entry");
            if entry.seq == 2 {
                entry.actor = "someone-else".into();
            }
            entry.prev = prev.clone();
            let line = serde_json::to_string(&entry).expect("line");
            prev = line_hash(line.as_bytes());
            forged.push_str(&line);
            forged.push('\n');
        }
        assert!(
            problem(forged, None).starts_with("line 6: the checkpoint's signature does not verify")
        );
        let torn = text[..text.len() - 10].to_owned();
        assert!(problem(torn, None).contains("torn"), "torn");
        let truncated = join(&lines[..3]);
        let found = verify(truncated.as_bytes(), &public, Some(&anchor));
        assert_eq!((found.last_checkpoint, found.unsigned), (None, 3));
        assert!(
            found.problems[0].contains("truncated"),
            "{:?}",
            found.problems
        );
        let other = SigningKey::from_bytes(&[7; 32]).verifying_key();
        assert!(verify(text.as_bytes(), &other, None).problems[0].contains("does not verify"));
    }

    #[test]
    fn concurrent_writers_keep_one_chain() {
        let (_dir, key, path, _) = log_with(1);
        std::thread::scope(|scope| {
            for writer in 0..8 {
                let (key, path) = (&key, &path);
                scope.spawn(move || {
                    for round in 0..5 {
                        let records = [record(&format!("w{writer}/r{round}"))];
                        append(path, key, &records, "h", "a").expect("append");
                    }
                });
            }
        });
        let text = std::fs::read(&path).expect("read");
        let verified = verify(&text, &key.verifying_key(), None);
        assert_eq!(verified.problems, Vec::<String>::new());
        // The first batch (an entry and its checkpoint), then 40 more of the same.
        assert_eq!((verified.entries, verified.checkpoints), (82, 41));
    }

    #[test]
    fn a_torn_log_is_not_appended_to_and_keys_stay_private() {
        let (dir, key, path, _) = log_with(2);
        let mut text = std::fs::read(&path).expect("read");
        text.truncate(text.len() - 3);
        std::fs::write(&path, &text).expect("tear");
        let error = append(&path, &key, &[record("x")], "h", "a").expect_err("torn");
        assert!(error.to_string().contains("torn line"), "{error}");
        assert_eq!(std::fs::read(&path).expect("read"), text, "left as it was");

        let key_path = dir.path().join("state/audit.key");
        let mode = std::fs::metadata(&key_path).expect("key").mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = signing_key(&key_path).expect_err("readable by others");
        assert!(error.to_string().contains("readable by others"), "{error}");
        let again = tempfile::tempdir().expect("dir");
        let first = signing_key(&again.path().join("k")).expect("created");
        let second = signing_key(&again.path().join("k")).expect("read back");
        assert_eq!(first.to_bytes(), second.to_bytes());
    }
}
