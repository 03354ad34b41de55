//! The sync engine: from an ExternalSecret and its stores to the [`Desired`] target.
//!
//! It knows nothing of where the target is written. Per ESO:
//! - `data[]`: one key each; `remoteRef.key`, `version`, `property`, `metadataPolicy`,
//!   `decodingStrategy` (default `None`), `nullBytePolicy`; `sourceRef.storeRef` overrides the
//!   store;
//! - `dataFrom[]`: `extract` (a JSON object or a map into keys) and `find` (name, path, tags),
//!   with `rewrite[]` steps on the resulting keys (or `conversionStrategy` when there are
//!   none), then `decodingStrategy`;
//!   later entries override earlier ones, and `data[]` overrides `dataFrom[]`;
//! - a failure anywhere fails the whole ExternalSecret: a partial target is never produced.
//!
//! - `target.template` (engine v2) renders the target's keys ([`crate::template`]).
//!
//! - `dataFrom[].rewrite` (regexp, transform, merge): [`crate::rewrite`].
//!
//! - `dataFrom[].sourceRef.generatorRef`: ESO's `Password`, `UUID`, `Fake` and
//!   `ClusterGenerator` ([`crate::generate`]), new values on every refresh, then `rewrite`.
//!
//! Template sources: `templateFrom.configMap` reads ConfigMaps given as manifests;
//! `templateFrom.secret` reads where store credentials come from.

use std::collections::BTreeMap;

use base64::Engine as _;
use keyward_api::{
    ConversionStrategy, CreationPolicy, DecodingStrategy, DeletionPolicy, ExternalSecret,
    ExternalSecretDataFromRemoteRef, GeneratorRef, MetadataPolicy, NamespaceName, NullBytePolicy,
    RemoteRef, ResourceName, SourceRef, StoreRef,
};
use keyward_core::SecretValue;
use keyward_providers::{Provider, value};

use crate::SyncError;
use crate::stores::StoreLookup;

/// What a Kubernetes Secret holds at most.
const MAX_SECRET_BYTES: usize = 1 << 20;

/// What a target should hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// `namespace/name` of the ExternalSecret.
    pub external_secret: String,
    /// The target's namespace.
    pub namespace: NamespaceName,
    /// The target's name.
    pub target: ResourceName,
    /// The Secret type the template sets (`template.type`); `None`: whatever the target has,
    /// `Opaque` for a new one.
    pub type_: Option<String>,
    /// Labels of the target: with a template, `template.metadata.labels` (and `templateFrom`
    /// targets); without one, the ExternalSecret's own labels, as ESO copies them.
    pub labels: BTreeMap<String, String>,
    /// Annotations of the target, chosen as the labels are.
    pub annotations: BTreeMap<String, String>,
    /// `target.creationPolicy` (default `Owner`).
    pub creation_policy: CreationPolicy,
    /// `target.deletionPolicy` (default `Retain`).
    pub deletion_policy: DeletionPolicy,
    /// `target.immutable`: once written, never changed.
    pub immutable: bool,
    /// The keys and values; every key is a valid Secret key.
    pub data: BTreeMap<String, SecretValue>,
    /// The version id of each current value read (pinned versions left out: they never
    /// move), where the store names one: store id, then key, then version (`check --verify`
    /// tells which version a projection holds).
    pub source_versions: SourceVersions,
}

/// Versions read, by store id and key.
pub type SourceVersions = BTreeMap<String, BTreeMap<String, String>>;

/// Notes the version a read returned.
fn note_version(versions: &mut SourceVersions, store: &str, key: &str, version: Option<String>) {
    if let Some(version) = version {
        versions
            .entry(store.to_owned())
            .or_default()
            .insert(key.to_owned(), version);
    }
}

impl Desired {
    /// Whether this ExternalSecret owns its target (`Owner`, `Orphan`): only owners conflict
    /// when two write one target; `Merge` and `None` writers may share it.
    pub fn creation_policy_owns(&self) -> bool {
        matches!(
            self.creation_policy,
            CreationPolicy::Owner | CreationPolicy::Orphan
        )
    }
}

/// Where an ExternalSecret projects, as checked names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetRef {
    /// The ExternalSecret's namespace, which is its target's.
    pub namespace: NamespaceName,
    /// The ExternalSecret's own name.
    pub external_secret: ResourceName,
    /// The target's name: `spec.target.name`, or the ExternalSecret's name.
    pub target: ResourceName,
}

impl TargetRef {
    /// `namespace/name` of the ExternalSecret, as reports show it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.external_secret)
    }
}

/// Where an ExternalSecret projects; manifests without a namespace take `default_namespace`.
/// Names are checked when manifests are loaded (and by the apiserver); one that is not a
/// Kubernetes name still fails here, naming the field, so no unchecked name reaches a sink.
pub fn target_of(
    es: &ExternalSecret,
    default_namespace: &NamespaceName,
) -> Result<TargetRef, SyncError> {
    let raw_name = es.metadata.name.as_deref().unwrap_or("");
    let raw_namespace = es.metadata.namespace.as_deref();
    let shown = format!(
        "{}/{raw_name}",
        raw_namespace.unwrap_or(default_namespace.as_str())
    );
    let invalid = |field: &str, error: keyward_api::NameError| {
        SyncError::invalid(&shown, field.to_owned(), error.to_string())
    };
    let namespace = match raw_namespace {
        Some(namespace) => {
            NamespaceName::parse(namespace).map_err(|e| invalid("metadata.namespace", e))?
        }
        None => default_namespace.clone(),
    };
    let external_secret = ResourceName::parse(raw_name).map_err(|e| invalid("metadata.name", e))?;
    let target = es
        .spec
        .target
        .name
        .clone()
        .unwrap_or_else(|| external_secret.clone());
    Ok(TargetRef {
        namespace,
        external_secret,
        target,
    })
}

/// Resolves one ExternalSecret.
pub async fn resolve(es: &ExternalSecret, stores: &dyn StoreLookup) -> Result<Desired, SyncError> {
    let target_ref = target_of(es, stores.default_namespace())?;
    let id = target_ref.id();
    let TargetRef {
        namespace, target, ..
    } = target_ref;
    let namespace_text = namespace.as_str();
    let fail = |field: String, message: String| SyncError::invalid(&id, field, message);
    check_unsupported(es).map_err(|(field, message)| fail(field, message))?;

    let mut data = BTreeMap::new();
    let mut versions = SourceVersions::new();
    for (index, entry) in es.spec.data_from.iter().enumerate() {
        let field = format!("spec.dataFrom[{index}]");
        if let Some(reference) = entry
            .source_ref
            .as_ref()
            .and_then(|source| source.generator_ref.as_ref())
        {
            data.extend(generated(entry, reference, stores, namespace_text, &field, &id).await?);
            // Many generator entries must not build more than a Secret could hold.
            if data.values().map(SecretValue::len).sum::<usize>() > MAX_SECRET_BYTES {
                return Err(fail(
                    format!("{field}.sourceRef.generatorRef"),
                    "the generated values are more than a Secret holds (1 MiB)".to_owned(),
                ));
            }
            continue;
        }
        let store = store_for(entry.source_ref.as_ref(), es, &field, &id)?;
        let provider = stores
            .provider(&store, namespace_text)
            .map_err(|e| SyncError::from_store(&id, &field, e))?;
        let values = data_from(entry, provider.as_ref(), &field, &id, &mut versions).await?;
        data.extend(values);
    }
    for (index, entry) in es.spec.data.iter().enumerate() {
        let field = format!("spec.data[{index}]");
        keyward_api::check_secret_key(&entry.secret_key)
            .map_err(|e| fail(format!("{field}.secretKey"), e.to_string()))?;
        let store = store_for(entry.source_ref.as_ref(), es, &field, &id)?;
        let provider = stores
            .provider(&store, namespace_text)
            .map_err(|e| SyncError::from_store(&id, &field, e))?;
        let value = read(
            provider.as_ref(),
            &entry.remote_ref,
            &field,
            &id,
            &mut versions,
        )
        .await?;
        data.insert(entry.secret_key.clone(), value);
    }
    let mut type_ = None;
    let mut labels = es.metadata.labels.clone().unwrap_or_default();
    let mut annotations = es.metadata.annotations.clone().unwrap_or_default();
    if let Some(template) = &es.spec.target.template {
        let inputs = template_inputs(template, stores, namespace_text).await;
        let rendered = crate::template::render(template, data, &inputs)
            .map_err(|(field, message)| fail(field, message))?;
        data = rendered.data;
        type_ = rendered.type_;
        labels = rendered.labels;
        annotations = rendered.annotations;
    }
    check_keys(&data, es.spec.target.template.is_some(), &id)?;
    Ok(Desired {
        external_secret: id,
        namespace,
        target,
        type_,
        labels,
        annotations,
        creation_policy: es
            .spec
            .target
            .creation_policy
            .unwrap_or(CreationPolicy::Owner),
        deletion_policy: es
            .spec
            .target
            .deletion_policy
            .unwrap_or(DeletionPolicy::Retain),
        immutable: es.spec.target.immutable,
        source_versions: versions,
        data,
    })
}

/// Every key must be a valid Secret key, as the apiserver requires: keys become file names
/// on hosts and keys of a Secret in a cluster.
fn check_keys(
    data: &BTreeMap<String, SecretValue>,
    templated: bool,
    id: &str,
) -> Result<(), SyncError> {
    for (position, key) in data.keys().enumerate() {
        if let Err(error) = keyward_api::check_secret_key(key) {
            let field = if templated {
                "spec.target.template"
            } else {
                "spec.dataFrom"
            };
            // Never the key itself: templates and find results build keys from fetched
            // values. Its place in the sorted keys and its length find it.
            return Err(SyncError::invalid(
                id,
                field.to_owned(),
                format!(
                    "key {} of {} (sorted, {} bytes long) {error}",
                    position + 1,
                    data.len(),
                    key.len()
                ),
            ));
        }
    }
    Ok(())
}

/// Looks up the ConfigMap and Secret keys `templateFrom` reads: ConfigMaps given as manifests,
/// Secrets where store credentials come from.
async fn template_inputs(
    template: &keyward_api::ExternalSecretTemplate,
    stores: &dyn StoreLookup,
    namespace: &str,
) -> crate::template::TemplateInputs {
    let mut inputs = crate::template::TemplateInputs::default();
    for (kind, name, key) in crate::template::TemplateInputs::wanted(template) {
        let text = if kind == "configMap" {
            stores
                .config_map(namespace, &name)
                .await
                .and_then(|data| data.get(&key).map(|text| SecretValue::from(text.as_str())))
        } else {
            let selector = keyward_api::SecretKeySelector {
                name: name.clone(),
                key: Some(key.clone()),
                namespace: None,
            };
            stores
                .credentials()
                .secret_key(&selector, namespace)
                .await
                .ok()
        };
        if let Some(text) = text {
            inputs.texts.insert((kind, name, key), text);
        }
    }
    inputs
}

fn check_unsupported(es: &ExternalSecret) -> Result<(), (String, String)> {
    if let Some(interval) = &es.spec.refresh_interval {
        keyward_api::parse_go_duration(interval)
            .map_err(|message| ("spec.refreshInterval".to_owned(), message))?;
    }
    for (index, entry) in es.spec.data.iter().enumerate() {
        if entry
            .source_ref
            .as_ref()
            .is_some_and(|s| s.generator_ref.is_some())
        {
            return Err((
                format!("spec.data[{index}].sourceRef.generatorRef"),
                "a generator is not served in spec.data (ESO ignores it there and then fails \
                 to find a store); name it in spec.dataFrom[].sourceRef.generatorRef"
                    .to_owned(),
            ));
        }
    }
    Ok(())
}

fn store_for(
    source: Option<&SourceRef>,
    es: &ExternalSecret,
    field: &str,
    id: &str,
) -> Result<StoreRef, SyncError> {
    source
        .and_then(|s| s.store_ref.clone())
        .or_else(|| es.spec.secret_store_ref.clone())
        .filter(|store| !store.name.is_empty())
        .ok_or_else(|| {
            SyncError::invalid(
                id,
                format!("{field}.sourceRef"),
                "no store: set spec.secretStoreRef or sourceRef.storeRef".into(),
            )
        })
}

async fn read(
    provider: &dyn Provider,
    reference: &RemoteRef,
    field: &str,
    id: &str,
    versions: &mut SourceVersions,
) -> Result<SecretValue, SyncError> {
    let store = provider.store().to_string();
    let fetched = fetch(provider, reference, versions)
        .await
        .map_err(|e| SyncError::from_store(id, field, e))?;
    let value = value::select(
        &fetched,
        reference.property.as_deref(),
        &store,
        &reference.key,
    )
    .map_err(|e| SyncError::from_store(id, field, e))?;
    let value = decode(
        value,
        reference
            .decoding_strategy
            .unwrap_or(DecodingStrategy::None),
    )
    .map_err(|message| {
        SyncError::invalid(id, format!("{field}.remoteRef.decodingStrategy"), message)
    })?;
    check_nulls(&value, reference.null_byte_policy, field, id)?;
    Ok(value)
}

/// Reads `reference` (its metadata with `metadataPolicy: Fetch`), noting the version read.
async fn fetch(
    provider: &dyn Provider,
    reference: &RemoteRef,
    versions: &mut SourceVersions,
) -> Result<keyward_providers::Fetched, keyward_providers::ProviderError> {
    if let Some(MetadataPolicy::Fetch) = reference.metadata_policy {
        return provider.fetch_metadata(&reference.key).await;
    }
    let pinned = reference.version.as_deref().filter(|v| !v.is_empty());
    let read = provider.fetch_versioned(&reference.key, pinned).await?;
    // A pinned version never moves: only reads of the current version are worth recording.
    if pinned.is_none() {
        note_version(
            versions,
            &provider.store().to_string(),
            &reference.key,
            read.version,
        );
    }
    Ok(read.fetched)
}

/// The values of a generator entry: generated anew (on every refresh, as ESO does), then
/// renamed by its `rewrite` steps. No conversion or decoding applies, as in ESO.
async fn generated(
    entry: &ExternalSecretDataFromRemoteRef,
    reference: &GeneratorRef,
    stores: &dyn StoreLookup,
    namespace: &str,
    field: &str,
    id: &str,
) -> Result<BTreeMap<String, SecretValue>, SyncError> {
    let field = format!("{field}.sourceRef.generatorRef");
    if entry.extract.is_some() || entry.find.is_some() {
        return Err(SyncError::invalid(
            id,
            field,
            "extract, find, or generatorRef cannot be set at the same time".into(),
        ));
    }
    let spec = stores
        .generator(namespace, reference)
        .await
        .map_err(|message| SyncError::invalid(id, field.clone(), message))?;
    let values = crate::generate::generate(&spec).map_err(|message| {
        SyncError::invalid(
            id,
            field.clone(),
            format!("error using generator: {message}"),
        )
    })?;
    if entry.rewrite.is_empty() {
        Ok(values)
    } else {
        rewrite(values, entry, &field, id)
    }
}

async fn data_from(
    entry: &ExternalSecretDataFromRemoteRef,
    provider: &dyn Provider,
    field: &str,
    id: &str,
    versions: &mut SourceVersions,
) -> Result<BTreeMap<String, SecretValue>, SyncError> {
    let store = provider.store().to_string();
    let (values, conversion, decoding, nulls) = match (&entry.extract, &entry.find) {
        (Some(extract), None) => {
            let fetched = fetch(provider, extract, versions)
                .await
                .map_err(|e| SyncError::from_store(id, field, e))?;
            let fetched = match extract.property.as_deref().filter(|p| !p.is_empty()) {
                Some(property) => keyward_providers::Fetched::Value(
                    value::select(&fetched, Some(property), &store, &extract.key)
                        .map_err(|e| SyncError::from_store(id, field, e))?,
                ),
                None => fetched,
            };
            let values = value::extract(&fetched, &store, &extract.key)
                .map_err(|e| SyncError::from_store(id, field, e))?;
            (
                values,
                extract.conversion_strategy,
                extract.decoding_strategy,
                extract.null_byte_policy,
            )
        }
        (None, Some(find)) => {
            let keys = provider
                .list(find)
                .await
                .map_err(|e| SyncError::from_store(id, field, e))?;
            let mut values = BTreeMap::new();
            for key in keys {
                let read = provider
                    .fetch_versioned(&key, None)
                    .await
                    .map_err(|e| SyncError::from_store(id, field, e))?;
                note_version(versions, &store, &key, read.version);
                let value = value::select(&read.fetched, None, &store, &key)
                    .map_err(|e| SyncError::from_store(id, field, e))?;
                values.insert(key, value);
            }
            (
                values,
                find.conversion_strategy,
                find.decoding_strategy,
                find.null_byte_policy,
            )
        }
        _ => {
            return Err(SyncError::invalid(
                id,
                field.to_owned(),
                "needs exactly one of extract, find".into(),
            ));
        }
    };
    // ESO's order: rewrite steps, or the key conversion when there are none; then decoding.
    let renamed = if entry.rewrite.is_empty() {
        let strategy = conversion.unwrap_or(ConversionStrategy::Default);
        values
            .into_iter()
            .map(|(key, value)| (convert_key(&key, strategy), value))
            .collect()
    } else {
        rewrite(values, entry, field, id)?
    };
    let mut out = BTreeMap::new();
    for (key, value) in renamed {
        let value =
            decode(value, decoding.unwrap_or(DecodingStrategy::None)).map_err(|message| {
                SyncError::invalid(id, format!("{field}.decodingStrategy"), message)
            })?;
        check_nulls(&value, nulls, field, id)?;
        out.insert(key, value);
    }
    Ok(out)
}

fn rewrite(
    values: BTreeMap<String, SecretValue>,
    entry: &ExternalSecretDataFromRemoteRef,
    field: &str,
    id: &str,
) -> Result<BTreeMap<String, SecretValue>, SyncError> {
    crate::rewrite::apply(values, &entry.rewrite)
        .map_err(|(step, message)| SyncError::invalid(id, format!("{field}.{step}"), message))
}

/// ESO's key conversion: `Default` replaces every character outside `[-._a-zA-Z0-9]` with
/// `_`; `Unicode` writes it as `_U<hex4>_`.
fn convert_key(key: &str, strategy: ConversionStrategy) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c.to_string()
            } else {
                match strategy {
                    ConversionStrategy::Default => "_".to_owned(),
                    ConversionStrategy::Unicode => format!("_U{:04x}_", u32::from(c)),
                }
            }
        })
        .collect()
}

/// ESO's `decodingStrategy`: `Auto` tries standard then URL-safe base64 and keeps the value
/// when neither decodes.
fn decode(value: SecretValue, strategy: DecodingStrategy) -> Result<SecretValue, String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let bytes = value.expose_bytes();
    match strategy {
        DecodingStrategy::None => Ok(value),
        DecodingStrategy::Base64 => STANDARD
            .decode(bytes)
            .map(SecretValue::new)
            .map_err(|_| "the value is not base64".into()),
        DecodingStrategy::Base64Url => URL_SAFE
            .decode(bytes)
            .map(SecretValue::new)
            .map_err(|_| "the value is not URL-safe base64".into()),
        DecodingStrategy::Auto => Ok(STANDARD
            .decode(bytes)
            .or_else(|_| URL_SAFE.decode(bytes))
            .map(SecretValue::new)
            .unwrap_or(value)),
    }
}

fn check_nulls(
    value: &SecretValue,
    policy: Option<NullBytePolicy>,
    field: &str,
    id: &str,
) -> Result<(), SyncError> {
    if policy == Some(NullBytePolicy::Fail) && value.expose_bytes().contains(&0) {
        return Err(SyncError::invalid(
            id,
            format!("{field}.nullBytePolicy"),
            "the value contains a NUL byte".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_convert_like_eso() {
        assert_eq!(
            convert_key("apps/db-1.password", ConversionStrategy::Default),
            "apps_db-1.password"
        );
        assert_eq!(convert_key("a/b", ConversionStrategy::Unicode), "a_U002f_b");
    }

    #[test]
    fn decoding_strategies() {
        let text = |v: SecretValue| v.expose_str().expect("utf-8").to_owned();
        assert_eq!(
            text(decode(SecretValue::from("aGk="), DecodingStrategy::Base64).expect("b64")),
            "hi"
        );
        assert_eq!(
            text(decode(SecretValue::from("aGk="), DecodingStrategy::Auto).expect("auto")),
            "hi"
        );
        assert_eq!(
            text(decode(SecretValue::from("not base64!"), DecodingStrategy::Auto).expect("auto")),
            "not base64!"
        );
        assert!(decode(SecretValue::from("not base64!"), DecodingStrategy::Base64).is_err());
    }
}
