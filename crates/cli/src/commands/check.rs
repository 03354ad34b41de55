//! `keyward check`: the CI gate. Runs keyward-evidence's checks over manifests, prints the
//! report (text or `--output json`, and JUnit XML with `--junit`) and exits 0 healthy,
//! 1 unhealthy, 11 invalid manifests.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Args;
use keyward_core::{ErrorKind, ExitCode};
use keyward_evidence::check::{
    ClusterOptions, HostCheck, KnownStore, OfflineOptions, Outcome, check_cluster, check_host,
    check_offline,
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

With --stores-only, the stores the manifests under PATHS declare are read (with the
credentials `keyward sync` would use): every key they reference must exist, at its pinned
version, learned from metadata reads where the store has them. With --verify, each projection
is proved per key to hold what its store holds, by keyed fingerprints recomputed from the
store side: the targets `keyward sync` wrote to --out from PATHS, or, without --out, the
cluster's Secrets (the operator's keyward.io/fingerprints annotation, under the key in
--fingerprint-key-secret). Each key is \"matches the store\", \"stale\" (the store has a newer
version since the last refresh) or \"differs\".

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
  keyward check --stores-only deploy/ --credentials-dir /etc/keyward/creds   # bootstrap, DR
  keyward check --verify deploy/ --out /run/secrets --state-dir /var/lib/keyward
  keyward check --verify --fingerprint-key-secret keyward/keyward-fingerprint-key

Exit codes: 0 healthy (warnings allowed unless --strict), 1 unhealthy, 2 usage,
11 invalid manifests (schema, template or regular expression), 20 the cluster or a store
cannot be read, 30 the JUnit file could not be written.";

/// Options of `keyward check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// With --offline, --stores-only or --verify --out: manifest files, or directories
    /// searched for *.yaml and *.yml.
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

    /// Check the stores the manifests PATHS declare (with the credentials `keyward sync`
    /// would use): every key they reference exists, and every pinned version; metadata reads
    /// where the store has them, values never printed. For bootstrap and disaster recovery.
    #[arg(long, conflicts_with_all = ["offline", "verify"])]
    pub stores_only: bool,

    /// Prove that projections hold what the stores hold, per key, by keyed fingerprints:
    /// with --out, the targets `keyward sync` wrote from PATHS; without it, the Secrets of
    /// the cluster (the operator's fingerprint annotation, under the key in
    /// --fingerprint-key-secret). Says "matches the store", "stale" or "differs".
    #[arg(long, conflicts_with = "offline")]
    pub verify: bool,

    /// With --verify: the --out that `keyward sync` wrote the targets of PATHS to.
    #[arg(long, value_name = "DIR", requires = "verify")]
    pub out: Option<PathBuf>,

    /// With --verify --out: the --format the targets were written in.
    #[arg(long, value_enum, default_value_t = super::sync::TargetFormat::Dir, requires = "out")]
    pub format: super::sync::TargetFormat,

    /// With --verify --out: the state directory of the `keyward sync` that wrote them (its
    /// fingerprint key).
    #[arg(long, value_name = "DIR", requires = "out")]
    pub state_dir: Option<PathBuf>,

    /// With --verify against a cluster: the Secret holding the operator's fingerprint key
    /// (default: default/keyward-fingerprint-key; the operator's --fingerprint-key-secret).
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = super::operator::parse_key_secret)]
    pub fingerprint_key_secret: Option<keyward_operator::fingerprint_key::KeySecret>,

    /// With --stores-only or --verify --out: where the stores' credentials come from.
    #[command(flatten)]
    pub credentials: super::sync::StoreCredentialArgs,
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
    let report = if args.stores_only || (args.verify && args.out.is_some()) {
        check_host_blocking(args)?
    } else if args.offline {
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
                    "manifests are for --offline, --stores-only or --verify --out, --known-store for --offline; without them the cluster is checked"
                ),
            ));
        }
        let options = ClusterOptions {
            namespace: args.namespace.clone(),
            max_age: args.max_age,
            verify: args.verify.then(|| {
                args.fingerprint_key_secret.clone().unwrap_or_else(|| {
                    keyward_operator::fingerprint_key::KeySecret {
                        namespace: "default".into(),
                        name: keyward_operator::fingerprint_key::DEFAULT_NAME.into(),
                    }
                })
            }),
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
        Outcome::Unreachable => ExitCode::Store,
    })
}

/// `--stores-only` and `--verify --out` over host manifests, with the stores and credentials
/// `keyward sync` would use.
fn check_host_blocking(args: &CheckArgs) -> Result<keyward_evidence::check::Report, Failure> {
    if args.paths.is_empty() {
        return Err(Failure::new(
            ErrorKind::Usage,
            anyhow!("--stores-only and --verify --out read manifests: name files or directories"),
        ));
    }
    let namespace =
        keyward_api::NamespaceName::parse(args.namespace.as_deref().unwrap_or("default"))
            .map_err(|e| Failure::new(ErrorKind::Usage, anyhow!("--namespace: {e}")))?;
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(crate::state::default_state_dir);
    let fingerprint_key = if args.verify {
        keyward_sync::run::existing_fingerprint_key(&state_dir)
            .with_context(|| format!("reading the fingerprint key in {}", state_dir.display()))
            .map_err(|e| Failure::new(ErrorKind::Usage, e))?
    } else {
        // --stores-only fingerprints nothing: a key of this run alone.
        keyward_sync::run::throwaway_fingerprint_key()
            .context("making a fingerprint key")
            .map_err(|e| Failure::new(ErrorKind::Write, e))?
    };
    let options = keyward_sync::run::RunOptions {
        paths: args.paths.clone(),
        out: args.out.clone().unwrap_or_default(),
        layout: super::sync::layout_of(args.format),
        namespace,
        credentials: args.credentials.host_credentials()?,
        allow_plaintext_secrets: args.credentials.allow_plaintext_secrets,
        fingerprint_key,
        wait_for_lock: false,
        record_reads: false,
    };
    let check = if args.stores_only {
        HostCheck::StoresOnly
    } else {
        HostCheck::Verify
    };
    super::runtime()?.block_on(async {
        let session = keyward_sync::run::Session::load(options);
        Ok(check_host(&session, check).await)
    })
}
