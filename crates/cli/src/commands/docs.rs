//! `keyward completions` and `keyward man`: documentation generated from the clap definitions,
//! so it can never drift from the real command line.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;
use keyward_core::{ErrorKind, ExitCode};

use crate::args::Cli;
use crate::failure::Failure;
use crate::output::{Output, OutputFormat};

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: Shell) -> Result<ExitCode, Failure> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "keyward", &mut script);
    write_stdout(&script)?;
    Ok(ExitCode::Success)
}

/// Prints keyward(1) on stdout, or writes every page into `out_dir`.
pub fn man(out_dir: Option<&Path>, output: &Output) -> Result<ExitCode, Failure> {
    let command = Cli::command();
    let Some(dir) = out_dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .render(&mut page)
            .context("rendering keyward(1)")?;
        write_stdout(&page)?;
        return Ok(ExitCode::Success);
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating {}", dir.display()))
        .map_err(|error| Failure::new(ErrorKind::Write, error))?;
    clap_mangen::generate_to(command, dir)
        .with_context(|| format!("writing man pages into {}", dir.display()))
        .map_err(|error| Failure::new(ErrorKind::Write, error))?;
    let mut pages: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))
        .map_err(|error| Failure::new(ErrorKind::Write, error))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("keyward") && name.ends_with(".1"))
        .collect();
    pages.sort();
    let report = match output.format {
        OutputFormat::Json => {
            serde_json::json!({ "directory": dir.display().to_string(), "pages": pages })
                .to_string()
        }
        OutputFormat::Text => format!("wrote {} man pages into {}", pages.len(), dir.display()),
    };
    write_stdout(format!("{report}\n").as_bytes())?;
    Ok(ExitCode::Success)
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .context("writing to stdout")
        .map_err(|error| Failure::new(ErrorKind::Write, error))
}
