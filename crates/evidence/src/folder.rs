//! The evidence folder on disk: a new `DIR/<run id>/` per run, holding `evidence.json` and
//! `index.html`, each created (never overwritten) and synced.

use std::path::{Path, PathBuf};

use crate::dossier::Evidence;

/// Writes `evidence` as `dir/<run id>/evidence.json` and `index.html`; the run's folder.
pub fn write(dir: &Path, evidence: &Evidence) -> std::io::Result<PathBuf> {
    let folder = dir.join(&evidence.run_id);
    std::fs::create_dir_all(dir)?;
    // A new folder per run: an existing one is never written into.
    std::fs::create_dir(&folder)?;
    let json = serde_json::to_vec_pretty(evidence).map_err(std::io::Error::other)?;
    write_new(&folder.join("evidence.json"), &json)?;
    write_new(
        &folder.join("index.html"),
        crate::html::page(evidence).as_bytes(),
    )?;
    Ok(folder)
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
