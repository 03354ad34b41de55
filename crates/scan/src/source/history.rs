//! Every unique blob reachable from any ref, read once by object id: merge-only and deleted
//! content is covered. Commits are visited parents first, and a subtree already seen is not
//! entered again, so each blob is attributed to the first commit (and path) that introduced it
//! and the walk costs one pass over each distinct tree.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::path::Path;

use gix::ObjectId;
use gix::objs::CommitRefIter;

use super::packs::{MAX_OBJECT, Packs, Reader};
use super::tree::{IdHasher, IdSet, Objects};
use super::{BlobRef, Entry, Item, Skipped, Stats, cache, tree};
use crate::error::ScanError;

/// What an incremental history scan may skip.
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits<'a> {
    /// Content reachable from this revision counts as scanned.
    pub since: Option<&'a str>,
    /// Object ids scanned by earlier runs (read, then extended and rewritten).
    pub cache: Option<&'a Path>,
}

/// Scans history, skipping what `limits` says was scanned before.
pub fn history(
    repo: &gix::Repository,
    limits: &Limits<'_>,
    visit: &mut dyn FnMut(Entry<'_>),
) -> Result<Stats, ScanError> {
    let mut read = Ok(());
    let mut counted = Stats::default();
    let packs = Packs::open(repo)?;
    let partial = is_partial_clone(repo);
    let mut reader = Reader::new(&packs, repo);
    let walked = new_blobs(repo, &packs, limits, &mut |blob| {
        if read.is_err() {
            return;
        }
        let object = match read_blob(&mut reader, blob, partial) {
            Ok(Blob::Data(object)) => object,
            // Filtered out of a partial clone: counted, as the parallel reader does.
            Ok(Blob::Missing) => {
                counted.missing += 1;
                return;
            }
            Ok(Blob::Skipped(skipped)) => return visit(Entry::Skipped(skipped)),
            Err(e) => {
                read = Err(e);
                return;
            }
        };
        let hex = blob.id.to_string();
        counted.count(&object);
        visit(Entry::Item(Item {
            path: blob.path,
            bytes: &object,
            commit: Some(blob.commit),
            blob: Some(&hex),
        }));
    })?;
    read?;
    counted.commits = walked.commits;
    Ok(counted)
}

/// A history blob as a reader found it.
pub enum Blob {
    /// Its content.
    Data(std::rc::Rc<Vec<u8>>),
    /// Not in a partial clone (its promisor remote has it).
    Missing,
    /// Not read: too large.
    Skipped(Skipped),
}

/// Reads `blob`. A blob the repository lacks is expected only in a partial clone (`partial`):
/// anywhere else the repository is damaged, and the scan fails rather than report clean.
pub fn read_blob(
    reader: &mut Reader<'_>,
    blob: BlobRef<'_>,
    partial: bool,
) -> Result<Blob, ScanError> {
    match reader.read(blob.id) {
        Ok(Some(data)) => Ok(Blob::Data(data)),
        Ok(None) if partial => Ok(Blob::Missing),
        Ok(None) => Err(ScanError::git(
            "reading a blob",
            format!(
                "{} ({} in commit {}) is missing and the repository is not a partial clone",
                blob.id, blob.path, blob.commit
            ),
        )),
        Err(ScanError::ObjectTooLarge(size)) => Ok(Blob::Skipped(Skipped {
            path: blob.path.to_owned(),
            commit: Some(blob.commit.to_owned()),
            reason: format!(
                "blob {} of {size} bytes is larger than the {} MiB the history scan reads",
                blob.id,
                MAX_OBJECT >> 20
            ),
        })),
        Err(error) => Err(error),
    }
}

/// Whether `repo` is a partial clone: a promisor remote serves the objects it lacks. Git
/// marks that in the configuration, and marks each pack fetched from a promisor remote with a
/// `.promisor` file beside it (which a copy of the repository keeps).
pub fn is_partial_clone(repo: &gix::Repository) -> bool {
    let config = repo.config_snapshot();
    if config.string("extensions.partialClone").is_some() {
        return true;
    }
    let promisor_remote = repo.remote_names().iter().any(|name| {
        config
            .boolean(format!("remote.{name}.promisor").as_str())
            .unwrap_or(false)
    });
    promisor_remote || has_promisor_pack(&repo.objects.store_ref().path().join("pack"))
}

fn has_promisor_pack(pack_dir: &Path) -> bool {
    std::fs::read_dir(pack_dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.path().extension().is_some_and(|e| e == "promisor"))
    })
}

/// Walks history like [`history`] but hands out blob ids instead of content, so the caller
/// decides where blobs are read (on worker threads, in parallel). `Stats::items` and
/// `Stats::bytes` are left for the reader to count.
pub fn new_blobs(
    repo: &gix::Repository,
    packs: &Packs,
    limits: &Limits<'_>,
    visit: &mut dyn FnMut(BlobRef<'_>),
) -> Result<Stats, ScanError> {
    let mut reader = Reader::new(packs, repo);
    let mut graph = Graph {
        shallow: shallow_boundary(repo)?,
        ..Graph::default()
    };
    let order = graph.topological(&mut reader, tips(repo)?)?;
    let mut seen_trees = IdSet::default();
    let mut seen_blobs = IdSet::default();
    if let Some(path) = limits.cache {
        cache::read(path, &mut seen_trees, &mut seen_blobs)?;
    }
    let mut hidden = IdSet::default();
    if let Some(rev) = limits.since {
        let base = repo
            .rev_parse_single(rev)
            .map_err(|_| ScanError::UnknownRevision(rev.to_owned()))?
            .detach();
        for commit in graph.topological(&mut reader, vec![base])? {
            hidden.insert(commit);
            let root = graph.tree_of(commit)?;
            if seen_trees.insert(root) {
                tree::blobs(&mut reader, root, &mut seen_trees, &mut |_, id| {
                    seen_blobs.insert(id);
                    Ok(())
                })?;
            }
        }
    }
    // The walk needs each commit's tree only: parent lists (one allocation per commit) go
    // before the seen-sets grow, which keeps them out of the peak.
    graph.parents = HashMap::default();
    let mut stats = Stats::default();
    for commit in order.into_iter().filter(|c| !hidden.contains(c)) {
        stats.commits += 1;
        stats.shallow += usize::from(graph.shallow.contains(&commit));
        let root = graph.tree_of(commit)?;
        if !seen_trees.insert(root) {
            continue;
        }
        let commit_hex = commit.to_string();
        tree::blobs(&mut reader, root, &mut seen_trees, &mut |at, id| {
            if !seen_blobs.insert(id) {
                return Ok(());
            }
            let path = at.to_path();
            visit(BlobRef {
                path: &path,
                id,
                commit: &commit_hex,
            });
            Ok(())
        })?;
    }
    if let Some(path) = limits.cache {
        cache::write(path, &seen_trees, &seen_blobs)?;
    }
    Ok(stats)
}

/// The boundary commits of a shallow clone (none in a full one).
fn shallow_boundary(repo: &gix::Repository) -> Result<IdSet, ScanError> {
    let commits = repo
        .shallow_commits()
        .map_err(|e| ScanError::git("reading the shallow boundary", e))?;
    Ok(commits
        .map(|commits| commits.iter().copied().collect())
        .unwrap_or_default())
}

/// The commits every ref (and a detached `HEAD`) points at.
fn tips(repo: &gix::Repository) -> Result<Vec<ObjectId>, ScanError> {
    let platform = repo
        .references()
        .map_err(|e| ScanError::git("listing refs", e))?;
    let refs = platform
        .all()
        .map_err(|e| ScanError::git("listing refs", e))?;
    let mut tips = Vec::new();
    // A ref that cannot be read or peeled means lost objects (a pack deleted or cut short):
    // the scan fails instead of walking nothing and reporting a clean history.
    for reference in refs {
        let mut reference = reference.map_err(|e| ScanError::git("reading a ref", e))?;
        let name = reference.name().as_bstr().to_string();
        let id = reference
            .peel_to_id()
            .map_err(|e| ScanError::git("resolving a ref", format!("{name}: {e}")))?
            .detach();
        let header = repo.find_header(id).map_err(|e| {
            ScanError::git("reading the object a ref names", format!("{name}: {e}"))
        })?;
        if header.kind() == gix::object::Kind::Commit {
            tips.push(id);
        }
    }
    // An unborn HEAD (no commit yet) has nothing to walk; a detached one is a tip.
    let head = repo.head().map_err(|e| ScanError::git("reading HEAD", e))?;
    if let Some(id) = head.id() {
        let id = id.detach();
        let header = repo
            .find_header(id)
            .map_err(|e| ScanError::git("reading the object HEAD names", e))?;
        if header.kind() == gix::object::Kind::Commit {
            tips.push(id);
        }
    }
    tips.sort();
    tips.dedup();
    Ok(tips)
}

/// Parsed commits: parents and root tree, each commit read once.
#[derive(Default)]
struct Graph {
    parents: HashMap<ObjectId, Vec<ObjectId>, BuildHasherDefault<IdHasher>>,
    trees: HashMap<ObjectId, ObjectId, BuildHasherDefault<IdHasher>>,
    /// A shallow clone's boundary commits: their parents are not in the repository, so the
    /// walk stops there (and says so) instead of failing on them.
    shallow: IdSet,
}

impl Graph {
    fn load(&mut self, objects: &mut dyn Objects, id: ObjectId) -> Result<(), ScanError> {
        if self.parents.contains_key(&id) {
            return Ok(());
        }
        let hash = objects.hash_kind();
        let object = objects.object(id)?;
        let tree = CommitRefIter::from_bytes(&object, hash)
            .tree_id()
            .map_err(|e| ScanError::git("decoding a commit", e))?;
        let parents = if self.shallow.contains(&id) {
            Vec::new()
        } else {
            CommitRefIter::from_bytes(&object, hash)
                .parent_ids()
                .collect()
        };
        self.trees.insert(id, tree);
        self.parents.insert(id, parents);
        Ok(())
    }

    fn tree_of(&self, commit: ObjectId) -> Result<ObjectId, ScanError> {
        self.trees
            .get(&commit)
            .copied()
            .ok_or_else(|| ScanError::git("finding a commit's tree", commit))
    }

    /// Every commit reachable from `tips`, parents before children (iterative post-order).
    fn topological(
        &mut self,
        objects: &mut dyn Objects,
        tips: Vec<ObjectId>,
    ) -> Result<Vec<ObjectId>, ScanError> {
        let mut order = Vec::new();
        let mut visited = IdSet::default();
        let mut stack: Vec<(ObjectId, bool)> = tips.into_iter().rev().map(|t| (t, false)).collect();
        while let Some((id, expanded)) = stack.pop() {
            if expanded {
                order.push(id);
                continue;
            }
            if !visited.insert(id) {
                continue;
            }
            self.load(objects, id)?;
            stack.push((id, true));
            for parent in self.parents.get(&id).into_iter().flatten().rev() {
                if !visited.contains(parent) {
                    stack.push((*parent, false));
                }
            }
        }
        Ok(order)
    }
}
