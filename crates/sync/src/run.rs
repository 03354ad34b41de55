//! One `keyward sync --once` run: load manifests, resolve every ExternalSecret, project the
//! targets, report a row per ExternalSecret. One failing ExternalSecret never stops the others,
//! and a failure never touches what is already projected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyward_api::{Document, ExternalSecret, NamespaceName, load};
use keyward_core::{ExitCode, FingerprintKey, SecretValue};
pub use keyward_providers::StoreRead;

use crate::credentials::HostCredentials;
use crate::host::{self, Layout};
use crate::sink::{self, Projection};
use crate::stores::{StoreLookup, StoreSet};
use crate::{SyncError, engine};

/// What a run needs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Manifest files and directories (searched for `*.yaml`, `*.yml`).
    pub paths: Vec<PathBuf>,
    /// Where targets are written.
    pub out: PathBuf,
    /// How targets are written.
    pub layout: Layout,
    /// The namespace of manifests that name none.
    pub namespace: NamespaceName,
    /// Store credentials.
    pub credentials: HostCredentials,
    /// Whether `v1/Secret` manifests may provide credentials.
    pub allow_plaintext_secrets: bool,
    /// The key of the fingerprints in the report.
    pub fingerprint_key: FingerprintKey,
    /// Whether to wait for another run writing the same `out` ([`host::OutLock`]) rather
    /// than fail at once.
    pub wait_for_lock: bool,
    /// Keep every store read for the audit log ([`Session::take_reads`], [`Report::reads`]).
    pub record_reads: bool,
}

/// The outcome of one ExternalSecret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Written: the target changed.
    Synced,
    /// The target already held the desired values.
    Unchanged,
    /// Not written on purpose (creationPolicy None, immutable, deletionPolicy Retain with no
    /// keys); the message says why.
    Kept(String),
    /// Removed: its sources are gone and `deletionPolicy` is `Delete`.
    Deleted,
    /// Nothing was written; the message says why.
    Failed(String),
}

/// One row of the report.
#[derive(Clone, Debug)]
pub struct Row {
    /// `namespace/name` of the ExternalSecret (or the manifest file for load errors).
    pub external_secret: String,
    /// The target path.
    pub target: String,
    /// Keys in the target.
    pub keys: usize,
    /// What happened.
    pub status: Status,
    /// The keyed fingerprint of the target's values.
    pub fingerprint: Option<String>,
    /// When the target's content last changed (its projection's modification time).
    pub changed_at: Option<std::time::SystemTime>,
    /// The version id of each source value read (store, key, version), where stores name one.
    pub source_versions: engine::SourceVersions,
}

/// The whole run.
#[derive(Debug)]
pub struct Report {
    /// One row per ExternalSecret (and per manifest that could not be loaded).
    pub rows: Vec<Row>,
    /// Warnings for people (plaintext Secrets used, documents skipped).
    pub warnings: Vec<String>,
    /// Store calls by provider, call and status.
    pub calls: String,
    /// 0 all synced, 20 a store failed, 11 a manifest is invalid.
    pub exit: ExitCode,
    /// The store reads made, when [`RunOptions::record_reads`].
    pub reads: Vec<StoreRead>,
}

/// Runs one sync of every ExternalSecret (`keyward sync --once`), holding the lock of `out`
/// for the whole run. Fails only when that lock cannot be had.
pub async fn run(options: RunOptions) -> std::io::Result<Report> {
    let _lock = lock_out(&options.out, options.wait_for_lock).await?;
    let session = Session::load(options);
    // `refreshPolicy: CreatedOnce` writes a target once, as under --watch and in ESO: a run
    // that finds it leaves it (a generated password is not replaced by the next cron run).
    let (due, created): (Vec<usize>, Vec<usize>) = (0..session.external_secrets().len())
        .partition(|&index| !session.created_once_and_exists(index));
    let mut rows = session.load_rows.clone();
    let mut exit = session.load_exit;
    let mut outcomes = session.sync(&due).await;
    outcomes.extend(
        created
            .into_iter()
            .filter_map(|index| session.kept_once(index)),
    );
    outcomes.sort_by_key(|outcome| outcome.index);
    for outcome in outcomes {
        exit = worse(exit, outcome.exit);
        rows.push(outcome.row);
    }
    Ok(Report {
        rows,
        warnings: session.warnings.clone(),
        calls: session.calls(),
        exit,
        reads: session.take_reads(),
    })
}

/// Takes the lock of `out` off the async threads (waiting blocks).
pub async fn lock_out(out: &Path, wait: bool) -> std::io::Result<host::OutLock> {
    let out = out.to_owned();
    if wait {
        match host::OutLock::acquire(&out, false) {
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                tracing::info!(out = %out.display(), "another keyward sync is writing here; waiting for it");
            }
            other => return other,
        }
    }
    tokio::task::spawn_blocking(move || host::OutLock::acquire(&out, wait))
        .await
        .map_err(std::io::Error::other)?
}

/// The outcome of one ExternalSecret in one round.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Its index in [`Session::external_secrets`].
    pub index: usize,
    /// The report row.
    pub row: Row,
    /// Its exit code (success, invalid, store, write).
    pub exit: ExitCode,
}

/// What a target on this host holds (for checks that compare it with its stores).
pub struct Projected {
    /// Its keys and values.
    pub data: BTreeMap<String, SecretValue>,
    /// When it last changed.
    pub changed_at: Option<std::time::SystemTime>,
}

/// Loaded manifests and their stores, kept between refreshes so `--watch` reuses each
/// store's client (and its cached token) and its call discipline.
pub struct Session {
    writer: Arc<Writer>,
    external_secrets: Vec<Arc<ExternalSecret>>,
    /// `file document N` of each ExternalSecret.
    origins: Vec<String>,
    stores: Arc<StoreSet>,
    /// Rows for manifests that could not be loaded.
    pub load_rows: Vec<Row>,
    /// Warnings for people (plaintext Secrets used, documents skipped).
    pub warnings: Vec<String>,
    /// Success, or InvalidConfig when a manifest could not be loaded.
    pub load_exit: ExitCode,
}

impl Session {
    /// Loads the manifests under `options.paths` and prepares their stores (built on first
    /// use). Load problems become rows, never a failure of the whole session.
    pub fn load(mut options: RunOptions) -> Self {
        let mut rows = Vec::new();
        let mut warnings = Vec::new();
        let loaded = load_paths(&options.paths, &options.namespace, &mut rows);
        if !loaded.secrets.is_empty() {
            if options.allow_plaintext_secrets {
                warnings.push(format!(
                    "{} plaintext Secret manifests were used as store credentials; keep such files out of Git",
                    loaded.secrets.len()
                ));
                options.credentials.secrets.extend(loaded.secrets);
            } else {
                rows.push(failed_row(
                    "(plaintext Secrets)",
                    "v1/Secret manifests were given; pass --allow-plaintext-secrets to use them as store credentials".into(),
                ));
            }
        }
        for skipped in &loaded.skipped {
            warnings.push(format!("skipped {skipped}: not a kind keyward sync uses"));
        }
        let stores = StoreSet::new(
            loaded.stores,
            loaded.cluster_stores,
            &options.namespace,
            Arc::new(options.credentials),
        )
        .with_config_maps(loaded.config_maps)
        .with_generators(loaded.generators);
        let stores = if options.record_reads {
            stores.recording_reads()
        } else {
            stores
        };
        Self {
            writer: Arc::new(Writer {
                duplicates: duplicate_targets(&loaded.external_secrets, &options.namespace),
                sink: host::HostSink {
                    out: options.out,
                    layout: options.layout,
                },
                fingerprint_key: options.fingerprint_key,
            }),
            external_secrets: loaded.external_secrets.into_iter().map(Arc::new).collect(),
            origins: loaded.origins,
            stores: Arc::new(stores),
            load_exit: if rows.is_empty() {
                ExitCode::Success
            } else {
                ExitCode::InvalidConfig
            },
            load_rows: rows,
            warnings,
        }
    }

    /// The ExternalSecrets, in manifest order.
    pub fn external_secrets(&self) -> Vec<&ExternalSecret> {
        self.external_secrets.iter().map(AsRef::as_ref).collect()
    }

    /// Where the target of ExternalSecret `index` is projected, and whether it exists.
    pub fn target_exists(&self, index: usize) -> bool {
        let Some(es) = self.external_secrets.get(index) else {
            return false;
        };
        let Ok(target) = engine::target_of(es, self.stores.default_namespace()) else {
            return false;
        };
        let sink = &self.writer.sink;
        host::target_path_of(&sink.out, &target.namespace, &target.target, sink.layout).exists()
    }

    /// Whether the ExternalSecret at `index` is `refreshPolicy: CreatedOnce` and its target
    /// exists: nothing to do for it.
    pub fn created_once_and_exists(&self, index: usize) -> bool {
        self.external_secrets.get(index).is_some_and(|es| {
            es.spec.refresh_policy == Some(keyward_api::RefreshPolicy::CreatedOnce)
        }) && self.target_exists(index)
    }

    /// The report of a `CreatedOnce` ExternalSecret whose target exists: kept as it is.
    fn kept_once(&self, index: usize) -> Option<Outcome> {
        let es = self.external_secrets.get(index)?;
        let target = engine::target_of(es, self.stores.default_namespace()).ok()?;
        let sink = &self.writer.sink;
        let location =
            host::target_path_of(&sink.out, &target.namespace, &target.target, sink.layout);
        Some(Outcome {
            index,
            row: Row {
                external_secret: name_of(es),
                target: location.display().to_string(),
                keys: 0,
                status: Status::Kept(
                    "refreshPolicy CreatedOnce: the target exists, so it is not written again"
                        .to_owned(),
                ),
                fingerprint: None,
                changed_at: None,
                source_versions: Default::default(),
            },
            exit: ExitCode::Success,
        })
    }

    /// The stores of the manifests, for checks that read them without syncing.
    pub fn stores(&self) -> &StoreSet {
        &self.stores
    }

    /// `FILE document N` of ExternalSecret `index`.
    pub fn origin(&self, index: usize) -> &str {
        self.origins.get(index).map_or("", String::as_str)
    }

    /// The key of the fingerprints of this session's targets.
    pub fn fingerprint_key(&self) -> &FingerprintKey {
        &self.writer.fingerprint_key
    }

    /// What the target of ExternalSecret `index` holds now and when it last changed; `None`
    /// when it is not projected (or the ExternalSecret names no valid target).
    pub fn projected(&self, index: usize) -> std::io::Result<Option<Projected>> {
        let Some(es) = self.external_secrets.get(index) else {
            return Ok(None);
        };
        let Ok(target) = engine::target_of(es, self.stores.default_namespace()) else {
            return Ok(None);
        };
        let sink = &self.writer.sink;
        let path = host::target_path_of(&sink.out, &target.namespace, &target.target, sink.layout);
        Ok(
            host::read_target(&path, sink.layout)?.map(|data| Projected {
                changed_at: host::changed_at(&path),
                data,
            }),
        )
    }

    /// The store reads made since the last call, when [`RunOptions::record_reads`].
    pub fn take_reads(&self) -> Vec<StoreRead> {
        self.stores.counters().take_reads()
    }

    /// Store calls made so far, in Prometheus text format.
    pub fn calls(&self) -> String {
        self.stores.counters().render_prometheus()
    }

    /// Resolves the ExternalSecrets at `indices` concurrently, then projects them in manifest
    /// order. A failure touches nothing already projected.
    pub async fn sync(&self, indices: &[usize]) -> Vec<Outcome> {
        let mut tasks = tokio::task::JoinSet::new();
        for &index in indices {
            let Some(es) = self.external_secrets.get(index) else {
                continue;
            };
            let es = Arc::clone(es);
            let stores = Arc::clone(&self.stores);
            tasks.spawn(async move {
                let result = isolated(engine::resolve(&es, stores.as_ref()), &name_of(&es)).await;
                (index, result)
            });
        }
        let mut resolved = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(result) => resolved.push(result),
                // Only cancellation gets here (panics are caught in the task).
                Err(error) => tracing::error!(%error, "an ExternalSecret task stopped"),
            }
        }
        resolved.sort_by_key(|(index, _)| *index);
        self.write_all(resolved).await
    }

    /// Projects resolved targets. Distinct targets are written in parallel, so their fsyncs
    /// overlap; the writes to one target keep manifest order (Merge writers layer in order).
    async fn write_all(
        &self,
        resolved: Vec<(usize, Result<engine::Desired, SyncError>)>,
    ) -> Vec<Outcome> {
        let mut groups: BTreeMap<(String, String), Vec<_>> = BTreeMap::new();
        for (index, result) in resolved {
            let target = match &result {
                Ok(desired) => (desired.namespace.to_string(), desired.target.to_string()),
                Err(_) => (String::new(), format!("#{index}")),
            };
            let origin = self.origins.get(index).cloned().unwrap_or_default();
            groups
                .entry(target)
                .or_default()
                .push((index, origin, result));
        }
        let writers = Arc::new(tokio::sync::Semaphore::new(PARALLEL_WRITES));
        let mut tasks = tokio::task::JoinSet::new();
        for group in groups.into_values() {
            let Ok(permit) = Arc::clone(&writers).acquire_owned().await else {
                break;
            };
            let writer = Arc::clone(&self.writer);
            tasks.spawn(async move {
                let _permit = permit;
                let mut outcomes = Vec::new();
                for (index, origin, result) in group {
                    let (mut row, exit) = writer.outcome(result).await;
                    if let Status::Failed(message) = &mut row.status {
                        // Say where: the manifest file and document.
                        *message = format!("{origin}: {message}");
                    }
                    outcomes.push(Outcome { index, row, exit });
                }
                outcomes
            });
        }
        let mut outcomes = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(written) => outcomes.extend(written),
                Err(error) => tracing::error!(%error, "a target writer stopped"),
            }
        }
        outcomes.sort_by_key(|outcome| outcome.index);
        outcomes
    }
}

/// Runs one ExternalSecret's resolution so that a panic (a bug, or hostile input a bug lets
/// through) fails that ExternalSecret alone: it is reported, and the others go on.
async fn isolated<F>(resolving: F, name: &str) -> Result<engine::Desired, SyncError>
where
    F: std::future::Future<Output = Result<engine::Desired, SyncError>>,
{
    futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(resolving))
        .await
        .unwrap_or_else(|_| Err(SyncError::panicked(name)))
}

/// `namespace/name` as written in the manifest, for reports about objects whose names may
/// not even be valid.
fn name_of(es: &ExternalSecret) -> String {
    format!(
        "{}/{}",
        es.metadata.namespace.as_deref().unwrap_or(""),
        es.metadata.name.as_deref().unwrap_or("")
    )
}

/// How many targets are written at once: a few overlap fsync waits; many contend on the
/// parent directory and the journal (measured with scripts/bench-sync).
const PARALLEL_WRITES: usize = 4;

/// Where and how targets are written, shared by the writer tasks.
struct Writer {
    sink: host::HostSink,
    fingerprint_key: FingerprintKey,
    duplicates: BTreeMap<(NamespaceName, keyward_api::ResourceName), Vec<String>>,
}

impl Writer {
    async fn outcome(&self, result: Result<engine::Desired, SyncError>) -> (Row, ExitCode) {
        let desired = match result {
            Ok(desired) => desired,
            Err(error) => return failed(&error),
        };
        let key = (desired.namespace.clone(), desired.target.clone());
        if let Some(others) = self.duplicates.get(&key)
            && desired.creation_policy_owns()
        {
            let message = format!(
                "the target {}/{} is also written by {}",
                desired.namespace,
                desired.target,
                others.join(", ")
            );
            return (
                failed_row(&desired.external_secret, message),
                ExitCode::InvalidConfig,
            );
        }
        let name = desired.external_secret.clone();
        let projecting = sink::project(desired, &self.sink, &self.fingerprint_key);
        let projected = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(projecting))
            .await
            .unwrap_or_else(|_| Err(SyncError::panicked(&name)));
        match projected {
            Ok(projected) => (row_of(&name, projected), ExitCode::Success),
            Err(error) => failed(&error),
        }
    }
}

fn failed(error: &SyncError) -> (Row, ExitCode) {
    (
        failed_row(
            &error.external_secret,
            format!("{}: {}", error.field, error.message),
        ),
        error.exit_code(),
    )
}

/// The report row of a projected target.
fn row_of(name: &str, projected: sink::Projected) -> Row {
    let location = projected.location;
    let source_versions = projected.source_versions;
    let (status, keys, fingerprint) = match projected.projection {
        Projection::Written {
            changed,
            keys,
            fingerprint,
        } => {
            let status = if changed {
                Status::Synced
            } else {
                Status::Unchanged
            };
            (status, keys, Some(fingerprint))
        }
        Projection::Deleted => (Status::Deleted, 0, None),
        Projection::Kept(kept) => (Status::Kept(kept.describe().into()), 0, None),
    };
    let changed_at = fingerprint
        .as_ref()
        .and_then(|_| host::changed_at(Path::new(&location)));
    Row {
        external_secret: name.to_owned(),
        target: location,
        keys,
        status,
        fingerprint,
        changed_at,
        source_versions,
    }
}

fn failed_row(name: &str, message: String) -> Row {
    Row {
        external_secret: name.to_owned(),
        target: String::new(),
        keys: 0,
        status: Status::Failed(message),
        fingerprint: None,
        changed_at: None,
        source_versions: Default::default(),
    }
}

/// The more serious of two exit codes: store failures outrank manifest problems.
fn worse(a: ExitCode, b: ExitCode) -> ExitCode {
    let rank = |code: ExitCode| match code {
        ExitCode::Success => 0,
        ExitCode::InvalidConfig => 1,
        ExitCode::Store => 2,
        _ => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// Targets written by more than one ExternalSecret, with the names of those writers. Names
/// are checked Kubernetes names, so one target has one spelling: `t`, `./t`, `t/` and
/// `x/../t` never reach here as different targets (the last three are refused at load).
fn duplicate_targets(
    list: &[ExternalSecret],
    default_namespace: &NamespaceName,
) -> BTreeMap<(NamespaceName, keyward_api::ResourceName), Vec<String>> {
    let mut writers: BTreeMap<_, Vec<String>> = BTreeMap::new();
    // creationPolicy Merge (and None) writers may share a target: that is what Merge is for.
    let owns = |es: &&ExternalSecret| {
        !matches!(
            es.spec.target.creation_policy,
            Some(keyward_api::CreationPolicy::Merge | keyward_api::CreationPolicy::None)
        )
    };
    for es in list.iter().filter(owns) {
        let Ok(target) = engine::target_of(es, default_namespace) else {
            continue; // reported when it is resolved
        };
        writers
            .entry((target.namespace.clone(), target.target.clone()))
            .or_default()
            .push(target.id());
    }
    writers.retain(|_, names| names.len() > 1);
    writers
}

#[derive(Default)]
struct Loaded {
    external_secrets: Vec<ExternalSecret>,
    /// `file document N` of each ExternalSecret, for its errors.
    origins: Vec<String>,
    stores: Vec<keyward_api::SecretStore>,
    cluster_stores: Vec<keyward_api::ClusterSecretStore>,
    secrets: BTreeMap<(String, String, String), SecretValue>,
    config_maps: BTreeMap<(String, String), BTreeMap<String, String>>,
    generators: Vec<keyward_api::GeneratorObject>,
    skipped: Vec<String>,
}

fn load_paths(paths: &[PathBuf], namespace: &NamespaceName, errors: &mut Vec<Row>) -> Loaded {
    let mut loaded = Loaded::default();
    for file in manifest_files(paths, errors) {
        let origin = file.display().to_string();
        let text = match load::read_manifest(&file) {
            Ok(text) => text,
            Err(reason) => {
                errors.push(failed_row(&origin, reason));
                continue;
            }
        };
        for document in load::documents(&text, &origin) {
            match document {
                Ok((index, document)) => {
                    add(
                        &mut loaded,
                        document,
                        &format!("{origin} document {index}"),
                        namespace,
                    );
                }
                Err(error) => errors.push(failed_row(
                    &origin,
                    format!("document {}{}: {}", error.index, error.what, error.reason),
                )),
            }
        }
    }
    loaded
}

fn add(loaded: &mut Loaded, document: Document, origin: &str, default_namespace: &NamespaceName) {
    match document {
        Document::ExternalSecret(es) => {
            loaded.external_secrets.push(*es);
            loaded.origins.push(origin.to_owned());
        }
        Document::SecretStore(store) => loaded.stores.push(*store),
        Document::ClusterSecretStore(store) => loaded.cluster_stores.push(*store),
        Document::Secret(secret) => {
            let namespace = secret
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| default_namespace.to_string());
            let name = secret.metadata.name.clone().unwrap_or_default();
            for (key, value) in secret.data.unwrap_or_default() {
                loaded.secrets.insert(
                    (namespace.clone(), name.clone(), key),
                    SecretValue::new(value.0),
                );
            }
            for (key, value) in secret.string_data.unwrap_or_default() {
                loaded.secrets.insert(
                    (namespace.clone(), name.clone(), key),
                    SecretValue::from(value),
                );
            }
        }
        Document::ConfigMap(config_map) => {
            let namespace = config_map
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| default_namespace.to_string());
            let name = config_map.metadata.name.clone().unwrap_or_default();
            loaded
                .config_maps
                .insert((namespace, name), config_map.data.unwrap_or_default());
        }
        Document::Generator(generator) => loaded.generators.push(*generator),
        Document::PushSecret(_) => loaded.skipped.push(format!(
            "PushSecret (external-secrets.io/v1alpha1) in {origin}"
        )),
        Document::Other {
            api_version, kind, ..
        } => loaded
            .skipped
            .push(format!("{kind} ({api_version}) in {origin}")),
        _ => {}
    }
}

/// The manifest files under `paths` with their modification times and sizes: when this
/// changes, `--watch` reloads.
pub fn manifest_stamp(paths: &[PathBuf]) -> Vec<(PathBuf, Option<std::time::SystemTime>, u64)> {
    manifest_files(paths, &mut Vec::new())
        .into_iter()
        .map(|file| {
            let meta = std::fs::metadata(&file).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            let len = meta.map_or(0, |m| m.len());
            (file, modified, len)
        })
        .collect()
}

fn manifest_files(paths: &[PathBuf], errors: &mut Vec<Row>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for file in load::manifest_files(paths) {
        match file {
            Ok(file) => files.push(file),
            Err(missing) => errors.push(failed_row(&missing, "no such file or directory".into())),
        }
    }
    files
}

/// The fingerprint key in `state_dir/fingerprint.key`, created (32 random bytes, 0600) on
/// first use. It must live where readers of the projections cannot read it: a key file that
/// group or others may read is refused. Two first runs at once end with one key: each writes
/// a candidate and hard-links it into place, which fails for all but the first.
pub fn fingerprint_key(state_dir: &Path) -> std::io::Result<FingerprintKey> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let path = state_dir.join("fingerprint.key");
    if std::fs::symlink_metadata(&path).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)?;
        let mut bytes = zeroize::Zeroizing::new(vec![0u8; 32]);
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut candidate = tempfile::Builder::new()
            .prefix(".fingerprint-")
            .permissions(std::fs::Permissions::from_mode(0o600))
            .tempfile_in(state_dir)?;
        std::io::Write::write_all(&mut candidate, &bytes)?;
        candidate.as_file().sync_all()?;
        match std::fs::hard_link(candidate.path(), &path) {
            Ok(()) => std::fs::File::open(state_dir)?.sync_all()?,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
    read_fingerprint_key(&path)
}

/// The fingerprint key in `state_dir/fingerprint.key`, which a `keyward sync` with this state
/// directory made; never created here (a new key could verify nothing).
pub fn existing_fingerprint_key(state_dir: &Path) -> std::io::Result<FingerprintKey> {
    let path = state_dir.join("fingerprint.key");
    if std::fs::symlink_metadata(&path).is_err() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "{} does not exist: pass the --state-dir of the keyward sync that wrote the targets",
                path.display()
            ),
        ));
    }
    read_fingerprint_key(&path)
}

/// A key for one run that fingerprints nothing kept (`keyward check --stores-only`).
pub fn throwaway_fingerprint_key() -> std::io::Result<FingerprintKey> {
    let mut bytes = vec![0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    FingerprintKey::new(SecretValue::new(bytes))
        .ok_or_else(|| std::io::Error::other("a 32-byte key is long enough"))
}

/// Reads a key file, refusing links, other files and keys that group or others may read.
fn read_fingerprint_key(path: &Path) -> std::io::Result<FingerprintKey> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(std::io::Error::other(format!(
            "{} is readable by group or others; readers of projections must not read the fingerprint key: chmod 600 it",
            path.display()
        )));
    }
    let bytes = SecretValue::new(std::fs::read(path)?);
    FingerprintKey::new(bytes)
        .ok_or_else(|| std::io::Error::other(format!("{} is too short", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_fails_one_external_secret_with_an_internal_error_and_no_message() {
        let panicking = async { panic!("kw-canary-panic-payload") };
        let error = isolated(panicking, "apps/db").await.expect_err("caught");
        assert_eq!(error.external_secret, "apps/db");
        assert_eq!(error.exit_code(), ExitCode::Write, "exit 30");
        assert!(!error.to_string().contains("kw-canary"), "{error}");
        let fine = async { Err(SyncError::invalid("apps/ok", "spec".into(), "x".into())) };
        assert_eq!(
            isolated(fine, "apps/ok")
                .await
                .expect_err("passed through")
                .exit_code(),
            ExitCode::InvalidConfig
        );
    }
}
