//! Keyed fingerprints: how keyward shows that two values (or two sets of values) are equal
//! without publishing anything a reader could test guesses against.
//!
//! A fingerprint is HMAC-SHA256 under a key that readers of the projection cannot read,
//! truncated to 128 bits and written with a version prefix: `kw1:` and 32 hex digits. An
//! unkeyed hash of a low-entropy value (a short password) would let anyone who sees it
//! confirm guesses offline; a keyed one does not.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::SecretValue;

/// The prefix of the current fingerprint format.
pub const FINGERPRINT_PREFIX: &str = "kw1:";

/// A fingerprint key: 32 random bytes kept where projections' readers cannot reach them.
#[derive(Clone)]
pub struct FingerprintKey(SecretValue);

impl FingerprintKey {
    /// A key from raw bytes (at least 16).
    pub fn new(bytes: SecretValue) -> Option<Self> {
        (bytes.len() >= 16).then_some(Self(bytes))
    }

    /// The fingerprint of one value.
    pub fn value(&self, value: &SecretValue) -> String {
        self.finish(|mac| {
            mac.update(b"value\0");
            mac.update(value.expose_bytes());
        })
    }

    /// The fingerprint of a whole map of values (a target): names and values, in name
    /// order, each length-prefixed so that no two different maps encode the same.
    pub fn map(&self, values: &BTreeMap<String, SecretValue>) -> String {
        self.finish(|mac| {
            mac.update(b"map\0");
            for (name, value) in values {
                mac.update(&(name.len() as u64).to_be_bytes());
                mac.update(name.as_bytes());
                mac.update(&(value.len() as u64).to_be_bytes());
                mac.update(value.expose_bytes());
            }
        })
    }

    fn finish(&self, feed: impl FnOnce(&mut Hmac<Sha256>)) -> String {
        // HMAC accepts keys of any length, so this cannot fail; fall back to an empty
        // fingerprint rather than panic if that ever changes.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.expose_bytes()) else {
            return String::new();
        };
        feed(&mut mac);
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(FINGERPRINT_PREFIX.len() + 32);
        out.push_str(FINGERPRINT_PREFIX);
        for byte in &digest[..16] {
            out.push_str(&format!("{byte:02x}"));
        }
        out
    }
}

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> FingerprintKey {
        FingerprintKey::new(SecretValue::new(vec![byte; 32])).expect("long enough")
    }

    #[test]
    fn fingerprints_are_keyed_versioned_and_stable() {
        let value = SecretValue::from("hunter2");
        let print = key(1).value(&value);
        assert!(print.starts_with("kw1:") && print.len() == 36, "{print}");
        assert_eq!(print, key(1).value(&value));
        assert_ne!(
            print,
            key(2).value(&value),
            "another key, another fingerprint"
        );
        assert_ne!(print, key(1).value(&SecretValue::from("hunter3")));
        assert!(FingerprintKey::new(SecretValue::from("short")).is_none());
    }

    #[test]
    fn map_encoding_is_unambiguous() {
        let a = BTreeMap::from([("ab".to_owned(), SecretValue::from("c"))]);
        let b = BTreeMap::from([("a".to_owned(), SecretValue::from("bc"))]);
        assert_ne!(key(1).map(&a), key(1).map(&b));
        assert!(!format!("{:?}", key(1)).contains('\u{1}'));
    }
}
