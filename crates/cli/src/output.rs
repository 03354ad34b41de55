//! Where results go and how they look: the `--output` format and the colour decision.

use std::io::IsTerminal;

use clap::ValueEnum;

/// The format of results on stdout, chosen with `--output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text, coloured at a terminal.
    Text,
    /// One JSON document, for scripts.
    Json,
}

/// `--color`: when to colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when the stream is a terminal and NO_COLOR is unset or empty.
    Auto,
    /// Always colour, even into a pipe.
    Always,
    /// Never colour.
    Never,
}

/// The resolved output settings every command receives.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    /// The result format.
    pub format: OutputFormat,
    /// Whether stderr (errors, logs) may carry ANSI colour.
    pub color_stderr: bool,
}

impl Output {
    /// Resolves `--output` and `--color` against the environment and the terminals.
    pub fn new(format: OutputFormat, color: ColorChoice) -> Self {
        let no_color = no_color_requested(std::env::var_os("NO_COLOR").as_deref());
        let decide = |is_terminal: bool| match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && !no_color,
        };
        Self {
            format,
            color_stderr: decide(std::io::stderr().is_terminal()),
        }
    }
}

/// NO_COLOR (no-color.org): set to any non-empty value, it disables default colour.
fn no_color_requested(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_needs_a_non_empty_value() {
        assert!(!no_color_requested(None));
        assert!(!no_color_requested(Some("".as_ref())));
        assert!(no_color_requested(Some("1".as_ref())));
    }

    #[test]
    fn color_choice_overrides_detection() {
        let output = Output::new(OutputFormat::Json, ColorChoice::Always);
        assert!(output.color_stderr);
        let output = Output::new(OutputFormat::Text, ColorChoice::Never);
        assert!(!output.color_stderr);
    }
}
