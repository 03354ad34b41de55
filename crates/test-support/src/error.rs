//! [`HarnessError`]: why a peer could not be found, started or reached.

use std::path::PathBuf;
use std::time::Duration;

/// Why the harness could not give a test its peer.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// The peer's binary is not where `scripts/peers` puts it.
    #[error("{peer} is not installed at {}: run `scripts/peers install` (or set {var})", path.display())]
    PeerMissing {
        /// The peer's name.
        peer: &'static str,
        /// The environment variable that overrides its path.
        var: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The peer cannot be obtained on this machine; `reason` is what the installer recorded.
    #[error("{peer} is UNAVAILABLE on this machine (no fake is substituted): {reason}")]
    PeerUnavailable {
        /// The peer's name.
        peer: &'static str,
        /// What the installer saw when it tried to obtain the peer.
        reason: String,
    },
    /// Preparing the peer's files (directories, certificates, configuration) failed.
    #[error("preparing {peer}: {message}")]
    Prepare {
        /// The peer's name.
        peer: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The peer's process could not be started.
    #[error("starting {peer} ({}): {source}", program.display())]
    Spawn {
        /// The peer's name.
        peer: &'static str,
        /// The program that was started.
        program: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A call the harness made to a running peer (to seed or inspect it) failed.
    #[error("a call to {peer} failed: {message}")]
    Call {
        /// The peer's name.
        peer: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The peer started but did not become ready in time, or exited.
    #[error("{peer} was not ready after {waited:?} ({status}); last lines of its log:\n{log_tail}")]
    NotReady {
        /// The peer's name.
        peer: &'static str,
        /// How long the harness waited.
        waited: Duration,
        /// Whether the process is still running, or its exit status.
        status: String,
        /// The end of the peer's log.
        log_tail: String,
    },
}

impl HarnessError {
    pub(crate) fn call(peer: &'static str, message: impl std::fmt::Display) -> Self {
        HarnessError::Call {
            peer,
            message: message.to_string(),
        }
    }

    pub(crate) fn prepare(peer: &'static str, message: impl std::fmt::Display) -> Self {
        HarnessError::Prepare {
            peer,
            message: message.to_string(),
        }
    }
}

/// Debug prints the message: `expect` in a failing test then shows the peer's log tail as
/// lines, not as one escaped string.
impl std::fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
