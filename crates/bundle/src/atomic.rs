//! Atomic file replacement: a temporary file in the same directory, fsync, rename, fsync of
//! the directory. A reader (or a crash) sees the old bytes or the new bytes, never a mix, and
//! never a plaintext temp file left behind under the final name.
//!
//! [`write`] replaces whatever is at the path, a symlink included: the sync engine writes its
//! targets that way, so a link planted under `--out` cannot redirect a write. Bundle commands
//! instead write *through* a symlinked bundle to the file it names, as ansible-vault does
//! (`os.path.realpath`); they resolve the link first with [`symlink_target`].

use std::fs::{File, Metadata};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The file a bundle path stands for: the final target when `path` is a symlink (every link
/// in the chain resolved), else `path` itself. A link to a missing file is an error: writing
/// through it would create a file somewhere the user never named.
pub fn symlink_target(path: &Path) -> std::io::Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(path),
        _ => Ok(path.to_owned()),
    }
}

/// Writes `bytes` to `path` atomically.
///
/// A new file gets `new_mode`; an existing file keeps its mode and, where permitted, its owner
/// and group. The temporary file is created 0600 and removed on every failure path (by
/// `tempfile`'s drop).
pub fn write(path: &Path, bytes: &[u8], new_mode: u32) -> std::io::Result<()> {
    replace(path, bytes, Mode::KeepExisting(new_mode))
}

/// Writes plaintext `bytes` to `path` atomically: the file ends 0600 whatever mode an
/// existing file had (its owner and group are kept where permitted).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, bytes, Mode::Private)
}

/// The mode the written file ends with.
#[derive(Clone, Copy)]
enum Mode {
    /// An existing file's mode; this one for a new file.
    KeepExisting(u32),
    /// 0600: the content is a secret in the clear.
    Private,
}

fn replace(path: &Path, bytes: &[u8], mode: Mode) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let existing = std::fs::metadata(path).ok();
    let mut temp = tempfile::Builder::new()
        .prefix(".keyward-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    apply_ownership(temp.as_file(), existing.as_ref(), mode)?;
    temp.persist(path).map_err(|error| error.error)?;
    // The rename is durable only once the directory entry is.
    File::open(dir)?.sync_all()
}

fn apply_ownership(file: &File, existing: Option<&Metadata>, mode: Mode) -> std::io::Result<()> {
    let Some(meta) = existing else {
        let new_mode = match mode {
            Mode::KeepExisting(new_mode) => new_mode,
            Mode::Private => 0o600,
        };
        return file.set_permissions(std::fs::Permissions::from_mode(new_mode));
    };
    let same_owner = meta.uid() == nix::unistd::geteuid().as_raw()
        && meta.gid() == nix::unistd::getegid().as_raw();
    if !same_owner {
        use std::os::fd::AsFd;
        nix::unistd::fchown(
            file.as_fd(),
            Some(nix::unistd::Uid::from_raw(meta.uid())),
            Some(nix::unistd::Gid::from_raw(meta.gid())),
        )
        .map_err(std::io::Error::from)?;
    }
    let mode = match mode {
        Mode::KeepExisting(_) => meta.mode() & 0o7777,
        Mode::Private => 0o600,
    };
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_get_the_mode_and_existing_files_keep_theirs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bundle");
        write(&path, b"one", 0o600).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"one");
        assert_eq!(
            std::fs::metadata(&path).expect("meta").mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        write(&path, b"two", 0o600).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert_eq!(
            std::fs::metadata(&path).expect("meta").mode() & 0o777,
            0o640
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".keyward-"))
            .collect();
        assert!(leftovers.is_empty(), "temp files left behind");
    }

    #[test]
    fn private_writes_end_0600_over_a_readable_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("plain");
        std::fs::write(&path, b"old").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_private(&path, b"secret").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"secret");
        assert_eq!(
            std::fs::metadata(&path).expect("meta").mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn symlinks_resolve_to_their_final_target() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real");
        std::fs::write(&real, b"x").expect("write");
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        std::os::unix::fs::symlink(&real, &first).expect("symlink");
        std::os::unix::fs::symlink("first", &second).expect("symlink");
        let canonical = std::fs::canonicalize(&real).expect("canonical");
        assert_eq!(symlink_target(&second).expect("resolve"), canonical);
        assert_eq!(symlink_target(&real).expect("plain"), real);
        let absent = dir.path().join("absent");
        assert_eq!(symlink_target(&absent).expect("absent"), absent);
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink("nowhere", &dangling).expect("symlink");
        assert!(symlink_target(&dangling).is_err());
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bundle");
        write(&path, b"old", 0o600).expect("write");
        let missing_dir = dir.path().join("no-such-dir").join("bundle");
        assert!(write(&missing_dir, b"new", 0o600).is_err());
        assert_eq!(std::fs::read(&path).expect("read"), b"old");
    }
}
