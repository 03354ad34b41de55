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

/// The annotation on a Secret the operator writes that holds its [`Fingerprints`] (an
/// annotation, never a label: labels are indexed and selectable, and have no room for it).
pub const FINGERPRINTS_ANNOTATION: &str = "keyward.io/fingerprints";

/// The annotation on a Secret the operator writes that names the store version of each value
/// it was made from: a JSON object of store id to key to version id.
pub const SOURCE_VERSIONS_ANNOTATION: &str = "keyward.io/source-versions";

/// The fingerprints of one projection: of the whole target and of each key.
///
/// Written as `*=kw1:…,KEY=kw1:…,…` (keys in order). Secret keys are made of letters,
/// digits, `-`, `_` and `.`, so `*`, `=` and `,` cannot be part of one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprints {
    /// The fingerprint of the whole map ([`FingerprintKey::map`]).
    pub target: String,
    /// Each key's fingerprint ([`FingerprintKey::value`]).
    pub keys: BTreeMap<String, String>,
}

impl Fingerprints {
    /// The fingerprints of `values` under `key`.
    pub fn of(key: &FingerprintKey, values: &BTreeMap<String, SecretValue>) -> Self {
        Self {
            target: key.map(values),
            keys: values
                .iter()
                .map(|(name, value)| (name.clone(), key.value(value)))
                .collect(),
        }
    }

    /// The annotation text.
    pub fn encode(&self) -> String {
        let mut out = format!("*={}", self.target);
        for (name, print) in &self.keys {
            out.push(',');
            out.push_str(name);
            out.push('=');
            out.push_str(print);
        }
        out
    }

    /// Reads an annotation's text; `None` when it is not in this format.
    pub fn decode(text: &str) -> Option<Self> {
        let mut entries = text.split(',');
        let target = entries.next()?.strip_prefix("*=")?;
        let valid = |print: &str| print.starts_with(FINGERPRINT_PREFIX) && print.len() == 36;
        if !valid(target) {
            return None;
        }
        let mut keys = BTreeMap::new();
        for entry in entries {
            let (name, print) = entry.split_once('=')?;
            if name.is_empty() || name == "*" || !valid(print) {
                return None;
            }
            keys.insert(name.to_owned(), print.to_owned());
        }
        Some(Self {
            target: target.to_owned(),
            keys,
        })
    }
}

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
    fn annotations_round_trip_and_refuse_other_text() {
        let values = BTreeMap::from([
            ("password".to_owned(), SecretValue::from("hunter2")),
            ("user".to_owned(), SecretValue::from("app")),
        ]);
        let prints = Fingerprints::of(&key(3), &values);
        let text = prints.encode();
        assert!(
            text.starts_with("*=kw1:") && text.contains(",password=kw1:"),
            "{text}"
        );
        assert_eq!(Fingerprints::decode(&text), Some(prints));
        assert_eq!(
            Fingerprints::decode(&Fingerprints::of(&key(3), &BTreeMap::new()).encode())
                .map(|p| p.keys.len()),
            Some(0)
        );
        for bad in [
            "",
            "kw1:00",
            "*=md5:1",
            "*=kw1:0,a=b",
            "*=kw1:0123456789abcdef0123456789abcdef,=x",
        ] {
            assert_eq!(Fingerprints::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn map_encoding_is_unambiguous() {
        let a = BTreeMap::from([("ab".to_owned(), SecretValue::from("c"))]);
        let b = BTreeMap::from([("a".to_owned(), SecretValue::from("bc"))]);
        assert_ne!(key(1).map(&a), key(1).map(&b));
        assert!(!format!("{:?}", key(1)).contains('\u{1}'));
    }
}
