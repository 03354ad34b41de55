//! keyward's Kubernetes operator: ExternalSecrets (`external-secrets.io/v1`) pulled from
//! their stores into Secrets, as a drop-in for External Secrets Operator (ESO).
//!
//! It owns the cluster half only: watching, scheduling, writing Secrets and status. Every
//! rule of what a Secret should hold lives in `keyward-sync`, which the host mode shares:
//! this crate adds a [`Sink`](keyward_sync::Sink) for Secrets ([`secret_sink`]), a store
//! lookup over reflectors ([`stores`]) and the controller loops ([`external_secret`],
//! [`cluster_external_secret`], [`push_secret`], [`store_status`]), built from kube-runtime's
//! parts: watcher → reflector → controller.
//!
//! What it writes is what ESO writes (labels, the data-hash annotation, owner references,
//! field manager, conditions, events, metric names: [`eso`], [`status`], [`metrics`]), so a
//! cluster switches by stopping ESO and starting keyward, and Secrets ESO wrote are adopted
//! without a write. What it does not cache: Secrets it does not manage (they are watched
//! through ESO's managed label only).
//!
//! ```no_run
//! # async fn doc() -> Result<(), keyward_operator::OperatorError> {
//! let client = kube::Client::try_default().await.map_err(keyward_operator::OperatorError::Client)?;
//! keyward_operator::run(client, keyward_operator::OperatorConfig::default()).await
//! # }
//! ```

pub mod cluster_external_secret;
pub mod consumers;
pub mod crds;
pub mod eso;
pub mod external_secret;
pub mod fingerprint_key;
pub mod leader;
pub mod metrics;
pub mod push_secret;
pub mod recent;
mod resources;
pub mod rollout;
pub mod secret_sink;
pub mod status;
pub mod store_status;
pub mod stores;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use keyward_core::{FingerprintKey, SecretValue};
use keyward_providers::{CallCounters, ClusterCredentials};
use kube::ResourceExt as _;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::{Controller, WatchStreamExt, watcher};

pub use external_secret::Context;
use metrics::Metrics;
use stores::{ClusterStores, StoreReaders};

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    /// Watch only this namespace (`--namespace`); all namespaces when `None`.
    pub namespace: Option<String>,
    /// Serve only stores whose `spec.controller` is empty or this (`--controller-class`).
    pub controller_class: String,
    /// ExternalSecrets reconciled at once.
    pub concurrency: u16,
    /// Where `/metrics`, `/healthz` and `/readyz` are served; `None`: not served.
    pub metrics_address: Option<SocketAddr>,
    /// The name events are reported under.
    pub reporter: String,
    /// Compete for a Lease and reconcile only while leading; `None`: always reconcile.
    pub leader_election: Option<leader::LeaderConfig>,
    /// Told of every Secret the operator creates, updates or deletes (for the audit log).
    pub on_projection: Option<ProjectionObserver>,
    /// The Secret holding the fingerprint key (created on first start); `None`: a key of
    /// this process alone, so fingerprints cannot be verified after it stops.
    pub fingerprint_key_secret: Option<fingerprint_key::KeySecret>,
    /// Told of every store call that read (store, key, version, outcome; never a value),
    /// about once a second (the audit log). `None`: reads are not kept.
    pub on_store_reads: Option<StoreReadObserver>,
    /// How the restarts of workloads that read a changed Secret are paced.
    pub restarts: consumers::RestartPolicy,
}

/// Receives the store reads made since its last call; called from a task of its own.
#[derive(Clone)]
pub struct StoreReadObserver(pub Arc<dyn Fn(Vec<keyward_providers::StoreRead>) + Send + Sync>);

impl std::fmt::Debug for StoreReadObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreReadObserver")
    }
}

/// How often recorded store reads are handed to [`OperatorConfig::on_store_reads`].
const STORE_READS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Hands the recorded store reads to `observer` every [`STORE_READS_EVERY`], and once more
/// when dropped (the operator stopping), so that none made before the stop is lost.
struct StoreReadDrain {
    counters: Arc<CallCounters>,
    observer: StoreReadObserver,
    task: tokio::task::JoinHandle<()>,
}

impl StoreReadDrain {
    fn start(counters: &Arc<CallCounters>, observer: StoreReadObserver) -> Self {
        let task = {
            let (counters, observer) = (Arc::clone(counters), observer.clone());
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(STORE_READS_EVERY);
                loop {
                    ticks.tick().await;
                    let reads = counters.take_reads();
                    if !reads.is_empty() {
                        (observer.0)(reads);
                    }
                }
            })
        };
        Self {
            counters: Arc::clone(counters),
            observer,
            task,
        }
    }
}

impl Drop for StoreReadDrain {
    fn drop(&mut self) {
        self.task.abort();
        let reads = self.counters.take_reads();
        if !reads.is_empty() {
            (self.observer.0)(reads);
        }
    }
}

/// A Secret the operator created, updated or deleted: names, a key count and a fingerprint
/// (under the operator's fingerprint key), never a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectionRecord {
    /// `namespace/name` of the ExternalSecret.
    pub external_secret: String,
    /// `namespace/name` of the Secret.
    pub target: String,
    /// `created`, `updated` or `deleted`.
    pub action: &'static str,
    /// Keys the Secret holds (0 when deleted).
    pub keys: usize,
    /// The keyed fingerprint of what it holds.
    pub fingerprint: Option<String>,
}

/// Receives [`ProjectionRecord`]s; called on the reconcile's task, so it must not block.
#[derive(Clone)]
pub struct ProjectionObserver(pub Arc<dyn Fn(ProjectionRecord) + Send + Sync>);

impl std::fmt::Debug for ProjectionObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProjectionObserver")
    }
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            namespace: None,
            controller_class: "default".into(),
            concurrency: 16,
            metrics_address: None,
            reporter: "keyward".into(),
            leader_election: None,
            on_projection: None,
            fingerprint_key_secret: None,
            on_store_reads: None,
            restarts: consumers::RestartPolicy::default(),
        }
    }
}

/// Why the operator stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OperatorError {
    /// No Kubernetes client could be built.
    #[error("connecting to the cluster: {0}")]
    Client(#[source] kube::Error),
    /// The metrics address could not be bound.
    #[error("serving metrics on {address}: {source}")]
    Metrics {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A watch stopped before the caches filled (the API server went away, or RBAC forbids
    /// a list).
    #[error("waiting for the {0} cache: the watch stopped")]
    CacheNeverReady(&'static str),
    /// A fingerprint key could not be made.
    #[error("fingerprint key: {0}")]
    FingerprintKey(String),
    /// This replica lost the leader Lease: it stops, and is restarted as a standby.
    #[error("lost the leader Lease {0}; stopping so that only one replica reconciles")]
    LeadershipLost(String),
}

/// Api of `resource` in the configured scope.
fn scoped<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

fn scoped_dynamic(
    client: &kube::Client,
    namespace: Option<&str>,
    resource: &kube::core::ApiResource,
) -> Api<DynamicObject> {
    match namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, resource),
        None => Api::all_with(client.clone(), resource),
    }
}

/// Keeps a reflector of `api` running in the background and returns its reader.
fn reflect_dynamic(
    api: Api<DynamicObject>,
    resource: kube::core::ApiResource,
) -> reflector::Store<DynamicObject> {
    let writer = Writer::new(resource);
    let reader = writer.as_reader();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(slim_object)
        .reflect(writer);
    tokio::spawn(stream.for_each(|_| futures::future::ready(())));
    reader
}

/// Only ESO's own field managers' entries are kept of a cached Secret's `managedFields`: they
/// say which keys an ExternalSecret wrote; the rest is memory for nothing.
fn slim(secret: &mut Secret) {
    if let Some(fields) = secret.metadata.managed_fields.as_mut() {
        fields.retain(|entry| {
            entry
                .manager
                .as_deref()
                .is_some_and(|m| m.starts_with(eso::FIELD_MANAGER_PREFIX))
        });
    }
}

/// What a reconcile never reads of a cached object: `managedFields` (often larger than the
/// spec) and kubectl's last-applied copy of the whole object. At 5,000 ExternalSecrets these
/// were most of the operator's memory.
pub(crate) fn slim_object(object: &mut DynamicObject) {
    object.metadata.managed_fields = None;
    if let Some(annotations) = object.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

/// The annotation `kubectl apply` keeps a full copy of the object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Runs the operator until SIGTERM or SIGINT (or, with leader election, until this replica
/// loses the Lease).
pub async fn run(client: kube::Client, config: OperatorConfig) -> Result<(), OperatorError> {
    let counters = Arc::new(match config.on_store_reads {
        Some(_) => CallCounters::recording_reads(),
        None => CallCounters::default(),
    });
    let _drain = config
        .on_store_reads
        .clone()
        .map(|observer| StoreReadDrain::start(&counters, observer));
    let metrics = Arc::new(Metrics::new(Arc::clone(&counters)));
    metrics.set_workers(config.concurrency);
    let ready = Arc::new(AtomicBool::new(false));
    if let Some(address) = config.metrics_address {
        serve(address, Arc::clone(&metrics), Arc::clone(&ready)).await?;
    }
    let Some(leader) = config.leader_election.clone() else {
        metrics.set_leader(true);
        return reconcile_all(client, &config, counters, metrics, ready).await;
    };
    metrics.set_leader(false);
    let mut election = leader::Election::new(client.clone(), leader.clone());
    tokio::select! {
        () = election.acquire() => {}
        () = shutdown_signal() => return Ok(()),
    }
    metrics.set_leader(true);
    let result = tokio::select! {
        result = reconcile_all(client, &config, counters, Arc::clone(&metrics), ready) => result,
        () = election.hold() => Err(OperatorError::LeadershipLost(leader.name.clone())),
    };
    metrics.set_leader(false);
    election.release().await;
    result
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return futures::future::pending().await;
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}

/// The controllers, until SIGTERM or SIGINT.
async fn reconcile_all(
    client: kube::Client,
    config: &OperatorConfig,
    counters: Arc<CallCounters>,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
) -> Result<(), OperatorError> {
    let namespace = config.namespace.as_deref();

    let secret_stores = reflect_dynamic(
        scoped_dynamic(&client, namespace, &resources::secret_store()),
        resources::secret_store(),
    );
    let cluster_stores = reflect_dynamic(
        Api::all_with(client.clone(), &resources::cluster_secret_store()),
        resources::cluster_secret_store(),
    );
    let (namespaces, namespace_writer) = reflector::store::<PartialObjectMeta<Namespace>>();
    // The namespace events drive the ClusterExternalSecret controller, which keeps this
    // stream polled; a namespaced install reads no Namespace objects (ClusterSecretStore
    // conditions by label selector then do not match; by name and regex they do) and runs
    // no ClusterExternalSecret controller.
    let namespace_events = namespace.is_none().then(|| {
        watcher(
            Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .reflect(namespace_writer)
        .touched_objects()
    });
    for (what, reader) in [
        ("SecretStore", &secret_stores),
        ("ClusterSecretStore", &cluster_stores),
    ] {
        reader
            .wait_until_ready()
            .await
            .map_err(|_| OperatorError::CacheNeverReady(what))?;
    }

    let (secrets, secret_writer) = reflector::store::<Secret>();
    let written_secrets = Arc::new(recent::Recent::<Secret>::default());
    let managed = watcher::Config::default().labels(&format!("{}=true", eso::MANAGED_LABEL));
    let secret_events = watcher(scoped::<Secret>(&client, namespace), managed)
        .default_backoff()
        .modify(slim)
        .reflect(secret_writer)
        .touched_objects();

    let stores = Arc::new(ClusterStores::new(
        StoreReaders {
            secret_stores,
            cluster_stores,
            namespaces: namespaces.clone(),
        },
        client.clone(),
        Arc::new(ClusterCredentials::new(client.clone())),
        Arc::clone(&counters),
        &config.controller_class,
    ));
    let push_context = Arc::new(push_secret::PushContext {
        client: client.clone(),
        stores: Arc::clone(&stores),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: config.reporter.clone(),
                instance: std::env::var("POD_NAME").ok(),
            },
        ),
    });
    let context = Arc::new(Context {
        client: client.clone(),
        stores,
        secrets: secrets.clone(),
        written_secrets: Arc::clone(&written_secrets),
        written_statuses: recent::Recent::default(),
        fingerprint_key: match &config.fingerprint_key_secret {
            Some(secret) => fingerprint_key::load_or_create(&client, secret).await?,
            None => ephemeral_fingerprint_key()?,
        },
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: config.reporter.clone(),
                instance: std::env::var("POD_NAME").ok(),
            },
        ),
        metrics,
        failures: Default::default(),
        refresh_slots: external_secret::refresh_slots(config.concurrency),
        on_projection: config.on_projection.clone(),
        restarter: Arc::new(consumers::Restarter::start(client.clone(), config.restarts)),
    });

    let queue = Arc::clone(&context.metrics);
    let resource = resources::external_secret();
    let writer = Writer::new(resource.clone());
    let cached_external_secrets = writer.as_reader();
    let external_secret_events = watcher(
        scoped_dynamic(&client, namespace, &resource),
        watcher::Config::default(),
    )
    .default_backoff()
    .modify(slim_object)
    .reflect(writer)
    .inspect(track_external_secrets(Arc::clone(&queue)))
    .applied_objects();
    let controller =
        Controller::for_stream_with(external_secret_events, cached_external_secrets, resource)
            .with_config(
                kube::runtime::controller::Config::default().concurrency(config.concurrency),
            );
    let external_secrets = controller.store();
    let children = external_secrets.clone();
    let controller = controller
        .watches_stream(secret_events, move |secret| {
            written_secrets.observed(&secret);
            let triggered = external_secret::external_secrets_of(&secret, &external_secrets);
            // Counted as queued only when the controller will run them: those it caches.
            for es in triggered
                .iter()
                .filter(|es| external_secrets.get(es).is_some())
            {
                let namespace = es.namespace.as_deref().unwrap_or_default();
                queue.queued(namespace, &es.name, std::time::Duration::ZERO);
            }
            triggered
        })
        .shutdown_on_signal();
    let readiness = {
        let secrets = secrets.clone();
        async move {
            if secrets.wait_until_ready().await.is_ok() {
                ready.store(true, Ordering::SeqCst);
            }
        }
    };
    tokio::spawn(readiness);
    let external_secrets = controller
        .run(
            external_secret::reconcile,
            external_secret::error_policy,
            context,
        )
        .for_each(log_errors);
    let credentials: Arc<dyn keyward_providers::Credentials> =
        Arc::new(ClusterCredentials::new(client.clone()));
    let store_controller = |resource: kube::core::ApiResource, api: Api<DynamicObject>| {
        let context = Arc::new(store_status::StoreContext {
            client: client.clone(),
            credentials: Arc::clone(&credentials),
            controller_class: config.controller_class.clone(),
            recorder: Recorder::new(
                client.clone(),
                Reporter {
                    controller: config.reporter.clone(),
                    instance: std::env::var("POD_NAME").ok(),
                },
            ),
            resource: resource.clone(),
        });
        Controller::new_with(api, watcher::Config::default(), resource)
            .shutdown_on_signal()
            .run(store_status::reconcile, store_status::error_policy, context)
            .for_each(log_errors)
    };
    let secret_store_controller = store_controller(
        resources::secret_store(),
        scoped_dynamic(&client, namespace, &resources::secret_store()),
    );
    let cluster_store_controller = store_controller(
        resources::cluster_secret_store(),
        Api::all_with(client.clone(), &resources::cluster_secret_store()),
    );
    let cluster_external_secrets = match namespace_events {
        Some(events) => {
            cluster_external_secret_controller(&client, events, namespaces, children).left_future()
        }
        None => futures::future::ready(()).right_future(),
    };
    let push_secrets = Controller::new_with(
        scoped_dynamic(&client, namespace, &resources::push_secret()),
        watcher::Config::default(),
        resources::push_secret(),
    )
    .shutdown_on_signal()
    .run(
        push_secret::reconcile,
        push_secret::error_policy,
        push_context,
    )
    .for_each(log_errors);
    futures::join!(
        external_secrets,
        secret_store_controller,
        cluster_store_controller,
        push_secrets,
        cluster_external_secrets
    );
    Ok(())
}

/// Keeps the ExternalSecret metrics in step with the watch: an object applied is due for a
/// reconcile now (`workqueue_depth`, as the controller triggers one for it), and a deleted
/// one's series go (its last reconcile ran before the deletion, so nothing else forgets them).
fn track_external_secrets(
    metrics: Arc<Metrics>,
) -> impl FnMut(&Result<watcher::Event<DynamicObject>, watcher::Error>) {
    move |event| match event {
        Ok(watcher::Event::Apply(es) | watcher::Event::InitApply(es)) => {
            let namespace = es.namespace().unwrap_or_default();
            metrics.queued(&namespace, &es.name_any(), std::time::Duration::ZERO);
        }
        Ok(watcher::Event::Delete(es)) => {
            metrics.forget(&es.namespace().unwrap_or_default(), &es.name_any());
        }
        _ => {}
    }
}

/// The ClusterExternalSecret controller: triggered by its own objects, by changes of the
/// ExternalSecrets it controls (a deleted or edited child is put back at once, as ESO's
/// `Owns`) and by namespace events.
fn cluster_external_secret_controller(
    client: &kube::Client,
    namespace_events: impl futures::Stream<Item = Result<PartialObjectMeta<Namespace>, watcher::Error>>
    + Send
    + 'static,
    namespaces: reflector::Store<PartialObjectMeta<Namespace>>,
    children: reflector::Store<DynamicObject>,
) -> impl std::future::Future<Output = ()> {
    let resource = resources::cluster_external_secret();
    let context = Arc::new(cluster_external_secret::ClusterContext {
        client: client.clone(),
        external_secrets: children,
        namespaces,
    });
    let controller = Controller::new_with(
        Api::<DynamicObject>::all_with(client.clone(), &resource),
        watcher::Config::default(),
        resource,
    );
    let cluster_external_secrets = controller.store();
    // Only metadata: the owner reference is all a child event needs to say.
    let child_events = watcher(
        Api::<PartialObjectMeta<DynamicObject>>::all_with(
            client.clone(),
            &resources::external_secret(),
        ),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();
    controller
        .watches_stream_with(
            child_events,
            |child| cluster_external_secret::controller_of(&child),
            resources::external_secret(),
        )
        .watches_stream(namespace_events, move |namespace| {
            cluster_external_secret::cluster_external_secrets_of(
                &namespace,
                &cluster_external_secrets,
            )
        })
        .shutdown_on_signal()
        .run(
            cluster_external_secret::reconcile,
            cluster_external_secret::error_policy,
            context,
        )
        .for_each(log_errors)
}

/// A controller's stream reports each reconcile; failures were already handled (status,
/// events, requeue), so they are only traced here.
fn log_errors<T, E: std::fmt::Display>(result: Result<T, E>) -> futures::future::Ready<()> {
    if let Err(error) = result {
        tracing::debug!(%error, "controller event");
    }
    futures::future::ready(())
}

/// A key for this process alone (no `fingerprint_key_secret`): fingerprints made with it
/// cannot be verified once the process stops.
fn ephemeral_fingerprint_key() -> Result<FingerprintKey, OperatorError> {
    let mut bytes = vec![0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| OperatorError::FingerprintKey(e.to_string()))?;
    FingerprintKey::new(SecretValue::new(bytes))
        .ok_or_else(|| OperatorError::FingerprintKey("too short".into()))
}

/// Serves `/metrics`, `/healthz` (the process runs) and `/readyz` (the caches are filled).
async fn serve(
    address: SocketAddr,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
) -> Result<(), OperatorError> {
    use axum::http::StatusCode;
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| OperatorError::Metrics { address, source })?;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = Arc::clone(&metrics);
                async move { metrics.render() }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.load(Ordering::SeqCst);
                async move {
                    if ready {
                        (StatusCode::OK, "ok")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "caches filling")
                    }
                }
            }),
        );
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the metrics server stopped");
        }
    });
    Ok(())
}
