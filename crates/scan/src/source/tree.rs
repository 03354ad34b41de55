//! Tree traversal shared by the staged and history sources.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use gix::ObjectId;
use gix::bstr::BStr;
use gix::objs::TreeRefIter;

use crate::error::ScanError;

/// Object ids are uniformly distributed already: hashing folds their bytes instead of running
/// SipHash over them (the seen-sets are the history walk's hottest structure).
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(word);
        }
    }
}

/// A set of object ids.
pub type IdSet = HashSet<ObjectId, BuildHasherDefault<IdHasher>>;

/// Where a blob sits: built into a path only when the visitor wants it.
#[derive(Clone, Copy, Debug)]
pub struct BlobPath<'a> {
    prefix: &'a str,
    name: &'a BStr,
}

impl BlobPath<'_> {
    /// The `/`-separated path.
    pub fn to_path(self) -> String {
        if self.prefix.is_empty() {
            self.name.to_string()
        } else {
            format!("{}/{}", self.prefix, self.name)
        }
    }
}

/// Where tree walks read trees from: the repository, or the history scan's chain-caching
/// [`Reader`](super::packs::Reader).
pub trait Objects {
    /// The content of object `id`, which must exist.
    fn object(&mut self, id: ObjectId) -> Result<ObjectData<'_>, ScanError>;

    /// The repository's hash kind.
    fn hash_kind(&self) -> gix::hash::Kind;
}

/// Object content, borrowed from a gix object or shared from a cache.
pub enum ObjectData<'a> {
    /// Read by gix.
    Gix(gix::Object<'a>),
    /// Read by the history reader.
    Shared(std::rc::Rc<Vec<u8>>),
}

impl std::ops::Deref for ObjectData<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            ObjectData::Gix(object) => &object.data,
            ObjectData::Shared(data) => data,
        }
    }
}

impl Objects for &gix::Repository {
    fn object(&mut self, id: ObjectId) -> Result<ObjectData<'_>, ScanError> {
        self.find_object(id)
            .map(ObjectData::Gix)
            .map_err(|e| ScanError::git("reading an object", e))
    }

    fn hash_kind(&self) -> gix::hash::Kind {
        self.object_hash()
    }
}

/// Calls `visit(path, blob id)` for every blob under `tree`, skipping subtrees already in
/// `seen` (their blobs were visited before) and adding new subtrees to it.
pub fn blobs(
    objects: &mut dyn Objects,
    tree: ObjectId,
    seen: &mut IdSet,
    visit: &mut dyn FnMut(BlobPath<'_>, ObjectId) -> Result<(), ScanError>,
) -> Result<(), ScanError> {
    let hash = objects.hash_kind();
    let mut stack = vec![(tree, String::new())];
    while let Some((id, prefix)) = stack.pop() {
        let object = objects.object(id)?;
        for entry in TreeRefIter::from_bytes(&object, hash) {
            let entry = entry.map_err(|e| ScanError::git("decoding a tree", e))?;
            let oid = entry.oid.to_owned();
            let at = BlobPath {
                prefix: &prefix,
                name: entry.filename,
            };
            if entry.mode.is_tree() {
                if seen.insert(oid) {
                    stack.push((oid, at.to_path()));
                }
            } else if entry.mode.is_blob() {
                visit(at, oid)?;
            }
        }
    }
    Ok(())
}
