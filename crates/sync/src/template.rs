//! `spec.target.template`: rendering the target's keys with keyward-template, as ESO's
//! template engine v2 does.
//!
//! The templates see every fetched key as a string (ESO hands templates a Secret's bytes).
//! `template.data` renders one key per entry; a `templateFrom` literal targeting `Data`
//! renders a YAML map of further keys. `mergePolicy: Replace` (the default) keeps only the
//! rendered keys, `Merge` lays them over the fetched ones. `type` sets the target's type.
//! Errors name the template and position, never a value (nor rendered text).

use std::collections::BTreeMap;

use keyward_api::{ExternalSecretTemplate, TemplateMergePolicy};
use keyward_core::SecretValue;
use keyward_template::{Template, Value};

/// The rendered target: its keys and its type.
pub struct Rendered {
    /// The keys.
    pub data: BTreeMap<String, SecretValue>,
    /// `template.type`, when set.
    pub type_: Option<String>,
}

/// Renders `template` over the fetched `data`; `Err((field, message))` names the failing field.
pub fn render(
    template: &ExternalSecretTemplate,
    data: BTreeMap<String, SecretValue>,
) -> Result<Rendered, (String, String)> {
    if let Some(version) = template.engine_version.as_deref().filter(|v| *v != "v2") {
        return Err((
            "spec.target.template.engineVersion".into(),
            format!("'{version}' is not served (only v2)"),
        ));
    }
    let values = Value::Map(
        data.iter()
            .map(|(key, value)| {
                (
                    key.clone(),
                    Value::String(String::from_utf8_lossy(value.expose_bytes()).into_owned()),
                )
            })
            .collect(),
    );
    let mut rendered = BTreeMap::new();
    for (key, text) in &template.data {
        let field = format!("spec.target.template.data.{key}");
        rendered.insert(
            key.clone(),
            render_one(key, text, &values).map_err(|m| (field, m))?,
        );
    }
    for (index, entry) in template.template_from.iter().enumerate() {
        let field = format!("spec.target.template.templateFrom[{index}]");
        let Some(literal) = &entry.literal else {
            return Err((field, "only literal templates are served on hosts (configMap and secret sources need a cluster)".into()));
        };
        if entry.target.as_deref().is_some_and(|t| t != "Data") {
            return Err((
                format!("{field}.target"),
                "only target Data is served".into(),
            ));
        }
        let output = render_one(&format!("templateFrom[{index}]"), literal, &values)
            .map_err(|m| (field.clone(), m))?;
        let text = output.expose_str().map_err(|_| {
            (
                field.clone(),
                "the rendered literal is not UTF-8".to_owned(),
            )
        })?;
        // The YAML error would quote the rendered (secret) text: replace it.
        let keys: BTreeMap<String, serde_json::Value> =
            serde_yaml_ng::from_str(text).map_err(|_| {
                (
                    field.clone(),
                    "the rendered literal is not a YAML map of keys".to_owned(),
                )
            })?;
        for (key, value) in keys {
            let value = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            rendered.insert(key, SecretValue::from(value));
        }
    }
    let data = match template.merge_policy {
        Some(TemplateMergePolicy::Merge) => {
            let mut merged = data;
            merged.extend(rendered);
            merged
        }
        _ => rendered,
    };
    Ok(Rendered {
        data,
        type_: template.type_.clone(),
    })
}

fn render_one(name: &str, text: &str, values: &Value) -> Result<SecretValue, String> {
    Template::parse(name, text)
        .and_then(|template| template.render(values))
        .map(SecretValue::from)
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched() -> BTreeMap<String, SecretValue> {
        BTreeMap::from([
            ("user".to_owned(), SecretValue::from("app")),
            ("password".to_owned(), SecretValue::from("canary-tpl-5c1d")),
        ])
    }

    #[test]
    fn data_literals_merge_and_type() {
        let template: ExternalSecretTemplate = serde_json::from_value(serde_json::json!({
            "type": "kubernetes.io/basic-auth",
            "mergePolicy": "Merge",
            "data": { "auth": "{{ printf \"%s:%s\" .user .password | b64enc }}" },
            "templateFrom": [{ "literal": "url: postgres://{{ .user }}@db/app" }]
        }))
        .expect("template");
        let rendered = render(&template, fetched()).expect("render");
        assert_eq!(rendered.type_.as_deref(), Some("kubernetes.io/basic-auth"));
        assert_eq!(
            rendered.data["url"].expose_str(),
            Ok("postgres://app@db/app")
        );
        assert_eq!(
            rendered.data["auth"].expose_str(),
            Ok("YXBwOmNhbmFyeS10cGwtNWMxZA==")
        );
        assert!(
            rendered.data.contains_key("password"),
            "Merge keeps fetched keys"
        );
    }

    #[test]
    fn errors_name_the_field_and_never_the_value() {
        let template: ExternalSecretTemplate = serde_json::from_value(serde_json::json!({
            "data": { "bad": "{{ .password | nosuchfunction }}", "missing": "{{ .nope }}" }
        }))
        .expect("template");
        let (field, message) = render(&template, fetched()).err().expect("fails");
        assert!(field.starts_with("spec.target.template.data."), "{field}");
        assert!(!message.contains("canary-tpl-5c1d"), "{message}");
    }
}
