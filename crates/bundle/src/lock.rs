//! The advisory lock that serialises the writers of one bundle: `flock` on `<file>.lock`
//! beside the bundle's real file, held from before the read to after the rename.
//!
//! The lock is a separate file because every save renames a new inode over the bundle: a lock
//! on the bundle itself would be a lock on a file that is about to disappear. The lock file is
//! empty, 0600, and stays in place (deleting it would let two writers lock two different
//! files). Readers take no lock: the atomic rename already gives them the old or the new
//! bundle. The lock is released when the [`BundleLock`] is dropped, or by the kernel when the
//! process dies.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// How long a writer waits for another writer (an `edit` may hold the lock for minutes).
pub const LOCK_WAIT: Duration = Duration::from_secs(60);

/// How often a waiting writer tries again.
const RETRY: Duration = Duration::from_millis(20);

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// The lock file cannot be created or opened.
    #[error("cannot open the lock file {}: {source}", path.display())]
    Open {
        /// The lock file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Another writer held the lock for the whole wait.
    #[error(
        "another keyward command is changing this bundle (it holds {}); waited {}s, try again",
        path.display(),
        waited.as_secs()
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// How long this command waited.
        waited: Duration,
    },
    /// `flock` failed for another reason.
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The error.
        #[source]
        source: Errno,
    },
}

/// An exclusive lock on one bundle, released on drop.
#[derive(Debug)]
pub struct BundleLock {
    _lock: Flock<File>,
}

/// The lock file of the bundle whose real file is `target`: `<target>.lock`.
pub fn lock_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_owned();
    name.push(".lock");
    target.with_file_name(name)
}

/// Takes the lock of the bundle at `target` (its real file, symlinks resolved), waiting up to
/// `wait` for another writer to finish.
pub fn acquire(target: &Path, wait: Duration) -> Result<BundleLock, LockError> {
    let path = lock_path(target);
    let deadline = Instant::now().checked_add(wait);
    let mut file = open(&path)?;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(BundleLock { _lock: lock }),
            Err((returned, Errno::EWOULDBLOCK)) => {
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    return Err(LockError::Busy { path, waited: wait });
                }
                file = returned;
                std::thread::sleep(RETRY);
            }
            Err((returned, Errno::EINTR)) => file = returned,
            Err((_, source)) => return Err(LockError::Lock { path, source }),
        }
    }
}

/// Opens (creating, 0600) the lock file; a symlink planted there is refused, not followed.
fn open(path: &Path) -> Result<File, LockError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|source| LockError::Open {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_waits_and_then_gives_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("secrets.env");
        let first = acquire(&target, LOCK_WAIT).expect("first");
        let error = acquire(&target, Duration::ZERO).expect_err("busy");
        assert!(matches!(error, LockError::Busy { .. }), "{error}");
        drop(first);
        acquire(&target, Duration::ZERO).expect("free again");
        assert_eq!(
            lock_path(&target),
            dir.path().join("secrets.env.lock"),
            "beside the bundle"
        );
    }

    #[test]
    fn a_symlink_as_lock_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("secrets.env");
        std::os::unix::fs::symlink("/etc/passwd", lock_path(&target)).expect("symlink");
        let error = acquire(&target, Duration::ZERO).expect_err("refused");
        assert!(matches!(error, LockError::Open { .. }), "{error}");
    }
}
