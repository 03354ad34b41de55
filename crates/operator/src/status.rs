//! ExternalSecret status as ESO writes it: when to refresh, the `Ready` condition's reasons
//! and messages, `refreshTime`, `syncedResourceVersion` and `binding`. Pure functions of the
//! object, the outcome and the clock, so every rule is unit-tested without a cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use keyward_api::{
    Binding, ExternalSecret, ExternalSecretCondition, ExternalSecretStatus, RefreshPolicy,
};
use keyward_sync::plan::Kept;
use keyward_sync::{Projected, Projection, SyncError, SyncErrorKind};
use time::OffsetDateTime;

use crate::eso;

/// The condition type ESO sets.
pub const READY: &str = "Ready";

/// A `Ready` condition: status, reason, message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ready {
    /// Whether the ExternalSecret is in sync.
    pub ok: bool,
    /// ESO's reason (`SecretSynced`, `SecretSyncedError`, `SecretDeleted`, `SecretMissing`).
    pub reason: &'static str,
    /// ESO's message; details go to the event, never here.
    pub message: &'static str,
}

/// The `Ready` condition of a reconcile's outcome.
pub fn ready(outcome: &Result<Projected, SyncError>) -> Ready {
    let ok = |reason, message| Ready {
        ok: true,
        reason,
        message,
    };
    let failed = |message| Ready {
        ok: false,
        reason: "SecretSyncedError",
        message,
    };
    match outcome {
        Ok(projected) => match projected.projection {
            Projection::Written { .. } | Projection::Kept(Kept::CreationPolicyNone) => {
                ok("SecretSynced", "secret synced")
            }
            Projection::Kept(Kept::Retained) => ok(
                "SecretSynced",
                "secret retained due to DeletionPolicy=Retain",
            ),
            Projection::Deleted | Projection::Kept(Kept::NothingToDelete) => ok(
                "SecretDeleted",
                "secret deleted due to DeletionPolicy=Delete",
            ),
            Projection::Kept(Kept::MergeTargetMissing) => ok(
                "SecretMissing",
                "secret will not be created due to CreationPolicy=Merge",
            ),
            Projection::Kept(Kept::Immutable) => {
                failed("could not update secret, target is immutable")
            }
        },
        Err(error) => match error.kind {
            SyncErrorKind::Target { .. } => failed(target_message(&error.message)),
            SyncErrorKind::Manifest if error.field == "spec.target" => {
                failed("could not delete secret")
            }
            _ => failed("could not get secret data from provider"),
        },
    }
}

fn target_message(detail: &str) -> &'static str {
    if detail.starts_with("target is owned by another ExternalSecret") {
        "target is owned by another ExternalSecret"
    } else if detail.starts_with("failed to take ownership") {
        "failed to take ownership of target secret"
    } else if detail.starts_with("could not update secret, target is immutable") {
        "could not update secret, target is immutable"
    } else {
        "could not update secret"
    }
}

/// The status after a reconcile that began at `start`: on success `refreshTime` and
/// `syncedResourceVersion` move on; the condition keeps its `lastTransitionTime` unless its
/// status flips (ESO's rule).
pub fn next_status(
    es: &ExternalSecret,
    ready: &Ready,
    start: OffsetDateTime,
    bound: Option<&str>,
) -> ExternalSecretStatus {
    let mut status = es.status.clone().unwrap_or_default();
    let status_text = if ready.ok { "True" } else { "False" };
    let previous = status.conditions.iter().find(|c| c.type_ == READY);
    let transition = match previous {
        Some(previous) if previous.status == status_text => previous.last_transition_time.clone(),
        _ => Some(rfc3339(start)),
    };
    let condition = ExternalSecretCondition {
        type_: READY.into(),
        status: status_text.into(),
        reason: Some(ready.reason.into()),
        message: Some(ready.message.into()),
        last_transition_time: transition,
    };
    status.conditions.retain(|c| c.type_ != READY);
    status.conditions.push(condition);
    if ready.ok {
        status.refresh_time = Some(rfc3339(start));
        status.synced_resource_version = Some(resource_version(es));
    }
    if let Some(name) = bound {
        status.binding = Some(Binding { name: name.into() });
    }
    status
}

/// ESO's `syncedResourceVersion` of the ExternalSecret as it is now.
pub fn resource_version(es: &ExternalSecret) -> String {
    let empty = BTreeMap::new();
    eso::synced_resource_version(
        es.metadata.generation.unwrap_or_default(),
        es.metadata.labels.as_ref().unwrap_or(&empty),
        es.metadata.annotations.as_ref().unwrap_or(&empty),
    )
}

/// RFC 3339 in whole seconds, as `metav1.Time` is written.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn refresh_time(es: &ExternalSecret) -> Option<OffsetDateTime> {
    let text = es.status.as_ref()?.refresh_time.as_deref()?;
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// ESO's `shouldRefresh`: whether the ExternalSecret is due for a fetch from its store.
pub fn should_refresh(es: &ExternalSecret, now: OffsetDateTime) -> bool {
    let synced = es
        .status
        .as_ref()
        .and_then(|s| s.synced_resource_version.clone())
        .unwrap_or_default();
    let last = refresh_time(es);
    if synced.is_empty() || last.is_none() {
        return true;
    }
    match es.spec.refresh_policy {
        Some(RefreshPolicy::CreatedOnce) => false,
        Some(RefreshPolicy::OnChange) => synced != resource_version(es),
        Some(RefreshPolicy::Periodic) | None => {
            let interval = keyward_sync::refresh::interval(es).unwrap_or(Duration::ZERO);
            if interval.is_zero() {
                return false;
            }
            if synced != resource_version(es) {
                return true;
            }
            let Some(last) = last else { return true };
            last > now || last + interval < now
        }
    }
}

/// Whether `es` is due only because its refresh interval passed: synced before, unchanged
/// since (same spec, labels and annotations, so no `force-sync` either). Such refreshes give
/// way to new and changed ExternalSecrets.
pub fn is_timed_refresh(es: &ExternalSecret, now: OffsetDateTime) -> bool {
    let synced = es
        .status
        .as_ref()
        .and_then(|s| s.synced_resource_version.as_deref())
        .unwrap_or_default();
    !synced.is_empty()
        && refresh_time(es).is_some()
        && synced == resource_version(es)
        && should_refresh(es, now)
}

/// Whether `es` changed since its last sync (`force-sync`, an edited spec, label or
/// annotation): someone asked for a refresh now, and its reads must see the store as it is
/// (`keyward_providers::fresh_reads`), not as a read a few seconds ago saw it.
pub fn is_change_since_sync(es: &ExternalSecret) -> bool {
    es.status
        .as_ref()
        .and_then(|s| s.synced_resource_version.as_deref())
        .is_some_and(|synced| !synced.is_empty() && synced != resource_version(es))
}

/// How long until a Periodic ExternalSecret that is not due yet is due: the interval minus
/// the time since its last refresh. `None`: not on a timer.
pub fn remaining(es: &ExternalSecret, now: OffsetDateTime) -> Option<Duration> {
    let periodic = matches!(es.spec.refresh_policy, None | Some(RefreshPolicy::Periodic));
    let interval = keyward_sync::refresh::interval(es).ok()?;
    if !periodic || interval.is_zero() {
        return None;
    }
    let since = refresh_time(es).map_or(Duration::ZERO, |last| {
        Duration::try_from(now - last).unwrap_or(Duration::ZERO)
    });
    Some(interval.saturating_sub(since).max(Duration::from_secs(1)))
}

/// ESO's `isSecretValid`: the Secret exists, carries the managed label, and its data still
/// hash to its data-hash annotation (nobody edited them).
pub fn secret_valid(secret: Option<&Secret>) -> bool {
    let Some(secret) = secret else {
        return false;
    };
    let labels = secret.metadata.labels.as_ref();
    let managed = labels
        .and_then(|l| l.get(eso::MANAGED_LABEL))
        .map(String::as_str)
        == Some("true");
    let recorded = secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(eso::DATA_HASH_ANNOTATION));
    let empty = BTreeMap::new();
    let data = secret.data.as_ref().unwrap_or(&empty);
    let actual = eso::data_hash(data.iter().map(|(k, v)| (k, v.0.as_slice())));
    managed && recorded == Some(&actual)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es(policy: Option<RefreshPolicy>, interval: &str) -> ExternalSecret {
        let mut es = ExternalSecret::new("db", Default::default());
        es.metadata.generation = Some(1);
        es.spec.refresh_policy = policy;
        es.spec.refresh_interval = Some(interval.into());
        es
    }

    fn synced(mut es: ExternalSecret, at: OffsetDateTime) -> ExternalSecret {
        let version = resource_version(&es);
        es.status = Some(ExternalSecretStatus {
            refresh_time: Some(rfc3339(at)),
            synced_resource_version: Some(version),
            ..Default::default()
        });
        es
    }

    #[test]
    fn only_an_unchanged_synced_external_secret_past_its_interval_is_a_timed_refresh() {
        let now = OffsetDateTime::now_utc();
        let later = now + time::Duration::hours(2);
        assert!(
            !is_timed_refresh(&es(None, "1h"), later),
            "never synced: new"
        );
        let fresh = synced(es(None, "1h"), now);
        assert!(!is_timed_refresh(&fresh, now), "not due");
        assert!(is_timed_refresh(&fresh, later), "due by the clock");
        let mut forced = fresh.clone();
        forced.metadata.annotations = Some([("force-sync".into(), "1".into())].into());
        assert!(!is_timed_refresh(&forced, later), "force-sync: a change");
        let mut edited = fresh.clone();
        edited.metadata.generation = Some(2);
        assert!(!is_timed_refresh(&edited, later), "a new spec: a change");

        // Only a change since a sync asks for reads that see the store as it is now.
        assert!(is_change_since_sync(&forced) && is_change_since_sync(&edited));
        assert!(
            !is_change_since_sync(&fresh),
            "due by the clock: shared reads do"
        );
        assert!(!is_change_since_sync(&es(None, "1h")), "never synced: new");
    }

    #[test]
    fn refresh_follows_eso() {
        let now = OffsetDateTime::now_utc();
        let minute = time::Duration::minutes(1);
        assert!(should_refresh(&es(None, "1h"), now), "never synced");
        let fresh = synced(es(None, "1h"), now - minute);
        assert!(!should_refresh(&fresh, now));
        assert!(
            should_refresh(&fresh, now + time::Duration::hours(2)),
            "interval passed"
        );
        let mut annotated = fresh.clone();
        annotated.metadata.annotations = Some([("force-sync".into(), "1".into())].into());
        assert!(
            should_refresh(&annotated, now),
            "a changed annotation forces a sync"
        );
        let once = synced(
            es(Some(RefreshPolicy::CreatedOnce), "1m"),
            now - minute * 60,
        );
        assert!(!should_refresh(&once, now));
        let zero = synced(es(None, "0"), now - minute * 60);
        assert!(!should_refresh(&zero, now));
        let on_change = synced(es(Some(RefreshPolicy::OnChange), "1m"), now - minute * 60);
        assert!(!should_refresh(&on_change, now));
        let mut changed = on_change.clone();
        changed.metadata.generation = Some(2);
        assert!(should_refresh(&changed, now));
        let remaining = remaining(&fresh, now).expect("periodic");
        assert!(
            (3_530..=3_541).contains(&remaining.as_secs()),
            "{remaining:?}"
        );
    }

    #[test]
    fn conditions_keep_their_transition_time_while_the_status_holds() {
        let start = OffsetDateTime::now_utc();
        let ok = Ready {
            ok: true,
            reason: "SecretSynced",
            message: "secret synced",
        };
        let first = next_status(
            &es(None, "1h"),
            &ok,
            start - time::Duration::hours(1),
            Some("db"),
        );
        let mut again = es(None, "1h");
        again.status = Some(first.clone());
        let second = next_status(&again, &ok, start, Some("db"));
        assert_eq!(
            second.conditions[0].last_transition_time,
            first.conditions[0].last_transition_time
        );
        assert_ne!(second.refresh_time, first.refresh_time);
        let failed = Ready {
            ok: false,
            reason: "SecretSyncedError",
            message: "could not get secret data from provider",
        };
        again.status = Some(second.clone());
        let third = next_status(&again, &failed, start, None);
        assert_eq!(
            third.refresh_time, second.refresh_time,
            "a failure keeps refreshTime"
        );
        assert_eq!(third.conditions.len(), 1);
        assert_eq!(third.conditions[0].status, "False");
        assert_eq!(third.binding, second.binding);
    }
}
