//! Kubernetes names as types: a name from a manifest that keyward turns into a path, a URL or
//! a label is parsed once, when the manifest is loaded, and travels as one of these.
//!
//! - [`ResourceName`]: a DNS-1123 subdomain, what Kubernetes requires of Secret, ConfigMap,
//!   ExternalSecret and store names (`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`,
//!   at most 253 characters; ESO's CRDs carry the same pattern on `spec.target.name`).
//! - [`NamespaceName`]: a DNS-1123 label (`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, at most 63).
//! - [`check_secret_key`]: a key of a Secret's `data` (`^[-._a-zA-Z0-9]+$`, at most 253,
//!   neither `.` nor `..` nor starting with `..`), as the apiserver checks it.
//!
//! None of these can hold `/`, start with `.` or be empty, so joining one onto a directory
//! never leaves that directory. Errors describe the rule and never echo the text: a field that
//! should hold a name may hold anything.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Why a text is not a valid name; says which rule, never the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(&'static str);

const SUBDOMAIN_RULE: &str = "is not a valid Kubernetes name (DNS-1123 subdomain: at most 253 \
     lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)";
const LABEL_RULE: &str = "is not a valid namespace name (DNS-1123 label: at most 63 lower-case \
     letters, digits and '-', starting and ending with a letter or digit)";
const KEY_RULE: &str = "is not a valid Secret key (at most 253 letters, digits, '-', '_' and \
     '.'; not '.', '..' or starting with '..')";

/// The pattern of a DNS-1123 subdomain, as ESO's CRDs and the apiserver spell it.
pub const SUBDOMAIN_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// The pattern of a DNS-1123 label.
pub const LABEL_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// A DNS-1123 label: one part between dots.
fn is_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes.iter().all(|b| edge(b) || *b == b'-')
}

fn is_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(is_label)
}

/// Checks a Secret `data` key the way the apiserver does (`IsConfigMapKey`).
pub fn check_secret_key(key: &str) -> Result<(), NameError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let valid = !key.is_empty()
        && key.len() <= 253
        && key.chars().all(allowed)
        && key != "."
        && !key.starts_with("..");
    if valid {
        Ok(())
    } else {
        Err(NameError(KEY_RULE))
    }
}

/// A Kubernetes object name (DNS-1123 subdomain): Secrets, ConfigMaps, ExternalSecrets,
/// stores.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceName(String);

impl ResourceName {
    /// Parses a name; the error says what a name may hold.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        if is_subdomain(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(NameError(SUBDOMAIN_RULE))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A namespace name (DNS-1123 label).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NamespaceName(String);

impl NamespaceName {
    /// Parses a namespace name; the error says what one may hold.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        if is_label(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(NameError(LABEL_RULE))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_like {
    ($type:ident, $pattern:expr, $max:expr) => {
        impl TryFrom<String> for $type {
            type Error = NameError;
            fn try_from(text: String) -> Result<Self, NameError> {
                Self::parse(&text)
            }
        }

        impl From<$type> for String {
            fn from(name: $type) -> String {
                name.0
            }
        }

        impl AsRef<str> for $type {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<std::path::Path> for $type {
            fn as_ref(&self) -> &std::path::Path {
                std::path::Path::new(&self.0)
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl PartialEq<str> for $type {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl JsonSchema for $type {
            fn schema_name() -> Cow<'static, str> {
                stringify!($type).into()
            }

            // Inlined: CRD schemas are structural and allow no references.
            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "minLength": 1,
                    "maxLength": $max,
                    "pattern": $pattern,
                })
            }
        }
    };
}

string_like!(ResourceName, SUBDOMAIN_PATTERN, 253);
string_like!(NamespaceName, LABEL_PATTERN, 63);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_leave_a_directory_are_refused() {
        for hostile in [
            "",
            ".",
            "..",
            "../../../etc/cron.d",
            "/etc",
            "t/",
            "./t",
            "x/../t",
            "a\0b",
            "-a",
            "a-",
            "A",
            "a..b",
            ".a",
            "a.",
            &"a".repeat(254),
        ] {
            assert!(ResourceName::parse(hostile).is_err(), "{hostile:?}");
            assert!(NamespaceName::parse(hostile).is_err(), "{hostile:?}");
        }
        let longest = [63, 63, 63, 61].map(|n| "a".repeat(n)).join(".");
        assert_eq!(longest.len(), 253);
        assert!(ResourceName::parse(&format!("{longest}a")).is_err());
        for valid in ["t", "db-1", "a.b.c", "0", &longest] {
            assert!(ResourceName::parse(valid).is_ok(), "{valid:?}");
        }
        assert!(
            NamespaceName::parse("a.b").is_err(),
            "dots are not in a label"
        );
        assert!(NamespaceName::parse(&"a".repeat(64)).is_err());
        assert!(NamespaceName::parse("apps-1").is_ok());
    }

    #[test]
    fn secret_keys_follow_the_apiserver() {
        for valid in [
            "password",
            "tls.crt",
            ".dockerconfigjson",
            "A_B-c.d",
            "x..y",
        ] {
            assert!(check_secret_key(valid).is_ok(), "{valid:?}");
        }
        for invalid in ["", ".", "..", "..data", "a/b", "a b", "é", &"k".repeat(254)] {
            assert!(check_secret_key(invalid).is_err(), "{invalid:?}");
        }
    }

    #[test]
    fn deserialising_checks_and_errors_do_not_echo_the_text() {
        let error = serde_json::from_str::<ResourceName>(r#""../canary-value""#)
            .expect_err("refused")
            .to_string();
        assert!(error.contains("DNS-1123 subdomain"), "{error}");
        assert!(!error.contains("canary"), "{error}");
        let name: ResourceName = serde_json::from_str(r#""db.creds""#).expect("valid");
        assert_eq!(name.as_str(), "db.creds");
    }
}
