//! Bounded reads of what the bundle commands are given: bundles, password files, the user
//! config file, age identity files, values and plaintexts.
//!
//! A file named where a file is expected must be a regular file: a FIFO would block forever
//! and a device like `/dev/zero` never ends. It is opened without blocking (so a FIFO is
//! refused instead of waited on), checked with `fstat` on the opened descriptor (no race
//! between check and read), and read up to a limit plus one byte, so a file that grows while
//! it is read is caught too. Streams (stdin, a command's output) are read up to the limit.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use zeroize::Zeroizing;

/// The largest bundle file: 32 MiB, about 8 MiB of plaintext after ansible-vault's two layers
/// of hex. A bundle holds a handful of bootstrap credentials.
pub const MAX_BUNDLE_BYTES: u64 = 32 << 20;
/// The largest plaintext: a file given to `encrypt`, a value from a file or stdin, an edited
/// bundle.
pub const MAX_PLAINTEXT_BYTES: u64 = 8 << 20;
/// The largest password file or password command output.
pub const MAX_PASSWORD_BYTES: u64 = 64 << 10;
/// The largest user config file or age identity file.
pub const MAX_SMALL_FILE_BYTES: u64 = 1 << 20;

/// Why a file or stream could not be read. Never carries content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The operating system refused.
    #[error("{0}")]
    Io(#[source] std::io::Error),
    /// The path names something other than a regular file.
    #[error("not a regular file (a {0}); keyward reads only regular files here")]
    NotRegular(&'static str),
    /// The file or stream is larger than the limit.
    #[error("larger than the limit of {}", human(*.0))]
    TooLarge(u64),
}

impl ReadError {
    /// Whether the file does not exist (a missing dependency rather than a bad file).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(error) if error.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Reads the regular file at `path`, at most `limit` bytes. The buffer zeroizes on drop.
pub fn read_regular(path: &Path, limit: u64) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let file = open_regular(path)?;
    let size = file.metadata().map_err(ReadError::Io)?.len();
    if size > limit {
        return Err(ReadError::TooLarge(limit));
    }
    read_stream(file, limit)
}

/// Opens `path` for reading if it is a regular file, without blocking on a FIFO.
pub fn open_regular(path: &Path) -> Result<File, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)
        .map_err(ReadError::Io)?;
    let kind = file.metadata().map_err(ReadError::Io)?.file_type();
    if !kind.is_file() {
        return Err(ReadError::NotRegular(describe(&kind)));
    }
    Ok(file)
}

/// Reads `reader` to its end, failing once more than `limit` bytes arrive.
pub fn read_stream(reader: impl Read, limit: u64) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let mut out = Zeroizing::new(Vec::new());
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(ReadError::Io)?;
    if out.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(out)
}

fn describe(kind: &std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "directory"
    } else if kind.is_fifo() {
        "FIFO"
    } else if kind.is_char_device() {
        "character device"
    } else if kind.is_block_device() {
        "block device"
    } else if kind.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").expect("write");
        assert_eq!(read_regular(&path, 5).expect("read").as_slice(), b"12345");
        let error = read_regular(&path, 4).expect_err("too large");
        assert_eq!(error.to_string(), "larger than the limit of 4 bytes");
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        for (path, kind) in [
            (Path::new("/dev/zero"), "character device"),
            (fifo.as_path(), "FIFO"),
            (dir.path(), "directory"),
        ] {
            let error = read_regular(path, MAX_BUNDLE_BYTES).expect_err("refused");
            assert!(error.to_string().contains(kind), "{error}");
        }
        assert!(
            read_regular(&dir.path().join("absent"), 1)
                .expect_err("missing")
                .is_not_found()
        );
    }

    #[test]
    fn streams_stop_at_the_limit() {
        let endless = std::io::repeat(b'x');
        let error = read_stream(endless, 1 << 10).expect_err("endless");
        assert_eq!(error.to_string(), "larger than the limit of 1 KiB");
    }
}
