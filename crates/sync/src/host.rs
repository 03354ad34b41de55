//! The host sink: a target as files, swapped atomically so a reader never sees half a set.
//!
//! `dir` layout (the default) is the layout of a Secret mounted into a pod:
//!
//! ```text
//! OUT/<namespace>/<target>/
//!   ..2026_11_28_05_40_12.123456789/   the values, one file per key (0600)
//!   ..data -> ..2026_11_28_05_40_12.123456789
//!   password -> ..data/password         one link per key
//! ```
//!
//! An update writes a new timestamped directory, then renames a new `..data` link over the
//! old one (one atomic rename), then fixes the per-key links and removes the old directory.
//! `env` and `json` layouts write `<target>.env` / `<target>.json` with temp-file-and-rename.
//! Directories are 0700 (existing ones are tightened), files 0600.
//!
//! Names come typed ([`NamespaceName`], [`ResourceName`]), so a path never leaves `OUT`. Under
//! `OUT` keyward follows no symbolic link it did not make: a namespace or target that is a
//! link, a `..data` that names anything but a version directory, or an entry in a target
//! directory that keyward did not write is refused, never followed or silently kept. Two runs
//! never write one `OUT` at once: [`OutLock`].

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use keyward_api::{NamespaceName, ResourceName};
use keyward_core::SecretValue;

use crate::Desired;
use crate::sink::{Applied, Applying, Sink, SinkError};

/// How a target is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A directory with one file per key (a mounted Secret).
    Dir,
    /// A `KEY="value"` env file.
    Env,
    /// A JSON object of strings.
    Json,
}

/// What writing a target did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The file or directory.
    pub path: PathBuf,
    /// Whether the content changed (false: the projection was already current).
    pub changed: bool,
}

const DATA_LINK: &str = "..data";
const TEMP_LINK: &str = "..data_tmp";
/// The lock file in `OUT`; not a namespace name, so it never collides with one.
const LOCK_FILE: &str = ".keyward.lock";

/// The host sink: targets as files under `out`, in one [`Layout`]. File work runs on the
/// blocking pool, never on the async threads.
#[derive(Debug, Clone)]
pub struct HostSink {
    /// Where targets are written.
    pub out: PathBuf,
    /// How.
    pub layout: Layout,
}

#[async_trait::async_trait]
impl Sink for HostSink {
    async fn current(
        &self,
        desired: &Desired,
    ) -> Result<Option<BTreeMap<String, SecretValue>>, SinkError> {
        let path = target_path(&self.out, desired, self.layout);
        let layout = self.layout;
        blocking(move || read_target(&path, layout)).await
    }

    async fn apply(&self, desired: Desired, plan: Applying) -> Result<Applied, SinkError> {
        let (out, layout) = (self.out.clone(), self.layout);
        blocking(move || {
            let path = target_path(&out, &desired, layout);
            let changed = match plan {
                Applying::Write {
                    unchanged: true, ..
                } => false,
                Applying::Write { .. } => project(&out, &desired, layout)?.changed,
                Applying::Delete => remove(&out, &desired, layout)?,
            };
            Ok(Applied {
                location: path.display().to_string(),
                changed,
            })
        })
        .await
    }

    fn location(&self, desired: &Desired) -> String {
        target_path(&self.out, desired, self.layout)
            .display()
            .to_string()
    }
}

/// Runs file work on the blocking pool; an I/O error becomes a sink error that names the
/// path (it is already in the message) and is not retried.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, SinkError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(|error| SinkError::permanent(error.to_string())),
        Err(_) => Err(SinkError::permanent(
            "internal error: keyward panicked while writing this target (a bug; please report it)",
        )),
    }
}

/// Writes `desired` under `out` (the caller has checked with [`current`] that it differs).
pub fn project(out: &Path, desired: &Desired, layout: Layout) -> std::io::Result<Written> {
    prepare_out(out)?;
    private_dir(&out.join(desired.namespace.as_str()))?;
    let path = target_path(out, desired, layout);
    match layout {
        Layout::Dir => project_dir(&path, &desired.data),
        Layout::Env => write_file(&path, &env_bytes(&desired.data)?),
        Layout::Json => write_file(&path, &json_bytes(&desired.data)?),
    }
}

/// The file or directory `desired` is written to.
pub fn target_path(out: &Path, desired: &Desired, layout: Layout) -> PathBuf {
    target_path_of(out, &desired.namespace, &desired.target, layout)
}

/// The file or directory target `target` of `namespace` is written to. Checked names hold
/// no `/` and start with no `.`, so the path stays under `out`.
pub fn target_path_of(
    out: &Path,
    namespace: &NamespaceName,
    target: &ResourceName,
    layout: Layout,
) -> PathBuf {
    let namespace_dir = out.join(namespace.as_str());
    match layout {
        Layout::Dir => namespace_dir.join(target.as_str()),
        Layout::Env => namespace_dir.join(format!("{target}.env")),
        Layout::Json => namespace_dir.join(format!("{target}.json")),
    }
}

/// What the target holds now: `None` when it does not exist. A target that exists but is
/// not what keyward writes (a link, a foreign file, a `..data` pointing elsewhere, unreadable
/// or unparsable content) is an error: planning on a guess could delete or overwrite it.
pub fn current(
    out: &Path,
    desired: &Desired,
    layout: Layout,
) -> std::io::Result<Option<BTreeMap<String, SecretValue>>> {
    read_target(&target_path(out, desired, layout), layout)
}

/// What the target at `path` holds, as [`current`] reads it.
pub fn read_target(
    path: &Path,
    layout: Layout,
) -> std::io::Result<Option<BTreeMap<String, SecretValue>>> {
    let path = path.to_owned();
    let unparsable = || {
        refused(
            &path,
            "cannot be read as this layout; remove it or pick its --format",
        )
    };
    match layout {
        Layout::Dir => {
            if std::fs::symlink_metadata(&path).is_err() {
                return Ok(None);
            }
            private_dir_exists(&path)?;
            foreign_entries(&path)?;
            current_dir_data(&path)
        }
        Layout::Env => match read_regular(&path)? {
            None => Ok(None),
            Some(bytes) => keyward_bundle::env::parse(&bytes)
                .map(Some)
                .map_err(|_| unparsable()),
        },
        Layout::Json => match read_regular(&path)? {
            None => Ok(None),
            Some(bytes) => {
                let object: BTreeMap<String, String> =
                    serde_json::from_slice(&bytes).map_err(|_| unparsable())?;
                Ok(Some(
                    object
                        .into_iter()
                        .map(|(key, value)| (key, SecretValue::from(value)))
                        .collect(),
                ))
            }
        },
    }
}

/// An existing target directory must be a directory, not a link to one.
fn private_dir_exists(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Err(link_refused(path));
    }
    if !meta.is_dir() {
        return Err(refused(path, "exists and is not a directory"));
    }
    Ok(())
}

/// When a written target last changed: the `..data` link of a directory target (renamed
/// on every change), the file itself otherwise.
pub fn changed_at(path: &Path) -> Option<std::time::SystemTime> {
    let link = path.join(DATA_LINK);
    let probe = if std::fs::symlink_metadata(&link).is_ok() {
        link
    } else {
        path.to_owned()
    };
    std::fs::symlink_metadata(probe)
        .and_then(|m| m.modified())
        .ok()
}

/// Removes the target (`deletionPolicy: Delete` once its sources are gone). Returns whether
/// there was one. A link in its place is refused, not followed.
pub fn remove(out: &Path, desired: &Desired, layout: Layout) -> std::io::Result<bool> {
    let path = target_path(out, desired, layout);
    match std::fs::symlink_metadata(&path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error),
        Ok(meta) if meta.file_type().is_symlink() => return Err(link_refused(&path)),
        Ok(_) => {}
    }
    match layout {
        Layout::Dir => {
            foreign_entries(&path)?;
            std::fs::remove_dir_all(&path)?;
        }
        Layout::Env | Layout::Json => std::fs::remove_file(&path)?,
    }
    Ok(true)
}

/// Prepares `out` for a run: created 0700 if missing, tightened to 0700 if readable or
/// writable by others. `out` itself may be a link: the user chose it.
pub fn prepare_out(out: &Path) -> std::io::Result<()> {
    if !out.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(out)?;
    }
    tighten(out, &std::fs::metadata(out)?)
}

/// An exclusive advisory lock on `OUT` for one sync run (or one `--watch` round): a second
/// `keyward sync` into the same `OUT` waits, or fails at once when it asked not to wait.
/// Released when dropped (and by the kernel when the process dies).
#[derive(Debug)]
pub struct OutLock {
    _lock: nix::fcntl::Flock<File>,
}

impl OutLock {
    /// Takes the lock of `out` (prepared with [`prepare_out`] first). `wait: false` fails with
    /// `WouldBlock` when another run holds it. Blocks the calling thread while waiting: call
    /// it from a blocking context.
    pub fn acquire(out: &Path, wait: bool) -> std::io::Result<Self> {
        use nix::fcntl::{Flock, FlockArg, OFlag};
        prepare_out(out)?;
        let path = out.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(&path)?;
        let how = if wait {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockExclusiveNonblock
        };
        match Flock::lock(file, how) {
            Ok(lock) => Ok(Self { _lock: lock }),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!(
                    "another keyward sync is writing to {}; wait for it, or run again without --no-wait to queue behind it",
                    out.display()
                ),
            )),
            Err((_, errno)) => Err(std::io::Error::from(errno)),
        }
    }
}

fn project_dir(target: &Path, data: &BTreeMap<String, SecretValue>) -> std::io::Result<Written> {
    private_dir(target)?;
    foreign_entries(target)?;
    let stamp = timestamp_dir_name();
    let version = target.join(&stamp);
    // Not recursive: the version directory must be new, never one that already exists.
    std::fs::DirBuilder::new().mode(0o700).create(&version)?;
    for (key, value) in data {
        check_key(key)?;
        write_private(&version.join(key), value.expose_bytes())?;
    }
    sync_dir(&version)?;
    // Key links go in before the swap: a new key's link dangles (reads as absent, as in the
    // old version) until `..data` flips, so a reader or a kill never sees `..data` without
    // every one of its keys. Existing entries were checked by `foreign_entries`.
    for key in data.keys() {
        let link = target.join(key);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new(DATA_LINK).join(key), &link)?;
        }
    }
    sync_dir(target)?;
    let old = data_version(target)?;
    let temp_link = target.join(TEMP_LINK);
    let _ = std::fs::remove_file(&temp_link);
    std::os::unix::fs::symlink(&stamp, &temp_link)?;
    std::fs::rename(&temp_link, target.join(DATA_LINK))?;
    remove_stale_links(target, data)?;
    if let Some(old) = old.filter(|old| old != &stamp) {
        std::fs::remove_dir_all(target.join(old))?;
    }
    remove_orphan_versions(target, &stamp)?;
    sync_dir(target)?;
    Ok(Written {
        path: target.to_owned(),
        changed: true,
    })
}

/// The version directory `..data` names: `None` when there is no `..data` yet. Anything but
/// the name of a version directory in `target` is refused: keyward removes the old version
/// after a swap and must never be pointed elsewhere.
fn data_version(target: &Path) -> std::io::Result<Option<String>> {
    let link = target.join(DATA_LINK);
    let text = match std::fs::read_link(&link) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let name = text.to_str().filter(|name| is_version_name(name));
    let Some(name) = name else {
        return Err(refused(
            &link,
            "does not point to a version directory keyward wrote; remove the target directory to let keyward write it afresh",
        ));
    };
    let meta = std::fs::symlink_metadata(target.join(name));
    if meta.as_ref().is_ok_and(|m| !m.is_dir()) {
        return Err(refused(
            &target.join(name),
            "is not a directory keyward wrote",
        ));
    }
    Ok(Some(name.to_owned()))
}

/// `..2026_11_28_05_40_12.123456789`: the names keyward gives version directories.
fn is_version_name(name: &str) -> bool {
    name.strip_prefix("..").is_some_and(|rest| {
        rest.starts_with(|c: char| c.is_ascii_digit())
            && rest
                .chars()
                .all(|c| c.is_ascii_digit() || c == '_' || c == '.')
    })
}

/// The values behind `..data`: `None` if the target has none yet.
fn current_dir_data(target: &Path) -> std::io::Result<Option<BTreeMap<String, SecretValue>>> {
    let Some(version) = data_version(target)? else {
        return Ok(None);
    };
    let mut values = BTreeMap::new();
    for entry in std::fs::read_dir(target.join(version))? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            return Err(refused(&entry.path(), "is not a key keyward wrote"));
        };
        match read_regular(&entry.path())? {
            Some(bytes) => values.insert(name, SecretValue::new(bytes.to_vec())),
            None => return Ok(None),
        };
    }
    Ok(Some(values))
}

/// Refuses anything in a target directory that keyward did not put there: a reader of the
/// directory would take a foreign file for a key, and the report and fingerprint would not
/// say what the reader sees. keyward's entries are `..data`, `..data_tmp`, version
/// directories and per-key links `KEY -> ..data/KEY`.
fn foreign_entries(target: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(target)? {
        let entry = entry?;
        let name = entry.file_name();
        let kind = entry.file_type()?;
        let ours = match name.to_str() {
            Some(DATA_LINK | TEMP_LINK) => kind.is_symlink(),
            Some(name) if is_version_name(name) => kind.is_dir(),
            Some(name) => {
                kind.is_symlink()
                    && std::fs::read_link(entry.path())
                        .is_ok_and(|to| to == Path::new(DATA_LINK).join(name))
            }
            None => false,
        };
        if !ours {
            return Err(refused(
                &entry.path(),
                "was not written by keyward, which owns this target directory: remove it (a reader would take it for a key)",
            ));
        }
    }
    Ok(())
}

fn remove_stale_links(target: &Path, data: &BTreeMap<String, SecretValue>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(target)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("..") || data.contains_key(&name) {
            continue;
        }
        if entry.file_type()?.is_symlink() {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Version directories a killed run left behind (never the one `..data` names).
fn remove_orphan_versions(target: &Path, current: &str) -> std::io::Result<()> {
    for entry in std::fs::read_dir(target)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_version_name(&name) && name != current && entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// Keys become file names. The engine only passes valid Secret keys; this is the last line.
fn check_key(key: &str) -> std::io::Result<()> {
    keyward_api::check_secret_key(key).map_err(|error| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("a key {error}"))
    })
}

fn env_bytes(data: &BTreeMap<String, SecretValue>) -> std::io::Result<zeroize::Zeroizing<Vec<u8>>> {
    for key in data.keys() {
        if !keyward_bundle::env::is_valid_key(key) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("key '{key}' is not an environment variable name; use --format dir"),
            ));
        }
    }
    Ok(keyward_bundle::env::render(data))
}

fn json_bytes(
    data: &BTreeMap<String, SecretValue>,
) -> std::io::Result<zeroize::Zeroizing<Vec<u8>>> {
    // Borrowed views of the values, serialized straight into a buffer sized for them, which is
    // wiped when dropped: no intermediate JSON value holds a copy.
    let mut object: BTreeMap<&str, &str> = BTreeMap::new();
    for (key, value) in data {
        let text = value.expose_str().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the value of '{key}' is not UTF-8; use --format dir"),
            )
        })?;
        object.insert(key, text);
    }
    let room: usize = data.iter().map(|(k, v)| k.len() + 2 * v.len() + 8).sum();
    let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(room + 4));
    serde_json::to_writer_pretty(&mut *bytes, &object).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<Written> {
    // Refuses a link or a non-file in the target's place (rename would replace a link, but
    // a directory there means something else owns the name).
    read_regular(path)?;
    replace_private(path, bytes)?;
    Ok(Written {
        path: path.to_owned(),
        changed: true,
    })
}

/// Replaces `path` atomically with a new 0600 file: a temporary file in the same directory,
/// fsync, rename (which replaces a link rather than following it), fsync of the directory.
/// Unlike the bundle's writer it never keeps an old mode: a target is always 0600.
fn replace_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".keyward-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|error| error.error)?;
    sync_dir(dir)
}

/// The bytes of the regular file at `path`; `None` if there is none. A link, a directory, a
/// FIFO or a device there is refused: keyward reads only what it wrote.
fn read_regular(path: &Path) -> std::io::Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
    match std::fs::symlink_metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
        Ok(meta) if meta.file_type().is_symlink() => Err(link_refused(path)),
        Ok(meta) if !meta.is_file() => Err(refused(path, "is not a regular file")),
        Ok(_) => {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
                .open(path)?;
            let size = file.metadata()?.len();
            read_wiped(std::io::Read::take(file, MAX_TARGET_BYTES), size).map(Some)
        }
    }
}

/// All of `reader` into a buffer sized for `size_hint` bytes (the file's size). It grows only
/// if the file grew meanwhile, and then the old buffer is wiped: `read_to_end` would grow a
/// plain `Vec` in steps and free each old block, holding part of a value, unwiped.
fn read_wiped(
    mut reader: impl std::io::Read,
    size_hint: u64,
) -> std::io::Result<zeroize::Zeroizing<Vec<u8>>> {
    let first = usize::try_from(size_hint.min(MAX_TARGET_BYTES)).unwrap_or(0);
    // One byte more than expected, so that the read that finds the end needs no growth.
    let mut bytes = zeroize::Zeroizing::new(vec![0u8; first + 1]);
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            let mut grown = zeroize::Zeroizing::new(vec![0u8; bytes.len().saturating_mul(2)]);
            grown[..filled].copy_from_slice(&bytes[..filled]);
            bytes = grown;
        }
        match reader.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

/// A Secret holds at most 1 MiB; a target file larger than a few times that is not keyward's.
const MAX_TARGET_BYTES: u64 = 8 << 20;

/// A directory keyward owns under `OUT`: created 0700, or tightened to 0700; a link or a
/// file in its place is refused.
fn private_dir(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(link_refused(path)),
        Ok(meta) if meta.is_dir() => tighten(path, &meta),
        Ok(_) => Err(refused(path, "exists and is not a directory")),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            match std::fs::DirBuilder::new().mode(0o700).create(path) {
                Ok(()) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)),
                // Another writer of this run made it first: check what it made.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    private_dir_exists(path)
                }
                Err(error) => Err(error),
            }
        }
        Err(error) => Err(error),
    }
}

/// Makes a directory 0700 if group or others may use it.
fn tighten(path: &Path, meta: &std::fs::Metadata) -> std::io::Result<()> {
    if meta.mode() & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!(
                "{} is open to group or others and cannot be made 0700: {error}",
                path.display()
            ),
        )
    })
}

fn refused(path: &Path, why: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{} {why}", path.display()),
    )
}

fn link_refused(path: &Path) -> std::io::Error {
    refused(
        path,
        "is a symbolic link; keyward follows no links under --out it did not make",
    )
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

fn timestamp_dir_name() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "..{:04}_{:02}_{:02}_{:02}_{:02}_{:02}.{:09}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.nanosecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(data: &[(&str, &str)]) -> Desired {
        Desired {
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            creation_policy: keyward_api::CreationPolicy::Owner,
            deletion_policy: keyward_api::DeletionPolicy::Retain,
            immutable: false,
            external_secret: "apps/db".into(),
            source_versions: Default::default(),
            namespace: NamespaceName::parse("apps").expect("valid"),
            target: ResourceName::parse("db").expect("valid"),
            type_: None,
            data: data
                .iter()
                .map(|(k, v)| ((*k).to_owned(), SecretValue::from(*v)))
                .collect(),
        }
    }

    #[test]
    fn dir_layout_swaps_and_cleans_up() {
        let out = tempfile::tempdir().expect("tempdir");
        let first = project(
            out.path(),
            &desired(&[("user", "a"), ("old", "x")]),
            Layout::Dir,
        )
        .expect("write");
        assert!(first.changed);
        let target = out.path().join("apps/db");
        assert_eq!(
            std::fs::read_to_string(target.join("user")).expect("read"),
            "a"
        );
        let written = desired(&[("user", "a"), ("old", "x")]);
        assert_eq!(
            current(out.path(), &written, Layout::Dir).expect("read"),
            Some(written.data.clone()),
            "what was written reads back"
        );
        project(out.path(), &desired(&[("user", "b")]), Layout::Dir).expect("write");
        assert_eq!(
            std::fs::read_to_string(target.join("user")).expect("read"),
            "b"
        );
        assert!(
            std::fs::symlink_metadata(target.join("old")).is_err(),
            "stale key left behind"
        );
        let versions = std::fs::read_dir(&target)
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("..2"))
            .count();
        assert_eq!(versions, 1, "old versions must be removed");
        let mode = std::fs::metadata(target.join("..data/user"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn env_and_json_layouts() {
        let out = tempfile::tempdir().expect("tempdir");
        project(out.path(), &desired(&[("USER", "a\"b")]), Layout::Env).expect("env");
        assert_eq!(
            std::fs::read_to_string(out.path().join("apps/db.env")).expect("read"),
            "USER=\"a\\\"b\"\n"
        );
        project(out.path(), &desired(&[("user", "a")]), Layout::Json).expect("json");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.path().join("apps/db.json")).expect("read"))
                .expect("json");
        assert_eq!(json["user"], "a");
        assert!(project(out.path(), &desired(&[("not-env", "a")]), Layout::Env).is_err());
        assert!(project(out.path(), &desired(&[("../escape", "a")]), Layout::Dir).is_err());
        assert!(project(out.path(), &desired(&[("..data", "a")]), Layout::Dir).is_err());
    }
}
