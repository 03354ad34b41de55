//! The operator's metrics, in the Prometheus text format. ESO's names and labels come first, so
//! ESO's dashboards and alerts keep working; then the controller-runtime, workqueue and process
//! names that ESO also serves (and its dashboards read); then keyward's own, prefixed
//! `keyward_`, for what ESO does not expose.
//!
//! ESO's:
//!
//! - `externalsecret_sync_calls_total{name,namespace}`: reconciles;
//! - `externalsecret_sync_calls_error{name,namespace}`: failed reconciles;
//! - `externalsecret_status_condition{name,namespace,condition,status}`: 1 for the current
//!   status of the `Ready` condition, 0 for the other;
//! - `externalsecret_reconcile_duration{name,namespace}`: the last reconcile, in nanoseconds
//!   (ESO's unit);
//! - `externalsecret_provider_api_calls_count{provider,call,status}`: store calls (from the
//!   call discipline; a throttled call is an `error`, as in ESO).
//!
//! controller-runtime's, client-go's and the process's, for the ExternalSecret controller
//! (`controller="externalsecret"`, `name="externalsecret"`, as ESO labels them):
//!
//! - `controller_runtime_reconcile_time_seconds{controller}`: a histogram of reconcile times;
//! - `controller_runtime_active_workers{controller}`: reconciles running now;
//! - `controller_runtime_max_concurrent_reconciles{controller}`: `--concurrent`;
//! - `workqueue_depth{name}`: ExternalSecrets due for a reconcile (a watch event came, or the
//!   requeue time passed) that no worker has started yet;
//! - `process_resident_memory_bytes`: resident memory (`VmRSS` of `/proc/self/status`).
//!
//! keyward's:
//!
//! - `keyward_externalsecret_info{name,namespace,store,store_kind}`: 1 for each store an
//!   ExternalSecret reads (`store` is `SecretStore/<namespace>/<name>` or
//!   `ClusterSecretStore/<name>`), to join with ESO's series on `name,namespace`: adding a
//!   label to ESO's families would change the identity of their series;
//! - `keyward_externalsecret_refresh_interval_seconds{name,namespace}`: its `refreshInterval`,
//!   0 when it is not refreshed on a timer (`CreatedOnce`, `OnChange`, `0`);
//! - `keyward_externalsecret_last_sync_timestamp_seconds{name,namespace}`: when it last synced
//!   (its `status.refreshTime`, then every successful sync), in Unix seconds;
//! - `keyward_provider_api_calls_throttled_total{provider,store,call}`: store calls the store
//!   answered with throttling (from the call discipline);
//! - `keyward_leader`: 1 while this replica reconciles (it holds the Lease, or runs without
//!   leader election), 0 while it waits for the Lease.
//!
//! [`FAMILIES`] lists every family; the dashboard and alert rules in `charts/keyward/files/`
//! use no other (crates/cli/tests/monitoring.rs).
//!
//! Written by hand rather than through a metrics crate: ESO's names break the conventions
//! those crates enforce (a counter without `_total`, a duration gauge in nanoseconds), and
//! keeping them exactly is the point. Labels hold names only, never a value.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use keyward_api::{ExternalSecret, RefreshPolicy, StoreKind, StoreRef};
use keyward_providers::{CallCounters, StoreId};

type Labels = Vec<(&'static str, String)>;

/// A metric family: its name, help and type.
#[derive(Debug, PartialEq, Eq)]
pub struct Family {
    /// The name, as `# TYPE` gives it (a histogram's samples add `_bucket`, `_sum`, `_count`).
    pub name: &'static str,
    /// `# HELP`.
    pub help: &'static str,
    /// `counter`, `gauge` or `histogram`.
    pub kind: &'static str,
}

const fn family(name: &'static str, kind: &'static str, help: &'static str) -> Family {
    Family { name, help, kind }
}

const SYNC_CALLS: Family = family(
    "externalsecret_sync_calls_total",
    "counter",
    "Total number of the External Secret sync calls",
);
const SYNC_ERRORS: Family = family(
    "externalsecret_sync_calls_error",
    "counter",
    "Total number of the External Secret sync errors",
);
const CONDITION: Family = family(
    "externalsecret_status_condition",
    "gauge",
    "The status condition of a specific External Secret",
);
const DURATION: Family = family(
    "externalsecret_reconcile_duration",
    "gauge",
    "The duration time to reconcile the External Secret",
);
const STORE_CALLS: Family = family(
    "externalsecret_provider_api_calls_count",
    "counter",
    "Number of API calls towards the secret provider",
);
const RECONCILE_TIME: Family = family(
    "controller_runtime_reconcile_time_seconds",
    "histogram",
    "Length of time per reconciliation per controller",
);
const ACTIVE_WORKERS: Family = family(
    "controller_runtime_active_workers",
    "gauge",
    "Number of currently used workers per controller",
);
const MAX_WORKERS: Family = family(
    "controller_runtime_max_concurrent_reconciles",
    "gauge",
    "Maximum number of concurrent reconciles per controller",
);
const QUEUE_DEPTH: Family = family("workqueue_depth", "gauge", "Current depth of workqueue");
const RESIDENT_MEMORY: Family = family(
    "process_resident_memory_bytes",
    "gauge",
    "Resident memory size in bytes.",
);
const INFO: Family = family(
    "keyward_externalsecret_info",
    "gauge",
    "1 for each store an ExternalSecret reads",
);
const REFRESH_INTERVAL: Family = family(
    "keyward_externalsecret_refresh_interval_seconds",
    "gauge",
    "The refreshInterval of an ExternalSecret in seconds; 0 when it is not refreshed on a timer",
);
const LAST_SYNC: Family = family(
    "keyward_externalsecret_last_sync_timestamp_seconds",
    "gauge",
    "When an ExternalSecret last synced from its stores, in Unix seconds",
);
const THROTTLED: Family = family(
    "keyward_provider_api_calls_throttled_total",
    "counter",
    "Store calls the store answered with throttling",
);
const LEADER: Family = family(
    "keyward_leader",
    "gauge",
    "1 while this replica reconciles (it leads, or runs without leader election), else 0",
);

/// Every family `/metrics` serves.
pub const FAMILIES: &[Family] = &[
    SYNC_CALLS,
    SYNC_ERRORS,
    CONDITION,
    DURATION,
    STORE_CALLS,
    RECONCILE_TIME,
    ACTIVE_WORKERS,
    MAX_WORKERS,
    QUEUE_DEPTH,
    RESIDENT_MEMORY,
    INFO,
    REFRESH_INTERVAL,
    LAST_SYNC,
    THROTTLED,
    LEADER,
];

/// The ExternalSecret controller's name in the controller-runtime and workqueue families.
const CONTROLLER: &str = "externalsecret";

/// controller-runtime's buckets for `controller_runtime_reconcile_time_seconds`, so that
/// quantiles read the same as ESO's.
const RECONCILE_BUCKETS: [f64; 40] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

/// Reconcile times: a count per bucket (not cumulative), the sum and the count.
struct Histogram {
    buckets: [u64; RECONCILE_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    const EMPTY: Self = Self {
        buckets: [0; RECONCILE_BUCKETS.len()],
        sum: 0.0,
        count: 0,
    };

    fn observe(&mut self, seconds: f64) {
        if let Some(bucket) = RECONCILE_BUCKETS.iter().position(|le| seconds <= *le) {
            self.buckets[bucket] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }
}

/// An ExternalSecret, by namespace and name.
type Key = (String, String);

/// A family's values, by label set.
type Values = BTreeMap<Labels, f64>;

/// The operator's metrics.
pub struct Metrics {
    /// Families of labelled values (everything but the histogram and what is read at render).
    families: Mutex<BTreeMap<&'static str, (&'static Family, Values)>>,
    reconcile_times: Mutex<Histogram>,
    /// When each ExternalSecret is next due for a reconcile, as far as the operator knows.
    due: Mutex<HashMap<Key, Instant>>,
    active: AtomicUsize,
    store_calls: Arc<CallCounters>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// A reconcile in progress, counted in `controller_runtime_active_workers` until dropped
/// (a panic or a cancelled reconcile included).
#[must_use = "the reconcile counts as running only while this lives"]
pub struct Working<'a>(&'a Metrics);

impl Drop for Working<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Metrics that also expose `store_calls`.
    pub fn new(store_calls: Arc<CallCounters>) -> Self {
        Self {
            families: Mutex::new(BTreeMap::new()),
            reconcile_times: Mutex::new(Histogram::EMPTY),
            due: Mutex::new(HashMap::new()),
            active: AtomicUsize::new(0),
            store_calls,
        }
    }

    fn update(&self, family: &'static Family, labels: Labels, change: impl FnOnce(&mut f64)) {
        let Ok(mut families) = self.families.lock() else {
            return;
        };
        let (_, values) = families
            .entry(family.name)
            .or_insert_with(|| (family, BTreeMap::new()));
        change(values.entry(labels).or_insert(0.0));
    }

    fn set(&self, family: &'static Family, labels: Labels, value: f64) {
        self.update(family, labels, |v| *v = value);
    }

    /// Records one reconcile of ExternalSecret `namespace/name`; `ready` is the `Ready`
    /// condition it left (`None`: not looked at, nothing was due), `Some(true)` a sync.
    pub fn reconciled(
        &self,
        namespace: &str,
        name: &str,
        took: Duration,
        ready: Option<bool>,
        failed: bool,
    ) {
        let object = || object_labels(namespace, name);
        self.update(&SYNC_CALLS, object(), |v| *v += 1.0);
        if failed {
            self.update(&SYNC_ERRORS, object(), |v| *v += 1.0);
        }
        self.set(&DURATION, object(), took.as_nanos() as f64);
        if let Ok(mut times) = self.reconcile_times.lock() {
            times.observe(took.as_secs_f64());
        }
        if let Some(ready) = ready {
            for (status, on) in [("True", ready), ("False", !ready)] {
                let mut labels = object();
                labels.push(("condition", "Ready".into()));
                labels.push(("status", status.into()));
                self.set(&CONDITION, labels, if on { 1.0 } else { 0.0 });
            }
        }
        if ready == Some(true) {
            // The sync began when the reconcile did, as its `refreshTime` says.
            let began = SystemTime::now()
                .checked_sub(took)
                .unwrap_or(SystemTime::now());
            self.synced_at(namespace, name, unix_seconds(began));
        }
    }

    /// Records what ExternalSecret `namespace/name` is: the stores it reads (replacing those
    /// recorded before), its refresh interval and its last sync as its status says.
    pub fn described<'a>(
        &self,
        namespace: &str,
        name: &str,
        es: &ExternalSecret,
        stores: impl IntoIterator<Item = &'a StoreRef>,
    ) {
        let stores: Vec<Labels> = stores
            .into_iter()
            .map(|store| {
                let id = StoreId::of(store.kind, namespace, &store.name);
                let kind = match store.kind {
                    StoreKind::SecretStore => "SecretStore",
                    StoreKind::ClusterSecretStore => "ClusterSecretStore",
                };
                let mut labels = object_labels(namespace, name);
                labels.push(("store", id.to_string()));
                labels.push(("store_kind", kind.into()));
                labels
            })
            .collect();
        if let Ok(mut families) = self.families.lock() {
            let (_, values) = families
                .entry(INFO.name)
                .or_insert_with(|| (&INFO, BTreeMap::new()));
            values.retain(|labels, _| !is_object(labels, namespace, name));
            values.extend(stores.into_iter().map(|labels| (labels, 1.0)));
        }
        let interval = timed_interval(es).as_secs_f64();
        self.set(&REFRESH_INTERVAL, object_labels(namespace, name), interval);
        if let Some(at) = refresh_time(es) {
            self.synced_at(namespace, name, at);
        }
    }

    /// `keyward_externalsecret_last_sync_timestamp_seconds`, which only moves forward: a
    /// cache that lags behind the last status write must not make a sync look older.
    fn synced_at(&self, namespace: &str, name: &str, at: f64) {
        self.update(&LAST_SYNC, object_labels(namespace, name), |v| {
            *v = v.max(at);
        });
    }

    /// ExternalSecret `namespace/name` is due for a reconcile in `after` (zero: now), unless
    /// it already is sooner; it counts in `workqueue_depth` once that time has come.
    pub fn queued(&self, namespace: &str, name: &str, after: Duration) {
        let at = Instant::now() + after;
        if let Ok(mut due) = self.due.lock() {
            due.entry((namespace.to_owned(), name.to_owned()))
                .and_modify(|due| *due = (*due).min(at))
                .or_insert(at);
        }
    }

    /// A reconcile of ExternalSecret `namespace/name` begins: it leaves the queue and takes a
    /// worker until the returned guard drops.
    pub fn working(&self, namespace: &str, name: &str) -> Working<'_> {
        if let Ok(mut due) = self.due.lock() {
            due.remove(&(namespace.to_owned(), name.to_owned()));
        }
        self.active.fetch_add(1, Ordering::Relaxed);
        Working(self)
    }

    /// `--concurrent`: how many ExternalSecrets are reconciled at once.
    pub fn set_workers(&self, workers: u16) {
        self.set(&MAX_WORKERS, controller_labels(), f64::from(workers));
    }

    /// Whether this replica reconciles now (`keyward_leader`).
    pub fn set_leader(&self, leading: bool) {
        self.set(&LEADER, Vec::new(), if leading { 1.0 } else { 0.0 });
    }

    /// Forgets a deleted ExternalSecret's series.
    pub fn forget(&self, namespace: &str, name: &str) {
        if let Ok(mut families) = self.families.lock() {
            for (_, values) in families.values_mut() {
                values.retain(|labels, _| !is_object(labels, namespace, name));
            }
        }
        if let Ok(mut due) = self.due.lock() {
            due.remove(&(namespace.to_owned(), name.to_owned()));
        }
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Ok(families) = self.families.lock() {
            for (family, values) in families.values() {
                write_family(
                    &mut text,
                    family,
                    values.iter().map(|(l, v)| (l.as_slice(), *v)),
                );
            }
        }
        self.render_reconcile_times(&mut text);
        let active = self.active.load(Ordering::Relaxed) as f64;
        write_family(
            &mut text,
            &ACTIVE_WORKERS,
            [(controller_labels().as_slice(), active)],
        );
        let depth = self.queue_depth() as f64;
        let queue = vec![("name", CONTROLLER.to_owned())];
        write_family(&mut text, &QUEUE_DEPTH, [(queue.as_slice(), depth)]);
        let memory = resident_memory_bytes().map(|bytes| (&[][..], bytes as f64));
        write_family(&mut text, &RESIDENT_MEMORY, memory);
        text.push_str(&self.store_calls.render_prometheus());
        text
    }

    /// ExternalSecrets whose reconcile is due and has not started.
    fn queue_depth(&self) -> usize {
        let now = Instant::now();
        self.due
            .lock()
            .map(|due| due.values().filter(|at| **at <= now).count())
            .unwrap_or(0)
    }

    fn render_reconcile_times(&self, text: &mut String) {
        let Ok(times) = self.reconcile_times.lock() else {
            return;
        };
        let name = RECONCILE_TIME.name;
        let _ = writeln!(text, "# HELP {name} {}", RECONCILE_TIME.help);
        let _ = writeln!(text, "# TYPE {name} {}", RECONCILE_TIME.kind);
        let mut cumulative = 0;
        for (le, count) in RECONCILE_BUCKETS.iter().zip(times.buckets) {
            cumulative += count;
            let _ = writeln!(
                text,
                "{name}_bucket{{controller=\"{CONTROLLER}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let (sum, count) = (times.sum, times.count);
        let _ = writeln!(
            text,
            "{name}_bucket{{controller=\"{CONTROLLER}\",le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(text, "{name}_sum{{controller=\"{CONTROLLER}\"}} {sum}");
        let _ = writeln!(text, "{name}_count{{controller=\"{CONTROLLER}\"}} {count}");
    }
}

fn object_labels(namespace: &str, name: &str) -> Labels {
    vec![
        ("name", name.to_owned()),
        ("namespace", namespace.to_owned()),
    ]
}

fn controller_labels() -> Labels {
    vec![("controller", CONTROLLER.to_owned())]
}

/// Whether `labels` are those of ExternalSecret `namespace/name`.
fn is_object(labels: &[(&'static str, String)], namespace: &str, name: &str) -> bool {
    let has = |key: &str, value: &str| labels.iter().any(|(k, v)| *k == key && v == value);
    has("name", name) && has("namespace", namespace)
}

/// One family: `# HELP`, `# TYPE` and a line per sample (a sample without labels has no braces).
fn write_family<'a>(
    text: &mut String,
    family: &Family,
    samples: impl IntoIterator<Item = (&'a [(&'static str, String)], f64)>,
) {
    let name = family.name;
    let _ = writeln!(text, "# HELP {name} {}", family.help);
    let _ = writeln!(text, "# TYPE {name} {}", family.kind);
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(text, "{name} {value}");
            continue;
        }
        let rendered: Vec<String> = labels
            .iter()
            .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
            .collect();
        let _ = writeln!(text, "{name}{{{}}} {value}", rendered.join(","));
    }
}

/// The interval a Periodic ExternalSecret is refreshed at; zero when it is not on a timer or
/// its interval does not parse (that failure is its condition's to report).
fn timed_interval(es: &ExternalSecret) -> Duration {
    let timed = matches!(es.spec.refresh_policy, None | Some(RefreshPolicy::Periodic));
    match keyward_sync::refresh::interval(es) {
        Ok(interval) if timed => interval,
        _ => Duration::ZERO,
    }
}

/// `status.refreshTime`, in Unix seconds.
fn refresh_time(es: &ExternalSecret) -> Option<f64> {
    let text = es.status.as_ref()?.refresh_time.as_deref()?;
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(at.unix_timestamp() as f64)
}

fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// The process's resident memory, from `VmRSS` in `/proc/self/status` (Linux); `None`
/// elsewhere, and the family is then served without a sample.
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Label values are Kubernetes names; escape anyway, as the format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn metrics() -> Metrics {
        Metrics::new(Arc::new(CallCounters::default()))
    }

    /// An ExternalSecret `apps/db` with `rest` (its `spec`, maybe its `status`) as YAML.
    fn external_secret(rest: &str) -> ExternalSecret {
        let yaml = format!("metadata: {{name: db, namespace: apps}}\n{rest}");
        serde_yaml_ng::from_str(&yaml).expect("an ExternalSecret")
    }

    /// The value of the one sample whose line starts with `series` (name and labels).
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|value| value.parse().ok())
    }

    #[test]
    fn eso_names_and_labels() {
        let metrics = metrics();
        metrics.reconciled("apps", "db", Duration::from_millis(3), Some(true), false);
        metrics.reconciled("apps", "db", Duration::from_millis(2), Some(false), true);
        let text = metrics.render();
        assert!(
            text.contains("externalsecret_sync_calls_total{name=\"db\",namespace=\"apps\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("externalsecret_sync_calls_error{name=\"db\",namespace=\"apps\"} 1"),
            "{text}"
        );
        assert!(text.contains("externalsecret_status_condition{name=\"db\",namespace=\"apps\",condition=\"Ready\",status=\"False\"} 1"), "{text}");
        assert!(
            text.contains(
                "externalsecret_reconcile_duration{name=\"db\",namespace=\"apps\"} 2000000"
            ),
            "{text}"
        );
        metrics.forget("apps", "db");
        assert!(!metrics.render().contains("name=\"db\""));
    }

    #[test]
    fn every_family_is_served_and_listed() {
        let metrics = metrics();
        let es = external_secret("spec: {refreshInterval: 1m}\n");
        let store = StoreRef {
            name: "vault".into(),
            kind: StoreKind::SecretStore,
        };
        metrics.described("apps", "db", &es, [&store]);
        metrics.reconciled("apps", "db", Duration::from_millis(3), Some(true), false);
        metrics.reconciled("apps", "db", Duration::from_millis(3), Some(false), true);
        metrics.set_workers(4);
        metrics.set_leader(true);
        let text = metrics.render();
        let served: BTreeSet<(&str, &str)> = text
            .lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .filter_map(|line| line.split_once(' '))
            .collect();
        let listed: BTreeSet<(&str, &str)> = FAMILIES.iter().map(|f| (f.name, f.kind)).collect();
        assert_eq!(served, listed, "{text}");
        let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        assert_eq!(helps, FAMILIES.len(), "one HELP per family: {text}");
    }

    #[test]
    fn the_stores_an_external_secret_reads_are_labelled_beside_esos_series() {
        let metrics = metrics();
        let es = external_secret("spec: {}\n");
        let (local, shared) = (
            StoreRef {
                name: "vault".into(),
                kind: StoreKind::SecretStore,
            },
            StoreRef {
                name: "shared".into(),
                kind: StoreKind::ClusterSecretStore,
            },
        );
        metrics.described("apps", "db", &es, [&local, &shared]);
        let text = metrics.render();
        assert!(text.contains("keyward_externalsecret_info{name=\"db\",namespace=\"apps\",store=\"SecretStore/apps/vault\",store_kind=\"SecretStore\"} 1"), "{text}");
        assert!(text.contains("keyward_externalsecret_info{name=\"db\",namespace=\"apps\",store=\"ClusterSecretStore/shared\",store_kind=\"ClusterSecretStore\"} 1"), "{text}");

        // A store dropped from the manifest leaves no series behind.
        metrics.described("apps", "db", &es, [&shared]);
        let text = metrics.render();
        assert!(!text.contains("SecretStore/apps/vault"), "{text}");
        assert!(
            text.contains("store=\"ClusterSecretStore/shared\""),
            "{text}"
        );
        metrics.forget("apps", "db");
        assert!(!metrics.render().contains("store=\""));
    }

    #[test]
    fn refresh_interval_and_last_sync_say_how_stale_a_projection_may_be() {
        let metrics = metrics();
        let interval = |metrics: &Metrics| {
            sample(
                &metrics.render(),
                "keyward_externalsecret_refresh_interval_seconds{name=\"db\",namespace=\"apps\"}",
            )
        };
        let last_sync = |metrics: &Metrics| {
            sample(
                &metrics.render(),
                "keyward_externalsecret_last_sync_timestamp_seconds{name=\"db\",namespace=\"apps\"}",
            )
        };
        let synced = external_secret(
            "spec: {refreshInterval: 15m}\nstatus: {refreshTime: \"2026-01-02T03:04:05Z\"}\n",
        );
        metrics.described("apps", "db", &synced, []);
        assert_eq!(interval(&metrics), Some(900.0));
        assert_eq!(last_sync(&metrics), Some(1_767_323_045.0));

        // A successful sync moves it to now; a status read from a lagging cache does not move
        // it back, and a failure leaves it.
        metrics.reconciled("apps", "db", Duration::from_secs(1), Some(true), false);
        let now = unix_seconds(SystemTime::now());
        let after_sync = last_sync(&metrics).expect("a sync time");
        assert!(
            (now - 5.0..=now).contains(&after_sync),
            "{after_sync} vs {now}"
        );
        metrics.described("apps", "db", &synced, []);
        metrics.reconciled("apps", "db", Duration::from_secs(1), Some(false), true);
        assert_eq!(last_sync(&metrics), Some(after_sync));

        // Not on a timer: no interval to be stale against.
        for spec in [
            "spec: {refreshPolicy: CreatedOnce}\n",
            "spec: {refreshPolicy: OnChange, refreshInterval: 1h}\n",
            "spec: {refreshInterval: 0s}\n",
        ] {
            metrics.described("apps", "db", &external_secret(spec), []);
            assert_eq!(interval(&metrics), Some(0.0), "{spec}");
        }
        metrics.described("apps", "db", &external_secret("spec: {}\n"), []);
        assert_eq!(interval(&metrics), Some(3600.0), "ESO's default");
    }

    #[test]
    fn queue_depth_counts_what_is_due_and_not_started() {
        let metrics = metrics();
        let depth = |metrics: &Metrics| {
            sample(
                &metrics.render(),
                "workqueue_depth{name=\"externalsecret\"}",
            )
        };
        let active = |metrics: &Metrics| {
            sample(
                &metrics.render(),
                "controller_runtime_active_workers{controller=\"externalsecret\"}",
            )
        };
        assert_eq!(depth(&metrics), Some(0.0));
        metrics.queued("apps", "a", Duration::ZERO);
        metrics.queued("apps", "b", Duration::ZERO);
        metrics.queued("apps", "later", Duration::from_secs(3600));
        assert_eq!(
            depth(&metrics),
            Some(2.0),
            "a requeue in an hour is not due"
        );

        // A watch event for one already due later brings it forward.
        metrics.queued("apps", "later", Duration::ZERO);
        assert_eq!(depth(&metrics), Some(3.0));
        metrics.queued("apps", "later", Duration::from_secs(3600));
        assert_eq!(depth(&metrics), Some(3.0), "the sooner time wins");

        let working = metrics.working("apps", "a");
        assert_eq!((depth(&metrics), active(&metrics)), (Some(2.0), Some(1.0)));
        drop(working);
        assert_eq!(active(&metrics), Some(0.0));
        metrics.forget("apps", "b");
        assert_eq!(depth(&metrics), Some(1.0), "a deleted one leaves the queue");
    }

    #[test]
    fn reconcile_times_are_a_cumulative_histogram() {
        let metrics = metrics();
        for millis in [3, 40, 40, 2_000, 90_000] {
            metrics.reconciled("apps", "db", Duration::from_millis(millis), None, false);
        }
        let text = metrics.render();
        let bucket = |le: &str| {
            sample(
                &text,
                &format!(
                    "controller_runtime_reconcile_time_seconds_bucket{{controller=\"externalsecret\",le=\"{le}\"}}"
                ),
            )
        };
        assert_eq!(bucket("0.005"), Some(1.0), "{text}");
        assert_eq!(bucket("0.05"), Some(3.0), "{text}");
        assert_eq!(bucket("2"), Some(4.0), "{text}");
        assert_eq!(bucket("60"), Some(4.0), "{text}");
        assert_eq!(bucket("+Inf"), Some(5.0), "{text}");
        let count = sample(
            &text,
            "controller_runtime_reconcile_time_seconds_count{controller=\"externalsecret\"}",
        );
        assert_eq!(count, Some(5.0));
    }

    #[test]
    fn leader_workers_and_memory() {
        let metrics = metrics();
        metrics.set_leader(false);
        metrics.set_workers(16);
        let text = metrics.render();
        assert_eq!(sample(&text, "keyward_leader"), Some(0.0), "{text}");
        assert_eq!(
            sample(
                &text,
                "controller_runtime_max_concurrent_reconciles{controller=\"externalsecret\"}"
            ),
            Some(16.0)
        );
        metrics.set_leader(true);
        assert_eq!(sample(&metrics.render(), "keyward_leader"), Some(1.0));
        let memory = sample(&text, "process_resident_memory_bytes").expect("Linux has VmRSS");
        assert!(memory > 1_000_000.0, "{memory}");
    }
}
