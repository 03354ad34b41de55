//! Free ports and readiness polling.

use std::future::Future;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::{HarnessError, PeerProcess};

/// A port on 127.0.0.1 that was free a moment ago. The OS hands out ephemeral ports in
/// sequence, so the small race with other binders is acceptable for tests.
pub fn free_port() -> Result<u16, HarnessError> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| HarnessError::prepare("harness", format!("no free port: {error}")))
}

/// Polls `probe` until it returns true, the process exits, or `timeout` passes.
pub(crate) async fn until_ready<F, Fut>(
    process: &mut PeerProcess,
    timeout: Duration,
    mut probe: F,
) -> Result<(), HarnessError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if probe().await {
            return Ok(());
        }
        if process.exit_status().is_some() || started.elapsed() > timeout {
            return Err(process.not_ready(started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A plain HTTP client for readiness probes, with a short per-request timeout.
pub(crate) fn probe_client(ca_pem: Option<&[u8]>) -> Result<reqwest::Client, HarnessError> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy();
    if let Some(pem) = ca_pem {
        let certificate = reqwest::Certificate::from_pem(pem).map_err(|error| {
            HarnessError::prepare("harness", format!("CA certificate: {error}"))
        })?;
        builder = builder.tls_certs_only([certificate]);
    }
    builder
        .build()
        .map_err(|error| HarnessError::prepare("harness", format!("HTTP client: {error}")))
}

/// Whether GET `url` answers with a success status.
pub(crate) async fn http_ok(client: &reqwest::Client, url: &str, bearer: Option<&str>) -> bool {
    let mut request = client.get(url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    matches!(request.send().await, Ok(response) if response.status().is_success())
}
