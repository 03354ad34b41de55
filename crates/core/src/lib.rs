//! keyward's shared vocabulary, used by every other crate of the workspace.
//!
//! This crate owns three things and nothing else:
//!
//! - [`SecretValue`], the only type that holds a secret value. It zeroizes its memory on drop,
//!   prints as `[redacted]` through `Debug` and `Display`, and is not `Serialize`: the bytes come
//!   out only through the explicitly named [`SecretValue::expose_bytes`] and
//!   [`SecretValue::expose_str`], so a reviewer can grep for every place a value leaves.
//! - [`ErrorKind`], the classes of failure keyward distinguishes, and the [`Classify`] trait
//!   that every crate's error types implement so the binary can map any error to an exit code.
//! - [`ExitCode`], the exit-code table of the design document, in one place.
//! - [`FingerprintKey`], keyed fingerprints (HMAC-SHA256, `kw1:` prefix) that show equality
//!   of values without publishing a hash anyone could test guesses against.
//!
//! It must not do I/O, talk to a store or depend on another keyward crate: everything depends
//! on it, so it stays small and dependency-free.
//!
//! ```
//! use keyward_core::{ErrorKind, ExitCode, SecretValue};
//!
//! let password = SecretValue::from("hunter2");
//! assert_eq!(format!("{password} {password:?}"), "[redacted] [redacted]");
//! assert_eq!(password.expose_str(), Ok("hunter2"));
//! assert_eq!(ErrorKind::Decryption.exit_code(), ExitCode::Decryption);
//! assert_eq!(ExitCode::Decryption.code(), 21);
//! ```

mod error;
mod exit;
mod fingerprint;
mod secret;

pub use error::{Classify, ErrorKind};
pub use exit::ExitCode;
pub use fingerprint::{
    FINGERPRINT_PREFIX, FINGERPRINTS_ANNOTATION, FingerprintKey, Fingerprints,
    SOURCE_VERSIONS_ANNOTATION,
};
pub use secret::{REDACTED, SecretValue};
