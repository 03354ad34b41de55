//! `external-secrets.io/v1beta1` manifests rewritten to `v1`, which is all current ESO serves.
//!
//! The rewrite is textual: in each document only the value of its top-level `apiVersion` line
//! changes, so comments, key order, quoting and layout stay as the author wrote them. A
//! document converts only when the result loads as `v1` (the same checks as [`crate::load`])
//! and uses nothing `v1` dropped; otherwise it is left unchanged and refused with the reason.

use crate::load::{self, Document};

/// The kinds that moved from `v1beta1` to `v1`.
const KINDS: [&str; 4] = [
    "ExternalSecret",
    "SecretStore",
    "ClusterSecretStore",
    "ClusterExternalSecret",
];

const OLD: &str = "external-secrets.io/v1beta1";
const NEW: &str = "external-secrets.io/v1";

/// The result of converting one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Converted {
    /// The new text (the old one where nothing converted).
    pub text: String,
    /// `Kind/name` of each document converted.
    pub converted: Vec<String>,
    /// `document N (Kind/name): reason` of each document that could not be converted.
    pub refused: Vec<String>,
}

/// Converts every `v1beta1` document of `text` that converts cleanly.
pub fn v1beta1_to_v1(text: &str, origin: &str) -> Converted {
    let mut converted = Converted::default();
    for (index, chunk) in documents(text).into_iter().enumerate() {
        match convert_document(chunk, origin, index + 1) {
            Outcome::Unchanged => converted.text.push_str(chunk),
            Outcome::Converted { text, what } => {
                converted.text.push_str(&text);
                converted.converted.push(what);
            }
            Outcome::Refused { what, reason } => {
                converted.text.push_str(chunk);
                converted
                    .refused
                    .push(format!("document {} ({what}): {reason}", index + 1));
            }
        }
    }
    converted
}

enum Outcome {
    Unchanged,
    Converted { text: String, what: String },
    Refused { what: String, reason: String },
}

fn convert_document(chunk: &str, origin: &str, index: usize) -> Outcome {
    let value = match serde_yaml_ng::from_str::<serde_json::Value>(chunk) {
        Ok(value) => value,
        // Not YAML: ours to report only when it claims to be a v1beta1 object.
        Err(error) if rewrite_api_version(chunk).is_some() => {
            let reason = error.to_string();
            return Outcome::Refused {
                what: "?".into(),
                reason: format!("not valid YAML: {}", reason.lines().next().unwrap_or("")),
            };
        }
        Err(_) => return Outcome::Unchanged,
    };
    let text = |field: &str| {
        value
            .get(field)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
    };
    let name = value
        .pointer("/metadata/name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    if api_version != OLD || !KINDS.contains(&kind) {
        return Outcome::Unchanged;
    }
    let what = format!("{kind}/{name}");
    let refuse = |reason: String| Outcome::Refused {
        what: what.clone(),
        reason,
    };
    let Some(rewritten) = rewrite_api_version(chunk) else {
        return refuse("its apiVersion is not on a line of its own; change it by hand".into());
    };
    match load::documents(&rewritten, origin).into_iter().next() {
        Some(Ok((_, document))) => match dropped_in_v1(&document) {
            Some(reason) => refuse(reason),
            None => Outcome::Converted {
                text: rewritten,
                what,
            },
        },
        Some(Err(error)) => refuse(format!("as v1: {}", error.reason)),
        None => refuse(format!("document {index} is empty after conversion")),
    }
}

/// What `v1` no longer accepts although it loads: the v1 template engine.
fn dropped_in_v1(document: &Document) -> Option<String> {
    let Document::ExternalSecret(es) = document else {
        return None;
    };
    let template = es.spec.target.template.as_ref()?;
    (template.engine_version.as_deref() == Some("v1")).then(|| {
        "spec.target.template.engineVersion v1: v1 has only the v2 template engine (Sprig functions, {{ .key }} data); rewrite the templates by hand".into()
    })
}

/// `chunk` with its top-level `apiVersion: external-secrets.io/v1beta1` line rewritten,
/// quotes and trailing comment kept; `None` when no such line exists.
fn rewrite_api_version(chunk: &str) -> Option<String> {
    let mut out = String::with_capacity(chunk.len());
    let mut done = false;
    for line in chunk.split_inclusive('\n') {
        if !done && line.starts_with("apiVersion:") && line.contains(OLD) {
            out.push_str(&line.replacen(OLD, NEW, 1));
            done = true;
        } else {
            out.push_str(line);
        }
    }
    done.then_some(out)
}

/// The documents of a YAML stream as they are written, separators kept with the document
/// they open: concatenated they give `text` back byte for byte.
fn documents(text: &str) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let separator = line
            .strip_prefix("---")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r']));
        if separator && offset > start {
            chunks.push(&text[start..offset]);
            start = offset;
        }
        offset += line.len();
    }
    if start < text.len() || chunks.is_empty() {
        chunks.push(&text[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD_ES: &str = "\
# The database credentials.
apiVersion: \"external-secrets.io/v1beta1\"   # pinned by the platform team
kind: ExternalSecret
metadata:
  name: db
  namespace: apps
spec:
  # Refreshed hourly.
  refreshInterval: 1h
  secretStoreRef: {name: vault, kind: ClusterSecretStore}
  data:
  - secretKey: password
    remoteRef: {key: apps/db, property: password}
";

    #[test]
    fn only_the_api_version_changes_and_everything_else_stays() {
        let text = format!("{OLD_ES}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n");
        let converted = v1beta1_to_v1(&text, "es.yaml");
        assert_eq!(converted.converted, ["ExternalSecret/db"]);
        assert!(converted.refused.is_empty(), "{:?}", converted.refused);
        assert_eq!(
            converted.text,
            text.replace(
                "\"external-secrets.io/v1beta1\"",
                "\"external-secrets.io/v1\""
            )
        );
        let again = v1beta1_to_v1(&converted.text, "es.yaml");
        assert!(
            again.converted.is_empty() && again.text == converted.text,
            "idempotent"
        );
    }

    #[test]
    fn what_does_not_convert_cleanly_is_refused_and_left_alone() {
        let v1_engine = OLD_ES.replace(
            "  data:\n",
            "  target:\n    template:\n      engineVersion: v1\n      data: {url: '{{ .password | toString }}'}\n  data:\n",
        );
        let bad_field = OLD_ES.replace("refreshInterval: 1h", "refreshInterval: [1h]");
        let flow = "{apiVersion: external-secrets.io/v1beta1, kind: SecretStore, metadata: {name: s}, spec: {provider: {fake: {}}}}\n";
        let text = format!("{v1_engine}---\n{bad_field}---\n{flow}");
        let converted = v1beta1_to_v1(&text, "es.yaml");
        assert_eq!(converted.text, text, "nothing changed");
        assert_eq!(converted.refused.len(), 3, "{:?}", converted.refused);
        assert!(
            converted.refused[0].starts_with(
                "document 1 (ExternalSecret/db): spec.target.template.engineVersion v1"
            )
        );
        assert!(
            converted.refused[1]
                .starts_with("document 2 (ExternalSecret/db): as v1: spec.refreshInterval: "),
            "{:?}",
            converted.refused
        );
        assert!(converted.refused[2].contains("not on a line of its own"));
    }
}
