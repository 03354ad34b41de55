//! [`SecretValue`]: secret bytes that zeroize on drop and never print themselves.

use std::fmt;
use std::str::Utf8Error;

use zeroize::Zeroizing;

/// What every `Debug` and `Display` of a secret prints instead of the value.
pub const REDACTED: &str = "[redacted]";

/// A secret value: a password, a token, a key, the data of a Kubernetes `Secret` key.
///
/// The bytes are overwritten with zeros when the value is dropped (also when it is cloned and
/// the clone is dropped). `Debug` and `Display` print [`REDACTED`]. There is deliberately no
/// `Serialize`, `Deref` or `AsRef`: code that needs the bytes calls [`expose_bytes`] or
/// [`expose_str`] by name, which keeps every reveal path visible in review.
///
/// Equality compares in constant time, so comparing a guess with a value does not leak how
/// many leading bytes matched.
///
/// [`expose_bytes`]: SecretValue::expose_bytes
/// [`expose_str`]: SecretValue::expose_str
#[derive(Clone, Default)]
pub struct SecretValue {
    bytes: Zeroizing<Vec<u8>>,
}

impl SecretValue {
    /// Takes ownership of `bytes`; they are zeroized when the value is dropped.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            bytes: Zeroizing::new(bytes),
        }
    }

    /// The raw bytes. Every caller is a place where a value leaves its wrapper: keep the
    /// borrow short and never log or format it.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The value as UTF-8 text, or the UTF-8 error (which carries positions, not content).
    pub fn expose_str(&self) -> Result<&str, Utf8Error> {
        std::str::from_utf8(&self.bytes)
    }

    /// Length in bytes. Lengths are not secret in keyward's threat model (they show in
    /// redacted previews), values are.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the value holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl From<Vec<u8>> for SecretValue {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl From<String> for SecretValue {
    fn from(text: String) -> Self {
        Self::new(text.into_bytes())
    }
}

impl From<&str> for SecretValue {
    fn from(text: &str) -> Self {
        Self::new(text.as_bytes().to_vec())
    }
}

impl From<&[u8]> for SecretValue {
    fn from(bytes: &[u8]) -> Self {
        Self::new(bytes.to_vec())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl PartialEq for SecretValue {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.bytes, &other.bytes)
    }
}

impl Eq for SecretValue {}

/// Compares two byte strings without an early exit on the first difference. Lengths are
/// compared first (they are not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold back into an early-exit loop.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "canary-7f3a9c-do-not-print";

    #[test]
    fn debug_and_display_never_show_the_value() {
        let value = SecretValue::from(CANARY);
        let printed = format!("{value} {value:?} {value:#?} {:?}", vec![value.clone()]);
        assert!(!printed.contains(CANARY), "leaked: {printed}");
        assert_eq!(printed.matches(REDACTED).count(), 4);
    }

    #[test]
    fn containers_of_values_stay_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)] // only its Debug output is under test
        struct Credentials {
            user: &'static str,
            password: SecretValue,
        }
        let creds = Credentials {
            user: "admin",
            password: SecretValue::from(CANARY),
        };
        let printed = format!("{creds:?}");
        assert!(printed.contains("admin"));
        assert!(!printed.contains(CANARY), "leaked: {printed}");
    }

    #[test]
    fn expose_returns_the_exact_bytes() {
        let value = SecretValue::new(vec![0, 159, 146, 150]);
        assert_eq!(value.expose_bytes(), &[0, 159, 146, 150]);
        assert!(value.expose_str().is_err());
        assert_eq!(SecretValue::from("é").expose_str(), Ok("é"));
        assert_eq!(value.len(), 4);
        assert!(SecretValue::default().is_empty());
    }

    #[test]
    fn equality_compares_content() {
        assert_eq!(SecretValue::from("abc"), SecretValue::from("abc"));
        assert_ne!(SecretValue::from("abc"), SecretValue::from("abd"));
        assert_ne!(SecretValue::from("abc"), SecretValue::from("abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
