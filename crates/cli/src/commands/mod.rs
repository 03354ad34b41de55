//! One module per subcommand; each turns parsed arguments into library calls.

mod docs;
pub mod scan;

use keyward_core::ExitCode;

use crate::args::Command;
use crate::failure::Failure;
use crate::output::Output;

/// Runs a parsed subcommand and returns the exit code of a run that did not fail.
pub fn run(command: Command, output: &Output) -> Result<ExitCode, Failure> {
    match command {
        Command::Scan(args) => scan::run(&args, output),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out_dir } => docs::man(out_dir.as_deref(), output),
    }
}
