//! [`TemplateError`]: a parse or execution failure, located by template name and
//! line:column, whose message never contains a data value.

use std::fmt;

use keyward_core::{Classify, ErrorKind};

/// Which step of rendering failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// The template text is not a valid template.
    Parse,
    /// The template is valid but failed while executing against the data.
    Execute,
    /// The template built a string, list or output larger than its [`crate::Limits`] allow,
    /// or ran past their deadline.
    Limit,
}

/// A template that could not be parsed or executed.
///
/// The message is built only from the template's own text (names of fields, functions and
/// templates) and Go type names, never from the data the template runs on: data are secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    /// The step that failed.
    pub stage: Stage,
    /// The name of the template (or `define`d sub-template) that failed.
    pub template: String,
    /// 1-based line of the failing construct.
    pub line: usize,
    /// 1-based column (in characters) of the failing construct.
    pub column: usize,
    /// What went wrong, without data values.
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match self.stage {
            Stage::Parse => "parsing",
            Stage::Execute => "executing",
            Stage::Limit => "limit",
        };
        write!(
            f,
            "template {:?} {}:{}: {stage}: {}",
            self.template, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for TemplateError {}

impl Classify for TemplateError {
    /// A template that does not parse or execute makes the manifest that holds it unusable.
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidConfig
    }
}

/// The 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("ab", 0), (1, 1));
    }
}
