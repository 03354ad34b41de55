//! [`ErrorKind`] and [`Classify`]: how any keyward error maps to an exit code.
//!
//! Each crate keeps its own error enums, one per operation, with variants that name the step
//! that failed. What they share is a classification: every error type implements [`Classify`],
//! and the binary turns the [`ErrorKind`] into the process exit code. Messages are for people;
//! kinds are for scripts.

use std::fmt;

use crate::ExitCode;

/// The classes of failure keyward distinguishes, one per failing exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The command line is wrong: an unknown flag, a missing argument, conflicting options.
    Usage,
    /// keyward wrote a configuration template that the user must fill in before going on.
    ConfigTemplateWritten,
    /// A configuration file or manifest cannot be used: malformed YAML, an unknown field value,
    /// a reference to a store that does not exist.
    InvalidConfig,
    /// Something keyward needs is not there: a program, a peer, a file.
    MissingDependency,
    /// A store or cluster call failed: unreachable, refused, throttled, unauthorised.
    Store,
    /// Decrypting failed or a bundle is unusable: wrong password, tampered or truncated file.
    Decryption,
    /// Writing failed: a full disk, a permission, a rename across devices.
    Write,
    /// keyward broke one of its own invariants. Always a bug worth reporting.
    Internal,
    /// The user cancelled the operation.
    Cancelled,
}

impl ErrorKind {
    /// The process exit code for this kind, as the design document's table assigns it.
    pub const fn exit_code(self) -> ExitCode {
        match self {
            ErrorKind::Usage => ExitCode::Usage,
            ErrorKind::ConfigTemplateWritten => ExitCode::ConfigTemplateWritten,
            ErrorKind::InvalidConfig => ExitCode::InvalidConfig,
            ErrorKind::MissingDependency => ExitCode::MissingDependency,
            ErrorKind::Store => ExitCode::Store,
            ErrorKind::Decryption => ExitCode::Decryption,
            ErrorKind::Write | ErrorKind::Internal => ExitCode::Write,
            ErrorKind::Cancelled => ExitCode::Cancelled,
        }
    }

    /// A stable lowercase name, used in JSON error output.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::ConfigTemplateWritten => "config_template_written",
            ErrorKind::InvalidConfig => "invalid_config",
            ErrorKind::MissingDependency => "missing_dependency",
            ErrorKind::Store => "store",
            ErrorKind::Decryption => "decryption",
            ErrorKind::Write => "write",
            ErrorKind::Internal => "internal",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every keyward error type: which [`ErrorKind`] this failure is.
///
/// ```
/// use keyward_core::{Classify, ErrorKind};
///
/// #[derive(Debug)]
/// enum OpenBundleError { WrongPassword, Unreadable }
///
/// impl Classify for OpenBundleError {
///     fn kind(&self) -> ErrorKind {
///         match self {
///             OpenBundleError::WrongPassword => ErrorKind::Decryption,
///             OpenBundleError::Unreadable => ErrorKind::MissingDependency,
///         }
///     }
/// }
/// assert_eq!(OpenBundleError::WrongPassword.kind().exit_code().code(), 21);
/// ```
pub trait Classify {
    /// The kind of this failure.
    fn kind(&self) -> ErrorKind;
}

impl Classify for std::io::Error {
    /// An I/O error on its own is a write or read failure of the local machine; callers that
    /// know better (a missing input file is a missing dependency) wrap it in their own error.
    fn kind(&self) -> ErrorKind {
        match self.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::MissingDependency,
            std::io::ErrorKind::Interrupted => ErrorKind::Cancelled,
            _ => ErrorKind::Write,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_failing_exit_code() {
        let kinds = [
            ErrorKind::Usage,
            ErrorKind::ConfigTemplateWritten,
            ErrorKind::InvalidConfig,
            ErrorKind::MissingDependency,
            ErrorKind::Store,
            ErrorKind::Decryption,
            ErrorKind::Write,
            ErrorKind::Internal,
            ErrorKind::Cancelled,
        ];
        for kind in kinds {
            assert_ne!(kind.exit_code(), ExitCode::Success, "{kind}");
            assert_ne!(kind.exit_code(), ExitCode::Findings, "{kind}");
        }
        assert_eq!(ErrorKind::Internal.exit_code().code(), 30);
        assert_eq!(ErrorKind::Store.exit_code().code(), 20);
        assert_eq!(ErrorKind::Cancelled.exit_code().code(), 130);
    }

    #[test]
    fn io_errors_classify() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(Classify::kind(&missing), ErrorKind::MissingDependency);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(Classify::kind(&denied), ErrorKind::Write);
    }
}
