//! Keyed fingerprints (`kw1:` + HMAC-SHA256): how ignores and baselines name a secret without
//! publishing it or an unkeyed hash of it (design invariant 2).
//!
//! The key comes, first found wins, from `KEYWARD_SCAN_KEY_FILE`, `fingerprint_key_file` in
//! `.keyward.toml`, or a per-repository file `<git dir>/keyward/fingerprint.key` that keyward
//! creates (32 random bytes, mode 0600). Share the key file with CI to share a baseline.
//! Outside a repository, without a configured key, the key is random per run.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use keyward_core::SecretValue;
use sha2::Sha256;

use crate::error::ScanError;

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
    pub fn load_or_create(path: &Path) -> Result<Self, ScanError> {
        match std::fs::read(path) {
            Ok(bytes) if bytes.len() >= 16 => return Ok(Self::from_bytes(&bytes)),
            Ok(_) => return Err(ScanError::KeyTooShort(path.to_path_buf())),
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(ScanError::ReadKey(path.to_path_buf(), error));
            }
            Err(_) => {}
        }
        let bytes = random_bytes().map_err(|e| ScanError::CreateKey(path.to_path_buf(), e))?;
        write_private(path, &bytes).map_err(|e| ScanError::CreateKey(path.to_path_buf(), e))?;
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

/// Writes `bytes` atomically to `path` with owner-only permissions.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".fingerprint.key.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temp, path)
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
