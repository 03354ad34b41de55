//! Reading files the scanner does not control without trusting them: the configuration, the
//! baseline, the history cache, the fingerprint key and the working tree's files.
//!
//! A repository can commit a symbolic link where a file is expected (`.keyward.toml` →
//! `/dev/zero`) or name any path in its configuration (`baseline = "/dev/zero"`), and a working
//! tree can hold a FIFO where a tracked file was. So every file is opened without blocking
//! (opening a FIFO for reading would wait for a writer forever), checked on the opened handle
//! (no window between the check and the read) to be a regular file, and read only up to a cap
//! that depends on what the file is for.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Cap of `.keyward.toml`: configuration, custom rules included, is text a person writes.
pub const CONFIG_LIMIT: u64 = 1 << 20;

/// Cap of a baseline: about 50 bytes per fingerprint, so over a million accepted findings.
pub const BASELINE_LIMIT: u64 = 64 << 20;

/// Cap of a history cache: 43 bytes per object id, so about 25 million objects.
pub const CACHE_LIMIT: u64 = 1 << 30;

/// Cap of a fingerprint key file (keyward writes 32 bytes).
pub const KEY_LIMIT: u64 = 64 << 10;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// A directory, FIFO, device, socket, or (where links are not followed) a symbolic link.
    #[error("is {0}, not a regular file")]
    NotRegular(&'static str),
    /// Larger than the cap for its kind.
    #[error("is larger than {}, the limit for this file", Size(*.0))]
    TooLarge(u64),
    /// The operating system refused.
    #[error("{0}")]
    Io(#[source] std::io::Error),
}

impl InputError {
    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// A regular file opened for reading, and what the opened handle says about it.
#[derive(Debug)]
pub struct Opened {
    /// The open file.
    pub file: File,
    /// Its metadata, taken from the handle.
    pub meta: Metadata,
}

/// Opens `path` for reading if it is a regular file. With `follow_links` false, a symbolic
/// link at `path` itself is refused instead of followed.
pub fn open_regular(path: &Path, follow_links: bool) -> Result<Opened, InputError> {
    let mut flags = nix::libc::O_NONBLOCK;
    if !follow_links {
        flags |= nix::libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| {
            // O_NOFOLLOW reports a link as "too many levels of symbolic links".
            if !follow_links && e.raw_os_error() == Some(nix::libc::ELOOP) {
                InputError::NotRegular("a symbolic link")
            } else {
                InputError::Io(e)
            }
        })?;
    let meta = file.metadata().map_err(InputError::Io)?;
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return Ok(Opened { file, meta });
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    Err(InputError::NotRegular(what))
}

/// The content of the regular file `path` (links followed), at most `limit` bytes.
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    read_opened(open_regular(path, true)?, limit)
}

/// The content of an opened file, at most `limit` bytes (checked before and while reading,
/// so a file that grows meanwhile is refused too).
pub fn read_opened(opened: Opened, limit: u64) -> Result<Vec<u8>, InputError> {
    if opened.meta.len() > limit {
        return Err(InputError::TooLarge(limit));
    }
    // The length is at most `limit`, which fits in memory by construction of the caps.
    let mut bytes = Vec::with_capacity(usize::try_from(opened.meta.len()).unwrap_or(0));
    opened
        .file
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(InputError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge(limit));
    }
    Ok(bytes)
}

/// A byte count in the largest binary unit that divides it.
struct Size(u64);

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let units = [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
        for (unit, name) in units {
            if self.0 >= unit && self.0.is_multiple_of(unit) {
                return write!(f, "{} {name}", self.0 / unit);
            }
        }
        write!(f, "{} bytes", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(Size(1 << 20).to_string(), "1 MiB");
        assert_eq!(Size(64 << 10).to_string(), "64 KiB");
        assert_eq!(Size(1000).to_string(), "1000 bytes");
    }

    #[test]
    fn devices_directories_and_links_are_refused_and_caps_hold() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        std::fs::write(&file, b"12345").expect("write");
        assert_eq!(read_capped(&file, 5).expect("fits"), b"12345");
        assert!(matches!(
            read_capped(&file, 4),
            Err(InputError::TooLarge(4))
        ));
        assert!(matches!(
            read_capped(Path::new("/dev/zero"), 10),
            Err(InputError::NotRegular("a character device"))
        ));
        assert!(matches!(
            read_capped(dir.path(), 10),
            Err(InputError::NotRegular("a directory"))
        ));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).expect("symlink");
        assert!(read_capped(&link, 10).is_ok());
        assert!(matches!(
            open_regular(&link, false),
            Err(InputError::NotRegular("a symbolic link"))
        ));
        assert!(read_capped(&dir.path().join("absent"), 10).is_err_and(|e| e.is_not_found()));
    }
}
