//! Benchmark behind `scripts/bench-providers` (not a timed test): 1,000 references to 100
//! distinct Azure Key Vault secrets resolved in one refresh, through [`Disciplined`] with one
//! client, against a naive baseline that builds one client per reference.
//!
//! The server is lowkey-vault where it exists, else keyward's Key Vault test double (the
//! output says which). Calls by kind come from the double's counters; against lowkey-vault
//! only keyward's own call counters are available.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward_core::SecretValue;
use keyward_providers::azurekv::{AzureKvConfig, AzureKvProvider, AzureOptions};
use keyward_providers::{
    CallCounters, DisciplineConfig, Disciplined, Provider, StaticCredentials, StoreId,
};
use keyward_test_support::{DOUBLE_TENANT, KeyVaultDouble, LowkeyVault};

const REFERENCES: usize = 1_000;
const SECRETS: usize = 100;

/// The server under test and how to build a provider for it.
enum Server {
    Lowkey(LowkeyVault),
    Double(KeyVaultDouble),
}

impl Server {
    async fn start() -> Self {
        match LowkeyVault::start().await {
            Ok(vault) => Server::Lowkey(vault),
            Err(_) => {
                println!(
                    "server: keyward's Key Vault test double, NOT a real peer (lowkey-vault is unavailable here; see the peer cache's unavailable/ folder)"
                );
                Server::Double(KeyVaultDouble::start().await.expect("double"))
            }
        }
    }

    fn provider(&self) -> AzureKvProvider {
        let store = StoreId("SecretStore/bench/akv".into());
        match self {
            Server::Lowkey(vault) => {
                let config: AzureKvConfig = serde_json::from_value(serde_json::json!({
                    "vaultUrl": vault.vault_url(), "authType": "ManagedIdentity"}))
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
                println!("server: lowkey-vault (real peer)");
                let provider = self.provider();
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

    fn counts(&self) -> String {
        match self {
            Server::Double(kv) => {
                let c = kv.counts();
                format!(
                    "value reads {}, token requests {}, list calls {}, 401 challenges {}",
                    c.value_reads, c.token_requests, c.list_pages, c.challenges
                )
            }
            Server::Lowkey(_) => "server-side counts unavailable (lowkey-vault)".to_owned(),
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

async fn disciplined(server: &Server, config: DisciplineConfig, label: &str) -> Duration {
    server.reset();
    let counters = Arc::new(CallCounters::default());
    let provider = Arc::new(Disciplined::new(
        server.provider(),
        config,
        Arc::clone(&counters),
    ));
    let started = Instant::now();
    let reads = (0..REFERENCES).map(|r| {
        let provider = Arc::clone(&provider);
        async move { provider.fetch(&key(r), None).await }
    });
    for result in futures::future::join_all(reads).await {
        result.expect("read");
    }
    let elapsed = started.elapsed();
    println!(
        "{label}: {elapsed:?}; keyward GetSecret calls {}; server: {}",
        counters.get("azurekv", "GetSecret", "success"),
        server.counts()
    );
    elapsed
}

async fn naive(server: &Server) -> Duration {
    server.reset();
    let started = Instant::now();
    let reads = (0..REFERENCES).map(|r| {
        let provider = server.provider();
        async move { provider.fetch(&key(r), None).await }
    });
    for result in futures::future::join_all(reads).await {
        result.expect("read");
    }
    let elapsed = started.elapsed();
    println!(
        "naive, one client per reference: {elapsed:?}; server: {}",
        server.counts()
    );
    elapsed
}

#[tokio::main]
async fn main() {
    let server = Server::start().await;
    server.seed().await;
    println!(
        "{REFERENCES} references to {SECRETS} distinct secrets, all resolved concurrently in one refresh"
    );
    let shipped = disciplined(
        &server,
        DisciplineConfig::default(),
        "disciplined, shipped budget (50 calls/s, burst 20)",
    )
    .await;
    let budget = DisciplineConfig {
        calls_per_second: std::num::NonZeroU32::new(400).expect("non-zero"),
        burst: std::num::NonZeroU32::new(100).expect("non-zero"),
        ..DisciplineConfig::default()
    };
    let raised = disciplined(
        &server,
        budget,
        "disciplined, budget at Key Vault's 4,000 GETs/10 s (400/s, burst 100)",
    )
    .await;
    let baseline = naive(&server).await;
    println!(
        "ratio naive / disciplined: shipped budget {:.2}x, Key Vault budget {:.2}x",
        baseline.as_secs_f64() / shipped.as_secs_f64(),
        baseline.as_secs_f64() / raised.as_secs_f64()
    );
}
