//! [`StoreSet`]: the stores of a run, validated up front, with one disciplined provider each.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use keyward_api::{ClusterSecretStore, SecretStore, SecretStoreSpec, StoreKind, StoreRef};
use keyward_providers::{
    CallCounters, Credentials, DisciplineConfig, Disciplined, Provider, ProviderError,
    ProviderErrorKind, StoreId, registry,
};

type Built = Result<Arc<dyn Provider>, ProviderError>;

/// Every store given to a run, by kind, namespace and name.
#[derive(Debug)]
pub struct StoreSet {
    default_namespace: String,
    namespaced: BTreeMap<(String, String), SecretStoreSpec>,
    cluster: BTreeMap<String, SecretStoreSpec>,
    credentials: Arc<dyn Credentials>,
    config_maps: BTreeMap<(String, String), BTreeMap<String, String>>,
    counters: Arc<CallCounters>,
    built: Mutex<BTreeMap<(StoreKind, String, String), Built>>,
}

impl StoreSet {
    /// A set over the given stores. Providers are built (validated) on first use, once.
    pub fn new(
        stores: Vec<SecretStore>,
        cluster_stores: Vec<ClusterSecretStore>,
        default_namespace: &str,
        credentials: Arc<dyn Credentials>,
    ) -> Self {
        let namespaced = stores
            .into_iter()
            .map(|store| {
                let namespace = store
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| default_namespace.to_owned());
                (
                    (namespace, store.metadata.name.clone().unwrap_or_default()),
                    store.spec,
                )
            })
            .collect();
        let cluster = cluster_stores
            .into_iter()
            .map(|store| {
                (
                    store.metadata.name.clone().unwrap_or_default(),
                    store.spec.store,
                )
            })
            .collect();
        Self {
            default_namespace: default_namespace.to_owned(),
            namespaced,
            cluster,
            credentials,
            config_maps: BTreeMap::new(),
            counters: Arc::new(CallCounters::default()),
            built: Mutex::new(BTreeMap::new()),
        }
    }

    /// ConfigMaps (by namespace and name) that `templateFrom.configMap` may read.
    pub fn with_config_maps(
        mut self,
        config_maps: BTreeMap<(String, String), BTreeMap<String, String>>,
    ) -> Self {
        self.config_maps = config_maps;
        self
    }

    /// The data of ConfigMap `namespace/name`, if one was given.
    pub fn config_map(&self, namespace: &str, name: &str) -> Option<&BTreeMap<String, String>> {
        self.config_maps
            .get(&(namespace.to_owned(), name.to_owned()))
    }

    /// Where Secrets that stores and templates refer to are read.
    pub fn credentials(&self) -> &dyn Credentials {
        self.credentials.as_ref()
    }

    /// The namespace of manifests that name none.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// Store calls made so far, by provider, call and status.
    pub fn counters(&self) -> &CallCounters {
        &self.counters
    }

    /// The provider behind `store` for an ExternalSecret in `namespace`.
    pub fn provider(
        &self,
        store: &StoreRef,
        namespace: &str,
    ) -> Result<Arc<dyn Provider>, ProviderError> {
        let (spec, id, credential_namespace) = match store.kind {
            StoreKind::SecretStore => {
                let id = StoreId(format!("SecretStore/{namespace}/{}", store.name));
                let spec = self
                    .namespaced
                    .get(&(namespace.to_owned(), store.name.clone()))
                    .ok_or_else(|| missing(&id))?;
                (spec, id, namespace.to_owned())
            }
            StoreKind::ClusterSecretStore => {
                let id = StoreId(format!("ClusterSecretStore/{}", store.name));
                let spec = self.cluster.get(&store.name).ok_or_else(|| missing(&id))?;
                check_conditions(spec, namespace, &id)?;
                (spec, id, namespace.to_owned())
            }
        };
        // One client per store and identity: a ClusterSecretStore whose references all name
        // their namespace has one identity, whichever namespace reads through it.
        let identity = match store.kind {
            StoreKind::ClusterSecretStore if !refs_without_namespace(&spec.provider.0) => {
                String::new()
            }
            _ => credential_namespace.clone(),
        };
        let cache_key = (store.kind, identity, store.name.clone());
        let mut built = self.built.lock().map_err(|_| {
            ProviderError::new(
                ProviderErrorKind::Misconfigured,
                &id.0,
                None,
                "store table poisoned",
            )
        })?;
        built
            .entry(cache_key)
            .or_insert_with(|| {
                registry::build(
                    id,
                    &spec.provider,
                    &credential_namespace,
                    Arc::clone(&self.credentials),
                )
                .map(|provider| {
                    Arc::new(Disciplined::new(
                        provider,
                        DisciplineConfig::default(),
                        Arc::clone(&self.counters),
                    )) as Arc<dyn Provider>
                })
            })
            .clone()
    }
}

/// Whether a provider block holds a Secret or ServiceAccount reference (`…Ref: {name: …}`)
/// without its own `namespace`: such a reference resolves in the reading ExternalSecret's
/// namespace, so each namespace is its own identity.
fn refs_without_namespace<'a>(
    entries: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
) -> bool {
    entries.into_iter().any(|(key, value)| {
        let unqualified_ref =
            key.ends_with("Ref") && value.get("name").is_some() && value.get("namespace").is_none();
        unqualified_ref
            || match value {
                serde_json::Value::Object(map) => refs_without_namespace(map),
                serde_json::Value::Array(items) => items
                    .iter()
                    .any(|item| item.as_object().is_some_and(refs_without_namespace)),
                _ => false,
            }
    })
}

fn missing(id: &StoreId) -> ProviderError {
    ProviderError::new(
        ProviderErrorKind::Misconfigured,
        &id.0,
        None,
        "no such store in the given manifests",
    )
}

/// ClusterSecretStore `spec.conditions`: the namespace must match one condition. Label
/// selectors need namespace labels, which only a cluster has: on a host they never match.
fn check_conditions(
    spec: &SecretStoreSpec,
    namespace: &str,
    id: &StoreId,
) -> Result<(), ProviderError> {
    if spec.conditions.is_empty() {
        return Ok(());
    }
    let allowed = spec.conditions.iter().any(|condition| {
        condition.namespaces.iter().any(|n| n == namespace)
            || condition
                .namespace_regexes
                .iter()
                .any(|pattern| regex::Regex::new(pattern).is_ok_and(|re| re.is_match(namespace)))
    });
    if allowed {
        Ok(())
    } else {
        Err(ProviderError::new(
            ProviderErrorKind::PermissionDenied,
            &id.0,
            None,
            format!("namespace {namespace} is not allowed by spec.conditions"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> BTreeMap<String, serde_json::Value> {
        serde_json::from_value(json).expect("map")
    }

    #[test]
    fn cluster_store_identity_depends_on_unqualified_refs() {
        let qualified = spec(serde_json::json!({"vault": {"auth": {"tokenSecretRef":
            {"name": "t", "key": "k", "namespace": "ops"}}}}));
        let unqualified = spec(
            serde_json::json!({"vault": {"auth": {"tokenSecretRef": {"name": "t", "key": "k"}}}}),
        );
        let in_a_list = spec(serde_json::json!({"x": {"refs": [{"keyRef": {"name": "t"}}]}}));
        let none = spec(serde_json::json!({"fake": {"data": [{"key": "a", "value": "b"}]}}));
        assert!(!refs_without_namespace(&qualified));
        assert!(refs_without_namespace(&unqualified));
        assert!(refs_without_namespace(&in_a_list));
        assert!(!refs_without_namespace(&none));
    }
}
