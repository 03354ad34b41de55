//! `keyward evidence --out DIR`: a dated evidence folder (JSON and one self-contained HTML
//! page) of the inventory, health, rotation age, per-key verification and an audit excerpt,
//! for the cluster or for host manifests and the targets `keyward sync` wrote from them.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Args;
use keyward_core::{ErrorKind, ExitCode};
use keyward_evidence::check::{ClusterOptions, gather_cluster};
use keyward_evidence::dossier::{self, Evidence};
use keyward_operator::fingerprint_key::KeySecret;

use crate::failure::Failure;
use crate::output::{Output, OutputFormat};

/// `keyward evidence --help`, long form.
pub const LONG_ABOUT: &str = "\
Gather evidence an auditor can keep, without a single value: a new folder DIR/<run id>/ with
evidence.json and index.html (one self-contained page, no script and no external asset).

It holds the inventory (ExternalSecrets, stores, targets, and which workloads read which
Secret and key), the health of each ExternalSecret, the age of each source version in its
store (rotation age), the per-key proof that each projection holds what its store holds
(keyed fingerprints, as `keyward check --verify`), and, with --audit-log, the log's
verification, an excerpt and the sync history per day.

Without -f, the cluster of KUBECONFIG (or the pod's) is gathered; the stores are read with
their credentials from the cluster and the operator's fingerprint key from
--fingerprint-key-secret. With -f, host manifests are, with the targets `keyward sync` wrote
to --sync-out and the fingerprint key in --state-dir.";

/// `keyward evidence --help`, examples and exit codes.
pub const AFTER_LONG_HELP: &str = "\
Examples:
  keyward evidence --out evidence/                      # the cluster
  keyward evidence --out evidence/ --fingerprint-key-secret keyward/keyward-fingerprint-key \\
      --audit-log /var/log/keyward/audit.log --audit-key \"$(keyward audit key)\"
  keyward evidence --out evidence/ -f deploy/ --sync-out /run/secrets --state-dir /var/lib/keyward
  xdg-open evidence/*/index.html

Exit codes: 0 written and everything healthy, 1 written with something unhealthy, 2 usage,
20 the cluster cannot be read, 30 the folder could not be written.";

/// Options of `keyward evidence`.
#[derive(Debug, Args)]
pub struct EvidenceArgs {
    /// Where the run's folder is made (DIR/<run id>/).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Host manifests (files or directories) instead of the cluster; repeatable.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// With -f: the --out that `keyward sync` wrote the targets to.
    #[arg(
        long,
        value_name = "DIR",
        requires = "paths",
        default_value = "secrets"
    )]
    pub sync_out: PathBuf,

    /// With -f: the --format the targets were written in.
    #[arg(long, value_enum, default_value_t = super::sync::TargetFormat::Dir)]
    pub format: super::sync::TargetFormat,

    /// With -f: the state directory of that `keyward sync` (its fingerprint key).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// With -f: the namespace of manifests that name none (default `default`). Against a
    /// cluster: this namespace only (default: all).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,

    /// Against a cluster: the Secret holding the operator's fingerprint key.
    #[arg(
        long,
        value_name = "NAMESPACE/NAME",
        value_parser = super::operator::parse_key_secret,
        default_value = "default/keyward-fingerprint-key"
    )]
    pub fingerprint_key_secret: KeySecret,

    /// The audit log to verify and excerpt.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,

    /// The audit log's public key (`keyward audit key`), to verify it.
    #[arg(long, value_name = "ed25519:KEY", requires = "audit_log")]
    pub audit_key: Option<String>,

    /// With -f: where the stores' credentials come from.
    #[command(flatten)]
    pub credentials: super::sync::StoreCredentialArgs,
}

/// Runs `keyward evidence`.
pub fn run(args: &EvidenceArgs, output: &Output) -> Result<ExitCode, Failure> {
    let audit = audit_evidence(args)?;
    let evidence = if args.paths.is_empty() {
        gather_from_cluster(args, audit)?
    } else {
        gather_from_host(args, audit)?
    };
    let folder = keyward_evidence::folder::write(&args.out, &evidence)
        .with_context(|| format!("writing the evidence under {}", args.out.display()))
        .map_err(|e| Failure::new(ErrorKind::Write, e))?;
    let summary = &evidence.summary;
    match output.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({"folder": folder, "runId": evidence.run_id, "summary": summary})
        ),
        OutputFormat::Text => println!(
            "{}: {}/{} ExternalSecrets healthy and verified, {} keys match their store, {} do not",
            folder.display(),
            summary.healthy,
            summary.external_secrets,
            summary.keys_matching,
            summary.keys_failing
        ),
    }
    Ok(if summary.healthy == summary.external_secrets {
        ExitCode::Success
    } else {
        ExitCode::Findings
    })
}

fn audit_evidence(args: &EvidenceArgs) -> Result<Option<dossier::AuditEvidence>, Failure> {
    let Some(path) = &args.audit_log else {
        return Ok(None);
    };
    let key =
        match &args.audit_key {
            Some(text) => Some(keyward_evidence::audit::parse_public_key(text).map_err(
                |reason| Failure::new(ErrorKind::Usage, anyhow!("--audit-key: {reason}")),
            )?),
            None => None,
        };
    dossier::audit_evidence(path, key.as_ref())
        .with_context(|| format!("reading the audit log {}", path.display()))
        .map(Some)
        .map_err(|e| Failure::new(ErrorKind::MissingDependency, e))
}

fn gather_from_cluster(
    args: &EvidenceArgs,
    audit: Option<dossier::AuditEvidence>,
) -> Result<Evidence, Failure> {
    if let Some(namespace) = &args.namespace {
        keyward_api::NamespaceName::parse(namespace)
            .map_err(|e| Failure::new(ErrorKind::Usage, anyhow!("--namespace: {e}")))?;
    }
    let options = ClusterOptions {
        namespace: args.namespace.clone(),
        ..ClusterOptions::default()
    };
    let gathered = super::runtime()?.block_on(async {
        let client = super::cluster_client().await?;
        gather_cluster(client, &options, &args.fingerprint_key_secret)
            .await
            .context("reading the cluster")
            .map_err(|e| Failure::new(ErrorKind::Store, e))
    })?;
    let scope = match &args.namespace {
        Some(namespace) => format!("the cluster, namespace {namespace}"),
        None => "the cluster".to_owned(),
    };
    Ok(Evidence::new(
        scope,
        gathered.external_secrets,
        gathered.stores,
        gathered.consumers,
        audit,
    ))
}

fn gather_from_host(
    args: &EvidenceArgs,
    audit: Option<dossier::AuditEvidence>,
) -> Result<Evidence, Failure> {
    let namespace_text = args.namespace.as_deref().unwrap_or("default");
    let namespace = keyward_api::NamespaceName::parse(namespace_text)
        .map_err(|e| Failure::new(ErrorKind::Usage, anyhow!("--namespace: {e}")))?;
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(crate::state::default_state_dir);
    let fingerprint_key = keyward_sync::run::existing_fingerprint_key(&state_dir)
        .with_context(|| format!("reading the fingerprint key in {}", state_dir.display()))
        .map_err(|e| Failure::new(ErrorKind::Usage, e))?;
    let options = keyward_sync::run::RunOptions {
        paths: args.paths.clone(),
        out: args.sync_out.clone(),
        layout: super::sync::layout_of(args.format),
        namespace,
        credentials: args.credentials.host_credentials()?,
        allow_plaintext_secrets: args.credentials.allow_plaintext_secrets,
        fingerprint_key,
        wait_for_lock: false,
        record_reads: false,
    };
    let (secrets, stores, consumers) = super::runtime()?.block_on(async {
        let session = keyward_sync::run::Session::load(options);
        dossier::gather_host(&session, &args.paths, namespace_text).await
    });
    let paths: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
    let scope = format!(
        "host manifests {} and their targets in {}",
        paths.join(", "),
        args.sync_out.display()
    );
    Ok(Evidence::new(scope, secrets, stores, consumers, audit))
}
