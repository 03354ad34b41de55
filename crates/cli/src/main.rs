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
mod state;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;
use crate::failure::Failure;
use crate::output::Output;

fn main() -> ExitCode {
    quiet_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return failure::report_clap_error(error),
    };
    let output = Output::new(cli.global.output, cli.global.color);
    if let Err(error) = logging::init(cli.global.log_level, cli.global.log_format, &output) {
        return failure::report(&Failure::from(error), &output);
    }
    match commands::run(cli.command, &output) {
        Ok(exit) => exit.into(),
        Err(failure) => failure::report(&failure, &output),
    }
}

/// A panic's message may quote data it was working on, and data are secrets: print where
/// keyward failed, never why. Panics inside one ExternalSecret's work are caught and reported
/// as its failure; one anywhere else ends the process with the Rust runtime's code 101.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "keyward: internal error{place} (a bug: please report it; the message is withheld, it may hold data)"
        );
    }));
}
