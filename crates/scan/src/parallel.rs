//! Scanning on worker threads while the source walks: the walker (git object decoding) and
//! the detectors overlap, and findings come back in walk order so "first introduced" stays
//! deterministic.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use crate::error::ScanError;
use crate::finding::Finding;
use crate::scanner::Scanner;
use crate::source::{self, Item, Mode, Stats};

/// Items in flight between the walker and the workers.
const QUEUE: usize = 256;

/// An item the workers own.
struct Owned {
    seq: usize,
    path: String,
    bytes: Vec<u8>,
    commit: Option<String>,
    blob: Option<String>,
}

/// Walks `mode` over `path`, scans every item on `workers` threads and returns the findings
/// in walk order with their commit and blob set.
pub fn scan_source(
    scanner: &Scanner,
    path: &std::path::Path,
    mode: &Mode,
    workers: usize,
    progress: &mut dyn FnMut(usize, u64),
) -> Result<(Vec<Finding>, Stats), ScanError> {
    let (sender, receiver) = sync_channel::<Owned>(QUEUE);
    let receiver = Arc::new(Mutex::new(receiver));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.max(1))
            .map(|_| {
                let receiver = Arc::clone(&receiver);
                scope.spawn(move || work(scanner, &receiver))
            })
            .collect();
        let walked = walk(path, mode, sender, progress);
        let mut found: Vec<(usize, Finding)> = Vec::new();
        for handle in handles {
            // A worker only panics on a bug; report it as an internal failure.
            let part = handle
                .join()
                .map_err(|_| ScanError::git("scanning on a worker thread", "a worker panicked"))?;
            found.extend(part);
        }
        let stats = walked?;
        found.sort_by_key(|(seq, _)| *seq);
        Ok((found.into_iter().map(|(_, f)| f).collect(), stats))
    })
}

fn walk(
    path: &std::path::Path,
    mode: &Mode,
    sender: SyncSender<Owned>,
    progress: &mut dyn FnMut(usize, u64),
) -> Result<Stats, ScanError> {
    let (mut seq, mut bytes) = (0usize, 0u64);
    source::walk(path, mode, &mut |item: Item<'_>| {
        seq += 1;
        bytes += item.bytes.len() as u64;
        progress(seq, bytes);
        // The workers only stop early if they panicked; the join reports that.
        let _ = sender.send(Owned {
            seq,
            path: item.path.to_owned(),
            bytes: item.bytes.to_vec(),
            commit: item.commit.map(str::to_owned),
            blob: item.blob.map(str::to_owned),
        });
    })
}

fn work(scanner: &Scanner, receiver: &Mutex<Receiver<Owned>>) -> Vec<(usize, Finding)> {
    let mut found = Vec::new();
    loop {
        let next = match receiver.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return found,
        };
        let Ok(item) = next else {
            return found;
        };
        for mut finding in scanner.scan(&item.path, &item.bytes) {
            finding.location.commit.clone_from(&item.commit);
            finding.location.blob.clone_from(&item.blob);
            found.push((item.seq, finding));
        }
    }
}
