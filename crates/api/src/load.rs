//! Loading manifests: multi-document YAML into typed [`Document`]s.
//!
//! Errors name the origin (a file), the document's position and the field path, and never
//! echo field values (a manifest may be a plaintext Secret).

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde::Deserialize;

use crate::generator::{
    ClusterGenerator, Fake, GENERATORS_API_VERSION, GeneratorSpec, Password, UUID,
};
use crate::{
    ClusterSecretStore, ExternalSecret, NamespaceName, PushSecret, ResourceName, SecretStore,
};

/// One manifest document keyward knows what to do with, or a note of what it skipped.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Document {
    /// An `external-secrets.io/v1` ExternalSecret.
    ExternalSecret(Box<ExternalSecret>),
    /// An `external-secrets.io/v1` SecretStore.
    SecretStore(Box<SecretStore>),
    /// An `external-secrets.io/v1` ClusterSecretStore.
    ClusterSecretStore(Box<ClusterSecretStore>),
    /// An `external-secrets.io/v1alpha1` PushSecret.
    PushSecret(Box<PushSecret>),
    /// A `generators.external-secrets.io/v1alpha1` generator keyward serves: `Password`,
    /// `UUID`, `Fake` or a `ClusterGenerator`.
    Generator(Box<GeneratorObject>),
    /// A core `v1` Secret (store credentials given as manifests).
    Secret(Box<Secret>),
    /// A core `v1` ConfigMap (templates for `templateFrom.configMap`).
    ConfigMap(Box<ConfigMap>),
    /// Any other kind: not typed here; kept as JSON for readers that look into workloads
    /// (`keyward check`).
    Other {
        /// Its apiVersion.
        api_version: String,
        /// Its kind.
        kind: String,
        /// The whole object.
        object: Box<serde_json::Value>,
    },
}

/// A generator given as a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratorObject {
    /// `Password`, `UUID`, `Fake` or `ClusterGenerator`.
    pub kind: String,
    /// Its namespace (none for a ClusterGenerator, or when the manifest names none).
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// What it generates from; for a ClusterGenerator that wraps a kind keyward does not
    /// serve, or lacks the spec of its kind, why it cannot generate (said when it is used).
    pub spec: Result<GeneratorSpec, String>,
}

impl GeneratorObject {
    fn namespaced(kind: &str, meta: kube::core::ObjectMeta, spec: GeneratorSpec) -> Self {
        Self {
            kind: kind.to_owned(),
            namespace: meta.namespace,
            name: meta.name.unwrap_or_default(),
            spec: Ok(spec),
        }
    }
}

/// Why a manifest could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: document {index}{what}: {reason}")]
pub struct LoadError {
    /// The file (or other origin).
    pub origin: String,
    /// 1-based document number in the stream.
    pub index: usize,
    /// ` (Kind/name)` when known.
    pub what: String,
    /// What is wrong.
    pub reason: String,
}

/// Parses every document of a YAML stream.
pub fn from_str(text: &str, origin: &str) -> Result<Vec<Document>, LoadError> {
    documents(text, origin)
        .into_iter()
        .map(|result| result.map(|(_, document)| document))
        .collect()
}

/// Every document of a multi-document YAML stream on its own, with its 1-based position:
/// a document that does not type-check fails alone, the others still load. A YAML syntax
/// error ends the stream (nothing after it can be trusted to be split right).
pub fn documents(text: &str, origin: &str) -> Vec<Result<(usize, Document), LoadError>> {
    let mut documents = Vec::new();
    if let Err(reason) = check_nesting(text) {
        documents.push(Err(LoadError {
            origin: origin.to_owned(),
            index: 1,
            what: String::new(),
            reason,
        }));
        return documents;
    }
    for (position, deserializer) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let index = position + 1;
        let fail = |what: String, reason: String| LoadError {
            origin: origin.to_owned(),
            index,
            what,
            reason,
        };
        let value = match Strict::deserialize(deserializer) {
            Ok(Strict(value)) => value,
            Err(error) => {
                documents.push(Err(fail(String::new(), yaml_reason(&error.to_string()))));
                break;
            }
        };
        if value.is_null() {
            continue; // an empty document between `---` separators
        }
        let api_version = field(&value, "apiVersion");
        let kind = field(&value, "kind");
        let name = value
            .pointer("/metadata/name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let what = format!(" ({kind}/{name})");
        documents.push(
            typed(value, &api_version, &kind)
                .and_then(check_names)
                .map(|document| (index, document))
                .map_err(|reason| fail(what, reason)),
        );
    }
    documents
}

/// The fields of each `external-secrets.io` document that keyward's types (ESO's schema,
/// field for field) do not have, by the document's 1-based position (counted as
/// [`documents`] counts): the apiserver drops fields its schema lacks without a word, so a
/// misspelt or misplaced field silently does nothing; a field of a newer ESO is one keyward
/// does not act on. Provider blocks are left to the providers (keyward-providers'
/// `registry::check_config`).
pub fn unknown_fields(text: &str) -> Vec<(usize, Vec<String>)> {
    if check_nesting(text).is_err() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for (position, deserializer) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let Ok(Strict(value)) = Strict::deserialize(deserializer) else {
            break;
        };
        let (api_version, kind) = (field(&value, "apiVersion"), field(&value, "kind"));
        let unknown = match (api_version.as_str(), kind.as_str()) {
            ("external-secrets.io/v1", "ExternalSecret") => ignored::<ExternalSecret>(value),
            ("external-secrets.io/v1", "SecretStore") => ignored::<SecretStore>(value),
            ("external-secrets.io/v1", "ClusterSecretStore") => {
                ignored::<ClusterSecretStore>(value)
            }
            ("external-secrets.io/v1alpha1", "PushSecret") => ignored::<PushSecret>(value),
            _ => Vec::new(),
        };
        if !unknown.is_empty() {
            found.push((position + 1, unknown));
        }
    }
    found
}

/// The paths serde skips when it types `value` as `T`, but `apiVersion`, `kind` and
/// `status`.
fn ignored<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Vec<String> {
    let mut paths = Vec::new();
    let _ = serde_ignored::deserialize::<_, _, T>(value, |path| {
        let path = bracket_indexes(&path.to_string());
        // apiVersion and kind come from the type; status is the controller's, not the author's.
        if path != "apiVersion"
            && path != "kind"
            && path != "status"
            && !path.starts_with("status.")
        {
            paths.push(path);
        }
    });
    paths
}

/// `spec.data.0.remoteRef` as the other errors spell it: `spec.data[0].remoteRef`.
fn bracket_indexes(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 2);
    for segment in path.split('.') {
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

fn typed(value: serde_json::Value, api_version: &str, kind: &str) -> Result<Document, String> {
    let eso = api_version.starts_with("external-secrets.io/");
    match (api_version, kind) {
        ("external-secrets.io/v1", "ExternalSecret") => {
            parse(value).map(|d| Document::ExternalSecret(Box::new(d)))
        }
        ("external-secrets.io/v1", "SecretStore") => {
            parse(value).map(|d| Document::SecretStore(Box::new(d)))
        }
        ("external-secrets.io/v1", "ClusterSecretStore") => {
            parse(value).map(|d| Document::ClusterSecretStore(Box::new(d)))
        }
        ("external-secrets.io/v1alpha1", "PushSecret") => {
            parse(value).map(|d| Document::PushSecret(Box::new(d)))
        }
        (GENERATORS_API_VERSION, "Password") => parse::<Password>(value).map(|g| {
            let spec = GeneratorSpec::Password(g.spec);
            Document::Generator(Box::new(GeneratorObject::namespaced(
                "Password", g.metadata, spec,
            )))
        }),
        (GENERATORS_API_VERSION, "UUID") => parse::<UUID>(value).map(|g| {
            let object = GeneratorObject::namespaced("UUID", g.metadata, GeneratorSpec::Uuid);
            Document::Generator(Box::new(object))
        }),
        (GENERATORS_API_VERSION, "Fake") => parse::<Fake>(value).map(|g| {
            let spec = GeneratorSpec::Fake(g.spec);
            Document::Generator(Box::new(GeneratorObject::namespaced(
                "Fake", g.metadata, spec,
            )))
        }),
        (GENERATORS_API_VERSION, "ClusterGenerator") => parse::<ClusterGenerator>(value).map(|g| {
            Document::Generator(Box::new(GeneratorObject {
                kind: "ClusterGenerator".to_owned(),
                namespace: None,
                name: g.metadata.name.unwrap_or_default(),
                spec: g.spec.served(),
            }))
        }),
        ("v1", "Secret") => parse(value).map(|d| Document::Secret(Box::new(d))),
        ("v1", "ConfigMap") => parse(value).map(|d| Document::ConfigMap(Box::new(d))),
        (_, "ExternalSecret" | "SecretStore" | "ClusterSecretStore") if eso => Err(format!(
            "apiVersion {api_version} is no longer served; use external-secrets.io/v1 (ESO serves only v1)"
        )),
        _ => Ok(Document::Other {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            object: Box::new(value),
        }),
    }
}

/// Kubernetes refuses objects whose names are not DNS-1123 names; keyward does too, at load,
/// because names become paths (`OUT/<namespace>/<target>`) and labels.
fn check_names(document: Document) -> Result<Document, String> {
    if let Document::Generator(generator) = &document {
        ResourceName::parse(&generator.name).map_err(|e| format!("metadata.name: {e}"))?;
        if let Some(namespace) = generator.namespace.as_deref() {
            NamespaceName::parse(namespace).map_err(|e| format!("metadata.namespace: {e}"))?;
        }
        return Ok(document);
    }
    let metadata = match &document {
        Document::ExternalSecret(es) => Some(&es.metadata),
        Document::SecretStore(store) => Some(&store.metadata),
        Document::ClusterSecretStore(store) => Some(&store.metadata),
        Document::Secret(secret) => Some(&secret.metadata),
        Document::ConfigMap(config_map) => Some(&config_map.metadata),
        Document::PushSecret(push) => Some(&push.metadata),
        Document::Generator(_) | Document::Other { .. } => None,
    };
    if let Some(metadata) = metadata {
        match metadata.name.as_deref() {
            None => return Err("metadata.name: is required".into()),
            Some(name) => {
                ResourceName::parse(name).map_err(|e| format!("metadata.name: {e}"))?;
            }
        }
        if let Some(namespace) = metadata.namespace.as_deref() {
            NamespaceName::parse(namespace).map_err(|e| format!("metadata.namespace: {e}"))?;
        }
    }
    Ok(document)
}

/// The largest manifest file read: far above any real one (the apiserver stores objects of at
/// most 1.5 MiB), far below what would hurt.
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// The manifest files under `paths` (files as given; directories searched for `*.yaml` and
/// `*.yml`, in sorted order) with their text, or why a path could not be read: with
/// [`manifest_files`] and [`read_manifest`], the one place this crate touches the file system.
pub fn read_manifests(paths: &[std::path::PathBuf]) -> Vec<(String, Result<String, String>)> {
    manifest_files(paths)
        .into_iter()
        .map(|file| match file {
            Ok(file) => (file.display().to_string(), read_manifest(&file)),
            Err(missing) => (missing, Err("no such file or directory".into())),
        })
        .collect()
}

/// The manifest files under `paths`: files as given, directories searched for `*.yaml` and
/// `*.yml` (sorted). A path that does not exist is `Err(path)`. Links to directories are not
/// followed (a link loop would never end); links to files are, and [`read_manifest`] reads
/// only regular files.
pub fn manifest_files(paths: &[std::path::PathBuf]) -> Vec<Result<std::path::PathBuf, String>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            collect_yaml(path, &mut found);
            found.sort();
            files.extend(found.into_iter().map(Ok));
        } else if path.exists() {
            files.push(Ok(path.clone()));
        } else {
            files.push(Err(path.display().to_string()));
        }
    }
    files
}

fn collect_yaml(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect_yaml(&path, found);
        } else if !path.is_dir() && path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            found.push(path);
        }
    }
}

/// A manifest file's text. Only regular files are read (a FIFO would hang the reader, a
/// device never end), at most [`MAX_MANIFEST_BYTES`].
pub fn read_manifest(file: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let meta = std::fs::metadata(file).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file; refused".into());
    }
    let opened = std::fs::File::open(file).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    opened
        .take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(format!(
            "larger than {} MiB; refused",
            MAX_MANIFEST_BYTES >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text; a manifest is YAML".into())
}

/// How deeply flow collections (`[`, `{`) may nest. The YAML parser takes time superlinear in
/// the depth (100,000 `[` took 34 s); no manifest comes near this.
pub const MAX_NESTING: usize = 512;

/// Refuses texts whose brackets nest deeper than [`MAX_NESTING`], before the YAML parser sees
/// them. Brackets inside quotes or plain scalars are counted too: a false refusal needs
/// hundreds of unbalanced brackets in one file.
fn check_nesting(text: &str) -> Result<(), String> {
    let mut depth = 0usize;
    for byte in text.bytes() {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!(
                        "collections nest deeper than {MAX_NESTING} levels; refused"
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// A JSON value read from YAML that refuses duplicate mapping keys, as the apiserver does:
/// with `a: 1` and `a: 2` in one mapping, which one counts depends on the reader.
struct Strict(serde_json::Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Strict::deserialize(d).map(|Strict(value)| value)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if object.contains_key(&key) {
                // A key is a field or Secret key name, never a value.
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key {key:?} in one mapping"
                )));
            }
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }
}

/// Types one object from its JSON (as the API server sends it): the error names the field
/// path and never quotes a value.
pub fn from_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    parse(value)
}

fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = redact_reason(&error.into_inner().to_string());
        if path == "." {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })
}

fn field(value: &serde_json::Value, name: &str) -> String {
    value
        .get(name)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// serde's messages quote the offending value (`invalid value: string "hunter2"`); keep the
/// expectation, drop the value.
fn redact_reason(reason: &str) -> String {
    match reason
        .find("invalid type: ")
        .or_else(|| reason.find("invalid value: "))
    {
        Some(_) => match reason.split_once(", expected ") {
            Some((got, expected)) => {
                let got_kind = got.split(':').nth(1).map(str::trim).unwrap_or("");
                let got_kind = got_kind.split_whitespace().next().unwrap_or("value");
                format!("got a {got_kind}, expected {expected}")
            }
            None => "invalid value".to_owned(),
        },
        None => reason.to_owned(),
    }
}

/// YAML syntax errors carry positions, which are what a user needs; keep one line.
fn yaml_reason(reason: &str) -> String {
    reason.lines().next().unwrap_or(reason).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_each_kind_and_skips_others() {
        let text = "apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: vault, namespace: apps}
spec:
  provider:
    vault: {server: 'http://127.0.0.1:8200', path: secret, version: v2}
---
---
apiVersion: v1
kind: ConfigMap
metadata: {name: x}
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: fake}
spec:
  provider:
    fake: {data: [{key: a, value: b}]}
  conditions: [{namespaces: [apps]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
";
        let docs = from_str(text, "stores.yaml").expect("load");
        assert_eq!(docs.len(), 4);
        assert!(matches!(&docs[3], Document::Other { kind, .. } if kind == "Deployment"));
        let Document::SecretStore(store) = &docs[0] else {
            panic!("{docs:?}")
        };
        let (name, config) = store.spec.provider.single().expect("one provider");
        assert_eq!(name, "vault");
        assert_eq!(config["path"], "secret");
        assert!(matches!(&docs[1], Document::ConfigMap(_)));
        let Document::ClusterSecretStore(css) = &docs[2] else {
            panic!("{docs:?}")
        };
        assert_eq!(css.spec.store.conditions[0].namespaces, ["apps"]);
    }

    #[test]
    fn errors_name_file_document_and_field_without_values() {
        let text = "apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: db}
spec:
  data:
  - secretKey: password
    remoteRef: {key: [hunter2-canary]}
";
        let error = from_str(text, "db.yaml").expect_err("invalid");
        let message = error.to_string();
        assert!(
            message.starts_with(
                "db.yaml: document 1 (ExternalSecret/db): spec.data[0].remoteRef.key:"
            ),
            "{message}"
        );
        assert!(!message.contains("hunter2-canary"), "{message}");
    }

    #[test]
    fn fields_the_schema_lacks_are_named_by_document_and_path() {
        let text = "apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: db}
spec:
  refreshInterval: 1h
  secretStoreRef: {name: vault, kind: ClusterSecretStore}
  data:
  - secretKey: password
    remoteRef: {key: db, propery: password}
  targets: {name: db}
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: vault}
spec:
  provider: {vault: {anything: goes}}
";
        assert_eq!(
            unknown_fields(text),
            [(
                1,
                vec![
                    "spec.data[0].remoteRef.propery".to_owned(),
                    "spec.targets".to_owned()
                ]
            )]
        );
    }

    #[test]
    fn old_api_versions_are_refused_by_name() {
        let text = "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: {name: old}\nspec: {}\n";
        let error = from_str(text, "old.yaml").expect_err("refused");
        assert!(
            error
                .to_string()
                .contains("no longer served; use external-secrets.io/v1"),
            "{error}"
        );
    }

    #[test]
    fn yaml_syntax_errors_have_positions() {
        let error = from_str("a: [unclosed\n", "bad.yaml").expect_err("invalid");
        assert!(
            error.to_string().starts_with("bad.yaml: document 1: "),
            "{error}"
        );
        assert!(error.to_string().contains("line"), "{error}");
    }

    #[test]
    fn provider_blocks_must_name_exactly_one_provider() {
        let text = "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {name: s}\nspec:\n  provider: {vault: {}, aws: {}}\n";
        let docs = from_str(text, "s.yaml").expect("load");
        let Document::SecretStore(store) = &docs[0] else {
            panic!()
        };
        assert!(
            store
                .spec
                .provider
                .single()
                .expect_err("two")
                .contains("2 providers")
        );
    }
}
