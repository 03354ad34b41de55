//! `keyward operator run` on a real kube-apiserver and etcd, with ESO's own CRDs installed (as
//! a cluster switching from ESO has them): ExternalSecrets become Secrets as ESO writes them,
//! store changes propagate, user edits and deletions are undone, Secrets ESO wrote are
//! adopted without a write, store failures keep the Secret, tenants stay apart, and the
//! canary value never shows in events, status, logs (at trace level) or metrics.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use keyward_test_support::{Kubernetes, Moto, OpenBao, eso_corpus, free_port};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

const CANARY: &str = "kw-canary-operator-41d7";

/// A running `keyward operator run`, killed when dropped; its stderr goes to a file.
pub(crate) struct Operator {
    child: Child,
    log: PathBuf,
    metrics: u16,
}

impl Operator {
    fn start(kube: &Kubernetes, dir: &std::path::Path) -> Self {
        Self::start_with(kube, dir, &[])
    }

    fn start_with(kube: &Kubernetes, dir: &std::path::Path, extra: &[&str]) -> Self {
        Self::start_as(kube.kubeconfig_path(), dir, extra)
    }

    /// Runs with the user of `kubeconfig`.
    fn start_as(kubeconfig: &std::path::Path, dir: &std::path::Path, extra: &[&str]) -> Self {
        Self::start_env(kubeconfig, dir, extra, &[])
    }

    /// Runs with the user of `kubeconfig` and extra environment variables.
    pub(crate) fn start_env(
        kubeconfig: &std::path::Path,
        dir: &std::path::Path,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> Self {
        let log = dir.join(format!("operator-{}.log", free_port().expect("port")));
        let metrics = free_port().expect("port");
        let child = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args([
                "--log-level",
                "trace",
                "--log-format",
                "json",
                "operator",
                "run",
            ])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics}")])
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .envs(envs.iter().copied())
            .stdout(std::fs::File::create(log.with_extension("out")).expect("stdout"))
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start keyward operator");
        Self {
            child,
            log,
            metrics,
        }
    }

    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(self.log.with_extension("out")).unwrap_or_default()
    }

    pub(crate) async fn metrics(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics);
        for _ in 0..100 {
            if let Ok(response) = reqwest::get(&url).await
                && let Ok(text) = response.text().await
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no metrics at {url}");
    }
}

impl Operator {
    /// SIGKILL: no chance to release anything.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("external-secrets.io", "v1", kind),
        plural,
    )
}

pub(crate) fn object(resource: &ApiResource, value: serde_json::Value) -> DynamicObject {
    let mut object: DynamicObject = serde_json::from_value(value).expect("object");
    object.types = Some(kube::core::TypeMeta {
        api_version: resource.api_version.clone(),
        kind: resource.kind.clone(),
    });
    object
}

pub(crate) struct Cluster {
    pub(crate) client: kube::Client,
    pub(crate) es: ApiResource,
    css: ApiResource,
}

impl Cluster {
    /// The admin's view of `kube`'s cluster.
    pub(crate) async fn of(kube: &Kubernetes) -> Self {
        Self::with(kube.admin_client().await.expect("client"))
    }

    /// The cluster as `client` sees it.
    fn with(client: kube::Client) -> Self {
        Self {
            client,
            es: resource("ExternalSecret", "externalsecrets"),
            css: resource("ClusterSecretStore", "clustersecretstores"),
        }
    }

    pub(crate) fn external_secrets(&self, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, &self.es)
    }

    pub(crate) fn secrets(&self, namespace: &str) -> Api<Secret> {
        Api::namespaced(self.client.clone(), namespace)
    }

    pub(crate) async fn namespace(&self, name: &str) {
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some([("team".to_owned(), name.to_owned())].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .expect("namespace");
    }

    /// A fake ClusterSecretStore holding `data` (key → value).
    async fn fake_store(&self, name: &str, data: &[(&str, &str)], extra: serde_json::Value) {
        let data: Vec<_> = data
            .iter()
            .map(|(key, value)| json!({"key": key, "value": value}))
            .collect();
        let mut spec = json!({"provider": {"fake": {"data": data}}});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        let store = object(&self.css, json!({"metadata": {"name": name}, "spec": spec}));
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &self.css);
        api.patch(
            name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&store),
        )
        .await
        .expect("store");
    }

    async fn external_secret(&self, namespace: &str, name: &str, spec: serde_json::Value) {
        let es = object(
            &self.es,
            json!({"metadata": {"name": name, "namespace": namespace}, "spec": spec}),
        );
        self.external_secrets(namespace)
            .create(&PostParams::default(), &es)
            .await
            .expect("ExternalSecret");
    }

    async fn ready(&self, namespace: &str, name: &str) -> Option<(String, String, String)> {
        let es = self.external_secrets(namespace).get(name).await.ok()?;
        let conditions = es.data.pointer("/status/conditions")?.as_array()?.clone();
        let ready = conditions.iter().find(|c| c["type"] == "Ready")?;
        Some((
            ready["status"].as_str()?.to_owned(),
            ready["reason"].as_str()?.to_owned(),
            ready["message"].as_str()?.to_owned(),
        ))
    }

    async fn wait_ready(&self, namespace: &str, name: &str, status: &str, reason: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.ready(namespace, name).await;
            if got
                .as_ref()
                .is_some_and(|(s, r, _)| s == status && r == reason)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{namespace}/{name}: waited for Ready={status} {reason}, have {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn secret_data(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>> {
        let secret = self.secrets(namespace).get_opt(name).await.ok()??;
        Some(
            secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                .collect(),
        )
    }

    pub(crate) async fn wait_data(&self, namespace: &str, name: &str, key: &str, value: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let data = self.secret_data(namespace, name).await;
            if data
                .as_ref()
                .and_then(|d| d.get(key))
                .is_some_and(|v| v == value)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{namespace}/{name}: waited for {key}={value}, have keys {:?}",
                data.map(|d| d.into_keys().collect::<Vec<_>>())
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn force_sync(&self, namespace: &str, name: &str, stamp: &str) {
        let patch = json!({"metadata": {"annotations": {"force-sync": stamp}}});
        self.external_secrets(namespace)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("annotate");
    }
}

/// A control plane with ESO's CRDs for `plurals` installed, as a cluster switching from ESO
/// has them; `None` (the test returns) where ESO's corpus is not available.
pub(crate) async fn kube_with_eso_crds(plurals: &[&str]) -> Option<Kubernetes> {
    let corpus = eso_corpus()?;
    let kube = Kubernetes::start().await.expect("kube-apiserver");
    kube.install_eso_crds(&corpus, plurals).await.expect("CRDs");
    Some(kube)
}

/// ESO's data hash of `data` (SHA3-224 over Go's `%+v` of `map[string][]byte`).
fn eso_hash(data: &BTreeMap<String, ByteString>) -> String {
    keyward_operator::eso::data_hash(data.iter().map(|(k, v)| (k, v.0.as_slice())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_syncs_external_secrets_as_eso_does_on_a_real_apiserver() {
    let Some(kube) = kube_with_eso_crds(&[
        "externalsecrets",
        "clusterexternalsecrets",
        "secretstores",
        "clustersecretstores",
    ])
    .await
    else {
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::of(&kube).await;
    for namespace in ["apps", "other"] {
        cluster.namespace(namespace).await;
    }

    // Adoption: a Secret exactly as ESO leaves it, written before keyward runs.
    cluster
        .fake_store(
            "fake",
            &[("db", CANARY), ("api", "token-1")],
            json!({"conditions": [{"namespaces": ["apps"]}]}),
        )
        .await;
    cluster
        .external_secret(
            "apps",
            "adopted",
            json!({"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                   "data": [{"secretKey": "password", "remoteRef": {"key": "db"}}]}),
        )
        .await;
    let adopted_es = cluster
        .external_secrets("apps")
        .get("adopted")
        .await
        .expect("es");
    let data: BTreeMap<String, ByteString> = [(
        "password".to_owned(),
        ByteString(CANARY.as_bytes().to_vec()),
    )]
    .into();
    let eso_written = Secret {
        metadata: ObjectMeta {
            name: Some("adopted".into()),
            labels: Some(
                [
                    (
                        "reconcile.external-secrets.io/managed".to_owned(),
                        "true".to_owned(),
                    ),
                    (
                        "reconcile.external-secrets.io/created-by".to_owned(),
                        keyward_operator::eso::created_by("apps", "adopted"),
                    ),
                ]
                .into(),
            ),
            annotations: Some(
                [(
                    "reconcile.external-secrets.io/data-hash".to_owned(),
                    eso_hash(&data),
                )]
                .into(),
            ),
            owner_references: Some(vec![OwnerReference {
                api_version: "external-secrets.io/v1".into(),
                kind: "ExternalSecret".into(),
                name: "adopted".into(),
                uid: adopted_es.metadata.uid.clone().expect("uid"),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        data: Some(data),
        ..Secret::default()
    };
    let written_by_eso = cluster
        .secrets("apps")
        .create(
            &PostParams {
                field_manager: Some("externalsecrets.external-secrets.io/adopted".into()),
                ..PostParams::default()
            },
            &eso_written,
        )
        .await
        .expect("ESO's Secret");

    let audit_log = scratch.path().join("audit.log");
    let state_dir = scratch.path().join("state");
    let operator = Operator::start_with(
        &kube,
        scratch.path(),
        &[
            "--audit-log",
            audit_log.to_str().expect("path"),
            "--state-dir",
            state_dir.to_str().expect("path"),
            "--audit-stdout",
        ],
    );
    cluster
        .wait_ready("apps", "adopted", "True", "SecretSynced")
        .await;
    let after = cluster
        .secrets("apps")
        .get("adopted")
        .await
        .expect("secret");
    assert_eq!(
        after.metadata.resource_version, written_by_eso.metadata.resource_version,
        "a Secret ESO wrote with current data is adopted without a write"
    );

    // Owner: created as ESO creates it.
    cluster
        .external_secret(
            "apps",
            "db",
            json!({"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                   "refreshInterval": "1h",
                   "target": {"name": "db-credentials"},
                   "data": [{"secretKey": "password", "remoteRef": {"key": "db"}},
                            {"secretKey": "token", "remoteRef": {"key": "api"}}]}),
        )
        .await;
    cluster
        .wait_ready("apps", "db", "True", "SecretSynced")
        .await;
    let secret = cluster
        .secrets("apps")
        .get("db-credentials")
        .await
        .expect("secret");
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels["reconcile.external-secrets.io/managed"], "true");
    assert_eq!(
        labels["reconcile.external-secrets.io/created-by"],
        keyward_operator::eso::created_by("apps", "db")
    );
    let annotations = secret.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations["reconcile.external-secrets.io/data-hash"],
        eso_hash(secret.data.as_ref().expect("data"))
    );
    let owner = &secret.metadata.owner_references.clone().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("ExternalSecret", "db")
    );
    assert_eq!(owner.controller, Some(true));
    let managers: Vec<_> = secret
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(
        managers.contains(&"externalsecrets.external-secrets.io/db".to_owned()),
        "{managers:?}"
    );
    let es = cluster
        .external_secrets("apps")
        .get("db")
        .await
        .expect("es");
    assert_eq!(es.data["status"]["binding"]["name"], "db-credentials");
    assert!(es.data["status"]["refreshTime"].is_string());
    assert!(
        es.data["status"]["syncedResourceVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1-")),
        "{}",
        es.data["status"]
    );

    // A store change propagates on force-sync (an annotation change, as ESO documents).
    cluster
        .fake_store(
            "fake",
            &[("db", CANARY), ("api", "token-2")],
            json!({"conditions": [{"namespaces": ["apps"]}]}),
        )
        .await;
    cluster.force_sync("apps", "db", "1").await;
    cluster
        .wait_data("apps", "db-credentials", "token", "token-2")
        .await;

    // A user deletes the Secret: restored. A user edits its data: restored.
    cluster
        .secrets("apps")
        .delete("db-credentials", &DeleteParams::default())
        .await
        .expect("delete");
    cluster
        .wait_data("apps", "db-credentials", "token", "token-2")
        .await;
    let edit = json!({"data": {"token": "ZWRpdGVk"}});
    cluster
        .secrets("apps")
        .patch(
            "db-credentials",
            &PatchParams::default(),
            &Patch::Merge(&edit),
        )
        .await
        .expect("edit");
    cluster
        .wait_data("apps", "db-credentials", "token", "token-2")
        .await;

    // A store failure keeps the Secret: the condition turns false, the data stay.
    let broken = json!({"data": [{"secretKey": "token", "remoteRef": {"key": "absent"}}]});
    cluster
        .external_secrets("apps")
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": broken})),
        )
        .await
        .expect("break");
    cluster
        .wait_ready("apps", "db", "False", "SecretSyncedError")
        .await;
    assert_eq!(
        cluster
            .secret_data("apps", "db-credentials")
            .await
            .expect("kept")["token"],
        "token-2"
    );
    let mended = json!({"data": [{"secretKey": "token", "remoteRef": {"key": "api"}}]});
    cluster
        .external_secrets("apps")
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": mended})),
        )
        .await
        .expect("mend");
    cluster
        .wait_ready("apps", "db", "True", "SecretSynced")
        .await;

    // Tenant isolation: the store's conditions do not let namespace `other` use it.
    cluster
        .external_secret(
            "other",
            "intruder",
            json!({"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                   "data": [{"secretKey": "password", "remoteRef": {"key": "db"}}]}),
        )
        .await;
    cluster
        .wait_ready("other", "intruder", "False", "SecretSyncedError")
        .await;
    assert!(cluster.secret_data("other", "intruder").await.is_none());

    // creationPolicy None writes nothing; Merge lays keys over a Secret someone else made and
    // leaves theirs; Merge without a Secret is ESO's SecretMissing.
    cluster
        .external_secret(
            "apps",
            "none",
            json!({"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                   "target": {"creationPolicy": "None"},
                   "data": [{"secretKey": "password", "remoteRef": {"key": "db"}}]}),
        )
        .await;
    let shared = Secret {
        metadata: ObjectMeta {
            name: Some("shared".into()),
            ..ObjectMeta::default()
        },
        string_data: Some([("mine".to_owned(), "kept".to_owned())].into()),
        ..Secret::default()
    };
    cluster
        .secrets("apps")
        .create(&PostParams::default(), &shared)
        .await
        .expect("shared");
    for (name, target) in [("merge", "shared"), ("merge-missing", "nowhere")] {
        cluster
            .external_secret(
                "apps",
                name,
                json!({"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                       "target": {"name": target, "creationPolicy": "Merge"},
                       "data": [{"secretKey": "token", "remoteRef": {"key": "api"}}]}),
            )
            .await;
    }
    cluster
        .wait_ready("apps", "none", "True", "SecretSynced")
        .await;
    assert!(cluster.secret_data("apps", "none").await.is_none());
    cluster
        .wait_data("apps", "shared", "token", "token-2")
        .await;
    assert_eq!(
        cluster.secret_data("apps", "shared").await.expect("shared")["mine"],
        "kept"
    );
    cluster
        .wait_ready("apps", "merge-missing", "True", "SecretMissing")
        .await;

    // Stores carry ESO's Ready condition: valid, or unable to create a client (a SecretStore
    // whose credentials reference leaves its namespace).
    let secret_stores: Api<DynamicObject> = Api::namespaced_with(
        cluster.client.clone(),
        "apps",
        &resource("SecretStore", "secretstores"),
    );
    let leaking_store = object(
        &resource("SecretStore", "secretstores"),
        json!({"metadata": {"name": "leaking", "namespace": "apps"},
               "spec": {"provider": {"vault": {"server": "http://127.0.0.1:1", "path": "secret",
                 "auth": {"tokenSecretRef": {"name": "t", "key": "k", "namespace": "other"}}}}}}),
    );
    secret_stores
        .create(&PostParams::default(), &leaking_store)
        .await
        .expect("store");
    let cluster_stores: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &cluster.css);
    for (api, name, status, reason) in [
        (&cluster_stores, "fake", "True", "Valid"),
        (&secret_stores, "leaking", "False", "InvalidProviderConfig"),
    ] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let store = api.get(name).await.expect("store");
            let ready = store
                .data
                .pointer("/status/conditions/0")
                .cloned()
                .unwrap_or_default();
            if ready["status"] == status && ready["reason"] == reason {
                break;
            }
            assert!(Instant::now() < deadline, "store {name}: {ready}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // The canary never shows: not in events, statuses, logs at trace level or metrics.
    let events: Api<DynamicObject> = Api::all_with(
        cluster.client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("events.k8s.io", "v1", "Event"),
            "events",
        ),
    );
    let events = serde_json::to_string(
        &events
            .list(&Default::default())
            .await
            .expect("events")
            .items,
    )
    .expect("json");
    assert!(events.contains("UpdateFailed"), "the failures made events");
    assert!(events.contains("secret created"), "{events}");
    let statuses = serde_json::to_string(
        &Api::<DynamicObject>::all_with(cluster.client.clone(), &cluster.es)
            .list(&Default::default())
            .await
            .expect("list")
            .items,
    )
    .expect("json");
    let metrics = operator.metrics().await;
    assert!(
        metrics.contains("externalsecret_sync_calls_total{name=\"db\",namespace=\"apps\"}"),
        "{metrics}"
    );
    let logs = operator.logs();
    // The audit log (written every 5 s): the Secrets created, none for the adopted one (no
    // write), intact under the operator's key.
    let deadline = Instant::now() + Duration::from_secs(30);
    let audit = loop {
        let text = std::fs::read_to_string(&audit_log).unwrap_or_default();
        if text.contains("\"projection.created\"") && text.contains("\"checkpoint\"") {
            break text;
        }
        assert!(Instant::now() < deadline, "no audit entries: {text}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(!audit.contains("\"subject\":\"apps/adopted\""), "{audit}");
    // Every store call that read is there too: store, call and key, never a value.
    let read: serde_json::Value = audit
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|entry| entry["event"] == "store.read")
        .unwrap_or_else(|| panic!("no store.read entry: {audit}"));
    assert!(
        read["subject"]
            .as_str()
            .is_some_and(|s| s.contains("Store"))
            && read["detail"]["call"] == "GetSecret",
        "{read}"
    );
    // The same entries, one JSON line each, on stdout for log shippers.
    let shipped = operator.stdout();
    let events_shipped: Vec<String> = shipped
        .lines()
        .map(|line| {
            let entry: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|_| panic!("a JSON line on stdout: {line}"));
            entry["event"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    assert!(
        events_shipped.iter().any(|e| e.starts_with("projection."))
            && events_shipped.iter().any(|e| e == "store.read"),
        "{shipped}"
    );
    assert!(!shipped.contains(CANARY), "{shipped}");
    let keyward = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(args)
            .output()
            .expect("run keyward")
    };
    let public = keyward(&[
        "audit",
        "key",
        "--state-dir",
        state_dir.to_str().expect("path"),
    ]);
    let public = String::from_utf8_lossy(&public.stdout).trim().to_owned();
    let verified = keyward(&[
        "audit",
        "verify",
        audit_log.to_str().expect("path"),
        "--key",
        &public,
    ]);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    for (what, text) in [
        ("events", &events),
        ("statuses", &statuses),
        ("logs", &logs),
        ("metrics", &metrics),
        ("the audit log", &audit),
    ] {
        assert!(!text.contains(CANARY), "the canary leaked into {what}");
    }
    drop(operator);
    drop(kube);
}

async fn lease_holder(client: &kube::Client) -> Option<String> {
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(client.clone(), "keyward");
    leases
        .get_opt("keyward-operator")
        .await
        .ok()??
        .spec?
        .holder_identity
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_leader_election_one_replica_works_and_a_standby_takes_over() {
    let Some(kube) = kube_with_eso_crds(&[
        "externalsecrets",
        "clusterexternalsecrets",
        "secretstores",
        "clustersecretstores",
    ])
    .await
    else {
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::of(&kube).await;
    cluster.namespace("apps").await;
    cluster.fake_store("fake", &[("k", "v")], json!({})).await;

    // deploy/: the namespace and RBAC for real, the rest through a server-side dry run; the
    // operators then run as deploy/'s ServiceAccount, so its RBAC is proven sufficient.
    let token = apply_deploy_manifests(&cluster.client).await;
    let kubeconfig = scratch.path().join("operator-kubeconfig");
    std::fs::write(&kubeconfig, kube.kubeconfig_for_token(&token)).expect("kubeconfig");
    let elect = [
        "--enable-leader-election",
        "--leader-election-namespace",
        "keyward",
        "--leader-election-lease-duration",
        "4s",
    ];
    let first = Operator::start_as(&kubeconfig, scratch.path(), &elect);
    let second = Operator::start_as(&kubeconfig, scratch.path(), &elect);
    let spec = json!({"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                      "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]});
    cluster
        .external_secret("apps", "before", spec.clone())
        .await;
    cluster
        .wait_ready("apps", "before", "True", "SecretSynced")
        .await;
    let leader = lease_holder(&cluster.client).await.expect("a leader");

    // Exactly one replica reconciles: the other's log shows no reconcile of `before`.
    let logs = [first.logs(), second.logs()];
    let leading: Vec<bool> = logs.iter().map(|l| l.contains(&leader)).collect();
    assert_eq!(
        leading.iter().filter(|l| **l).count(),
        1,
        "one replica says it leads"
    );

    // SIGKILL the leader: the standby takes over within the lease duration (plus a retry).
    let (dead, standby) = if leading[0] {
        (first, second)
    } else {
        (second, first)
    };
    dead.kill();
    let killed = Instant::now();
    cluster.external_secret("apps", "after", spec).await;
    cluster
        .wait_ready("apps", "after", "True", "SecretSynced")
        .await;
    let took = killed.elapsed();
    let new_leader = lease_holder(&cluster.client).await.expect("a leader");
    assert_ne!(new_leader, leader, "the standby holds the Lease");
    assert!(standby.logs().contains(&new_leader));
    eprintln!(
        "the standby took over and synced within {took:?} of the leader's SIGKILL (lease 4s)"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    drop(standby);
    drop(kube);
}

/// Applies deploy/: the Namespace, ServiceAccount and RBAC for real, the Deployment and the
/// Service through a server-side dry run (no kubelet here to run them); returns a token of
/// the operator's ServiceAccount.
async fn apply_deploy_manifests(client: &kube::Client) -> String {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    let deploy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let discovery = kube::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    for file in [
        "namespace.yaml",
        "rbac.yaml",
        "deployment.yaml",
        "service.yaml",
    ] {
        let text = std::fs::read_to_string(deploy.join(file)).expect("manifest");
        let real = matches!(file, "namespace.yaml" | "rbac.yaml");
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let object: DynamicObject =
                serde::Deserialize::deserialize(document).expect("a manifest");
            let types = object.types.clone().expect("apiVersion and kind");
            let gvk = GroupVersionKind::try_from(&types).expect("gvk");
            let (resource, capabilities) = discovery.resolve_gvk(&gvk).expect("known kind");
            let api: Api<DynamicObject> =
                if capabilities.scope == kube::discovery::Scope::Namespaced {
                    let namespace = object.metadata.namespace.clone().expect("namespace");
                    Api::namespaced_with(client.clone(), &namespace, &resource)
                } else {
                    Api::all_with(client.clone(), &resource)
                };
            let mut params = PatchParams::apply("keyward-test").force();
            params.dry_run = !real;
            let name = object.metadata.name.clone().expect("name");
            api.patch(&name, &params, &Patch::Apply(&object))
                .await
                .unwrap_or_else(|e| panic!("{file}: {} {name}: {e}", types.kind));
        }
    }
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "keyward");
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: Some(vec![]),
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    accounts
        .create_token_request("keyward-operator", &PostParams::default(), &request)
        .await
        .expect("token")
        .status
        .expect("status")
        .token
        .expect("a token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keywards_own_crds_accept_esos_snippets_and_serve_the_operator() {
    let Some(corpus) = eso_corpus() else {
        return;
    };
    let kube = Kubernetes::start().await.expect("kube-apiserver");
    let client = kube.admin_client().await.expect("client");
    let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["operator", "crds"])
        .output()
        .expect("keyward operator crds");
    assert!(output.status.success());
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    let text = String::from_utf8(output.stdout).expect("utf-8");
    for document in serde_yaml_ng::Deserializer::from_str(&text) {
        let crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
            serde::Deserialize::deserialize(document).expect("a CRD");
        let name = crd.metadata.name.clone().expect("name");
        crds.create(&PostParams::default(), &crd)
            .await
            .unwrap_or_else(|e| panic!("the API server refuses keyward's CRD {name}: {e}"));
        let established = kube::runtime::conditions::is_crd_established();
        tokio::time::timeout(
            Duration::from_secs(30),
            kube::runtime::wait::await_condition(crds.clone(), &name, established),
        )
        .await
        .expect("established in time")
        .expect("established");
    }

    // Every ExternalSecret, SecretStore and ClusterSecretStore of ESO's documentation that
    // keyward loads is accepted by the API server under keyward's CRDs.
    let mut created = 0;
    let mut refused = Vec::new();
    let mut namespaces = std::collections::BTreeSet::new();
    let mut paths: Vec<_> = std::fs::read_dir(corpus.join("docs/snippets"))
        .expect("snippets")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    paths.sort();
    for path in paths {
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        let Ok(raw) = std::fs::read_to_string(&path) else {
            continue;
        };
        let text: String = raw
            .lines()
            .filter(|line| !matches!(line.trim(), "{% raw %}" | "{% endraw %}"))
            .map(|line| format!("{line}\n"))
            .collect();
        if keyward_api::load::from_str(&text, &file).is_err() {
            continue; // refused by keyward itself, by name (crates/api/tests/eso_corpus.rs)
        }
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let Ok(value) = <serde_json::Value as serde::Deserialize>::deserialize(document) else {
                continue;
            };
            let kind = value["kind"].as_str().unwrap_or("").to_owned();
            let plural = match (value["apiVersion"].as_str(), kind.as_str()) {
                (Some("external-secrets.io/v1"), "ExternalSecret") => "externalsecrets",
                (Some("external-secrets.io/v1"), "SecretStore") => "secretstores",
                (Some("external-secrets.io/v1"), "ClusterSecretStore") => "clustersecretstores",
                (Some("external-secrets.io/v1"), "ClusterExternalSecret") => {
                    "clusterexternalsecrets"
                }
                (Some("external-secrets.io/v1alpha1"), "PushSecret") => "pushsecrets",
                _ => continue,
            };
            let version = if kind == "PushSecret" {
                "v1alpha1"
            } else {
                "v1"
            };
            let resource = ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("external-secrets.io", version, &kind),
                plural,
            );
            let mut object = object(&resource, value);
            let api: Api<DynamicObject> = if kind.starts_with("Cluster") {
                Api::all_with(client.clone(), &resource)
            } else {
                let namespace = object
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into());
                if namespaces.insert(namespace.clone()) && namespace != "default" {
                    let ns = Namespace {
                        metadata: ObjectMeta {
                            name: Some(namespace.clone()),
                            ..ObjectMeta::default()
                        },
                        ..Namespace::default()
                    };
                    let _ = Api::<Namespace>::all(client.clone())
                        .create(&PostParams::default(), &ns)
                        .await;
                }
                Api::namespaced_with(client.clone(), &namespace, &resource)
            };
            // Snippets reuse names; each one is its own object here.
            let name = format!(
                "s{created}-{}",
                object.metadata.name.clone().unwrap_or_default()
            );
            object.metadata.name = Some(name.chars().take(63).collect());
            match api.create(&PostParams::default(), &object).await {
                Ok(_) => created += 1,
                Err(error) => refused.push(format!("{file} ({kind}): {error}")),
            }
        }
    }
    // The two "full" examples list several providers in one store to show them all; ESO's own
    // CRDs refuse them the same way (`maxProperties: 1`).
    refused.retain(|refusal| {
        let known = refusal.starts_with("full-cluster-secret-store.yaml")
            || refusal.starts_with("full-secret-store.yaml");
        !(known && refusal.contains("spec.provider: Too many"))
    });
    assert!(
        refused.is_empty(),
        "{} refused:\n{}",
        refused.len(),
        refused.join("\n")
    );
    assert!(created > 150, "only {created} snippet objects were created");
    eprintln!("{created} snippet objects accepted under keyward's CRDs");

    // The operator serves them.
    let cluster = Cluster::with(client.clone());
    cluster.namespace("apps").await;
    cluster.fake_store("fake", &[("k", "v")], json!({})).await;
    let scratch = tempfile::tempdir().expect("tempdir");
    let operator = Operator::start(&kube, scratch.path());
    cluster
        .external_secret(
            "apps",
            "own-crds",
            json!({"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                   "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}),
        )
        .await;
    cluster
        .wait_ready("apps", "own-crds", "True", "SecretSynced")
        .await;
    cluster.wait_data("apps", "own-crds", "k", "v").await;
    drop(operator);
    drop(kube);
}

/// The Ready condition, provisioned and failed namespaces of a ClusterExternalSecret.
async fn ces_status(client: &kube::Client, name: &str) -> (String, Vec<String>, Vec<String>) {
    let api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &resource("ClusterExternalSecret", "clusterexternalsecrets"),
    );
    let Ok(ces) = api.get(name).await else {
        return Default::default();
    };
    let strings = |pointer: &str, field: Option<&str>| -> Vec<String> {
        ces.data
            .pointer(pointer)
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|entry| match field {
                Some(field) => entry[field].as_str().map(str::to_owned),
                None => entry.as_str().map(str::to_owned),
            })
            .collect()
    };
    let ready = ces
        .data
        .pointer("/status/conditions/0/status")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_owned();
    (
        ready,
        strings("/status/provisionedNamespaces", None),
        strings("/status/failedNamespaces", Some("namespace")),
    )
}

async fn wait_ces(client: &kube::Client, name: &str, want: (&str, &[&str], &[&str])) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = ces_status(client, name).await;
        if got.0 == want.0 && got.1 == want.1 && got.2 == want.2 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ClusterExternalSecret {name}: waited for {want:?}, have {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_gone(api: &Api<DynamicObject>, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while api.get_opt(name).await.expect("get").is_some() {
        assert!(Instant::now() < deadline, "{name} was not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_external_secrets_fan_out_across_namespaces_as_eso_does() {
    let Some(kube) = kube_with_eso_crds(&[
        "externalsecrets",
        "clusterexternalsecrets",
        "secretstores",
        "clustersecretstores",
    ])
    .await
    else {
        return;
    };
    let client = kube.admin_client().await.expect("client");
    let cluster = Cluster::with(client.clone());
    let namespaces = Api::<Namespace>::all(client.clone());
    let label = |name: &str, labels: serde_json::Value| {
        let namespaces = namespaces.clone();
        let name = name.to_owned();
        async move {
            namespaces
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"metadata": {"labels": labels}})),
                )
                .await
                .expect("label namespace");
        }
    };
    for namespace in ["team-a", "team-b", "team-c", "other"] {
        cluster.namespace(namespace).await;
    }
    label("team-a", json!({"tier": "app"})).await;
    label("team-b", json!({"tier": "app"})).await;
    cluster
        .fake_store("fake", &[("db", CANARY)], json!({}))
        .await;
    // team-b already has an ExternalSecret of that name, written by someone else.
    cluster
        .external_secret(
            "team-b",
            "shared-db",
            json!({"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                   "data": [{"secretKey": "mine", "remoteRef": {"key": "db"}}]}),
        )
        .await;

    let scratch = tempfile::tempdir().expect("tempdir");
    let operator = Operator::start(&kube, scratch.path());
    let ces_resource = resource("ClusterExternalSecret", "clusterexternalsecrets");
    let ces_api: Api<DynamicObject> = Api::all_with(client.clone(), &ces_resource);
    let es_spec = json!({
        "secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
        "refreshInterval": "1h",
        "target": {"name": "db-credentials"},
        "data": [{"secretKey": "password", "remoteRef": {"key": "db"}}],
    });
    let ces = object(
        &ces_resource,
        json!({"metadata": {"name": "shared"}, "spec": {
            "externalSecretName": "shared-db",
            "externalSecretMetadata": {"labels": {"owner": "platform"}, "annotations": {"note": "fan-out"}},
            "namespaceSelectors": [{"matchLabels": {"tier": "app"}}],
            "namespaces": ["other"],
            "refreshTime": "1h",
            "externalSecretSpec": es_spec,
        }}),
    );
    ces_api
        .create(&PostParams::default(), &ces)
        .await
        .expect("ClusterExternalSecret");

    // Provisioned where selected and free; the foreign ExternalSecret is left alone and its
    // namespace reported with ESO's reason.
    wait_ces(
        &client,
        "shared",
        ("False", &["other", "team-a"], &["team-b"]),
    )
    .await;
    let shared = ces_api.get("shared").await.expect("ces");
    assert_eq!(
        shared.data.pointer("/status/failedNamespaces/0/reason"),
        Some(&json!("external secret already exists in namespace"))
    );
    assert_eq!(
        shared.data.pointer("/status/conditions/0/message"),
        Some(&json!("one or more namespaces failed"))
    );
    let foreign = cluster
        .external_secrets("team-b")
        .get("shared-db")
        .await
        .expect("foreign");
    assert!(foreign.metadata.owner_references.is_none());
    assert_eq!(foreign.data["spec"]["data"][0]["secretKey"], "mine");
    for namespace in ["team-a", "other"] {
        cluster
            .wait_data(namespace, "db-credentials", "password", CANARY)
            .await;
    }
    let child = cluster
        .external_secrets("team-a")
        .get("shared-db")
        .await
        .expect("child");
    let owner = &child.metadata.owner_references.clone().expect("owner")[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.name.as_str(),
            owner.controller,
            owner.block_owner_deletion
        ),
        ("ClusterExternalSecret", "shared", Some(true), Some(true))
    );
    assert_eq!(owner.uid, shared.metadata.uid.clone().expect("uid"));
    assert_eq!(
        child.metadata.labels,
        Some([("owner".to_owned(), "platform".to_owned())].into())
    );
    assert_eq!(
        child.data["spec"],
        shared.data["spec"]["externalSecretSpec"]
    );
    let child_version = child.metadata.resource_version.clone();

    // A child deleted by hand comes back at once (not at the next refresh, an hour away).
    cluster
        .external_secrets("team-a")
        .delete("shared-db", &DeleteParams::default())
        .await
        .expect("delete child");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let back = cluster
            .external_secrets("team-a")
            .get_opt("shared-db")
            .await;
        if let Ok(Some(back)) = back
            && back.metadata.resource_version != child_version
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deleted child was not restored"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A child edited by hand is put back.
    cluster
        .external_secrets("other")
        .patch(
            "shared-db",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"owner": "me"}}, "spec": {"target": {"name": "elsewhere"}}})),
        )
        .await
        .expect("edit child");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let child = cluster
            .external_secrets("other")
            .get("shared-db")
            .await
            .expect("child");
        if child.data["spec"]["target"]["name"] == "db-credentials"
            && child.metadata.labels == Some([("owner".to_owned(), "platform".to_owned())].into())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the edited child was not put back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Namespaces that start matching get it; those that stop lose it.
    label("team-c", json!({"tier": "app"})).await;
    label("team-a", json!({"tier": null})).await;
    wait_ces(
        &client,
        "shared",
        ("False", &["other", "team-c"], &["team-b"]),
    )
    .await;
    wait_gone(&cluster.external_secrets("team-a"), "shared-db").await;
    cluster
        .wait_data("team-c", "db-credentials", "password", CANARY)
        .await;

    // The foreign one moves out of the way: the next look (forced by a spec change) provisions
    // team-b and the condition turns true.
    cluster
        .external_secrets("team-b")
        .delete("shared-db", &DeleteParams::default())
        .await
        .expect("delete foreign");
    ces_api
        .patch(
            "shared",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"externalSecretName": "renamed-db"}})),
        )
        .await
        .expect("rename");
    // A rename deletes the old children and creates the new ones.
    wait_ces(
        &client,
        "shared",
        ("True", &["other", "team-b", "team-c"], &[]),
    )
    .await;
    for namespace in ["other", "team-c"] {
        wait_gone(&cluster.external_secrets(namespace), "shared-db").await;
    }
    for namespace in ["other", "team-b", "team-c"] {
        cluster
            .external_secrets(namespace)
            .get("renamed-db")
            .await
            .expect("renamed child");
    }
    let renamed = ces_api.get("shared").await.expect("ces");
    assert_eq!(
        renamed.data.pointer("/status/externalSecretName"),
        Some(&json!("renamed-db"))
    );

    // No value in its status or the operator's logs.
    let status = serde_json::to_string(&renamed.data["status"]).expect("json");
    assert!(!status.contains(CANARY));
    assert!(!operator.logs().contains(CANARY), "canary in the logs");
    drop(operator);
    drop(kube);
}

/// Creates `count` ExternalSecrets in `namespace`, `in_flight` at a time.
async fn create_many(cluster: &Cluster, namespace: &str, count: usize, spec: &serde_json::Value) {
    use futures::StreamExt;
    futures::stream::iter(0..count)
        .map(|i| {
            let es = object(
                &cluster.es,
                json!({"metadata": {"name": format!("es-{i:04}"), "namespace": namespace}, "spec": spec}),
            );
            let api = cluster.external_secrets(namespace);
            async move {
                api.create(&PostParams::default(), &es)
                    .await
                    .expect("ExternalSecret");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

/// The managed Secrets of `namespace`, by name.
async fn managed_secrets(cluster: &Cluster, namespace: &str) -> BTreeMap<String, Secret> {
    let list = cluster
        .secrets(namespace)
        .list(
            &kube::api::ListParams::default().labels("reconcile.external-secrets.io/managed=true"),
        )
        .await
        .expect("list Secrets");
    list.items
        .into_iter()
        .map(|secret| (secret.metadata.name.clone().unwrap_or_default(), secret))
        .collect()
}

/// Every Secret is whole: exactly the three keys with the store's values, and a data hash
/// that matches them.
fn assert_whole(secrets: &BTreeMap<String, Secret>, values: &BTreeMap<String, String>) {
    for (name, secret) in secrets {
        let data = secret.data.clone().unwrap_or_default();
        let got: BTreeMap<String, String> = data
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
            .collect();
        assert_eq!(&got, values, "{name} is not whole");
        let hash = secret
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("reconcile.external-secrets.io/data-hash"));
        assert_eq!(
            hash,
            Some(&eso_hash(&data)),
            "{name}: hash and data disagree"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_in_the_middle_of_a_thousand_external_secrets_loses_and_blanks_nothing() {
    const COUNT: usize = 1000;
    let Some(kube) =
        kube_with_eso_crds(&["externalsecrets", "secretstores", "clustersecretstores"]).await
    else {
        return;
    };
    let cluster = Cluster::of(&kube).await;
    cluster.namespace("bulk").await;
    cluster
        .fake_store(
            "fake",
            &[
                ("user", "app"),
                ("password", CANARY),
                ("host", "db.internal"),
            ],
            json!({}),
        )
        .await;
    let spec = json!({
        "secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
        "refreshInterval": "1h",
        "data": [{"secretKey": "user", "remoteRef": {"key": "user"}},
                 {"secretKey": "password", "remoteRef": {"key": "password"}},
                 {"secretKey": "host", "remoteRef": {"key": "host"}}],
    });
    create_many(&cluster, "bulk", COUNT, &spec).await;
    let values: BTreeMap<String, String> = [
        ("user", "app"),
        ("password", CANARY),
        ("host", "db.internal"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();

    // Killed once some, not all, Secrets are written.
    let scratch = tempfile::tempdir().expect("tempdir");
    let operator = Operator::start(&kube, scratch.path());
    let deadline = Instant::now() + Duration::from_secs(120);
    let written = loop {
        let count = managed_secrets(&cluster, "bulk").await.len();
        if count >= 50 {
            break count;
        }
        assert!(
            Instant::now() < deadline,
            "the operator wrote {count} Secrets in 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    operator.kill();
    let after_kill = managed_secrets(&cluster, "bulk").await;
    assert!(
        after_kill.len() < COUNT,
        "all {COUNT} were written before the kill ({written} seen): the kill proves nothing"
    );
    assert_whole(&after_kill, &values);
    eprintln!(
        "killed with {} of {COUNT} Secrets written, all whole",
        after_kill.len()
    );

    // The restart finishes the work; what was written before is not rewritten.
    let operator = Operator::start(&kube, scratch.path());
    let deadline = Instant::now() + Duration::from_secs(300);
    let all = loop {
        let secrets = managed_secrets(&cluster, "bulk").await;
        if secrets.len() == COUNT {
            break secrets;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {COUNT} Secrets after the restart",
            secrets.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_whole(&all, &values);
    for (name, before) in &after_kill {
        assert_eq!(
            all[name].metadata.resource_version, before.metadata.resource_version,
            "{name} was rewritten after the restart although it was whole"
        );
    }
    let es_api = cluster.external_secrets("bulk");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = es_api.list(&Default::default()).await.expect("list");
        let ready = list
            .items
            .iter()
            .filter(|es| es.data.pointer("/status/conditions/0/status") == Some(&json!("True")))
            .count();
        if ready == COUNT {
            break;
        }
        assert!(Instant::now() < deadline, "{ready} of {COUNT} Ready");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(!operator.logs().contains(CANARY), "canary in the logs");
    drop(operator);
    drop(kube);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_garbage_collector_removes_what_owners_take_with_them() {
    let Some(kube) = kube_with_eso_crds(&[
        "externalsecrets",
        "clusterexternalsecrets",
        "secretstores",
        "clustersecretstores",
    ])
    .await
    else {
        return;
    };
    let _collector = kube
        .start_garbage_collector()
        .await
        .expect("kube-controller-manager");
    let client = kube.admin_client().await.expect("client");
    let cluster = Cluster::with(client.clone());
    for namespace in ["gc-a", "gc-b"] {
        cluster.namespace(namespace).await;
    }
    cluster
        .fake_store("fake", &[("k", CANARY)], json!({}))
        .await;
    let scratch = tempfile::tempdir().expect("tempdir");
    let operator = Operator::start(&kube, scratch.path());
    let data = json!([{"secretKey": "k", "remoteRef": {"key": "k"}}]);
    for (name, policy) in [("owned", "Owner"), ("orphaned", "Orphan")] {
        cluster
            .external_secret(
                "gc-a",
                name,
                json!({"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                       "target": {"creationPolicy": policy}, "data": data}),
            )
            .await;
        cluster.wait_data("gc-a", name, "k", CANARY).await;
    }
    let ces_resource = resource("ClusterExternalSecret", "clusterexternalsecrets");
    let ces_api: Api<DynamicObject> = Api::all_with(client.clone(), &ces_resource);
    let ces = object(
        &ces_resource,
        json!({"metadata": {"name": "fan"}, "spec": {
            "namespaces": ["gc-a", "gc-b"],
            "externalSecretSpec": {"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                                   "target": {"name": "fanned"}, "data": data},
        }}),
    );
    ces_api
        .create(&PostParams::default(), &ces)
        .await
        .expect("ClusterExternalSecret");
    for namespace in ["gc-a", "gc-b"] {
        cluster.wait_data(namespace, "fanned", "k", CANARY).await;
    }

    // An ExternalSecret's deletion takes its Owner Secret along, not its Orphan one.
    for name in ["owned", "orphaned"] {
        cluster
            .external_secrets("gc-a")
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete");
    }
    let secrets = cluster.secrets("gc-a");
    let deadline = Instant::now() + Duration::from_secs(60);
    while secrets.get_opt("owned").await.expect("get").is_some() {
        assert!(
            Instant::now() < deadline,
            "the owned Secret was not collected"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(secrets.get_opt("orphaned").await.expect("get").is_some());

    // A ClusterExternalSecret's deletion takes its ExternalSecrets and their Secrets along.
    ces_api
        .delete("fan", &DeleteParams::default())
        .await
        .expect("delete ClusterExternalSecret");
    for namespace in ["gc-a", "gc-b"] {
        wait_gone(&cluster.external_secrets(namespace), "fan").await;
        let deadline = Instant::now() + Duration::from_secs(60);
        while cluster
            .secrets(namespace)
            .get_opt("fanned")
            .await
            .expect("get")
            .is_some()
        {
            assert!(
                Instant::now() < deadline,
                "{namespace}/fanned was not collected"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    drop(operator);
    drop(kube);
}

/// The entry OpenBao holds at `secret/<path>` (KV v2), or `None`.
async fn bao_entry(bao: &OpenBao, path: &str) -> Option<serde_json::Value> {
    let response = reqwest::Client::new()
        .get(format!("{}/v1/secret/data/{path}", bao.address()))
        .header("X-Vault-Token", bao.root_token())
        .send()
        .await
        .expect("read openbao");
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return None;
    }
    let body: serde_json::Value = response.json().await.expect("json");
    Some(body["data"]["data"].clone())
}

/// The string AWS Secrets Manager (moto) holds under `name`, or `None`.
async fn aws_secret(client: &aws_sdk_secretsmanager::Client, name: &str) -> Option<String> {
    client
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .ok()?
        .secret_string
}

pub(crate) async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "waited a minute for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_secrets_write_into_openbao_and_aws_and_clean_up_after_themselves() {
    let Some(kube) = kube_with_eso_crds(&[
        "externalsecrets",
        "pushsecrets",
        "secretstores",
        "clustersecretstores",
        "passwords.generators.external-secrets.io",
    ])
    .await
    else {
        return;
    };
    let bao = OpenBao::start().await.expect("openbao");
    let moto = Moto::start().await.expect("moto");
    let aws = aws_sdk_secretsmanager::Client::new(&moto.admin_config().await);
    let client = kube.admin_client().await.expect("client");
    let cluster = Cluster::with(client.clone());
    cluster.namespace("apps").await;
    let secret = |name: &str, data: &[(&str, &str)]| Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        string_data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..Secret::default()
    };
    for s in [
        secret("bao-token", &[("token", bao.root_token())]),
        secret("aws-keys", &[("id", "testing"), ("secret", "testing")]),
        secret("app-creds", &[("user", "app"), ("password", CANARY)]),
    ] {
        cluster
            .secrets("apps")
            .create(&PostParams::default(), &s)
            .await
            .expect("Secret");
    }
    let ss = resource("SecretStore", "secretstores");
    let stores: Api<DynamicObject> = Api::namespaced_with(client.clone(), "apps", &ss);
    for (name, provider) in [
        (
            "bao",
            json!({"vault": {"server": bao.address(), "path": "secret", "version": "v2",
                              "auth": {"tokenSecretRef": {"name": "bao-token", "key": "token"}}}}),
        ),
        (
            "aws",
            json!({"aws": {"service": "SecretsManager", "region": keyward_test_support::MOTO_REGION,
                            "auth": {"secretRef": {
                                "accessKeyIDSecretRef": {"name": "aws-keys", "key": "id"},
                                "secretAccessKeySecretRef": {"name": "aws-keys", "key": "secret"}}}}}),
        ),
    ] {
        let store = object(
            &ss,
            json!({"metadata": {"name": name, "namespace": "apps"}, "spec": {"provider": provider}}),
        );
        stores
            .create(&PostParams::default(), &store)
            .await
            .expect("SecretStore");
    }
    // A key the store already has, for IfNotExists.
    aws.create_secret()
        .name("apps/existing")
        .secret_string("original")
        .send()
        .await
        .expect("seed moto");

    let ps_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("external-secrets.io", "v1alpha1", "PushSecret"),
        "pushsecrets",
    );
    let push_secrets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "apps", &ps_resource);
    let create = |name: &str, spec: serde_json::Value| {
        let push_secrets = push_secrets.clone();
        let ps = object(
            &ps_resource,
            json!({"metadata": {"name": name, "namespace": "apps"}, "spec": spec}),
        );
        async move {
            push_secrets
                .create(&PostParams::default(), &ps)
                .await
                .expect("PushSecret");
        }
    };
    let ready = |name: &'static str| {
        let push_secrets = push_secrets.clone();
        async move {
            let ps = push_secrets.get(name).await.ok()?;
            let condition = ps.data.pointer("/status/conditions/0")?.clone();
            Some((
                condition["status"].as_str()?.to_owned(),
                condition["reason"].as_str()?.to_owned(),
                condition["message"].as_str()?.to_owned(),
                ps,
            ))
        }
    };

    let scratch = tempfile::tempdir().expect("tempdir");
    let operator = Operator::start_env(
        kube.kubeconfig_path(),
        scratch.path(),
        &[],
        &[("AWS_ENDPOINT_URL", moto.endpoint())],
    );
    let selector = json!({"secret": {"name": "app-creds"}});
    create(
        "to-bao",
        json!({"secretStoreRefs": [{"name": "bao", "kind": "SecretStore"}],
               "selector": selector, "deletionPolicy": "Delete",
               "data": [{"match": {"secretKey": "password", "remoteRef": {"remoteKey": "apps/pushed", "property": "password"}}},
                        {"match": {"secretKey": "user", "remoteRef": {"remoteKey": "apps/pushed", "property": "user"}}}]}),
    )
    .await;
    create(
        "to-aws",
        json!({"secretStoreRefs": [{"name": "aws"}], "selector": selector,
               "deletionPolicy": "Delete",
               "data": [{"match": {"remoteRef": {"remoteKey": "apps/whole"}}}]}),
    )
    .await;
    create(
        "keep",
        json!({"secretStoreRefs": [{"name": "aws"}], "selector": selector,
               "updatePolicy": "IfNotExists",
               "data": [{"match": {"secretKey": "password", "remoteRef": {"remoteKey": "apps/existing"}}}]}),
    )
    .await;
    create(
        "broken",
        json!({"secretStoreRefs": [{"name": "aws"}], "selector": selector,
               "data": [{"match": {"secretKey": "absent", "remoteRef": {"remoteKey": "apps/never"}}}]}),
    )
    .await;

    // A generator as the source: a new password is written to the store on every push (a
    // rotation at the source, as ESO's PushSecret with a generatorRef does).
    let passwords = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("generators.external-secrets.io", "v1alpha1", "Password"),
        "passwords",
    );
    Api::<DynamicObject>::namespaced_with(client.clone(), "apps", &passwords)
        .create(
            &PostParams::default(),
            &object(
                &passwords,
                json!({"metadata": {"name": "rotating", "namespace": "apps"}, "spec": {"length": 28}}),
            ),
        )
        .await
        .expect("Password");
    create(
        "generated",
        json!({"secretStoreRefs": [{"name": "bao", "kind": "SecretStore"}],
               "refreshInterval": "2s",
               "selector": {"generatorRef": {"apiVersion": "generators.external-secrets.io/v1alpha1",
                                             "kind": "Password", "name": "rotating"}},
               "data": [{"match": {"secretKey": "password", "remoteRef": {"remoteKey": "apps/rotated", "property": "password"}}}]}),
    )
    .await;
    let rotated = || async {
        bao_entry(&bao, "apps/rotated")
            .await
            .and_then(|entry| entry["password"].as_str().map(str::to_owned))
    };
    wait_until("a generated password in OpenBao", || async {
        rotated().await.is_some()
    })
    .await;
    let first_password = rotated().await.expect("pushed");
    assert_eq!(first_password.len(), 28);
    wait_until("the next push to write a new password", || async {
        rotated()
            .await
            .is_some_and(|password| password != first_password)
    })
    .await;
    assert!(
        !operator.logs().contains(&first_password),
        "a generated password is in the operator's log"
    );

    // OpenBao: both properties in one entry; the status names them as ESO does.
    wait_until("to-bao synced", || async {
        ready("to-bao")
            .await
            .is_some_and(|(s, r, _, _)| s == "True" && r == "Synced")
    })
    .await;
    assert_eq!(
        bao_entry(&bao, "apps/pushed").await,
        Some(json!({"password": CANARY, "user": "app"}))
    );
    let (_, _, message, to_bao) = ready("to-bao").await.expect("status");
    assert_eq!(message, "PushSecret synced successfully");
    let synced = to_bao.data["status"]["syncedPushSecrets"]["SecretStore/bao"]
        .as_object()
        .expect("synced map")
        .keys()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(synced, ["apps/pushed/password", "apps/pushed/user"]);
    assert_eq!(
        to_bao.metadata.finalizers,
        Some(vec!["pushsecret.externalsecrets.io/finalizer".to_owned()])
    );

    // AWS: the whole Secret as a JSON object of strings.
    wait_until("to-aws synced", || async {
        ready("to-aws")
            .await
            .is_some_and(|(s, _, _, _)| s == "True")
    })
    .await;
    let whole: serde_json::Value =
        serde_json::from_str(&aws_secret(&aws, "apps/whole").await.expect("pushed")).expect("json");
    assert_eq!(whole, json!({"password": CANARY, "user": "app"}));

    // IfNotExists leaves what the store has.
    wait_until("keep synced", || async {
        ready("keep").await.is_some_and(|(s, _, _, _)| s == "True")
    })
    .await;
    assert_eq!(
        aws_secret(&aws, "apps/existing").await.as_deref(),
        Some("original")
    );
    let (_, _, message, _) = ready("keep").await.expect("status");
    assert_eq!(
        message,
        "PushSecret synced successfully. Existing secrets in providers unchanged."
    );

    // A missing key fails that PushSecret alone, in ESO's words, and writes nothing.
    wait_until("broken errored", || async {
        ready("broken")
            .await
            .is_some_and(|(s, r, _, _)| s == "False" && r == "Errored")
    })
    .await;
    let (_, _, message, _) = ready("broken").await.expect("status");
    assert_eq!(
        message,
        "set secret failed: secret key absent does not exist"
    );
    assert_eq!(aws_secret(&aws, "apps/never").await, None);

    // An entry dropped from data is deleted from the store (deletionPolicy: Delete): here one
    // property of the entry.
    push_secrets
        .patch(
            "to-bao",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"data": [
                {"match": {"secretKey": "password", "remoteRef": {"remoteKey": "apps/pushed", "property": "password"}}}]}})),
        )
        .await
        .expect("drop an entry");
    wait_until("the dropped property deleted", || async {
        bao_entry(&bao, "apps/pushed").await == Some(json!({"password": CANARY}))
    })
    .await;

    // Deleting a PushSecret with deletionPolicy: Delete deletes what it pushed first.
    for name in ["to-aws", "to-bao"] {
        push_secrets
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete PushSecret");
    }
    wait_until("PushSecrets gone", || async {
        push_secrets
            .get_opt("to-aws")
            .await
            .ok()
            .flatten()
            .is_none()
            && push_secrets
                .get_opt("to-bao")
                .await
                .ok()
                .flatten()
                .is_none()
    })
    .await;
    assert_eq!(aws_secret(&aws, "apps/whole").await, None);
    assert_eq!(bao_entry(&bao, "apps/pushed").await, None);
    // The PushSecret without Delete leaves its key.
    push_secrets
        .delete("keep", &DeleteParams::default())
        .await
        .expect("delete keep");
    assert_eq!(
        aws_secret(&aws, "apps/existing").await.as_deref(),
        Some("original")
    );

    // An ExternalSecret from OpenBao: its Secret records the store version it was made from,
    // and `keyward check --verify` tells a newer version in the store from a tampered Secret.
    let put = |data: serde_json::Value| {
        let url = format!("{}/v1/secret/data/apps/source", bao.address());
        let token = bao.root_token().to_owned();
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .header("X-Vault-Token", token)
                .json(&json!({ "data": data }))
                .send()
                .await
                .expect("seed OpenBao");
            assert!(response.status().is_success());
        }
    };
    put(json!({"password": CANARY})).await;
    let es = resource("ExternalSecret", "externalsecrets");
    Api::<DynamicObject>::namespaced_with(client.clone(), "apps", &es)
        .create(
            &PostParams::default(),
            &object(
                &es,
                json!({"metadata": {"name": "from-bao", "namespace": "apps"},
                       "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "bao"},
                                "data": [{"secretKey": "password", "remoteRef": {"key": "apps/source", "property": "password"}}]}}),
            ),
        )
        .await
        .expect("ExternalSecret");
    wait_until("from-bao projected", || async {
        secret_of(&cluster, "apps", "from-bao").await.is_some()
    })
    .await;
    let projected = secret_of(&cluster, "apps", "from-bao")
        .await
        .expect("Secret");
    let annotations = projected.metadata.annotations.unwrap_or_default();
    assert_eq!(
        annotations
            .get(keyward_core::SOURCE_VERSIONS_ANNOTATION)
            .map(String::as_str),
        Some(r#"{"SecretStore/apps/bao":{"apps/source":"1"}}"#)
    );
    let verify = || {
        let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["check", "--verify", "-n", "apps"])
            .env("KUBECONFIG", kube.kubeconfig_path())
            .output()
            .expect("keyward check");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!text.contains(CANARY), "the canary leaked: {text}");
        (output.status.code(), text)
    };
    let (code, out) = verify();
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("ok       ExternalSecret apps/from-bao (cluster): key password matches the store (fingerprints from the Secret's annotation)"),
        "{out}"
    );
    put(json!({"password": "rotated"})).await;
    let (code, out) = verify();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL     ExternalSecret apps/from-bao (cluster): key password is stale: the store has a newer version (2; the projection holds 1) since "),
        "{out}"
    );

    // No value in statuses, events or the operator's trace logs.
    let remaining = push_secrets.list(&Default::default()).await.expect("list");
    let statuses = serde_json::to_string(&remaining.items).expect("json");
    assert!(!statuses.contains(CANARY), "canary in a PushSecret");
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), "apps");
    let events = serde_json::to_string(
        &events
            .list(&Default::default())
            .await
            .expect("events")
            .items,
    )
    .expect("json");
    assert!(
        events.contains("Errored"),
        "no Warning event for the broken PushSecret"
    );
    assert!(!events.contains(CANARY), "canary in an event");
    assert!(!operator.logs().contains(CANARY), "canary in the logs");
    drop(operator);
}

/// The Secret's type, labels, annotations, immutability and data.
async fn secret_of(cluster: &Cluster, namespace: &str, name: &str) -> Option<Secret> {
    cluster.secrets(namespace).get_opt(name).await.expect("get")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_policies_templates_and_refresh_policies_on_a_real_apiserver() {
    let Some(kube) =
        kube_with_eso_crds(&["externalsecrets", "secretstores", "clustersecretstores"]).await
    else {
        return;
    };
    let cluster = Cluster::of(&kube).await;
    cluster.namespace("apps").await;
    cluster
        .fake_store("fake", &[("a", CANARY), ("b", "two")], json!({}))
        .await;
    cluster
        .fake_store("found", &[("gone-1", "g1"), ("gone-2", "g2")], json!({}))
        .await;
    cluster
        .fake_store("moving", &[("m", "v1")], json!({}))
        .await;
    let scratch = tempfile::tempdir().expect("tempdir");
    let operator = Operator::start(&kube, scratch.path());
    let fake = json!({"name": "fake", "kind": "ClusterSecretStore"});

    // A template shapes type, labels, annotations and data.
    cluster
        .external_secret(
            "apps",
            "shaped",
            json!({"secretStoreRef": fake,
                   "target": {"template": {
                       "type": "kubernetes.io/basic-auth",
                       "metadata": {"labels": {"app": "web"}, "annotations": {"note": "shaped"}},
                       "data": {"username": "user-{{ .b }}", "password": "{{ .a }}"}}},
                   "data": [{"secretKey": "a", "remoteRef": {"key": "a"}},
                            {"secretKey": "b", "remoteRef": {"key": "b"}}]}),
        )
        .await;
    cluster
        .wait_data("apps", "shaped", "username", "user-two")
        .await;
    let shaped = secret_of(&cluster, "apps", "shaped").await.expect("shaped");
    assert_eq!(shaped.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    let labels = shaped.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("app").map(String::as_str), Some("web"));
    assert_eq!(
        labels
            .get("reconcile.external-secrets.io/managed")
            .map(String::as_str),
        Some("true")
    );
    let annotations = shaped.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations.get("note").map(String::as_str), Some("shaped"));
    let data = shaped.data.clone().unwrap_or_default();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["password", "username"]);
    assert_eq!(data["password"].0, CANARY.as_bytes());

    // immutable: written once, marked immutable; a change that would rewrite it fails.
    cluster
        .external_secret(
            "apps",
            "frozen",
            json!({"secretStoreRef": fake, "target": {"immutable": true},
                   "data": [{"secretKey": "k", "remoteRef": {"key": "b"}}]}),
        )
        .await;
    cluster.wait_data("apps", "frozen", "k", "two").await;
    let frozen = secret_of(&cluster, "apps", "frozen").await.expect("frozen");
    assert_eq!(frozen.immutable, Some(true));
    cluster
        .external_secrets("apps")
        .patch(
            "frozen",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"spec": {"data": [{"secretKey": "k", "remoteRef": {"key": "a"}}]}}),
            ),
        )
        .await
        .expect("change frozen");
    cluster
        .wait_ready("apps", "frozen", "False", "SecretSyncedError")
        .await;
    let (_, _, message) = cluster.ready("apps", "frozen").await.expect("status");
    assert_eq!(message, "could not update secret, target is immutable");
    assert_eq!(
        secret_of(&cluster, "apps", "frozen")
            .await
            .expect("kept")
            .metadata
            .resource_version,
        frozen.metadata.resource_version,
        "an immutable Secret is left as it was"
    );

    // deletionPolicy when the sources are gone: Delete removes the Secret, Retain keeps it
    // whole, Merge keeps it without the keys that came from the store.
    for (name, policy) in [
        ("deleting", "Delete"),
        ("retaining", "Retain"),
        ("merging", "Merge"),
    ] {
        cluster
            .external_secret(
                "apps",
                name,
                json!({"secretStoreRef": {"name": "found", "kind": "ClusterSecretStore"},
                       "refreshInterval": "1s",
                       "target": {"deletionPolicy": policy},
                       "dataFrom": [{"find": {"name": {"regexp": "^gone-"}}}]}),
            )
            .await;
        cluster.wait_data("apps", name, "gone-1", "g1").await;
    }
    cluster
        .fake_store("found", &[("other", "x")], json!({}))
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while secret_of(&cluster, "apps", "deleting").await.is_some() {
        assert!(
            Instant::now() < deadline,
            "deletionPolicy Delete kept the Secret"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster
        .wait_ready("apps", "deleting", "True", "SecretDeleted")
        .await;
    cluster
        .wait_ready("apps", "merging", "True", "SecretSynced")
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let merged = secret_of(&cluster, "apps", "merging")
            .await
            .expect("Merge keeps the Secret");
        if merged.data.unwrap_or_default().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "Merge kept the store's keys");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let retained = cluster
        .secret_data("apps", "retaining")
        .await
        .expect("Retain keeps it");
    assert_eq!(retained.get("gone-1").map(String::as_str), Some("g1"));
    let (_, _, message) = cluster.ready("apps", "retaining").await.expect("status");
    assert_eq!(message, "secret retained due to DeletionPolicy=Retain");

    // refreshPolicy: Periodic picks a store change up by itself; CreatedOnce never does;
    // OnChange does when the ExternalSecret changes.
    let moving = json!({"name": "moving", "kind": "ClusterSecretStore"});
    for (name, policy) in [
        ("periodic", "Periodic"),
        ("created-once", "CreatedOnce"),
        ("on-change", "OnChange"),
    ] {
        cluster
            .external_secret(
                "apps",
                name,
                json!({"secretStoreRef": moving, "refreshInterval": "1s", "refreshPolicy": policy,
                       "data": [{"secretKey": "m", "remoteRef": {"key": "m"}}]}),
            )
            .await;
        cluster.wait_data("apps", name, "m", "v1").await;
    }
    cluster
        .fake_store("moving", &[("m", "v2")], json!({}))
        .await;
    cluster.wait_data("apps", "periodic", "m", "v2").await;
    // Periodic has refreshed since the change; give the others two more intervals.
    let refreshed = cluster
        .external_secrets("apps")
        .get("periodic")
        .await
        .expect("periodic")
        .data["status"]["refreshTime"]
        .clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = cluster
            .external_secrets("apps")
            .get("periodic")
            .await
            .expect("periodic")
            .data["status"]["refreshTime"]
            .clone();
        if now != refreshed {
            break;
        }
        assert!(Instant::now() < deadline, "Periodic stopped refreshing");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for name in ["created-once", "on-change"] {
        let data = cluster.secret_data("apps", name).await.expect("secret");
        assert_eq!(data["m"], "v1", "{name} refreshed without a change");
    }
    cluster.force_sync("apps", "on-change", "1").await;
    cluster.wait_data("apps", "on-change", "m", "v2").await;
    cluster.force_sync("apps", "created-once", "1").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let data = cluster
        .secret_data("apps", "created-once")
        .await
        .expect("secret");
    assert_eq!(data["m"], "v1", "CreatedOnce rewrote an existing Secret");

    assert!(!operator.logs().contains(CANARY), "canary in the logs");
    drop(operator);
    drop(kube);
}

/// `keyward check` against the cluster: ExternalSecrets Ready and fresh, stores Ready, and the
/// keys workloads read present in the Secrets the operator wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyward_check_reads_the_health_of_the_cluster() {
    let Some(kube) =
        kube_with_eso_crds(&["externalsecrets", "secretstores", "clustersecretstores"]).await
    else {
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::of(&kube).await;
    cluster.namespace("apps").await;
    cluster
        .fake_store("fake", &[("db", CANARY)], json!({}))
        .await;
    cluster
        .external_secret(
            "apps",
            "db",
            json!({"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                   "data": [{"secretKey": "password", "remoteRef": {"key": "db"}}]}),
        )
        .await;
    cluster
        .external_secret(
            "apps",
            "orphan",
            json!({"secretStoreRef": {"name": "gone", "kind": "ClusterSecretStore"},
                   "data": [{"secretKey": "password", "remoteRef": {"key": "db"}}]}),
        )
        .await;
    let deployment: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "web:1", "env": [
                {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                {"name": "DB_USER", "valueFrom": {"secretKeyRef": {"name": "db", "key": "user"}}}
            ]}]}
        }}
    }))
    .expect("deployment");
    Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(cluster.client.clone(), "apps")
        .create(&PostParams::default(), &deployment)
        .await
        .expect("create deployment");
    let operator = Operator::start(&kube, scratch.path());
    cluster
        .wait_ready("apps", "db", "True", "SecretSynced")
        .await;
    cluster
        .wait_ready("apps", "orphan", "False", "SecretSyncedError")
        .await;

    let check = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["check", "--log-level", "trace"])
            .args(extra)
            .env("KUBECONFIG", kube.kubeconfig_path())
            .output()
            .expect("run keyward check");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        );
        assert!(
            !stdout.contains(CANARY) && !stderr.contains(CANARY),
            "the canary leaked: {stdout}{stderr}"
        );
        (output.status.code(), stdout)
    };
    let (code, out) = check(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "FAIL     ExternalSecret apps/orphan (cluster): not Ready: SecretSyncedError: "
        ),
        "{out}"
    );
    assert!(
        out.contains("FAIL     Deployment apps/web (cluster): container app env DB_USER reads key user of Secret apps/db, which does not hold it (it holds: password)"),
        "{out}"
    );
    assert!(
        !out.contains("ExternalSecret apps/db "),
        "db is healthy: {out}"
    );
    assert!(!out.contains("DB_PASSWORD"), "password is there: {out}");
    assert!(
        out.contains("checked 2 ExternalSecrets, 0 PushSecrets, 1 store, 1 workload: 0 invalid, 2 unhealthy, 0 warnings"),
        "{out}"
    );

    // --verify: the Secret holds what the store holds, proved by the operator's fingerprints
    // under the key it keeps in default/keyward-fingerprint-key.
    let (code, out) = check(&["--verify", "-n", "apps"]);
    assert!(
        out.contains("ok       ExternalSecret apps/db (cluster): key password matches the store (fingerprints from the Secret's annotation)"),
        "{out}"
    );
    assert_eq!(code, Some(1), "orphan's store is gone: {out}");
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), "apps");
    let annotation = secrets
        .get("db")
        .await
        .expect("Secret db")
        .metadata
        .annotations
        .and_then(|a| a.get(keyward_core::FINGERPRINTS_ANNOTATION).cloned())
        .expect("fingerprint annotation");
    assert!(
        annotation.starts_with("*=kw1:") && annotation.contains(",password=kw1:"),
        "{annotation}"
    );
    let key_secret = Api::<Secret>::namespaced(cluster.client.clone(), "default")
        .get("keyward-fingerprint-key")
        .await
        .expect("the operator's fingerprint key Secret");
    assert_eq!(key_secret.immutable, Some(true));
    // A recorded fingerprint that is not the store's: differs (the operator leaves the
    // annotation alone, it never writes for fingerprints only).
    let forged = annotation.replacen(",password=kw1:", ",password=kw1:0", 1);
    let forged = forged[..forged.len() - 1].to_owned();
    secrets
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {keyward_core::FINGERPRINTS_ANNOTATION: forged}}})),
        )
        .await
        .expect("forge the annotation");
    let (code, out) = check(&["--verify", "-n", "apps"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL     ExternalSecret apps/db (cluster): key password differs from the store, which has nothing newer"),
        "{out}"
    );
    // keyward evidence over the cluster: db's forged fingerprint shows as failing, the
    // Deployment's reads are in the inventory, and the folder holds no value.
    let evidence = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["--output", "json", "evidence", "--out"])
        .arg(scratch.path().join("evidence"))
        .args(["-n", "apps"])
        .env("KUBECONFIG", kube.kubeconfig_path())
        .output()
        .expect("run keyward evidence");
    assert_eq!(
        evidence.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&evidence.stderr)
    );
    let told: serde_json::Value = serde_json::from_slice(&evidence.stdout).expect("JSON");
    let folder = std::path::PathBuf::from(told["folder"].as_str().expect("folder"));
    let written = std::fs::read_to_string(folder.join("evidence.json")).expect("evidence.json");
    assert!(
        !written.contains(CANARY),
        "the canary leaked into the evidence"
    );
    let page = std::fs::read_to_string(folder.join("index.html")).expect("index.html");
    assert!(!page.contains(CANARY), "the canary leaked into the page");
    let written: serde_json::Value = serde_json::from_str(&written).expect("JSON");
    assert_eq!(written["scope"], "the cluster, namespace apps");
    let db = written["externalSecrets"]
        .as_array()
        .expect("externalSecrets")
        .iter()
        .find(|es| es["name"] == "db")
        .expect("db");
    assert_eq!(db["keys"][0]["key"], "password");
    assert_eq!(db["keys"][0]["verdict"], "differs", "{db:#}");
    assert_eq!(db["verifiedFrom"], "Secret's annotation");
    assert!(
        written["consumers"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["name"] == "web" && c["key"] == "user")),
        "{written:#}"
    );
    assert_eq!(written["stores"][0]["name"], "fake");

    let (code, out) = check(&["--verify", "--fingerprint-key-secret", "default/nope"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL     Secret default/nope (cluster): nothing can be verified: fingerprint key: the Secret default/nope does not exist"),
        "{out}"
    );

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let (code, out) = check(&["--max-age", "2s", "--output", "json"]);
    assert_eq!(code, Some(1), "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    let stale = json["checked"]
        .as_array()
        .expect("checked")
        .iter()
        .find(|c| c["name"] == "db" && c["kind"] == "ExternalSecret")
        .expect("db");
    assert_eq!(stale["findings"][0]["rule"], "age", "{stale}");

    let unreachable = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .arg("check")
        .env("KUBECONFIG", scratch.path().join("missing-kubeconfig"))
        .env("HOME", scratch.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("run keyward check");
    assert_eq!(unreachable.status.code(), Some(20));
    drop(operator);
    drop(kube);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generators_give_new_values_on_every_refresh_on_a_real_apiserver() {
    let Some(kube) = kube_with_eso_crds(&[
        "externalsecrets",
        "secretstores",
        "clustersecretstores",
        "passwords.generators.external-secrets.io",
        "uuids.generators.external-secrets.io",
        "clustergenerators.generators.external-secrets.io",
    ])
    .await
    else {
        return;
    };
    let cluster = Cluster::of(&kube).await;
    cluster.namespace("apps").await;
    let generator = |kind: &str, plural: &str| {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("generators.external-secrets.io", "v1alpha1", kind),
            plural,
        )
    };
    let passwords = generator("Password", "passwords");
    let password = object(
        &passwords,
        json!({"metadata": {"name": "db", "namespace": "apps"},
               "spec": {"length": 20, "digits": 5, "symbols": 0, "noUpper": true}}),
    );
    Api::<DynamicObject>::namespaced_with(cluster.client.clone(), "apps", &passwords)
        .create(&PostParams::default(), &password)
        .await
        .expect("Password");
    let cluster_generators = generator("ClusterGenerator", "clustergenerators");
    let shared = object(
        &cluster_generators,
        json!({"metadata": {"name": "ids"},
               "spec": {"kind": "UUID", "generator": {"uuidSpec": {}}}}),
    );
    Api::<DynamicObject>::all_with(cluster.client.clone(), &cluster_generators)
        .create(&PostParams::default(), &shared)
        .await
        .expect("ClusterGenerator");
    let scratch = tempfile::tempdir().expect("tempdir");
    let operator = Operator::start(&kube, scratch.path());
    let reference = |kind: &str, name: &str| {
        json!({"generatorRef": {"apiVersion": "generators.external-secrets.io/v1alpha1",
                                "kind": kind, "name": name}})
    };
    cluster
        .external_secret(
            "apps",
            "generated",
            json!({"refreshInterval": "1h",
                   "target": {"name": "generated"},
                   "dataFrom": [{"sourceRef": reference("Password", "db")},
                                {"sourceRef": reference("ClusterGenerator", "ids"),
                                 "rewrite": [{"regexp": {"source": "uuid", "target": "id"}}]}]}),
        )
        .await;
    cluster
        .wait_ready("apps", "generated", "True", "SecretSynced")
        .await;
    let first = cluster
        .secret_data("apps", "generated")
        .await
        .expect("the generated Secret");
    let password = first["password"].clone();
    assert_eq!(password.len(), 20);
    assert_eq!(password.chars().filter(char::is_ascii_digit).count(), 5);
    assert!(
        password
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    );
    assert_eq!(first["id"].len(), 36);

    // A refresh (here forced) generates anew, as ESO does.
    cluster.force_sync("apps", "generated", "1").await;
    wait_until("a new password", || async {
        cluster
            .secret_data("apps", "generated")
            .await
            .is_some_and(|data| data.get("password").is_some_and(|p| *p != password))
    })
    .await;

    // A generator that does not exist fails the ExternalSecret with ESO's words.
    cluster
        .external_secret(
            "apps",
            "dangling",
            json!({"target": {"name": "dangling"},
                   "dataFrom": [{"sourceRef": reference("Password", "absent")}]}),
        )
        .await;
    cluster
        .wait_ready("apps", "dangling", "False", "SecretSyncedError")
        .await;
    assert!(cluster.secret_data("apps", "dangling").await.is_none());
    // The reason is in its UpdateFailed event, in ESO's words; no generated value is in an
    // event or the operator's log.
    let events: Api<DynamicObject> = Api::namespaced_with(
        cluster.client.clone(),
        "apps",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("events.k8s.io", "v1", "Event"),
            "events",
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let events_text = loop {
        let listed = events.list(&Default::default()).await.expect("events");
        let text = serde_json::to_string(&listed.items).expect("json");
        if text.contains(r#"Password.generators.external-secrets.io \"absent\" not found"#) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no UpdateFailed event with the reason: {text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let logs = operator.logs();
    for value in [&password, &first["id"]] {
        assert!(
            !logs.contains(value.as_str()),
            "a generated value is in the log"
        );
        assert!(
            !events_text.contains(value.as_str()),
            "a generated value is in an event"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_that_opted_in_roll_out_when_their_secret_changes() {
    let Some(kube) =
        kube_with_eso_crds(&["externalsecrets", "secretstores", "clustersecretstores"]).await
    else {
        return;
    };
    let _controllers = kube
        .start_workload_controllers()
        .await
        .expect("kube-controller-manager");
    let cluster = Cluster::of(&kube).await;
    cluster.namespace("apps").await;
    cluster
        .fake_store("fake", &[("db", "first")], json!({}))
        .await;
    let scratch = tempfile::tempdir().expect("tempdir");
    let operator = Operator::start(&kube, scratch.path());
    cluster
        .external_secret(
            "apps",
            "db",
            json!({"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                   "target": {"name": "db"},
                   "data": [{"secretKey": "password", "remoteRef": {"key": "db"}}]}),
        )
        .await;
    cluster.wait_data("apps", "db", "password", "first").await;
    // An ExternalSecret that opts every reader of its Secret in, with keyward's annotation.
    let es = object(
        &cluster.es,
        json!({"metadata": {"name": "api", "namespace": "apps",
                            "annotations": {"keyward.io/restart-readers": "true"}},
               "spec": {"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                        "target": {"name": "api"},
                        "data": [{"secretKey": "token", "remoteRef": {"key": "db"}}]}}),
    );
    cluster
        .external_secrets("apps")
        .create(&PostParams::default(), &es)
        .await
        .expect("ExternalSecret");
    cluster.wait_data("apps", "api", "token", "first").await;

    // Three Deployments read the Secret db; two opted in, as Reloader users opt in. A fourth
    // reads api, whose ExternalSecret opted its readers in.
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(cluster.client.clone(), "apps");
    for (name, annotations, secret) in [
        (
            "follower",
            json!({"reloader.stakater.com/auto": "true"}),
            "db",
        ),
        (
            "named",
            json!({"secret.reloader.stakater.com/reload": "other, db"}),
            "db",
        ),
        ("bystander", json!({}), "db"),
        ("api-reader", json!({}), "api"),
    ] {
        let deployment = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "apps", "annotations": annotations},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": "app:1",
                                            "envFrom": [{"secretRef": {"name": secret}}]}]}}}
        }))
        .expect("a Deployment");
        deployments
            .create(&PostParams::default(), &deployment)
            .await
            .expect("create the Deployment");
    }
    let replica_sets: Api<k8s_openapi::api::apps::v1::ReplicaSet> =
        Api::namespaced(cluster.client.clone(), "apps");
    let count = |app: &'static str| {
        let replica_sets = replica_sets.clone();
        async move {
            replica_sets
                .list(&kube::api::ListParams::default().labels(&format!("app={app}")))
                .await
                .map(|list| list.items.len())
                .unwrap_or(0)
        }
    };
    for app in ["follower", "named", "bystander", "api-reader"] {
        wait_until("the first ReplicaSet", || async { count(app).await == 1 }).await;
    }

    // The store changes and the ExternalSecret is refreshed: the Secret changes, and the
    // workloads that opted in roll out (a new ReplicaSet each); the other is left alone.
    cluster
        .fake_store("fake", &[("db", "second")], json!({}))
        .await;
    let started = Instant::now();
    cluster.force_sync("apps", "db", "1").await;
    cluster.force_sync("apps", "api", "1").await;
    cluster.wait_data("apps", "db", "password", "second").await;
    cluster.wait_data("apps", "api", "token", "second").await;
    for app in ["follower", "named", "api-reader"] {
        wait_until("a new ReplicaSet", || async { count(app).await == 2 }).await;
    }
    eprintln!(
        "from the refresh to the three rolled-out Deployments: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let restarted_at = |deployment: &k8s_openapi::api::apps::v1::Deployment| {
        deployment
            .spec
            .template
            .metadata
            .as_ref()
            .and_then(|meta| meta.annotations.as_ref())
            .and_then(|a| a.get("kubectl.kubernetes.io/restartedAt").cloned())
    };
    let follower = deployments.get("follower").await.expect("follower");
    assert!(restarted_at(&follower).is_some());
    let bystander = deployments.get("bystander").await.expect("bystander");
    assert_eq!(
        restarted_at(&bystander),
        None,
        "a workload without opt-in was restarted"
    );
    assert_eq!(count("bystander").await, 1);

    // A refresh that changes nothing restarts nothing.
    cluster.force_sync("apps", "db", "2").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = deployments.get("follower").await.expect("follower");
    assert_eq!(restarted_at(&again), restarted_at(&follower));
    assert_eq!(count("follower").await, 2);
    drop(operator);
}
