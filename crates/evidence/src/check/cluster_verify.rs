//! `keyward check --verify` against a cluster: each ExternalSecret's Secret compared, per key,
//! with its stores, through the fingerprints the operator wrote on it.
//!
//! The stores are the cluster's SecretStores and ClusterSecretStores, built as the operator
//! builds them, their credentials read from the cluster with the checker's own rights. The
//! fingerprint key is read from the operator's Secret (`--fingerprint-key-secret`). A Secret
//! without the annotation (written by ESO, adopted without a write) is fingerprinted from its
//! data in memory, and the report says so.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use keyward_api::{ClusterSecretStore, ExternalSecret, NamespaceName, SecretStore};
use keyward_core::{FINGERPRINTS_ANNOTATION, FingerprintKey, Fingerprints, SecretValue};
use keyward_operator::fingerprint_key::{self, KeySecret};
use keyward_providers::ClusterCredentials;
use keyward_sync::StoreSet;
use kube::api::{Api, DynamicObject};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::verify::{self, Projection};
use super::{Checked, Finding, Severity};
use crate::dossier::Verified;

/// What `--verify` needs from the cluster: the key, and the stores.
pub struct ClusterVerifier {
    client: kube::Client,
    key: FingerprintKey,
    stores: StoreSet,
}

impl ClusterVerifier {
    /// Reads the fingerprint key and prepares the stores; a key that cannot be read is a
    /// finding about its Secret, and nothing is verified.
    pub async fn new(
        client: &kube::Client,
        key_secret: &KeySecret,
        stores: &[DynamicObject],
        cluster_stores: &[DynamicObject],
    ) -> Result<Self, Checked> {
        let key = fingerprint_key::load(client, key_secret)
            .await
            .map_err(|error| Checked {
                kind: "Secret".into(),
                namespace: key_secret.namespace.clone(),
                name: key_secret.name.clone(),
                origin: "cluster".into(),
                findings: vec![Finding {
                    severity: Severity::Unhealthy,
                    rule: "verify",
                    message: format!("nothing can be verified: {error}"),
                }],
            })?;
        let stores = StoreSet::new(
            typed::<SecretStore>(stores),
            typed::<ClusterSecretStore>(cluster_stores),
            &NamespaceName::parse("default").expect("a valid name"),
            Arc::new(ClusterCredentials::new(client.clone())),
        );
        Ok(Self {
            client: client.clone(),
            key,
            stores,
        })
    }

    /// The verification findings for one ExternalSecret.
    pub async fn findings(&self, object: &DynamicObject) -> Result<Vec<Finding>, kube::Error> {
        Ok(match self.verified(object).await? {
            None => Vec::new(),
            Some(Verified {
                result: Ok(verification),
                projection,
            }) => verify::findings(&verification, &projection),
            Some(Verified {
                result: Err(finding),
                ..
            }) => vec![finding],
        })
    }

    /// One ExternalSecret's verification; `None` for `creationPolicy: None` (it projects
    /// nothing of its own).
    pub async fn verified(&self, object: &DynamicObject) -> Result<Option<Verified>, kube::Error> {
        let Some(es) = typed::<ExternalSecret>(std::slice::from_ref(object)).pop() else {
            return Ok(Some(Verified {
                result: Err(Finding {
                    severity: Severity::Invalid,
                    rule: "verify",
                    message: "the ExternalSecret does not load against the v1 schema".into(),
                }),
                projection: Projection::default(),
            }));
        };
        if matches!(
            es.spec.target.creation_policy,
            Some(keyward_api::CreationPolicy::None)
        ) {
            return Ok(None);
        }
        let namespace = es.metadata.namespace.clone().unwrap_or_default();
        let target = target_name(&es);
        let projection = self.projection(object, &namespace, &target).await?;
        let stores = self.with_config_maps(&es, &namespace).await?;
        let result = verify::verify(&es, &stores, &self.key, &projection).await;
        Ok(Some(Verified { result, projection }))
    }

    async fn projection(
        &self,
        es: &DynamicObject,
        namespace: &str,
        target: &str,
    ) -> Result<Projection, kube::Error> {
        let refreshed = es
            .data
            .pointer("/status/refreshTime")
            .and_then(serde_json::Value::as_str)
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let Some(secret) = api.get_opt(target).await? else {
            return Ok(Projection::default());
        };
        let source_versions = secret
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(keyward_core::SOURCE_VERSIONS_ANNOTATION))
            .and_then(|text| serde_json::from_str(text).ok());
        let annotated = secret
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(FINGERPRINTS_ANNOTATION))
            .and_then(|text| Fingerprints::decode(text));
        Ok(match annotated {
            Some(fingerprints) => Projection {
                fingerprints: Some(fingerprints),
                refreshed,
                read_from: "Secret's annotation",
                source_versions,
            },
            None => {
                let data: BTreeMap<String, SecretValue> = secret
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, SecretValue::new(v.0)))
                    .collect();
                Projection {
                    fingerprints: Some(Fingerprints::of(&self.key, &data)),
                    refreshed,
                    read_from: "Secret's data (it has no fingerprint annotation yet)",
                    source_versions,
                }
            }
        })
    }

    /// The stores, with the ConfigMaps the ExternalSecret's templates read.
    async fn with_config_maps(
        &self,
        es: &ExternalSecret,
        namespace: &str,
    ) -> Result<StoreView<'_>, kube::Error> {
        let mut config_maps = BTreeMap::new();
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        let names = es
            .spec
            .target
            .template
            .iter()
            .flat_map(|t| &t.template_from)
            .filter_map(|from| from.config_map.as_ref())
            .map(|reference| reference.name.clone());
        for name in names {
            if let Some(map) = api.get_opt(&name).await? {
                config_maps.insert((namespace.to_owned(), name), map.data.unwrap_or_default());
            }
        }
        Ok(StoreView {
            stores: &self.stores,
            config_maps,
        })
    }
}

/// The cluster's stores with one ExternalSecret's ConfigMaps.
struct StoreView<'a> {
    stores: &'a StoreSet,
    config_maps: BTreeMap<(String, String), BTreeMap<String, String>>,
}

#[async_trait::async_trait]
impl keyward_sync::StoreLookup for StoreView<'_> {
    fn default_namespace(&self) -> &NamespaceName {
        keyward_sync::StoreLookup::default_namespace(self.stores)
    }

    fn provider(
        &self,
        store: &keyward_api::StoreRef,
        namespace: &str,
    ) -> Result<Arc<dyn keyward_providers::Provider>, keyward_providers::ProviderError> {
        keyward_sync::StoreLookup::provider(self.stores, store, namespace)
    }

    async fn config_map(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>> {
        self.config_maps
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    fn credentials(&self) -> &dyn keyward_providers::Credentials {
        keyward_sync::StoreLookup::credentials(self.stores)
    }
}

/// The Secret an ExternalSecret projects to.
pub fn target_name(es: &ExternalSecret) -> String {
    es.spec
        .target
        .name
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| es.metadata.name.clone())
        .unwrap_or_default()
}

/// The objects that load as `T` (an object that does not is left out; the check reports
/// such ExternalSecrets itself).
pub fn typed<T: serde::de::DeserializeOwned>(objects: &[DynamicObject]) -> Vec<T> {
    objects
        .iter()
        .filter_map(|object| serde_json::to_value(object).ok())
        .filter_map(|value| keyward_api::load::from_value(value).ok())
        .collect()
}
