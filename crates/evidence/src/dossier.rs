//! `keyward evidence`: one dated folder an auditor can keep, holding what keyward can prove
//! about the projections without a single value.
//!
//! An [`Evidence`] is the inventory (ExternalSecrets, stores, targets, and which workloads read
//! which Secret and key), the health of each ExternalSecret, the age of each source version in
//! its store (rotation age), the per-key fingerprint verification, and an excerpt of the audit
//! log with its verification. [`crate::folder::write`] lays it out as
//! `DIR/<run id>/evidence.json` and `DIR/<run id>/index.html` (one self-contained page,
//! [`crate::html`]).
//!
//! What goes in comes from names, store metadata, fingerprints and verdicts; the gatherers
//! ([`gather_host`], [`crate::check::gather_cluster`]) never keep a value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::audit;
use crate::check::stores::{self, Source};
use crate::check::verify::{self, KeyVerdict, Projection, Verdict};
use crate::check::{Finding, Severity};

/// Everything one `keyward evidence` run found.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// `YYYYMMDDTHHMMSSZ-XXXX`: the folder's name.
    pub run_id: String,
    /// When it was gathered (RFC 3339).
    pub generated_at: String,
    /// The keyward that gathered it.
    pub keyward_version: String,
    /// What was looked at: `cluster` or the host manifests and their `--out`.
    pub scope: String,
    /// Counts for the first glance.
    pub summary: Summary,
    /// Each ExternalSecret.
    pub external_secrets: Vec<SecretEvidence>,
    /// Each store.
    pub stores: Vec<StoreEvidence>,
    /// Each read of a Secret by a workload.
    pub consumers: Vec<Consumer>,
    /// The audit log, when one was given.
    pub audit: Option<AuditEvidence>,
}

/// Counts over the whole run.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// ExternalSecrets looked at.
    pub external_secrets: usize,
    /// Those healthy and proved to match their stores.
    pub healthy: usize,
    /// Keys proved to match the store.
    pub keys_matching: usize,
    /// Keys stale, different, missing or unexpected.
    pub keys_failing: usize,
    /// The oldest source version, in days (rotation age).
    pub oldest_source_days: Option<f64>,
}

/// One ExternalSecret.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretEvidence {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Where it was read from (`FILE document N`, `cluster`).
    pub origin: String,
    /// The Secret (or host target) it projects to.
    pub target: String,
    /// Healthy: no finding worse than informational, and every key verified.
    pub healthy: bool,
    /// When the projection was last refreshed (RFC 3339).
    pub refreshed: Option<String>,
    /// What is wrong (health and verification), never a value.
    pub findings: Vec<Finding>,
    /// The verdict of each key.
    pub keys: Vec<KeyVerdict>,
    /// Where the projection's fingerprints were read.
    pub verified_from: Option<String>,
    /// What it reads from its stores, with the age of each version.
    pub sources: Vec<SourceAge>,
}

/// A source and how old its version is.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceAge {
    /// The source.
    #[serde(flatten)]
    pub source: Source,
    /// Days since the store made that version, where the store dates it.
    pub age_days: Option<f64>,
    /// The version the projection was made from, where it records it.
    pub projected_version: Option<String>,
}

/// One store.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreEvidence {
    /// `SecretStore` or `ClusterSecretStore`.
    pub kind: String,
    /// Its namespace (empty for a ClusterSecretStore).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The provider (`vault`, `aws`, `azurekv`, …).
    pub provider: String,
    /// What is wrong with it, if anything.
    pub findings: Vec<Finding>,
}

/// A workload reading a Secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Consumer {
    /// `Deployment`, `CronJob`, …
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The Secret it reads.
    pub secret: String,
    /// The key, when it reads one key.
    pub key: Option<String>,
    /// Where in the pod (`container app env DB_PASSWORD`).
    pub place: String,
}

/// The audit log, verified, with its last entries.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvidence {
    /// The log file.
    pub file: String,
    /// `intact`, `TAMPERED`, or `unverified` (no public key given).
    pub status: String,
    /// `keyward audit verify`'s summary line.
    pub verdict: String,
    /// The last entries (at most [`AUDIT_EXCERPT`]), as written.
    pub excerpt: Vec<serde_json::Value>,
    /// Per day: projections written, failed, and store reads.
    pub activity: Vec<DayActivity>,
}

/// One day of the audit log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DayActivity {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// `projection.written` entries.
    pub written: usize,
    /// `projection.failed` entries.
    pub failed: usize,
    /// `store.read` entries.
    pub reads: usize,
}

/// How many audit entries the excerpt keeps.
pub const AUDIT_EXCERPT: usize = 50;

/// What one ExternalSecret's verification found, turned into its evidence.
pub struct Verified {
    /// The verification, or why there is none.
    pub result: Result<verify::Verification, Finding>,
    /// The projection compared.
    pub projection: Projection,
}

impl SecretEvidence {
    /// The evidence of one ExternalSecret from its health `findings` and its verification.
    pub fn new(
        (namespace, name, origin, target): (String, String, String, String),
        mut findings: Vec<Finding>,
        verified: Verified,
        now: OffsetDateTime,
    ) -> Self {
        let (keys, sources) = match verified.result {
            Ok(verification) => {
                findings.extend(
                    verify::findings(&verification, &verified.projection)
                        .into_iter()
                        .filter(|f| f.severity > Severity::Info),
                );
                (verification.keys, verification.sources)
            }
            Err(finding) => {
                findings.push(finding);
                (Vec::new(), Vec::new())
            }
        };
        let recorded = verified
            .projection
            .source_versions
            .clone()
            .unwrap_or_default();
        let healthy = findings.iter().all(|f| f.severity <= Severity::Info)
            && !keys.is_empty()
            && keys.iter().all(|k| k.verdict == Verdict::Matches);
        Self {
            namespace,
            name,
            origin,
            target,
            healthy,
            refreshed: verified
                .projection
                .refreshed
                .and_then(|t| t.format(&Rfc3339).ok()),
            findings,
            keys,
            verified_from: verified
                .projection
                .fingerprints
                .is_some()
                .then(|| verified.projection.read_from.to_owned()),
            sources: sources
                .into_iter()
                .map(|source| SourceAge {
                    age_days: age_days(source.created.as_deref(), now),
                    projected_version: recorded
                        .get(&source.store)
                        .and_then(|keys| keys.get(&source.key))
                        .cloned(),
                    source,
                })
                .collect(),
        }
    }
}

fn age_days(created: Option<&str>, now: OffsetDateTime) -> Option<f64> {
    let created = OffsetDateTime::parse(created?, &Rfc3339).ok()?;
    let seconds = (now - created).as_seconds_f64().max(0.0);
    Some((seconds / 86_400.0 * 100.0).round() / 100.0)
}

impl Evidence {
    /// An evidence run over `scope`, dated now.
    pub fn new(
        scope: String,
        external_secrets: Vec<SecretEvidence>,
        stores: Vec<StoreEvidence>,
        consumers: Vec<Consumer>,
        audit: Option<AuditEvidence>,
    ) -> Self {
        let now = OffsetDateTime::now_utc();
        let keys = external_secrets.iter().flat_map(|es| &es.keys);
        let (matching, failing) = keys.fold((0, 0), |(m, f), k| {
            if k.verdict == Verdict::Matches {
                (m + 1, f)
            } else {
                (m, f + 1)
            }
        });
        let summary = Summary {
            external_secrets: external_secrets.len(),
            healthy: external_secrets.iter().filter(|es| es.healthy).count(),
            keys_matching: matching,
            keys_failing: failing,
            oldest_source_days: external_secrets
                .iter()
                .flat_map(|es| &es.sources)
                .filter_map(|s| s.age_days)
                .reduce(f64::max),
        };
        Self {
            run_id: run_id(now),
            generated_at: now.format(&Rfc3339).unwrap_or_default(),
            keyward_version: env!("CARGO_PKG_VERSION").to_owned(),
            scope,
            summary,
            external_secrets,
            stores,
            consumers,
            audit,
        }
    }
}

/// `20261203T205300Z-1a2b`: sortable by time, unique with the random tail.
fn run_id(now: OffsetDateTime) -> String {
    let mut tail = [0u8; 2];
    let _ = getrandom::fill(&mut tail);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{:02x}{:02x}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        tail[0],
        tail[1]
    )
}

/// Reads, verifies (with `key`, when given) and summarizes the audit log at `path`.
pub fn audit_evidence(
    path: &Path,
    key: Option<&ed25519_dalek::VerifyingKey>,
) -> std::io::Result<AuditEvidence> {
    let bytes = std::fs::read(path)?;
    let (status, verdict) = match key {
        Some(key) => {
            let verified = audit::verify(&bytes, key, None);
            let status = if verified.intact() {
                "intact"
            } else {
                "TAMPERED"
            };
            (
                status.to_owned(),
                verified.summary(&path.display().to_string()),
            )
        }
        None => (
            "unverified".to_owned(),
            "no public key given (--audit-key): the chain and signatures were not checked".into(),
        ),
    };
    let entries: Vec<serde_json::Value> = bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect();
    let mut days: BTreeMap<String, DayActivity> = BTreeMap::new();
    for entry in &entries {
        let Some(day) = entry["time"].as_str().and_then(|t| t.get(..10)) else {
            continue;
        };
        let activity = days.entry(day.to_owned()).or_insert_with(|| DayActivity {
            day: day.to_owned(),
            ..DayActivity::default()
        });
        match entry["event"].as_str() {
            Some("projection.written") => activity.written += 1,
            Some("projection.failed") => activity.failed += 1,
            Some("store.read") => activity.reads += 1,
            _ => {}
        }
    }
    let skip = entries.len().saturating_sub(AUDIT_EXCERPT);
    Ok(AuditEvidence {
        file: path.display().to_string(),
        status,
        verdict,
        excerpt: entries.into_iter().skip(skip).collect(),
        activity: days.into_values().collect(),
    })
}

/// The evidence of a host run: the ExternalSecrets of `session`, their targets under its
/// `--out`, and the stores and workloads of the manifests under `paths`.
pub async fn gather_host(
    session: &keyward_sync::run::Session,
    paths: &[PathBuf],
    default_namespace: &str,
) -> (Vec<SecretEvidence>, Vec<StoreEvidence>, Vec<Consumer>) {
    let now = OffsetDateTime::now_utc();
    let mut secrets = Vec::new();
    for (index, es) in session.external_secrets().into_iter().enumerate() {
        let namespace = stores::namespace_of(es, session.stores());
        let name = es.metadata.name.clone().unwrap_or_default();
        let target = es
            .spec
            .target
            .name
            .as_ref()
            .map_or_else(|| name.clone(), ToString::to_string);
        let projection = match session.projected(index) {
            Ok(Some(projected)) => Projection {
                fingerprints: Some(keyward_core::Fingerprints::of(
                    session.fingerprint_key(),
                    &projected.data,
                )),
                refreshed: projected.changed_at.map(OffsetDateTime::from),
                read_from: "files under --out",
                source_versions: None,
            },
            _ => Projection::default(),
        };
        let result =
            verify::verify(es, session.stores(), session.fingerprint_key(), &projection).await;
        let origin = session.origin(index).to_owned();
        secrets.push(SecretEvidence::new(
            (namespace, name, origin, target),
            Vec::new(),
            Verified { result, projection },
            now,
        ));
    }
    let (stores, consumers) = manifest_inventory(paths, default_namespace);
    (secrets, stores, consumers)
}

/// The stores and the workloads' Secret reads declared in the manifests under `paths`.
fn manifest_inventory(
    paths: &[PathBuf],
    default_namespace: &str,
) -> (Vec<StoreEvidence>, Vec<Consumer>) {
    use keyward_api::load::{self, Document};
    let mut stores = Vec::new();
    let mut consumers = Vec::new();
    for (origin, text) in load::read_manifests(paths) {
        let Ok(text) = text else { continue };
        for (_, document) in load::documents(&text, &origin).into_iter().flatten() {
            match document {
                Document::SecretStore(store) => stores.push(StoreEvidence {
                    kind: "SecretStore".into(),
                    namespace: store
                        .metadata
                        .namespace
                        .clone()
                        .unwrap_or_else(|| default_namespace.to_owned()),
                    name: store.metadata.name.clone().unwrap_or_default(),
                    provider: provider_name(&store.spec),
                    findings: Vec::new(),
                }),
                Document::ClusterSecretStore(store) => stores.push(StoreEvidence {
                    kind: "ClusterSecretStore".into(),
                    namespace: String::new(),
                    name: store.metadata.name.clone().unwrap_or_default(),
                    provider: provider_name(&store.spec.store),
                    findings: Vec::new(),
                }),
                Document::Other { object, .. } => {
                    consumers.extend(consumers_of(*object, default_namespace));
                }
                _ => {}
            }
        }
    }
    (stores, consumers)
}

/// The provider's name in a store's spec (`vault`, `aws`, …).
pub fn provider_name(spec: &keyward_api::SecretStoreSpec) -> String {
    spec.provider
        .single()
        .map(|(name, _)| name.to_owned())
        .unwrap_or_default()
}

/// The Secret reads of one workload object (nothing for other kinds).
pub fn consumers_of(object: serde_json::Value, default_namespace: &str) -> Vec<Consumer> {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let kind = text("/kind").unwrap_or_default();
    let name = text("/metadata/name").unwrap_or_default();
    let namespace = text("/metadata/namespace").unwrap_or_else(|| default_namespace.to_owned());
    let Ok(Some(pod)) = crate::check::workloads::pod_spec(&kind, object) else {
        return Vec::new();
    };
    pod_consumers(&kind, &namespace, &name, &pod)
}

/// The Secret reads of one pod spec.
pub fn pod_consumers(
    kind: &str,
    namespace: &str,
    name: &str,
    pod: &k8s_openapi::api::core::v1::PodSpec,
) -> Vec<Consumer> {
    crate::check::workloads::secret_uses(pod)
        .into_iter()
        .map(|secret_use| Consumer {
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            secret: secret_use.secret,
            key: secret_use.key,
            place: secret_use.place,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_days_with_two_decimals() {
        let now = OffsetDateTime::parse("2026-03-11T12:00:00Z", &Rfc3339).expect("time");
        assert_eq!(age_days(Some("2026-03-01T00:00:00Z"), now), Some(10.5));
        assert_eq!(age_days(Some("not a time"), now), None);
        assert_eq!(age_days(None, now), None);
    }

    #[test]
    fn run_ids_sort_by_time() {
        let now = OffsetDateTime::parse("2026-12-03T20:53:07Z", &Rfc3339).expect("time");
        let id = run_id(now);
        assert!(
            id.starts_with("20261203T205307Z-") && id.len() == 21,
            "{id}"
        );
    }
}
