//! [`ClusterStores`]: the stores of a cluster, as the sync engine looks them up.
//!
//! SecretStores, ClusterSecretStores and Namespaces come from reflectors (watched once,
//! read from memory). Each store's provider is built once per store identity and rebuilt
//! when the store is edited (its uid or generation changes) or dropped when it is deleted, so
//! every ExternalSecret that reads one store shares one client, one token and one call
//! discipline. Objects are kept as they come from the API server and parsed when used: a
//! store keyward cannot read fails the ExternalSecrets that use it, never the watch.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use keyward_api::generator::{ClusterGenerator, Fake, GeneratorSpec, Password, UUID};
use keyward_api::{GeneratorRef, NamespaceName, SecretStoreSpec, StoreKind, StoreRef};
use keyward_providers::{
    CallCounters, Credentials, Provider, ProviderError, ProviderErrorKind, StoreId,
};
use keyward_sync::StoreLookup;
use keyward_sync::stores::{Store, denied};
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::runtime::reflector::{ObjectRef, Store as Reader};

use crate::resources;

/// A built provider and the store version it was built from.
struct Built {
    uid: String,
    generation: i64,
    provider: Result<Arc<dyn Provider>, ProviderError>,
}

/// `(kind, namespace of the store, name, identity)`.
type BuiltKey = (StoreKind, String, String, String);

/// The cluster's stores for the engine.
pub struct ClusterStores {
    pub(crate) secret_stores: Reader<DynamicObject>,
    pub(crate) cluster_stores: Reader<DynamicObject>,
    pub(crate) namespaces: Reader<PartialObjectMeta<Namespace>>,
    client: kube::Client,
    credentials: Arc<dyn Credentials>,
    counters: Arc<CallCounters>,
    controller_class: String,
    default_namespace: NamespaceName,
    built: Mutex<HashMap<BuiltKey, Built>>,
}

impl std::fmt::Debug for ClusterStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterStores")
            .field("controller_class", &self.controller_class)
            .finish_non_exhaustive()
    }
}

/// What [`ClusterStores`] is made of.
pub struct StoreReaders {
    /// SecretStores.
    pub secret_stores: Reader<DynamicObject>,
    /// ClusterSecretStores.
    pub cluster_stores: Reader<DynamicObject>,
    /// Namespace labels, for ClusterSecretStore `spec.conditions`.
    pub namespaces: Reader<PartialObjectMeta<Namespace>>,
}

impl ClusterStores {
    /// Stores read from `readers`, their Secret references read through `credentials`.
    pub fn new(
        readers: StoreReaders,
        client: kube::Client,
        credentials: Arc<dyn Credentials>,
        counters: Arc<CallCounters>,
        controller_class: &str,
    ) -> Self {
        Self {
            secret_stores: readers.secret_stores,
            cluster_stores: readers.cluster_stores,
            namespaces: readers.namespaces,
            client,
            credentials,
            counters,
            controller_class: controller_class.to_owned(),
            // ExternalSecrets in a cluster always have a namespace; this is never used.
            // "default" is a DNS-1123 label, so the parse cannot fail.
            default_namespace: NamespaceName::parse("default").expect("a valid namespace name"),
            built: Mutex::new(HashMap::new()),
        }
    }

    /// Store calls made so far.
    pub fn counters(&self) -> &Arc<CallCounters> {
        &self.counters
    }

    /// The store object `store` names for an ExternalSecret in `namespace`, if it exists.
    pub fn object(&self, store: &StoreRef, namespace: &str) -> Option<Arc<DynamicObject>> {
        match store.kind {
            StoreKind::SecretStore => self.secret_stores.get(
                &ObjectRef::new_with(&store.name, resources::secret_store()).within(namespace),
            ),
            StoreKind::ClusterSecretStore => self.cluster_stores.get(&ObjectRef::new_with(
                &store.name,
                resources::cluster_secret_store(),
            )),
        }
    }

    /// Whether this operator serves `store` (`spec.controller` empty or its class). A store
    /// that does not exist is served: its absence is reported when it is used.
    pub fn serves(&self, store: &StoreRef, namespace: &str) -> bool {
        let Some(object) = self.object(store, namespace) else {
            return true;
        };
        let controller = object
            .data
            .pointer("/spec/controller")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        controller.is_empty() || controller == self.controller_class
    }

    /// The names of the stores of `kind` whose labels `selector` matches: SecretStores of
    /// `namespace` only, or ClusterSecretStores.
    pub fn labelled(
        &self,
        kind: StoreKind,
        namespace: &str,
        selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    ) -> Vec<String> {
        let (reader, namespaced) = match kind {
            StoreKind::SecretStore => (&self.secret_stores, true),
            StoreKind::ClusterSecretStore => (&self.cluster_stores, false),
        };
        let no_labels = BTreeMap::new();
        let mut names: Vec<String> = reader
            .state()
            .iter()
            .filter(|store| !namespaced || store.metadata.namespace.as_deref() == Some(namespace))
            .filter(|store| {
                let labels = store.metadata.labels.as_ref().unwrap_or(&no_labels);
                keyward_api::selects(selector, labels)
            })
            .filter_map(|store| store.metadata.name.clone())
            .collect();
        names.sort();
        names
    }

    fn namespace_labels(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.namespaces
            .get(&ObjectRef::new(namespace))
            .map(|ns| ns.metadata.labels.clone().unwrap_or_default())
    }

    fn lookup(
        &self,
        store: &StoreRef,
        namespace: &str,
    ) -> Result<Arc<dyn Provider>, ProviderError> {
        let (kind_name, id) = match store.kind {
            StoreKind::SecretStore => ("SecretStore", StoreId::namespaced(namespace, &store.name)),
            StoreKind::ClusterSecretStore => ("ClusterSecretStore", StoreId::cluster(&store.name)),
        };
        let misconfigured = |message: String| {
            ProviderError::new(ProviderErrorKind::Misconfigured, id.as_str(), None, message)
        };
        let store_namespace = match store.kind {
            StoreKind::SecretStore => namespace.to_owned(),
            StoreKind::ClusterSecretStore => String::new(),
        };
        let Some(object) = self.object(store, namespace) else {
            self.forget(store.kind, &store_namespace, &store.name);
            return Err(misconfigured(format!(
                "could not get {kind_name} \"{}\": not found",
                store.name
            )));
        };
        let spec: SecretStoreSpec = match object.data.get("spec") {
            Some(spec) => keyward_api::load::from_value(spec.clone())
                .map_err(|reason| misconfigured(format!("spec: {reason}")))?,
            None => SecretStoreSpec::default(),
        };
        let controller = spec.controller.as_deref().unwrap_or("");
        if !controller.is_empty() && controller != self.controller_class {
            return Err(misconfigured("can not reference unmanaged store".into()));
        }
        if store.kind == StoreKind::ClusterSecretStore
            && !spec.allows_namespace(namespace, self.namespace_labels(namespace).as_ref())
        {
            return Err(denied(&id, namespace));
        }
        let uid = object.metadata.uid.clone().unwrap_or_default();
        let generation = object.metadata.generation.unwrap_or_default();
        let config = Store::new(spec, object.metadata.annotations.as_ref());
        let identity = config.identity(store.kind, namespace);
        let key = (store.kind, store_namespace, store.name.clone(), identity);
        let mut built = self
            .built
            .lock()
            .map_err(|_| misconfigured("store table poisoned".into()))?;
        if let Some(entry) = built
            .get(&key)
            .filter(|entry| entry.uid == uid && entry.generation == generation)
        {
            return entry.provider.clone();
        }
        let provider = config.build(
            id,
            namespace,
            Arc::clone(&self.credentials),
            Arc::clone(&self.counters),
        );
        built.insert(
            key,
            Built {
                uid,
                generation,
                provider: provider.clone(),
            },
        );
        provider
    }

    /// Drops the clients of a store that no longer exists.
    fn forget(&self, kind: StoreKind, namespace: &str, name: &str) {
        if let Ok(mut built) = self.built.lock() {
            built.retain(|(k, ns, n, _), _| !(*k == kind && ns == namespace && n == name));
        }
    }
}

#[async_trait::async_trait]
impl StoreLookup for ClusterStores {
    fn default_namespace(&self) -> &NamespaceName {
        &self.default_namespace
    }

    fn provider(
        &self,
        store: &StoreRef,
        namespace: &str,
    ) -> Result<Arc<dyn Provider>, ProviderError> {
        self.lookup(store, namespace)
    }

    async fn config_map(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>> {
        // Read when a template needs one, as ESO does: ConfigMaps are not cached. The name
        // comes from the manifest and goes into the request path as it is.
        keyward_api::ResourceName::parse(name).ok()?;
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        api.get_opt(name).await.ok().flatten()?.data
    }

    fn credentials(&self) -> &dyn Credentials {
        self.credentials.as_ref()
    }

    async fn generator(
        &self,
        namespace: &str,
        reference: &GeneratorRef,
    ) -> Result<GeneratorSpec, String> {
        // Read when an ExternalSecret is refreshed, as ESO reads them: generators are not
        // watched, so an edit to one shows at the next refresh.
        keyward_sync::stores::check_generator_ref(reference)?;
        keyward_api::ResourceName::parse(&reference.name)
            .map_err(|e| format!("unable to get generator: name {e}"))?;
        let unreadable = |error: kube::Error| format!("unable to get generator: {error}");
        let not_found = || keyward_sync::stores::generator_not_found(reference);
        let client = self.client.clone();
        match reference.kind.as_str() {
            "Password" => Api::<Password>::namespaced(client, namespace)
                .get_opt(&reference.name)
                .await
                .map_err(unreadable)?
                .map(|g| GeneratorSpec::Password(g.spec))
                .ok_or_else(not_found),
            "UUID" => Api::<UUID>::namespaced(client, namespace)
                .get_opt(&reference.name)
                .await
                .map_err(unreadable)?
                .map(|_| GeneratorSpec::Uuid)
                .ok_or_else(not_found),
            "Fake" => Api::<Fake>::namespaced(client, namespace)
                .get_opt(&reference.name)
                .await
                .map_err(unreadable)?
                .map(|g| GeneratorSpec::Fake(g.spec))
                .ok_or_else(not_found),
            _ => Api::<ClusterGenerator>::all(client)
                .get_opt(&reference.name)
                .await
                .map_err(unreadable)?
                .ok_or_else(not_found)?
                .spec
                .served(),
        }
    }
}
