//! Tree traversal shared by the staged and history sources.

use std::collections::HashSet;

use gix::ObjectId;
use gix::objs::TreeRefIter;

use crate::error::ScanError;

/// Calls `visit(path, blob id)` for every blob under `tree`, skipping subtrees already in
/// `seen` (their blobs were visited before) and adding new subtrees to it.
pub fn blobs(
    repo: &gix::Repository,
    tree: ObjectId,
    seen: &mut HashSet<ObjectId>,
    visit: &mut dyn FnMut(&str, ObjectId) -> Result<(), ScanError>,
) -> Result<(), ScanError> {
    let mut stack = vec![(tree, String::new())];
    while let Some((id, prefix)) = stack.pop() {
        let object = repo
            .find_object(id)
            .map_err(|e| ScanError::git("reading a tree", e))?;
        for entry in TreeRefIter::from_bytes(&object.data, repo.object_hash()) {
            let entry = entry.map_err(|e| ScanError::git("decoding a tree", e))?;
            let path = if prefix.is_empty() {
                entry.filename.to_string()
            } else {
                format!("{prefix}/{}", entry.filename)
            };
            let oid = entry.oid.to_owned();
            if entry.mode.is_tree() {
                if seen.insert(oid) {
                    stack.push((oid, path));
                }
            } else if entry.mode.is_blob() {
                visit(&path, oid)?;
            }
        }
    }
    Ok(())
}
