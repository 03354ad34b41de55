//! Atomic file replacement: a temporary file in the same directory, fsync, rename, fsync of
//! the directory. A reader (or a crash) sees the old bytes or the new bytes, never a mix, and
//! never a plaintext temp file left behind under the final name.

use std::fs::{File, Metadata};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Writes `bytes` to `path` atomically.
///
/// A new file gets `new_mode`; an existing file keeps its mode and, where permitted, its owner
/// and group. The temporary file is created 0600 and removed on every failure path (by
/// `tempfile`'s drop).
pub fn write(path: &Path, bytes: &[u8], new_mode: u32) -> std::io::Result<()> {
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
    apply_ownership(temp.as_file(), existing.as_ref(), new_mode)?;
    temp.persist(path).map_err(|error| error.error)?;
    // The rename is durable only once the directory entry is.
    File::open(dir)?.sync_all()
}

fn apply_ownership(file: &File, existing: Option<&Metadata>, new_mode: u32) -> std::io::Result<()> {
    let Some(meta) = existing else {
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
    file.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))
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
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bundle");
        write(&path, b"old", 0o600).expect("write");
        let missing_dir = dir.path().join("no-such-dir").join("bundle");
        assert!(write(&missing_dir, b"new", 0o600).is_err());
        assert_eq!(std::fs::read(&path).expect("read"), b"old");
    }
}
