//! The `keyward` binary: argument parsing and wiring only.
//!
//! Every behaviour lives in a library crate; this crate parses the command line, sets up
//! logging and colour, calls the library, prints results in the chosen output format and turns
//! failures into one line on stderr and the exit code of the design document's table.

mod args;
mod commands;
mod failure;
mod logging;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;
use crate::failure::Failure;
use crate::output::Output;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return failure::report_clap_error(error),
    };
    let output = Output::new(cli.global.output, cli.global.color);
    if let Err(error) = logging::init(&cli.global, &output) {
        return failure::report(&Failure::from(error), &output);
    }
    match commands::run(cli.command, &output) {
        Ok(exit) => exit.into(),
        Err(failure) => failure::report(&failure, &output),
    }
}
