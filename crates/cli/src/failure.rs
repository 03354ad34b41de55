//! The top-level error path: every failure becomes one line on stderr and a documented exit code.

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

use keyward_core::{Classify, ErrorKind};

use crate::output::{Output, OutputFormat};

/// A failed command: what kind of failure (for the exit code) and the error chain (for people).
pub struct Failure {
    kind: ErrorKind,
    error: anyhow::Error,
    /// An exit code other than the kind's: `bundle exec` uses a shell's 126 and 127.
    exit_code: Option<u8>,
}

impl Failure {
    /// A failure of a given kind.
    pub fn new(kind: ErrorKind, error: impl Into<anyhow::Error>) -> Self {
        Self {
            kind,
            error: error.into(),
            exit_code: None,
        }
    }

    /// Exits with `code` instead of the kind's exit code.
    pub fn with_exit_code(mut self, code: u8) -> Self {
        self.exit_code = Some(code);
        self
    }

    fn code(&self) -> u8 {
        self.exit_code.unwrap_or(self.kind.exit_code().code())
    }

    /// The one line printed for this failure: the error and its causes, joined by ": ".
    /// A cause whose text its parent already includes (errors that print their source) is
    /// not repeated.
    pub fn message(&self) -> String {
        let mut message = self.error.to_string();
        for cause in self.error.chain().skip(1) {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
        }
        one_line(&message)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message())
    }
}

/// Errors without a kind of their own are keyward's internal failures.
impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::new(ErrorKind::Internal, error)
    }
}

/// Lets library errors flow into `Failure` with `?`, keeping their classification.
pub trait ClassifiedResult<T> {
    /// Converts the error, keeping its [`ErrorKind`].
    fn classified(self) -> Result<T, Failure>;
}

impl<T, E> ClassifiedResult<T> for Result<T, E>
where
    E: Classify + std::error::Error + Send + Sync + 'static,
{
    fn classified(self) -> Result<T, Failure> {
        self.map_err(|error| Failure::new(error.kind(), error))
    }
}

/// Prints `failure` on stderr in the chosen format and returns its exit code.
pub fn report(failure: &Failure, output: &Output) -> ExitCode {
    let code = failure.code();
    let line = match output.format {
        OutputFormat::Json => serde_json::json!({
            "error": {
                "kind": failure.kind.as_str(),
                "exit_code": code,
                "message": failure.message(),
            }
        })
        .to_string(),
        OutputFormat::Text => format!("{}: {}", label(output.color_stderr), failure.message()),
    };
    print_stderr(&line);
    ExitCode::from(code)
}

/// Handles what clap returns instead of arguments: help and version go to stdout with exit 0,
/// usage errors become one line on stderr with exit 2.
pub fn report_clap_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind as ClapKind;
    match error.kind() {
        ClapKind::DisplayHelp | ClapKind::DisplayVersion => {
            // clap prints these itself; a closed stdout is not worth an error.
            let _ = error.print();
            ExitCode::SUCCESS
        }
        ClapKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            keyward_core::ExitCode::Usage.into()
        }
        _ => {
            let text = error.render().to_string();
            let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            print_stderr(&format!(
                "{}: {} (see 'keyward --help')",
                label(colour),
                usage_line(&text)
            ));
            keyward_core::ExitCode::Usage.into()
        }
    }
}

/// Reduces clap's multi-line usage error to its substance on one line.
fn usage_line(rendered: &str) -> String {
    let parts: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|line| {
            !line.is_empty()
                && !line.starts_with("Usage:")
                && !line.starts_with("For more information")
        })
        .map(|line| line.strip_prefix("error: ").unwrap_or(line))
        .collect();
    parts.join("; ")
}

/// Folds any newlines (an error from a library may carry some) so a failure is one line.
fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn label(colour: bool) -> &'static str {
    if colour {
        "keyward: \x1b[1;31merror\x1b[0m"
    } else {
        "keyward: error"
    }
}

fn print_stderr(line: &str) {
    // If stderr itself is gone there is nobody left to tell.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_fold_to_one_line() {
        let rendered = "error: invalid value 'yaml' for '--output <OUTPUT>'\n  \
            [possible values: text, json]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_line(rendered),
            "invalid value 'yaml' for '--output <OUTPUT>'; [possible values: text, json]"
        );
    }

    #[test]
    fn messages_join_the_chain_on_one_line() {
        let error = anyhow::anyhow!("inner\nsecond line").context("opening control/x.env");
        let failure = Failure::new(ErrorKind::Decryption, error);
        assert_eq!(
            failure.message(),
            "opening control/x.env: inner second line"
        );
        assert_eq!(failure.kind.exit_code().code(), 21);
    }
}
