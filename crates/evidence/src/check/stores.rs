//! `keyward check --stores-only`: before anything is synced (a new cluster, a disaster
//! recovery), every key the manifests reference exists in its store, and so does each pinned
//! version, learned from metadata reads where the store has them ([`Provider::describe`]).
//!
//! Also the source of [`Source`]s: what each ExternalSecret reads, with the store's version
//! and its creation time, for `check --verify` (a projection older than its source is stale)
//! and for `keyward evidence` (rotation age).

use std::sync::Arc;

use keyward_api::{ExternalSecret, ExternalSecretFind, SourceRef, StoreRef};
use keyward_providers::{KeyInfo, Provider, ProviderError, ProviderErrorKind};
use keyward_sync::StoreLookup;
use serde::Serialize;

use super::{Checked, Finding, Severity};

/// One store reference of an ExternalSecret, as its manifest writes it.
#[derive(Clone, Debug)]
pub struct Reference {
    /// `spec.data[0]`, `spec.dataFrom[1]`.
    pub field: String,
    /// The store it reads.
    pub store: StoreRef,
    /// What it reads: a key (and pinned version), or the keys a find matches.
    pub read: Read,
}

/// What a reference reads.
#[derive(Clone, Debug)]
pub enum Read {
    /// One key (`data[].remoteRef`, `dataFrom[].extract`).
    Key {
        /// The key.
        key: String,
        /// The pinned version, if any.
        version: Option<String>,
    },
    /// The keys a `dataFrom[].find` matches.
    Find(ExternalSecretFind),
}

/// A key an ExternalSecret reads, as the store describes it (never its value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The manifest field that reads it.
    pub field: String,
    /// `SecretStore/ns/name` or `ClusterSecretStore/name`.
    pub store: String,
    /// The key in the store.
    pub key: String,
    /// The version the store holds (current or pinned), where it has ids.
    pub version: Option<String>,
    /// When that version was created (RFC 3339), where the store says.
    pub created: Option<String>,
}

/// Every store reference of `es` (generators are not stores and are left out).
pub fn references(es: &ExternalSecret) -> Vec<Reference> {
    let store_of = |source: Option<&SourceRef>| {
        source
            .and_then(|s| s.store_ref.clone())
            .or_else(|| es.spec.secret_store_ref.clone())
            .filter(|store| !store.name.is_empty())
    };
    let mut references = Vec::new();
    for (index, entry) in es.spec.data.iter().enumerate() {
        if let Some(store) = store_of(entry.source_ref.as_ref()) {
            references.push(Reference {
                field: format!("spec.data[{index}]"),
                store,
                read: Read::Key {
                    key: entry.remote_ref.key.clone(),
                    version: entry.remote_ref.version.clone(),
                },
            });
        }
    }
    for (index, entry) in es.spec.data_from.iter().enumerate() {
        let Some(store) = store_of(entry.source_ref.as_ref()) else {
            continue;
        };
        let field = format!("spec.dataFrom[{index}]");
        if let Some(extract) = &entry.extract {
            references.push(Reference {
                field: field.clone(),
                store: store.clone(),
                read: Read::Key {
                    key: extract.key.clone(),
                    version: extract.version.clone(),
                },
            });
        }
        if let Some(find) = &entry.find {
            references.push(Reference {
                field,
                store,
                read: Read::Find(find.clone()),
            });
        }
    }
    references
}

/// The namespace `es` reads its stores from.
pub fn namespace_of(es: &ExternalSecret, stores: &dyn StoreLookup) -> String {
    es.metadata
        .namespace
        .clone()
        .unwrap_or_else(|| stores.default_namespace().to_string())
}

/// Checks that every key `es` references exists in its store; the findings, and the sources
/// found.
pub async fn check_sources(
    es: &ExternalSecret,
    stores: &dyn StoreLookup,
) -> (Vec<Finding>, Vec<Source>) {
    let namespace = namespace_of(es, stores);
    let mut findings = Vec::new();
    let mut sources = Vec::new();
    for reference in references(es) {
        let provider = match stores.provider(&reference.store, &namespace) {
            Ok(provider) => provider,
            Err(error) => {
                findings.push(store_error(&reference.field, &error));
                continue;
            }
        };
        match &reference.read {
            Read::Key { key, version } => match provider.describe(key, version.as_deref()).await {
                Ok(info) => {
                    findings.push(found(&reference.field, key, &provider, &info));
                    sources.push(Source {
                        field: reference.field.clone(),
                        store: provider.store().to_string(),
                        key: key.clone(),
                        version: info.version,
                        created: info.created,
                    });
                }
                Err(error) => findings.push(store_error(&reference.field, &error)),
            },
            Read::Find(find) => match provider.list(find).await {
                Ok(keys) if keys.is_empty() => findings.push(Finding {
                    severity: Severity::Warning,
                    rule: "store-key",
                    message: format!(
                        "{}.find matches no key in {}: the target gets nothing from it",
                        reference.field,
                        provider.store()
                    ),
                }),
                Ok(keys) => findings.push(Finding {
                    severity: Severity::Info,
                    rule: "store-key",
                    message: format!(
                        "{}.find matches {} keys in {}",
                        reference.field,
                        keys.len(),
                        provider.store()
                    ),
                }),
                Err(error) => findings.push(store_error(&reference.field, &error)),
            },
        }
    }
    (findings, sources)
}

fn found(field: &str, key: &str, provider: &Arc<dyn Provider>, info: &KeyInfo) -> Finding {
    let mut message = format!("{field}: {key} exists in {}", provider.store());
    if let Some(version) = &info.version {
        message.push_str(&format!(", version {version}"));
    }
    if let Some(created) = &info.created {
        message.push_str(&format!(", created {created}"));
    }
    if info.read_value {
        message.push_str(" (this store has no metadata read: the value was read and dropped)");
    }
    Finding {
        severity: Severity::Info,
        rule: "store-key",
        message,
    }
}

/// A store error as a finding: a missing key or version is unhealthy, a store that cannot be
/// reached (or refuses keyward) is unreachable, anything else about the store unhealthy.
pub fn store_error(field: &str, error: &ProviderError) -> Finding {
    let severity = match error.kind {
        ProviderErrorKind::Unreachable
        | ProviderErrorKind::Throttled
        | ProviderErrorKind::PermissionDenied => Severity::Unreachable,
        _ => Severity::Unhealthy,
    };
    let rule = if error.kind == ProviderErrorKind::NotFound {
        "store-key"
    } else {
        "store"
    };
    Finding {
        severity,
        rule,
        message: format!("{field}: {error}"),
    }
}

/// `--stores-only` over the ExternalSecrets of a host run: one [`Checked`] each.
pub async fn check_stores(
    external_secrets: &[(&ExternalSecret, String)],
    stores: &dyn StoreLookup,
) -> Vec<Checked> {
    let mut checked = Vec::new();
    for (es, origin) in external_secrets {
        let (findings, _) = check_sources(es, stores).await;
        checked.push(Checked {
            kind: "ExternalSecret".into(),
            namespace: namespace_of(es, stores),
            name: es.metadata.name.clone().unwrap_or_default(),
            origin: origin.clone(),
            findings,
        });
    }
    checked
}
