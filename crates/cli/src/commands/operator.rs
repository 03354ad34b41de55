//! `keyward operator`: the cluster half, ExternalSecrets pulled into Kubernetes Secrets.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use keyward_core::ErrorKind;

use crate::commands::Done;
use crate::failure::Failure;

const LONG_ABOUT: &str = "\
Run keyward as a Kubernetes operator: ExternalSecrets (external-secrets.io/v1) are pulled from
their stores into Secrets, as External Secrets Operator does, with the same CRDs, labels,
annotations, conditions, events and metric names. A cluster switches by stopping ESO and
starting keyward; Secrets ESO wrote are adopted without a write when their data are current.

The cluster comes from KUBECONFIG (or ~/.kube/config), or the in-cluster service account.";

const EXAMPLES: &str = "\
Examples:
  keyward operator run
  keyward operator run --namespace payments --concurrent 8
  keyward operator run --metrics-addr 0.0.0.0:8080 --controller-class internal
  keyward operator run --enable-leader-election        # two replicas, one reconciling

Exit codes: 0 stopped by SIGTERM or SIGINT, 20 the cluster could not be reached or a cache
never filled (RBAC?), 30 the metrics address could not be bound.";

/// `keyward operator …`
#[derive(Debug, Args)]
#[command(about = "Run the Kubernetes operator (ExternalSecrets into Secrets)", long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct OperatorArgs {
    #[command(subcommand)]
    command: OperatorCommand,
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Run the controllers until SIGTERM or SIGINT.
    #[command(after_help = EXAMPLES)]
    Run(Box<RunArgs>),

    /// Print keyward's CustomResourceDefinitions (external-secrets.io/v1), for clusters
    /// without ESO's.
    #[command(after_help = "Examples:\n  keyward operator crds | kubectl apply -f -")]
    Crds,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    namespace: Option<String>,

    /// Serve only stores whose spec.controller is empty or this class (ESO's flag).
    #[arg(long, value_name = "CLASS", default_value = "default")]
    controller_class: String,

    /// ExternalSecrets reconciled at once.
    #[arg(long = "concurrent", value_name = "N", default_value_t = 16)]
    concurrency: u16,

    /// Where /metrics, /healthz and /readyz are served ("" to serve none).
    #[arg(
        long = "metrics-addr",
        value_name = "ADDR",
        default_value = "0.0.0.0:8080"
    )]
    metrics_address: String,

    /// Reconcile only while holding a coordination.k8s.io Lease, so that of several replicas
    /// one works and the others stand by (ESO's flag).
    #[arg(long = "enable-leader-election", alias = "leader-elect")]
    leader_election: bool,

    /// The Lease's namespace (default: this pod's namespace, else "default").
    #[arg(long, value_name = "NAMESPACE", requires = "leader_election")]
    leader_election_namespace: Option<String>,

    /// The Lease's name.
    #[arg(long, value_name = "NAME", default_value = "keyward-operator")]
    leader_election_id: String,

    /// How long a Lease holds without renewal (a standby takes over within it).
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    leader_election_lease_duration: std::time::Duration,

    /// Append every Secret created, updated or deleted (names, key count, fingerprint; never a
    /// value) to this audit log, in batches each closed by a signed checkpoint (a file on a
    /// volume; see `keyward audit`).
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,

    /// The directory holding the audit signing key (audit.key, created on first use).
    #[arg(long, value_name = "DIR", requires = "audit_log")]
    state_dir: Option<PathBuf>,

    /// The Secret holding the key of the fingerprints written on every Secret (created on
    /// first start; default: keyward-fingerprint-key in this pod's namespace). Only the
    /// operator and auditors (`keyward check --verify`) should be able to read it.
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_key_secret)]
    fingerprint_key_secret: Option<keyward_operator::fingerprint_key::KeySecret>,

    /// Also print each audit entry as one JSON line on stdout, for log shippers (the entries
    /// of --audit-log without its chain and signatures; alone, without a file, too).
    #[arg(long)]
    audit_stdout: bool,

    /// How long after a Secret's data changed the workloads that follow it are restarted;
    /// changes within this window (several Secrets of one rotation) make one restart.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    restart_debounce: std::time::Duration,

    /// Workload restarts per minute across the cluster, on average (see --restart-burst).
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    restarts_per_minute: u32,

    /// Workload restarts made at once before --restarts-per-minute paces them.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    restart_burst: u32,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let duration = keyward_api::parse_go_duration(text)?;
    if duration < std::time::Duration::from_secs(2) {
        return Err("must be at least 2s".into());
    }
    Ok(duration)
}

/// `NAMESPACE/NAME`, both valid Kubernetes names.
pub fn parse_key_secret(
    text: &str,
) -> Result<keyward_operator::fingerprint_key::KeySecret, String> {
    let (namespace, name) = text
        .split_once('/')
        .ok_or_else(|| format!("'{text}' is not NAMESPACE/NAME"))?;
    keyward_api::NamespaceName::parse(namespace).map_err(|e| e.to_string())?;
    keyward_api::ResourceName::parse(name).map_err(|e| e.to_string())?;
    Ok(keyward_operator::fingerprint_key::KeySecret {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })
}

/// The default fingerprint key Secret: keyward-fingerprint-key in this pod's namespace.
pub fn default_key_secret() -> keyward_operator::fingerprint_key::KeySecret {
    keyward_operator::fingerprint_key::KeySecret {
        namespace: pod_namespace(),
        name: keyward_operator::fingerprint_key::DEFAULT_NAME.into(),
    }
}

/// The namespace of the pod this runs in, as the service account mount says.
fn pod_namespace() -> String {
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .ok()
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// Runs `keyward operator …`.
pub fn run(args: OperatorArgs) -> Result<Done, Failure> {
    let args = match args.command {
        OperatorCommand::Run(args) => *args,
        OperatorCommand::Crds => return print_crds(),
    };
    let metrics_address = match args.metrics_address.as_str() {
        "" => None,
        text => Some(text.parse::<SocketAddr>().map_err(|_| {
            Failure::new(
                ErrorKind::Usage,
                anyhow::anyhow!("--metrics-addr: '{text}' is not HOST:PORT"),
            )
        })?),
    };
    if let Some(namespace) = &args.namespace {
        keyward_api::NamespaceName::parse(namespace)
            .map_err(|e| Failure::new(ErrorKind::Usage, anyhow::anyhow!("--namespace {e}")))?;
    }
    let leader_election = args.leader_election.then(|| {
        let namespace = args
            .leader_election_namespace
            .clone()
            .unwrap_or_else(pod_namespace);
        let mut leader =
            keyward_operator::leader::LeaderConfig::new(&namespace, &args.leader_election_id);
        // client-go's proportions: renew within 2/3 of the lease, try every 2/15 of it.
        leader.lease_duration = args.leader_election_lease_duration;
        leader.renew_deadline = args.leader_election_lease_duration * 2 / 3;
        leader.retry_period = args.leader_election_lease_duration * 2 / 15;
        leader
    });
    let (on_projection, audited) = if args.audit_log.is_some() || args.audit_stdout {
        let log = match &args.audit_log {
            Some(log) => Some((
                log.clone(),
                super::audit::signing_key(args.state_dir.as_deref())?,
            )),
            None => None,
        };
        let writer = std::sync::Arc::new(AuditWriter {
            log,
            stdout: args.audit_stdout,
            pending: Default::default(),
        });
        let observer = {
            let writer = std::sync::Arc::clone(&writer);
            keyward_operator::ProjectionObserver(std::sync::Arc::new(move |record| {
                writer.push(projection_record(&record));
            }))
        };
        (Some(observer), Some(writer))
    } else {
        (None, None)
    };
    let on_store_reads = audited.as_ref().map(|writer| {
        let writer = std::sync::Arc::clone(writer);
        keyward_operator::StoreReadObserver(std::sync::Arc::new(move |reads| {
            for read in &reads {
                writer.push(super::audit::read_record(read));
            }
        }))
    });
    let config = keyward_operator::OperatorConfig {
        on_projection,
        on_store_reads,
        leader_election,
        namespace: args.namespace,
        controller_class: args.controller_class,
        concurrency: args.concurrency.max(1),
        metrics_address,
        fingerprint_key_secret: Some(
            args.fingerprint_key_secret
                .unwrap_or_else(default_key_secret),
        ),
        restarts: keyward_operator::consumers::RestartPolicy {
            debounce: args.restart_debounce,
            per_minute: args.restarts_per_minute,
            burst: args.restart_burst,
        },
        ..Default::default()
    };
    super::runtime()?.block_on(async {
        let client = super::cluster_client().await?;
        if let Some(writer) = &audited {
            tokio::spawn(std::sync::Arc::clone(writer).flush_every(AUDIT_FLUSH));
        }
        let result = keyward_operator::run(client, config).await;
        if let Some(writer) = &audited {
            writer.flush();
        }
        result.map_err(|error| {
            let kind = match error {
                keyward_operator::OperatorError::Metrics { .. } => ErrorKind::Write,
                _ => ErrorKind::Store,
            };
            Failure::new(kind, error)
        })
    })?;
    Ok(Done::Exit(keyward_core::ExitCode::Success))
}

/// How many audit entries wait for an unwritable log before new ones are dropped (logged).
const AUDIT_PENDING_MAX: usize = 100_000;

/// How often the operator's audit entries are written (each batch closed by a checkpoint).
const AUDIT_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

/// Collects the operator's projection records and appends them to the audit log in batches:
/// one fsync and one signature per batch, not per Secret.
struct AuditWriter {
    /// The log and its signing key, with --audit-log.
    log: Option<(PathBuf, ed25519_dalek::SigningKey)>,
    /// --audit-stdout.
    stdout: bool,
    pending: std::sync::Mutex<Vec<keyward_evidence::audit::Record>>,
}

/// The audit entry of a Secret the operator created, updated or deleted.
fn projection_record(
    record: &keyward_operator::ProjectionRecord,
) -> keyward_evidence::audit::Record {
    let mut detail = serde_json::Map::new();
    detail.insert("target".into(), record.target.clone().into());
    detail.insert("keys".into(), record.keys.into());
    if let Some(fingerprint) = &record.fingerprint {
        detail.insert("fingerprint".into(), fingerprint.clone().into());
    }
    keyward_evidence::audit::Record {
        event: format!("projection.{}", record.action),
        subject: record.external_secret.clone(),
        detail,
    }
}

impl AuditWriter {
    fn push(&self, entry: keyward_evidence::audit::Record) {
        if self.stdout {
            let time = time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            println!(
                "{}",
                serde_json::json!({"time": time, "event": entry.event, "subject": entry.subject, "detail": entry.detail})
            );
        }
        if self.log.is_none() {
            return;
        }
        if let Ok(mut pending) = self.pending.lock() {
            if pending.len() >= AUDIT_PENDING_MAX {
                // The log has been unwritable for a long while (each failure is logged): keep
                // memory bounded, and say what is lost.
                tracing::error!(
                    "the audit log is unwritable; {} entries kept, this one dropped",
                    pending.len()
                );
                return;
            }
            pending.push(entry);
        }
    }

    /// Writes what is pending; a failure is logged and the records are kept for the next try.
    fn flush(&self) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        if pending.is_empty() {
            return;
        }
        let Some((log, key)) = &self.log else {
            return;
        };
        match super::audit::append_signed(log, key, &pending) {
            Ok(()) => pending.clear(),
            Err(failure) => tracing::error!("{}", failure.message()),
        }
    }

    async fn flush_every(self: std::sync::Arc<Self>, period: std::time::Duration) {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            let writer = std::sync::Arc::clone(&self);
            // The append takes a file lock and fsyncs: not on an async worker.
            let _ = tokio::task::spawn_blocking(move || writer.flush()).await;
        }
    }
}

fn print_crds() -> Result<Done, Failure> {
    use std::io::Write;
    let yaml = keyward_operator::crds::crds_yaml()
        .context("rendering the CRDs")
        .map_err(|e| Failure::new(ErrorKind::Internal, e))?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(yaml.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to stdout")
        .map_err(|e| Failure::new(ErrorKind::Write, e))?;
    Ok(Done::Exit(keyward_core::ExitCode::Success))
}
