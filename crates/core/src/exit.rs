//! [`ExitCode`]: the exit-code table of keyward's design document, in one place.

use std::fmt;

/// The process exit codes keyward uses. Scripts depend on these numbers: never renumber one.
///
/// `bundle exec` is the one exception: it returns its child's exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitCode {
    /// Success; a scan found nothing; a check is healthy.
    Success,
    /// A scan found something; a check found something unhealthy.
    Findings,
    /// The command line was wrong.
    Usage,
    /// A configuration template was written for the user to fill in.
    ConfigTemplateWritten,
    /// A configuration file or manifest is invalid.
    InvalidConfig,
    /// A required dependency (program, peer, file) is missing.
    MissingDependency,
    /// A call to a store or a cluster failed.
    Store,
    /// Decryption or bundle failure: wrong password, tampered file.
    Decryption,
    /// A write failed, or keyward hit an internal error.
    Write,
    /// The user cancelled (SIGINT).
    Cancelled,
}

impl ExitCode {
    /// Every exit code, in table order (used for `--help` and the docs).
    pub const ALL: [ExitCode; 10] = [
        ExitCode::Success,
        ExitCode::Findings,
        ExitCode::Usage,
        ExitCode::ConfigTemplateWritten,
        ExitCode::InvalidConfig,
        ExitCode::MissingDependency,
        ExitCode::Store,
        ExitCode::Decryption,
        ExitCode::Write,
        ExitCode::Cancelled,
    ];

    /// The number the process exits with.
    pub const fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Findings => 1,
            ExitCode::Usage => 2,
            ExitCode::ConfigTemplateWritten => 10,
            ExitCode::InvalidConfig => 11,
            ExitCode::MissingDependency => 12,
            ExitCode::Store => 20,
            ExitCode::Decryption => 21,
            ExitCode::Write => 30,
            ExitCode::Cancelled => 130,
        }
    }

    /// What the code means, as the design document's table words it.
    pub const fn meaning(self) -> &'static str {
        match self {
            ExitCode::Success => "success; scan clean; check healthy",
            ExitCode::Findings => "scan found something; check found something unhealthy",
            ExitCode::Usage => "usage error",
            ExitCode::ConfigTemplateWritten => {
                "a config template was written for the user to fill in"
            }
            ExitCode::InvalidConfig => "configuration or manifest invalid",
            ExitCode::MissingDependency => "a required dependency is missing",
            ExitCode::Store => "a store or cluster call failed",
            ExitCode::Decryption => "decryption or bundle failure (wrong password, tampered file)",
            ExitCode::Write => "write or internal failure",
            ExitCode::Cancelled => "cancelled",
        }
    }

    /// The exit code for a raw number, if keyward defines it.
    pub fn from_code(code: u8) -> Option<ExitCode> {
        Self::ALL.into_iter().find(|exit| exit.code() == code)
    }
}

impl fmt::Display for ExitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.meaning())
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(exit: ExitCode) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_design_table() {
        let table: Vec<u8> = ExitCode::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(table, [0, 1, 2, 10, 11, 12, 20, 21, 30, 130]);
    }

    #[test]
    fn codes_are_unique_and_round_trip() {
        for exit in ExitCode::ALL {
            assert_eq!(ExitCode::from_code(exit.code()), Some(exit));
            assert!(!exit.meaning().is_empty());
        }
        assert_eq!(ExitCode::from_code(3), None);
    }

    #[test]
    fn display_names_code_and_meaning() {
        assert_eq!(
            ExitCode::Store.to_string(),
            "20 (a store or cluster call failed)"
        );
    }
}
