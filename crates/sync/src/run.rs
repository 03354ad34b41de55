//! One `keyward sync --once` run: load manifests, resolve every ExternalSecret, project the
//! targets, report a row per ExternalSecret. One failing ExternalSecret never stops the others,
//! and a failure never touches what is already projected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyward_api::{Document, ExternalSecret, load};
use keyward_core::{ExitCode, FingerprintKey, SecretValue};

use crate::credentials::HostCredentials;
use crate::host::{self, Layout};
use crate::stores::StoreSet;
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
    pub namespace: String,
    /// Store credentials.
    pub credentials: HostCredentials,
    /// Whether `v1/Secret` manifests may provide credentials.
    pub allow_plaintext_secrets: bool,
    /// The key of the fingerprints in the report.
    pub fingerprint_key: FingerprintKey,
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
}

/// Runs one sync of every ExternalSecret (`keyward sync --once`).
pub async fn run(options: RunOptions) -> Report {
    let session = Session::load(options);
    let all: Vec<usize> = (0..session.external_secrets().len()).collect();
    let mut rows = session.load_rows.clone();
    let mut exit = session.load_exit;
    for outcome in session.sync(&all).await {
        exit = worse(exit, outcome.exit);
        rows.push(outcome.row);
    }
    Report {
        rows,
        warnings: session.warnings.clone(),
        calls: session.calls(),
        exit,
    }
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

/// Loaded manifests and their stores, kept between refreshes so `--watch` reuses each
/// store's client (and its cached token) and its call discipline.
pub struct Session {
    sink: Arc<Sink>,
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
        .with_config_maps(loaded.config_maps);
        Self {
            sink: Arc::new(Sink {
                duplicates: duplicate_targets(&loaded.external_secrets, &options.namespace),
                out: options.out,
                layout: options.layout,
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
        let (namespace, _, target) = engine::target_of(es, self.stores.default_namespace());
        host::target_path_of(&self.sink.out, &namespace, &target, self.sink.layout).exists()
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
            tasks.spawn(async move { (index, engine::resolve(&es, &stores).await) });
        }
        let mut resolved = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(result) => resolved.push(result),
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
                Ok(desired) => (desired.namespace.clone(), desired.target.clone()),
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
            let sink = Arc::clone(&self.sink);
            tasks.spawn_blocking(move || {
                let _permit = permit;
                group
                    .into_iter()
                    .map(|(index, origin, result)| {
                        let (mut row, exit) = sink.outcome(result);
                        if let Status::Failed(message) = &mut row.status {
                            // Say where: the manifest file and document.
                            *message = format!("{origin}: {message}");
                        }
                        Outcome { index, row, exit }
                    })
                    .collect::<Vec<_>>()
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

/// How many targets are written at once: a few overlap fsync waits; many contend on the
/// parent directory and the journal (measured with scripts/bench-sync).
const PARALLEL_WRITES: usize = 4;

/// Where and how targets are written, shared by the writer tasks.
struct Sink {
    out: PathBuf,
    layout: Layout,
    fingerprint_key: FingerprintKey,
    duplicates: BTreeMap<(String, String), Vec<String>>,
}

impl Sink {
    fn outcome(&self, result: Result<engine::Desired, SyncError>) -> (Row, ExitCode) {
        let mut exit = ExitCode::Success;
        let row = match result {
            Ok(desired) => {
                let key = (desired.namespace.clone(), desired.target.clone());
                match self.duplicates.get(&key) {
                    Some(others) if desired.creation_policy_owns() => {
                        exit = ExitCode::InvalidConfig;
                        failed_row(
                            &desired.external_secret,
                            format!(
                                "the target {}/{} is also written by {}",
                                desired.namespace,
                                desired.target,
                                others.join(", ")
                            ),
                        )
                    }
                    _ => write_row(
                        &self.out,
                        &desired,
                        self.layout,
                        &self.fingerprint_key,
                        &mut exit,
                    ),
                }
            }
            Err(error) => {
                exit = if error.store_failure {
                    ExitCode::Store
                } else {
                    ExitCode::InvalidConfig
                };
                failed_row(
                    &error.external_secret,
                    format!("{}: {}", error.field, error.message),
                )
            }
        };
        (row, exit)
    }
}

fn write_row(
    out: &Path,
    desired: &engine::Desired,
    layout: Layout,
    key: &FingerprintKey,
    exit: &mut ExitCode,
) -> Row {
    match apply_policies(out, desired, layout) {
        Ok(Applied::Write(data)) => write_data(out, desired, &data, layout, key, exit),
        Ok(Applied::Skip(status)) => Row {
            external_secret: desired.external_secret.clone(),
            target: host::target_path(out, desired, layout)
                .display()
                .to_string(),
            keys: desired.data.len(),
            status,
            fingerprint: None,
            changed_at: None,
        },
        Err(message) => {
            *exit = worse(*exit, ExitCode::InvalidConfig);
            failed_row(&desired.external_secret, message)
        }
    }
}

/// What the target policies leave to do.
enum Applied {
    /// Write these keys.
    Write(BTreeMap<String, SecretValue>),
    /// Write nothing; report this.
    Skip(Status),
}

/// `creationPolicy`, `deletionPolicy` and `immutable`, as they mean on a host: `Owner` and
/// `Orphan` create and update; `Merge` lays the keys over an existing target and never
/// creates one; `None` writes nothing. With no keys fetched, `Delete` removes the target,
/// `Retain` keeps it and `Merge` writes what remains. An immutable target, once written, is
/// never changed.
fn apply_policies(
    out: &Path,
    desired: &engine::Desired,
    layout: Layout,
) -> Result<Applied, String> {
    use keyward_api::{CreationPolicy, DeletionPolicy};
    if desired.creation_policy == CreationPolicy::None {
        return Ok(Applied::Skip(Status::Kept(
            "creationPolicy None: nothing written".into(),
        )));
    }
    let current = host::current(out, desired, layout);
    if desired.data.is_empty() {
        match desired.deletion_policy {
            DeletionPolicy::Delete => {
                return host::remove(out, desired, layout)
                    .map(|_| Applied::Skip(Status::Deleted))
                    .map_err(|e| format!("removing the target: {e}"));
            }
            DeletionPolicy::Retain => {
                return Ok(Applied::Skip(Status::Kept(
                    "no keys fetched: deletionPolicy Retain keeps the target".into(),
                )));
            }
            DeletionPolicy::Merge => {}
        }
    }
    if desired.immutable && current.is_some() {
        return Ok(Applied::Skip(Status::Kept(
            "immutable: the target is never changed once written".into(),
        )));
    }
    if desired.creation_policy == CreationPolicy::Merge {
        let Some(mut existing) = current else {
            return Err(
                "spec.target.creationPolicy: Merge needs an existing target; keyward sync does not create it"
                    .into(),
            );
        };
        existing.extend(desired.data.clone());
        return Ok(Applied::Write(existing));
    }
    Ok(Applied::Write(desired.data.clone()))
}

fn write_data(
    out: &Path,
    desired: &engine::Desired,
    data: &BTreeMap<String, SecretValue>,
    layout: Layout,
    key: &FingerprintKey,
    exit: &mut ExitCode,
) -> Row {
    let projected = engine::Desired {
        data: data.clone(),
        ..desired.clone()
    };
    match host::project(out, &projected, layout) {
        Ok(written) => Row {
            external_secret: desired.external_secret.clone(),
            target: written.path.display().to_string(),
            keys: data.len(),
            status: if written.changed {
                Status::Synced
            } else {
                Status::Unchanged
            },
            fingerprint: Some(key.map(data)),
            changed_at: host::changed_at(&written.path),
        },
        Err(error) => {
            *exit = worse(*exit, ExitCode::Write);
            failed_row(
                &desired.external_secret,
                format!("writing the target: {error}"),
            )
        }
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

/// Targets written by more than one ExternalSecret, with the names of those writers.
fn duplicate_targets(
    list: &[ExternalSecret],
    default_namespace: &str,
) -> BTreeMap<(String, String), Vec<String>> {
    let mut writers: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    // creationPolicy Merge (and None) writers may share a target: that is what Merge is for.
    let owns = |es: &&ExternalSecret| {
        !matches!(
            es.spec.target.creation_policy,
            Some(keyward_api::CreationPolicy::Merge | keyward_api::CreationPolicy::None)
        )
    };
    for es in list.iter().filter(owns) {
        let (namespace, name, target) = engine::target_of(es, default_namespace);
        writers
            .entry((namespace.clone(), target))
            .or_default()
            .push(format!("{namespace}/{name}"));
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
    skipped: Vec<String>,
}

fn load_paths(paths: &[PathBuf], namespace: &str, errors: &mut Vec<Row>) -> Loaded {
    let mut loaded = Loaded::default();
    for file in manifest_files(paths, errors) {
        let origin = file.display().to_string();
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) => {
                errors.push(failed_row(&origin, format!("cannot read: {error}")));
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

fn add(loaded: &mut Loaded, document: Document, origin: &str, default_namespace: &str) {
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
                .unwrap_or_else(|| default_namespace.to_owned());
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
                .unwrap_or_else(|| default_namespace.to_owned());
            let name = config_map.metadata.name.clone().unwrap_or_default();
            loaded
                .config_maps
                .insert((namespace, name), config_map.data.unwrap_or_default());
        }
        Document::Other { api_version, kind } => loaded
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
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            collect_yaml(path, &mut found);
            found.sort();
            files.extend(found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            errors.push(failed_row(
                &path.display().to_string(),
                "no such file or directory".into(),
            ));
        }
    }
    files
}

fn collect_yaml(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_yaml(&path, found);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            found.push(path);
        }
    }
}

/// The fingerprint key in `state_dir/fingerprint.key`, created (32 random bytes, 0600) on
/// first use. It must live where readers of the projections cannot read it.
pub fn fingerprint_key(state_dir: &Path) -> std::io::Result<FingerprintKey> {
    use std::os::unix::fs::DirBuilderExt;
    let path = state_dir.join("fingerprint.key");
    if !path.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)?;
        let mut bytes = vec![0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        keyward_bundle::write_atomic(&path, &bytes)?;
    }
    let bytes = SecretValue::new(std::fs::read(&path)?);
    FingerprintKey::new(bytes)
        .ok_or_else(|| std::io::Error::other(format!("{} is too short", path.display())))
}
