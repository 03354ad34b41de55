//! The working tree (tracked files, or every file outside a repository) and the staged changes.

use std::collections::HashMap;
use std::path::Path;

use gix::ObjectId;

use super::{Item, Stats, tree};
use crate::error::ScanError;

/// Files tracked by git under `path`, read from disk.
pub fn tracked(
    repo: &gix::Repository,
    path: &Path,
    visit: &mut dyn FnMut(Item<'_>),
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
        // A tracked file deleted in the working tree has nothing left to scan.
        let Ok(bytes) = std::fs::read(workdir.join(&rel)) else {
            continue;
        };
        stats.count(&bytes);
        visit(Item {
            path: &rel,
            bytes: &bytes,
            commit: None,
            blob: None,
        });
    }
    Ok(stats)
}

fn is_file(mode: gix::index::entry::Mode) -> bool {
    mode == gix::index::entry::Mode::FILE || mode == gix::index::entry::Mode::FILE_EXECUTABLE
}

/// Every regular file under `root` (outside a repository), skipping `.git` directories.
pub fn directory(root: &Path, visit: &mut dyn FnMut(Item<'_>)) -> Result<Stats, ScanError> {
    let mut stats = Stats::default();
    let meta = std::fs::symlink_metadata(root).map_err(|e| ScanError::ReadPath(root.into(), e))?;
    if meta.is_file() {
        let bytes = std::fs::read(root).map_err(|e| ScanError::ReadPath(root.into(), e))?;
        let name = root
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        stats.count(&bytes);
        visit(Item {
            path: &name,
            bytes: &bytes,
            commit: None,
            blob: None,
        });
        return Ok(stats);
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| ScanError::ReadPath(dir.clone(), e))?;
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
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let rel = rel.to_string_lossy().replace('\\', "/");
                stats.count(&bytes);
                visit(Item {
                    path: &rel,
                    bytes: &bytes,
                    commit: None,
                    blob: None,
                });
            }
        }
    }
    Ok(stats)
}

/// Index entries whose content differs from `HEAD` (new or modified staged files).
pub fn staged(repo: &gix::Repository, visit: &mut dyn FnMut(Item<'_>)) -> Result<Stats, ScanError> {
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
        visit(Item {
            path: &rel,
            bytes: &object.data,
            commit: None,
            blob: Some(&blob),
        });
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
