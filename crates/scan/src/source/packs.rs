//! Object reads for the history scan that resolve delta chains the way git does: every object
//! decoded on the way to the one asked for (the chain's base and each delta applied on top) is
//! kept in a bounded cache, so the next version of a file, usually the next link of the same
//! chain, costs one delta.
//!
//! Why not gix's own read path: it caches only the object asked for. Git deltifies old
//! versions against new ones, and the history walk reads the oldest version first, so it meets
//! each chain at its far end and re-inflated most of it on every read (curl's pack has chains
//! 50 deep). gix-pack still does the pack work here: index lookups, entry headers and inflating;
//! this module adds the chain cache and the delta instructions (which gix-pack keeps private).
//!
//! Objects outside the repository's pack files (loose ones, or ones swapped by `git replace`)
//! are read through gix, as before, and so are the blobs a partial clone lacks.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use gix::ObjectId;
use gix::odb::store::structure::Record;
use gix_pack::data::entry::Header;

use super::tree::{IdSet, ObjectData};
use crate::error::ScanError;

/// Bytes of decoded objects one reader keeps (one reader per thread). A chain's links are a
/// few versions of one file, so this holds many chains at once; objects over a quarter of it
/// are not kept. On curl's history (5 GB of blobs, 2 workers and the walker), 16 MiB scanned in
/// 11.5 s with a 424 MiB peak, 32 MiB in 11.0 s with 484 MiB (the object asked for taken out
/// of the cache, see [`Reader::resolve`]); keeping it too, 64 MiB took 10.8 s and 636 MiB.
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Largest object the reader inflates: a blob over it is reported as skipped (a tree or
/// commit over it fails the scan), and a corrupt or hostile size field cannot make the
/// reader allocate more.
pub const MAX_OBJECT: u64 = 256 * 1024 * 1024;

/// Longer chains than this are a corrupt (cyclic) pack: git's own limit is 4095.
const MAX_CHAIN: usize = 10_000;

/// The repository's pack files, opened once and shared by every reader.
pub struct Packs {
    bundles: Vec<gix_pack::Bundle>,
    /// Objects `refs/replace/` swaps: gix applies the replacement, so they are read through it.
    replaced: IdSet,
}

impl Packs {
    /// Opens the pack files of `repo` and of its alternates.
    pub fn open(repo: &gix::Repository) -> Result<Self, ScanError> {
        let records = repo
            .objects
            .store_ref()
            .structure()
            .map_err(|e| ScanError::git("listing pack files", e))?;
        let mut indexes = Vec::new();
        for record in records {
            match record {
                Record::Index { path, .. } => indexes.push(path),
                // The packs a multi-pack index covers keep their own indexes beside it.
                Record::MultiIndex { path, .. } => {
                    indexes.extend(pack_indexes_beside(&path));
                }
                Record::LooseObjectDatabase { .. } | Record::Empty => {}
            }
        }
        indexes.sort();
        indexes.dedup();
        let mut bundles = Vec::new();
        for path in indexes {
            let bundle = gix_pack::Bundle::at(&path, repo.object_hash())
                .map_err(|e| ScanError::git("opening a pack file", e))?;
            bundles.push(bundle);
        }
        // The biggest pack first: most lookups end there.
        bundles.sort_by_key(|bundle| std::cmp::Reverse(bundle.index.num_objects()));
        Ok(Self {
            bundles,
            replaced: replaced_ids(repo),
        })
    }
}

/// The `*.idx` files in the directory of `file`.
fn pack_indexes_beside(file: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Some(Ok(entries)) = file.parent().map(std::fs::read_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "idx"))
        .collect()
}

/// The ids `refs/replace/<id>` names.
fn replaced_ids(repo: &gix::Repository) -> IdSet {
    let mut replaced = IdSet::default();
    let Ok(platform) = repo.references() else {
        return replaced;
    };
    let Ok(refs) = platform.prefixed("refs/replace/") else {
        return replaced;
    };
    for reference in refs.flatten() {
        let name = reference.name().as_bstr().to_string();
        let hex = name.trim_start_matches("refs/replace/");
        if let Ok(id) = ObjectId::from_hex(hex.as_bytes()) {
            replaced.insert(id);
        }
    }
    replaced
}

/// Reads objects for one thread, with its own chain cache and inflate state.
pub struct Reader<'a> {
    packs: &'a Packs,
    repo: &'a gix::Repository,
    cache: ChainCache,
    inflate: gix_zlib::Inflate,
    delta: Vec<u8>,
}

impl<'a> Reader<'a> {
    /// A reader of `packs`, falling back to `repo` for what they do not hold.
    pub fn new(packs: &'a Packs, repo: &'a gix::Repository) -> Self {
        Self {
            packs,
            repo,
            cache: ChainCache::default(),
            inflate: gix_zlib::Inflate::default(),
            delta: Vec::new(),
        }
    }

    /// The content of object `id`, or `None` when the repository lacks it (a partial clone).
    pub fn read(&mut self, id: ObjectId) -> Result<Option<Rc<Vec<u8>>>, ScanError> {
        if !self.packs.replaced.contains(&id) {
            for pack in 0..self.packs.bundles.len() {
                let index = &self.packs.bundles[pack].index;
                if let Some(at) = index.lookup(id) {
                    let offset = index.pack_offset_at_index(at);
                    return self.resolve(pack, offset).map(Some);
                }
            }
        }
        let header = self
            .repo
            .try_find_header(id)
            .map_err(|e| ScanError::git("reading an object header", e))?;
        match header {
            None => return Ok(None),
            Some(header) if header.size() > MAX_OBJECT => {
                return Err(ScanError::ObjectTooLarge(header.size()));
            }
            Some(_) => {}
        }
        let object = self
            .repo
            .try_find_object(id)
            .map_err(|e| ScanError::git("reading an object", e))?;
        Ok(object.map(|object| Rc::new(object.detach().data)))
    }

    /// The object whose entry starts at `offset` in pack `pack`.
    fn resolve(&mut self, pack: usize, offset: u64) -> Result<Rc<Vec<u8>>, ScanError> {
        let bundle = &self.packs.bundles[pack];
        // Down the chain to a cached object or a full one, remembering the deltas passed.
        let mut deltas: Vec<(u64, gix_pack::data::Entry)> = Vec::new();
        let mut at = offset;
        let mut base = loop {
            // The object asked for is read once (the walk reads each object once), so a
            // cached copy is taken out; the links below it stay for the versions to come.
            let cached = if at == offset {
                self.cache.take(pack, at)
            } else {
                self.cache.get(pack, at)
            };
            if let Some(found) = cached {
                break found;
            }
            if deltas.len() > MAX_CHAIN {
                return Err(ScanError::git("reading a pack", "a delta chain loops"));
            }
            let entry = bundle
                .pack
                .entry(at)
                .map_err(|e| ScanError::git("reading a pack entry", e))?;
            match entry.header {
                Header::OfsDelta { base_distance } => {
                    let base = entry
                        .checked_base_pack_offset(base_distance)
                        .ok_or_else(|| {
                            ScanError::git("reading a pack", "a delta base lies outside")
                        })?;
                    deltas.push((at, entry));
                    at = base;
                }
                Header::RefDelta { base_id } => {
                    deltas.push((at, entry));
                    match bundle.index.lookup(base_id) {
                        Some(index) => at = bundle.index.pack_offset_at_index(index),
                        // A base in another pack or loose: read whole, not cached here.
                        None => {
                            break self.read(base_id)?.ok_or_else(|| {
                                ScanError::git("reading a pack", "a delta base is missing")
                            })?;
                        }
                    }
                }
                Header::Commit | Header::Tree | Header::Blob | Header::Tag => {
                    let mut data = Vec::new();
                    self.inflate_entry(pack, &entry, &mut data)?;
                    let data = Rc::new(data);
                    if at != offset {
                        self.cache.put(pack, at, &data);
                    }
                    break data;
                }
            }
        };
        // Back up the chain: each result is the next one's base, and worth keeping.
        let mut delta = std::mem::take(&mut self.delta);
        for (at, entry) in deltas.into_iter().rev() {
            self.inflate_entry(pack, &entry, &mut delta)?;
            let result = Rc::new(apply_delta(&base, &delta)?);
            if at != offset {
                self.cache.put(pack, at, &result);
            }
            base = result;
        }
        self.delta = delta;
        Ok(base)
    }

    /// Inflates `entry` into `out` (resized to fit; a fresh `out` gets no spare capacity, so
    /// what the cache counts is what it holds).
    fn inflate_entry(
        &mut self,
        pack: usize,
        entry: &gix_pack::data::Entry,
        out: &mut Vec<u8>,
    ) -> Result<(), ScanError> {
        if entry.decompressed_size > MAX_OBJECT {
            return Err(ScanError::ObjectTooLarge(entry.decompressed_size));
        }
        let size = usize::try_from(entry.decompressed_size)
            .map_err(|_| ScanError::git("reading a pack", "an entry too large for memory"))?;
        out.clear();
        out.resize(size, 0);
        self.packs.bundles[pack]
            .pack
            .decompress_entry(entry, &mut self.inflate, out)
            .map_err(|e| ScanError::git("inflating a pack entry", e))?;
        Ok(())
    }
}

impl super::tree::Objects for Reader<'_> {
    fn object(&mut self, id: ObjectId) -> Result<ObjectData<'_>, ScanError> {
        self.read(id)?
            .map(ObjectData::Shared)
            .ok_or_else(|| ScanError::git("reading an object", format!("{id} is missing")))
    }

    fn hash_kind(&self) -> gix::hash::Kind {
        self.repo.object_hash()
    }
}

/// Applies git delta `delta` (base size, result size, then copy and insert instructions) to
/// `base`.
fn apply_delta(base: &[u8], delta: &[u8]) -> Result<Vec<u8>, ScanError> {
    let corrupt = |what: &str| ScanError::git("applying a delta", what.to_owned());
    let mut rest = delta;
    let base_size = read_size(&mut rest).ok_or_else(|| corrupt("no base size"))?;
    let result_size = read_size(&mut rest).ok_or_else(|| corrupt("no result size"))?;
    if base_size != base.len() as u64 {
        return Err(corrupt("the base has another size"));
    }
    if result_size > MAX_OBJECT {
        return Err(ScanError::ObjectTooLarge(result_size));
    }
    let result_size = usize::try_from(result_size).map_err(|_| corrupt("result too large"))?;
    let mut out = Vec::with_capacity(result_size);
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        if op & 0x80 != 0 {
            // Copy: bits 0-3 say which offset bytes follow, bits 4-6 which size bytes.
            let mut offset = 0usize;
            let mut size = 0usize;
            for bit in 0..7 {
                if op & (1 << bit) == 0 {
                    continue;
                }
                let (&byte, tail) = rest.split_first().ok_or_else(|| corrupt("cut short"))?;
                rest = tail;
                if bit < 4 {
                    offset |= usize::from(byte) << (8 * bit);
                } else {
                    size |= usize::from(byte) << (8 * (bit - 4));
                }
            }
            if size == 0 {
                size = 0x10000;
            }
            let end = offset
                .checked_add(size)
                .ok_or_else(|| corrupt("copy overflows"))?;
            let copied = base
                .get(offset..end)
                .ok_or_else(|| corrupt("copy outside the base"))?;
            out.extend_from_slice(copied);
        } else if op != 0 {
            // Insert: the next `op` bytes.
            let size = usize::from(op);
            let inserted = rest.get(..size).ok_or_else(|| corrupt("cut short"))?;
            out.extend_from_slice(inserted);
            rest = &rest[size..];
        } else {
            return Err(corrupt("reserved instruction 0"));
        }
    }
    if out.len() != result_size {
        return Err(corrupt("the result has another size"));
    }
    Ok(out)
}

/// A little-endian base-128 size at the start of `data`, consumed.
fn read_size(data: &mut &[u8]) -> Option<u64> {
    let mut size = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = data.split_first()?;
        *data = rest;
        size |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(size);
        }
    }
    None
}

/// A pack (its place in [`Packs`]) and an entry's offset in it.
type Key = (usize, u64);

/// Decoded objects by pack and offset, least recently used out first, within
/// [`CACHE_BYTES`].
#[derive(Default)]
struct ChainCache {
    /// Each object with the stamp of its last use.
    entries: HashMap<Key, (Rc<Vec<u8>>, u64)>,
    /// Keys in the order they were used, with that use's stamp; a key used again has a newer
    /// stamp in its entry and its older places here are skipped.
    order: VecDeque<(Key, u64)>,
    stamp: u64,
    bytes: usize,
}

impl ChainCache {
    fn get(&mut self, pack: usize, offset: u64) -> Option<Rc<Vec<u8>>> {
        self.stamp += 1;
        let stamp = self.stamp;
        let (data, used) = self.entries.get_mut(&(pack, offset))?;
        *used = stamp;
        let data = Rc::clone(data);
        self.order.push_back(((pack, offset), stamp));
        self.compact();
        Some(data)
    }

    fn put(&mut self, pack: usize, offset: u64, data: &Rc<Vec<u8>>) {
        if data.len() > CACHE_BYTES / 4 {
            return;
        }
        self.stamp += 1;
        let key = (pack, offset);
        if let Some((old, _)) = self.entries.insert(key, (Rc::clone(data), self.stamp)) {
            self.bytes -= old.len();
        }
        self.bytes += data.len();
        self.order.push_back((key, self.stamp));
        while self.bytes > CACHE_BYTES {
            let Some((key, stamp)) = self.order.pop_front() else {
                break;
            };
            if self.is_current(key, stamp)
                && let Some((old, _)) = self.entries.remove(&key)
            {
                self.bytes -= old.len();
            }
        }
        self.compact();
    }

    /// Removes and returns the object at `offset` of `pack`.
    fn take(&mut self, pack: usize, offset: u64) -> Option<Rc<Vec<u8>>> {
        let (data, _) = self.entries.remove(&(pack, offset))?;
        self.bytes -= data.len();
        Some(data)
    }

    /// Whether `stamp` is the last use of `key` (and `key` is still held).
    fn is_current(&self, key: Key, stamp: u64) -> bool {
        self.entries
            .get(&key)
            .is_some_and(|(_, used)| *used == stamp)
    }

    /// Drops stale places in the use order when they outnumber the entries, so it stays
    /// bounded by the cache's size, not by the number of reads.
    fn compact(&mut self) {
        if self.order.len() > 4 * self.entries.len() + 1024 {
            let mut order = std::mem::take(&mut self.order);
            order.retain(|(key, stamp)| self.is_current(*key, *stamp));
            self.order = order;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn deltas_copy_and_insert() {
        let base = b"hello, world";
        // Base size 12, result size 12; copy 7 bytes from offset 0, insert "there".
        let delta = [12, 12, 0x91, 0, 7, 5, b't', b'h', b'e', b'r', b'e'];
        assert_eq!(
            apply_delta(base, &delta).ok().as_deref(),
            Some(&b"hello, there"[..])
        );
        // Copy offset bits only: the size 0 means 0x10000, past this base.
        assert!(apply_delta(base, &[12, 12, 0x81, 0]).is_err());
        // Wrong base size, cut short, reserved instruction, wrong result size.
        assert!(apply_delta(base, &[11, 12, 0x91, 0, 7]).is_err());
        assert!(apply_delta(base, &[12, 12, 0x91, 0]).is_err());
        assert!(apply_delta(base, &[12, 12, 0]).is_err());
        assert!(apply_delta(base, &[12, 13, 0x91, 0, 12]).is_err());
    }

    #[test]
    fn the_cache_keeps_what_was_used_last_within_its_bytes() {
        let mut cache = ChainCache::default();
        let quarter = Rc::new(vec![0u8; CACHE_BYTES / 4]);
        for offset in 0..4 {
            cache.put(0, offset, &quarter);
        }
        assert!(cache.get(0, 0).is_some(), "all four fit");
        cache.put(0, 4, &quarter);
        assert!(cache.bytes <= CACHE_BYTES);
        assert!(cache.get(0, 1).is_none(), "the least recently used went");
        assert!(cache.get(0, 0).is_some(), "a used one stayed");
        cache.put(0, 5, &Rc::new(vec![0u8; CACHE_BYTES / 4 + 1]));
        assert!(cache.get(0, 5).is_none(), "too big to keep");
        for _ in 0..10_000 {
            cache.get(0, 0);
        }
        assert!(cache.order.len() <= 4 * cache.entries.len() + 1024);
        let held = cache.bytes;
        assert!(cache.take(0, 0).is_some());
        assert_eq!(cache.bytes, held - CACHE_BYTES / 4);
        assert!(cache.get(0, 0).is_none(), "taken out");
    }

    fn git(dir: &std::path::Path, args: &[&str]) {
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    }

    /// Every object of a repacked history (deep delta chains, read oldest first as the walk
    /// does, then newest first) reads back as gix reads it.
    #[test]
    fn chained_objects_read_as_gix_reads_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        git(d, &["init", "-q"]);
        let mut text = String::new();
        for version in 0..60 {
            text.push_str(&format!("line {version} of a file that grows\n"));
            std::fs::write(d.join("grows.txt"), &text).expect("write");
            std::fs::write(d.join("small.txt"), format!("v{version}\n")).expect("write");
            git(d, &["add", "-A"]);
            git(d, &["commit", "-qm", &format!("v{version}")]);
        }
        git(d, &["repack", "-adfq", "--depth=50", "--window=250"]);
        // Through a multi-pack index, the packs are still found (their own indexes stay).
        git(d, &["multi-pack-index", "write"]);
        let repo = gix::open(d).expect("open");
        let packs = Packs::open(&repo).expect("packs");
        assert_eq!(packs.bundles.len(), 1);
        let mut ids: Vec<ObjectId> = packs.bundles[0].index.iter().map(|e| e.oid).collect();
        let deltas = ids
            .iter()
            .filter(|id| {
                let index = packs.bundles[0].index.lookup(**id).expect("listed");
                let offset = packs.bundles[0].index.pack_offset_at_index(index);
                packs.bundles[0]
                    .pack
                    .entry(offset)
                    .expect("entry")
                    .header
                    .is_delta()
            })
            .count();
        assert!(deltas > 50, "only {deltas} deltas: the test needs chains");
        for order in 0..2 {
            let mut reader = Reader::new(&packs, &repo);
            for id in &ids {
                let ours = reader.read(*id).expect("read").expect("present");
                let theirs = repo.find_object(*id).expect("gix reads it");
                assert_eq!(
                    ours.as_slice(),
                    &theirs.data[..],
                    "object {id} (pass {order})"
                );
            }
            ids.reverse();
        }
    }
}
