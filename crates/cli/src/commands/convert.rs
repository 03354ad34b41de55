//! `keyward convert`: rewrites `external-secrets.io/v1beta1` manifests to `v1` (keyward-api's
//! `convert` does the work), to stdout or in place, and says what it refused and why.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Args;
use keyward_core::{ErrorKind, ExitCode};

use crate::failure::Failure;

/// `keyward convert --help`, examples and exit codes.
pub const AFTER_LONG_HELP: &str = "\
Only the apiVersion line of each ExternalSecret, SecretStore, ClusterSecretStore and
ClusterExternalSecret changes: comments, key order and layout stay. A document converts only
when it loads as v1 and uses nothing v1 dropped (the v1 template engine); otherwise it is left
as it was and named on stderr with the reason.

Examples:
  keyward convert deploy/db.yaml > deploy/db.v1.yaml
  keyward convert --in-place deploy/*.yaml
  git diff                                   # review: one line per converted document

Exit codes: 0 everything converted (or nothing to convert), 11 a document was refused,
12 a file is missing, 30 a file could not be written.";

/// Options of `keyward convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Manifest files; without --in-place, exactly one, printed converted on stdout.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,

    /// Rewrite the files themselves (atomically; a file with nothing to convert is not touched).
    #[arg(long)]
    pub in_place: bool,
}

/// Runs `keyward convert`.
pub fn run(args: &ConvertArgs) -> Result<ExitCode, Failure> {
    if !args.in_place && args.files.len() > 1 {
        return Err(Failure::new(
            ErrorKind::Usage,
            anyhow!("several files convert with --in-place only (stdout takes one)"),
        ));
    }
    let mut refused = false;
    for file in &args.files {
        let origin = file.display().to_string();
        let text = keyward_api::load::read_manifest(file).map_err(|reason| {
            let kind = if file.exists() {
                ErrorKind::InvalidConfig
            } else {
                ErrorKind::MissingDependency
            };
            Failure::new(kind, anyhow!("{origin}: {reason}"))
        })?;
        let converted = keyward_api::convert::v1beta1_to_v1(&text, &origin);
        for reason in &converted.refused {
            eprintln!("keyward: {origin}: refused {reason}");
        }
        refused |= !converted.refused.is_empty();
        if args.in_place {
            if !converted.converted.is_empty() {
                keyward_bundle::write_atomic_through_symlink(file, converted.text.as_bytes())
                    .with_context(|| format!("writing {origin}"))
                    .map_err(|e| Failure::new(ErrorKind::Write, e))?;
            }
            eprintln!(
                "keyward: {origin}: {} converted, {} refused",
                converted.converted.len(),
                converted.refused.len()
            );
        } else {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(converted.text.as_bytes())
                .and_then(|()| stdout.flush())
                .context("writing to stdout")
                .map_err(|e| Failure::new(ErrorKind::Write, e))?;
        }
    }
    Ok(if refused {
        ExitCode::InvalidConfig
    } else {
        ExitCode::Success
    })
}
