//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leader election does
//! it, so that of several replicas exactly one reconciles and a standby takes over within the
//! lease duration when the leader dies.
//!
//! - A candidate takes the Lease when nobody holds it, or when the holder has not renewed it
//!   for the lease duration. "Not renewed" is judged by this process's own clock from when it
//!   last saw the record change (client-go's rule), so clocks that disagree between nodes do
//!   not matter.
//! - The leader renews every retry period. If it cannot renew for the renew deadline, it has
//!   lost the lease and stops (the process exits and is restarted as a candidate).
//! - Writes carry the Lease's `resourceVersion`: two candidates racing for an expired Lease
//!   cannot both win; the loser gets a conflict and stays a candidate.
//! - A leader that stops cleanly (SIGTERM) gives the Lease up, so a standby takes over at once.
//!
//! kube-rs has no leader election, and the crates that add one do not follow kube 5; this is
//! ~200 lines written against client-go's documented behaviour.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::time::Instant;

/// How a candidate competes.
#[derive(Clone, Debug)]
pub struct LeaderConfig {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This candidate's identity (`<hostname>_<random>`).
    pub identity: String,
    /// How long a Lease holds without renewal (client-go default 15 s).
    pub lease_duration: Duration,
    /// How long a leader keeps trying to renew before it gives up (10 s).
    pub renew_deadline: Duration,
    /// How often candidates try and leaders renew (2 s).
    pub retry_period: Duration,
}

impl LeaderConfig {
    /// client-go's timings for `name` in `namespace`, with a fresh identity.
    pub fn new(namespace: &str, name: &str) -> Self {
        let host = std::env::var("HOSTNAME")
            .or_else(|_| std::env::var("POD_NAME"))
            .unwrap_or_else(|_| "keyward".into());
        let mut random = [0u8; 6];
        let suffix = match getrandom::fill(&mut random) {
            Ok(()) => hex::encode(random),
            Err(_) => format!("{}", std::process::id()),
        };
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            identity: format!("{host}_{suffix}"),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// One candidate.
pub struct Election {
    api: Api<Lease>,
    config: LeaderConfig,
    /// The record last seen, and when this process saw it change.
    observed: Option<(String, Instant)>,
}

/// What a try at the Lease found.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// This candidate holds the Lease now.
    Leading,
    /// Somebody else does.
    Following,
}

impl Election {
    /// A candidate for the Lease `config` names.
    pub fn new(client: kube::Client, config: LeaderConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
        }
    }

    /// This candidate's identity.
    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    /// Waits until this candidate leads.
    pub async fn acquire(&mut self) {
        loop {
            match self.attempt().await {
                Ok(Attempt::Leading) => {
                    tracing::info!(identity = %self.config.identity, lease = %self.config.name, "leading");
                    return;
                }
                Ok(Attempt::Following) => {}
                Err(error) => {
                    tracing::warn!(%error, "leader election: could not read or write the Lease")
                }
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Renews the Lease until a renewal fails for longer than the renew deadline; returns
    /// then (leadership is lost).
    pub async fn hold(&mut self) {
        let mut last_renewal = Instant::now();
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            match self.attempt().await {
                Ok(Attempt::Leading) => last_renewal = Instant::now(),
                Ok(Attempt::Following) => {
                    tracing::error!("leader election: another candidate holds the Lease");
                    return;
                }
                Err(error) => tracing::warn!(%error, "leader election: renewal failed"),
            }
            if last_renewal.elapsed() > self.config.renew_deadline {
                tracing::error!("leader election: the Lease could not be renewed in time");
                return;
            }
        }
    }

    /// Gives the Lease up (a clean stop), so that a standby takes over at once.
    pub async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        if let Err(error) = self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            tracing::warn!(%error, "leader election: could not release the Lease");
        }
    }

    async fn attempt(&mut self) -> Result<Attempt, kube::Error> {
        let now = MicroTime(jiff_now());
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.record(now.clone(), now, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Leading),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Following),
                Err(error) => Err(error),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let fingerprint = format!(
            "{holder}|{:?}|{:?}",
            spec.renew_time.as_ref().map(|t| &t.0),
            spec.lease_transitions
        );
        let changed = self
            .observed
            .as_ref()
            .is_none_or(|(seen, _)| *seen != fingerprint);
        if changed {
            self.observed = Some((fingerprint, Instant::now()));
        }
        let held_by_me = holder == self.config.identity;
        let lease_duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.config.lease_duration, Duration::from_secs);
        let expired = self
            .observed
            .as_ref()
            .is_some_and(|(_, seen)| seen.elapsed() > lease_duration);
        if !held_by_me && !holder.is_empty() && !expired {
            return Ok(Attempt::Following);
        }
        let (acquired, transitions) = if held_by_me {
            (
                spec.acquire_time.clone().unwrap_or_else(|| now.clone()),
                spec.lease_transitions.unwrap_or(0),
            )
        } else {
            (now.clone(), spec.lease_transitions.unwrap_or(0) + 1)
        };
        lease.spec = Some(self.record(acquired, now, transitions));
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(Attempt::Leading),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Following),
            Err(error) => Err(error),
        }
    }

    fn record(&self, acquired: MicroTime, renewed: MicroTime, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: i32::try_from(self.config.lease_duration.as_secs()).ok(),
            acquire_time: Some(acquired),
            renew_time: Some(renewed),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }
}

fn jiff_now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}
