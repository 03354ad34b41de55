//! `keyward check --verify`: proof that a projection holds what the store holds, without
//! showing either.
//!
//! The ExternalSecret is resolved from the store side (the store read with the checker's own
//! credentials, the template rendered as the sync engine renders it), the result fingerprinted
//! under the projection's fingerprint key, and compared per key with the fingerprints the
//! projection carries (the operator's `keyward.io/fingerprints` annotation, or those of the
//! files `keyward sync` wrote). A key that differs is told apart as stale when the store made
//! a newer version of a source after the projection's last refresh. Values live in memory
//! only as long as the comparison; reports carry key names and verdicts.

use std::collections::BTreeSet;

use keyward_api::ExternalSecret;
use keyward_core::{FingerprintKey, Fingerprints};
use keyward_sync::StoreLookup;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::stores::{self, Source};
use super::{Finding, Severity};

/// What the projection is known to hold.
#[derive(Clone, Debug, Default)]
pub struct Projection {
    /// Its fingerprints; `None` when there is no projection (or none that carries them).
    pub fingerprints: Option<Fingerprints>,
    /// When it was last refreshed from the store (`status.refreshTime`, the file's time).
    pub refreshed: Option<OffsetDateTime>,
    /// Where the fingerprints came from, for the report (`annotation`, `files`, `Secret data`).
    pub read_from: &'static str,
    /// The store version of each value it was made from, where it records them (the
    /// operator's `keyward.io/source-versions` annotation).
    pub source_versions: Option<keyward_sync::engine::SourceVersions>,
}

/// One key's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    /// The projection holds what the store holds.
    Matches,
    /// The projection holds something else, and the store has nothing newer than it.
    Differs,
    /// The store made a newer version of a source after the projection was made from an
    /// older one: the projection follows at its next refresh.
    Stale {
        /// When the newer version was made (RFC 3339), where the store dates it.
        since: Option<String>,
        /// The store's current version, where the projection records which one it holds.
        store_version: Option<String>,
        /// The version the projection was made from, where it records it.
        projected_version: Option<String>,
    },
    /// The store side produces the key; the projection does not hold it.
    Missing,
    /// The projection holds a key the store side does not produce.
    Unexpected,
}

/// A key and its verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyVerdict {
    /// The key in the target.
    pub key: String,
    /// What was found.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// The verification of one ExternalSecret's projection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Per key, in key order.
    pub keys: Vec<KeyVerdict>,
    /// The sources read, as the store describes them.
    pub sources: Vec<Source>,
}

impl Verification {
    /// Whether every key matches.
    pub fn holds(&self) -> bool {
        self.keys.iter().all(|k| k.verdict == Verdict::Matches)
    }
}

/// Verifies `projection` of `es` against its stores under `key`. An error is a finding about
/// the ExternalSecret (a store down, a key missing, a template that fails), never a value.
pub async fn verify(
    es: &ExternalSecret,
    stores: &dyn StoreLookup,
    key: &FingerprintKey,
    projection: &Projection,
) -> Result<Verification, Finding> {
    let desired = keyward_sync::engine::resolve(es, stores)
        .await
        .map_err(|error| {
            use keyward_providers::ProviderErrorKind as Kind;
            let severity = match error.kind {
                keyward_sync::SyncErrorKind::Store(
                    Kind::Unreachable | Kind::Throttled | Kind::PermissionDenied,
                ) => Severity::Unreachable,
                _ => Severity::Unhealthy,
            };
            Finding {
                severity,
                rule: "verify",
                message: format!("the store side could not be resolved: {error}"),
            }
        })?;
    let wanted = Fingerprints::of(key, &desired.data);
    drop(desired);
    let held = projection.fingerprints.clone().unwrap_or_default();
    let names: BTreeSet<&String> = wanted.keys.keys().chain(held.keys.keys()).collect();
    let mut keys = Vec::new();
    let mut differing = false;
    for name in names {
        let verdict = match (wanted.keys.get(name), held.keys.get(name)) {
            (Some(a), Some(b)) if a == b => Verdict::Matches,
            (Some(_), Some(_)) => {
                differing = true;
                Verdict::Differs
            }
            (Some(_), None) => Verdict::Missing,
            (None, _) => Verdict::Unexpected,
        };
        keys.push(KeyVerdict {
            key: name.clone(),
            verdict,
        });
    }
    let (_, sources) = stores::check_sources(es, stores).await;
    let newer = match &projection.source_versions {
        Some(recorded) => moved_source(&sources, recorded),
        None => newer_source(&sources, projection.refreshed).map(|since| Verdict::Stale {
            since: Some(since),
            store_version: None,
            projected_version: None,
        }),
    };
    if differing && let Some(stale) = newer {
        for entry in &mut keys {
            if entry.verdict == Verdict::Differs {
                entry.verdict = stale.clone();
            }
        }
    }
    Ok(Verification { keys, sources })
}

/// A source whose store version is not the one the projection records, if any.
fn moved_source(
    sources: &[Source],
    recorded: &keyward_sync::engine::SourceVersions,
) -> Option<Verdict> {
    sources.iter().find_map(|source| {
        let held = recorded.get(&source.store)?.get(&source.key)?;
        let current = source.version.as_ref()?;
        (held != current).then(|| Verdict::Stale {
            since: source.created.clone(),
            store_version: Some(current.clone()),
            projected_version: Some(held.clone()),
        })
    })
}

/// The creation time of the newest source made after `refreshed`, if any.
fn newer_source(sources: &[Source], refreshed: Option<OffsetDateTime>) -> Option<String> {
    let refreshed = refreshed?;
    sources
        .iter()
        .filter_map(|source| {
            let text = source.created.as_deref()?;
            let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
            (at > refreshed).then(|| (at, text.to_owned()))
        })
        .max()
        .map(|(_, text)| text)
}

/// The findings a verification makes: `ok` for each key that matches, a failure for each that
/// does not.
pub fn findings(verification: &Verification, projection: &Projection) -> Vec<Finding> {
    let from = projection.read_from;
    if projection.fingerprints.is_none() {
        return vec![Finding {
            severity: Severity::Unhealthy,
            rule: "verify",
            message: "the projection does not exist or carries no fingerprints".into(),
        }];
    }
    verification
        .keys
        .iter()
        .map(|entry| {
            let key = &entry.key;
            let (severity, message) = match &entry.verdict {
                Verdict::Matches => (
                    Severity::Info,
                    format!("key {key} matches the store (fingerprints from the {from})"),
                ),
                Verdict::Differs => (
                    Severity::Unhealthy,
                    format!("key {key} differs from the store, which has nothing newer"),
                ),
                Verdict::Stale {
                    since,
                    store_version,
                    projected_version,
                } => (
                    Severity::Unhealthy,
                    stale_message(key, since, store_version, projected_version),
                ),
                Verdict::Missing => (
                    Severity::Unhealthy,
                    format!("key {key} comes from the store but the projection does not hold it"),
                ),
                Verdict::Unexpected => (
                    Severity::Unhealthy,
                    format!(
                        "key {key} is in the projection but the store side does not produce it"
                    ),
                ),
            };
            Finding {
                severity,
                rule: "verify",
                message,
            }
        })
        .collect()
}

fn stale_message(
    key: &str,
    since: &Option<String>,
    store_version: &Option<String>,
    projected_version: &Option<String>,
) -> String {
    let mut message = format!("key {key} is stale: the store has a newer version");
    if let (Some(current), Some(held)) = (store_version, projected_version) {
        message.push_str(&format!(" ({current}; the projection holds {held})"));
    }
    if let Some(since) = since {
        message.push_str(&format!(" since {since}"));
    }
    message.push_str("; it follows at the next refresh");
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(created: &str) -> Source {
        Source {
            field: "spec.data[0]".into(),
            store: "ClusterSecretStore/s".into(),
            key: "k".into(),
            version: None,
            created: Some(created.into()),
        }
    }

    #[test]
    fn a_recorded_version_the_store_moved_past_makes_it_stale() {
        let mut current = source("2026-01-03T10:00:00Z");
        current.version = Some("4".into());
        let recorded = [(
            "ClusterSecretStore/s".to_owned(),
            [("k".to_owned(), "3".to_owned())].into(),
        )]
        .into();
        let stale = moved_source(std::slice::from_ref(&current), &recorded).expect("stale");
        assert_eq!(
            findings(
                &Verification {
                    keys: vec![KeyVerdict {
                        key: "password".into(),
                        verdict: stale,
                    }],
                    sources: Vec::new(),
                },
                &Projection {
                    fingerprints: Some(Fingerprints::default()),
                    ..Projection::default()
                },
            )[0]
            .message,
            "key password is stale: the store has a newer version (4; the projection holds 3) since 2026-01-03T10:00:00Z; it follows at the next refresh"
        );
        current.version = Some("3".into());
        assert_eq!(moved_source(&[current], &recorded), None);
    }

    #[test]
    fn a_source_newer_than_the_refresh_makes_it_stale() {
        let refreshed = OffsetDateTime::parse("2026-01-02T00:00:00Z", &Rfc3339).ok();
        let sources = [
            source("2026-01-01T00:00:00Z"),
            source("2026-01-03T10:00:00.5Z"),
            source("not a time"),
        ];
        assert_eq!(
            newer_source(&sources, refreshed).as_deref(),
            Some("2026-01-03T10:00:00.5Z")
        );
        assert_eq!(newer_source(&sources[..1], refreshed), None);
        assert_eq!(newer_source(&sources, None), None);
    }
}
