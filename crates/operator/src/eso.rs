//! The strings and hashes External Secrets Operator writes onto Secrets and ExternalSecrets,
//! computed exactly as ESO v0.16 computes them, so that Secrets ESO wrote are adopted without
//! a write and ESO can take back Secrets keyward wrote.
//!
//! ESO's `ObjectHash` is SHA3-224 (FIPS 202), in lower-case hex, of Go's `fmt.Sprintf("%+v")`
//! text of a value. For the maps hashed here that text is `map[k1:v1 k2:v2]` with keys in byte
//! order and values printed raw (strings) or as `[98 97 114]` (byte slices).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha3::{Digest, Sha3_224};

/// The label on every Secret an ExternalSecret manages.
pub const MANAGED_LABEL: &str = "reconcile.external-secrets.io/managed";
/// The label on a Secret whose ExternalSecret owns it (`creationPolicy: Owner`).
pub const CREATED_BY_LABEL: &str = "reconcile.external-secrets.io/created-by";
/// The annotation holding the hash of a Secret's data.
pub const DATA_HASH_ANNOTATION: &str = "reconcile.external-secrets.io/data-hash";
/// The field manager prefix of ESO's per-ExternalSecret Secret writes.
pub const FIELD_MANAGER_PREFIX: &str = "externalsecrets.external-secrets.io/";

/// The field manager of ExternalSecret `name`'s Secret writes (ESO's, so that ownership of
/// keys, labels and annotations carries over in both directions).
pub fn field_manager(external_secret: &str) -> String {
    format!("{FIELD_MANAGER_PREFIX}{external_secret}")
}

/// `ObjectHash` of a Go text.
fn object_hash(go_text: &str) -> String {
    hex::encode(Sha3_224::digest(go_text.as_bytes()))
}

/// The `data-hash` annotation: the hash of `map[string][]byte` data.
pub fn data_hash<'a>(data: impl IntoIterator<Item = (&'a String, &'a [u8])>) -> String {
    let mut text = String::from("map[");
    for (index, (key, value)) in data.into_iter().enumerate() {
        if index > 0 {
            text.push(' ');
        }
        text.push_str(key);
        text.push_str(":[");
        for (position, byte) in value.iter().enumerate() {
            if position > 0 {
                text.push(' ');
            }
            let _ = write!(text, "{byte}");
        }
        text.push(']');
    }
    text.push(']');
    object_hash(&text)
}

/// The `created-by` label of a Secret owned by ExternalSecret `namespace/name`.
pub fn created_by(namespace: &str, name: &str) -> String {
    object_hash(&format!("{namespace}/{name}"))
}

/// `status.syncedResourceVersion`: the ExternalSecret's generation and a hash of its labels
/// and annotations, so that a change to any of them (a `force-sync` annotation) is seen.
pub fn synced_resource_version(
    generation: i64,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> String {
    let go_map = |map: &BTreeMap<String, String>| {
        let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        format!("map[{}]", pairs.join(" "))
    };
    let text = format!(
        "{{annotations:{} labels:{}}}",
        go_map(annotations),
        go_map(labels)
    );
    format!("{generation}-{}", object_hash(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(pairs: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect()
    }

    fn hash(pairs: &[(&str, &[u8])]) -> String {
        let owned = bytes(pairs);
        data_hash(owned.iter().map(|(k, v)| (k, v.as_slice())))
    }

    /// Vectors computed with Go's `fmt` and `crypto/sha3`, cross-checked with Python's
    /// `hashlib.sha3_224`.
    #[test]
    fn data_hashes_match_eso() {
        assert_eq!(
            hash(&[]),
            "74a974446e359fb3e6baff9bd0058950e6edd0f040888d9989b0a11b"
        );
        assert_eq!(
            hash(&[("foo", b"bar")]),
            "f2a604b87eb0cf673761e8cfea850f901fe73a3d1b2f338802107f36"
        );
        assert_eq!(
            hash(&[("password", b"s3cr3t"), ("username", b"admin")]),
            "4dc87f1bc1b42f99971f11cd8a752c3c1babc6486c0744d841d68c6a"
        );
        assert_eq!(
            hash(&[("a", &[255, 0]), ("b", &[])]),
            "ebc99ffc69b9f602fb6ea1000e4d00f2e40b7104a471d0ef7bc5db2f"
        );
    }

    #[test]
    fn owner_label_and_synced_resource_version_match_eso() {
        assert_eq!(
            created_by("default", "my-es"),
            "b8464376b5fe3535e690594280bfe59b60be2603cb6cbb6d6c8bcbb4"
        );
        let none = BTreeMap::new();
        assert_eq!(
            synced_resource_version(1, &none, &none),
            "1-f47fe3c0b255b6dd8047cdffa772587bb829efe7a1cb70febeda2eb2"
        );
        let force: BTreeMap<String, String> = [("force-sync".into(), "1700000000".into())].into();
        assert_eq!(
            synced_resource_version(3, &none, &force),
            "3-df54e3e2e03f8455a218b1d9cbffaa2c878db6978aae0e1136007395"
        );
        let labels: BTreeMap<String, String> =
            [("app".into(), "x".into()), ("tier".into(), "be".into())].into();
        let annotations: BTreeMap<String, String> = [("a".into(), "1".into())].into();
        assert_eq!(
            synced_resource_version(2, &labels, &annotations),
            "2-4464e9cf39f319001b66b530489daa4eaf1d5e139a9426ddb013a77a"
        );
    }
}
