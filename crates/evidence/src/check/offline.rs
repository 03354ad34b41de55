//! `keyward check --offline`: the manifests alone, no cluster, no store.
//!
//! Every ExternalSecret and PushSecret must load against the v1 schema, name stores that the
//! manifests declare (or that `--known-store` lists) and that serve its namespace, and carry
//! templates and regular expressions that parse. Every workload's Secret references must be
//! met: the Secret is produced by an ExternalSecret (or a Secret manifest) of its namespace,
//! with every key the workload reads. That last check catches the commonest outage: a
//! workload asking for a key its ExternalSecret no longer produces.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::str::FromStr;

use keyward_api::generator::GeneratorSpec;
use keyward_api::load::{self, Document, LoadError};
use keyward_api::{
    ClusterSecretStore, CreationPolicy, ExternalSecret, ExternalSecretTemplate, PushSecret,
    SecretStore, SecretStoreSpec, StoreKind, StoreRef,
};

use super::produces::{self, Keys};
use super::workloads::{self, SecretUse};
use super::{Checked, Finding, Report, Severity};

/// What the offline check is told besides the manifests.
#[derive(Clone, Debug)]
pub struct OfflineOptions {
    /// The namespace of objects whose manifest names none (as `kubectl apply -n` would).
    pub default_namespace: String,
    /// Stores that exist outside these manifests.
    pub known_stores: Vec<KnownStore>,
}

/// A store declared elsewhere: `ClusterSecretStore/NAME`, `SecretStore/NAMESPACE/NAME`, or
/// `SecretStore/NAME` (that name in every namespace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownStore {
    /// Its kind.
    pub kind: StoreKind,
    /// Its namespace, for a SecretStore named with one.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

impl FromStr for KnownStore {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let store = match parts.as_slice() {
            ["ClusterSecretStore", name] => KnownStore {
                kind: StoreKind::ClusterSecretStore,
                namespace: None,
                name: (*name).to_owned(),
            },
            ["SecretStore", name] => KnownStore {
                kind: StoreKind::SecretStore,
                namespace: None,
                name: (*name).to_owned(),
            },
            ["SecretStore", namespace, name] => KnownStore {
                kind: StoreKind::SecretStore,
                namespace: Some((*namespace).to_owned()),
                name: (*name).to_owned(),
            },
            _ => {
                return Err(format!(
                    "{text:?}: expected ClusterSecretStore/NAME, SecretStore/NAME or SecretStore/NAMESPACE/NAME"
                ));
            }
        };
        if store.name.is_empty() || store.namespace.as_deref() == Some("") {
            return Err(format!("{text:?}: a store needs a name"));
        }
        Ok(store)
    }
}

/// Checks the manifests under `paths` (files, or directories searched for `*.yaml`/`*.yml`).
pub fn check_offline(paths: &[PathBuf], options: &OfflineOptions) -> Report {
    let mut report = Report::default();
    let manifests = Manifests::load(paths, options, &mut report);
    manifests.check(options, &mut report);
    report
}

/// An object of the manifests with where it came from and its effective namespace.
struct Placed<T> {
    origin: String,
    namespace: String,
    object: T,
}

/// A workload that runs pods.
struct Workload {
    kind: String,
    name: String,
    uses: Vec<SecretUse>,
}

/// Who writes a Secret, and which keys.
struct Producer {
    /// `ExternalSecret apps/db` or `Secret apps/db`.
    who: String,
    keys: Keys,
    /// creationPolicy Merge: adds keys to a Secret that must exist already.
    merges: bool,
}

#[derive(Default)]
struct Manifests {
    external_secrets: Vec<Placed<ExternalSecret>>,
    push_secrets: Vec<Placed<PushSecret>>,
    workloads: Vec<Placed<Workload>>,
    stores: Vec<Placed<SecretStore>>,
    cluster_stores: Vec<Placed<ClusterSecretStore>>,
    /// `(namespace, name)` → key names of Secret manifests.
    secrets: BTreeMap<(String, String), BTreeSet<String>>,
    /// `(namespace, name)` → the ConfigMap's data (template texts).
    config_maps: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// Namespace manifests' labels, for ClusterSecretStore conditions by selector.
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// `FILE document N` → fields its schema lacks (the apiserver would drop them).
    unknown_fields: BTreeMap<String, Vec<String>>,
    /// Generators (`Password`, `UUID`, `Fake`, `ClusterGenerator`), by kind, namespace (empty
    /// for a ClusterGenerator) and name.
    generators: BTreeMap<(String, String, String), Result<GeneratorSpec, String>>,
}

impl Manifests {
    fn load(paths: &[PathBuf], options: &OfflineOptions, report: &mut Report) -> Self {
        let mut manifests = Manifests::default();
        for (origin, text) in load::read_manifests(paths) {
            let text = match text {
                Ok(text) => text,
                Err(reason) => {
                    report
                        .checked
                        .push(file_failure(&origin, &origin, "file", reason));
                    continue;
                }
            };
            for (index, fields) in load::unknown_fields(&text) {
                manifests
                    .unknown_fields
                    .insert(format!("{origin} document {index}"), fields);
            }
            for document in load::documents(&text, &origin) {
                match document {
                    Ok((index, document)) => {
                        let at = format!("{origin} document {index}");
                        manifests.add(document, at, options, report);
                    }
                    Err(error) => report.checked.push(load_failure(&error)),
                }
            }
        }
        manifests
    }

    fn add(
        &mut self,
        document: Document,
        at: String,
        options: &OfflineOptions,
        report: &mut Report,
    ) {
        let namespace_of = |ns: &Option<String>| {
            ns.clone()
                .unwrap_or_else(|| options.default_namespace.clone())
        };
        match document {
            Document::ExternalSecret(es) => self.external_secrets.push(Placed {
                origin: at,
                namespace: namespace_of(&es.metadata.namespace),
                object: *es,
            }),
            Document::PushSecret(push) => self.push_secrets.push(Placed {
                origin: at,
                namespace: namespace_of(&push.metadata.namespace),
                object: *push,
            }),
            Document::SecretStore(store) => self.stores.push(Placed {
                origin: at,
                namespace: namespace_of(&store.metadata.namespace),
                object: *store,
            }),
            Document::ClusterSecretStore(store) => self.cluster_stores.push(Placed {
                origin: at,
                namespace: String::new(),
                object: *store,
            }),
            Document::Secret(secret) => {
                let place = (
                    namespace_of(&secret.metadata.namespace),
                    secret.metadata.name.clone().unwrap_or_default(),
                );
                // Key names only: the values of a plaintext Secret manifest are never kept.
                let keys = secret.data.iter().flat_map(|d| d.keys());
                let string_keys = secret.string_data.iter().flat_map(|d| d.keys());
                let keys = keys.chain(string_keys).cloned().collect();
                self.secrets.insert(place, keys);
            }
            Document::ConfigMap(config_map) => {
                let place = (
                    namespace_of(&config_map.metadata.namespace),
                    config_map.metadata.name.clone().unwrap_or_default(),
                );
                self.config_maps
                    .insert(place, config_map.data.unwrap_or_default());
            }
            Document::Generator(generator) => {
                let namespace = if generator.kind == "ClusterGenerator" {
                    String::new()
                } else {
                    namespace_of(&generator.namespace)
                };
                self.generators
                    .insert((generator.kind, namespace, generator.name), generator.spec);
            }
            Document::Other { kind, object, .. } => {
                self.add_other(kind, *object, at, options, report)
            }
            _ => {}
        }
    }

    fn add_other(
        &mut self,
        kind: String,
        object: serde_json::Value,
        at: String,
        options: &OfflineOptions,
        report: &mut Report,
    ) {
        let text = |pointer: &str| {
            object
                .pointer(pointer)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let name = text("/metadata/name").unwrap_or_default();
        let namespace =
            text("/metadata/namespace").unwrap_or_else(|| options.default_namespace.clone());
        if kind == "Namespace" {
            let labels = object
                .pointer("/metadata/labels")
                .and_then(|l| serde_json::from_value(l.clone()).ok())
                .unwrap_or_default();
            self.namespaces.insert(name, labels);
            return;
        }
        if !workloads::KINDS.contains(&kind.as_str()) {
            return;
        }
        match workloads::pod_spec(&kind, object) {
            Ok(pod) => self.workloads.push(Placed {
                origin: at,
                namespace,
                object: Workload {
                    kind,
                    name,
                    uses: pod.as_ref().map(workloads::secret_uses).unwrap_or_default(),
                },
            }),
            Err(reason) => report.checked.push(Checked {
                kind,
                namespace,
                name,
                origin: at,
                findings: vec![finding(Severity::Invalid, "schema", reason)],
            }),
        }
    }

    fn check(&self, options: &OfflineOptions, report: &mut Report) {
        let producers = self.producers();
        for store in &self.stores {
            let findings = provider_findings(&store.object.spec, Some(&store.namespace));
            let name = name_of(&store.object.metadata);
            report
                .checked
                .push(checked(self, "SecretStore", store, name, findings));
        }
        for store in &self.cluster_stores {
            let findings = provider_findings(&store.object.spec.store, None);
            let name = name_of(&store.object.metadata);
            report
                .checked
                .push(checked(self, "ClusterSecretStore", store, name, findings));
        }
        for es in &self.external_secrets {
            let mut findings = Vec::new();
            self.check_external_secret(es, options, &producers, &mut findings);
            report.checked.push(checked(
                self,
                "ExternalSecret",
                es,
                name_of(&es.object.metadata),
                findings,
            ));
        }
        for push in &self.push_secrets {
            let mut findings = Vec::new();
            self.check_push_secret(push, options, &producers, &mut findings);
            report.checked.push(checked(
                self,
                "PushSecret",
                push,
                name_of(&push.object.metadata),
                findings,
            ));
        }
        for workload in &self.workloads {
            let findings = workload
                .object
                .uses
                .iter()
                .filter_map(|secret_use| use_finding(secret_use, &workload.namespace, &producers))
                .collect();
            report.checked.push(Checked {
                kind: workload.object.kind.clone(),
                namespace: workload.namespace.clone(),
                name: workload.object.name.clone(),
                origin: workload.origin.clone(),
                findings,
            });
        }
    }

    /// Every Secret the manifests produce, by `(namespace, name)`.
    fn producers(&self) -> BTreeMap<(String, String), Vec<Producer>> {
        let mut producers: BTreeMap<_, Vec<Producer>> = BTreeMap::new();
        for es in &self.external_secrets {
            let policy = produces::creation_policy(&es.object);
            if policy == CreationPolicy::None {
                continue;
            }
            producers
                .entry((es.namespace.clone(), target_name(&es.object)))
                .or_default()
                .push(Producer {
                    who: format!(
                        "ExternalSecret {}/{}",
                        es.namespace,
                        name_of(&es.object.metadata)
                    ),
                    keys: produces::keys_of(&es.object),
                    merges: policy == CreationPolicy::Merge,
                });
        }
        for ((namespace, name), keys) in &self.secrets {
            producers
                .entry((namespace.clone(), name.clone()))
                .or_default()
                .push(Producer {
                    who: format!("Secret {namespace}/{name}"),
                    keys: Keys {
                        named: keys.clone(),
                        open_because: None,
                    },
                    merges: false,
                });
        }
        producers
    }

    fn check_external_secret(
        &self,
        es: &Placed<ExternalSecret>,
        options: &OfflineOptions,
        producers: &BTreeMap<(String, String), Vec<Producer>>,
        findings: &mut Vec<Finding>,
    ) {
        let spec = &es.object.spec;
        let mut storeless = Vec::new();
        for (field, store) in store_refs(&es.object) {
            match store {
                Some(store) => {
                    findings.extend(self.store_finding(&field, store, &es.namespace, options))
                }
                None => storeless.push(field),
            }
        }
        if !storeless.is_empty() {
            findings.push(finding(
                Severity::Unhealthy,
                "store",
                format!(
                    "{}: {} no store (set spec.secretStoreRef, or sourceRef.storeRef on each entry)",
                    storeless.join(", "),
                    if storeless.len() == 1 { "names" } else { "name" }
                ),
            ));
        }
        if let Some(template) = &spec.target.template {
            self.template_findings(template, "spec.target.template", &es.namespace, findings);
        }
        regexp_findings(&es.object, findings);
        self.generator_findings(&es.object, &es.namespace, findings);
        let target = (es.namespace.clone(), target_name(&es.object));
        let writers = producers
            .get(&target)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let policy = produces::creation_policy(&es.object);
        let owners: Vec<&str> = writers
            .iter()
            .filter(|p| !p.merges && p.who.starts_with("ExternalSecret "))
            .map(|p| p.who.as_str())
            .collect();
        if matches!(policy, CreationPolicy::Owner | CreationPolicy::Orphan) && owners.len() > 1 {
            findings.push(finding(
                Severity::Unhealthy,
                "target",
                format!(
                    "Secret {}/{} is written by {} ExternalSecrets ({}): they would overwrite each other; use creationPolicy Merge for all but one",
                    target.0,
                    target.1,
                    owners.len(),
                    owners.join(", ")
                ),
            ));
        }
        if policy == CreationPolicy::Merge && writers.iter().all(|p| p.merges) {
            findings.push(finding(
                Severity::Warning,
                "target",
                format!(
                    "creationPolicy Merge needs Secret {}/{} to exist, and nothing in these manifests creates it",
                    target.0, target.1
                ),
            ));
        }
    }

    fn check_push_secret(
        &self,
        push: &Placed<PushSecret>,
        options: &OfflineOptions,
        producers: &BTreeMap<(String, String), Vec<Producer>>,
        findings: &mut Vec<Finding>,
    ) {
        let spec = &push.object.spec;
        for (index, store) in spec.secret_store_refs.iter().enumerate() {
            let field = format!("spec.secretStoreRefs[{index}]");
            match (&store.name, &store.label_selector) {
                (Some(name), _) => {
                    let reference = StoreRef {
                        name: name.clone(),
                        kind: store.kind,
                    };
                    findings.extend(self.store_finding(
                        &field,
                        &reference,
                        &push.namespace,
                        options,
                    ));
                }
                (None, Some(selector)) => {
                    if !self.any_store_selected(store.kind, selector, &push.namespace) {
                        findings.push(finding(
                            Severity::Warning,
                            "store",
                            format!("{field}.labelSelector: selects no store declared in these manifests"),
                        ));
                    }
                }
                (None, None) => findings.push(finding(
                    Severity::Invalid,
                    "schema",
                    format!("{field}: needs a name or a labelSelector"),
                )),
            }
        }
        if spec.secret_store_refs.is_empty() {
            findings.push(finding(
                Severity::Invalid,
                "schema",
                "spec.secretStoreRefs: names no store".into(),
            ));
        }
        if let Some(template) = &spec.template {
            self.template_findings(template, "spec.template", &push.namespace, findings);
        }
        let Some(secret) = spec.selector.secret.as_ref().and_then(|s| s.name.clone()) else {
            return; // a generator, or Secrets by label: nothing to hold keys against
        };
        for (index, data) in spec.data.iter().enumerate() {
            let Some(key) = data.match_.secret_key.clone() else {
                continue; // the whole Secret
            };
            let secret_use = SecretUse {
                secret: secret.clone(),
                key: Some(key),
                optional: false,
                place: format!("spec.data[{index}].match.secretKey"),
            };
            findings.extend(use_finding(&secret_use, &push.namespace, producers));
        }
        if spec.data.is_empty() {
            let secret_use = SecretUse {
                secret,
                key: None,
                optional: false,
                place: "spec.selector.secret".into(),
            };
            findings.extend(use_finding(&secret_use, &push.namespace, producers));
        }
    }

    /// What is wrong with a store reference, if anything.
    fn store_finding(
        &self,
        field: &str,
        store: &StoreRef,
        namespace: &str,
        options: &OfflineOptions,
    ) -> Option<Finding> {
        let known = options.known_stores.iter().any(|k| {
            k.kind == store.kind
                && k.name == store.name
                && k.namespace.as_deref().is_none_or(|n| n == namespace)
        });
        let spec = match store.kind {
            StoreKind::SecretStore => self
                .stores
                .iter()
                .find(|s| s.namespace == namespace && name_of(&s.object.metadata) == store.name)
                .map(|_| None),
            StoreKind::ClusterSecretStore => self
                .cluster_stores
                .iter()
                .find(|s| name_of(&s.object.metadata) == store.name)
                .map(|s| Some(&s.object.spec.store)),
        };
        match spec {
            Some(Some(cluster)) => self.condition_finding(field, &store.name, cluster, namespace),
            Some(None) => None,
            None if known => None,
            None => Some(finding(
                Severity::Unhealthy,
                "store",
                format!(
                    "{field}: {kind} {where_}{name} is not declared in these manifests (if it lives elsewhere, say --known-store {kind}/{name})",
                    kind = kind_name(store.kind),
                    where_ = match store.kind {
                        StoreKind::SecretStore => format!("{namespace}/"),
                        StoreKind::ClusterSecretStore => String::new(),
                    },
                    name = store.name,
                ),
            )),
        }
    }

    /// A ClusterSecretStore whose `spec.conditions` keep `namespace` out.
    fn condition_finding(
        &self,
        field: &str,
        name: &str,
        spec: &SecretStoreSpec,
        namespace: &str,
    ) -> Option<Finding> {
        let labels = self.namespaces.get(namespace);
        if spec.allows_namespace(namespace, labels) {
            return None;
        }
        let by_selector = spec
            .conditions
            .iter()
            .any(|c| c.namespace_selector.is_some());
        Some(if labels.is_none() && by_selector {
            finding(
                Severity::Warning,
                "store",
                format!(
                    "{field}: ClusterSecretStore {name} admits namespaces by label, and namespace {namespace} has no Namespace manifest here to tell"
                ),
            )
        } else {
            finding(
                Severity::Unhealthy,
                "store",
                format!(
                    "{field}: ClusterSecretStore {name} does not serve namespace {namespace} (its spec.conditions keep it out)"
                ),
            )
        })
    }

    fn any_store_selected(
        &self,
        kind: StoreKind,
        selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
        namespace: &str,
    ) -> bool {
        let labels_of = |metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            metadata.labels.clone().unwrap_or_default()
        };
        match kind {
            StoreKind::SecretStore => self
                .stores
                .iter()
                .filter(|s| s.namespace == namespace)
                .any(|s| keyward_api::selects(selector, &labels_of(&s.object.metadata))),
            StoreKind::ClusterSecretStore => self
                .cluster_stores
                .iter()
                .any(|s| keyward_api::selects(selector, &labels_of(&s.object.metadata))),
        }
    }

    /// Templates that do not parse, and `templateFrom` sources the manifests lack.
    fn template_findings(
        &self,
        template: &ExternalSecretTemplate,
        field: &str,
        namespace: &str,
        findings: &mut Vec<Finding>,
    ) {
        if let Some(version) = template.engine_version.as_deref().filter(|v| *v != "v2") {
            findings.push(finding(
                Severity::Invalid,
                "template",
                format!("{field}.engineVersion: '{version}' is not served (only v2)"),
            ));
        }
        let mut texts: Vec<(String, &str)> = Vec::new();
        for (key, text) in &template.data {
            texts.push((format!("{field}.data.{key}"), text));
        }
        if let Some(metadata) = &template.metadata {
            for (key, text) in metadata.labels.iter().chain(&metadata.annotations) {
                texts.push((format!("{field}.metadata[{key}]"), text));
            }
        }
        for (index, entry) in template.template_from.iter().enumerate() {
            let at = format!("{field}.templateFrom[{index}]");
            if let Some(literal) = &entry.literal {
                texts.push((format!("{at}.literal"), literal));
            }
            if let Some(source) = &entry.config_map {
                let place = (namespace.to_owned(), source.name.clone());
                match self.config_maps.get(&place) {
                    Some(data) => {
                        for item in &source.items {
                            match data.get(&item.key) {
                                Some(text) => texts.push((format!("{at}.configMap {} key {}", source.name, item.key), text)),
                                None => findings.push(finding(
                                    Severity::Unhealthy,
                                    "template",
                                    format!("{at}.configMap: ConfigMap {namespace}/{} has no key {}", source.name, item.key),
                                )),
                            }
                        }
                    }
                    None => findings.push(finding(
                        Severity::Warning,
                        "template",
                        format!("{at}.configMap: ConfigMap {namespace}/{} is not in these manifests; its templates are not checked", source.name),
                    )),
                }
            }
        }
        for (at, text) in texts {
            // A parser bug on a hostile template is this object's finding, not a dead process.
            let parsed = std::panic::catch_unwind(|| keyward_template::Template::parse(&at, text));
            match parsed {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => findings.push(finding(
                    Severity::Invalid,
                    "template",
                    format!("{at}: {error}"),
                )),
                Err(_) => findings.push(finding(
                    Severity::Invalid,
                    "template",
                    format!("{at}: the template parser failed on this template (a keyward bug; please report it)"),
                )),
            }
        }
    }
}

/// A store's `spec.provider` as keyward's providers read it: what they would refuse
/// (invalid), and fields they do not read (warnings; a known mistake comes with the ESO form).
/// `namespace` is a SecretStore's own, which its credential references must not leave.
fn provider_findings(spec: &SecretStoreSpec, namespace: Option<&str>) -> Vec<Finding> {
    use keyward_providers::registry::PROVIDERS;
    if let Ok((name, _)) = spec.provider.single()
        && !PROVIDERS.contains(&name)
    {
        // A valid ESO store, but one keyward cannot serve: its ExternalSecrets would fail.
        return vec![finding(
            Severity::Unhealthy,
            "provider",
            format!(
                "spec.provider.{name}: provider '{name}' is not served by keyward (it serves {})",
                PROVIDERS.join(", ")
            ),
        )];
    }
    match keyward_providers::registry::check_config(
        &spec.provider,
        namespace.is_some(),
        namespace.unwrap_or_default(),
    ) {
        Err(reason) => vec![finding(Severity::Invalid, "provider", reason)],
        Ok(unread) => unread
            .into_iter()
            .map(|field| {
                let message = match field.split_once(": ") {
                    Some((field, hint)) => format!("{field}: keyward does not read this field; {hint}"),
                    None => format!(
                        "{field}: keyward does not read this field (if ESO's schema lacks it too, the apiserver drops it silently)"
                    ),
                };
                finding(Severity::Warning, "provider", message)
            })
            .collect(),
    }
}

/// Every store an ExternalSecret reads from, by field; `None` where an entry has no store
/// (neither its own `sourceRef` nor `spec.secretStoreRef`). Generator entries read no store.
fn store_refs(es: &ExternalSecret) -> Vec<(String, Option<&StoreRef>)> {
    let spec = &es.spec;
    let default = spec.secret_store_ref.as_ref();
    let mut refs = Vec::new();
    if let Some(store) = default {
        refs.push(("spec.secretStoreRef".to_owned(), Some(store)));
    }
    let entries = spec
        .data
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("spec.data[{i}]"), d.source_ref.as_ref()))
        .chain(
            spec.data_from
                .iter()
                .enumerate()
                .map(|(i, d)| (format!("spec.dataFrom[{i}]"), d.source_ref.as_ref())),
        );
    for (field, source) in entries {
        if source.is_some_and(|s| s.generator_ref.is_some()) {
            continue;
        }
        match source.and_then(|s| s.store_ref.as_ref()) {
            Some(store) => refs.push((format!("{field}.sourceRef.storeRef"), Some(store))),
            None if default.is_none() => refs.push((field, None)),
            None => {}
        }
    }
    refs
}

impl Manifests {
    /// What is wrong with the generators an ExternalSecret names: a `generatorRef` in
    /// `data[]`, a kind keyward does not serve, a generator whose spec cannot generate; one
    /// missing from the manifests is a warning (it may be in the cluster).
    fn generator_findings(
        &self,
        es: &ExternalSecret,
        namespace: &str,
        findings: &mut Vec<Finding>,
    ) {
        for (index, entry) in es.spec.data.iter().enumerate() {
            if entry
                .source_ref
                .as_ref()
                .is_some_and(|s| s.generator_ref.is_some())
            {
                findings.push(finding(
                    Severity::Invalid,
                    "generator",
                    format!("spec.data[{index}].sourceRef.generatorRef: a generator is served only in spec.dataFrom (ESO ignores it here and then fails to find a store)"),
                ));
            }
        }
        for (index, entry) in es.spec.data_from.iter().enumerate() {
            let Some(reference) = entry
                .source_ref
                .as_ref()
                .and_then(|s| s.generator_ref.as_ref())
            else {
                continue;
            };
            let field = format!("spec.dataFrom[{index}].sourceRef.generatorRef");
            if let Err(message) = keyward_sync::stores::check_generator_ref(reference) {
                findings.push(finding(
                    Severity::Invalid,
                    "generator",
                    format!("{field}: {message}"),
                ));
                continue;
            }
            let cluster = reference.kind == "ClusterGenerator";
            let key = (
                reference.kind.clone(),
                if cluster {
                    String::new()
                } else {
                    namespace.to_owned()
                },
                reference.name.clone(),
            );
            let problem = match self.generators.get(&key) {
                None => {
                    let place = if cluster {
                        reference.name.clone()
                    } else {
                        format!("{namespace}/{}", reference.name)
                    };
                    findings.push(finding(
                        Severity::Warning,
                        "generator",
                        format!(
                            "{field}: names {} {place}, which is not in these manifests",
                            reference.kind
                        ),
                    ));
                    continue;
                }
                Some(Err(message)) => message.clone(),
                // Generating once is the check: the spec's own limits, as a sync meets them.
                Some(Ok(spec)) => match keyward_sync::generate::generate(spec) {
                    Ok(_) => continue,
                    Err(message) => format!("error using generator: {message}"),
                },
            };
            findings.push(finding(
                Severity::Invalid,
                "generator",
                format!("{field}: {problem}"),
            ));
        }
    }
}

/// Regular expressions ESO compiles (`find.name.regexp`, `rewrite[].regexp.source`) that do
/// not compile. keyward's engine reads them as Go's RE2 does; the syntax is the same.
fn regexp_findings(es: &ExternalSecret, findings: &mut Vec<Finding>) {
    for (index, entry) in es.spec.data_from.iter().enumerate() {
        let at = format!("spec.dataFrom[{index}]");
        let find = entry.find.as_ref().and_then(|f| f.name.as_ref());
        let mut patterns: Vec<(String, &str)> = find
            .map(|name| (format!("{at}.find.name.regexp"), name.regexp.as_str()))
            .into_iter()
            .collect();
        for (step, rewrite) in entry.rewrite.iter().enumerate() {
            if let Some(regexp) = &rewrite.regexp {
                patterns.push((
                    format!("{at}.rewrite[{step}].regexp.source"),
                    &regexp.source,
                ));
            }
        }
        for (field, pattern) in patterns {
            if let Err(error) = regex::Regex::new(pattern) {
                let reason = error.to_string();
                let first = reason.lines().last().unwrap_or("invalid").trim().to_owned();
                findings.push(finding(
                    Severity::Invalid,
                    "regexp",
                    format!("{field}: does not compile: {first}"),
                ));
            }
        }
    }
}

/// What is wrong with one read of a Secret, if anything.
fn use_finding(
    secret_use: &SecretUse,
    namespace: &str,
    producers: &BTreeMap<(String, String), Vec<Producer>>,
) -> Option<Finding> {
    let place = &secret_use.place;
    let secret = &secret_use.secret;
    let Some(writers) = producers.get(&(namespace.to_owned(), secret.clone())) else {
        return (!secret_use.optional).then(|| {
            finding(
                Severity::Warning,
                "secret",
                format!("{place} reads Secret {namespace}/{secret}, which no ExternalSecret or Secret in these manifests produces"),
            )
        });
    };
    let key = secret_use.key.as_ref()?;
    if !writers.iter().all(|w| w.keys.surely_lacks(key)) {
        return None;
    }
    let produced: BTreeSet<&str> = writers
        .iter()
        .flat_map(|w| w.keys.named.iter().map(String::as_str))
        .collect();
    let who: Vec<&str> = writers.iter().map(|w| w.who.as_str()).collect();
    let severity = if secret_use.optional {
        Severity::Warning
    } else {
        Severity::Unhealthy
    };
    Some(finding(
        severity,
        "key",
        format!(
            "{place} reads key {key} of Secret {namespace}/{secret}, which {} does not produce (it produces: {})",
            who.join(" and "),
            if produced.is_empty() {
                "no keys".to_owned()
            } else {
                produced.into_iter().collect::<Vec<_>>().join(", ")
            },
        ),
    ))
}

fn finding(severity: Severity, rule: &'static str, message: String) -> Finding {
    Finding {
        severity,
        rule,
        message,
    }
}

/// Warnings for the fields of the document at `origin` that its schema lacks.
fn unknown_field_findings(manifests: &Manifests, origin: &str) -> Vec<Finding> {
    let fields = manifests.unknown_fields.get(origin).into_iter().flatten();
    fields
        .map(|field| {
            finding(
                Severity::Warning,
                "schema",
                format!("{field}: not a field keyward knows for this kind: if ESO's schema lacks it too, the apiserver drops it silently (misspelt or misplaced?); if a newer ESO has it, keyward does not act on it"),
            )
        })
        .collect()
}

fn checked<T>(
    manifests: &Manifests,
    kind: &str,
    placed: &Placed<T>,
    name: String,
    mut findings: Vec<Finding>,
) -> Checked {
    findings.extend(unknown_field_findings(manifests, &placed.origin));
    Checked {
        kind: kind.to_owned(),
        namespace: placed.namespace.clone(),
        name,
        origin: placed.origin.clone(),
        findings,
    }
}

fn file_failure(origin: &str, name: &str, kind: &str, reason: String) -> Checked {
    Checked {
        kind: kind.to_owned(),
        namespace: String::new(),
        name: name.to_owned(),
        origin: origin.to_owned(),
        findings: vec![finding(Severity::Invalid, "schema", reason)],
    }
}

/// A document that did not load, as the object it claims to be when that much is known.
fn load_failure(error: &LoadError) -> Checked {
    let origin = format!("{} document {}", error.origin, error.index);
    let claimed = error
        .what
        .trim()
        .strip_prefix('(')
        .and_then(|w| w.strip_suffix(')'))
        .and_then(|w| w.split_once('/'))
        .filter(|(kind, _)| !kind.is_empty());
    match claimed {
        Some((kind, name)) => file_failure(&origin, name, kind, error.reason.clone()),
        None => file_failure(&origin, &error.origin, "file", error.reason.clone()),
    }
}

fn name_of(metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    metadata.name.clone().unwrap_or_default()
}

fn target_name(es: &ExternalSecret) -> String {
    es.spec
        .target
        .name
        .as_ref()
        .map_or_else(|| name_of(&es.metadata), ToString::to_string)
}

fn kind_name(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::SecretStore => "SecretStore",
        StoreKind::ClusterSecretStore => "ClusterSecretStore",
    }
}
