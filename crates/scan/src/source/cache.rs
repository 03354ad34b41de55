//! The history cache: object ids (trees and blobs) already scanned, one hex id per line, so an
//! incremental run reads only new objects. It holds ids only, never content.

use std::io::Write;
use std::path::Path;

use gix::ObjectId;

use super::tree::IdSet;
use crate::error::ScanError;

const HEADER: &str = "# keyward scan cache v1: scanned object ids";

/// Adds the ids of the cache file at `path` (if it exists) to the seen sets.
pub fn read(path: &Path, trees: &mut IdSet, blobs: &mut IdSet) -> Result<(), ScanError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(ScanError::ReadPath(path.to_path_buf(), error)),
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (kind, hex) = line.split_once(' ').unwrap_or(("", line));
        let Ok(id) = ObjectId::from_hex(hex.as_bytes()) else {
            return Err(ScanError::Config(
                path.to_path_buf(),
                "not a keyward scan cache".into(),
            ));
        };
        if kind == "t" {
            trees.insert(id);
        } else {
            blobs.insert(id);
        }
    }
    Ok(())
}

/// Rewrites the cache file atomically with every seen id.
pub fn write(path: &Path, trees: &IdSet, blobs: &IdSet) -> Result<(), ScanError> {
    let temp = path.with_extension("tmp");
    let result = std::fs::File::create(&temp).and_then(|file| {
        let mut out = std::io::BufWriter::new(file);
        writeln!(out, "{HEADER}")?;
        for id in trees {
            writeln!(out, "t {id}")?;
        }
        for id in blobs {
            writeln!(out, "b {id}")?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    });
    result
        .and_then(|()| std::fs::rename(&temp, path))
        .map_err(|e| ScanError::WriteCache(path.to_path_buf(), e))
}
