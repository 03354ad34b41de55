//! One module per subcommand; each turns parsed arguments into library calls.

mod docs;
mod template;

use keyward_core::ExitCode;

use crate::args::{Command, TemplateCommand};
use crate::failure::Failure;
use crate::output::Output;

/// Runs a parsed subcommand and returns the exit code of a run that did not fail.
pub fn run(command: Command, output: &Output) -> Result<ExitCode, Failure> {
    match command {
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out_dir } => docs::man(out_dir.as_deref(), output),
        Command::Template(TemplateCommand::Render(args)) => template::render(&args, output),
    }
}
