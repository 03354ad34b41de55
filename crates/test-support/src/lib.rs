//! The real-peer test harness: starts the third-party servers keyward's tests talk to and finds
//! the reference tools, so that no test needs a mock where a real implementation exists.
//!
//! Peers are obtained and cached by `scripts/peers install`, which writes `paths.env` into the
//! peer cache; this crate reads that file (each path can be overridden by the environment
//! variable of the same name). Every server here:
//!
//! - binds 127.0.0.1 on a free port and keeps its data in its own temporary directory;
//! - is ready when `start` returns (with a timeout; on failure the error carries the tail of
//!   the peer's log);
//! - is stopped when its handle is dropped, on panic too. It is started with a parent-death
//!   signal tied to a harness thread that lives as long as the test process, so even a test
//!   binary killed with SIGKILL leaves no peer behind.
//!
//! A peer that cannot be obtained here is reported as [`HarnessError::PeerMissing`] or
//! [`HarnessError::PeerUnavailable`] with the reason; the harness never substitutes a fake.
//! Under CI every peer is required ([`require_all_peers`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), keyward_test_support::HarnessError> {
//! let bao = keyward_test_support::OpenBao::start().await?;
//! println!("OpenBao at {} with root token {}", bao.address(), bao.root_token());
//! # Ok(()) }
//! ```
//!
//! This crate is for tests and benchmarks only; nothing of keyward depends on it at run time.

mod corpus;
mod error;
mod git;
mod keyvault_double;
mod kubernetes;
mod lowkey;
mod lowkey_clients;
mod moto;
mod openbao;
mod paths;
mod pki;
pub use pki::rsa_client_certificate;
mod process;
mod stdin;
mod tools;
mod wait;
pub mod wipe_check;

pub use corpus::eso_corpus;
pub use error::HarnessError;
pub use git::git;
pub use keyvault_double::{Counts as KeyVaultCounts, DOUBLE_TENANT, KeyVaultDouble};
pub use kubernetes::Kubernetes;
pub use lowkey::{LowkeyRequest, LowkeyVault};
pub use lowkey_clients::LowkeyClients;
pub use moto::{MOTO_REGION, Moto};
pub use openbao::OpenBao;
pub use paths::{Peer, or_skip_unavailable, peer_path, peers_dir, require_all_peers};
pub use process::PeerProcess;
pub use stdin::output_with_stdin;
pub use tools::Tools;
pub use wait::free_port;
