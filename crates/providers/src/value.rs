//! Property lookup and map extraction, shared by every provider.
//!
//! ESO's rules, which keyward follows:
//! - without `property`, a single value or a JSON document is returned as is, and a map as
//!   its JSON;
//! - with `property`, a map is first searched for a key of exactly that name, then the JSON
//!   of the value (or of the map) is walked with a gjson path: `a.b` descends objects, `a.0`
//!   indexes arrays, `a\.b` is a key with a dot. A JSON string yields its text, anything else
//!   its JSON;
//! - `extract` turns a JSON object (or a map) into one value per key, with the same rule.
//!
//! Errors never contain the value: "is not JSON" says where, not what.

use std::collections::BTreeMap;

use keyward_core::SecretValue;
use serde_json::Value;

use crate::{Fetched, ProviderError, ProviderErrorKind};

/// The value `property` selects from `fetched` (all of it when `property` is `None`).
pub fn select(
    fetched: &Fetched,
    property: Option<&str>,
    store: &str,
    key: &str,
) -> Result<SecretValue, ProviderError> {
    let property = property.filter(|p| !p.is_empty());
    match (fetched, property) {
        (Fetched::Value(value), None) => Ok(value.clone()),
        (Fetched::Map(map), None) => Ok(SecretValue::from(map_to_json(map).to_string())),
        (Fetched::Map(map), Some(property)) if map.contains_key(property) => {
            Ok(map[property].clone())
        }
        (Fetched::Map(map), Some(property)) => walk(&map_to_json(map), property, store, key),
        (Fetched::Value(value), Some(property)) => {
            walk(&parse_json(value, store, key)?, property, store, key)
        }
        (Fetched::Document(document), None) => Ok(document.clone()),
        (Fetched::Document(document), Some(property)) => {
            let json = parse_json(document, store, key)?;
            match json.get(property) {
                Some(node) => Ok(node_text(node)),
                None => walk(&json, property, store, key),
            }
        }
    }
}

/// One value per key of `fetched`: a map as it is, a single value parsed as a JSON object.
pub fn extract(
    fetched: &Fetched,
    store: &str,
    key: &str,
) -> Result<BTreeMap<String, SecretValue>, ProviderError> {
    match fetched {
        Fetched::Map(map) => Ok(map.clone()),
        Fetched::Value(value) | Fetched::Document(value) => match parse_json(value, store, key)? {
            Value::Object(object) => Ok(object
                .iter()
                .map(|(k, v)| (k.clone(), node_text(v)))
                .collect()),
            _ => Err(invalid(
                store,
                key,
                "the value is JSON but not an object, so it cannot be extracted",
            )),
        },
    }
}

/// The compiled `find.name.regexp`, if any; an invalid pattern is a store misconfiguration.
pub fn name_matcher(
    find: &keyward_api::ExternalSecretFind,
    store: &str,
) -> Result<Option<regex::Regex>, ProviderError> {
    find.name
        .as_ref()
        .map(|name| regex::Regex::new(&name.regexp))
        .transpose()
        .map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::Misconfigured,
                store,
                None,
                format!("find.name.regexp: {e}"),
            )
        })
}

fn walk(
    json: &Value,
    property: &str,
    store: &str,
    key: &str,
) -> Result<SecretValue, ProviderError> {
    let mut node = json;
    for segment in path_segments(property) {
        let next = match node {
            Value::Object(object) => object.get(&segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        node = next.ok_or_else(|| {
            ProviderError::new(
                ProviderErrorKind::NotFound,
                store,
                Some(key),
                format!("property '{property}' does not exist"),
            )
        })?;
    }
    Ok(node_text(node))
}

/// gjson path segments: split on `.`, except `\.`.
fn path_segments(path: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            '.' => segments.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    segments.push(current);
    segments
}

fn node_text(node: &Value) -> SecretValue {
    match node {
        Value::String(text) => SecretValue::from(text.as_str()),
        other => SecretValue::from(other.to_string()),
    }
}

fn parse_json(value: &SecretValue, store: &str, key: &str) -> Result<Value, ProviderError> {
    serde_json::from_slice(value.expose_bytes()).map_err(|_| {
        invalid(
            store,
            key,
            "the value is not JSON, so a property cannot be read from it",
        )
    })
}

fn map_to_json(map: &BTreeMap<String, SecretValue>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    Value::String(String::from_utf8_lossy(v.expose_bytes()).into_owned()),
                )
            })
            .collect(),
    )
}

fn invalid(store: &str, key: &str, message: &str) -> ProviderError {
    ProviderError::new(ProviderErrorKind::InvalidData, store, Some(key), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &SecretValue) -> &str {
        value.expose_str().expect("utf-8")
    }

    #[test]
    fn properties_walk_json_like_gjson() {
        let fetched = Fetched::Value(SecretValue::from(
            r#"{"user":"app","db":{"port":5432,"hosts":["a","b"]},"dotted.key":"x","flag":true}"#,
        ));
        let get = |p| select(&fetched, Some(p), "s", "k").map(|v| text(&v).to_owned());
        assert_eq!(get("user").expect("user"), "app");
        assert_eq!(get("db.port").expect("port"), "5432");
        assert_eq!(get("db.hosts.1").expect("index"), "b");
        assert_eq!(get("db.hosts").expect("array"), r#"["a","b"]"#);
        assert_eq!(get(r"dotted\.key").expect("escaped"), "x");
        assert_eq!(get("flag").expect("bool"), "true");
        let missing = get("nope").expect_err("missing");
        assert_eq!(missing.kind, ProviderErrorKind::NotFound);
    }

    #[test]
    fn maps_prefer_exact_keys_then_paths() {
        let mut map = BTreeMap::new();
        map.insert("a.b".to_owned(), SecretValue::from("exact"));
        map.insert("json".to_owned(), SecretValue::from("{\"x\":1}"));
        let fetched = Fetched::Map(map);
        assert_eq!(
            text(&select(&fetched, Some("a.b"), "s", "k").expect("exact")),
            "exact"
        );
        assert_eq!(
            text(&select(&fetched, None, "s", "k").expect("all")),
            r#"{"a.b":"exact","json":"{\"x\":1}"}"#
        );
    }

    #[test]
    fn extract_needs_an_object_and_never_echoes_the_value() {
        let canary = "canary-5d1e-not-json";
        let error = extract(&Fetched::Value(SecretValue::from(canary)), "store", "key")
            .expect_err("not json");
        assert!(!error.to_string().contains(canary), "{error}");
        assert_eq!(error.kind, ProviderErrorKind::InvalidData);
        let map = extract(
            &Fetched::Value(SecretValue::from(r#"{"a":"1","b":2}"#)),
            "s",
            "k",
        )
        .expect("object");
        assert_eq!(text(&map["a"]), "1");
        assert_eq!(text(&map["b"]), "2");
    }
}
