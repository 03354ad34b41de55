//! `keyward rotate`: a new version of one source value written into its store, the host
//! projection made to follow, its consumers restarted, each step in the audit log.
//!
//! The steps run in order and stop at the first failure. Until the projection has followed,
//! a failure puts the store's previous value back as its current version, so the store and
//! the projection keep agreeing; once the projection holds the new value, a consumer that
//! fails to restart is reported and nothing is rolled back (consumers that did restart already
//! use the new value).

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::{ArgGroup, Args};
use keyward_api::generator::PasswordSpec;
use keyward_api::{ExternalSecret, ExternalSecretData, StoreRef};
use keyward_core::{ErrorKind, ExitCode, SecretValue};
use keyward_evidence::audit::Record;
use keyward_providers::{Provider, ProviderError, ProviderErrorKind, push};
use keyward_sync::run::{self, Outcome, Session, Status};
use keyward_sync::watch::{self, ChangeHook};

use crate::commands::Done;
use crate::commands::sync::{StoreCredentialArgs, TargetArgs, layout_of};
use crate::failure::Failure;
use crate::output::{Output, OutputFormat};

mod cluster;

const LONG_ABOUT: &str = "\
Rotate one secret at its source: write a new version of the value an ExternalSecret reads
into its store, make the projection on this host follow, restart its consumers.

keyward rotate finds NAMESPACE/NAME among the manifests, takes the `data` entry whose
secretKey is --key (the only one when the ExternalSecret has one), and:
  1. reads the current value (kept in memory only, to put it back on failure),
  2. writes the new value (--generate: a password from the OS CSPRNG; --from-stdin) as a
     new version of remoteRef.key, or into its remoteRef.property, through the same push
     path as a PushSecret. Keys the store does not mark managed-by=keyward (or
     external-secrets) are refused; --force tags the key managed-by=keyward first,
  3. syncs that ExternalSecret's target under --out, as `keyward sync` does,
  4. runs --on-change, or sends --signal to the process in --pidfile, when the target
     changed.
Steps 2 and 3 must finish within --timeout. If the write or the sync fails, the previous
value is written back as the store's current version and the projection is left as it
was. A failing consumer restart (step 4) is reported; the new value stays, in the store
and in the projection, which still agree. With --audit-log, every step is recorded, with
store, key, version and fingerprint, never a value.

With --cluster, the ExternalSecret and its store are read from the cluster of KUBECONFIG
(store credentials as the operator reads them, with your rights), step 3 sets force-sync
on the ExternalSecret and waits until it is Ready with new fingerprints on its Secret, and
step 4 waits until the workloads that follow the Secret (Reloader's annotations, or
keyward.io/restart-readers on the ExternalSecret) were restarted by the operator and have
rolled out (--rollout-timeout).";

const EXAMPLES: &str = "\
Examples:
  keyward rotate -f deploy/ --secret payments/db --key password --generate \\
      --on-change 'systemctl restart payments'
  printf %s \"$NEW_TOKEN\" | keyward rotate -f deploy/ --secret ci/github --from-stdin
  keyward rotate -f deploy/ --secret payments/db --generate --dry-run
  keyward --output json rotate -f deploy/ --secret payments/db --generate --audit-log audit.jsonl
  keyward rotate --cluster --secret payments/db --key password --generate

Exit codes: 0 rotated, 11 the ExternalSecret or its entry cannot be rotated (not found, a
generator, several keys without --key), 20 a store call failed or the store refused the
write, 30 the projection could not be written or a consumer did not restart. Store and
projection are left as they were for every failure before step 4.";

/// `keyward rotate …`
#[derive(Debug, Args)]
#[command(
    about = "Rotate a secret at its source; the projection and its consumers follow",
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    group(ArgGroup::new("new_value").required(true).args(["generate", "from_stdin"])),
    group(ArgGroup::new("where").required(true).args(["paths", "cluster"]))
)]
pub struct RotateArgs {
    /// Manifest files or directories (*.yaml, *.yml); repeatable. The projection on this
    /// host follows.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Rotate through the cluster of KUBECONFIG (or the pod's): the ExternalSecret and its
    /// store are read from there, the operator makes the Secret follow (force-sync) and
    /// restarts the workloads that follow it, and rotate waits for them.
    #[arg(long, conflicts_with_all = ["on_change", "signal", "pidfile"])]
    cluster: bool,

    /// With --cluster: how long the restarted workloads may take to roll out (Go duration).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = keyward_api::parse_go_duration, requires = "cluster")]
    rollout_timeout: Duration,

    /// The ExternalSecret whose source value is rotated.
    #[arg(long, value_name = "NAMESPACE/NAME")]
    secret: String,

    /// The secretKey of its `data` entry (needed when it has more than one).
    #[arg(long, value_name = "KEY")]
    key: Option<String>,

    /// A new password from the OS CSPRNG (ESO's Password generator: a quarter digits, a
    /// quarter symbols).
    #[arg(long)]
    generate: bool,

    /// The length of a --generate'd password.
    #[arg(long, value_name = "N", default_value_t = 32, requires = "generate")]
    length: i64,

    /// The new value from standard input (one trailing newline removed).
    #[arg(long)]
    from_stdin: bool,

    /// Take over a key the store does not mark as managed by keyward: tag it
    /// managed-by=keyward, then write it.
    #[arg(long)]
    force: bool,

    /// Say what would be done, and do nothing.
    #[arg(long)]
    dry_run: bool,

    /// How long the write and the projection may take together (Go duration).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = keyward_api::parse_go_duration)]
    timeout: Duration,

    /// Where and how the target is written.
    #[command(flatten)]
    target: TargetArgs,

    /// After the target changed, run this shell command (changed paths in $KEYWARD_CHANGED).
    #[arg(long, value_name = "COMMAND", conflicts_with = "signal")]
    on_change: Option<String>,

    /// After the target changed, send this signal to the process in --pidfile.
    #[arg(long, value_name = "SIG", requires = "pidfile", value_parser = super::sync::parse_signal)]
    signal: Option<nix::sys::signal::Signal>,

    /// The file holding the process id that --signal is sent to.
    #[arg(long, value_name = "FILE", requires = "signal")]
    pidfile: Option<PathBuf>,

    /// Where store credentials come from.
    #[command(flatten)]
    credentials: StoreCredentialArgs,

    /// Where keyward keeps its fingerprint and audit keys.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,

    /// Append each step to this signed audit log (see `keyward audit`).
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
}

/// What is rotated: the ExternalSecret, its entry and the store it reads.
struct Subject {
    index: usize,
    name: String,
    entry: ExternalSecretData,
    store: StoreRef,
}

impl Subject {
    fn property(&self) -> Option<&str> {
        self.entry
            .remote_ref
            .property
            .as_deref()
            .filter(|p| !p.is_empty())
    }

    fn remote(&self) -> String {
        match self.property() {
            Some(property) => format!("{} property {property}", self.entry.remote_ref.key),
            None => self.entry.remote_ref.key.clone(),
        }
    }

    fn store_label(&self, namespace: &str) -> String {
        match self.store.kind {
            keyward_api::StoreKind::SecretStore => {
                format!("SecretStore/{namespace}/{}", self.store.name)
            }
            keyward_api::StoreKind::ClusterSecretStore => {
                format!("ClusterSecretStore/{}", self.store.name)
            }
        }
    }
}

/// One step as reported and audited.
struct Step {
    step: &'static str,
    ok: bool,
    detail: String,
}

/// The steps so far, printed and audited as they happen.
struct Journal<'a> {
    output: &'a Output,
    audit: Option<super::audit::SyncAudit>,
    subject: String,
    steps: Vec<Step>,
}

impl Journal<'_> {
    fn record(&mut self, step: &'static str, ok: bool, detail: String, extra: &[(&str, String)]) {
        if self.output.format != OutputFormat::Json {
            let mark = if ok { "ok" } else { "FAILED" };
            println!("{step:<12} {mark:<6} {detail}");
        }
        if let Some(audit) = &self.audit {
            let mut fields = serde_json::Map::new();
            fields.insert("ok".into(), ok.into());
            fields.insert("detail".into(), detail.clone().into());
            for (name, value) in extra {
                fields.insert((*name).into(), value.clone().into());
            }
            let record = Record {
                event: format!("rotation.{step}"),
                subject: self.subject.clone(),
                detail: fields,
            };
            if let Err(failure) = super::audit::append_signed(&audit.path, &audit.key, &[record]) {
                eprintln!("keyward: error: {}", failure.message());
            }
        }
        self.steps.push(Step { step, ok, detail });
    }

    fn finish(self, exit: ExitCode) -> Done {
        if self.output.format == OutputFormat::Json {
            let steps: Vec<_> = self
                .steps
                .iter()
                .map(|s| serde_json::json!({"step": s.step, "ok": s.ok, "detail": s.detail}))
                .collect();
            println!(
                "{}",
                serde_json::json!({"externalSecret": self.subject, "rotated": exit == ExitCode::Success, "steps": steps})
            );
        }
        Done::Exit(exit)
    }
}

/// Runs `keyward rotate`.
pub fn run(args: RotateArgs, output: &Output) -> Result<Done, Failure> {
    let new_value = new_value(&args)?;
    if args.cluster {
        return cluster::run(&args, new_value, output);
    }
    let credentials = args.credentials.host_credentials()?;
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(crate::state::default_state_dir);
    let fingerprint_key = run::fingerprint_key(&state_dir).map_err(|e| {
        Failure::new(
            ErrorKind::Write,
            anyhow!(e).context("preparing the fingerprint key"),
        )
    })?;
    let audit = audit_of(args.audit_log.as_ref(), &state_dir)?;
    let options = run::RunOptions {
        paths: args.paths.clone(),
        out: args.target.out.clone(),
        layout: layout_of(args.target.format),
        namespace: args.target.namespace.clone(),
        credentials,
        allow_plaintext_secrets: args.credentials.allow_plaintext_secrets,
        fingerprint_key,
        wait_for_lock: true,
        record_reads: audit.is_some(),
    };
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let _lock = run::lock_out(&args.target.out, true)
            .await
            .map_err(|e| Failure::new(ErrorKind::Write, anyhow!(e).context("--out")))?;
        let session = Session::load(options);
        for warning in &session.warnings {
            eprintln!("keyward: warning: {warning}");
        }
        let subject = find_subject(&session, &args)?;
        let journal = Journal {
            output,
            audit,
            subject: subject.name.clone(),
            steps: Vec::new(),
        };
        rotate(&args, &session, &subject, new_value, journal).await
    })
}

/// The audit log each step is appended to, with its signing key from `state_dir`.
fn audit_of(
    log: Option<&PathBuf>,
    state_dir: &std::path::Path,
) -> Result<Option<super::audit::SyncAudit>, Failure> {
    log.map(|path| {
        Ok(super::audit::SyncAudit {
            path: path.clone(),
            key: super::audit::signing_key(Some(state_dir))?,
        })
    })
    .transpose()
}

/// The largest value `--from-stdin` takes.
const MAX_STDIN_BYTES: usize = 1 << 20;

/// The new value, from the CSPRNG or standard input.
fn new_value(args: &RotateArgs) -> Result<SecretValue, Failure> {
    if args.generate {
        let spec = PasswordSpec {
            length: args.length,
            ..PasswordSpec::default()
        };
        return keyward_sync::generate::generate_password(&spec)
            .map_err(|reason| Failure::new(ErrorKind::Usage, anyhow!("--generate: {reason}")));
    }
    // Read into a buffer that never grows (a growing Vec frees its old blocks unwiped),
    // one byte past the limit to tell a value that is too large from one that fits.
    let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(MAX_STDIN_BYTES + 1));
    std::io::stdin()
        .take(MAX_STDIN_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            Failure::new(
                ErrorKind::Usage,
                anyhow!(e).context("reading standard input"),
            )
        })?;
    if bytes.len() > MAX_STDIN_BYTES {
        return Err(Failure::new(
            ErrorKind::Usage,
            anyhow!("--from-stdin: the value is larger than 1 MiB; nothing was written"),
        ));
    }
    let mut value = SecretValue::new(bytes.to_vec());
    let trimmed = value
        .expose_bytes()
        .strip_suffix(b"\n")
        .map(|rest| rest.strip_suffix(b"\r").unwrap_or(rest).to_vec());
    if let Some(trimmed) = trimmed {
        value = SecretValue::new(trimmed);
    }
    if value.expose_bytes().is_empty() {
        return Err(Failure::new(
            ErrorKind::Usage,
            anyhow!("--from-stdin: standard input is empty; nothing to rotate to"),
        ));
    }
    Ok(value)
}

fn invalid(message: String) -> Failure {
    Failure::new(ErrorKind::InvalidConfig, anyhow!(message))
}

/// The ExternalSecret named by --secret, its entry (--key) and the store that entry reads.
fn find_subject(session: &Session, args: &RotateArgs) -> Result<Subject, Failure> {
    let (namespace, name) = namespace_and_name(args)?;
    let found = session
        .external_secrets()
        .into_iter()
        .enumerate()
        .find(|(_, es)| {
            es.metadata.namespace.as_deref() == Some(namespace)
                && es.metadata.name.as_deref() == Some(name)
        });
    let Some((index, es)) = found else {
        return Err(invalid(format!(
            "no ExternalSecret {namespace}/{name} in the manifests given with -f"
        )));
    };
    subject_of(es, index, args)
}

/// Splits `--secret` into namespace and name.
fn namespace_and_name(args: &RotateArgs) -> Result<(&str, &str), Failure> {
    let wanted = args.secret.trim();
    wanted
        .split_once('/')
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| {
            Failure::new(
                ErrorKind::Usage,
                anyhow!("--secret {wanted:?}: expected NAMESPACE/NAME"),
            )
        })
}

/// The entry of `es` that --key names and the store it reads.
fn subject_of(es: &ExternalSecret, index: usize, args: &RotateArgs) -> Result<Subject, Failure> {
    let wanted = args.secret.trim();
    let entry = pick_entry(es, args.key.as_deref(), wanted)?;
    if entry
        .source_ref
        .as_ref()
        .is_some_and(|source| source.generator_ref.is_some())
    {
        return Err(invalid(format!(
            "{wanted}: key {} comes from a generator, which makes a new value on every refresh; there is no source to rotate",
            entry.secret_key
        )));
    }
    let store = entry
        .source_ref
        .as_ref()
        .and_then(|source| source.store_ref.clone())
        .or_else(|| es.spec.secret_store_ref.clone())
        .ok_or_else(|| invalid(format!("{wanted}: key {} names no store", entry.secret_key)))?;
    Ok(Subject {
        index,
        name: wanted.to_owned(),
        entry,
        store,
    })
}

fn pick_entry(
    es: &ExternalSecret,
    key: Option<&str>,
    wanted: &str,
) -> Result<ExternalSecretData, Failure> {
    let entries = &es.spec.data;
    let keys = || {
        entries
            .iter()
            .map(|e| e.secret_key.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match key {
        Some(key) => entries
            .iter()
            .find(|e| e.secret_key == key)
            .cloned()
            .ok_or_else(|| {
                invalid(format!(
                    "{wanted} has no data entry with secretKey {key} (it has: {})",
                    keys()
                ))
            }),
        None if entries.len() == 1 => Ok(entries[0].clone()),
        None if entries.is_empty() => Err(invalid(format!(
            "{wanted} has no data entries; keyward rotate rotates the value of one data[].remoteRef"
        ))),
        None => Err(invalid(format!(
            "{wanted} has several data entries ({}): choose one with --key",
            keys()
        ))),
    }
}

fn store_failure(step: &str, error: &ProviderError) -> Failure {
    Failure::new(ErrorKind::Store, anyhow!("{step}: {error}"))
}

async fn rotate(
    args: &RotateArgs,
    session: &Session,
    subject: &Subject,
    new_value: SecretValue,
    mut journal: Journal<'_>,
) -> Result<Done, Failure> {
    let namespace = subject.name.split('/').next().unwrap_or_default();
    let store_label = subject.store_label(namespace);
    let provider = session
        .stores()
        .provider(&subject.store, namespace)
        .map_err(|e| store_failure("opening the store", &e))?;
    if args.dry_run {
        plan(args, subject, &store_label, &mut journal);
        return Ok(journal.finish(ExitCode::Success));
    }
    let rollback = Rollback::read(provider.as_ref(), subject, store_label).await?;
    let deadline = tokio::time::Instant::now() + args.timeout;
    if let Err(failure) =
        write_new_value(args, subject, &rollback, new_value, deadline, &mut journal).await
    {
        journal.finish(ExitCode::Store);
        return Err(failure);
    }
    let outcome = tokio::time::timeout_at(deadline, session.sync(&[subject.index]))
        .await
        .ok()
        .and_then(|mut outcomes| outcomes.pop());
    let outcome = match outcome {
        Some(outcome) if !matches!(outcome.row.status, Status::Failed(_)) => outcome,
        other => {
            let reason = match other.map(|o| o.row.status) {
                Some(Status::Failed(reason)) => format!("the projection did not follow: {reason}"),
                _ => format!(
                    "the projection did not follow within --timeout {}",
                    seconds(args.timeout)
                ),
            };
            journal.record("projection", false, reason.clone(), &[]);
            rollback.undo(&mut journal).await;
            journal.finish(ExitCode::Write);
            return Err(rolled_back(subject, &reason));
        }
    };
    record_projection(&mut journal, session, &outcome);
    follow_consumers(args, &outcome, journal).await
}

/// `--dry-run`: the steps, said and not done.
fn plan(args: &RotateArgs, subject: &Subject, store_label: &str, journal: &mut Journal<'_>) {
    let force = if args.force {
        ", tagging it managed-by=keyward first"
    } else {
        ""
    };
    let remote = subject.remote();
    let steps = [
        Some(format!(
            "would write a new version of {remote} in {store_label}{force}"
        )),
        Some(format!(
            "would sync {} into {}",
            subject.name,
            args.target.out.display()
        )),
        hook_of(args).map(|hook| format!("would then {}", describe_hook(&hook))),
    ];
    for step in steps.into_iter().flatten() {
        journal.record("plan", true, step, &[]);
    }
}

/// What puts the store back as it was: the value it held before the rotation, read first
/// and kept in memory only.
struct Rollback<'a> {
    provider: &'a dyn Provider,
    key: &'a str,
    previous: SecretValue,
    store_label: String,
}

impl<'a> Rollback<'a> {
    /// Reads the current value of the subject's key (a key that does not exist cannot be
    /// rotated: exit 11).
    async fn read(
        provider: &'a dyn Provider,
        subject: &'a Subject,
        store_label: String,
    ) -> Result<Self, Failure> {
        let key = subject.entry.remote_ref.key.as_str();
        match provider.fetch(key, None).await {
            Ok(fetched) => Ok(Self {
                provider,
                key,
                previous: push::stored_bytes(&fetched),
                store_label,
            }),
            Err(error) if error.kind == ProviderErrorKind::NotFound => Err(invalid(format!(
                "{}: {} does not exist in {store_label}; nothing to rotate (create it first, or with a PushSecret)",
                subject.name,
                subject.remote()
            ))),
            Err(error) => Err(store_failure("reading the current value", &error)),
        }
    }

    /// Writes the previous value back as the current version (a new version with the old
    /// content: stores keep versions, so nothing is deleted).
    async fn undo(&self, journal: &mut Journal<'_>) {
        match push::write_entry(self.provider, self.key, None, &self.previous, None).await {
            Ok(()) => journal.record(
                "restore",
                true,
                format!(
                    "the previous value of {} is the current version of {} again",
                    self.key, self.store_label
                ),
                &[],
            ),
            Err(error) => journal.record(
                "restore",
                false,
                format!("could not put the previous value back: {error}"),
                &[],
            ),
        }
    }
}

/// Takes the key over (`--force`), writes the new value and records the version it became;
/// a timeout puts the previous value back.
async fn write_new_value(
    args: &RotateArgs,
    subject: &Subject,
    rollback: &Rollback<'_>,
    new_value: SecretValue,
    deadline: tokio::time::Instant,
    journal: &mut Journal<'_>,
) -> Result<(), Failure> {
    let (provider, key, store_label) = (rollback.provider, rollback.key, &rollback.store_label);
    if args.force {
        let adopted = tokio::time::timeout_at(deadline, provider.adopt(key))
            .await
            .map_err(|_| timed_out(args, "taking over the key"))?;
        if let Err(error) = adopted {
            journal.record("adopt", false, error.to_string(), &[]);
            return Err(store_failure("--force", &error));
        }
        let detail = format!("{key} in {store_label} tagged managed-by=keyward");
        journal.record("adopt", true, detail, &[("store", store_label.clone())]);
    }
    let write = push::write_entry(provider, key, subject.property(), &new_value, None);
    match tokio::time::timeout_at(deadline, write).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            journal.record(
                "store",
                false,
                error.to_string(),
                &[("store", store_label.clone())],
            );
            return Err(store_failure(
                "writing the new value (the store keeps its previous value)",
                &error,
            ));
        }
        Err(_) => {
            rollback.undo(journal).await;
            return Err(timed_out(args, "writing the new value"));
        }
    }
    drop(new_value);
    let version = provider
        .describe(key, None)
        .await
        .ok()
        .and_then(|info| info.version)
        .unwrap_or_default();
    let shown = match version.as_str() {
        "" => String::new(),
        v => format!(" (version {v})"),
    };
    let remote = subject.remote();
    journal.record(
        "store",
        true,
        format!("new value of {remote} written to {store_label}{shown}"),
        &[
            ("store", store_label.clone()),
            ("key", key.to_owned()),
            ("version", version),
        ],
    );
    Ok(())
}

/// The failure of a rotation whose projection did not follow, after the store was put back.
fn rolled_back(subject: &Subject, reason: &str) -> Failure {
    Failure::new(
        ErrorKind::Write,
        anyhow!(
            "{}: {reason}; the store's previous value is its current version again",
            subject.name
        ),
    )
}

fn timed_out(args: &RotateArgs, step: &str) -> Failure {
    Failure::new(
        ErrorKind::Store,
        anyhow!(
            "{step} did not finish within --timeout {}",
            seconds(args.timeout)
        ),
    )
}

fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}

/// The projection step, audited with the target, its fingerprint and the store reads made.
fn record_projection(journal: &mut Journal<'_>, session: &Session, outcome: &Outcome) {
    let row = &outcome.row;
    let fingerprint = row.fingerprint.clone().unwrap_or_default();
    let detail = match row.status {
        Status::Synced => format!("{} written ({} keys, {fingerprint})", row.target, row.keys),
        _ => format!("{} unchanged: the new value does not reach it", row.target),
    };
    if let Some(audit) = &journal.audit
        && let Err(failure) = audit.record(&session.take_reads(), std::iter::once(row))
    {
        eprintln!("keyward: error: {}", failure.message());
    }
    journal.record(
        "projection",
        true,
        detail,
        &[("target", row.target.clone()), ("fingerprint", fingerprint)],
    );
}

fn hook_of(args: &RotateArgs) -> Option<ChangeHook> {
    match (&args.on_change, args.signal, &args.pidfile) {
        (Some(command), _, _) => Some(ChangeHook::Command(command.clone())),
        (None, Some(signal), Some(pidfile)) => Some(ChangeHook::Signal {
            signal,
            pidfile: pidfile.clone(),
        }),
        _ => None,
    }
}

fn describe_hook(hook: &ChangeHook) -> String {
    match hook {
        ChangeHook::Command(command) => format!("run --on-change {command:?}"),
        ChangeHook::Signal { signal, pidfile } => {
            format!("send {signal} to the process in {}", pidfile.display())
        }
    }
}

/// Restarts the consumers when the target changed; a failure here leaves the new value in
/// place (see the module comment) and exits 30.
async fn follow_consumers(
    args: &RotateArgs,
    outcome: &Outcome,
    mut journal: Journal<'_>,
) -> Result<Done, Failure> {
    let Some(hook) = hook_of(args) else {
        return Ok(journal.finish(ExitCode::Success));
    };
    if !matches!(outcome.row.status, Status::Synced) {
        journal.record(
            "consumers",
            true,
            "target unchanged: nothing to restart".into(),
            &[],
        );
        return Ok(journal.finish(ExitCode::Success));
    }
    match watch::run_hook_once(&hook, std::slice::from_ref(&outcome.row.target)).await {
        Ok(done) => {
            journal.record("consumers", true, done, &[]);
            Ok(journal.finish(ExitCode::Success))
        }
        Err(reason) => {
            journal.record("consumers", false, reason.clone(), &[]);
            journal.finish(ExitCode::Write);
            Err(Failure::new(
                ErrorKind::Write,
                anyhow!(
                    "{}: rotated, but the consumers did not follow: {reason}",
                    args.secret
                ),
            ))
        }
    }
}
