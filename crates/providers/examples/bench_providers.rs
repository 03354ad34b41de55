//! Benchmark behind `scripts/bench-providers` (not a timed test): 1,000 references to 100
//! distinct Azure Key Vault secrets resolved in one refresh.
//!
//! It runs against lowkey-vault, the real peer, and then against keyward's Key Vault test
//! double, so the difference between the two servers is visible. On each: [`Disciplined`]
//! with one client at the shipped call budget and at Key Vault's own budget, and a naive
//! baseline that builds one client per reference (50 references in flight). Every run reports wall time and, counted on
//! the server, the authorised secret GETs (a client's 401-challenged first request is not
//! counted) and the token requests: lowkey-vault's request log, the double's counters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward_core::SecretValue;
use keyward_providers::azurekv::{AzureKvConfig, AzureKvProvider, AzureOptions};
use keyward_providers::{DisciplineConfig, Disciplined, Provider, StaticCredentials, StoreId};
use keyward_test_support::{DOUBLE_TENANT, KeyVaultDouble, LowkeyVault};

const REFERENCES: usize = 1_000;
const SECRETS: usize = 100;
/// The naive baseline's references in flight at once: a thousand fresh clients opening their
/// connections and token requests in the same instant overflow lowkey-vault's accept backlog
/// (its token endpoint's cannot be raised), which a controller reconciling one by one never
/// does either.
const NAIVE_IN_FLIGHT: usize = 50;

/// A server under test.
enum Server {
    Lowkey(LowkeyVault),
    Double(KeyVaultDouble),
}

/// What the server saw.
#[derive(Clone, Copy, Default)]
struct Seen {
    secret_gets: usize,
    token_requests: usize,
}

impl Server {
    fn name(&self) -> &'static str {
        match self {
            Server::Lowkey(_) => "lowkey-vault",
            Server::Double(_) => "keyward double",
        }
    }

    /// A provider for this server; `identity` tells one run's token requests apart.
    fn provider(&self, identity: &str) -> AzureKvProvider {
        let store = StoreId::namespaced("bench", "akv");
        match self {
            Server::Lowkey(vault) => {
                let config: AzureKvConfig = serde_json::from_value(serde_json::json!({
                    "vaultUrl": vault.vault_url(), "authType": "ManagedIdentity",
                    "identityId": identity}))
                .expect("config");
                let options = AzureOptions {
                    imds_endpoint: Some(vault.token_endpoint()),
                    extra_ca_pem: Some(vault.ca_pem().to_owned()),
                    ..AzureOptions::default()
                };
                AzureKvProvider::new(
                    store,
                    config,
                    "bench",
                    Arc::new(StaticCredentials::new()),
                    options,
                )
                .expect("valid")
            }
            Server::Double(kv) => {
                let mut credentials = StaticCredentials::new();
                credentials.insert("bench", "sp", "id", SecretValue::from(kv.client_id()));
                credentials.insert(
                    "bench",
                    "sp",
                    "secret",
                    SecretValue::from(kv.client_secret()),
                );
                let config: AzureKvConfig = serde_json::from_value(serde_json::json!({
                    "vaultUrl": kv.vault_url(), "tenantId": DOUBLE_TENANT,
                    "authSecretRef": {"clientId": {"name": "sp", "key": "id"}, "clientSecret": {"name": "sp", "key": "secret"}}})).expect("config");
                let options = AzureOptions {
                    authority_host: Some(kv.authority_host().to_owned()),
                    imds_endpoint: Some(kv.imds_endpoint()),
                    extra_ca_pem: Some(kv.ca_pem().to_owned()),
                    federated_token_file: None,
                };
                AzureKvProvider::new(store, config, "bench", Arc::new(credentials), options)
                    .expect("valid")
            }
        }
    }

    async fn seed(&self) {
        match self {
            Server::Lowkey(_) => {
                let provider = self.provider("bench-seed");
                for i in 0..SECRETS {
                    provider
                        .push(
                            &format!("bench-{i}"),
                            &SecretValue::from(format!("value-{i}")),
                            None,
                        )
                        .await
                        .expect("seed");
                }
            }
            Server::Double(kv) => {
                for i in 0..SECRETS {
                    kv.put(&format!("bench-{i}"), &format!("value-{i}"), &[], true);
                }
            }
        }
    }

    /// Counts since the start (lowkey-vault) or since the last reset (the double).
    fn seen(&self, identity: &str) -> Seen {
        match self {
            Server::Lowkey(vault) => {
                let requests = vault.requests();
                Seen {
                    secret_gets: requests
                        .iter()
                        .filter(|r| r.method == "GET" && r.path.starts_with("/secrets/bench-"))
                        .count(),
                    token_requests: requests
                        .iter()
                        .filter(|r| r.is_token_request() && r.has_query("client_id", identity))
                        .count(),
                }
            }
            Server::Double(kv) => {
                let counts = kv.counts();
                Seen {
                    secret_gets: usize::try_from(counts.value_reads).unwrap_or(usize::MAX),
                    token_requests: usize::try_from(counts.token_requests).unwrap_or(usize::MAX),
                }
            }
        }
    }

    fn reset(&self) {
        if let Server::Double(kv) = self {
            kv.reset_counts();
        }
    }
}

fn key(reference: usize) -> String {
    format!("bench-{}", reference % SECRETS)
}

/// One refresh of every reference: through one disciplined client, or (`None`) one naive
/// client per reference.
async fn refresh(
    server: &Server,
    config: Option<DisciplineConfig>,
    identity: &str,
    label: &str,
) -> Duration {
    server.reset();
    let before = server.seen(identity);
    let started = Instant::now();
    let results = match config {
        Some(config) => {
            let provider = Arc::new(Disciplined::new(
                server.provider(identity),
                config,
                Arc::default(),
            ));
            let reads = (0..REFERENCES).map(|r| {
                let provider = Arc::clone(&provider);
                async move { provider.fetch(&key(r), None).await.map(|_| ()) }
            });
            futures::future::join_all(reads).await
        }
        None => {
            use futures::StreamExt as _;
            let reads = (0..REFERENCES).map(|r| {
                let provider = server.provider(identity);
                async move { provider.fetch(&key(r), None).await.map(|_| ()) }
            });
            futures::stream::iter(reads)
                .buffer_unordered(NAIVE_IN_FLIGHT)
                .collect::<Vec<_>>()
                .await
        }
    };
    let elapsed = started.elapsed();
    for result in results {
        result.expect("read");
    }
    let after = server.seen(identity);
    println!(
        "{:<15} {:<49} {:>9.2} s {:>12} {:>15}",
        server.name(),
        label,
        elapsed.as_secs_f64(),
        after.secret_gets - before.secret_gets,
        after.token_requests - before.token_requests,
    );
    elapsed
}

async fn run(server: &Server) -> [Duration; 3] {
    server.seed().await;
    let shipped = refresh(
        server,
        Some(DisciplineConfig::default()),
        "bench-shipped",
        "disciplined, shipped budget (50/s, burst 20)",
    )
    .await;
    let budget = DisciplineConfig {
        calls_per_second: std::num::NonZeroU32::new(400).expect("non-zero"),
        burst: std::num::NonZeroU32::new(100).expect("non-zero"),
        ..DisciplineConfig::default()
    };
    let raised = refresh(
        server,
        Some(budget),
        "bench-keyvault-budget",
        "disciplined, Key Vault budget (400/s, burst 100)",
    )
    .await;
    let naive = refresh(
        server,
        None,
        "bench-naive",
        "naive, a client per reference, 50 in flight",
    )
    .await;
    [shipped, raised, naive]
}

#[tokio::main]
async fn main() {
    let lowkey = match LowkeyVault::start().await {
        Ok(vault) => Server::Lowkey(vault),
        Err(error) => {
            eprintln!(
                "bench-providers needs lowkey-vault (scripts/peers install lowkey_vault): {error}"
            );
            std::process::exit(12);
        }
    };
    let double = Server::Double(KeyVaultDouble::start().await.expect("double"));
    println!(
        "{REFERENCES} references to {SECRETS} distinct secrets in one refresh; secret GETs and token requests counted on the server"
    );
    println!(
        "{:<15} {:<49} {:>11} {:>12} {:>15}",
        "server", "run", "wall", "secret GETs", "token requests"
    );
    let on_lowkey = run(&lowkey).await;
    let on_double = run(&double).await;
    for (server, [shipped, raised, naive]) in
        [("lowkey-vault", on_lowkey), ("keyward double", on_double)]
    {
        println!(
            "{server}: naive / disciplined {:.2}x at the shipped budget, {:.2}x at Key Vault's",
            naive.as_secs_f64() / shipped.as_secs_f64(),
            naive.as_secs_f64() / raised.as_secs_f64()
        );
    }
    println!(
        "lowkey-vault / double wall time: shipped {:.2}x, Key Vault budget {:.2}x, naive {:.2}x",
        on_lowkey[0].as_secs_f64() / on_double[0].as_secs_f64(),
        on_lowkey[1].as_secs_f64() / on_double[1].as_secs_f64(),
        on_lowkey[2].as_secs_f64() / on_double[2].as_secs_f64()
    );
}
