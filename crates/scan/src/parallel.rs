//! Scanning on worker threads while the source walks: the walker (git trees, or the file
//! system) and the workers overlap, and findings come back in walk order so "first
//! introduced" stays deterministic. For history the walker only sends blob ids: each worker
//! reads (inflates, resolves deltas) the blobs it scans through its own chain-caching
//! [`Reader`], so the costliest part of the walk runs on every core.
//!
//! History blobs are routed to workers by path, so one worker sees every new version of a
//! path in walk order and scans only the lines that changed since the version before (see
//! [`Scanner::scan_version`]): a file with a thousand versions is not scanned a thousand
//! times in full.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use gix::ObjectId;

use crate::error::ScanError;
use crate::finding::Finding;
use crate::scanner::{Lines, Scanner};
use crate::source::history::{self, Blob};
use crate::source::packs::{Packs, Reader};
use crate::source::{self, BlobRef, Entry, Mode, Skipped, Stats};

/// Items in flight between the walker and the workers (bounds memory: only blob ids queue
/// for history, file contents for the other sources).
const QUEUE: usize = 256;

/// Line hashes of previous versions one worker keeps (8 bytes each): past it the worker forgets
/// them all and the next version of each path is scanned in full. Bounds memory whatever the
/// number of paths in history.
const MAX_HELD: usize = 1 << 20;

/// What a worker scans: content the walker read, a large file it streams, or a blob it
/// reads itself.
enum Content {
    Bytes(Vec<u8>),
    File(std::fs::File),
    Blob(ObjectId),
}

/// An item the workers own.
struct Owned {
    seq: usize,
    path: String,
    content: Content,
    commit: Option<String>,
    blob: Option<String>,
}

/// What one worker produced: findings and skips with their place in walk order.
struct Part {
    found: Vec<(usize, Finding)>,
    skipped: Vec<(usize, Skipped)>,
    stats: Stats,
}

/// Findings in walk order, what was not scanned, and the counts.
pub type Scanned = (Vec<Finding>, Vec<Skipped>, Stats);

/// The history repository for every thread, its pack files, and whether it is a partial
/// clone.
struct Shared {
    repo: gix::ThreadSafeRepository,
    packs: Packs,
    partial: bool,
}

/// Walks `mode` over `path`, scans every item on `workers` threads and returns the findings
/// in walk order with their commit and blob set.
pub fn scan_source(
    scanner: &Scanner,
    path: &std::path::Path,
    mode: &Mode,
    workers: usize,
    progress: &mut dyn FnMut(usize, u64),
) -> Result<Scanned, ScanError> {
    // History: the repository for every thread and its pack files, opened once.
    let shared = match mode {
        Mode::History { .. } => {
            let repo = source::open_shared(path)?;
            let local = repo.to_thread_local();
            let packs = Packs::open(&local)?;
            let partial = history::is_partial_clone(&local);
            Some(Shared {
                repo,
                packs,
                partial,
            })
        }
        _ => None,
    };
    let workers = workers.max(1);
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..workers)
        .map(|_| sync_channel::<Owned>((QUEUE / workers).max(16)))
        .unzip();
    let bytes = AtomicU64::new(0);
    std::thread::scope(|scope| {
        // Only the workers hold the receivers: if they all stop, sending fails instead of
        // blocking the walker.
        let handles: Vec<_> = receivers
            .into_iter()
            .map(|receiver| {
                let (shared, bytes) = (shared.as_ref(), &bytes);
                scope.spawn(move || {
                    let repo = shared.map(|shared| (shared.repo.to_thread_local(), shared));
                    let reader = repo.as_ref().map(|(repo, shared)| History {
                        reader: Reader::new(&shared.packs, repo),
                        partial: shared.partial,
                    });
                    work(scanner, reader, &receiver, bytes)
                })
            })
            .collect();
        let sender = Router(senders);
        let mut skipped = Vec::new();
        let walked = match &shared {
            Some(shared) => walk_history(
                &shared.repo.to_thread_local(),
                &shared.packs,
                mode,
                sender,
                &bytes,
                progress,
            ),
            None => walk(path, mode, sender, &mut skipped, progress),
        };
        let mut found: Vec<(usize, Finding)> = Vec::new();
        let mut counted = Stats::default();
        let mut failed = None;
        for handle in handles {
            // A worker only panics on a bug; report it as an internal failure.
            let part = handle
                .join()
                .map_err(|_| ScanError::git("scanning on a worker thread", "a worker panicked"))?;
            match part {
                Ok(part) => {
                    found.extend(part.found);
                    skipped.extend(part.skipped);
                    counted.items += part.stats.items;
                    counted.bytes += part.stats.bytes;
                    counted.missing += part.stats.missing;
                }
                Err(error) => failed = failed.or(Some(error)),
            }
        }
        // The walker's error comes first: a worker may only have stopped because of it.
        let mut stats = walked?;
        if let Some(error) = failed {
            return Err(error);
        }
        if shared.is_some() {
            (stats.items, stats.bytes, stats.missing) =
                (counted.items, counted.bytes, counted.missing);
        }
        found.sort_by_key(|(seq, _)| *seq);
        skipped.sort_by_key(|(seq, _)| *seq);
        Ok((
            found.into_iter().map(|(_, f)| f).collect(),
            skipped.into_iter().map(|(_, s)| s).collect(),
            stats,
        ))
    })
}

/// A worker's history reader and whether lacking a blob is expected.
struct History<'a> {
    reader: Reader<'a>,
    partial: bool,
}

/// One queue per worker; an item goes to the worker its path hashes to.
struct Router(Vec<SyncSender<Owned>>);

impl Router {
    fn send(&self, item: Owned) {
        let mut hasher = DefaultHasher::new();
        item.path.hash(&mut hasher);
        // Lossless enough: only the remainder matters.
        let index = (hasher.finish() % self.0.len() as u64) as usize;
        // The workers only stop early if they failed or panicked; the join reports that.
        let _ = self.0[index].send(item);
    }
}

fn walk(
    path: &std::path::Path,
    mode: &Mode,
    sender: Router,
    skipped: &mut Vec<(usize, Skipped)>,
    progress: &mut dyn FnMut(usize, u64),
) -> Result<Stats, ScanError> {
    let (mut seq, mut bytes) = (0usize, 0u64);
    source::walk(path, mode, &mut |entry: Entry<'_>| {
        seq += 1;
        let owned = match entry {
            Entry::Item(item) => {
                bytes += item.bytes.len() as u64;
                Owned {
                    seq,
                    path: item.path.to_owned(),
                    content: Content::Bytes(item.bytes.to_vec()),
                    commit: item.commit.map(str::to_owned),
                    blob: item.blob.map(str::to_owned),
                }
            }
            Entry::Large { path, file, len } => {
                bytes += len;
                Owned {
                    seq,
                    path: path.to_owned(),
                    content: Content::File(file),
                    commit: None,
                    blob: None,
                }
            }
            Entry::Skipped(skip) => return skipped.push((seq, skip)),
        };
        progress(seq, bytes);
        sender.send(owned);
    })
}

fn walk_history(
    repo: &gix::Repository,
    packs: &Packs,
    mode: &Mode,
    sender: Router,
    bytes: &AtomicU64,
    progress: &mut dyn FnMut(usize, u64),
) -> Result<Stats, ScanError> {
    let mut seq = 0usize;
    source::history_blobs(repo, packs, mode, &mut |blob: BlobRef<'_>| {
        seq += 1;
        progress(seq, bytes.load(Ordering::Relaxed));
        sender.send(Owned {
            seq,
            path: blob.path.to_owned(),
            content: Content::Blob(blob.id),
            commit: Some(blob.commit.to_owned()),
            blob: None,
        });
    })
}

fn work(
    scanner: &Scanner,
    mut reading: Option<History<'_>>,
    receiver: &Receiver<Owned>,
    bytes: &AtomicU64,
) -> Result<Part, ScanError> {
    let mut part = Part {
        found: Vec::new(),
        skipped: Vec::new(),
        stats: Stats::default(),
    };
    let mut versions = Versions::default();
    while let Ok(item) = receiver.recv() {
        let Owned {
            seq,
            path,
            content,
            commit,
            blob,
        } = item;
        let (read, blob_data);
        let (data, blob, versioned): (&[u8], _, _) = match (content, reading.as_mut()) {
            (Content::Bytes(data), _) => {
                read = data;
                (read.as_slice(), blob, false)
            }
            (Content::File(mut file), _) => {
                // Counted by the walker, which knew the length.
                match scanner.scan_reader(&path, &mut file) {
                    Ok(findings) => part.found.extend(findings.into_iter().map(|f| (seq, f))),
                    Err(error) => part.skipped.push((
                        seq,
                        Skipped {
                            path,
                            commit: None,
                            reason: format!("read failed part way: {error}"),
                        },
                    )),
                }
                continue;
            }
            (Content::Blob(id), Some(reading)) => {
                let at = BlobRef {
                    path: &path,
                    id,
                    commit: commit.as_deref().unwrap_or_default(),
                };
                match history::read_blob(&mut reading.reader, at, reading.partial)? {
                    Blob::Data(data) => {
                        blob_data = data;
                        (blob_data.as_slice(), Some(id.to_string()), true)
                    }
                    // A partial clone lacks some blobs (its promisor remote has them): they
                    // are counted and reported, not a reason to give up on the rest.
                    Blob::Missing => {
                        part.stats.missing += 1;
                        continue;
                    }
                    Blob::Skipped(skipped) => {
                        part.skipped.push((seq, skipped));
                        continue;
                    }
                }
            }
            (Content::Blob(_), None) => continue,
        };
        part.stats.count(data);
        bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        let findings = if versioned {
            let (findings, lines) = scanner.scan_version(&path, data, versions.get(&path));
            versions.set(path.clone(), lines);
            findings
        } else {
            scanner.scan(&path, data)
        };
        for mut finding in findings {
            finding.location.commit.clone_from(&commit);
            finding.location.blob.clone_from(&blob);
            part.found.push((seq, finding));
        }
    }
    Ok(part)
}

/// The lines of the version of each path a worker scanned last, within [`MAX_HELD`].
#[derive(Default)]
struct Versions {
    by_path: HashMap<String, Lines>,
    held: usize,
}

impl Versions {
    fn get(&self, path: &str) -> Option<&Lines> {
        self.by_path.get(path)
    }

    fn set(&mut self, path: String, lines: Option<Lines>) {
        if let Some(old) = self.by_path.remove(&path) {
            self.held -= old.len();
        }
        let Some(lines) = lines else {
            return;
        };
        if self.held + lines.len() > MAX_HELD {
            self.by_path.clear();
            self.held = 0;
        }
        self.held += lines.len();
        self.by_path.insert(path, lines);
    }
}
