//! [`Moto`]: moto's server mode, standing in for AWS Secrets Manager, SSM and STS.

use std::time::Duration;

use tempfile::TempDir;

use crate::wait::{free_port, http_ok, probe_client, until_ready};
use crate::{HarnessError, Peer, PeerProcess, peer_path};

const PEER: &str = "moto";
const READY: Duration = Duration::from_secs(30);

/// A running `moto_server`. Any access key is accepted; `reset` clears its state.
#[derive(Debug)]
pub struct Moto {
    process: PeerProcess,
    endpoint: String,
    dir: TempDir,
}

/// The region tests use with moto.
pub const MOTO_REGION: &str = "eu-west-1";

impl Moto {
    /// An AWS SDK configuration for this server with admin keys (moto accepts any) in
    /// [`MOTO_REGION`]: build any service client from it to seed or inspect state.
    pub async fn admin_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(MOTO_REGION))
            .credentials_provider(aws_credential_types::Credentials::new(
                "admin", "admin", None, None, "test",
            ))
            .endpoint_url(&self.endpoint)
            .load()
            .await
    }

    /// Starts the server on a free port and waits until it answers.
    pub async fn start() -> Result<Self, HarnessError> {
        let server = peer_path(Peer::MotoServer)?;
        let dir = tempfile::Builder::new()
            .prefix("keyward-moto-")
            .tempdir()
            .map_err(|e| HarnessError::prepare(PEER, e))?;
        let port = free_port()?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let args = [
            "-H".to_owned(),
            "127.0.0.1".to_owned(),
            "-p".to_owned(),
            port.to_string(),
        ];
        let home = dir.path().display().to_string();
        let envs = [("HOME", home.as_str())];
        let mut process = PeerProcess::spawn(
            PEER,
            &server,
            &args,
            dir.path(),
            &envs,
            &dir.path().join("moto.log"),
        )?;
        let probe = probe_client(None)?;
        let ready_url = format!("{endpoint}/moto-api/");
        until_ready(&mut process, READY, || http_ok(&probe, &ready_url, None)).await?;
        Ok(Self {
            process,
            endpoint,
            dir,
        })
    }

    /// `http://127.0.0.1:PORT`, the endpoint URL for every AWS client.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Clears every resource moto holds (`POST /moto-api/reset`).
    pub async fn reset(&self) -> Result<(), HarnessError> {
        let client = probe_client(None)?;
        client
            .post(format!("{}/moto-api/reset", self.endpoint))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map(|_| ())
            .map_err(|e| HarnessError::prepare(PEER, format!("reset: {e}")))
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
