//! The Secrets a workload's pods read: env `secretKeyRef`, `envFrom`, `secret` and projected
//! volumes, and image pull secrets, in every container kind (init, ephemeral, regular).

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Container, KeyToPath, Pod, PodSpec};

/// The kinds whose pods are checked.
pub const KINDS: [&str; 7] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Pod",
];

/// One reference from a pod to a Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretUse {
    /// The Secret's name.
    pub secret: String,
    /// The key read, when one is (env `secretKeyRef`, volume `items`).
    pub key: Option<String>,
    /// `optional: true`: the pod starts without it.
    pub optional: bool,
    /// Where in the pod, e.g. `container app env DB_PASSWORD`.
    pub place: String,
}

/// The pod spec of a workload object, typed; `Ok(None)` for kinds without pods.
pub fn pod_spec(kind: &str, object: serde_json::Value) -> Result<Option<PodSpec>, String> {
    use keyward_api::load::from_value;
    let spec = match kind {
        "Deployment" => from_value::<Deployment>(object)?.spec.template.spec,
        "StatefulSet" => from_value::<StatefulSet>(object)?.spec.template.spec,
        "DaemonSet" => from_value::<DaemonSet>(object)?.spec.template.spec,
        "ReplicaSet" => from_value::<ReplicaSet>(object)?
            .spec
            .template
            .and_then(|t| t.spec),
        "Job" => from_value::<Job>(object)?
            .spec
            .and_then(|s| s.template.spec),
        "CronJob" => from_value::<CronJob>(object)?
            .spec
            .job_template
            .spec
            .and_then(|s| s.template.spec),
        "Pod" => from_value::<Pod>(object)?.spec,
        _ => None,
    };
    Ok(spec)
}

/// Every Secret `pod` reads, in the order a reader of the manifest meets them.
pub fn secret_uses(pod: &PodSpec) -> Vec<SecretUse> {
    let mut uses = Vec::new();
    for container in pod.init_containers.iter().flatten() {
        container_uses(container, "init container", &mut uses);
    }
    for container in &pod.containers {
        container_uses(container, "container", &mut uses);
    }
    for container in pod.ephemeral_containers.iter().flatten() {
        let place = format!("ephemeral container {}", container.name);
        env_uses(
            container.env.iter().flatten(),
            container.env_from.iter().flatten(),
            &place,
            &mut uses,
        );
    }
    for volume in pod.volumes.iter().flatten() {
        let place = format!("volume {}", volume.name);
        if let Some(source) = &volume.secret {
            let name = source.secret_name.clone().unwrap_or_default();
            item_uses(
                &name,
                source.items.as_deref(),
                source.optional,
                &place,
                &mut uses,
            );
        }
        let projections = volume
            .projected
            .iter()
            .flat_map(|p| p.sources.iter().flatten());
        for source in projections.filter_map(|p| p.secret.as_ref()) {
            let items = source.items.as_deref();
            item_uses(&source.name, items, source.optional, &place, &mut uses);
        }
    }
    for reference in pod.image_pull_secrets.iter().flatten() {
        uses.push(SecretUse {
            secret: reference.name.clone(),
            key: None,
            optional: false,
            place: "imagePullSecrets".into(),
        });
    }
    uses
}

fn container_uses(container: &Container, what: &str, uses: &mut Vec<SecretUse>) {
    let place = format!("{what} {}", container.name);
    env_uses(
        container.env.iter().flatten(),
        container.env_from.iter().flatten(),
        &place,
        uses,
    );
}

fn env_uses<'a>(
    env: impl Iterator<Item = &'a k8s_openapi::api::core::v1::EnvVar>,
    env_from: impl Iterator<Item = &'a k8s_openapi::api::core::v1::EnvFromSource>,
    place: &str,
    uses: &mut Vec<SecretUse>,
) {
    for variable in env {
        let selector = variable
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref());
        if let Some(selector) = selector {
            uses.push(SecretUse {
                secret: selector.name.clone(),
                key: Some(selector.key.clone()),
                optional: selector.optional.unwrap_or(false),
                place: format!("{place} env {}", variable.name),
            });
        }
    }
    for source in env_from {
        if let Some(reference) = &source.secret_ref {
            uses.push(SecretUse {
                secret: reference.name.clone(),
                key: None,
                optional: reference.optional.unwrap_or(false),
                place: format!("{place} envFrom"),
            });
        }
    }
}

/// A volume reads the whole Secret, or the keys its `items` name.
fn item_uses(
    secret: &str,
    items: Option<&[KeyToPath]>,
    optional: Option<bool>,
    place: &str,
    uses: &mut Vec<SecretUse>,
) {
    let optional = optional.unwrap_or(false);
    match items {
        Some(items) if !items.is_empty() => {
            for item in items {
                uses.push(SecretUse {
                    secret: secret.to_owned(),
                    key: Some(item.key.clone()),
                    optional,
                    place: place.to_owned(),
                });
            }
        }
        _ => uses.push(SecretUse {
            secret: secret.to_owned(),
            key: None,
            optional,
            place: place.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_reference_is_found() {
        let deployment = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {}, "template": {"spec": {
                "initContainers": [{"name": "migrate", "envFrom": [{"secretRef": {"name": "db"}}]}],
                "containers": [{"name": "app", "env": [
                    {"name": "PLAIN", "value": "x"},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token", "optional": true}}}
                ]}],
                "volumes": [
                    {"name": "tls", "secret": {"secretName": "tls", "items": [{"key": "tls.crt", "path": "c"}]}},
                    {"name": "all", "projected": {"sources": [{"secret": {"name": "bundle"}}]}}
                ],
                "imagePullSecrets": [{"name": "registry"}]
            }}}
        });
        let pod = pod_spec("Deployment", deployment)
            .expect("typed")
            .expect("pods");
        let uses = secret_uses(&pod);
        let seen: Vec<(&str, Option<&str>, bool, &str)> = uses
            .iter()
            .map(|u| {
                (
                    u.secret.as_str(),
                    u.key.as_deref(),
                    u.optional,
                    u.place.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("db", None, false, "init container migrate envFrom"),
                (
                    "db",
                    Some("password"),
                    false,
                    "container app env DB_PASSWORD"
                ),
                ("api", Some("token"), true, "container app env TOKEN"),
                ("tls", Some("tls.crt"), false, "volume tls"),
                ("bundle", None, false, "volume all"),
                ("registry", None, false, "imagePullSecrets"),
            ]
        );
    }

    #[test]
    fn cron_jobs_reach_their_pods_and_bad_shapes_are_errors() {
        let cron = serde_json::json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "job", "envFrom": [{"secretRef": {"name": "s"}}]}]
            }}}}}
        });
        let pod = pod_spec("CronJob", cron).expect("typed").expect("pods");
        assert_eq!(secret_uses(&pod)[0].secret, "s");
        let bad = serde_json::json!({"kind": "Pod", "spec": {"containers": "app"}});
        let error = pod_spec("Pod", bad).expect_err("not a list");
        assert!(error.starts_with("spec.containers"), "{error}");
        assert_eq!(pod_spec("Service", serde_json::json!({})), Ok(None));
    }
}
