//! [`LowkeyVault`]: lowkey-vault, a local implementation of the Azure Key Vault REST API.
//!
//! lowkey-vault is a Spring Boot application. The harness serves it over HTTPS with a
//! certificate from a CA of its own (Spring Boot's PEM `server.ssl.certificate*` properties),
//! so tests trust exactly that CA instead of disabling verification.
//!
//! On machines where the jar cannot be obtained, [`LowkeyVault::start`] fails with
//! [`HarnessError::PeerUnavailable`] and the reason the installer recorded.

use std::time::Duration;

use tempfile::TempDir;

use crate::pki::ServingPki;
use crate::wait::{free_port, probe_client, until_ready};
use crate::{HarnessError, Peer, PeerProcess, peer_path};

const PEER: &str = "lowkey-vault";
const READY: Duration = Duration::from_secs(120);

/// A running lowkey-vault with one vault at [`LowkeyVault::vault_url`].
#[derive(Debug)]
pub struct LowkeyVault {
    process: PeerProcess,
    vault_url: String,
    token_port: u16,
    ca_pem: String,
    dir: TempDir,
}

impl LowkeyVault {
    /// Starts lowkey-vault on free ports and waits until its HTTPS endpoint answers.
    pub async fn start() -> Result<Self, HarnessError> {
        let jar = peer_path(Peer::LowkeyVaultJar)?;
        let java = peer_path(Peer::Java25)?;
        let dir = tempfile::Builder::new()
            .prefix("keyward-lowkey-")
            .tempdir()
            .map_err(|e| HarnessError::prepare(PEER, e))?;
        let pki = ServingPki::generate(PEER, "lowkey-vault")?;
        let cert = dir.path().join("serving.crt");
        let key = dir.path().join("serving.key");
        for (path, pem) in [(&cert, &pki.cert_pem), (&key, &pki.key_pem)] {
            std::fs::write(path, pem).map_err(|e| HarnessError::prepare(PEER, e))?;
        }
        let port = free_port()?;
        let token_port = free_port()?;
        let args = vec![
            "-Xss256k".to_owned(),
            "-XX:+UseSerialGC".to_owned(),
            "-jar".to_owned(),
            jar.display().to_string(),
            format!("--server.port={port}"),
            "--server.address=127.0.0.1".to_owned(),
            format!("--server.ssl.certificate={}", cert.display()),
            format!("--server.ssl.certificate-private-key={}", key.display()),
            // The managed-identity token endpoint listens on plain HTTP; keep it off 8080.
            format!("--app.token.port={token_port}"),
            // Vault URLs carry the port; relaxed matching accepts the free port chosen here.
            "--LOWKEY_VAULT_RELAXED_PORTS=true".to_owned(),
        ];
        let mut process = PeerProcess::spawn(
            PEER,
            &java,
            &args,
            dir.path(),
            &[],
            &dir.path().join("lowkey-vault.log"),
        )?;
        let vault_url = format!("https://localhost:{port}");
        let probe = probe_client(Some(pki.ca_pem.as_bytes()))?;
        until_ready(&mut process, READY, || {
            let request = probe.get(format!("{vault_url}/ping"));
            async move { request.send().await.is_ok() }
        })
        .await?;
        Ok(Self {
            process,
            vault_url,
            token_port,
            ca_pem: pki.ca_pem,
            dir,
        })
    }

    /// The vault URL to hand an Azure Key Vault client.
    pub fn vault_url(&self) -> &str {
        &self.vault_url
    }

    /// lowkey-vault's managed identity (IMDS-style) token endpoint, plain HTTP.
    pub fn token_endpoint(&self) -> String {
        format!(
            "http://127.0.0.1:{}/metadata/identity/oauth2/token",
            self.token_port
        )
    }

    /// The PEM of the CA that signed lowkey-vault's serving certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
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
