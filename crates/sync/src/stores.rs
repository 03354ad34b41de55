//! [`StoreSet`]: the stores of a run, validated up front, with one disciplined provider each.
//!
//! Each store's rate limit is the discipline's default (50 calls/s, burst 20: well inside
//! Azure Key Vault's documented limits), or what the store's annotations
//! `keyward.io/calls-per-second` and `keyward.io/burst` set. In-process stores (`fake`,
//! `local`) are not rate-limited: they make no network calls.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use keyward_api::generator::{GENERATORS_API_VERSION, GENERATORS_GROUP, GeneratorSpec};
use keyward_api::{
    ClusterSecretStore, GeneratorObject, GeneratorRef, NamespaceName, SecretStore, SecretStoreSpec,
    StoreKind, StoreRef,
};
use keyward_providers::{
    CallCounters, Credentials, DisciplineConfig, Disciplined, Provider, ProviderError,
    ProviderErrorKind, StoreId, registry,
};

type Built = Result<Arc<dyn Provider>, ProviderError>;

/// A store's spec and the rate limit its annotations ask for: what a disciplined provider
/// is built from, on a host or in a cluster.
#[derive(Debug)]
pub struct Store {
    /// The spec.
    pub spec: SecretStoreSpec,
    /// `(calls per second, burst)` from the annotations, or why they are invalid.
    limits: Result<(Option<NonZeroU32>, Option<NonZeroU32>), String>,
}

const RATE_ANNOTATION: &str = "keyward.io/calls-per-second";
const BURST_ANNOTATION: &str = "keyward.io/burst";
/// No real limit for stores without network calls (the token bucket needs some number).
const IN_PROCESS_LIMIT: NonZeroU32 = NonZeroU32::new(1_000_000).expect("non-zero");

impl Store {
    /// A store from its spec and annotations (`keyward.io/calls-per-second`, `keyward.io/burst`).
    pub fn new(spec: SecretStoreSpec, annotations: Option<&BTreeMap<String, String>>) -> Self {
        let number = |name: &str| -> Result<Option<NonZeroU32>, String> {
            match annotations.and_then(|a| a.get(name)) {
                None => Ok(None),
                Some(text) => text.trim().parse().map(Some).map_err(|_| {
                    format!("metadata.annotations.{name}: '{text}' is not a whole number above 0")
                }),
            }
        };
        let limits = number(RATE_ANNOTATION).and_then(|rate| Ok((rate, number(BURST_ANNOTATION)?)));
        Self { spec, limits }
    }

    /// The discipline for this store's provider.
    fn discipline(&self, provider: &str) -> Result<DisciplineConfig, String> {
        let (rate, burst) = self.limits.clone()?;
        let mut config = DisciplineConfig::default();
        if matches!(provider, "fake" | "local") {
            config.calls_per_second = IN_PROCESS_LIMIT;
            config.burst = IN_PROCESS_LIMIT;
        }
        if let Some(rate) = rate {
            config.calls_per_second = rate;
        }
        if let Some(burst) = burst {
            config.burst = burst;
        }
        Ok(config)
    }
}

/// Where the engine finds stores, and the ConfigMaps and Secrets templates read: the
/// manifests of a host run ([`StoreSet`]) or the cluster (the operator's reflectors).
#[async_trait::async_trait]
pub trait StoreLookup: Send + Sync {
    /// The namespace of manifests that name none.
    fn default_namespace(&self) -> &NamespaceName;

    /// The provider behind `store` for an ExternalSecret in `namespace`: one disciplined
    /// client per store identity, built on first use.
    fn provider(
        &self,
        store: &StoreRef,
        namespace: &str,
    ) -> Result<Arc<dyn Provider>, ProviderError>;

    /// The data of ConfigMap `namespace/name`, if there is one.
    async fn config_map(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>>;

    /// Where Secrets that stores and templates refer to are read.
    fn credentials(&self) -> &dyn Credentials;

    /// The spec of the generator `reference` names for an ExternalSecret in `namespace`, or
    /// why there is none (one line, as ESO words it where it has words).
    async fn generator(
        &self,
        namespace: &str,
        reference: &GeneratorRef,
    ) -> Result<GeneratorSpec, String> {
        let _ = (namespace, reference);
        Err("generators are not read here".to_owned())
    }
}

/// The checks ESO makes of a `generatorRef` before it looks the generator up: its group and a
/// kind keyward serves.
pub fn check_generator_ref(reference: &GeneratorRef) -> Result<(), String> {
    let api_version = reference
        .api_version
        .as_deref()
        .unwrap_or(GENERATORS_API_VERSION);
    let group = api_version.split_once('/').map_or("", |(group, _)| group);
    if group != GENERATORS_GROUP {
        return Err(format!(
            "unable to get generator: generatorRef may only reference the generators group, but got {group}"
        ));
    }
    match reference.kind.as_str() {
        "Password" | "UUID" | "Fake" | "ClusterGenerator" => Ok(()),
        other => Err(keyward_api::generator::not_served(other)),
    }
}

/// ESO's not-found text for a generator.
pub fn generator_not_found(reference: &GeneratorRef) -> String {
    format!(
        "unable to get generator: {}.{GENERATORS_GROUP} \"{}\" not found",
        reference.kind, reference.name
    )
}

#[async_trait::async_trait]
impl StoreLookup for StoreSet {
    fn default_namespace(&self) -> &NamespaceName {
        &self.default_namespace
    }

    fn provider(
        &self,
        store: &StoreRef,
        namespace: &str,
    ) -> Result<Arc<dyn Provider>, ProviderError> {
        StoreSet::provider(self, store, namespace)
    }

    async fn config_map(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>> {
        self.config_maps
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    fn credentials(&self) -> &dyn Credentials {
        self.credentials.as_ref()
    }

    async fn generator(
        &self,
        namespace: &str,
        reference: &GeneratorRef,
    ) -> Result<GeneratorSpec, String> {
        check_generator_ref(reference)?;
        let namespace = if reference.kind == "ClusterGenerator" {
            ""
        } else {
            namespace
        };
        let key = (
            reference.kind.clone(),
            namespace.to_owned(),
            reference.name.clone(),
        );
        match self.generators.get(&key) {
            Some(spec) => spec.clone(),
            None => Err(generator_not_found(reference)),
        }
    }
}

/// Every store given to a run, by kind, namespace and name.
#[derive(Debug)]
pub struct StoreSet {
    default_namespace: NamespaceName,
    namespaced: BTreeMap<(String, String), Store>,
    cluster: BTreeMap<String, Store>,
    credentials: Arc<dyn Credentials>,
    config_maps: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// Generators by kind, namespace (empty for a ClusterGenerator) and name.
    generators: BTreeMap<(String, String, String), Result<GeneratorSpec, String>>,
    counters: Arc<CallCounters>,
    built: Mutex<BTreeMap<(StoreKind, String, String), Built>>,
}

impl StoreSet {
    /// A set over the given stores. Providers are built (validated) on first use, once.
    pub fn new(
        stores: Vec<SecretStore>,
        cluster_stores: Vec<ClusterSecretStore>,
        default_namespace: &NamespaceName,
        credentials: Arc<dyn Credentials>,
    ) -> Self {
        let namespaced = stores
            .into_iter()
            .map(|store| {
                let namespace = store
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| default_namespace.to_string());
                let name = store.metadata.name.clone().unwrap_or_default();
                let annotations = store.metadata.annotations.as_ref();
                ((namespace, name), Store::new(store.spec, annotations))
            })
            .collect();
        let cluster = cluster_stores
            .into_iter()
            .map(|store| {
                let name = store.metadata.name.clone().unwrap_or_default();
                let annotations = store.metadata.annotations.as_ref();
                (name, Store::new(store.spec.store, annotations))
            })
            .collect();
        Self {
            default_namespace: default_namespace.clone(),
            namespaced,
            cluster,
            credentials,
            config_maps: BTreeMap::new(),
            generators: BTreeMap::new(),
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

    /// Generators given as manifests, for `dataFrom[].sourceRef.generatorRef`; a namespaced
    /// one without a namespace is in the default namespace.
    pub fn with_generators(mut self, generators: Vec<GeneratorObject>) -> Self {
        for generator in generators {
            let namespace = match (&generator.kind[..], generator.namespace) {
                ("ClusterGenerator", _) => String::new(),
                (_, Some(namespace)) => namespace,
                (_, None) => self.default_namespace.to_string(),
            };
            self.generators
                .insert((generator.kind, namespace, generator.name), generator.spec);
        }
        self
    }

    /// Keep every store read (store, key, version; never a value) until
    /// [`CallCounters::take_reads`] takes it: for the audit log. Before any store is used.
    pub fn recording_reads(mut self) -> Self {
        self.counters = Arc::new(CallCounters::recording_reads());
        self
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
        let (entry, id, credential_namespace) = match store.kind {
            StoreKind::SecretStore => {
                let id = StoreId::namespaced(namespace, &store.name);
                let entry = self
                    .namespaced
                    .get(&(namespace.to_owned(), store.name.clone()))
                    .ok_or_else(|| missing(&id))?;
                (entry, id, namespace.to_owned())
            }
            StoreKind::ClusterSecretStore => {
                let id = StoreId::cluster(&store.name);
                let entry = self.cluster.get(&store.name).ok_or_else(|| missing(&id))?;
                check_conditions(&entry.spec, namespace, &id)?;
                (entry, id, namespace.to_owned())
            }
        };
        let identity = entry.identity(store.kind, &credential_namespace);
        let cache_key = (store.kind, identity, store.name.clone());
        let mut built = self.built.lock().map_err(|_| {
            ProviderError::new(
                ProviderErrorKind::Misconfigured,
                id.as_str(),
                None,
                "store table poisoned",
            )
        })?;
        built
            .entry(cache_key)
            .or_insert_with(|| self.build(entry, id, &credential_namespace))
            .clone()
    }

    fn build(&self, entry: &Store, id: StoreId, credential_namespace: &str) -> Built {
        entry.build(
            id,
            credential_namespace,
            Arc::clone(&self.credentials),
            Arc::clone(&self.counters),
        )
    }
}

impl Store {
    /// Builds (and so validates) this store's provider for ExternalSecrets whose Secret
    /// references resolve in `credential_namespace`, wrapped in the call discipline.
    pub fn build(
        &self,
        id: StoreId,
        credential_namespace: &str,
        credentials: Arc<dyn Credentials>,
        counters: Arc<CallCounters>,
    ) -> Result<Arc<dyn Provider>, ProviderError> {
        let provider_name = self.spec.provider.single().map(|(name, _)| name.to_owned());
        let discipline = self
            .discipline(provider_name.as_deref().unwrap_or(""))
            .map_err(|message| {
                ProviderError::new(ProviderErrorKind::Misconfigured, id.as_str(), None, message)
            })?;
        let provider = registry::build(id, &self.spec.provider, credential_namespace, credentials)?;
        Ok(Arc::new(Disciplined::new(provider, discipline, counters)))
    }

    /// The identity of this store's client for a reader in `namespace`: a ClusterSecretStore
    /// whose references all name their namespace has one client, whichever namespace reads
    /// through it; otherwise each namespace has its own.
    pub fn identity(&self, kind: StoreKind, namespace: &str) -> String {
        match kind {
            StoreKind::ClusterSecretStore if !refs_without_namespace(&self.spec.provider.0) => {
                String::new()
            }
            _ => namespace.to_owned(),
        }
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
        id.as_str(),
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
    if spec.allows_namespace(namespace, None) {
        Ok(())
    } else {
        Err(denied(id, namespace))
    }
}

/// The error of a namespace that a ClusterSecretStore's `spec.conditions` do not allow, in
/// ESO's words.
pub fn denied(id: &StoreId, namespace: &str) -> ProviderError {
    let name = id.name();
    ProviderError::new(
        ProviderErrorKind::PermissionDenied,
        id.as_str(),
        None,
        format!(
            "using cluster store \"{name}\" is not allowed from namespace \"{namespace}\": denied by spec.condition"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> BTreeMap<String, serde_json::Value> {
        serde_json::from_value(json).expect("map")
    }

    #[test]
    fn rate_limits_from_annotations_and_none_for_in_process_stores() {
        let annotations = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let plain = Store::new(SecretStoreSpec::default(), None);
        let vault = plain.discipline("vault").expect("default");
        assert_eq!(vault.calls_per_second.get(), 50);
        assert_eq!(
            plain.discipline("fake").expect("fake").calls_per_second,
            IN_PROCESS_LIMIT
        );

        let tuned = annotations(&[(RATE_ANNOTATION, "200"), (BURST_ANNOTATION, "40")]);
        let store = Store::new(SecretStoreSpec::default(), Some(&tuned));
        let config = store.discipline("azurekv").expect("tuned");
        assert_eq!(
            (config.calls_per_second.get(), config.burst.get()),
            (200, 40)
        );

        let bad = annotations(&[(RATE_ANNOTATION, "fast")]);
        let message = Store::new(SecretStoreSpec::default(), Some(&bad))
            .discipline("vault")
            .expect_err("invalid");
        assert!(
            message.contains("keyward.io/calls-per-second: 'fast'"),
            "{message}"
        );
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
