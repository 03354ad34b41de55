//! The `fake` provider: ESO's fake store, values written in the SecretStore itself.
//!
//! ESO's semantics: an entry matches a read only when both key and version match (an entry
//! without a version matches only reads without one); `valueMap` (deprecated in ESO) is the
//! JSON of that map; `find` matches names by regexp over every entry. It makes no calls, so
//! tests and the side-by-side benchmark against ESO can use it.

use std::collections::BTreeMap;

use keyward_api::ExternalSecretFind;
use keyward_core::SecretValue;
use serde::Deserialize;

use crate::{Fetched, KeyInfo, Provider, ProviderError, ProviderErrorKind, StoreId, Versioned};

/// `spec.provider.fake`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FakeConfig {
    /// The entries.
    #[serde(default)]
    pub data: Vec<FakeEntry>,
}

/// One `spec.provider.fake.data` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FakeEntry {
    /// The key.
    pub key: String,
    /// The value.
    #[serde(default)]
    pub value: String,
    /// The version; empty matches reads without a version.
    #[serde(default)]
    pub version: String,
    /// Deprecated in ESO: a map, served as its JSON.
    #[serde(default)]
    pub value_map: Option<BTreeMap<String, String>>,
}

/// The fake store.
#[derive(Debug)]
pub struct FakeProvider {
    store: StoreId,
    entries: BTreeMap<(String, String), SecretValue>,
}

impl FakeProvider {
    /// Builds the store from its configuration.
    pub fn new(store: StoreId, config: FakeConfig) -> Self {
        let entries = config
            .data
            .into_iter()
            .map(|entry| {
                let value = match entry.value_map {
                    Some(map) => serde_json::to_string(&map).unwrap_or_default(),
                    None => entry.value,
                };
                ((entry.key, entry.version), SecretValue::from(value))
            })
            .collect();
        Self { store, entries }
    }
}

#[async_trait::async_trait]
impl Provider for FakeProvider {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn store(&self) -> &StoreId {
        &self.store
    }

    async fn fetch(&self, key: &str, version: Option<&str>) -> Result<Fetched, ProviderError> {
        self.entries
            .get(&(key.to_owned(), version.unwrap_or("").to_owned()))
            .map(|value| Fetched::Value(value.clone()))
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::NotFound,
                    self.store.as_str(),
                    Some(key),
                    "no such key and version",
                )
            })
    }

    async fn fetch_versioned(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Versioned, ProviderError> {
        self.fetch(key, version).await.map(|fetched| Versioned {
            fetched,
            version: version.filter(|v| !v.is_empty()).map(str::to_owned),
        })
    }

    /// The fake store is in memory: the entry's version, no value handed out.
    async fn describe(&self, key: &str, version: Option<&str>) -> Result<KeyInfo, ProviderError> {
        let version = version.unwrap_or("");
        if !self
            .entries
            .contains_key(&(key.to_owned(), version.to_owned()))
        {
            return Err(ProviderError::new(
                ProviderErrorKind::NotFound,
                self.store.as_str(),
                Some(key),
                "no such key and version",
            ));
        }
        Ok(KeyInfo {
            version: (!version.is_empty()).then(|| version.to_owned()),
            created: None,
            read_value: false,
        })
    }

    async fn list(&self, find: &ExternalSecretFind) -> Result<Vec<String>, ProviderError> {
        let matcher = crate::value::name_matcher(find, self.store().as_str())?;
        let mut keys: Vec<String> = self
            .entries
            .keys()
            .map(|(key, _)| key.clone())
            .filter(|key| matcher.as_ref().is_none_or(|m| m.is_match(key)))
            .collect();
        keys.dedup();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use keyward_api::FindName;

    use super::*;

    fn provider() -> FakeProvider {
        let config: FakeConfig = serde_json::from_value(serde_json::json!({
            "data": [
                {"key": "/foo/bar", "value": "HELLO1", "version": "v1"},
                {"key": "/foo/bar", "value": "HELLO2", "version": "v2"},
                {"key": "/foo/baz", "value": "{\"john\": \"doe\"}"},
                {"key": "/other", "valueMap": {"a": "1"}}
            ]
        }))
        .expect("config");
        FakeProvider::new(StoreId::namespaced("ns", "fake"), config)
    }

    #[tokio::test]
    async fn versions_must_match_exactly() {
        let fake = provider();
        let v2 = fake.fetch("/foo/bar", Some("v2")).await.expect("v2");
        assert_eq!(v2, Fetched::Value(SecretValue::from("HELLO2")));
        let unversioned = fake
            .fetch("/foo/bar", None)
            .await
            .expect_err("no unversioned entry");
        assert_eq!(unversioned.kind, ProviderErrorKind::NotFound);
        assert!(fake.fetch("/foo/baz", None).await.is_ok());
        assert_eq!(
            fake.fetch("/other", None).await.expect("valueMap"),
            Fetched::Value(SecretValue::from("{\"a\":\"1\"}"))
        );
    }

    /// ESO's fake provider hands back what the store holds: a property through gjson, an
    /// extract through `json.RawMessage`. `null` is empty, `1.50` keeps its digits under
    /// extract, a nested object keeps its spacing (ESO v0.16.2 wrote exactly these).
    #[tokio::test]
    async fn non_string_values_are_written_as_esos_fake_provider_writes_them() {
        let stored = "{\"none\": null, \"price\": 1.50, \"db\": {\"port\": 5432,  \"tls\": true}}";
        let config: FakeConfig = serde_json::from_value(serde_json::json!({
            "data": [{"key": "/values", "value": stored}]
        }))
        .expect("config");
        let fake = FakeProvider::new(StoreId::namespaced("ns", "fake"), config);
        let fetched = fake.fetch("/values", None).await.expect("entry");
        let property = |p: &str| {
            let value = crate::value::select(&fetched, Some(p), "s", "/values").expect(p);
            value.expose_str().expect("utf-8").to_owned()
        };
        assert_eq!(property("none"), "");
        assert_eq!(property("price"), "1.5");
        assert_eq!(property("db"), "{\"port\": 5432,  \"tls\": true}");
        assert_eq!(property("db.port"), "5432");
        let extracted = crate::value::extract(&fetched, "s", "/values").expect("object");
        let get = |k: &str| extracted[k].expose_str().expect("utf-8").to_owned();
        assert_eq!(get("none"), "");
        assert_eq!(get("price"), "1.50");
        assert_eq!(get("db"), "{\"port\": 5432,  \"tls\": true}");
    }

    #[tokio::test]
    async fn find_matches_names() {
        let fake = provider();
        let find = ExternalSecretFind {
            name: Some(FindName {
                regexp: "^/foo/".into(),
            }),
            ..ExternalSecretFind::default()
        };
        assert_eq!(
            fake.list(&find).await.expect("list"),
            ["/foo/bar", "/foo/baz"]
        );
    }

    #[tokio::test]
    async fn describe_names_the_version_without_the_value() {
        let provider = provider();
        let pinned = provider.describe("/foo/bar", Some("v2")).await.expect("v2");
        assert_eq!(pinned.version.as_deref(), Some("v2"));
        assert!(!pinned.read_value);
        assert!(provider.describe("/foo/baz", None).await.is_ok());
        let missing = provider.describe("/foo/bar", Some("v9")).await;
        assert_eq!(missing.expect_err("v9").kind, ProviderErrorKind::NotFound);
    }
}
