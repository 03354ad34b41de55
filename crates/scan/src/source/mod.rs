//! Where content comes from: the working tree's tracked files, the staged changes, or every
//! unique blob of the repository's history. Each source hands `(path, bytes)` items to a
//! visitor one at a time, so memory stays flat whatever the repository's size.

mod cache;
pub(crate) mod history;
pub mod packs;
mod tree;
mod worktree;

use std::path::{Path, PathBuf};

use crate::error::ScanError;

/// What to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Files tracked by git under the path (all files when the path is not in a repository).
    WorkTree,
    /// Staged content that differs from `HEAD` (for pre-commit hooks).
    Staged,
    /// Every unique blob reachable from any ref; with `since`, only what is not reachable
    /// from that revision.
    History {
        /// Revision whose reachable content counts as already scanned.
        since: Option<String>,
        /// A file of object ids scanned by earlier runs: they are skipped, and the ids of this
        /// run are added (an incremental scan reads only what is new).
        cache: Option<PathBuf>,
    },
}

/// One piece of content to scan.
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    /// Path relative to the repository (or the scanned directory), `/`-separated.
    pub path: &'a str,
    /// The content.
    pub bytes: &'a [u8],
    /// The commit that introduced the blob (history only), hex.
    pub commit: Option<&'a str>,
    /// The blob's object id (git sources), hex.
    pub blob: Option<&'a str>,
}

/// What a source hands its visitor.
#[derive(Debug)]
pub enum Entry<'a> {
    /// Content, read whole.
    Item(Item<'a>),
    /// A regular file larger than one scanned text: its reader streams it in pieces.
    Large {
        /// Path relative to the scanned root, `/`-separated.
        path: &'a str,
        /// The opened file.
        file: std::fs::File,
        /// Its length when opened.
        len: u64,
    },
    /// Content that could not be scanned.
    Skipped(Skipped),
}

/// Content a scan did not look at, and why: reported as a warning, and a failure under
/// `--strict`, so a scan never reads as clean when it did not look.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// Path relative to the repository (or the scanned directory), `/`-separated.
    pub path: String,
    /// The commit that introduced the blob (history only), hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Why (a size, a file type, an operating system error; never content).
    pub reason: String,
}

/// A blob of history not read yet: where and when it was first introduced.
#[derive(Clone, Copy, Debug)]
pub struct BlobRef<'a> {
    /// Path relative to the repository, `/`-separated.
    pub path: &'a str,
    /// The blob's object id.
    pub id: gix::ObjectId,
    /// The commit that introduced it, hex.
    pub commit: &'a str,
}

/// What a source went through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Files or blobs handed to the visitor.
    pub items: usize,
    /// Commits walked (history only).
    pub commits: usize,
    /// Bytes handed to the visitor.
    pub bytes: u64,
    /// History blobs not in the object store (a partial clone's filtered-out blobs): skipped.
    #[serde(skip_serializing_if = "is_zero")]
    pub missing: usize,
    /// Boundary commits of a shallow clone reached by the walk: the history before them is
    /// not in the repository and was not scanned.
    #[serde(skip_serializing_if = "is_zero")]
    pub shallow: usize,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl Stats {
    /// Counts one item of `bytes`.
    pub fn count(&mut self, bytes: &[u8]) {
        self.items += 1;
        self.bytes += bytes.len() as u64;
    }
}

/// Where configuration and the repository live for a scanned path.
#[derive(Clone, Debug)]
pub struct Root {
    /// The directory `.keyward.toml` is read from: the repository's work tree, or the path.
    pub dir: PathBuf,
    /// The git directory, if the path is in a repository.
    pub git_dir: Option<PathBuf>,
}

/// Finds the repository (if any) that holds `path`.
pub fn locate(path: &Path) -> Result<Root, ScanError> {
    let meta = std::fs::metadata(path).map_err(|e| ScanError::ReadPath(path.to_path_buf(), e))?;
    let dir = if meta.is_dir() {
        path
    } else {
        path.parent().unwrap_or(Path::new("."))
    };
    match gix::discover(dir) {
        Ok(repo) => Ok(Root {
            dir: repo
                .workdir()
                .map_or_else(|| repo.git_dir().to_path_buf(), Path::to_path_buf),
            git_dir: Some(repo.git_dir().to_path_buf()),
        }),
        Err(_) => Ok(Root {
            dir: dir.to_path_buf(),
            git_dir: None,
        }),
    }
}

/// Opens the repository holding `path` for use from several threads.
pub fn open_shared(path: &Path) -> Result<gix::ThreadSafeRepository, ScanError> {
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(path)
    };
    gix::discover(dir)
        .map(gix::Repository::into_sync)
        .map_err(|_| ScanError::NotARepository(path.to_path_buf()))
}

/// The history source without reading content: every new blob's id, path and introducing
/// commit, for readers on other threads (`mode` must be [`Mode::History`]).
pub fn history_blobs(
    repo: &gix::Repository,
    packs: &packs::Packs,
    mode: &Mode,
    visit: &mut dyn FnMut(BlobRef<'_>),
) -> Result<Stats, ScanError> {
    let Mode::History { since, cache } = mode else {
        return Ok(Stats::default());
    };
    let limits = history::Limits {
        since: since.as_deref(),
        cache: cache.as_deref(),
    };
    history::new_blobs(repo, packs, &limits, visit)
}

/// Runs the source `mode` over `path`, calling `visit` for every entry.
pub fn walk(
    path: &Path,
    mode: &Mode,
    visit: &mut dyn FnMut(Entry<'_>),
) -> Result<Stats, ScanError> {
    let repo = gix::discover(if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(path)
    });
    // No object cache: every walk reads each object once, so a cache of decoded objects only
    // costs memory (it grew to its cap on large histories). Delta chains are resolved through
    // gix's bounded pack cache (core.deltaBaseCacheLimit), which is what saves work.
    match (mode, repo) {
        (Mode::WorkTree, Ok(repo)) if repo.workdir().is_some() => {
            worktree::tracked(&repo, path, visit)
        }
        (Mode::WorkTree, _) => worktree::directory(path, visit),
        (Mode::Staged, Ok(repo)) => worktree::staged(&repo, visit),
        (Mode::History { since, cache }, Ok(repo)) => {
            let limits = history::Limits {
                since: since.as_deref(),
                cache: cache.as_deref(),
            };
            history::history(&repo, &limits, visit)
        }
        (_, Err(_)) => Err(ScanError::NotARepository(path.to_path_buf())),
    }
}
