//! `keyward check --stores-only` and `--verify` over the manifests of a host run: the stores
//! they declare, read with the credentials `keyward sync` would use, and (for `--verify`) the
//! targets `keyward sync` wrote under `--out`, fingerprinted in memory under the state
//! directory's key.

use keyward_core::Fingerprints;
use keyward_sync::run::Session;
use time::OffsetDateTime;

use super::verify::{self, Projection};
use super::{Checked, Finding, Report, Severity, stores};

/// What the host checks do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostCheck {
    /// Every referenced key exists in its store.
    StoresOnly,
    /// Every target under `--out` holds what the stores hold.
    Verify,
}

/// Runs `check` over every ExternalSecret of `session`; manifests that did not load are
/// invalid findings.
pub async fn check_host(session: &Session, check: HostCheck) -> Report {
    let mut report = Report::default();
    for row in &session.load_rows {
        let message = match &row.status {
            keyward_sync::run::Status::Failed(message) => message.clone(),
            _ => continue,
        };
        report.checked.push(Checked {
            kind: "file".into(),
            namespace: String::new(),
            name: row.external_secret.clone(),
            origin: row.external_secret.clone(),
            findings: vec![Finding {
                severity: Severity::Invalid,
                rule: "schema",
                message,
            }],
        });
    }
    for (index, es) in session.external_secrets().into_iter().enumerate() {
        let findings = match check {
            HostCheck::StoresOnly => stores::check_sources(es, session.stores()).await.0,
            HostCheck::Verify => verify_one(session, index).await,
        };
        report.checked.push(Checked {
            kind: "ExternalSecret".into(),
            namespace: stores::namespace_of(es, session.stores()),
            name: es.metadata.name.clone().unwrap_or_default(),
            origin: session.origin(index).to_owned(),
            findings,
        });
    }
    report
}

async fn verify_one(session: &Session, index: usize) -> Vec<Finding> {
    let Some(es) = session.external_secrets().get(index).copied() else {
        return Vec::new();
    };
    let projection = match session.projected(index) {
        Ok(Some(projected)) => Projection {
            fingerprints: Some(Fingerprints::of(session.fingerprint_key(), &projected.data)),
            refreshed: projected.changed_at.map(OffsetDateTime::from),
            read_from: "files under --out",
            source_versions: None,
        },
        Ok(None) => Projection::default(),
        Err(error) => {
            return vec![Finding {
                severity: Severity::Unhealthy,
                rule: "verify",
                message: format!("the target cannot be read: {error}"),
            }];
        }
    };
    match verify::verify(es, session.stores(), session.fingerprint_key(), &projection).await {
        Ok(verification) => verify::findings(&verification, &projection),
        Err(finding) => vec![finding],
    }
}
