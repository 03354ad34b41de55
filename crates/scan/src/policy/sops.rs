//! Bundle and SOPS policies: a bundle must be ansible-vault or SOPS encrypted, and a SOPS file
//! must hold no plaintext value outside its unencrypted suffix or regex.

use regex::Regex;
use serde_json::{Map, Value};

use super::envfile::parse_assignment;
use super::{BUNDLE_UNENCRYPTED, PolicyHit, SOPS_UNENCRYPTED, is_real_value, key_line};

const VAULT_HEADER: &str = "$ANSIBLE_VAULT;";

/// Whether `text` carries SOPS metadata (dotenv `sops_*` keys, or a YAML/JSON `sops` map).
pub fn is_sops(text: &str) -> bool {
    // Every marker below contains `sops`: one substring search spares a line walk. A JSON
    // key `"sops"` alone is also a package name (a Homebrew or npm lock file): SOPS metadata
    // carries its encrypted MAC beside it.
    let json_metadata = || text.contains("\"mac\"") && text.contains("ENC[");
    text.contains("sops")
        && text.lines().any(|line| {
            let t = line.trim_start();
            t.starts_with("sops_version=")
                || t.starts_with("sops_mac=")
                || line.starts_with("sops:")
                || (t.starts_with("\"sops\":") && json_metadata())
        })
}

/// A finding if a bundle file holds content but neither encryption header nor SOPS metadata.
pub fn check_bundle(text: &str) -> Vec<PolicyHit> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() || trimmed.starts_with(VAULT_HEADER) || is_sops(text) {
        return Vec::new();
    }
    let first = text
        .lines()
        .position(|line| !line.trim().is_empty())
        .map_or(1, |index| index + 1);
    vec![PolicyHit::new(BUNDLE_UNENCRYPTED, first, None)]
}

/// Which keys SOPS left unencrypted on purpose, from the file's own metadata.
#[derive(Debug, Default)]
struct Exemptions {
    unencrypted_suffix: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_regex: Option<Regex>,
    encrypted_regex: Option<Regex>,
}

impl Exemptions {
    fn from_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        let mut ex = Exemptions::default();
        for (key, value) in pairs {
            match key {
                "unencrypted_suffix" => ex.unencrypted_suffix = Some(value.to_owned()),
                "encrypted_suffix" => ex.encrypted_suffix = Some(value.to_owned()),
                "unencrypted_regex" => ex.unencrypted_regex = Regex::new(value).ok(),
                "encrypted_regex" => ex.encrypted_regex = Regex::new(value).ok(),
                _ => {}
            }
        }
        if ex.encrypted_suffix.is_none()
            && ex.encrypted_regex.is_none()
            && ex.unencrypted_regex.is_none()
            && ex.unencrypted_suffix.is_none()
        {
            ex.unencrypted_suffix = Some("_unencrypted".to_owned());
        }
        ex
    }

    /// Whether SOPS leaves `key` and its subtree in plaintext.
    fn left_plain(&self, key: &str) -> bool {
        self.unencrypted_suffix
            .as_deref()
            .is_some_and(|suffix| key.ends_with(suffix))
            || self
                .unencrypted_regex
                .as_ref()
                .is_some_and(|r| r.is_match(key))
    }

    /// Whether `key` selects its subtree for encryption.
    fn selects(&self, key: &str) -> bool {
        self.encrypted_suffix
            .as_deref()
            .is_some_and(|suffix| key.ends_with(suffix))
            || self
                .encrypted_regex
                .as_ref()
                .is_some_and(|r| r.is_match(key))
    }

    /// Whether values are encrypted unless a key says otherwise.
    fn encrypts_by_default(&self) -> bool {
        self.encrypted_suffix.is_none() && self.encrypted_regex.is_none()
    }

    /// For dotenv files (flat keys): whether the value under `key` must be encrypted.
    fn must_encrypt(&self, key: &str) -> bool {
        !self.left_plain(key) && (self.encrypts_by_default() || self.selects(key))
    }
}

/// Plaintext values of a SOPS file.
pub fn check_sops(text: &str) -> Vec<PolicyHit> {
    if text
        .lines()
        .any(|l| l.trim_start().starts_with("sops_version="))
    {
        return check_dotenv(text);
    }
    let Ok(Value::Object(root)) = serde_saphyr::from_str::<Value>(text) else {
        return Vec::new();
    };
    let meta = root.get("sops").and_then(Value::as_object);
    let pairs = meta
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s)));
    let exemptions = Exemptions::from_pairs(pairs);
    let mut hits = Vec::new();
    let walk = Walk {
        text,
        ex: &exemptions,
    };
    walk.map(&root, true, exemptions.encrypts_by_default(), &mut hits);
    hits
}

fn check_dotenv(text: &str) -> Vec<PolicyHit> {
    let assignments: Vec<(usize, &str, String)> = text
        .lines()
        .enumerate()
        .filter_map(|(i, line)| parse_assignment(line).map(|(k, v)| (i + 1, k, v)))
        .collect();
    let meta = assignments
        .iter()
        .filter_map(|(_, k, v)| k.strip_prefix("sops_").map(|k| (k, v.as_str())));
    let exemptions = Exemptions::from_pairs(meta);
    assignments
        .iter()
        .filter(|(_, key, value)| {
            !key.starts_with("sops_") && exemptions.must_encrypt(key) && is_real_value(value)
        })
        .map(|(line, _, value)| PolicyHit::new(SOPS_UNENCRYPTED, *line, Some(value)))
        .collect()
}

/// What the walk knows at one level of the tree.
struct Walk<'a> {
    text: &'a str,
    ex: &'a Exemptions,
}

impl Walk<'_> {
    fn map(&self, map: &Map<String, Value>, top: bool, encrypted: bool, hits: &mut Vec<PolicyHit>) {
        for (key, value) in map {
            if (top && key == "sops") || self.ex.left_plain(key) {
                continue;
            }
            let encrypted = encrypted || self.ex.selects(key);
            self.value(key, value, encrypted, hits);
        }
    }

    fn value(&self, key: &str, value: &Value, encrypted: bool, hits: &mut Vec<PolicyHit>) {
        let plain = match value {
            Value::Object(map) => return self.map(map, false, encrypted, hits),
            Value::Array(items) => {
                for item in items {
                    self.value(key, item, encrypted, hits);
                }
                return;
            }
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return,
        };
        if encrypted && is_real_value(&plain) {
            let line = key_line(self.text, 0, key).unwrap_or(1);
            hits.push(PolicyHit::new(SOPS_UNENCRYPTED, line, Some(&plain)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic password, assembled so the source holds no credential-shaped literal.
    const SAMPLE: &str = concat!("q8Zr", "2LmX9vTb", "4NcK");

    #[test]
    fn vault_and_sops_bundles_pass_plaintext_fails() {
        assert!(check_bundle("$ANSIBLE_VAULT;1.1;AES256\n6638\n").is_empty());
        assert!(check_bundle("A=ENC[AES256_GCM,data:x]\nsops_version=3.9.0\n").is_empty());
        assert!(check_bundle("").is_empty());
        assert_eq!(
            check_bundle(&format!("\nDB_PASSWORD={SAMPLE}\n"))[0].line,
            2
        );
    }

    #[test]
    fn sops_yaml_plaintext_outside_the_suffix_is_flagged() {
        let text = "db:\n  password: ENC[AES256_GCM,data:abc,iv:d,tag:e,type:str]\n  user_unencrypted: app\n  port: 5432\nsops:\n  mac: ENC[x]\n  version: 3.9.0\n";
        let hits = check_sops(text);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].line, 4);
    }

    #[test]
    fn sops_dotenv_plaintext_is_flagged() {
        let text = format!(
            "A=ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nB={SAMPLE}\nsops_version=3.9.0\nsops_mac=ENC[x]\n"
        );
        let hits = check_sops(&text);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].line, 2);
    }

    #[test]
    fn a_lock_file_naming_the_sops_package_is_no_sops_file() {
        let lock = "{\n  \"entries\": {\n    \"brew\": {\n      \"sops\": {\n        \"version\": \"3.9.1\"\n      }\n    }\n  }\n}\n";
        assert!(!is_sops(lock));
        let sops = "{\n  \"a\": \"ENC[AES256_GCM,data:x]\",\n  \"sops\": {\n    \"mac\": \"ENC[AES256_GCM,data:y]\"\n  }\n}\n";
        assert!(is_sops(sops));
    }

    #[test]
    fn encrypted_regex_limits_what_must_be_encrypted() {
        let text = "data:\n  password: ENC[AES256_GCM,data:x]\nkind: Secret\nsops:\n  encrypted_regex: ^(data|stringData)$\n  mac: ENC[x]\n";
        assert!(check_sops(text).is_empty());
    }
}
