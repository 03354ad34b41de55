//! Keyed fingerprints (`kw1:` + HMAC-SHA256): how ignores and baselines name a secret without
//! publishing it or an unkeyed hash of it (design invariant 2).
//!
//! The key comes, first found wins, from `--key-file`, `KEYWARD_SCAN_KEY_FILE`,
//! `fingerprint_key_file` in `.keyward.toml` (which must exist: a scanned repository does not
//! get to create files), or a per-repository file `<git dir>/keyward/fingerprint.key` that
//! keyward creates (32 random bytes, mode 0600, published once even when runs race). A key
//! file others can read or write is refused. Share the key file with CI to share a baseline.
//! Outside a repository, without a configured key, the key is random per run.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use keyward_core::SecretValue;
use sha2::Sha256;

use crate::error::ScanError;
use crate::input::{self, InputError};

/// Version prefix of every fingerprint this module produces.
pub const PREFIX: &str = "kw1:";

/// Bytes of the HMAC kept in a fingerprint (160 bits).
const KEPT: usize = 20;

/// The HMAC key fingerprints are computed under.
#[derive(Clone, Debug)]
pub struct FingerprintKey {
    key: SecretValue,
}

impl FingerprintKey {
    /// A key from raw bytes (tests, or a caller with its own key source).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self {
            key: SecretValue::from(bytes),
        }
    }

    /// Reads the key file at `path`, creating it with 32 random bytes if it does not exist.
    ///
    /// Two first runs at once end with one key that both use: the new key is written whole
    /// to a temporary file and published by a hard link, which fails if a key is there
    /// already; every run then reads the key that was published first.
    pub fn load_or_create(path: &Path) -> Result<Self, ScanError> {
        match Self::load(path) {
            Err(ScanError::ReadKey(_, error)) if error.kind() == std::io::ErrorKind::NotFound => {}
            loaded => return loaded,
        }
        let bytes = random_bytes().map_err(|e| ScanError::CreateKey(path.to_path_buf(), e))?;
        publish_new(path, &bytes).map_err(|e| ScanError::CreateKey(path.to_path_buf(), e))?;
        Self::load(path)
    }

    /// Reads the key file at `path`, which must exist, be a regular file of 16 bytes to 64
    /// KiB, and be readable by its owner only (a key others can read lets them test guesses
    /// against every fingerprint).
    pub fn load(path: &Path) -> Result<Self, ScanError> {
        let refused = |reason: String| ScanError::KeyRefused(path.to_path_buf(), reason);
        let opened = match input::open_regular(path, true) {
            Ok(opened) => opened,
            Err(InputError::Io(error)) => {
                return Err(ScanError::ReadKey(path.to_path_buf(), error));
            }
            Err(error) => return Err(refused(error.to_string())),
        };
        let mode = opened.meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(refused(format!(
                "can be read or written by others (mode {mode:04o}); run chmod 600 on it"
            )));
        }
        let bytes = input::read_opened(opened, input::KEY_LIMIT).map_err(|e| match e {
            InputError::Io(error) => ScanError::ReadKey(path.to_path_buf(), error),
            other => refused(other.to_string()),
        })?;
        if bytes.len() < 16 {
            return Err(ScanError::KeyTooShort(path.to_path_buf()));
        }
        Ok(Self::from_bytes(&bytes))
    }

    /// A random key that lives only as long as this process.
    pub fn ephemeral() -> Result<Self, ScanError> {
        let bytes =
            random_bytes().map_err(|e| ScanError::CreateKey(PathBuf::from("/dev/urandom"), e))?;
        Ok(Self::from_bytes(&bytes))
    }

    /// The fingerprint of `value` found by `rule`.
    pub fn fingerprint(&self, rule: &str, value: &[u8]) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(self.key.expose_bytes()) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(rule.as_bytes());
        mac.update(&[0]);
        mac.update(value);
        let digest = mac.finalize().into_bytes();
        format!("{PREFIX}{}", hex::encode(&digest[..KEPT]))
    }
}

/// The per-repository key file for a git directory.
pub fn repo_key_path(git_dir: &Path) -> PathBuf {
    git_dir.join("keyward").join("fingerprint.key")
}

fn random_bytes() -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// Publishes `bytes` as the key at `path` unless a key is there already (then it is left as
/// it is): written whole to a temporary file (0600, in a 0700 directory when keyward creates
/// the directory), then hard-linked into place, which never replaces a file.
fn publish_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // Unique per process and call: concurrent runs, threads included, never share it.
    let temp = dir.join(format!(
        ".fingerprint.key.{}.{}",
        std::process::id(),
        hex::encode(&random_bytes()?[..8])
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::hard_link(&temp, path));
    let _ = std::fs::remove_file(&temp);
    match written {
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
        // The new name must survive a crash like the content did.
        Ok(()) => std::fs::File::open(dir).and_then(|d| d.sync_all()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_keyed_versioned_and_rule_bound() {
        let a = FingerprintKey::from_bytes(b"key-one-0123456789");
        let b = FingerprintKey::from_bytes(b"key-two-0123456789");
        let fp = a.fingerprint("github-pat", b"value");
        assert!(fp.starts_with(PREFIX));
        assert_eq!(fp.len(), PREFIX.len() + 2 * KEPT);
        assert_eq!(fp, a.fingerprint("github-pat", b"value"));
        assert_ne!(fp, b.fingerprint("github-pat", b"value"));
        assert_ne!(fp, a.fingerprint("jwt", b"value"));
    }

    #[test]
    fn a_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keyward").join("fingerprint.key");
        let first = FingerprintKey::load_or_create(&path).expect("create");
        let second = FingerprintKey::load_or_create(&path).expect("reuse");
        assert_eq!(first.fingerprint("r", b"v"), second.fingerprint("r", b"v"));
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
