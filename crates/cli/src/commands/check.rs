//! `keyward check`: the CI gate. Runs keyward-evidence's checks over manifests, prints the
//! report (text or `--output json`, and JUnit XML with `--junit`) and exits 0 healthy,
//! 1 unhealthy, 11 invalid manifests.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Args;
use keyward_core::{ErrorKind, ExitCode};
use keyward_evidence::check::{KnownStore, OfflineOptions, Outcome, check_offline};
use keyward_evidence::report;

use crate::failure::Failure;
use crate::output::{Output, OutputFormat};

/// `keyward check --help`, long form.
pub const LONG_ABOUT: &str = "\
Check ExternalSecret manifests before they are applied: the gate for pull requests.

With --offline (no cluster, no store), every ExternalSecret and PushSecret under PATHS must
load against the external-secrets.io/v1 schema, name a store declared in the manifests (or
listed with --known-store) that serves its namespace, and carry templates and regular
expressions that parse. Every workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
CronJob, Pod) that reads a Secret by env secretKeyRef, envFrom, a secret or projected volume
or imagePullSecrets must find it produced by an ExternalSecret (or a Secret manifest) of its
namespace, with every key it reads: the commonest outage is a workload asking for a key its
ExternalSecret no longer produces.

Findings name objects, fields and keys, never a value. Warnings say what the manifests cannot
tell (a Secret produced elsewhere, keys that only the store knows, as with dataFrom); --strict
makes them fail.";

/// `keyward check --help`, examples and exit codes.
pub const AFTER_LONG_HELP: &str = "\
Examples:
  keyward check --offline deploy/
  keyward check --offline deploy/ --known-store ClusterSecretStore/vault
  keyward check --offline deploy/ --junit check.xml     # for the CI system's test view
  keyward check --offline deploy/ --output json | jq '.checked[] | select(.findings != [])'

Exit codes: 0 healthy (warnings allowed unless --strict), 1 unhealthy, 2 usage,
11 invalid manifests (schema, template or regular expression), 30 the JUnit file could not be
written.";

/// Options of `keyward check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Manifest files, or directories searched for *.yaml and *.yml.
    #[arg(required = true, value_name = "PATHS")]
    pub paths: Vec<PathBuf>,

    /// Check the manifests alone: no cluster, no store (for pull requests).
    #[arg(long)]
    pub offline: bool,

    /// A store that exists outside these manifests: ClusterSecretStore/NAME,
    /// SecretStore/NAMESPACE/NAME or SecretStore/NAME (in every namespace). Repeatable.
    #[arg(long, value_name = "KIND/NAME", value_parser = parse_known_store)]
    pub known_store: Vec<KnownStore>,

    /// Namespace of objects whose manifest names none.
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,

    /// Also write the report as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub strict: bool,

    /// List the objects that passed as well.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

fn parse_known_store(text: &str) -> Result<KnownStore, String> {
    text.parse()
}

/// Runs `keyward check`.
pub fn run(args: &CheckArgs, output: &Output) -> Result<ExitCode, Failure> {
    if !args.offline {
        return Err(Failure::new(
            ErrorKind::Usage,
            anyhow!(
                "keyward check checks manifests with --offline; checks against a cluster or the stores are not available yet"
            ),
        ));
    }
    keyward_api::NamespaceName::parse(&args.namespace)
        .map_err(|e| Failure::new(ErrorKind::Usage, anyhow!("--namespace: {e}")))?;
    let options = OfflineOptions {
        default_namespace: args.namespace.clone(),
        known_stores: args.known_store.clone(),
    };
    let report = check_offline(&args.paths, &options);
    if let Some(path) = &args.junit {
        keyward_bundle::write_atomic(path, report::junit(&report, args.strict).as_bytes())
            .with_context(|| format!("writing {}", path.display()))
            .map_err(|error| Failure::new(ErrorKind::Write, error))?;
    }
    let text = match output.format {
        OutputFormat::Text => report::text(&report, args.verbose),
        OutputFormat::Json => format!("{:#}\n", report::json(&report, args.strict)),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to stdout")
        .map_err(|error| Failure::new(ErrorKind::Write, error))?;
    Ok(match report.outcome(args.strict) {
        Outcome::Healthy => ExitCode::Success,
        Outcome::Unhealthy => ExitCode::Findings,
        Outcome::Invalid => ExitCode::InvalidConfig,
    })
}
