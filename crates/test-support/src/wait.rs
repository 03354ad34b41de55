//! Free ports and readiness polling.

use std::future::Future;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::{HarnessError, PeerProcess};

/// A port on 127.0.0.1 that was free a moment ago, and that this process has not handed out
/// before.
///
/// A peer binds its port seconds later (lowkey-vault's JVM takes that long), and tests run in
/// parallel: a port from the kernel's ephemeral range (32768–60999) could meanwhile be handed
/// to another test by `bind(0)`, or taken by any outgoing connection. So ports come from
/// below that range, at random, each at most once per process; `bind(0)` is the fallback.
pub fn free_port() -> Result<u16, HarnessError> {
    use std::hash::{BuildHasher, Hasher};
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut given = GIVEN
        .lock()
        .map_err(|_| HarnessError::prepare("harness", "the port registry is poisoned"))?;
    for _ in 0..500 {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let candidate = LOW_PORTS.0 + (random % u64::from(LOW_PORTS.1 - LOW_PORTS.0)) as u16;
        if given.contains(&candidate) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", candidate)).is_ok() {
            given.insert(candidate);
            return Ok(candidate);
        }
    }
    let port = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| HarnessError::prepare("harness", format!("no free port: {error}")))?;
    given.insert(port);
    Ok(port)
}

/// Where [`free_port`] looks first: below Linux's default ephemeral range.
const LOW_PORTS: (u16, u16) = (20_000, 32_000);

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

#[cfg(test)]
mod port_tests {
    #[test]
    fn ports_are_never_handed_out_twice() {
        let ports: Vec<u16> = (0..300)
            .map(|_| super::free_port().expect("port"))
            .collect();
        let unique: std::collections::BTreeSet<_> = ports.iter().collect();
        assert_eq!(unique.len(), ports.len());
    }
}
