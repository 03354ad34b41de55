//! `keyward check`: the CI gate. Runs keyward-evidence's checks over manifests, prints the
//! report (text or `--output json`, and JUnit XML with `--junit`) and exits 0 healthy,
//! 1 unhealthy, 11 invalid manifests.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Args;
use keyward_core::{ErrorKind, ExitCode};
use keyward_evidence::check::{
    ClusterOptions, KnownStore, OfflineOptions, Outcome, check_cluster, check_offline,
};
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

Without --offline, the cluster of KUBECONFIG (or the pod's) is checked: every ExternalSecret
Ready (and refreshed within --max-age) with its Secret present, every SecretStore and
ClusterSecretStore Ready, and every Deployment, StatefulSet, DaemonSet, Job and CronJob finding
the Secrets and keys it reads in the cluster.

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
  keyward check                                   # the cluster: Ready, Secrets, workloads' keys
  keyward check -n payments --max-age 2h --junit health.xml

Exit codes: 0 healthy (warnings allowed unless --strict), 1 unhealthy, 2 usage,
11 invalid manifests (schema, template or regular expression), 20 the cluster cannot be read,
30 the JUnit file could not be written.";

/// Options of `keyward check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// With --offline: manifest files, or directories searched for *.yaml and *.yml.
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,

    /// Check the manifests alone: no cluster, no store (for pull requests). Without it, the
    /// cluster of KUBECONFIG (or the pod's) is checked.
    #[arg(long)]
    pub offline: bool,

    /// Against a cluster: an ExternalSecret refreshed longer ago than this (a Go duration,
    /// e.g. 2h) is unhealthy.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "offline")]
    pub max_age: Option<std::time::Duration>,

    /// A store that exists outside these manifests: ClusterSecretStore/NAME,
    /// SecretStore/NAMESPACE/NAME or SecretStore/NAME (in every namespace). Repeatable.
    #[arg(long, value_name = "KIND/NAME", value_parser = parse_known_store)]
    pub known_store: Vec<KnownStore>,

    /// With --offline: the namespace of objects whose manifest names none (default
    /// `default`). Against a cluster: check this namespace only (default: all).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,

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

/// The cluster check on a runtime of its own; a cluster that cannot be read is exit 20.
fn check_cluster_blocking(
    options: &ClusterOptions,
) -> Result<keyward_evidence::check::Report, Failure> {
    super::runtime()?.block_on(async {
        let client = super::cluster_client().await?;
        check_cluster(client, options)
            .await
            .context("reading the cluster")
            .map_err(|e| Failure::new(ErrorKind::Store, e))
    })
}

fn parse_known_store(text: &str) -> Result<KnownStore, String> {
    text.parse()
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    keyward_api::parse_go_duration(text)
}

/// Runs `keyward check`.
pub fn run(args: &CheckArgs, output: &Output) -> Result<ExitCode, Failure> {
    if let Some(namespace) = &args.namespace {
        keyward_api::NamespaceName::parse(namespace)
            .map_err(|e| Failure::new(ErrorKind::Usage, anyhow!("--namespace: {e}")))?;
    }
    let report = if args.offline {
        if args.paths.is_empty() {
            return Err(Failure::new(
                ErrorKind::Usage,
                anyhow!("--offline checks manifests: name files or directories"),
            ));
        }
        let options = OfflineOptions {
            default_namespace: args.namespace.clone().unwrap_or_else(|| "default".into()),
            known_stores: args.known_store.clone(),
        };
        check_offline(&args.paths, &options)
    } else {
        if !args.paths.is_empty() || !args.known_store.is_empty() {
            return Err(Failure::new(
                ErrorKind::Usage,
                anyhow!(
                    "manifests and --known-store are for --offline; without it the cluster is checked"
                ),
            ));
        }
        let options = ClusterOptions {
            namespace: args.namespace.clone(),
            max_age: args.max_age,
        };
        check_cluster_blocking(&options)?
    };
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
