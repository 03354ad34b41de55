//! The Kubernetes `Secret` policy over YAML (multi-document, Helm and kustomize output) and
//! JSON (single objects and `List`s). ExternalSecret, SealedSecret and SOPS-encrypted manifests
//! are other kinds or carry `sops` metadata, so they pass. Values that are secret references
//! (`op://…` for `op inject`, `ref+…://` for vals, `<path:…>` for argocd-vault-plugin, `${VAR}`
//! substitutions, Helm and ESO templates) and public certificates are not secret values.

use serde_json::Value;

use super::{K8S_SECRET, PolicyHit, is_real_value, key_line};

/// A cheap gate before any parsing.
pub fn may_hold_secret(text: &str) -> bool {
    memchr::memmem::find_iter(text.as_bytes(), b"kind").any(|at| {
        let rest = text[at + 4..].trim_start_matches(['"', '\'']).trim_start();
        let rest = rest.strip_prefix(':').unwrap_or("").trim_start();
        rest.trim_start_matches(['"', '\'']).starts_with("Secret")
    })
}

/// Every valued key of every `Secret` in `text`.
pub fn check(name: &str, text: &str) -> Vec<PolicyHit> {
    let mut hits = Vec::new();
    for (start, doc) in documents(name, text) {
        let Ok(value) = serde_saphyr::from_str::<Value>(&doc) else {
            continue;
        };
        visit(&value, text, start, &mut hits);
    }
    hits
}

/// Documents of a YAML stream with their 0-based first line; a JSON file is one document.
fn documents(name: &str, text: &str) -> Vec<(usize, String)> {
    if name.ends_with(".json") || text.trim_start().starts_with(['{', '[']) {
        return vec![(0, text.to_owned())];
    }
    let mut docs = Vec::new();
    let mut start = 0;
    let mut current = String::new();
    for (index, line) in text.lines().enumerate() {
        if line == "---" || line.starts_with("--- ") || line == "..." {
            docs.push((start, std::mem::take(&mut current)));
            start = index + 1;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    docs.push((start, current));
    docs
}

fn visit(value: &Value, text: &str, start: usize, hits: &mut Vec<PolicyHit>) {
    let kind = value.get("kind").and_then(Value::as_str);
    if let Some(items) = value.get("items").and_then(Value::as_array) {
        for item in items {
            visit(item, text, start, hits);
        }
    }
    let api = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1");
    if kind != Some("Secret") || api != "v1" || value.get("sops").is_some() {
        return;
    }
    for (field, encoded) in [("data", true), ("stringData", false)] {
        let Some(map) = value.get(field).and_then(Value::as_object) else {
            continue;
        };
        let field_line = key_line(text, start, field).unwrap_or(start + 1);
        for (key, raw) in map {
            let Some(plain) = plain_value(raw, encoded) else {
                continue;
            };
            let line = key_line(text, field_line, key).unwrap_or(field_line);
            hits.push(PolicyHit::new(K8S_SECRET, line, Some(&plain)));
        }
    }
}

/// The value a `data` (base64) or `stringData` entry holds, if it is a real one.
fn plain_value(raw: &Value, encoded: bool) -> Option<String> {
    let text = match raw {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    if !is_real_value(&text) {
        return None;
    }
    let plain = if encoded {
        match crate::decode::base64_text(text.trim()) {
            Some(decoded) if is_real_value(&decoded) => decoded,
            Some(_) => return None,
            None => text,
        }
    } else {
        text
    };
    // A CA bundle, a certificate or `known_hosts` is public: the Secret's private keys are
    // reported.
    let public = crate::filters::is_public_pem(&plain) || crate::filters::is_public_ssh(&plain);
    (!public).then_some(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic password, assembled so the source holds no credential-shaped literal.
    const SAMPLE: &str = concat!("q8Zr", "2LmX9vTb", "4NcK");

    #[test]
    fn the_gate_wants_a_secret_kind() {
        assert!(may_hold_secret("kind: Secret\n"));
        assert!(may_hold_secret("{\"kind\": \"Secret\"}"));
        assert!(!may_hold_secret("kind: ExternalSecret\n"));
        assert!(!may_hold_secret("// the Secret kind of data"));
    }

    #[test]
    fn a_secret_with_string_data_is_flagged_per_key() {
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  user: app\n  password: {SAMPLE}\n"
        );
        let hits = check("db.yaml", &text);
        let mut lines: Vec<usize> = hits.iter().map(|h| h.line).collect();
        lines.sort_unstable();
        assert_eq!(lines, [6, 7]);
    }

    #[test]
    fn placeholders_empty_and_sops_values_pass() {
        let text = "kind: Secret\napiVersion: v1\ndata: {}\nstringData:\n  a: \"\"\n  b: \"{{ .Values.b }}\"\n  c: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n";
        assert!(check("s.yaml", text).is_empty());
    }

    #[test]
    fn second_document_lines_are_absolute() {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(SAMPLE);
        let text = format!(
            "kind: ConfigMap\ndata:\n  a: b\n---\nkind: Secret\ndata:\n  token: {encoded}\n"
        );
        let hits = check("all.yaml", &text);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].line, 7);
    }
}
