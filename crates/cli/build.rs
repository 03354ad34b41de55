//! Gives `keyward --version` the commit a release was built from: `scripts/release` sets
//! `KEYWARD_COMMIT`; a development build has none and shows the version alone.

fn main() {
    println!("cargo:rerun-if-env-changed=KEYWARD_COMMIT");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let long = match std::env::var("KEYWARD_COMMIT") {
        Ok(commit) if !commit.is_empty() => format!("{version} (commit {commit})"),
        _ => version,
    };
    println!("cargo:rustc-env=KEYWARD_LONG_VERSION={long}");
}
