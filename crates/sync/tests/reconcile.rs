//! `keyward_sync::reconcile` end to end with ESO's fake provider and an in-memory sink: the
//! engine's rules (policies, refreshes that change nothing, store failures) proven without
//! files or a cluster. The sink here is a test double by design: the two real sinks, host
//! files and Kubernetes Secrets, have their own tests (`crates/cli/tests/sync.rs`,
//! `crates/cli/tests/operator.rs`); this one shows that every rule lives in the engine.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use keyward_api::{Document, ExternalSecret, NamespaceName};
use keyward_core::{FingerprintKey, SecretValue};
use keyward_sync::credentials::HostCredentials;
use keyward_sync::plan::Kept;
use keyward_sync::{
    Applied, Applying, Projection, Sink, SinkError, StoreSet, SyncErrorKind, engine::Desired,
    reconcile,
};

/// Targets in memory, by `namespace/name`.
#[derive(Default)]
struct MemorySink {
    targets: Mutex<BTreeMap<String, BTreeMap<String, Vec<u8>>>>,
    writes: Mutex<usize>,
}

impl MemorySink {
    fn location_of(desired: &Desired) -> String {
        format!("{}/{}", desired.namespace, desired.target)
    }

    fn get(&self, location: &str) -> Option<BTreeMap<String, String>> {
        let targets = self.targets.lock().expect("lock");
        targets.get(location).map(|data| {
            data.iter()
                .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                .collect()
        })
    }

    fn put(&self, location: &str, data: &[(&str, &str)]) {
        let data = data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        self.targets
            .lock()
            .expect("lock")
            .insert(location.to_owned(), data);
    }

    fn writes(&self) -> usize {
        *self.writes.lock().expect("lock")
    }
}

#[async_trait::async_trait]
impl Sink for MemorySink {
    async fn current(
        &self,
        desired: &Desired,
    ) -> Result<Option<BTreeMap<String, SecretValue>>, SinkError> {
        let targets = self.targets.lock().expect("lock");
        Ok(targets.get(&Self::location_of(desired)).map(|data| {
            data.iter()
                .map(|(k, v)| (k.clone(), SecretValue::new(v.clone())))
                .collect()
        }))
    }

    async fn apply(&self, desired: Desired, plan: Applying) -> Result<Applied, SinkError> {
        let location = Self::location_of(&desired);
        let changed = match plan {
            Applying::Write {
                unchanged: true, ..
            } => false,
            Applying::Write { .. } => {
                let data = desired
                    .data
                    .iter()
                    .map(|(k, v)| (k.clone(), v.expose_bytes().to_vec()))
                    .collect();
                self.targets
                    .lock()
                    .expect("lock")
                    .insert(location.clone(), data);
                *self.writes.lock().expect("lock") += 1;
                true
            }
            Applying::Delete => {
                self.targets.lock().expect("lock").remove(&location);
                *self.writes.lock().expect("lock") += 1;
                true
            }
        };
        Ok(Applied { location, changed })
    }

    fn location(&self, desired: &Desired) -> String {
        Self::location_of(desired)
    }
}

/// Stores and ExternalSecrets from one YAML stream.
fn load(yaml: &str) -> (StoreSet, Vec<ExternalSecret>) {
    let mut stores = Vec::new();
    let mut cluster_stores = Vec::new();
    let mut external_secrets = Vec::new();
    for document in keyward_api::load::from_str(yaml, "test.yaml").expect("valid manifests") {
        match document {
            Document::SecretStore(store) => stores.push(*store),
            Document::ClusterSecretStore(store) => cluster_stores.push(*store),
            Document::ExternalSecret(es) => external_secrets.push(*es),
            _ => {}
        }
    }
    let namespace = NamespaceName::parse("apps").expect("valid");
    let set = StoreSet::new(
        stores,
        cluster_stores,
        &namespace,
        Arc::new(HostCredentials::default()),
    );
    (set, external_secrets)
}

fn store(entries: &[(&str, &str)]) -> String {
    let data: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{{key: {k}, value: {v}}}"))
        .collect();
    format!(
        "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {{name: fake, namespace: apps}}\nspec: {{provider: {{fake: {{data: [{}]}}}}}}\n",
        data.join(", ")
    )
}

fn external_secret(name: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: {name}, namespace: apps}}\nspec: {{secretStoreRef: {{name: fake}}, {spec}}}\n"
    )
}

fn key() -> FingerprintKey {
    FingerprintKey::new(SecretValue::from("0123456789abcdef0123456789abcdef")).expect("key")
}

#[tokio::test]
async fn a_target_is_created_once_and_a_refresh_that_changes_nothing_writes_nothing() {
    let yaml = store(&[("db", "s3cret"), ("user", "app")])
        + &external_secret(
            "db",
            "data: [{secretKey: password, remoteRef: {key: db}}, {secretKey: user, remoteRef: {key: user}}]",
        );
    let (stores, es) = load(&yaml);
    let sink = MemorySink::default();
    let first = reconcile(&es[0], &stores, &sink, &key())
        .await
        .expect("sync");
    assert!(matches!(
        first.projection,
        Projection::Written {
            changed: true,
            keys: 2,
            ..
        }
    ));
    assert_eq!(
        sink.get("apps/db"),
        Some(BTreeMap::from([
            ("password".to_owned(), "s3cret".to_owned()),
            ("user".to_owned(), "app".to_owned()),
        ]))
    );
    let again = reconcile(&es[0], &stores, &sink, &key())
        .await
        .expect("sync");
    assert!(matches!(
        again.projection,
        Projection::Written { changed: false, .. }
    ));
    assert_eq!(sink.writes(), 1, "an unchanged refresh writes nothing");

    // The store changes: the next reconcile writes the new value.
    let (stores, es) = load(&yaml.replace("s3cret", "rotated"));
    let rotated = reconcile(&es[0], &stores, &sink, &key())
        .await
        .expect("sync");
    assert!(matches!(
        rotated.projection,
        Projection::Written { changed: true, .. }
    ));
    assert_eq!(sink.get("apps/db").expect("target")["password"], "rotated");
}

#[tokio::test]
async fn a_store_failure_keeps_the_target_as_it_was() {
    let sink = MemorySink::default();
    sink.put("apps/db", &[("password", "kept")]);
    let yaml = store(&[("other", "x")])
        + &external_secret(
            "db",
            "data: [{secretKey: password, remoteRef: {key: absent}}]",
        );
    let (stores, es) = load(&yaml);
    let error = reconcile(&es[0], &stores, &sink, &key())
        .await
        .expect_err("the key is absent");
    assert!(matches!(error.kind, SyncErrorKind::Store(_)), "{error:?}");
    assert_eq!(sink.get("apps/db").expect("kept")["password"], "kept");
    assert_eq!(sink.writes(), 0);
}

#[tokio::test]
async fn deletion_policies_when_the_sources_are_gone() {
    let find = "dataFrom: [{find: {name: {regexp: '^gone'}}}]";
    let yaml = store(&[("other", "x")])
        + &external_secret(
            "deleting",
            &format!("target: {{deletionPolicy: Delete}}, {find}"),
        )
        + &external_secret(
            "retaining",
            &format!("target: {{deletionPolicy: Retain}}, {find}"),
        )
        + &external_secret(
            "merging",
            &format!("target: {{deletionPolicy: Merge}}, {find}"),
        );
    let (stores, es) = load(&yaml);
    let sink = MemorySink::default();
    for name in ["deleting", "retaining", "merging"] {
        sink.put(&format!("apps/{name}"), &[("gone-1", "old")]);
    }
    let fingerprint_key = key();
    let outcomes: Vec<Projection> = futures::future::join_all(
        es.iter()
            .map(|es| reconcile(es, &stores, &sink, &fingerprint_key)),
    )
    .await
    .into_iter()
    .map(|outcome| outcome.expect("sync").projection)
    .collect();
    assert_eq!(outcomes[0], Projection::Deleted);
    assert_eq!(outcomes[1], Projection::Kept(Kept::Retained));
    assert!(matches!(outcomes[2], Projection::Written { keys: 0, .. }));
    assert_eq!(sink.get("apps/deleting"), None);
    assert_eq!(sink.get("apps/retaining").expect("kept")["gone-1"], "old");
    assert_eq!(sink.get("apps/merging"), Some(BTreeMap::new()));
}

#[tokio::test]
async fn merge_lays_keys_over_a_target_and_never_creates_one() {
    let spec =
        "target: {creationPolicy: Merge}, data: [{secretKey: password, remoteRef: {key: db}}]";
    let yaml = store(&[("db", "s3cret")]) + &external_secret("db", spec);
    let (stores, es) = load(&yaml);
    let sink = MemorySink::default();
    let missing = reconcile(&es[0], &stores, &sink, &key())
        .await
        .expect("sync");
    assert_eq!(
        missing.projection,
        Projection::Kept(Kept::MergeTargetMissing)
    );
    assert_eq!(sink.get("apps/db"), None);

    sink.put("apps/db", &[("theirs", "t")]);
    reconcile(&es[0], &stores, &sink, &key())
        .await
        .expect("sync");
    assert_eq!(
        sink.get("apps/db"),
        Some(BTreeMap::from([
            ("password".to_owned(), "s3cret".to_owned()),
            ("theirs".to_owned(), "t".to_owned()),
        ]))
    );
}

#[tokio::test]
async fn an_immutable_target_is_never_rewritten() {
    let spec = "target: {immutable: true}, data: [{secretKey: password, remoteRef: {key: db}}]";
    let yaml = store(&[("db", "first")]) + &external_secret("db", spec);
    let (stores, es) = load(&yaml);
    let sink = MemorySink::default();
    reconcile(&es[0], &stores, &sink, &key())
        .await
        .expect("sync");
    let (stores, es) = load(&yaml.replace("first", "second"));
    let outcome = reconcile(&es[0], &stores, &sink, &key())
        .await
        .expect("sync");
    assert_eq!(outcome.projection, Projection::Kept(Kept::Immutable));
    assert_eq!(sink.get("apps/db").expect("kept")["password"], "first");
    assert_eq!(sink.writes(), 1);
}
