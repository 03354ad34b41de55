//! Where ESO's compatibility corpus (../shared/eso-compat: CRDs and documentation snippets)
//! is, for the tests that read it.

use std::path::PathBuf;

/// The corpus directory: `$KEYWARD_ESO_CORPUS`, else `../shared/eso-compat` beside the
/// repository. `None` (with a note on stderr) when it is missing outside CI; under `CI` a
/// missing corpus fails the test, so CI never passes by skipping.
pub fn eso_corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("KEYWARD_ESO_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eso-compat")
        });
    if dir.join("docs/snippets").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").is_err(),
        "the ESO corpus is missing at {} (set KEYWARD_ESO_CORPUS)",
        dir.display()
    );
    eprintln!("ESO corpus not found at {}: test not run", dir.display());
    None
}
