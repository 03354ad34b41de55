//! The kube-rs client side of `scripts/bench-operator`: it seeds a cluster, waits for
//! ExternalSecrets to be Ready, and is the benchmark's limit, a bare client that writes the
//! same Secrets an operator writes with nothing of an operator around it.
//!
//! ```text
//! bare_client crds BUNDLE.yaml                 create every CRD in a bundle, wait until served
//! bare_client seed --es N [--keys K] [--namespaces NS] [--unmanaged M] [--unmanaged-bytes B]
//!                                              a fake ClusterSecretStore of K keys, N
//!                                              ExternalSecrets reading 3 keys each (refresh
//!                                              1h), M unmanaged Secrets of B bytes
//! bare_client wait --es N [--refreshed-after UNIX_SECONDS] [--timeout SECONDS]
//!                                              watch ExternalSecrets: prints `watching` once
//!                                              the first list is in, `ready` when N are
//!                                              Ready=True (with a refreshTime at or after
//!                                              the given second, when given)
//! bare_client refresh [--interval 61m]         change every ExternalSecret's refreshInterval
//!                                              (a spec change: each is refreshed once, and
//!                                              its Secret's content does not change)
//! bare_client secrets [--concurrency C] [--status]
//!                                              the limit: for every ExternalSecret, create
//!                                              the Secret an operator would (same name,
//!                                              data, labels, annotations, owner), C at a
//!                                              time; with --status also the status patch and
//!                                              the event, an operator's other two writes
//! ```
//!
//! The cluster comes from `KUBECONFIG`. `--concurrency` (default 16) bounds every command's
//! requests in flight. Progress goes to stderr; stdout carries only the lines above.

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::io::Write as _;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use keyward_operator::eso;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

const STORE: &str = "fake";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(error) = run(&args).await {
        eprintln!("bare_client: {error}");
        std::process::exit(1);
    }
}

async fn run(args: &[String]) -> Result<()> {
    let options = Options::parse(args.get(1..).unwrap_or_default())?;
    let command = args.first().map(String::as_str).unwrap_or("");
    match command {
        "crds" => crds(&client().await?, &options).await,
        "seed" => seed(&client().await?, &options).await,
        "wait" => wait(&client().await?, &options).await,
        "refresh" => refresh(&client().await?, &options).await,
        "secrets" => secrets(&client().await?, &options).await,
        _ => Err(
            "usage: bare_client crds|seed|wait|refresh|secrets [OPTIONS] (see the source)".into(),
        ),
    }
}

async fn client() -> Result<kube::Client> {
    Ok(kube::Client::try_default().await?)
}

/// The flags every command takes; each command reads the ones it needs.
struct Options {
    positional: Vec<String>,
    flags: HashMap<String, String>,
    switches: Vec<String>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self> {
        let mut options = Options {
            positional: Vec::new(),
            flags: HashMap::new(),
            switches: Vec::new(),
        };
        let mut args = args.iter().peekable();
        while let Some(arg) = args.next() {
            let Some(name) = arg.strip_prefix("--") else {
                options.positional.push(arg.clone());
                continue;
            };
            match args.peek() {
                Some(value) if !value.starts_with("--") => {
                    options.flags.insert(name.to_owned(), (*value).clone());
                    args.next();
                }
                _ => options.switches.push(name.to_owned()),
            }
        }
        Ok(options)
    }

    fn number(&self, name: &str, default: u64) -> Result<u64> {
        match self.flags.get(name) {
            None => Ok(default),
            Some(value) => value
                .parse()
                .map_err(|_| format!("--{name}: not a number: {value}").into()),
        }
    }

    fn text<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.flags.get(name).map_or(default, String::as_str)
    }

    fn switch(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    fn concurrency(&self) -> Result<usize> {
        Ok(usize::try_from(self.number("concurrency", 16)?.max(1))?)
    }
}

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("external-secrets.io", "v1", kind),
        plural,
    )
}

fn external_secrets() -> ApiResource {
    resource("ExternalSecret", "externalsecrets")
}

fn typed(resource: &ApiResource, value: Value) -> Result<DynamicObject> {
    let mut object: DynamicObject = serde_json::from_value(value)?;
    object.types = Some(kube::core::TypeMeta {
        api_version: resource.api_version.clone(),
        kind: resource.kind.clone(),
    });
    Ok(object)
}

/// Runs `work` over `items`, `concurrency` at a time, failing on the first error.
async fn each<T, F, Fut>(items: Vec<T>, concurrency: usize, work: F) -> Result<()>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    futures::stream::iter(items.into_iter().map(work))
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

async fn crds(client: &kube::Client, options: &Options) -> Result<()> {
    let path = options
        .positional
        .first()
        .ok_or("crds: name the CRD bundle")?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(&text) {
        let value: Value = serde::Deserialize::deserialize(document)?;
        if value.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
            continue;
        }
        let crd: CustomResourceDefinition = serde_json::from_value(value)?;
        names.push(crd.name_any());
        api.create(&PostParams::default(), &crd).await?;
    }
    for name in &names {
        let established = kube::runtime::conditions::is_crd_established();
        let waiting = kube::runtime::wait::await_condition(api.clone(), name, established);
        tokio::time::timeout(Duration::from_secs(60), waiting)
            .await
            .map_err(|_| format!("{name} never became established"))??;
    }
    eprintln!("bare_client: {} CRDs established", names.len());
    Ok(())
}

fn namespace_of(index: u64, namespaces: u64) -> String {
    format!("bench-{}", index % namespaces.max(1))
}

/// The 3 store keys ExternalSecret `index` reads: spread so that every key is shared.
fn keys_of(index: u64, keys: u64) -> [u64; 3] {
    let keys = keys.max(1);
    [
        index % keys,
        (index * 7 + 3) % keys,
        (index * 13 + 5) % keys,
    ]
}

async fn seed(client: &kube::Client, options: &Options) -> Result<()> {
    let count = options.number("es", 1000)?;
    let keys = options.number("keys", 100)?;
    let namespaces = options.number("namespaces", 10)?;
    let unmanaged = options.number("unmanaged", 0)?;
    let unmanaged_bytes = usize::try_from(options.number("unmanaged-bytes", 10 * 1024)?)?;
    let concurrency = options.concurrency()?;
    let started = Instant::now();

    let namespace_api: Api<Namespace> = Api::all(client.clone());
    for n in 0..namespaces {
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace_of(n, namespaces)),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        namespace_api
            .create(&PostParams::default(), &namespace)
            .await?;
    }

    let store_resource = resource("ClusterSecretStore", "clustersecretstores");
    let data: Vec<Value> = (0..keys)
        .map(|k| json!({"key": format!("/k{k}"), "value": format!("value-{k}-{}", "x".repeat(24))}))
        .collect();
    let store = typed(
        &store_resource,
        json!({"metadata": {"name": STORE}, "spec": {"provider": {"fake": {"data": data}}}}),
    )?;
    Api::<DynamicObject>::all_with(client.clone(), &store_resource)
        .create(&PostParams::default(), &store)
        .await?;

    let resource = external_secrets();
    each((0..count).collect(), concurrency, |index| {
        let client = client.clone();
        let resource = resource.clone();
        async move {
            let namespace = namespace_of(index, namespaces);
            let data: Vec<Value> = keys_of(index, keys)
                .iter()
                .enumerate()
                .map(|(slot, key)| {
                    json!({"secretKey": format!("key{slot}"), "remoteRef": {"key": format!("/k{key}")}})
                })
                .collect();
            let es = typed(
                &resource,
                json!({
                    "metadata": {"name": format!("es-{index}"), "namespace": namespace},
                    "spec": {
                        "refreshInterval": "1h",
                        "secretStoreRef": {"name": STORE, "kind": "ClusterSecretStore"},
                        "target": {"name": format!("es-{index}")},
                        "data": data,
                    }
                }),
            )?;
            Api::<DynamicObject>::namespaced_with(client, &namespace, &resource)
                .create(&PostParams::default(), &es)
                .await?;
            Ok(())
        }
    })
    .await?;
    eprintln!(
        "bare_client: {count} ExternalSecrets in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    each((0..unmanaged).collect(), concurrency, |index| {
        let client = client.clone();
        async move {
            let namespace = namespace_of(index, namespaces);
            let blob: Vec<u8> = (0..unmanaged_bytes)
                .map(|i| b'a' + u8::try_from((i as u64 * 31 + index) % 26).unwrap_or(0))
                .collect();
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(format!("unmanaged-{index}")),
                    namespace: Some(namespace.clone()),
                    labels: Some([("app".to_owned(), "unrelated".to_owned())].into()),
                    ..ObjectMeta::default()
                },
                data: Some([("blob".to_owned(), ByteString(blob))].into()),
                ..Secret::default()
            };
            Api::<Secret>::namespaced(client, &namespace)
                .create(&PostParams::default(), &secret)
                .await?;
            Ok(())
        }
    })
    .await?;
    if unmanaged > 0 {
        eprintln!(
            "bare_client: {unmanaged} unmanaged Secrets of {unmanaged_bytes} bytes in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Whether `es` is Ready=True, with a `refreshTime` at or after `after` (Unix seconds) when
/// given.
fn is_ready(es: &DynamicObject, after: Option<i64>) -> bool {
    let ready = es
        .data
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
    let Some(after) = after else {
        return ready;
    };
    let refreshed = es
        .data
        .pointer("/status/refreshTime")
        .and_then(Value::as_str)
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .is_some_and(|t| t.unix_timestamp() >= after);
    ready && refreshed
}

async fn wait(client: &kube::Client, options: &Options) -> Result<()> {
    let count = usize::try_from(options.number("es", 1000)?)?;
    let after = match options.flags.get("refreshed-after") {
        Some(value) => Some(value.parse::<i64>()?),
        None => None,
    };
    let timeout = Duration::from_secs(options.number("timeout", 1800)?);
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &external_secrets());
    let mut ready: HashMap<(String, String), bool> = HashMap::new();
    let mut stream = std::pin::pin!(watcher(api, watcher::Config::default()));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_report = Instant::now();
    loop {
        let event = tokio::time::timeout_at(deadline, stream.try_next())
            .await
            .map_err(|_| {
                let done = ready.values().filter(|r| **r).count();
                format!("timed out with {done} of {count} ready")
            })??
            .ok_or("the watch ended")?;
        match event {
            watcher::Event::Apply(es) | watcher::Event::InitApply(es) => {
                let key = (es.namespace().unwrap_or_default(), es.name_any());
                ready.insert(key, is_ready(&es, after));
            }
            watcher::Event::Delete(es) => {
                ready.remove(&(es.namespace().unwrap_or_default(), es.name_any()));
            }
            watcher::Event::Init => ready.clear(),
            watcher::Event::InitDone => {
                println!("watching");
                std::io::stdout().flush()?;
            }
        }
        let done = ready.values().filter(|r| **r).count();
        if done >= count {
            println!("ready");
            std::io::stdout().flush()?;
            return Ok(());
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!("bare_client: {done} of {count} ready");
            last_report = Instant::now();
        }
    }
}

async fn refresh(client: &kube::Client, options: &Options) -> Result<()> {
    let interval = options.text("interval", "61m").to_owned();
    let resource = external_secrets();
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let list = api.list(&ListParams::default()).await?;
    let patch = json!({"spec": {"refreshInterval": interval}});
    each(list.items, options.concurrency()?, |es| {
        let client = client.clone();
        let resource = resource.clone();
        let patch = patch.clone();
        async move {
            let namespace = es.namespace().unwrap_or_default();
            Api::<DynamicObject>::namespaced_with(client, &namespace, &resource)
                .patch(
                    &es.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await?;
            Ok(())
        }
    })
    .await
}

/// The limit: what an operator must write for each ExternalSecret, and nothing else.
async fn secrets(client: &kube::Client, options: &Options) -> Result<()> {
    let with_status = options.switch("status");
    let started = Instant::now();
    let store: DynamicObject = Api::all_with(
        client.clone(),
        &resource("ClusterSecretStore", "clustersecretstores"),
    )
    .get(STORE)
    .await?;
    let values: HashMap<String, String> = store
        .data
        .pointer("/spec/provider/fake/data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            Some((
                entry["key"].as_str()?.to_owned(),
                entry["value"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let resource = external_secrets();
    let list = Api::<DynamicObject>::all_with(client.clone(), &resource)
        .list(&ListParams::default())
        .await?;
    let count = list.items.len();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "bare-client".into(),
            instance: None,
        },
    );
    each(list.items, options.concurrency()?, |es| {
        let client = client.clone();
        let values = &values;
        let resource = resource.clone();
        let recorder = recorder.clone();
        async move {
            let secret = secret_for(&es, values)?;
            let namespace = es.namespace().unwrap_or_default();
            let params = PostParams {
                field_manager: Some(eso::field_manager(&es.name_any())),
                ..PostParams::default()
            };
            Api::<Secret>::namespaced(client.clone(), &namespace)
                .create(&params, &secret)
                .await?;
            if with_status {
                let now = time::OffsetDateTime::now_utc()
                    .replace_nanosecond(0)?
                    .format(&time::format_description::well_known::Rfc3339)?;
                let status = json!({"status": {
                    "refreshTime": now,
                    "binding": {"name": secret.name_any()},
                    "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced",
                                    "message": "secret synced", "lastTransitionTime": now}],
                }});
                Api::<DynamicObject>::namespaced_with(client, &namespace, &resource)
                    .patch_status(
                        &es.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&status),
                    )
                    .await?;
                let event = Event {
                    type_: EventType::Normal,
                    reason: "Created".into(),
                    note: Some("secret created".into()),
                    action: "Sync".into(),
                    secondary: None,
                };
                recorder.publish(&event, &es.object_ref(&resource)).await?;
            }
            Ok(())
        }
    })
    .await?;
    eprintln!(
        "bare_client: {count} Secrets{} in {:.2} s",
        if with_status {
            " with status and event"
        } else {
            ""
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The Secret an operator writes for `es` (no template, creationPolicy Owner), from the fake
/// store's `values`.
fn secret_for(es: &DynamicObject, values: &HashMap<String, String>) -> Result<Secret> {
    let name = es.name_any();
    let namespace = es.namespace().unwrap_or_default();
    let mut data = BTreeMap::new();
    for entry in es
        .data
        .pointer("/spec/data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = entry["remoteRef"]["key"].as_str().ok_or("remoteRef.key")?;
        let value = values
            .get(key)
            .ok_or_else(|| format!("no {key} in the store"))?;
        let secret_key = entry["secretKey"].as_str().ok_or("secretKey")?;
        data.insert(
            secret_key.to_owned(),
            ByteString(value.clone().into_bytes()),
        );
    }
    let hash = eso::data_hash(data.iter().map(|(k, v)| (k, v.0.as_slice())));
    let target = es
        .data
        .pointer("/spec/target/name")
        .and_then(Value::as_str)
        .map_or_else(|| name.clone(), str::to_owned);
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(target),
            namespace: Some(namespace.clone()),
            labels: Some(
                [
                    (eso::MANAGED_LABEL.to_owned(), "true".to_owned()),
                    (
                        eso::CREATED_BY_LABEL.to_owned(),
                        eso::created_by(&namespace, &name),
                    ),
                ]
                .into(),
            ),
            annotations: Some([(eso::DATA_HASH_ANNOTATION.to_owned(), hash)].into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "external-secrets.io/v1".into(),
                kind: "ExternalSecret".into(),
                name,
                uid: es.uid().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        data: Some(data),
        type_: Some("Opaque".into()),
        ..Secret::default()
    })
}
