//! Property lookup and map extraction, shared by every provider.
//!
//! ESO's rules (read in v0.16.2's providers), which keyward follows:
//! - without `property`, a single value or a JSON document is returned as is, and a map as
//!   its JSON;
//! - with `property`, a map is first searched for a key of exactly that name, then the JSON
//!   of the value (or of the map) is walked with a gjson path: `a.b` descends objects, `a.0`
//!   indexes arrays, `a\.b` is a key with a dot;
//! - the node a path selects becomes text as gjson's `Result.String()` makes it: a string its
//!   text, `true`/`false`, `null` the empty string, an integer its digits as stored, any other
//!   number the shortest decimal that reads back as the same float64, without exponent
//!   (`1.50` is `1.5`, `1e3` is `1000`), an object or array its text exactly as stored
//!   (spacing and key order kept);
//! - `extract` turns a JSON object (or a map) into one value per key the way ESO's
//!   `json.RawMessage` maps do: a string its text, `null` the empty string, anything else its
//!   text exactly as stored (`1.50` stays `1.50`);
//! - a JSON document whose values may nest (a Vault entry) reads a top-level key as ESO's
//!   Vault provider does (a string its text, `null` empty, anything else as stored), and
//!   extracts through float64 as it does (`1.50` is `1.5`).
//!
//! Nodes are cut out of the stored text ([`crate::raw_json`]), never re-encoded (but for the
//! numbers of a Vault extract, which ESO re-encodes too). Errors never contain the value: "is
//! not JSON" says where, not what.

use std::collections::BTreeMap;

use keyward_core::SecretValue;

use crate::raw_json::{Kind, RawJson};
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
        (Fetched::Map(map), None) => Ok(map_json(map)),
        (Fetched::Map(map), Some(property)) if map.contains_key(property) => {
            Ok(map[property].clone())
        }
        (Fetched::Map(map), Some(property)) => {
            let json = map_json(map);
            let text = json
                .expose_str()
                .map_err(|_| invalid(store, key, "the map is not UTF-8"))?;
            walk(parse_json(text, store, key)?, property, store, key)
        }
        (Fetched::Value(value), Some(property)) => {
            walk(parse_value(value, store, key)?, property, store, key)
        }
        (Fetched::Document(document), None) => Ok(document.clone()),
        (Fetched::Document(document), Some(property)) => {
            let json = parse_value(document, store, key)?;
            match json.member(property) {
                Some(node) => Ok(as_stored(node)),
                None => walk(json, property, store, key),
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
    let (value, text): (&SecretValue, fn(RawJson<'_>) -> SecretValue) = match fetched {
        Fetched::Map(map) => return Ok(map.clone()),
        Fetched::Value(value) => (value, as_stored),
        Fetched::Document(document) => (document, through_float),
    };
    let json = parse_value(value, store, key)?;
    if json.kind() != Kind::Object {
        return Err(invalid(
            store,
            key,
            "the value is JSON but not an object, so it cannot be extracted",
        ));
    }
    Ok(json
        .members()
        .into_iter()
        .map(|(name, node)| (name, text(node)))
        .collect())
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
    json: RawJson<'_>,
    property: &str,
    store: &str,
    key: &str,
) -> Result<SecretValue, ProviderError> {
    let mut node = json;
    for segment in path_segments(property) {
        let next = match node.kind() {
            Kind::Object => node.member(&segment),
            Kind::Array => segment.parse::<usize>().ok().and_then(|i| node.element(i)),
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
    Ok(gjson_text(node))
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

/// gjson's `Result.String()`: what ESO writes for a property a path selects.
fn gjson_text(node: RawJson<'_>) -> SecretValue {
    match node.kind() {
        Kind::Number if !is_integer(node.text()) => float_text(node.text()),
        _ => as_stored(node),
    }
}

/// `json.RawMessage` read as ESO's providers read it: a string's text, `null` empty, any
/// other node exactly as stored.
fn as_stored(node: RawJson<'_>) -> SecretValue {
    match node.kind() {
        Kind::String => SecretValue::from(node.string().unwrap_or_default()),
        Kind::Null => SecretValue::from(""),
        _ => SecretValue::from(node.text()),
    }
}

/// A node decoded into Go's `any` and written back as ESO's Vault provider does: numbers go
/// through float64, a top-level one printed by `strconv.FormatFloat`, nested ones by
/// `encoding/json` (objects and arrays are otherwise Vault's own compact text already).
fn through_float(node: RawJson<'_>) -> SecretValue {
    match node.kind() {
        Kind::Number => float_text(node.text()),
        Kind::Object | Kind::Array => SecretValue::from(node.map_numbers(json_float_text)),
        _ => as_stored(node),
    }
}

/// Go's `encoding/json` for a float64: `'f'` format, or `'e'` below 1e-6 and from 1e21 on,
/// with the exponent's sign always written and no leading zero (`1e+21`, `1.5e-7`).
fn json_float_text(text: &str) -> String {
    let number: f64 = text.parse().unwrap_or(f64::NAN);
    let magnitude = number.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let exponential = format!("{number:e}");
        match exponential.split_once('e') {
            Some((digits, exponent)) if !exponent.starts_with('-') => {
                format!("{digits}e+{exponent}")
            }
            _ => exponential,
        }
    } else {
        number.to_string()
    }
}

/// gjson treats a number of only digits (and a sign) as an integer and keeps its text.
fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal that reads back as the
/// same float64, never with an exponent. Rust's `Display` for `f64` prints exactly that;
/// only the infinities (a number too large for float64) are spelled differently.
fn float_text(text: &str) -> SecretValue {
    let number: f64 = text.parse().unwrap_or(f64::NAN);
    let text = if number.is_infinite() {
        if number > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        number.to_string()
    };
    SecretValue::from(text)
}

fn parse_value<'a>(
    value: &'a SecretValue,
    store: &str,
    key: &str,
) -> Result<RawJson<'a>, ProviderError> {
    let text = value.expose_str().map_err(|_| not_json(store, key))?;
    parse_json(text, store, key)
}

fn parse_json<'a>(text: &'a str, store: &str, key: &str) -> Result<RawJson<'a>, ProviderError> {
    RawJson::parse(text).ok_or_else(|| not_json(store, key))
}

fn not_json(store: &str, key: &str) -> ProviderError {
    invalid(
        store,
        key,
        "the value is not JSON, so a property cannot be read from it",
    )
}

/// A map as ESO marshals one to JSON (values as strings, keys in order), written straight
/// into a [`SecretValue`] from borrowed views of the values: no intermediate JSON value holds
/// a copy. (A value that is not UTF-8 is read lossily, as ESO's `string(bytes)` marshals it;
/// that lossy copy is wiped too.)
fn map_json(map: &BTreeMap<String, SecretValue>) -> SecretValue {
    let lossy: BTreeMap<&str, zeroize::Zeroizing<String>> = map
        .iter()
        .filter(|(_, v)| std::str::from_utf8(v.expose_bytes()).is_err())
        .map(|(k, v)| {
            let text = String::from_utf8_lossy(v.expose_bytes()).into_owned();
            (k.as_str(), zeroize::Zeroizing::new(text))
        })
        .collect();
    let strings: BTreeMap<&str, &str> = map
        .iter()
        .map(|(k, v)| {
            let text = std::str::from_utf8(v.expose_bytes())
                .ok()
                .or_else(|| lossy.get(k.as_str()).map(|t| t.as_str()))
                .unwrap_or_default();
            (k.as_str(), text)
        })
        .collect();
    let room: usize = map.iter().map(|(k, v)| k.len() + 2 * v.len() + 6).sum();
    let mut out = Vec::with_capacity(room + 2);
    // Serializing strings into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, &strings);
    SecretValue::new(out)
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

    /// ESO's fake, AWS, Azure and GCP providers read a property with gjson's
    /// `Result.String()` and extract through `json.RawMessage`. The expectations are what
    /// ESO v0.16.2's fake provider returned for this very value (GetSecret per property,
    /// GetSecretMap), run once from a small Go program.
    #[test]
    fn non_string_nodes_are_written_as_eso_writes_them() {
        let stored = "{\"none\": null, \"price\": 1.50, \"big\": 12345678901234567890, \"neg\": -7,\n \"exp\": 1e3, \"tiny\": 1E-7, \"yes\": true,\n \"nested\": { \"a\" : [1.50, \"x\"] }, \"quoted\": \"a\\\"b\", \"huge\": 1e400}";
        let fetched = Fetched::Value(SecretValue::from(stored));
        let property = |p| text(&select(&fetched, Some(p), "s", "k").expect(p)).to_owned();
        assert_eq!(property("none"), "");
        assert_eq!(property("price"), "1.5");
        assert_eq!(property("big"), "12345678901234567890");
        assert_eq!(property("neg"), "-7");
        assert_eq!(property("exp"), "1000");
        assert_eq!(property("tiny"), "0.0000001");
        assert_eq!(property("yes"), "true");
        assert_eq!(property("nested"), "{ \"a\" : [1.50, \"x\"] }");
        assert_eq!(property("nested.a"), "[1.50, \"x\"]");
        assert_eq!(property("nested.a.0"), "1.5");
        assert_eq!(property("quoted"), "a\"b");
        assert_eq!(property("huge"), "+Inf");

        let extracted = extract(&fetched, "s", "k").expect("object");
        let get = |k: &str| text(&extracted[k]).to_owned();
        assert_eq!(get("none"), "");
        assert_eq!(get("price"), "1.50");
        assert_eq!(get("exp"), "1e3");
        assert_eq!(get("tiny"), "1E-7");
        assert_eq!(get("huge"), "1e400");
        assert_eq!(get("yes"), "true");
        assert_eq!(get("nested"), "{ \"a\" : [1.50, \"x\"] }");
        assert_eq!(get("quoted"), "a\"b");
    }

    /// ESO's Vault provider reads a top-level key from a map decoded with `UseNumber` (a
    /// number as stored) but extracts from one decoded into float64.
    #[test]
    fn documents_follow_esos_vault_rules() {
        let fetched = Fetched::Document(SecretValue::from(
            r#"{"none":null,"price":1.50,"deep":{"p":2.50,"big":1e21,"small":0.00000015,"n":7}}"#,
        ));
        let property = |p| text(&select(&fetched, Some(p), "s", "k").expect(p)).to_owned();
        assert_eq!(property("none"), "");
        assert_eq!(property("price"), "1.50");
        assert_eq!(property("deep.p"), "2.5");
        let extracted = extract(&fetched, "s", "k").expect("object");
        assert_eq!(text(&extracted["none"]), "");
        assert_eq!(text(&extracted["price"]), "1.5");
        assert_eq!(
            text(&extracted["deep"]),
            r#"{"p":2.5,"big":1e+21,"small":1.5e-7,"n":7}"#
        );
    }

    #[test]
    fn a_value_that_is_not_json_is_named_never_shown() {
        let canary = "{\"canary-9b2f\": oops";
        let fetched = Fetched::Value(SecretValue::from(canary));
        let error = select(&fetched, Some("a"), "store", "key").expect_err("not json");
        assert_eq!(error.kind, ProviderErrorKind::InvalidData);
        assert!(!error.to_string().contains("canary-9b2f"), "{error}");
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
