//! [`Disciplined`]: the call discipline around any provider.
//!
//! - **Coalescing.** Reads of the same (key, version) within the freshness window share one
//!   store call, including reads that arrive while the call is in flight. Failures are shared
//!   by the callers waiting on them but not remembered: the next read calls again. Reads made
//!   inside [`fresh_reads`] (an explicit refresh: ESO's `force-sync`, an edited
//!   ExternalSecret) take no shared result begun before it: someone who just changed the
//!   store and asks for a refresh must see the change.
//! - **Rate limit.** A token bucket per store (default 50 calls/s, burst 20: well inside Azure
//!   Key Vault's documented 4,000 GETs per 10 s per vault) makes calls wait, never fail.
//! - **Retries.** Throttling and unreachable stores are retried with full-jitter exponential
//!   backoff (AWS architecture blog, "Exponential Backoff And Jitter"); a `Retry-After` from
//!   the store is a floor for the wait.
//! - **Counters.** Every store call is counted as
//!   `externalsecret_provider_api_calls_count{provider,call,status}`, ESO's metric (a throttled
//!   call is an `error` there, as in ESO), and every throttled one also as
//!   `keyward_provider_api_calls_throttled_total{provider,store,call}`, so that a store that
//!   asks keyward to slow down can be told from one that fails.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use keyward_api::ExternalSecretFind;
use tokio::sync::OnceCell;

use crate::{Fetched, Provider, ProviderError, StoreId, Versioned};

/// Tunables of the discipline.
#[derive(Clone, Debug)]
pub struct DisciplineConfig {
    /// How long a read result is shared.
    pub freshness: Duration,
    /// Sustained store calls per second.
    pub calls_per_second: NonZeroU32,
    /// Calls allowed in a burst.
    pub burst: NonZeroU32,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff ceiling; doubled per retry.
    pub base_backoff: Duration,
    /// The largest backoff ceiling.
    pub max_backoff: Duration,
    /// How long one attempt may take before it counts as the store being unreachable (and is
    /// retried): a store behind a firewall that drops packets, or a connection that stalls,
    /// must fail one ExternalSecret's sync, never hang its worker.
    pub call_timeout: Duration,
}

impl Default for DisciplineConfig {
    fn default() -> Self {
        Self {
            freshness: Duration::from_secs(30),
            calls_per_second: NonZeroU32::new(50).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            max_retries: 5,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            call_timeout: Duration::from_secs(20),
        }
    }
}

/// Store call counts by (provider, call, status).
#[derive(Debug, Default)]
pub struct CallCounters {
    counts: Mutex<BTreeMap<(String, String, String), u64>>,
    /// Throttled calls by (provider, store, call).
    throttled: Mutex<BTreeMap<(String, String, String), u64>>,
    /// The store reads made since the last [`CallCounters::take_reads`], when recording.
    reads: Option<Mutex<Vec<StoreRead>>>,
}

/// One call that read a store, for the audit log: which store, key and version, and whether
/// it succeeded. Never a value. Cached and coalesced reads are not store calls and are not
/// recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreRead {
    /// `SecretStore/ns/name` or `ClusterSecretStore/name`.
    pub store: String,
    /// The call: `GetSecret`, `GetSecretMetadata`, `DescribeSecret`, `ListSecrets`.
    pub call: &'static str,
    /// The key read (empty for a list).
    pub key: String,
    /// The version asked for, if any.
    pub version: Option<String>,
    /// Whether the store answered with what was asked.
    pub ok: bool,
}

impl CallCounters {
    /// Counters that also keep every store read until taken (`keyward sync --audit-log`).
    pub fn recording_reads() -> Self {
        Self {
            reads: Some(Mutex::new(Vec::new())),
            ..Self::default()
        }
    }

    /// The store reads recorded since the last call (none unless recording).
    pub fn take_reads(&self) -> Vec<StoreRead> {
        self.reads
            .as_ref()
            .and_then(|reads| {
                reads
                    .lock()
                    .ok()
                    .map(|mut reads| std::mem::take(&mut *reads))
            })
            .unwrap_or_default()
    }

    fn record_read(&self, read: impl FnOnce() -> StoreRead) {
        if let Some(Ok(mut reads)) = self.reads.as_ref().map(Mutex::lock) {
            reads.push(read());
        }
    }

    fn record(&self, provider: &str, call: &str, success: bool) {
        let status = if success { "success" } else { "error" };
        if let Ok(mut counts) = self.counts.lock() {
            *counts
                .entry((provider.to_owned(), call.to_owned(), status.to_owned()))
                .or_default() += 1;
        }
    }

    fn record_throttled(&self, provider: &str, store: &StoreId, call: &str) {
        if let Ok(mut throttled) = self.throttled.lock() {
            *throttled
                .entry((provider.to_owned(), store.to_string(), call.to_owned()))
                .or_default() += 1;
        }
    }

    /// The count of one (provider, call, status).
    pub fn get(&self, provider: &str, call: &str, status: &str) -> u64 {
        self.counts
            .lock()
            .map(|counts| {
                counts
                    .get(&(provider.to_owned(), call.to_owned(), status.to_owned()))
                    .copied()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }

    /// Every count, in the Prometheus text format.
    pub fn render_prometheus(&self) -> String {
        let mut out = String::from(
            "# HELP externalsecret_provider_api_calls_count Number of API calls towards the secret provider\n\
             # TYPE externalsecret_provider_api_calls_count counter\n",
        );
        if let Ok(counts) = self.counts.lock() {
            for ((provider, call, status), count) in counts.iter() {
                out.push_str(&format!(
                    "externalsecret_provider_api_calls_count{{call=\"{call}\",provider=\"{provider}\",status=\"{status}\"}} {count}\n"
                ));
            }
        }
        out.push_str(
            "# HELP keyward_provider_api_calls_throttled_total Store calls the store answered with throttling\n\
             # TYPE keyward_provider_api_calls_throttled_total counter\n",
        );
        if let Ok(throttled) = self.throttled.lock() {
            for ((provider, store, call), count) in throttled.iter() {
                out.push_str(&format!(
                    "keyward_provider_api_calls_throttled_total{{call=\"{call}\",provider=\"{provider}\",store=\"{}\"}} {count}\n",
                    escape_label(store)
                ));
            }
        }
        out
    }
}

type CacheKey = (&'static str, String, Option<String>);

tokio::task_local! {
    /// Within [`fresh_reads`]: shared reads begun before this instant are not taken.
    static READS_NOT_BEFORE: Instant;
}

/// Runs `future` so that its store reads take no shared result begun before now (reads begun
/// after, by other fresh refreshes, are still shared).
pub async fn fresh_reads<F: std::future::Future>(future: F) -> F::Output {
    READS_NOT_BEFORE.scope(Instant::now(), future).await
}

#[derive(Debug)]
struct Entry {
    created: Instant,
    result: OnceCell<Result<Versioned, ProviderError>>,
}

/// Below this many entries the read cache is never swept.
const SWEEP_ABOVE: usize = 64;

/// A provider wrapped in the call discipline. It is itself a [`Provider`].
#[derive(Debug)]
pub struct Disciplined<P> {
    inner: P,
    config: DisciplineConfig,
    cache: Mutex<HashMap<CacheKey, Arc<Entry>>>,
    limiter: DefaultDirectRateLimiter,
    counters: Arc<CallCounters>,
}

impl<P: Provider> Disciplined<P> {
    /// Wraps `inner`, counting calls into `counters`.
    pub fn new(inner: P, config: DisciplineConfig, counters: Arc<CallCounters>) -> Self {
        let quota = Quota::per_second(config.calls_per_second).allow_burst(config.burst);
        Self {
            inner,
            limiter: RateLimiter::direct(quota),
            config,
            cache: Mutex::new(HashMap::new()),
            counters,
        }
    }

    /// The wrapped provider.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Shares one call per (operation, key, version) within the freshness window.
    /// A store call ([`Self::call`]) that reads, recorded for the audit log when the counters
    /// record reads.
    async fn read<T, F, Fut>(
        &self,
        name: &'static str,
        key: &str,
        version: Option<&str>,
        attempt: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        let result = self.call(name, attempt).await;
        self.counters.record_read(|| StoreRead {
            store: self.inner.store().to_string(),
            call: name,
            key: key.to_owned(),
            version: version.map(str::to_owned),
            ok: result.is_ok(),
        });
        result
    }

    async fn coalesced<F, Fut>(
        &self,
        cache_key: CacheKey,
        call: F,
    ) -> Result<Versioned, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Versioned, ProviderError>>,
    {
        let entry = self.entry(&cache_key);
        let result = entry.result.get_or_init(call).await.clone();
        if result.is_err() {
            // Share a failure with those who waited for it, but let the next read retry.
            if let Ok(mut cache) = self.cache.lock()
                && cache
                    .get(&cache_key)
                    .is_some_and(|current| Arc::ptr_eq(current, &entry))
            {
                cache.remove(&cache_key);
            }
        }
        result
    }

    fn entry(&self, cache_key: &CacheKey) -> Arc<Entry> {
        let not_before = READS_NOT_BEFORE.try_with(|instant| *instant).ok();
        let fresh = |entry: &Arc<Entry>| {
            entry.created.elapsed() < self.config.freshness
                && not_before.is_none_or(|instant| entry.created >= instant)
        };
        let Ok(mut cache) = self.cache.lock() else {
            // A poisoned lock only means another caller panicked; do not share with it.
            return Arc::new(Entry {
                created: Instant::now(),
                result: OnceCell::new(),
            });
        };
        if let Some(entry) = cache.get(cache_key).filter(|e| fresh(e)) {
            return Arc::clone(entry);
        }
        let entry = Arc::new(Entry {
            created: Instant::now(),
            result: OnceCell::new(),
        });
        // Reads of keys nobody asks for again (an ExternalSecret deleted, a key renamed)
        // would stay for the life of the process: sweep expired entries now and then, so
        // values are held no longer than the freshness window and memory stays bounded.
        if cache.len() >= SWEEP_ABOVE && cache.len().is_power_of_two() {
            cache.retain(|_, cached| fresh(cached));
        }
        cache.insert(cache_key.clone(), Arc::clone(&entry));
        entry
    }

    /// Drops shared reads of `key` after a write, so the next read sees it.
    fn forget(&self, key: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|(_, cached, _), _| cached != key);
        }
    }

    /// One logical call: rate-limited, retried, counted per attempt.
    async fn call<T, F, Fut>(&self, name: &'static str, mut attempt: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        let mut retries = 0;
        loop {
            self.limiter.until_ready().await;
            let result = match tokio::time::timeout(self.config.call_timeout, attempt()).await {
                Ok(result) => result,
                Err(_) => Err(ProviderError::new(
                    crate::ProviderErrorKind::Unreachable,
                    self.inner.store().as_str(),
                    None,
                    format!(
                        "{name}: no answer within {}s",
                        self.config.call_timeout.as_secs_f64()
                    ),
                )),
            };
            self.counters
                .record(self.inner.name(), name, result.is_ok());
            if let Err(error) = &result
                && error.kind == crate::ProviderErrorKind::Throttled
            {
                self.counters
                    .record_throttled(self.inner.name(), self.inner.store(), name);
            }
            match result {
                Err(error) if error.kind.is_retryable() && retries < self.config.max_retries => {
                    let wait = self.backoff(retries, error.retry_after);
                    tracing::debug!(store = %self.inner.store(), call = name, retries, ?wait, kind = error.kind.as_str(), "retrying store call");
                    tokio::time::sleep(wait).await;
                    retries += 1;
                }
                other => return other,
            }
        }
    }

    /// Full jitter: uniform in [0, min(max, base·2^retry)], at least `retry_after`.
    fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self
            .config
            .base_backoff
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.config.max_backoff);
        let jitter = ceiling.mul_f64(random_unit());
        retry_after.map_or(jitter, |floor| floor.max(jitter))
    }
}

/// A store's name as a label value: Kubernetes names need no escaping, but the format asks
/// for it and a name is the user's text.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A uniform number in [0, 1) from the OS random source (0.5 if it is unavailable).
fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[async_trait::async_trait]
impl<P: Provider> Provider for Disciplined<P> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn store(&self) -> &StoreId {
        self.inner.store()
    }

    async fn fetch(&self, key: &str, version: Option<&str>) -> Result<Fetched, ProviderError> {
        self.fetch_versioned(key, version)
            .await
            .map(|versioned| versioned.fetched)
    }

    async fn fetch_versioned(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Versioned, ProviderError> {
        let cache_key = ("GetSecret", key.to_owned(), version.map(str::to_owned));
        self.coalesced(cache_key, || {
            self.read("GetSecret", key, version, || {
                self.inner.fetch_versioned(key, version)
            })
        })
        .await
    }

    async fn fetch_metadata(&self, key: &str) -> Result<Fetched, ProviderError> {
        let cache_key = ("GetSecretMetadata", key.to_owned(), None);
        self.coalesced(cache_key, || {
            self.read("GetSecretMetadata", key, None, || async {
                self.inner
                    .fetch_metadata(key)
                    .await
                    .map(|fetched| Versioned {
                        fetched,
                        version: None,
                    })
            })
        })
        .await
        .map(|versioned| versioned.fetched)
    }

    async fn describe(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<crate::KeyInfo, ProviderError> {
        self.read("DescribeSecret", key, version, || {
            self.inner.describe(key, version)
        })
        .await
    }

    async fn list(&self, find: &ExternalSecretFind) -> Result<Vec<String>, ProviderError> {
        self.read("ListSecrets", "", None, || self.inner.list(find))
            .await
    }

    async fn push(
        &self,
        key: &str,
        value: &keyward_core::SecretValue,
        metadata: Option<&serde_json::Value>,
    ) -> Result<(), ProviderError> {
        let result = self
            .call("PushSecret", || self.inner.push(key, value, metadata))
            .await;
        self.forget(key);
        result
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        let result = self.call("DeleteSecret", || self.inner.delete(key)).await;
        self.forget(key);
        result
    }

    async fn adopt(&self, key: &str) -> Result<(), ProviderError> {
        let result = self.call("TagSecret", || self.inner.adopt(key)).await;
        self.forget(key);
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use keyward_core::SecretValue;

    use super::*;
    use crate::ProviderErrorKind;

    /// A test double, not a store: it counts calls and fails on demand. The real stores are
    /// exercised in the provider tests against their peers.
    #[derive(Debug)]
    struct Counting {
        store: StoreId,
        calls: AtomicU32,
        failures_before_success: u32,
        failure: ProviderErrorKind,
    }

    impl Counting {
        fn new(failures_before_success: u32, failure: ProviderErrorKind) -> Self {
            Self {
                store: StoreId::namespaced("test", "counting"),
                calls: AtomicU32::new(0),
                failures_before_success,
                failure,
            }
        }
    }

    #[async_trait::async_trait]
    impl Provider for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn store(&self) -> &StoreId {
            &self.store
        }
        async fn fetch(&self, key: &str, _version: Option<&str>) -> Result<Fetched, ProviderError> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            if call < self.failures_before_success {
                return Err(
                    ProviderError::new(self.failure, "counting", Some(key), "injected")
                        .with_retry_after(Some(Duration::from_millis(30))),
                );
            }
            Ok(Fetched::Value(SecretValue::from(format!("value-of-{key}"))))
        }
    }

    fn fast() -> DisciplineConfig {
        DisciplineConfig {
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            ..DisciplineConfig::default()
        }
    }

    #[tokio::test]
    async fn concurrent_and_repeated_reads_share_one_call() {
        let counters = Arc::new(CallCounters::default());
        let provider = Arc::new(Disciplined::new(
            Counting::new(0, ProviderErrorKind::Unreachable),
            fast(),
            Arc::clone(&counters),
        ));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let provider = Arc::clone(&provider);
            tasks.push(tokio::spawn(
                async move { provider.fetch("db", None).await },
            ));
        }
        for task in tasks {
            assert!(task.await.expect("join").is_ok());
        }
        assert!(provider.fetch("db", None).await.is_ok());
        assert_eq!(provider.inner().calls.load(Ordering::SeqCst), 1);
        assert!(provider.fetch("db", Some("2")).await.is_ok());
        assert_eq!(
            provider.inner().calls.load(Ordering::SeqCst),
            2,
            "another version is another call"
        );
        assert_eq!(counters.get("counting", "GetSecret", "success"), 2);
    }

    #[tokio::test]
    async fn a_call_that_never_answers_fails_as_unreachable_instead_of_hanging() {
        let provider = Disciplined::new(
            Counting::new(0, ProviderErrorKind::Unreachable),
            DisciplineConfig {
                call_timeout: Duration::from_millis(1),
                max_retries: 2,
                ..fast()
            },
            Arc::new(CallCounters::default()),
        );
        let error = provider.fetch("db", None).await.expect_err("timed out");
        assert_eq!(error.kind, ProviderErrorKind::Unreachable);
        assert_eq!(provider.inner().calls.load(Ordering::SeqCst), 3, "retried");
    }

    #[tokio::test]
    async fn a_fresh_refresh_reads_again_and_shares_only_with_later_reads() {
        let provider = Disciplined::new(
            Counting::new(0, ProviderErrorKind::Unreachable),
            fast(),
            Arc::new(CallCounters::default()),
        );
        let calls = || provider.inner().calls.load(Ordering::SeqCst);
        assert!(provider.fetch("db", None).await.is_ok());
        assert!(provider.fetch("db", None).await.is_ok());
        assert_eq!(calls(), 1, "a plain read shares the earlier one");
        assert!(fresh_reads(provider.fetch("db", None)).await.is_ok());
        assert_eq!(calls(), 2, "a fresh refresh takes no earlier read");
        assert!(provider.fetch("db", None).await.is_ok());
        assert_eq!(calls(), 2, "later plain reads share the fresh one");
        let both = futures::future::join(
            fresh_reads(provider.fetch("db", None)),
            provider.fetch("db", None),
        );
        let (first, second) = both.await;
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(calls(), 3, "a read in flight with a fresh one shares it");
    }

    #[tokio::test]
    async fn expired_reads_are_swept_so_the_cache_stays_bounded() {
        let provider = Disciplined::new(
            Counting::new(0, ProviderErrorKind::Unreachable),
            DisciplineConfig {
                freshness: Duration::ZERO,
                ..fast()
            },
            Arc::new(CallCounters::default()),
        );
        for index in 0..300 {
            assert!(provider.fetch(&format!("key-{index}"), None).await.is_ok());
        }
        let held = provider.cache.lock().expect("cache").len();
        assert!(held <= 2 * SWEEP_ABOVE, "{held} entries held");
    }

    #[tokio::test]
    async fn throttling_is_retried_honouring_retry_after() {
        let counters = Arc::new(CallCounters::default());
        let provider = Disciplined::new(
            Counting::new(2, ProviderErrorKind::Throttled),
            fast(),
            Arc::clone(&counters),
        );
        let started = Instant::now();
        assert!(provider.fetch("db", None).await.is_ok());
        assert!(
            started.elapsed() >= Duration::from_millis(60),
            "Retry-After was not honoured"
        );
        assert_eq!(counters.get("counting", "GetSecret", "error"), 2);
        assert_eq!(counters.get("counting", "GetSecret", "success"), 1);
        let text = counters.render_prometheus();
        assert!(text.contains("externalsecret_provider_api_calls_count{call=\"GetSecret\",provider=\"counting\",status=\"error\"} 2"), "{text}");
        assert!(text.contains("keyward_provider_api_calls_throttled_total{call=\"GetSecret\",provider=\"counting\",store=\"SecretStore/test/counting\"} 2"), "{text}");
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried_nor_remembered() {
        let counters = Arc::new(CallCounters::default());
        let provider = Disciplined::new(
            Counting::new(1, ProviderErrorKind::NotFound),
            fast(),
            Arc::clone(&counters),
        );
        let error = provider.fetch("db", None).await.expect_err("not found");
        assert_eq!(error.kind, ProviderErrorKind::NotFound);
        let text = counters.render_prometheus();
        assert!(
            !text.contains("keyward_provider_api_calls_throttled_total{"),
            "a refusal is not throttling: {text}"
        );
        assert_eq!(provider.inner().calls.load(Ordering::SeqCst), 1);
        assert!(
            provider.fetch("db", None).await.is_ok(),
            "a failure must not be cached"
        );
    }

    #[tokio::test]
    async fn retries_give_up_with_the_last_error() {
        let config = DisciplineConfig {
            max_retries: 2,
            ..fast()
        };
        let provider = Disciplined::new(
            Counting::new(10, ProviderErrorKind::Unreachable),
            config,
            Arc::default(),
        );
        let error = provider.fetch("db", None).await.expect_err("gives up");
        assert_eq!(error.kind, ProviderErrorKind::Unreachable);
        assert_eq!(provider.inner().calls.load(Ordering::SeqCst), 3);
    }
}
