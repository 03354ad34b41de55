//! Which keys an ExternalSecret's target Secret will hold, as far as the manifest says, by
//! ESO's rules (template engine v2):
//!
//! - without a template: one key per `data` entry, plus whatever `dataFrom` finds;
//! - with a template: the fetched keys only with `mergePolicy: Merge` or when the template has
//!   neither `data` nor `templateFrom`; then `templateFrom` (`Values` items name their key;
//!   `KeysAndValues` items and literals render their keys) into `Data`; then `template.data`.
//!
//! Keys that only the store or a rendering can tell (`dataFrom`, `KeysAndValues`, literals)
//! make the set open: a key missing from an open set is not proof of anything.

use std::collections::BTreeSet;

use keyward_api::{CreationPolicy, ExternalSecret, TemplateMergePolicy};

/// The keys of a target, and whether that is all of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keys {
    /// Keys the manifest names.
    pub named: BTreeSet<String>,
    /// What else may add keys known only at sync time (`dataFrom`, a literal template …);
    /// empty when `named` is every key.
    pub open_because: Option<&'static str>,
}

impl Keys {
    /// Whether the target surely lacks `key`.
    pub fn surely_lacks(&self, key: &str) -> bool {
        self.open_because.is_none() && !self.named.contains(key)
    }

    fn add_open(&mut self, because: &'static str) {
        self.open_because.get_or_insert(because);
    }

    fn extend(&mut self, other: Keys) {
        self.named.extend(other.named);
        if let Some(because) = other.open_because {
            self.add_open(because);
        }
    }
}

/// Whether the ExternalSecret writes a Secret of its own (Owner, Orphan), adds keys to one
/// that must exist already (Merge), or writes nothing (None).
pub fn creation_policy(es: &ExternalSecret) -> CreationPolicy {
    es.spec
        .target
        .creation_policy
        .unwrap_or(CreationPolicy::Owner)
}

/// The keys `es` puts into its target.
pub fn keys_of(es: &ExternalSecret) -> Keys {
    let fetched = fetched_keys(es);
    let Some(template) = &es.spec.target.template else {
        return fetched;
    };
    let merge = template.merge_policy == Some(TemplateMergePolicy::Merge);
    let mut keys = if merge || (template.data.is_empty() && template.template_from.is_empty()) {
        fetched
    } else {
        Keys::default()
    };
    for entry in &template.template_from {
        let into_data = entry.target.as_deref().is_none_or(|t| t == "Data");
        if !into_data {
            continue;
        }
        if entry.literal.is_some() {
            keys.add_open("a templateFrom literal renders its own keys");
        }
        for source in entry.config_map.iter().chain(entry.secret.iter()) {
            for item in &source.items {
                match item.template_as.as_deref() {
                    Some("KeysAndValues") => {
                        keys.add_open("a templateFrom item with templateAs KeysAndValues")
                    }
                    _ => {
                        keys.named.insert(item.key.clone());
                    }
                }
            }
        }
    }
    keys.named.extend(template.data.keys().cloned());
    keys
}

/// The keys fetched before any template: `data` by name, `dataFrom` open.
fn fetched_keys(es: &ExternalSecret) -> Keys {
    let mut keys = Keys {
        named: es.spec.data.iter().map(|d| d.secret_key.clone()).collect(),
        open_because: None,
    };
    if !es.spec.data_from.is_empty() {
        keys.extend(Keys {
            named: BTreeSet::new(),
            open_because: Some("dataFrom keys come from the store"),
        });
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es(yaml: &str) -> ExternalSecret {
        let text = format!(
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: x}}\nspec:\n{yaml}"
        );
        match keyward_api::load::from_str(&text, "t.yaml")
            .expect("valid")
            .remove(0)
        {
            keyward_api::Document::ExternalSecret(es) => *es,
            other => panic!("{other:?}"),
        }
    }

    fn named(keys: &Keys) -> Vec<&str> {
        keys.named.iter().map(String::as_str).collect()
    }

    #[test]
    fn data_keys_without_a_template_are_all_there_is() {
        let keys = keys_of(&es(
            "  data:\n  - {secretKey: user, remoteRef: {key: db}}\n  - {secretKey: pass, remoteRef: {key: db}}\n",
        ));
        assert_eq!(named(&keys), ["pass", "user"]);
        assert!(keys.surely_lacks("password"));
    }

    #[test]
    fn data_from_leaves_the_set_open() {
        let keys = keys_of(&es("  dataFrom:\n  - extract: {key: db}\n"));
        assert!(!keys.surely_lacks("anything"));
    }

    #[test]
    fn a_template_with_data_replaces_the_fetched_keys() {
        let keys = keys_of(&es(
            "  data:\n  - {secretKey: pass, remoteRef: {key: db}}\n  target:\n    template:\n      data: {url: 'postgres://u:{{ .pass }}@db'}\n",
        ));
        assert_eq!(named(&keys), ["url"]);
        assert!(keys.surely_lacks("pass"));
    }

    #[test]
    fn merge_keeps_the_fetched_keys_and_a_metadata_only_template_too() {
        let merged = keys_of(&es(
            "  data:\n  - {secretKey: pass, remoteRef: {key: db}}\n  target:\n    template:\n      mergePolicy: Merge\n      data: {url: x}\n",
        ));
        assert_eq!(named(&merged), ["pass", "url"]);
        let labelled = keys_of(&es(
            "  data:\n  - {secretKey: pass, remoteRef: {key: db}}\n  target:\n    template:\n      metadata: {labels: {a: b}}\n",
        ));
        assert_eq!(named(&labelled), ["pass"]);
    }

    #[test]
    fn template_from_items_name_keys_unless_they_render_them() {
        let keys = keys_of(&es(
            "  target:\n    template:\n      templateFrom:\n      - configMap: {name: t, items: [{key: app.conf}]}\n      - configMap: {name: t, items: [{key: labels, templateAs: KeysAndValues}]}\n        target: Labels\n",
        ));
        assert_eq!(named(&keys), ["app.conf"]);
        assert!(keys.surely_lacks("other"));
        let open = keys_of(&es(
            "  target:\n    template:\n      templateFrom:\n      - literal: '{{ .a }}: b'\n",
        ));
        assert!(!open.surely_lacks("anything"));
    }
}
