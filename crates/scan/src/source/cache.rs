//! The history cache: object ids (trees and blobs) already scanned, one hex id per line, so an
//! incremental run reads only new objects. It holds ids only, never content.

use std::io::Write;
use std::path::Path;

use gix::ObjectId;

use super::tree::IdSet;
use crate::error::ScanError;
use crate::input;

const HEADER: &str = "# keyward scan cache v1: scanned object ids";

/// Adds the ids of the cache file at `path` (if it exists) to the seen sets.
pub fn read(path: &Path, trees: &mut IdSet, blobs: &mut IdSet) -> Result<(), ScanError> {
    let bytes = match input::read_capped(path, input::CACHE_LIMIT) {
        Ok(bytes) => bytes,
        Err(error) if error.is_not_found() => return Ok(()),
        Err(error) => return Err(ScanError::Cache(path.to_path_buf(), error.to_string())),
    };
    let not_a_cache = || ScanError::Cache(path.to_path_buf(), "not a keyward scan cache".into());
    let text = std::str::from_utf8(&bytes).map_err(|_| not_a_cache())?;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (kind, hex) = line.split_once(' ').unwrap_or(("", line));
        let id = ObjectId::from_hex(hex.as_bytes()).map_err(|_| not_a_cache())?;
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
