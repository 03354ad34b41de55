//! [`OpenBao`]: a dev-mode OpenBao server (the HashiCorp Vault API).

use std::time::Duration;

use tempfile::TempDir;

use crate::wait::{free_port, http_ok, probe_client, until_ready};
use crate::{HarnessError, Peer, PeerProcess, peer_path};

const PEER: &str = "openbao";
const READY: Duration = Duration::from_secs(30);

/// A running `bao server -dev`: in memory, unsealed, KV v2 mounted at `secret/`.
#[derive(Debug)]
pub struct OpenBao {
    process: PeerProcess,
    address: String,
    root_token: String,
    dir: TempDir,
}

impl OpenBao {
    /// Starts the server on a free port and waits until `sys/health` reports it unsealed.
    pub async fn start() -> Result<Self, HarnessError> {
        let bao = peer_path(Peer::Bao)?;
        let dir = tempfile::Builder::new()
            .prefix("keyward-openbao-")
            .tempdir()
            .map_err(|e| HarnessError::prepare(PEER, e))?;
        let port = free_port()?;
        let address = format!("http://127.0.0.1:{port}");
        let root_token = format!("root-{port}");
        let args = [
            "server".to_owned(),
            "-dev".to_owned(),
            format!("-dev-listen-address=127.0.0.1:{port}"),
            format!("-dev-root-token-id={root_token}"),
        ];
        let home = dir.path().display().to_string();
        // HOME keeps the dev server's token helper file inside the temp dir.
        let envs = [("HOME", home.as_str()), ("BAO_ADDR", address.as_str())];
        let mut process = PeerProcess::spawn(
            PEER,
            &bao,
            &args,
            dir.path(),
            &envs,
            &dir.path().join("openbao.log"),
        )?;
        let probe = probe_client(None)?;
        let ready_url = format!("{address}/v1/sys/health");
        until_ready(&mut process, READY, || http_ok(&probe, &ready_url, None)).await?;
        Ok(Self {
            process,
            address,
            root_token,
            dir,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The root token.
    pub fn root_token(&self) -> &str {
        &self.root_token
    }

    /// The `bao` binary, for tests that configure the server through its CLI.
    pub fn cli(&self) -> Result<std::path::PathBuf, HarnessError> {
        peer_path(Peer::Bao)
    }

    /// The server's process (for its log).
    pub fn process(&self) -> &PeerProcess {
        &self.process
    }

    /// The server's scratch directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}
