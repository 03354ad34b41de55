//! What a rotation through the cluster waits for: an ExternalSecret made to refresh now
//! (ESO's `force-sync` annotation), its Secret holding the new data, and the workloads that
//! follow it restarted and rolled out, judged as `kubectl rollout status` judges them.
//!
//! Reads only: names, statuses and the fingerprint annotation, never a Secret's data.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Secret;
use keyward_core::FINGERPRINTS_ANNOTATION;
use kube::api::{Api, Patch, PatchParams};

use crate::consumers::RESTARTED_AT;
use crate::resources;

/// The annotation whose change makes an ExternalSecret refresh at once (ESO's convention:
/// any change of metadata is a change of the object).
pub const FORCE_SYNC: &str = "force-sync";

/// Sets `force-sync` on ExternalSecret `namespace/name` to a new value (the current time in
/// nanoseconds), so the operator refreshes it now.
pub async fn force_sync(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<(), kube::Error> {
    let stamp = time::OffsetDateTime::now_utc()
        .unix_timestamp_nanos()
        .to_string();
    let patch = serde_json::json!({"metadata": {"annotations": {FORCE_SYNC: stamp}}});
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &resources::external_secret());
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
}

/// An ExternalSecret's projection as a rotation sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Projection {
    /// Its `Ready` condition is `True`.
    pub ready: bool,
    /// The Secret's keyed fingerprints annotation (`None`: no Secret, or no annotation).
    pub fingerprints: Option<String>,
}

/// The state of ExternalSecret `namespace/name` and of its Secret `target`.
pub async fn projection(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    target: &str,
) -> Result<Projection, kube::Error> {
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &resources::external_secret());
    let ready = api.get_opt(name).await?.is_some_and(|es| {
        es.data
            .pointer("/status/conditions")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|conditions| {
                conditions.iter().any(|c| {
                    c.get("type").and_then(serde_json::Value::as_str) == Some("Ready")
                        && c.get("status").and_then(serde_json::Value::as_str) == Some("True")
                })
            })
    });
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let fingerprints = secrets
        .get_metadata_opt(target)
        .await?
        .and_then(|secret| secret.metadata.annotations)
        .and_then(|mut annotations| annotations.remove(FINGERPRINTS_ANNOTATION));
    Ok(Projection {
        ready,
        fingerprints,
    })
}

/// Where a workload's rollout stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rollout {
    /// Every replica runs the current pod template and is available.
    Done,
    /// Still rolling; what it waits for.
    Waiting(String),
    /// It will not finish on its own (a Deployment past its progress deadline).
    Failed(String),
}

/// The pod template's `restartedAt` annotation and the rollout state of `workload`
/// (`Deployment/name`, `StatefulSet/name` or `DaemonSet/name`) in `namespace`.
pub async fn workload(
    client: &kube::Client,
    namespace: &str,
    workload: &str,
) -> Result<(Option<String>, Rollout), kube::Error> {
    let (kind, name) = workload.split_once('/').unwrap_or(("", workload));
    match kind {
        "Deployment" => {
            let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
            let deployment = api.get(name).await?;
            let restarted = restarted_at(&deployment.spec.template);
            Ok((restarted, deployment_rollout(&deployment)))
        }
        "StatefulSet" => {
            let api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
            let set = api.get(name).await?;
            let restarted = restarted_at(&set.spec.template);
            Ok((restarted, stateful_set_rollout(&set)))
        }
        "DaemonSet" => {
            let api: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
            let set = api.get(name).await?;
            let restarted = restarted_at(&set.spec.template);
            Ok((restarted, daemon_set_rollout(&set)))
        }
        _ => Ok((
            None,
            Rollout::Failed(format!(
                "{workload}: not a Deployment, StatefulSet or DaemonSet"
            )),
        )),
    }
}

fn restarted_at(template: &k8s_openapi::api::core::v1::PodTemplateSpec) -> Option<String> {
    template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(RESTARTED_AT).cloned())
}

/// `kubectl rollout status deployment`'s judgement.
pub fn deployment_rollout(deployment: &Deployment) -> Rollout {
    let generation = deployment.metadata.generation.unwrap_or(0);
    let Some(status) = &deployment.status else {
        return Rollout::Waiting("no status yet".into());
    };
    if status.observed_generation.unwrap_or(0) < generation {
        return Rollout::Waiting("the controller has not seen the new template yet".into());
    }
    let deadline_exceeded = status.conditions.iter().flatten().any(|c| {
        c.type_.as_deref() == Some("Progressing")
            && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    if deadline_exceeded {
        return Rollout::Failed("the Deployment exceeded its progress deadline".into());
    }
    let wanted = deployment.spec.replicas.unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < wanted {
        Rollout::Waiting(format!("{updated} of {wanted} replicas updated"))
    } else if replicas > updated {
        Rollout::Waiting(format!(
            "{} old replicas pending termination",
            replicas - updated
        ))
    } else if available < updated {
        Rollout::Waiting(format!(
            "{available} of {updated} updated replicas available"
        ))
    } else {
        Rollout::Done
    }
}

/// `kubectl rollout status statefulset`'s judgement (RollingUpdate without a partition).
pub fn stateful_set_rollout(set: &StatefulSet) -> Rollout {
    let generation = set.metadata.generation.unwrap_or(0);
    let Some(status) = &set.status else {
        return Rollout::Waiting("no status yet".into());
    };
    if status.observed_generation.unwrap_or(0) < generation {
        return Rollout::Waiting("the controller has not seen the new template yet".into());
    }
    let wanted = set.spec.replicas.unwrap_or(1);
    let ready = status.ready_replicas.unwrap_or(0);
    if ready < wanted {
        return Rollout::Waiting(format!("{ready} of {wanted} replicas ready"));
    }
    if status.update_revision.is_some() && status.update_revision != status.current_revision {
        return Rollout::Waiting(format!(
            "{} of {wanted} pods at the new revision",
            status.updated_replicas.unwrap_or(0)
        ));
    }
    Rollout::Done
}

/// `kubectl rollout status daemonset`'s judgement.
pub fn daemon_set_rollout(set: &DaemonSet) -> Rollout {
    let generation = set.metadata.generation.unwrap_or(0);
    let Some(status) = &set.status else {
        return Rollout::Waiting("no status yet".into());
    };
    if status.observed_generation.unwrap_or(0) < generation {
        return Rollout::Waiting("the controller has not seen the new template yet".into());
    }
    let wanted = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let available = status.number_available.unwrap_or(0);
    if updated < wanted {
        Rollout::Waiting(format!("{updated} of {wanted} pods updated"))
    } else if available < wanted {
        Rollout::Waiting(format!("{available} of {wanted} updated pods available"))
    } else {
        Rollout::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(json: serde_json::Value) -> Deployment {
        serde_json::from_value(json).expect("a Deployment")
    }

    #[test]
    fn a_deployment_is_rolled_out_when_every_replica_is_new_and_available() {
        let rolling = deployment(serde_json::json!({
            "metadata": {"name": "app", "generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 1}
        }));
        assert!(
            matches!(deployment_rollout(&rolling), Rollout::Waiting(w) if w.contains("old replicas"))
        );
        let unseen = deployment(serde_json::json!({
            "metadata": {"name": "app", "generation": 3},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
        }));
        assert!(matches!(deployment_rollout(&unseen), Rollout::Waiting(_)));
        let done = deployment(serde_json::json!({
            "metadata": {"name": "app", "generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
        }));
        assert_eq!(deployment_rollout(&done), Rollout::Done);
        let stuck = deployment(serde_json::json!({
            "metadata": {"name": "app", "generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1,
                       "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}
        }));
        assert!(matches!(deployment_rollout(&stuck), Rollout::Failed(_)));
    }

    #[test]
    fn stateful_and_daemon_sets_are_judged_as_kubectl_judges_them() {
        let set: StatefulSet = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "db", "generation": 2},
            "spec": {"replicas": 1, "selector": {}, "serviceName": "db", "template": {}},
            "status": {"observedGeneration": 2, "replicas": 1, "readyReplicas": 1,
                       "currentRevision": "db-1", "updateRevision": "db-2"}
        }))
        .expect("a StatefulSet");
        assert!(matches!(stateful_set_rollout(&set), Rollout::Waiting(_)));
        let mut done = set.clone();
        if let Some(status) = done.status.as_mut() {
            status.current_revision = Some("db-2".into());
        }
        assert_eq!(stateful_set_rollout(&done), Rollout::Done);
        let daemons: DaemonSet = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "agent", "generation": 4},
            "spec": {"selector": {}, "template": {}},
            "status": {"observedGeneration": 4, "desiredNumberScheduled": 0, "currentNumberScheduled": 0,
                       "numberMisscheduled": 0, "numberReady": 0}
        }))
        .expect("a DaemonSet");
        assert_eq!(
            daemon_set_rollout(&daemons),
            Rollout::Done,
            "no node, nothing to roll"
        );
    }
}
