//! [`Tools`]: the reference command-line programs tests compare keyward against.

use std::path::PathBuf;

use crate::{HarnessError, Peer, peer_path};

/// Paths of the reference CLI tools, each checked to exist.
#[derive(Clone, Debug)]
pub struct Tools {
    /// `ansible-vault` from ansible-core.
    pub ansible_vault: PathBuf,
    /// `sops`.
    pub sops: PathBuf,
    /// `age`.
    pub age: PathBuf,
    /// `age-keygen`.
    pub age_keygen: PathBuf,
    /// The Go text/template + Sprig reference renderer (tools/gotemplate).
    pub gotemplate: PathBuf,
}

impl Tools {
    /// Finds every tool, failing on the first that is missing.
    pub fn find() -> Result<Self, HarnessError> {
        Ok(Self {
            ansible_vault: peer_path(Peer::AnsibleVault)?,
            sops: peer_path(Peer::Sops)?,
            age: peer_path(Peer::Age)?,
            age_keygen: peer_path(Peer::AgeKeygen)?,
            gotemplate: peer_path(Peer::GoTemplate)?,
        })
    }
}
