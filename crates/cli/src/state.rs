//! Where keyward keeps what must outlive a run and must not sit beside its outputs: the
//! fingerprint key (`keyward sync`) and the audit signing key (`keyward audit`).

use std::path::PathBuf;

/// `$XDG_STATE_HOME/keyward`, else `~/.local/state/keyward`, else the temporary directory's.
pub fn default_state_dir() -> PathBuf {
    let env_dir = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env_dir("XDG_STATE_HOME")
        .or_else(|| env_dir("HOME").map(|home| home.join(".local").join("state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("keyward")
}
