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

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::PodSpec;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

/// Reloader's annotation for "restart when anything I read changes".
pub const AUTO: &str = "reloader.stakater.com/auto";
/// Reloader's annotation naming the Secrets to follow.
pub const RELOAD_SECRETS: &str = "secret.reloader.stakater.com/reload";
/// keyward's opt-in on an ExternalSecret: restart every workload that reads its Secret.
pub const RESTART_READERS: &str = "keyward.io/restart-readers";
/// The pod template annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// Restarts every workload of `namespace` that reads Secret `secret` and opted in (or every
/// one that reads it, when its ExternalSecret asks with `every_reader`); returns `Kind/name`
/// of those restarted.
pub async fn restart_readers(
    client: &kube::Client,
    namespace: &str,
    secret: &str,
    every_reader: bool,
) -> Vec<String> {
    let target = Target {
        namespace,
        secret,
        every_reader,
    };
    let mut restarted = Vec::new();
    restarted.extend(restart_kind::<Deployment>(client, &target, pod_of_deployment).await);
    restarted.extend(restart_kind::<StatefulSet>(client, &target, pod_of_stateful_set).await);
    restarted.extend(restart_kind::<DaemonSet>(client, &target, pod_of_daemon_set).await);
    restarted
}

/// The changed Secret, and whether its ExternalSecret opted every reader in.
struct Target<'a> {
    namespace: &'a str,
    secret: &'a str,
    every_reader: bool,
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
    target: &Target<'_>,
    pod_of: fn(&K) -> Option<&PodSpec>,
) -> Vec<String>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let (namespace, secret) = (target.namespace, target.secret);
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let workloads = match api.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(error) => {
            tracing::warn!(%error, %kind, namespace, "could not list workloads to restart");
            return Vec::new();
        }
    };
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut restarted = Vec::new();
    for workload in workloads {
        if !follows(
            workload.annotations(),
            pod_of(&workload),
            secret,
            target.every_reader,
        ) {
            continue;
        }
        let name = workload.name_any();
        let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                tracing::info!(%kind, namespace, workload = %name, secret, "restarted a workload that reads a changed Secret");
                restarted.push(format!("{kind}/{name}"));
            }
            Err(error) => {
                tracing::warn!(%error, %kind, namespace, workload = %name, "could not restart a workload");
            }
        }
    }
    restarted
}

/// Whether a workload with `annotations` and pod spec `pod` follows `secret`: it names it, or
/// it reads it and opted in (itself, or through the ExternalSecret: `every_reader`).
fn follows(
    annotations: &std::collections::BTreeMap<String, String>,
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
}
