//! Writes the GitOps precision corpus (`tests/corpus/gitops.rs`) to a directory, and to a
//! labels file (JSON: path → the real secrets' line spans) for `scripts/bench-scan-precision`
//! to score keyward, gitleaks and Kingfisher on the same files.
//!
//! Usage: `cargo run -p keyward-scan --example gitops_corpus -- DIR LABELS`

#[path = "../tests/corpus/gitops.rs"]
mod gitops;

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(dir), Some(labels_file)) = (args.next(), args.next()) else {
        eprintln!("usage: gitops_corpus DIR LABELS");
        std::process::exit(2);
    };
    let mut labels = serde_json::Map::new();
    for case in gitops::cases() {
        let file = dir.join(case.path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, &case.text)?;
        labels.insert(case.path.to_owned(), serde_json::json!(case.secrets));
    }
    let text = serde_json::to_string_pretty(&labels).map_err(std::io::Error::other)?;
    std::fs::write(labels_file, text + "\n")
}
