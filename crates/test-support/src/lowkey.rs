//! [`LowkeyVault`]: lowkey-vault, a third-party implementation of the Azure Key Vault REST API
//! (secrets, keys, certificates, soft delete) with a managed-identity style token endpoint.
//!
//! lowkey-vault is a Spring Boot application; `scripts/peers` installs the jar rebuilt from
//! its upstream tag (../shared/peers/lowkey-vault/). The harness serves it over HTTPS with a
//! certificate from a CA of its own (Spring Boot's PEM `server.ssl.certificate*` properties),
//! so tests trust exactly that CA instead of disabling verification. lowkey-vault's own
//! `application.properties` sets `server.ssl.key-store*`, and Tomcat refuses to build its SSL
//! context from both a key store and PEM files, so the key-store properties are passed empty.
//!
//! Its request log is on: [`LowkeyVault::requests`] lists the requests the server served, so
//! tests and benchmarks count value reads and token requests on the server side. The log is
//! written after lowkey-vault's authentication filter: a request it answers with the 401
//! challenge is not in it.
//!
//! A JVM takes seconds to start, so a test binary normally shares one server
//! ([`LowkeyVault::shared`]) and keeps its tests apart by secret names. On machines where the
//! jar cannot be obtained, starting fails with [`HarnessError::PeerUnavailable`] and the reason
//! the installer recorded ([`crate::or_skip_unavailable`] turns that into a loud skip outside
//! CI and a failure under CI).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::pki::ServingPki;
use crate::wait::{free_port, probe_client, until_ready};
use crate::{HarnessError, Peer, PeerProcess, peer_path};

const PEER: &str = "lowkey-vault";
const READY: Duration = Duration::from_secs(180);
/// The scratch directories of shared servers carry the owning test process's id, so that a
/// later run can remove those whose process is gone (a shared server is never dropped).
const SHARED_PREFIX: &str = "keyward-lowkey-shared-";

/// A running lowkey-vault with one vault at [`LowkeyVault::vault_url`].
#[derive(Debug)]
pub struct LowkeyVault {
    process: PeerProcess,
    vault_url: String,
    token_port: u16,
    ca_pem: String,
    dir: Scratch,
}

/// The server's scratch directory: removed on drop, or kept for a shared server.
#[derive(Debug)]
enum Scratch {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl Scratch {
    fn path(&self) -> &Path {
        match self {
            Scratch::Temporary(dir) => dir.path(),
            Scratch::Kept(path) => path,
        }
    }
}

/// One request lowkey-vault received, from its request log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LowkeyRequest {
    /// `GET`, `PUT`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string as sent (empty when there is none).
    pub query: String,
}

impl LowkeyRequest {
    /// A request to the managed-identity token endpoint.
    pub fn is_token_request(&self) -> bool {
        self.path == "/metadata/identity/oauth2/token"
    }

    /// `GET /secrets/{name}` or `GET /secrets/{name}/{version}` for `name`: a value read.
    pub fn is_value_read_of(&self, name: &str) -> bool {
        let segments: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        self.method == "GET"
            && matches!(segments.as_slice(),
                ["secrets", n] | ["secrets", n, _] if *n == name && segments.get(2) != Some(&"versions"))
    }

    /// Whether the query holds `name=value` (values as sent, percent-encoded).
    pub fn has_query(&self, name: &str, value: &str) -> bool {
        self.query
            .split('&')
            .any(|pair| pair.split_once('=') == Some((name, value)))
    }
}

impl LowkeyVault {
    /// Starts a server of its own on free ports and waits until its HTTPS endpoint answers;
    /// dropping it stops the server.
    pub async fn start() -> Result<Self, HarnessError> {
        let dir = tempfile::Builder::new()
            .prefix("keyward-lowkey-")
            .tempdir()
            .map_err(|e| HarnessError::prepare(PEER, e))?;
        Self::start_in(Scratch::Temporary(dir)).await
    }

    /// The server this test process shares, started by the first test that asks. It lives as
    /// long as the process (the harness's parent-death signal stops it when the process
    /// ends); tests keep apart by using their own secret names.
    pub async fn shared() -> Result<&'static Self, HarnessError> {
        static SHARED: OnceCell<LowkeyVault> = OnceCell::const_new();
        SHARED
            .get_or_try_init(|| async {
                remove_stale_shared_dirs();
                let dir = tempfile::Builder::new()
                    .prefix(&format!("{SHARED_PREFIX}{}-", std::process::id()))
                    .tempdir()
                    .map_err(|e| HarnessError::prepare(PEER, e))?;
                Self::start_in(Scratch::Kept(dir.keep())).await
            })
            .await
    }

    async fn start_in(dir: Scratch) -> Result<Self, HarnessError> {
        let jar = peer_path(Peer::LowkeyVaultJar)?;
        let java = peer_path(Peer::Java25)?;
        // lowkey-vault allows only TLS 1.2 with ECDHE_RSA suites: the key must be RSA.
        let pki = ServingPki::generate_rsa(PEER, "lowkey-vault")?;
        let cert = dir.path().join("serving.crt");
        let key = dir.path().join("serving.key");
        for (path, pem) in [(&cert, &pki.cert_pem), (&key, &pki.key_pem)] {
            std::fs::write(path, pem).map_err(|e| HarnessError::prepare(PEER, e))?;
        }
        let port = free_port()?;
        let token_port = free_port()?;
        let args = server_args(&jar, port, token_port, &cert, &key);
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
        format!("{}/metadata/identity/oauth2/token", self.token_authority())
    }

    /// The host of the token endpoint (`http://127.0.0.1:PORT`), what the Azure SDKs read
    /// from `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
    pub fn token_authority(&self) -> String {
        format!("http://127.0.0.1:{}", self.token_port)
    }

    /// The PEM of the CA that signed lowkey-vault's serving certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Every request the server has served so far, oldest first (its request log; requests
    /// answered with the 401 challenge are not logged).
    pub fn requests(&self) -> Vec<LowkeyRequest> {
        let log = std::fs::read_to_string(self.process.log_path()).unwrap_or_default();
        log.lines().filter_map(parse_request_line).collect()
    }

    /// The server's process (for its log).
    pub fn process(&self) -> &PeerProcess {
        &self.process
    }

    /// The server's scratch directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn server_args(jar: &Path, port: u16, token_port: u16, cert: &Path, key: &Path) -> Vec<String> {
    vec![
        // Small-footprint flags: start in ~7 s at ~200 MiB instead of ~11 s at ~350 MiB.
        "-XX:+UseSerialGC".to_owned(),
        "-XX:TieredStopAtLevel=1".to_owned(),
        "-Xss256k".to_owned(),
        "-jar".to_owned(),
        jar.display().to_string(),
        format!("--server.port={port}"),
        "--server.address=127.0.0.1".to_owned(),
        format!("--server.ssl.certificate={}", cert.display()),
        format!("--server.ssl.certificate-private-key={}", key.display()),
        // lowkey-vault's application.properties names its bundled key store; with the PEM
        // properties too, Tomcat fails with "Error creating SSLContext". Empty them.
        "--server.ssl.key-store=".to_owned(),
        "--server.ssl.key-store-password=".to_owned(),
        "--server.ssl.key-store-type=".to_owned(),
        // The managed-identity token endpoint listens on plain HTTP; keep it off 8080.
        format!("--app.token.port={token_port}"),
        // Vault URLs carry the port; relaxed matching accepts the free port chosen here.
        "--LOWKEY_VAULT_RELAXED_PORTS=true".to_owned(),
        // One log line per request: what `requests` counts.
        "--LOWKEY_DEBUG_REQUEST_LOG=true".to_owned(),
    ]
}

/// `… Before request [GET /secrets/x?api-version=7.6, client=127.0.0.1]` → the request.
fn parse_request_line(line: &str) -> Option<LowkeyRequest> {
    let rest = line.split_once("Before request [")?.1;
    let (request, _) = rest.rsplit_once(", client=")?;
    let (method, target) = request.split_once(' ')?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Some(LowkeyRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
    })
}

/// Removes the scratch directories of shared servers whose test process has ended.
fn remove_stale_shared_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(SHARED_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_log_lines_are_parsed() {
        let line = "10:31:41.849 DEBUG [.1-18443-exec-6] o.s.w.f.CommonsRequestLoggingFilter      : Before request [GET /secrets/db/0a1b?api-version=7.6, client=127.0.0.1]";
        let request = parse_request_line(line).expect("a request line");
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/secrets/db/0a1b");
        assert!(request.has_query("api-version", "7.6"));
        assert!(request.is_value_read_of("db"));
        assert!(!request.is_value_read_of("d"));
        let after = line.replace("Before request", "After request");
        assert_eq!(parse_request_line(&after), None);
        let versions = LowkeyRequest {
            method: "GET".into(),
            path: "/secrets/db/versions".into(),
            query: String::new(),
        };
        assert!(!versions.is_value_read_of("db"));
    }
}
