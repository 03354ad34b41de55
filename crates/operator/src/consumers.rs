//! Consumers follow a changed Secret: the workloads that read a Secret the operator manages
//! are restarted when its data changes, as `kubectl rollout restart` restarts them (the pod
//! template annotation `kubectl.kubernetes.io/restartedAt`), once per change.
//!
//! Opt-in per workload, with the annotations people already put there for Stakater Reloader:
//!
//! - `reloader.stakater.com/auto: "true"`: restarted when any Secret its pod template reads
//!   (env `secretKeyRef`, `envFrom`, secret and projected volumes) changes;
//! - `secret.reloader.stakater.com/reload: "a,b"`: restarted when one of the named Secrets
//!   changes.
//!
//! Or on the ExternalSecret, for workloads that carry no annotation:
//!
//! - `keyward.io/restart-readers: "true"`: every workload whose pod template reads its target
//!   Secret is restarted when the data changes.
//!
//! A workload without either is left alone. Deployments, StatefulSets and DaemonSets of the
//! Secret's namespace are looked at; a failure to restart one is logged and never fails the
//! sync that wrote the Secret.
//!
//! Restarts are not made inline by the sync that changed the Secret: [`Restarter`] collects
//! changes and restarts after a short debounce, so that a workload reading several Secrets
//! that change together (one rotation feeding two ExternalSecrets, a store outage ending)
//! restarts once, and through a token bucket shared by the whole operator, so that a store
//! change that touches hundreds of Secrets cannot restart the cluster's workloads all at once.
//! Only the leader writes Secrets, so the operator's bucket is the cluster's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::PodSpec;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

/// Reloader's annotation for "restart when anything I read changes".
pub const AUTO: &str = "reloader.stakater.com/auto";
/// Reloader's annotation naming the Secrets to follow.
pub const RELOAD_SECRETS: &str = "secret.reloader.stakater.com/reload";
/// keyward's opt-in on an ExternalSecret: restart every workload that reads its Secret.
pub const RESTART_READERS: &str = "keyward.io/restart-readers";
/// The pod template annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// How restarts are paced (the operator's `--restart-*` flags).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RestartPolicy {
    /// How long after a Secret's first change its readers are restarted; further changes in
    /// that window are folded into the same restart.
    pub debounce: Duration,
    /// Restarts per minute across the operator, on average.
    pub per_minute: u32,
    /// Restarts that may be made at once before the rate applies.
    pub burst: u32,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            debounce: Duration::from_secs(2),
            per_minute: 30,
            burst: 10,
        }
    }
}

/// A changed Secret waiting for its debounce to end.
#[derive(Clone, Copy, Debug)]
struct Pending {
    due: Instant,
    every_reader: bool,
}

/// Collects changed Secrets and restarts their readers, debounced and rate-limited; see the
/// module comment. Dropping it stops the restarts still waiting.
pub struct Restarter {
    pending: Arc<Mutex<BTreeMap<(String, String), Pending>>>,
    wake: Arc<tokio::sync::Notify>,
    debounce: Duration,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Restarter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restarter")
            .field("debounce", &self.debounce)
            .finish_non_exhaustive()
    }
}

impl Restarter {
    /// Starts the task that restarts readers through `client`, paced by `policy`.
    pub fn start(client: kube::Client, policy: RestartPolicy) -> Self {
        let pending = Arc::new(Mutex::new(BTreeMap::new()));
        let wake = Arc::new(tokio::sync::Notify::new());
        let task = tokio::spawn(restart_when_due(
            client,
            Arc::clone(&pending),
            Arc::clone(&wake),
            TokenBucket::new(policy.per_minute, policy.burst),
        ));
        Self {
            pending,
            wake,
            debounce: policy.debounce,
            task,
        }
    }

    /// Secret `namespace/secret` changed: its readers are restarted once the debounce ends
    /// (all of them when its ExternalSecret asked with `every_reader`).
    pub fn changed(&self, namespace: &str, secret: &str, every_reader: bool) {
        let due = Instant::now() + self.debounce;
        if let Ok(mut pending) = self.pending.lock() {
            let entry = pending
                .entry((namespace.to_owned(), secret.to_owned()))
                .or_insert(Pending { due, every_reader });
            entry.every_reader |= every_reader;
        }
        self.wake.notify_one();
    }
}

impl Drop for Restarter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The restart task: sleeps until the earliest change is due, then restarts the readers of
/// every due Secret, one namespace at a time, each workload once.
async fn restart_when_due(
    client: kube::Client,
    pending: Arc<Mutex<BTreeMap<(String, String), Pending>>>,
    wake: Arc<tokio::sync::Notify>,
    mut bucket: TokenBucket,
) {
    loop {
        let next = pending
            .lock()
            .ok()
            .and_then(|p| p.values().map(|p| p.due).min());
        match next {
            None => wake.notified().await,
            Some(due) => {
                tokio::select! {
                    () = tokio::time::sleep_until(due) => {}
                    () = wake.notified() => continue,
                }
            }
        }
        for (namespace, changed) in take_due(&pending, Instant::now()) {
            restart_readers(&client, &namespace, &changed, &mut bucket).await;
        }
    }
}

/// The Secrets whose debounce has ended, by namespace, removed from `pending`.
fn take_due(
    pending: &Mutex<BTreeMap<(String, String), Pending>>,
    now: Instant,
) -> BTreeMap<String, Vec<Changed>> {
    let mut due = BTreeMap::<String, Vec<Changed>>::new();
    let Ok(mut pending) = pending.lock() else {
        return due;
    };
    pending.retain(|(namespace, secret), waiting| {
        if waiting.due > now {
            return true;
        }
        due.entry(namespace.clone()).or_default().push(Changed {
            secret: secret.clone(),
            every_reader: waiting.every_reader,
        });
        false
    });
    due
}

/// A changed Secret, and whether its ExternalSecret opted every reader in.
#[derive(Clone, Debug)]
pub struct Changed {
    /// The Secret's name.
    pub secret: String,
    /// `keyward.io/restart-readers: "true"` on its ExternalSecret.
    pub every_reader: bool,
}

/// Restarts every workload of `namespace` that reads one of the `changed` Secrets and
/// follows it, once however many of them it reads; returns `Kind/name` of those restarted.
async fn restart_readers(
    client: &kube::Client,
    namespace: &str,
    changed: &[Changed],
    bucket: &mut TokenBucket,
) -> Vec<String> {
    let mut restarted = Vec::new();
    restarted.extend(
        restart_kind::<Deployment>(client, namespace, changed, bucket, pod_of_deployment).await,
    );
    restarted.extend(
        restart_kind::<StatefulSet>(client, namespace, changed, bucket, pod_of_stateful_set).await,
    );
    restarted.extend(
        restart_kind::<DaemonSet>(client, namespace, changed, bucket, pod_of_daemon_set).await,
    );
    restarted
}

/// Restarts at most `burst` at once and `per_minute` a minute on average.
#[derive(Debug)]
struct TokenBucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    filled: Instant,
}

impl TokenBucket {
    fn new(per_minute: u32, burst: u32) -> Self {
        let capacity = f64::from(burst.max(1));
        Self {
            tokens: capacity,
            capacity,
            per_second: f64::from(per_minute.max(1)) / 60.0,
            filled: Instant::now(),
        }
    }

    /// Waits until a token is there, and takes it.
    async fn take(&mut self) {
        self.refill(Instant::now());
        if self.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - self.tokens) / self.per_second);
            tracing::info!(
                wait_seconds = wait.as_secs_f64(),
                "restart rate limit reached; waiting"
            );
            tokio::time::sleep(wait).await;
            self.refill(Instant::now());
        }
        self.tokens = (self.tokens - 1.0).max(0.0);
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.filled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.filled = now;
    }
}

/// Every workload of `namespace` (Deployments, StatefulSets, DaemonSets) that reads Secret
/// `secret` and follows it, as `Kind/name`: those a change of `secret` restarts.
pub async fn followers(
    client: &kube::Client,
    namespace: &str,
    secret: &str,
    every_reader: bool,
) -> Result<Vec<String>, kube::Error> {
    let changed = [Changed {
        secret: secret.to_owned(),
        every_reader,
    }];
    let named = |kind: &str, names: Vec<String>| {
        names
            .into_iter()
            .map(|name| format!("{kind}/{name}"))
            .collect::<Vec<_>>()
    };
    let mut found = named(
        "Deployment",
        following::<Deployment>(client, namespace, &changed, pod_of_deployment).await?,
    );
    found.extend(named(
        "StatefulSet",
        following::<StatefulSet>(client, namespace, &changed, pod_of_stateful_set).await?,
    ));
    found.extend(named(
        "DaemonSet",
        following::<DaemonSet>(client, namespace, &changed, pod_of_daemon_set).await?,
    ));
    Ok(found)
}

async fn following<K>(
    client: &kube::Client,
    namespace: &str,
    changed: &[Changed],
    pod_of: fn(&K) -> Option<&PodSpec>,
) -> Result<Vec<String>, kube::Error>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|workload| follows_any(workload.annotations(), pod_of(workload), changed))
        .map(|workload| workload.name_any())
        .collect())
}

fn pod_of_deployment(workload: &Deployment) -> Option<&PodSpec> {
    workload.spec.template.spec.as_ref()
}

fn pod_of_stateful_set(workload: &StatefulSet) -> Option<&PodSpec> {
    workload.spec.template.spec.as_ref()
}

fn pod_of_daemon_set(workload: &DaemonSet) -> Option<&PodSpec> {
    workload.spec.template.spec.as_ref()
}

async fn restart_kind<K>(
    client: &kube::Client,
    namespace: &str,
    changed: &[Changed],
    bucket: &mut TokenBucket,
    pod_of: fn(&K) -> Option<&PodSpec>,
) -> Vec<String>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    let names = match following::<K>(client, namespace, changed, pod_of).await {
        Ok(names) => names,
        Err(error) => {
            tracing::warn!(%error, %kind, namespace, "could not list workloads to restart");
            return Vec::new();
        }
    };
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let mut restarted = Vec::new();
    for name in names {
        bucket.take().await;
        // Taken after the wait: the annotation must change for each restart.
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                tracing::info!(%kind, namespace, workload = %name, "restarted a workload that reads a changed Secret");
                restarted.push(format!("{kind}/{name}"));
            }
            Err(error) => {
                tracing::warn!(%error, %kind, namespace, workload = %name, "could not restart a workload");
            }
        }
    }
    restarted
}

/// Whether a workload follows one of the `changed` Secrets.
fn follows_any(
    annotations: &BTreeMap<String, String>,
    pod: Option<&PodSpec>,
    changed: &[Changed],
) -> bool {
    changed
        .iter()
        .any(|change| follows(annotations, pod, &change.secret, change.every_reader))
}

/// Whether a workload with `annotations` and pod spec `pod` follows `secret`: it names it, or
/// it reads it and opted in (itself, or through the ExternalSecret: `every_reader`).
fn follows(
    annotations: &BTreeMap<String, String>,
    pod: Option<&PodSpec>,
    secret: &str,
    every_reader: bool,
) -> bool {
    let named = annotations
        .get(RELOAD_SECRETS)
        .is_some_and(|list| list.split(',').any(|name| name.trim() == secret));
    let auto = annotations.get(AUTO).is_some_and(|value| value == "true");
    named || ((auto || every_reader) && pod.is_some_and(|pod| reads(pod, secret)))
}

/// Whether a pod spec reads Secret `secret`: env `secretKeyRef`, `envFrom`, a secret volume
/// or a projected volume's secret source.
fn reads(pod: &PodSpec, secret: &str) -> bool {
    let containers = pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten());
    let by_container = containers.clone().any(|container| {
        let env = container.env.iter().flatten().any(|var| {
            var.value_from
                .as_ref()
                .and_then(|from| from.secret_key_ref.as_ref())
                .is_some_and(|key| key.name == secret)
        });
        let env_from = container
            .env_from
            .iter()
            .flatten()
            .any(|from| from.secret_ref.as_ref().is_some_and(|r| r.name == secret));
        env || env_from
    });
    let by_volume = pod.volumes.iter().flatten().any(|volume| {
        let direct = volume
            .secret
            .as_ref()
            .is_some_and(|s| s.secret_name.as_deref() == Some(secret));
        let projected = volume.projected.as_ref().is_some_and(|projected| {
            projected
                .sources
                .iter()
                .flatten()
                .any(|source| source.secret.as_ref().is_some_and(|s| s.name == secret))
        });
        direct || projected
    });
    by_container || by_volume
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> PodSpec {
        serde_json::from_value(json).expect("pod spec")
    }

    #[test]
    fn only_opted_in_workloads_that_read_the_secret_follow_it() {
        let env_from = pod(
            serde_json::json!({"containers": [{"name": "app", "envFrom": [{"secretRef": {"name": "db"}}]}]}),
        );
        let volume = pod(serde_json::json!({"containers": [{"name": "app"}],
            "volumes": [{"name": "v", "projected": {"sources": [{"secret": {"name": "db"}}]}}]}));
        let other = pod(
            serde_json::json!({"containers": [{"name": "app", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "api", "key": "k"}}}]}]}),
        );
        let auto = [(AUTO.to_owned(), "true".to_owned())].into();
        let none = Default::default();
        assert!(follows(&auto, Some(&env_from), "db", false));
        assert!(follows(&auto, Some(&volume), "db", false));
        assert!(!follows(&auto, Some(&other), "db", false));
        assert!(
            !follows(&none, Some(&env_from), "db", false),
            "no opt-in, no restart"
        );
        assert!(
            follows(&none, Some(&env_from), "db", true),
            "the ExternalSecret opted its readers in"
        );
        assert!(
            !follows(&none, Some(&other), "db", true),
            "it does not read the Secret"
        );
        let named = [(RELOAD_SECRETS.to_owned(), "api, db".to_owned())].into();
        assert!(follows(&named, Some(&other), "db", false));
        assert!(!follows(&named, Some(&other), "cache", false));
    }

    #[test]
    fn a_workload_reading_several_changed_secrets_follows_them_once() {
        let both = pod(serde_json::json!({"containers": [{"name": "app",
            "envFrom": [{"secretRef": {"name": "db"}}, {"secretRef": {"name": "api"}}]}]}));
        let auto = [(AUTO.to_owned(), "true".to_owned())].into();
        let changed = |secret: &str, every_reader| Changed {
            secret: secret.to_owned(),
            every_reader,
        };
        assert!(follows_any(
            &auto,
            Some(&both),
            &[changed("db", false), changed("api", false)]
        ));
        assert!(!follows_any(
            &Default::default(),
            Some(&both),
            &[changed("db", false)]
        ));
        assert!(follows_any(
            &Default::default(),
            Some(&both),
            &[changed("cache", false), changed("api", true)]
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn changes_within_the_debounce_are_taken_together_once_due() {
        let pending = Mutex::new(BTreeMap::new());
        let start = Instant::now();
        let debounce = Duration::from_secs(2);
        for (namespace, secret, every_reader) in [
            ("apps", "db", false),
            ("apps", "api", true),
            ("web", "db", false),
        ] {
            pending.lock().expect("lock").insert(
                (namespace.to_owned(), secret.to_owned()),
                Pending {
                    due: start + debounce,
                    every_reader,
                },
            );
        }
        assert!(take_due(&pending, start + Duration::from_secs(1)).is_empty());
        let due = take_due(&pending, start + debounce);
        let secrets = |namespace: &str| -> Vec<(String, bool)> {
            due[namespace]
                .iter()
                .map(|c| (c.secret.clone(), c.every_reader))
                .collect()
        };
        assert_eq!(
            secrets("apps"),
            [("api".to_owned(), true), ("db".to_owned(), false)]
        );
        assert_eq!(secrets("web"), [("db".to_owned(), false)]);
        assert!(pending.lock().expect("lock").is_empty(), "taken once");
    }

    #[tokio::test(start_paused = true)]
    async fn the_bucket_lets_a_burst_through_then_paces_restarts() {
        let mut bucket = TokenBucket::new(6, 3);
        let start = Instant::now();
        for _ in 0..3 {
            bucket.take().await;
        }
        assert_eq!(Instant::now(), start, "a burst of 3 waits for nothing");
        bucket.take().await;
        // 6 a minute: one every 10 seconds once the burst is spent.
        assert_eq!(Instant::now() - start, Duration::from_secs(10));
        bucket.take().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(20));
    }
}
