//! Every ESO documentation snippet (the compatibility corpus in ../shared/eso-compat) loads
//! into keyward's types, except the documented negative samples, which are refused by name.

use keyward_api::{Document, load};

/// Snippets with Go-template or Jinja content that is not YAML until rendered.
const NOT_YAML: [&str; 4] = [
    "cloak-secret-store.yaml",
    "filtercertchain-template-v2-external-secret.yaml",
    "filterpem-template-v2-external-secret.yaml",
    "pkcs12-template-v2-external-secret.yaml",
];

/// Snippets that no Kubernetes API server accepts either, with the error keyward must give.
const KNOWN_INVALID: [(&str, &str); 2] = [
    (
        // `spec.target.name` twice (with the same value): kubectl refuses it ("key already
        // set in map"), and so does keyward.
        "gcpsm-ssh-auth-externalsecret.yaml",
        "spec.target: duplicate key \"name\" in one mapping",
    ),
    (
        // `spec.dataFrom` appears twice in one mapping (kubectl refuses it: "mapping key already
        // defined"); past that, `acme.org/sha: 1234` is a YAML integer where annotations are
        // strings.
        "full-external-secret.yaml",
        "spec: duplicate key \"dataFrom\" in one mapping",
    ),
];

#[test]
fn every_snippet_loads_or_is_refused_by_name() {
    let Some(corpus) = keyward_test_support::eso_corpus() else {
        return;
    };
    let mut loaded = [0usize; 3];
    let mut refused_old = 0;
    let mut invalid_secrets = 0;
    let mut failures = Vec::new();
    let mut known_invalid = 0;
    let mut files = 0;
    let mut entries: Vec<_> = std::fs::read_dir(corpus.join("docs/snippets"))
        .expect("snippets")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if NOT_YAML
            .iter()
            .any(|skip| name.contains(skip.trim_end_matches(".yaml")))
        {
            continue;
        }
        files += 1;
        // The docs site renders snippets through Jinja; `{% raw %}` lines are its markup.
        let text: String = std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .filter(|line| !matches!(line.trim(), "{% raw %}" | "{% endraw %}"))
            .map(|line| format!("{line}\n"))
            .collect();
        match load::from_str(&text, &name) {
            Ok(documents) => {
                for document in documents {
                    match document {
                        Document::ExternalSecret(_) => loaded[0] += 1,
                        Document::SecretStore(_) => loaded[1] += 1,
                        Document::ClusterSecretStore(_) => loaded[2] += 1,
                        _ => {}
                    }
                }
            }
            Err(error) if error.reason.contains("no longer served") => refused_old += 1,
            // Example core Secrets with placeholder data (`<base64 of the cert>`) are as
            // invalid for keyward as for a real apiserver.
            Err(error) if error.what.starts_with(" (Secret/") => invalid_secrets += 1,
            Err(error) => {
                let expected = KNOWN_INVALID.iter().find(|(file, _)| *file == name);
                match expected {
                    Some((_, reason)) if error.to_string().contains(reason) => known_invalid += 1,
                    _ => failures.push(error.to_string()),
                }
            }
        }
    }
    eprintln!(
        "{files} snippet files: {} ExternalSecrets, {} SecretStores, {} ClusterSecretStores loaded; {refused_old} old apiVersions refused; {invalid_secrets} files with placeholder Secret data",
        loaded[0], loaded[1], loaded[2]
    );
    assert_eq!(
        known_invalid,
        KNOWN_INVALID.len(),
        "a known-invalid snippet loaded or failed differently"
    );
    assert!(
        failures.is_empty(),
        "{} snippets failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        loaded[0] > 100,
        "too few ExternalSecrets loaded: {loaded:?}"
    );
    assert!(
        loaded[1] + loaded[2] > 50,
        "too few stores loaded: {loaded:?}"
    );
    assert!(refused_old >= 3, "the negative samples were not refused");
}
