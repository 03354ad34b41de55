//! The top-level error path: every failure becomes one line on stderr and a documented exit code.

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

use keyward_core::ErrorKind;

use crate::output::{Output, OutputFormat};

/// A failed command: what kind of failure (for the exit code) and the error chain (for people).
pub struct Failure {
    kind: ErrorKind,
    error: anyhow::Error,
}

impl Failure {
    /// A failure of a given kind.
    pub fn new(kind: ErrorKind, error: impl Into<anyhow::Error>) -> Self {
        Self {
            kind,
            error: error.into(),
        }
    }

    /// The one line printed for this failure: the error and its causes, joined by ": ".
    pub fn message(&self) -> String {
        one_line(&format!("{:#}", self.error))
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

/// Prints `failure` on stderr in the chosen format and returns its exit code.
pub fn report(failure: &Failure, output: &Output) -> ExitCode {
    let exit = failure.kind.exit_code();
    let line = match output.format {
        OutputFormat::Json => serde_json::json!({
            "error": {
                "kind": failure.kind.as_str(),
                "exit_code": exit.code(),
                "message": failure.message(),
            }
        })
        .to_string(),
        OutputFormat::Text => format!("{}: {}", label(output.color_stderr), failure.message()),
    };
    print_stderr(&line);
    exit.into()
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
