//! `keyward rotate --cluster`: the same rotation, with the ExternalSecret and its store read
//! from the cluster, the operator making the Secret follow and restarting the workloads that
//! follow it.
//!
//! The steps: write the new version into the store (from this machine, with the store's
//! credentials read from the cluster as the operator reads them, with the caller's rights),
//! set `force-sync` on the ExternalSecret, wait until it is Ready with a Secret whose keyed
//! fingerprints changed (no value is read back), then wait for each workload that follows
//! the Secret to be restarted by the operator and rolled out (`kubectl rollout status`'s
//! judgement). Until the Secret has followed, a failure puts the store's previous value back
//! and forces a sync again, so store and Secret keep agreeing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use keyward_api::{ClusterSecretStore, ExternalSecret, NamespaceName, SecretStore};
use keyward_core::{ErrorKind, ExitCode, SecretValue};
use keyward_operator::consumers;
use keyward_operator::rollout::{self, Rollout};
use keyward_providers::ClusterCredentials;
use keyward_sync::StoreSet;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};

use super::{
    Journal, Rollback, RotateArgs, Subject, audit_of, invalid, namespace_and_name, rolled_back,
    seconds, store_failure, subject_of, write_new_value,
};
use crate::commands::Done;
use crate::failure::Failure;
use crate::output::Output;

/// How often the cluster is read while waiting.
const POLL: Duration = Duration::from_millis(250);

/// Runs `keyward rotate --cluster`.
pub(super) fn run(
    args: &RotateArgs,
    new_value: SecretValue,
    output: &Output,
) -> Result<Done, Failure> {
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(crate::state::default_state_dir);
    let audit = audit_of(args.audit_log.as_ref(), &state_dir)?;
    crate::commands::runtime()?.block_on(async {
        let client = crate::commands::cluster_client().await?;
        let (namespace, name) = namespace_and_name(args)?;
        let es = external_secret(&client, namespace, name).await?;
        let subject = subject_of(&es, 0, args)?;
        let stores = stores(&client, namespace).await?;
        let journal = Journal {
            output,
            audit,
            subject: subject.name.clone(),
            steps: Vec::new(),
        };
        let rotation = Rotation {
            args,
            client: &client,
            namespace,
            name,
            target: es
                .spec
                .target
                .name
                .as_ref()
                .map_or_else(|| name.to_owned(), ToString::to_string),
            every_reader: es
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(consumers::RESTART_READERS))
                .is_some_and(|value| value == "true"),
        };
        rotation.rotate(&stores, &subject, new_value, journal).await
    })
}

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("external-secrets.io", "v1", kind),
        plural,
    )
}

fn cluster_failure(what: &str, error: kube::Error) -> Failure {
    Failure::new(ErrorKind::Store, anyhow!(error).context(what.to_owned()))
}

/// The ExternalSecret `namespace/name`, as the cluster holds it.
async fn external_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<ExternalSecret, Failure> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &resource("ExternalSecret", "externalsecrets"),
    );
    let object = api
        .get_opt(name)
        .await
        .map_err(|e| cluster_failure("reading the ExternalSecret", e))?
        .ok_or_else(|| {
            invalid(format!(
                "no ExternalSecret {namespace}/{name} in the cluster"
            ))
        })?;
    let value =
        serde_json::to_value(object).map_err(|e| invalid(format!("{namespace}/{name}: {e}")))?;
    keyward_api::load::from_value(value).map_err(|e| {
        invalid(format!(
            "{namespace}/{name} does not load against the v1 schema: {e}"
        ))
    })
}

/// The namespace's SecretStores and the ClusterSecretStores, their credentials read from the
/// cluster with the caller's rights.
async fn stores(client: &kube::Client, namespace: &str) -> Result<StoreSet, Failure> {
    let list = |kind, plural, scoped: bool| {
        let resource = resource(kind, plural);
        let api: Api<DynamicObject> = if scoped {
            Api::namespaced_with(client.clone(), namespace, &resource)
        } else {
            Api::all_with(client.clone(), &resource)
        };
        async move {
            api.list(&Default::default())
                .await
                .map(|list| list.items)
                .map_err(|e| cluster_failure("listing the stores", e))
        }
    };
    let secret_stores = list("SecretStore", "secretstores", true).await?;
    let cluster_stores = list("ClusterSecretStore", "clustersecretstores", false).await?;
    let default_namespace = NamespaceName::parse(namespace)
        .map_err(|e| invalid(format!("--secret: the namespace {e}")))?;
    Ok(StoreSet::new(
        typed::<SecretStore>(secret_stores),
        typed::<ClusterSecretStore>(cluster_stores),
        &default_namespace,
        Arc::new(ClusterCredentials::new(client.clone())),
    ))
}

/// The objects that load as `T`; one that does not is left out, and an ExternalSecret that
/// uses it finds no store, which says so.
fn typed<T: serde::de::DeserializeOwned>(objects: Vec<DynamicObject>) -> Vec<T> {
    objects
        .into_iter()
        .filter_map(|object| serde_json::to_value(object).ok())
        .filter_map(|value| keyward_api::load::from_value(value).ok())
        .collect()
}

/// One rotation through the cluster.
struct Rotation<'a> {
    args: &'a RotateArgs,
    client: &'a kube::Client,
    namespace: &'a str,
    name: &'a str,
    target: String,
    every_reader: bool,
}

impl Rotation<'_> {
    async fn rotate(
        &self,
        stores: &StoreSet,
        subject: &Subject,
        new_value: SecretValue,
        mut journal: Journal<'_>,
    ) -> Result<Done, Failure> {
        let store_label = subject.store_label(self.namespace);
        let provider = stores
            .provider(&subject.store, self.namespace)
            .map_err(|e| store_failure("opening the store", &e))?;
        let followers =
            consumers::followers(self.client, self.namespace, &self.target, self.every_reader)
                .await
                .map_err(|e| cluster_failure("listing the workloads that read the Secret", e))?;
        if self.args.dry_run {
            self.plan(subject, &store_label, &followers, &mut journal);
            return Ok(journal.finish(ExitCode::Success));
        }
        let before = self.projection().await?;
        let restarted_before = self.restart_marks(&followers).await?;
        let rollback = Rollback::read(provider.as_ref(), subject, store_label).await?;
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.args.timeout;
        if let Err(failure) = write_new_value(
            self.args,
            subject,
            &rollback,
            new_value,
            deadline,
            &mut journal,
        )
        .await
        {
            journal.finish(ExitCode::Store);
            return Err(failure);
        }
        if let Err(reason) = self.follow(&before, deadline).await {
            journal.record("projection", false, reason.clone(), &[]);
            rollback.undo(&mut journal).await;
            // The operator may still be on its way with the new value: a second refresh
            // brings the Secret back to the value the store holds again.
            if let Err(error) = rollout::force_sync(self.client, self.namespace, self.name).await {
                tracing::warn!(%error, "could not force a sync after putting the previous value back");
            }
            journal.finish(ExitCode::Write);
            return Err(rolled_back(subject, &reason));
        }
        let after = self.projection().await?;
        journal.record(
            "projection",
            true,
            format!(
                "Secret {}/{} follows: Ready, fingerprints changed ({:.1}s)",
                self.namespace,
                self.target,
                started.elapsed().as_secs_f64()
            ),
            &[
                ("target", format!("{}/{}", self.namespace, self.target)),
                ("fingerprint", after.fingerprints.unwrap_or_default()),
            ],
        );
        self.wait_consumers(&followers, &restarted_before, started, journal)
            .await
    }

    fn plan(
        &self,
        subject: &Subject,
        store_label: &str,
        followers: &[String],
        journal: &mut Journal<'_>,
    ) {
        let force = if self.args.force {
            ", tagging it managed-by=keyward first"
        } else {
            ""
        };
        let workloads = match followers {
            [] => "no workload follows it: nothing to wait for".to_owned(),
            some => format!("would wait for {} to restart and roll out", some.join(", ")),
        };
        let steps = [
            format!(
                "would write a new version of {} in {store_label}{force}",
                subject.remote()
            ),
            format!(
                "would set force-sync on ExternalSecret {}/{} and wait for Secret {} to follow",
                self.namespace, self.name, self.target
            ),
            workloads,
        ];
        for step in steps {
            journal.record("plan", true, step, &[]);
        }
    }

    async fn projection(&self) -> Result<rollout::Projection, Failure> {
        rollout::projection(self.client, self.namespace, self.name, &self.target)
            .await
            .map_err(|e| cluster_failure("reading the ExternalSecret's status", e))
    }

    /// Each follower's `restartedAt` before the rotation, to tell the operator's restart.
    async fn restart_marks(&self, followers: &[String]) -> Result<Vec<Option<String>>, Failure> {
        let mut marks = Vec::with_capacity(followers.len());
        for workload in followers {
            let (restarted, _) = rollout::workload(self.client, self.namespace, workload)
                .await
                .map_err(|e| cluster_failure("reading a workload", e))?;
            marks.push(restarted);
        }
        Ok(marks)
    }

    /// Forces a sync and waits until the ExternalSecret is Ready with changed fingerprints.
    async fn follow(
        &self,
        before: &rollout::Projection,
        deadline: tokio::time::Instant,
    ) -> Result<(), String> {
        rollout::force_sync(self.client, self.namespace, self.name)
            .await
            .map_err(|e| format!("could not set force-sync: {e}"))?;
        let waited = tokio::time::timeout_at(deadline, async {
            loop {
                match self.projection().await {
                    Ok(now) if now.ready && now.fingerprints != before.fingerprints => return,
                    Ok(_) => {}
                    Err(failure) => tracing::debug!(error = %failure.message(), "retrying"),
                }
                tokio::time::sleep(POLL).await;
            }
        })
        .await;
        waited.map_err(|_| {
            format!(
                "Secret {}/{} did not follow within --timeout {} (is the operator running and leading?)",
                self.namespace,
                self.target,
                seconds(self.args.timeout)
            )
        })
    }

    /// Waits until every follower was restarted and rolled out, within --rollout-timeout.
    async fn wait_consumers(
        &self,
        followers: &[String],
        restarted_before: &[Option<String>],
        started: Instant,
        mut journal: Journal<'_>,
    ) -> Result<Done, Failure> {
        if followers.is_empty() {
            let detail = format!(
                "no workload follows Secret {}: nothing to restart",
                self.target
            );
            journal.record("consumers", true, detail, &[]);
            return Ok(journal.finish(ExitCode::Success));
        }
        let deadline = tokio::time::Instant::now() + self.args.rollout_timeout;
        let mut waiting = String::new();
        for (workload, before) in followers.iter().zip(restarted_before) {
            match self
                .rolled_out(workload, before.as_ref(), deadline, &mut waiting)
                .await
            {
                Ok(()) => {}
                Err(reason) => {
                    journal.record("consumers", false, reason.clone(), &[]);
                    journal.finish(ExitCode::Write);
                    return Err(Failure::new(
                        ErrorKind::Write,
                        anyhow!(
                            "{}: rotated, but the consumers did not follow: {reason}",
                            self.args.secret
                        ),
                    ));
                }
            }
        }
        let detail = format!(
            "{} restarted and rolled out ({:.1}s after the store write)",
            followers.join(", "),
            started.elapsed().as_secs_f64()
        );
        journal.record("consumers", true, detail, &[]);
        Ok(journal.finish(ExitCode::Success))
    }

    async fn rolled_out(
        &self,
        workload: &str,
        before: Option<&String>,
        deadline: tokio::time::Instant,
        waiting: &mut String,
    ) -> Result<(), String> {
        let waited = tokio::time::timeout_at(deadline, async {
            loop {
                match rollout::workload(self.client, self.namespace, workload).await {
                    Ok((restarted, _)) if restarted.as_ref() == before => {
                        *waiting = "the operator has not restarted it yet".into();
                    }
                    Ok((_, Rollout::Done)) => return Ok(()),
                    Ok((_, Rollout::Failed(reason))) => {
                        return Err(format!("{workload}: {reason}"));
                    }
                    Ok((_, Rollout::Waiting(what))) => *waiting = what,
                    Err(error) => *waiting = error.to_string(),
                }
                tokio::time::sleep(POLL).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| {
            Err(format!(
                "{workload} did not roll out within --rollout-timeout {}: {waiting}",
                seconds(self.args.rollout_timeout)
            ))
        })
    }
}
