//! The working tree (tracked files, or every file outside a repository) and the staged changes.

use std::collections::HashMap;
use std::path::Path;

use gix::ObjectId;

use super::{Entry, Item, Skipped, Stats, tree};
use crate::error::ScanError;
use crate::input::{self, InputError};
use crate::pieces::MAX_TEXT;

/// Files tracked by git under `path`, read from disk.
pub fn tracked(
    repo: &gix::Repository,
    path: &Path,
    visit: &mut dyn FnMut(Entry<'_>),
) -> Result<Stats, ScanError> {
    let Some(workdir) = repo.workdir() else {
        return Err(ScanError::NotARepository(path.to_path_buf()));
    };
    let workdir = workdir
        .canonicalize()
        .map_err(|e| ScanError::ReadPath(workdir.into(), e))?;
    let wanted = path
        .canonicalize()
        .map_err(|e| ScanError::ReadPath(path.into(), e))?;
    let prefix = wanted.strip_prefix(&workdir).unwrap_or(Path::new(""));
    let index = repo
        .open_index()
        .map_err(|e| ScanError::git("reading the index", e))?;
    let mut stats = Stats::default();
    for entry in index.entries() {
        if entry.stage_raw() != 0 || !is_file(entry.mode) {
            continue;
        }
        let rel = entry.path(&index).to_string();
        if !Path::new(&rel).starts_with(prefix) {
            continue;
        }
        read_file(&workdir.join(&rel), &rel, &mut stats, visit);
    }
    Ok(stats)
}

/// Reads the working-tree file `file` (shown as `rel`) for `visit`: whole, or opened for
/// streaming when large. A symbolic link, FIFO or device where a file should be, or a file
/// that cannot be read, is reported as skipped, never followed or waited on; a file deleted
/// since it was listed has nothing left to scan.
fn read_file(file: &Path, rel: &str, stats: &mut Stats, visit: &mut dyn FnMut(Entry<'_>)) {
    let skip = |reason: String| {
        Entry::Skipped(Skipped {
            path: rel.to_owned(),
            commit: None,
            reason,
        })
    };
    let opened = match input::open_regular(file, false) {
        Ok(opened) => opened,
        Err(error) if error.is_not_found() => return,
        Err(error) => return visit(skip(error.to_string())),
    };
    let len = opened.meta.len();
    if len > MAX_TEXT as u64 {
        stats.items += 1;
        stats.bytes += len;
        return visit(Entry::Large {
            path: rel,
            file: opened.file,
            len,
        });
    }
    match input::read_opened(opened, MAX_TEXT as u64) {
        Ok(bytes) => {
            stats.count(&bytes);
            visit(Entry::Item(Item {
                path: rel,
                bytes: &bytes,
                commit: None,
                blob: None,
            }));
        }
        Err(InputError::TooLarge(_)) => visit(skip("grew while it was read".to_owned())),
        Err(error) => visit(skip(error.to_string())),
    }
}

fn is_file(mode: gix::index::entry::Mode) -> bool {
    mode == gix::index::entry::Mode::FILE || mode == gix::index::entry::Mode::FILE_EXECUTABLE
}

/// Every regular file under `root` (outside a repository), skipping `.git` directories.
pub fn directory(root: &Path, visit: &mut dyn FnMut(Entry<'_>)) -> Result<Stats, ScanError> {
    let mut stats = Stats::default();
    let meta = std::fs::symlink_metadata(root).map_err(|e| ScanError::ReadPath(root.into(), e))?;
    if meta.is_file() {
        let name = root
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        read_file(root, &name, &mut stats, visit);
        return Ok(stats);
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if dir == root => return Err(ScanError::ReadPath(dir, error)),
            // A directory below that cannot be listed is reported, not fatal.
            Err(error) => {
                let rel = dir.strip_prefix(root).unwrap_or(&dir);
                visit(Entry::Skipped(Skipped {
                    path: rel.to_string_lossy().replace('\\', "/"),
                    commit: None,
                    reason: format!("directory cannot be listed: {error}"),
                }));
                continue;
            }
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() && entry.file_name() != ".git" {
                stack.push(path);
            } else if kind.is_file() {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let rel = rel.to_string_lossy().replace('\\', "/");
                read_file(&path, &rel, &mut stats, visit);
            }
        }
    }
    Ok(stats)
}

/// Index entries whose content differs from `HEAD` (new or modified staged files).
pub fn staged(
    repo: &gix::Repository,
    visit: &mut dyn FnMut(Entry<'_>),
) -> Result<Stats, ScanError> {
    let head = head_blobs(repo)?;
    let index = repo
        .open_index()
        .map_err(|e| ScanError::git("reading the index", e))?;
    let mut stats = Stats::default();
    for entry in index.entries() {
        if entry.stage_raw() != 0 || !is_file(entry.mode) {
            continue;
        }
        let rel = entry.path(&index).to_string();
        if head.get(&rel) == Some(&entry.id) {
            continue;
        }
        let object = repo
            .find_object(entry.id)
            .map_err(|e| ScanError::git("reading a staged blob", e))?;
        let blob = entry.id.to_string();
        stats.count(&object.data);
        visit(Entry::Item(Item {
            path: &rel,
            bytes: &object.data,
            commit: None,
            blob: Some(&blob),
        }));
    }
    Ok(stats)
}

/// Path → blob id of `HEAD`'s tree; empty before the first commit.
fn head_blobs(repo: &gix::Repository) -> Result<HashMap<String, ObjectId>, ScanError> {
    let mut map = HashMap::new();
    let Ok(tree) = repo.head_tree_id() else {
        return Ok(map);
    };
    let mut seen = tree::IdSet::default();
    tree::blobs(&mut &*repo, tree.detach(), &mut seen, &mut |at, id| {
        map.insert(at.to_path(), id);
        Ok(())
    })?;
    Ok(map)
}
