//! `keyward check` against a running cluster: every ExternalSecret Ready and refreshed within
//! `--max-age`, its Secret there; every SecretStore and ClusterSecretStore Ready; every
//! workload's Secret references met by the Secrets the cluster holds, with the keys they read.
//!
//! Reads only: the ExternalSecret and store objects, the workloads, and the Secrets workloads
//! and ExternalSecrets name (their key names are kept, their values dropped at once).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{PodSpec, Secret};
use keyward_api::{ExternalSecretCondition, ExternalSecretStatus};
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};

use super::cluster_verify::{self, ClusterVerifier};
use super::verify::Projection;
use super::workloads::{self, SecretUse};
use super::{Checked, Finding, Report, Severity};
use crate::dossier::{Consumer, SecretEvidence, StoreEvidence, Verified, pod_consumers};

/// What the cluster check is told.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    /// Only this namespace; every namespace when `None`.
    pub namespace: Option<String>,
    /// An ExternalSecret refreshed longer ago than this is unhealthy.
    pub max_age: Option<Duration>,
    /// `--verify`: compare each Secret with its stores, under the fingerprint key in this
    /// Secret.
    pub verify: Option<keyward_operator::fingerprint_key::KeySecret>,
}

/// Checks what `client`'s cluster holds. An error is a failed API call (the cluster cannot be
/// read), not a finding.
pub async fn check_cluster(
    client: kube::Client,
    options: &ClusterOptions,
) -> Result<Report, kube::Error> {
    let mut report = Report::default();
    let mut secrets = SecretKeys::new(client.clone());
    let scope = options.namespace.as_deref();
    let stores = list(&client, scope, &resource("SecretStore", "secretstores")).await?;
    let cluster_stores = list(
        &client,
        None,
        &resource("ClusterSecretStore", "clustersecretstores"),
    )
    .await?;
    let verifier = match &options.verify {
        Some(key_secret) => {
            match ClusterVerifier::new(&client, key_secret, &stores, &cluster_stores).await {
                Ok(verifier) => Some(verifier),
                Err(checked) => {
                    report.checked.push(checked);
                    None
                }
            }
        }
        None => None,
    };
    for es in list(
        &client,
        scope,
        &resource("ExternalSecret", "externalsecrets"),
    )
    .await?
    {
        let mut findings = external_secret_findings(&es, options, &mut secrets).await?;
        if let Some(verifier) = &verifier {
            findings.extend(verifier.findings(&es).await?);
        }
        report
            .checked
            .push(checked_object("ExternalSecret", &es, findings));
    }
    for (kind, objects) in [
        ("SecretStore", &stores),
        ("ClusterSecretStore", &cluster_stores),
    ] {
        for store in objects {
            let findings = ready_finding(&status_of(store).conditions, kind)
                .into_iter()
                .collect();
            report.checked.push(checked_object(kind, store, findings));
        }
    }
    for (kind, namespace, name, pod) in workloads_of(&client, scope).await? {
        let mut findings = Vec::new();
        for secret_use in pod.as_ref().map(workloads::secret_uses).unwrap_or_default() {
            findings.extend(use_finding(&secret_use, &namespace, &mut secrets).await?);
        }
        report.checked.push(Checked {
            kind: kind.into(),
            namespace,
            name,
            origin: "cluster".into(),
            findings,
        });
    }
    Ok(report)
}

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(keyward_api::GROUP, "v1", kind),
        plural,
    )
}

async fn list(
    client: &kube::Client,
    namespace: Option<&str>,
    resource: &ApiResource,
) -> Result<Vec<DynamicObject>, kube::Error> {
    let api: Api<DynamicObject> = match namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, resource),
        None => Api::all_with(client.clone(), resource),
    };
    Ok(api.list(&ListParams::default()).await?.items)
}

fn status_of(object: &DynamicObject) -> ExternalSecretStatus {
    object
        .data
        .get("status")
        .cloned()
        .and_then(|status| keyward_api::load::from_value(status).ok())
        .unwrap_or_default()
}

fn checked_object(kind: &str, object: &DynamicObject, findings: Vec<Finding>) -> Checked {
    Checked {
        kind: kind.into(),
        namespace: object.metadata.namespace.clone().unwrap_or_default(),
        name: object.metadata.name.clone().unwrap_or_default(),
        origin: "cluster".into(),
        findings,
    }
}

/// The Ready condition, when it is not True.
fn ready_finding(conditions: &[ExternalSecretCondition], kind: &str) -> Option<Finding> {
    let Some(ready) = conditions.iter().find(|c| c.type_ == "Ready") else {
        return Some(unhealthy(
            "ready",
            format!(
                "no Ready condition: no operator has reconciled this {kind} (is one running for its controller class?)"
            ),
        ));
    };
    (ready.status != "True").then(|| {
        unhealthy(
            "ready",
            format!(
                "not Ready: {}: {}",
                ready.reason.as_deref().unwrap_or("no reason"),
                ready.message.as_deref().unwrap_or("no message")
            ),
        )
    })
}

async fn external_secret_findings(
    es: &DynamicObject,
    options: &ClusterOptions,
    secrets: &mut SecretKeys,
) -> Result<Vec<Finding>, kube::Error> {
    let status = status_of(es);
    let mut findings: Vec<Finding> = ready_finding(&status.conditions, "ExternalSecret")
        .into_iter()
        .collect();
    if let (Some(max_age), true) = (options.max_age, findings.is_empty()) {
        findings.extend(age_finding(status.refresh_time.as_deref(), max_age));
    }
    let policy = es
        .data
        .pointer("/spec/target/creationPolicy")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("Owner");
    if findings.is_empty() && policy != "None" {
        let namespace = es.metadata.namespace.clone().unwrap_or_default();
        let target = es
            .data
            .pointer("/spec/target/name")
            .and_then(serde_json::Value::as_str)
            .map_or_else(
                || es.metadata.name.clone().unwrap_or_default(),
                str::to_owned,
            );
        if secrets.keys(&namespace, &target).await?.is_none() {
            findings.push(unhealthy(
                "secret",
                format!("Ready, but its Secret {namespace}/{target} does not exist"),
            ));
        }
    }
    Ok(findings)
}

fn age_finding(refresh_time: Option<&str>, max_age: Duration) -> Option<Finding> {
    let parsed = refresh_time.and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    });
    let Some(refreshed) = parsed else {
        return Some(unhealthy(
            "age",
            "never refreshed (no status.refreshTime)".into(),
        ));
    };
    let age = time::OffsetDateTime::now_utc() - refreshed;
    (age > max_age).then(|| {
        unhealthy(
            "age",
            format!(
                "last refreshed {}s ago, more than --max-age {}s",
                age.whole_seconds(),
                max_age.as_secs()
            ),
        )
    })
}

/// Every workload's pod spec: Deployments, StatefulSets, DaemonSets, Jobs and CronJobs.
async fn workloads_of(
    client: &kube::Client,
    namespace: Option<&str>,
) -> Result<Vec<(&'static str, String, String, Option<PodSpec>)>, kube::Error> {
    let mut found = Vec::new();
    macro_rules! collect {
        ($kind:literal, $type:ty, $pod:expr) => {
            let api: Api<$type> = match namespace {
                Some(namespace) => Api::namespaced(client.clone(), namespace),
                None => Api::all(client.clone()),
            };
            for object in api.list(&ListParams::default()).await?.items {
                let namespace = object.metadata.namespace.clone().unwrap_or_default();
                let name = object.metadata.name.clone().unwrap_or_default();
                let pod: fn($type) -> Option<PodSpec> = $pod;
                found.push(($kind, namespace, name, pod(object)));
            }
        };
    }
    collect!("Deployment", Deployment, |d| d.spec.template.spec);
    collect!("StatefulSet", StatefulSet, |s| s.spec.template.spec);
    collect!("DaemonSet", DaemonSet, |d| d.spec.template.spec);
    collect!("Job", Job, |j| j.spec.and_then(|s| s.template.spec));
    collect!("CronJob", CronJob, |c| c
        .spec
        .job_template
        .spec
        .and_then(|s| s.template.spec));
    Ok(found)
}

/// What is wrong with one read of a Secret in the cluster, if anything.
async fn use_finding(
    secret_use: &SecretUse,
    namespace: &str,
    secrets: &mut SecretKeys,
) -> Result<Option<Finding>, kube::Error> {
    let (place, secret) = (&secret_use.place, &secret_use.secret);
    let severity = if secret_use.optional {
        Severity::Warning
    } else {
        Severity::Unhealthy
    };
    let finding = match (secrets.keys(namespace, secret).await?, &secret_use.key) {
        (None, _) => Some(Finding {
            severity,
            rule: "secret",
            message: format!("{place} reads Secret {namespace}/{secret}, which does not exist"),
        }),
        (Some(keys), Some(key)) if !keys.contains(key) => Some(Finding {
            severity,
            rule: "key",
            message: format!(
                "{place} reads key {key} of Secret {namespace}/{secret}, which does not hold it (it holds: {})",
                keys.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        }),
        _ => None,
    };
    Ok(finding)
}

/// The key names of Secrets, read once each; values are dropped as soon as they arrive.
struct SecretKeys {
    client: kube::Client,
    seen: BTreeMap<(String, String), Option<BTreeSet<String>>>,
}

impl SecretKeys {
    fn new(client: kube::Client) -> Self {
        Self {
            client,
            seen: BTreeMap::new(),
        }
    }

    async fn keys(
        &mut self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeSet<String>>, kube::Error> {
        let place = (namespace.to_owned(), name.to_owned());
        if let Some(keys) = self.seen.get(&place) {
            return Ok(keys.clone());
        }
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let keys = api.get_opt(name).await?.map(|secret| {
            let data = secret.data.into_iter().flat_map(BTreeMap::into_keys);
            let string_data = secret.string_data.into_iter().flat_map(BTreeMap::into_keys);
            data.chain(string_data).collect()
        });
        self.seen.insert(place, keys.clone());
        Ok(keys)
    }
}

fn unhealthy(rule: &'static str, message: String) -> Finding {
    Finding {
        severity: Severity::Unhealthy,
        rule,
        message,
    }
}

/// What `keyward evidence` gathers from a cluster: each ExternalSecret's health and
/// verification (under the fingerprint key in `key_secret`), the stores and their health, and
/// every workload's Secret reads.
pub async fn gather_cluster(
    client: kube::Client,
    options: &ClusterOptions,
    key_secret: &keyward_operator::fingerprint_key::KeySecret,
) -> Result<Gathered, kube::Error> {
    let now = time::OffsetDateTime::now_utc();
    let mut secrets = SecretKeys::new(client.clone());
    let scope = options.namespace.as_deref();
    let stores = list(&client, scope, &resource("SecretStore", "secretstores")).await?;
    let cluster_stores = list(
        &client,
        None,
        &resource("ClusterSecretStore", "clustersecretstores"),
    )
    .await?;
    let verifier = ClusterVerifier::new(&client, key_secret, &stores, &cluster_stores).await;
    let mut gathered = Gathered::default();
    for es in list(
        &client,
        scope,
        &resource("ExternalSecret", "externalsecrets"),
    )
    .await?
    {
        let findings = external_secret_findings(&es, options, &mut secrets).await?;
        let verified = match &verifier {
            Ok(verifier) => verifier.verified(&es).await?,
            Err(checked) => Some(Verified {
                result: Err(checked.findings.first().cloned().unwrap_or_else(|| {
                    unhealthy("verify", "the fingerprint key cannot be read".into())
                })),
                projection: Projection::default(),
            }),
        };
        let verified = verified.unwrap_or_else(|| Verified {
            result: Err(Finding {
                severity: Severity::Info,
                rule: "verify",
                message: "creationPolicy: None projects nothing to verify".into(),
            }),
            projection: Projection::default(),
        });
        let typed = cluster_verify::typed::<keyward_api::ExternalSecret>(std::slice::from_ref(&es));
        let target = typed
            .first()
            .map(cluster_verify::target_name)
            .unwrap_or_default();
        let mut evidence = SecretEvidence::new(
            (
                es.metadata.namespace.clone().unwrap_or_default(),
                es.metadata.name.clone().unwrap_or_default(),
                "cluster".into(),
                target,
            ),
            findings,
            verified,
            now,
        );
        if evidence.refreshed.is_none() {
            evidence.refreshed = status_of(&es).refresh_time;
        }
        gathered.external_secrets.push(evidence);
    }
    for (kind, objects) in [
        ("SecretStore", &stores),
        ("ClusterSecretStore", &cluster_stores),
    ] {
        for store in objects {
            let provider = store
                .data
                .pointer("/spec/provider")
                .and_then(serde_json::Value::as_object)
                .and_then(|p| p.keys().next().cloned())
                .unwrap_or_default();
            gathered.stores.push(StoreEvidence {
                kind: kind.into(),
                namespace: store.metadata.namespace.clone().unwrap_or_default(),
                name: store.metadata.name.clone().unwrap_or_default(),
                provider,
                findings: ready_finding(&status_of(store).conditions, kind)
                    .into_iter()
                    .collect(),
            });
        }
    }
    for (kind, namespace, name, pod) in workloads_of(&client, scope).await? {
        if let Some(pod) = pod {
            gathered
                .consumers
                .extend(pod_consumers(kind, &namespace, &name, &pod));
        }
    }
    Ok(gathered)
}

/// What [`gather_cluster`] found.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Each ExternalSecret.
    pub external_secrets: Vec<SecretEvidence>,
    /// Each store.
    pub stores: Vec<StoreEvidence>,
    /// Each workload's Secret reads.
    pub consumers: Vec<Consumer>,
}
