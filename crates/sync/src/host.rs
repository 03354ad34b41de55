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
//! Directories are 0700, files 0600.

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use keyward_core::SecretValue;

use crate::Desired;

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

/// Writes `desired` under `out`, unless it already holds exactly that.
pub fn project(out: &Path, desired: &Desired, layout: Layout) -> std::io::Result<Written> {
    create_private_dir(&out.join(&desired.namespace))?;
    let path = target_path(out, desired, layout);
    match layout {
        Layout::Dir => project_dir(&path, &desired.data),
        Layout::Env => write_file_if_changed(&path, &env_bytes(&desired.data)?),
        Layout::Json => write_file_if_changed(&path, &json_bytes(&desired.data)?),
    }
}

/// The file or directory `desired` is written to.
pub fn target_path(out: &Path, desired: &Desired, layout: Layout) -> PathBuf {
    target_path_of(out, &desired.namespace, &desired.target, layout)
}

/// The file or directory target `target` of `namespace` is written to.
pub fn target_path_of(out: &Path, namespace: &str, target: &str, layout: Layout) -> PathBuf {
    let namespace_dir = out.join(namespace);
    match layout {
        Layout::Dir => namespace_dir.join(target),
        Layout::Env => namespace_dir.join(format!("{target}.env")),
        Layout::Json => namespace_dir.join(format!("{target}.json")),
    }
}

/// What the target holds now: `None` when it does not exist (or cannot be read whole).
pub fn current(
    out: &Path,
    desired: &Desired,
    layout: Layout,
) -> Option<BTreeMap<String, SecretValue>> {
    let path = target_path(out, desired, layout);
    match layout {
        Layout::Dir => current_dir_data(&path),
        Layout::Env => {
            let bytes = zeroize::Zeroizing::new(std::fs::read(&path).ok()?);
            keyward_bundle::env::parse(&bytes).ok()
        }
        Layout::Json => {
            let bytes = zeroize::Zeroizing::new(std::fs::read(&path).ok()?);
            let object: BTreeMap<String, String> = serde_json::from_slice(&bytes).ok()?;
            Some(
                object
                    .into_iter()
                    .map(|(key, value)| (key, SecretValue::from(value)))
                    .collect(),
            )
        }
    }
}

/// When a written target last changed: the `..data` link of a directory target (renamed
/// on every change), the file itself otherwise.
pub fn changed_at(path: &Path) -> Option<std::time::SystemTime> {
    let link = path.join(DATA_LINK);
    let probe = if link.exists() { link } else { path.to_owned() };
    std::fs::symlink_metadata(probe)
        .and_then(|m| m.modified())
        .ok()
}

/// Removes the target (`deletionPolicy: Delete` once its sources are gone). Returns whether
/// there was one.
pub fn remove(out: &Path, desired: &Desired, layout: Layout) -> std::io::Result<bool> {
    let path = target_path(out, desired, layout);
    let result = match layout {
        Layout::Dir => std::fs::remove_dir_all(&path),
        Layout::Env | Layout::Json => std::fs::remove_file(&path),
    };
    match result {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

fn project_dir(target: &Path, data: &BTreeMap<String, SecretValue>) -> std::io::Result<Written> {
    if current_dir_data(target).as_ref() == Some(data) {
        return Ok(Written {
            path: target.to_owned(),
            changed: false,
        });
    }
    create_private_dir(target)?;
    let stamp = timestamp_dir_name();
    let version = target.join(&stamp);
    create_private_dir(&version)?;
    for (key, value) in data {
        check_key(key)?;
        write_private(&version.join(key), value.expose_bytes())?;
    }
    sync_dir(&version)?;
    // Key links go in before the swap: a new key's link dangles (reads as absent, as in the
    // old version) until `..data` flips, so a reader or a kill never sees `..data` without
    // every one of its keys.
    for key in data.keys() {
        let link = target.join(key);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new(DATA_LINK).join(key), &link)?;
        }
    }
    sync_dir(target)?;
    let old = std::fs::read_link(target.join(DATA_LINK)).ok();
    let temp_link = target.join("..data_tmp");
    let _ = std::fs::remove_file(&temp_link);
    std::os::unix::fs::symlink(&stamp, &temp_link)?;
    std::fs::rename(&temp_link, target.join(DATA_LINK))?;
    remove_stale_links(target, data)?;
    if let Some(old) = old.filter(|old| old.as_os_str() != stamp.as_str()) {
        std::fs::remove_dir_all(target.join(old))?;
    }
    remove_orphan_versions(target, &stamp)?;
    sync_dir(target)?;
    Ok(Written {
        path: target.to_owned(),
        changed: true,
    })
}

/// The values behind `..data`, if the target exists and is readable.
fn current_dir_data(target: &Path) -> Option<BTreeMap<String, SecretValue>> {
    let data = target.join(DATA_LINK);
    let mut values = BTreeMap::new();
    for entry in std::fs::read_dir(&data).ok()? {
        let entry = entry.ok()?;
        let name = entry.file_name().into_string().ok()?;
        values.insert(name, SecretValue::new(std::fs::read(entry.path()).ok()?));
    }
    Some(values)
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
        let is_version = name.starts_with("..")
            && name.as_bytes().get(2).is_some_and(u8::is_ascii_digit)
            && entry.file_type()?.is_dir();
        if is_version && name != current {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// Keys become file names: refuse path separators and dot names.
fn check_key(key: &str) -> std::io::Result<()> {
    let bad = key.is_empty()
        || key == "."
        || key == ".."
        || key.starts_with("..")
        || key.contains('/')
        || key.contains('\0');
    if bad {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("key '{key}' cannot be a file name"),
        ));
    }
    Ok(())
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
    let mut object = serde_json::Map::new();
    for (key, value) in data {
        let text = value.expose_str().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the value of '{key}' is not UTF-8; use --format dir"),
            )
        })?;
        object.insert(key.clone(), serde_json::Value::String(text.to_owned()));
    }
    let mut bytes = serde_json::to_vec_pretty(&serde_json::Value::Object(object))
        .map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    Ok(zeroize::Zeroizing::new(bytes))
}

fn write_file_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<Written> {
    let current = std::fs::read(path).ok().map(zeroize::Zeroizing::new);
    if current.as_deref().map(Vec::as_slice) == Some(bytes) {
        return Ok(Written {
            path: path.to_owned(),
            changed: false,
        });
    }
    keyward_bundle::write_atomic(path, bytes)?;
    Ok(Written {
        path: path.to_owned(),
        changed: true,
    })
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
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
            namespace: "apps".into(),
            target: "db".into(),
            type_: "Opaque".into(),
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
        let again = project(
            out.path(),
            &desired(&[("user", "a"), ("old", "x")]),
            Layout::Dir,
        )
        .expect("write");
        assert!(!again.changed, "unchanged data must not be rewritten");
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
    }
}
