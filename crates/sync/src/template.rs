//! `spec.target.template`: rendering the target's keys, labels and annotations with
//! keyward-template, in ESO's (engine v2) order:
//!
//! 1. the start: the fetched keys when `mergePolicy: Merge` or when the template has neither
//!    `data` nor `templateFrom`; otherwise nothing;
//! 2. `templateFrom[]` in order: a ConfigMap's or Secret's `items` (`templateAs: Values`, the
//!    default: each item's value is a template for the key of the same name;
//!    `KeysAndValues`: it renders a YAML map of keys) and `literal` (a YAML map of keys),
//!    each into its `target`: `Data` (default), `Labels` or `Annotations`;
//! 3. `data`: one key per entry;
//! 4. `metadata.labels` and `metadata.annotations`, which are templates too.
//!
//! The templates see every fetched key as a string (ESO hands templates a Secret's bytes).
//! The ConfigMaps and Secrets that hold templates are looked up by the caller
//! ([`TemplateInputs`]). Errors name the field and position, never a value or rendered text.
//!
//! All the templates of one ExternalSecret render under one [`Budget`]: together they may
//! write at most a Secret's size (1 MiB) and must finish within [`TIME_BUDGET`]; a template
//! that exceeds either fails this ExternalSecret alone, naming its field.

use std::collections::BTreeMap;
use std::time::Duration;

use keyward_api::{ExternalSecretTemplate, TemplateFrom, TemplateMergePolicy, TemplateRef};
use keyward_core::SecretValue;
use keyward_template::{Budget, Limits, Stage, Template, Value};

/// How long the templates of one ExternalSecret may take to render, all keys together.
pub const TIME_BUDGET: Duration = Duration::from_secs(5);

/// The rendered target.
#[derive(Debug, Default)]
pub struct Rendered {
    /// The keys.
    pub data: BTreeMap<String, SecretValue>,
    /// `template.type`, when set.
    pub type_: Option<String>,
    /// Labels of the target.
    pub labels: BTreeMap<String, String>,
    /// Annotations of the target.
    pub annotations: BTreeMap<String, String>,
}

/// The template texts `templateFrom` ConfigMaps and Secrets hold, looked up beforehand:
/// `(kind, name, key)` with kind `configMap` or `secret`.
#[derive(Debug, Default)]
pub struct TemplateInputs {
    /// Found texts.
    pub texts: BTreeMap<(&'static str, String, String), SecretValue>,
}

impl TemplateInputs {
    /// The `(kind, name, key)` triples `template` needs.
    pub fn wanted(template: &ExternalSecretTemplate) -> Vec<(&'static str, String, String)> {
        let mut wanted = Vec::new();
        for entry in &template.template_from {
            for (kind, source) in sources(entry) {
                for item in &source.items {
                    wanted.push((kind, source.name.clone(), item.key.clone()));
                }
            }
        }
        wanted
    }
}

fn sources(entry: &TemplateFrom) -> impl Iterator<Item = (&'static str, &TemplateRef)> {
    let config_map = entry.config_map.as_ref().map(|s| ("configMap", s));
    let secret = entry.secret.as_ref().map(|s| ("secret", s));
    config_map.into_iter().chain(secret)
}

/// Where a rendered piece goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Data,
    Labels,
    Annotations,
}

/// Renders `template` over the fetched `data`; `Err((field, message))` names the failing field.
pub fn render(
    template: &ExternalSecretTemplate,
    data: BTreeMap<String, SecretValue>,
    inputs: &TemplateInputs,
) -> Result<Rendered, (String, String)> {
    const FIELD: &str = "spec.target.template";
    if let Some(version) = template.engine_version.as_deref().filter(|v| *v != "v2") {
        return Err((
            format!("{FIELD}.engineVersion"),
            format!("'{version}' is not served (only v2)"),
        ));
    }
    let values = template_values(&data);
    let mut budget = Budget::new(Limits::with_time_budget(TIME_BUDGET));
    let budget = &mut budget;
    let keep_fetched = template.merge_policy == Some(TemplateMergePolicy::Merge)
        || (template.data.is_empty() && template.template_from.is_empty());
    let mut out = Rendered {
        type_: template.type_.clone(),
        ..Rendered::default()
    };
    if keep_fetched {
        out.data = data;
    }
    for (index, entry) in template.template_from.iter().enumerate() {
        let field = format!("{FIELD}.templateFrom[{index}]");
        render_from(entry, &field, index, &values, inputs, &mut out, budget)?;
    }
    for (key, text) in &template.data {
        let rendered = render_one(key, text, &values, budget)
            .map_err(|m| (format!("{FIELD}.data.{key}"), m))?;
        out.data.insert(key.clone(), rendered);
    }
    if let Some(metadata) = &template.metadata {
        for (target, map, name) in [
            (Target::Labels, &metadata.labels, "labels"),
            (Target::Annotations, &metadata.annotations, "annotations"),
        ] {
            for (key, text) in map {
                let rendered = render_one(key, text, &values, budget)
                    .map_err(|m| (format!("{FIELD}.metadata.{name}.{key}"), m))?;
                put(&mut out, target, key.clone(), rendered, &field_of(name))?;
            }
        }
    }
    Ok(out)
}

fn field_of(name: &str) -> String {
    format!("spec.target.template.metadata.{name}")
}

/// The data templates see, typed as ESO types them: a Go `map[string]string` of every
/// fetched key, or bytes when it is not UTF-8 (a raw PKCS#12 file or ciphertext reaches
/// `pkcs12*` and `rsaDecrypt` intact).
fn template_values(data: &BTreeMap<String, SecretValue>) -> Value {
    Value::StringMap(
        data.iter()
            .map(|(key, value)| {
                (
                    key.as_str().into(),
                    Value::from_bytes(value.expose_bytes().to_vec()),
                )
            })
            .collect(),
    )
}

fn render_from(
    entry: &TemplateFrom,
    field: &str,
    index: usize,
    values: &Value,
    inputs: &TemplateInputs,
    out: &mut Rendered,
    budget: &mut Budget,
) -> Result<(), (String, String)> {
    let target = match entry.target.as_deref() {
        None | Some("Data") => Target::Data,
        Some("Labels") => Target::Labels,
        Some("Annotations") => Target::Annotations,
        Some(other) => {
            return Err((
                format!("{field}.target"),
                format!("'{other}' is not one of Data, Labels, Annotations"),
            ));
        }
    };
    if let Some(literal) = &entry.literal {
        let rendered = render_one(&format!("templateFrom[{index}]"), literal, values, budget)
            .map_err(|m| (field.to_owned(), m))?;
        put_keys_and_values(out, target, &rendered, field)?;
    }
    for (kind, source) in sources(entry) {
        let source_field = format!("{field}.{kind}");
        if source.items.is_empty() {
            return Err((format!("{source_field}.items"), "names no keys".into()));
        }
        for (item_index, item) in source.items.iter().enumerate() {
            let item_field = format!("{source_field}.items[{item_index}]");
            let text = inputs
                .texts
                .get(&(kind, source.name.clone(), item.key.clone()))
                .ok_or_else(|| {
                    (
                        item_field.clone(),
                        format!("the {kind} '{}' has no key '{}'", source.name, item.key),
                    )
                })?;
            let text = text
                .expose_str()
                .map_err(|_| (item_field.clone(), "the template is not UTF-8".to_owned()))?;
            let rendered =
                render_one(&item.key, text, values, budget).map_err(|m| (item_field.clone(), m))?;
            match item.template_as.as_deref() {
                None | Some("Values") => put(out, target, item.key.clone(), rendered, &item_field)?,
                Some("KeysAndValues") => put_keys_and_values(out, target, &rendered, &item_field)?,
                Some(other) => {
                    return Err((
                        format!("{item_field}.templateAs"),
                        format!("'{other}' is not one of Values, KeysAndValues"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A rendered YAML map of keys, each put into `target`.
fn put_keys_and_values(
    out: &mut Rendered,
    target: Target,
    rendered: &SecretValue,
    field: &str,
) -> Result<(), (String, String)> {
    let text = rendered.expose_str().map_err(|_| {
        (
            field.to_owned(),
            "the rendered text is not UTF-8".to_owned(),
        )
    })?;
    // The YAML error would quote the rendered (secret) text: replace it.
    let keys: BTreeMap<String, serde_json::Value> =
        serde_yaml_ng::from_str(text).map_err(|_| {
            (
                field.to_owned(),
                "the rendered text is not a YAML map of keys".to_owned(),
            )
        })?;
    for (key, value) in keys {
        let value = match value {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        };
        put(out, target, key, SecretValue::from(value), field)?;
    }
    Ok(())
}

fn put(
    out: &mut Rendered,
    target: Target,
    key: String,
    value: SecretValue,
    field: &str,
) -> Result<(), (String, String)> {
    let text = || {
        value.expose_str().map(str::to_owned).map_err(|_| {
            (
                field.to_owned(),
                format!("the {key} metadata value is not UTF-8"),
            )
        })
    };
    match target {
        Target::Data => {
            out.data.insert(key, value);
        }
        Target::Labels => {
            let text = text()?;
            out.labels.insert(key, text);
        }
        Target::Annotations => {
            let text = text()?;
            out.annotations.insert(key, text);
        }
    }
    Ok(())
}

/// Renders one template within what is left of the ExternalSecret's `budget`. A limit error
/// says only which limit (`output exceeds 1 MiB`); other errors give the template's position.
fn render_one(
    name: &str,
    text: &str,
    values: &Value,
    budget: &mut Budget,
) -> Result<SecretValue, String> {
    Template::parse(name, text)
        .and_then(|template| template.render_within(values, budget))
        // The rendered bytes as they are: a binary value passes through unchanged, as in ESO.
        .map(|out| SecretValue::from(out.into_bytes()))
        .map_err(|error| match error.stage {
            Stage::Limit => error.message,
            _ => error.to_string(),
        })
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
        let rendered = render(&template, fetched(), &TemplateInputs::default()).expect("render");
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

    /// ESO's templates write bytes: a keystore or a DER key goes through `{{ .key }}`
    /// unchanged, and `len` and `b64dec` count and make bytes (issue 13 item 2).
    #[test]
    fn binary_values_pass_through_templates_unchanged() {
        // 64 bytes that are not UTF-8: lone continuation bytes between two-byte sequences.
        let binary: Vec<u8> = (0u8..64)
            .map(|i| {
                if i % 2 == 0 {
                    0x80 | i
                } else {
                    0xC0 | (i % 32)
                }
            })
            .collect();
        assert!(std::str::from_utf8(&binary).is_err());
        let fetched = BTreeMap::from([("keystore".to_owned(), SecretValue::from(binary.clone()))]);
        let template: ExternalSecretTemplate = serde_json::from_value(serde_json::json!({
            "data": {
                "copy": "{{ .keystore }}",
                "length": "{{ .keystore | len }}",
                "decoded": "{{ \"/w==\" | b64dec }}",
                "decoded_length": "{{ \"/w==\" | b64dec | len }}"
            }
        }))
        .expect("template");
        let rendered = render(&template, fetched, &TemplateInputs::default()).expect("render");
        assert_eq!(rendered.data["copy"].expose_bytes(), binary.as_slice());
        assert_eq!(rendered.data["length"].expose_str(), Ok("64"));
        assert_eq!(
            rendered.data["decoded"].expose_bytes(),
            [0xFF_u8].as_slice()
        );
        assert_eq!(rendered.data["decoded_length"].expose_str(), Ok("1"));
    }

    #[test]
    fn the_dot_is_a_map_of_strings_as_in_eso() {
        let template: ExternalSecretTemplate = serde_json::from_value(serde_json::json!({
            "data": {
                "absent": "[{{ index . \"absent\" }}]",
                "type": "{{ typeOf . }}",
                "ranged": "{{ range $k, $v := . }}{{ $k }}:{{ typeOf $v }};{{ end }}"
            }
        }))
        .expect("template");
        let rendered = render(&template, fetched(), &TemplateInputs::default()).expect("render");
        let text = |key: &str| rendered.data[key].expose_str().map(str::to_owned);
        assert_eq!(text("absent"), Ok("[]".to_owned()));
        assert_eq!(text("type"), Ok("map[string]string".to_owned()));
        assert_eq!(
            text("ranged"),
            Ok("password:string;user:string;".to_owned())
        );
        for refused in [
            "{{ keys . }}",
            "{{ hasKey . \"user\" }}",
            "{{ pick . \"user\" }}",
        ] {
            let template: ExternalSecretTemplate =
                serde_json::from_value(serde_json::json!({ "data": { "k": refused } }))
                    .expect("template");
            let (_, message) =
                render(&template, fetched(), &TemplateInputs::default()).expect_err(refused);
            assert!(
                message.ends_with(
                    "wrong type for value; expected map[string]interface {}; got map[string]string"
                ),
                "{message}"
            );
        }
    }

    #[test]
    fn errors_name_the_field_and_never_the_value() {
        let template: ExternalSecretTemplate = serde_json::from_value(serde_json::json!({
            "data": { "bad": "{{ .password | nosuchfunction }}", "missing": "{{ .nope }}" }
        }))
        .expect("template");
        let (field, message) =
            render(&template, fetched(), &TemplateInputs::default()).expect_err("fails");
        assert!(field.starts_with("spec.target.template.data."), "{field}");
        assert!(!message.contains("canary-tpl-5c1d"), "{message}");
    }
}

#[cfg(test)]
mod hostile_tests {
    //! Hardening: templates that would build more than a Secret holds fail this
    //! ExternalSecret alone, naming the field, without the value.

    use super::*;

    const CANARY: &str = "canary-budget-91c2";

    fn fetched() -> BTreeMap<String, SecretValue> {
        BTreeMap::from([("password".to_owned(), SecretValue::from(CANARY))])
    }

    #[test]
    fn all_keys_share_one_mebibyte_of_output() {
        let template: ExternalSecretTemplate = serde_json::from_value(serde_json::json!({
            "data": {
                "a": "{{ repeat 600000 \"x\" }}",
                "b": "{{ .password }}{{ repeat 600000 \"x\" }}"
            }
        }))
        .expect("template");
        let (field, message) =
            render(&template, fetched(), &TemplateInputs::default()).expect_err("over 1 MiB");
        assert_eq!(field, "spec.target.template.data.b");
        assert_eq!(message, "output exceeds 1 MiB");
    }

    #[test]
    fn one_huge_string_fails_naming_its_field() {
        let template: ExternalSecretTemplate = serde_json::from_value(serde_json::json!({
            "templateFrom": [{ "literal": "k: {{ repeat 100000 (repeat 100000 .password) }}" }]
        }))
        .expect("template");
        let (field, message) =
            render(&template, fetched(), &TemplateInputs::default()).expect_err("over 1 MiB");
        assert_eq!(field, "spec.target.template.templateFrom[0]");
        assert_eq!(message, "error calling repeat: result exceeds 1 MiB");
        assert!(!message.contains(CANARY));
    }
}

#[cfg(test)]
mod sources_tests {
    use super::*;

    fn template(json: serde_json::Value) -> ExternalSecretTemplate {
        serde_json::from_value(json).expect("template")
    }

    #[test]
    fn config_map_and_secret_items_then_data_then_metadata() {
        let template = template(serde_json::json!({
            "templateFrom": [
                { "configMap": { "name": "tpl", "items": [
                    { "key": "config.ini" },
                    { "key": "more", "templateAs": "KeysAndValues" }
                ] } },
                { "secret": { "name": "tpl-secret", "items": [{ "key": "label" }] },
                  "target": "Labels" }
            ],
            "data": { "config.ini": "overridden by data" },
            "metadata": { "annotations": { "owner": "{{ .user | upper }}" } }
        }));
        let mut inputs = TemplateInputs::default();
        for (kind, name, key, text) in [
            ("configMap", "tpl", "config.ini", "user={{ .user }}"),
            ("configMap", "tpl", "more", "a: '{{ .user }}-a'\nb: 2"),
            ("secret", "tpl-secret", "label", "{{ .user }}"),
        ] {
            inputs
                .texts
                .insert((kind, name.into(), key.into()), SecretValue::from(text));
        }
        assert_eq!(TemplateInputs::wanted(&template).len(), 3);
        let fetched = BTreeMap::from([("user".to_owned(), SecretValue::from("app"))]);
        let out = render(&template, fetched, &inputs).expect("renders");
        let data: BTreeMap<_, _> = out
            .data
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose_str().expect("utf-8")))
            .collect();
        assert_eq!(
            data,
            BTreeMap::from([
                ("a", "app-a"),
                ("b", "2"),
                ("config.ini", "overridden by data")
            ])
        );
        assert_eq!(out.labels["label"], "app");
        assert_eq!(out.annotations["owner"], "APP");
    }

    #[test]
    fn no_data_templates_keep_the_fetched_keys() {
        let template = template(serde_json::json!({ "type": "kubernetes.io/tls" }));
        let fetched = BTreeMap::from([("tls.crt".to_owned(), SecretValue::from("x"))]);
        let out = render(&template, fetched, &TemplateInputs::default()).expect("renders");
        assert!(out.data.contains_key("tls.crt"));
        assert_eq!(out.type_.as_deref(), Some("kubernetes.io/tls"));
    }

    #[test]
    fn a_missing_source_key_names_the_item() {
        let template = template(serde_json::json!({
            "templateFrom": [{ "configMap": { "name": "tpl", "items": [{ "key": "absent" }] } }]
        }));
        let (field, message) =
            render(&template, BTreeMap::new(), &TemplateInputs::default()).expect_err("missing");
        assert_eq!(
            field,
            "spec.target.template.templateFrom[0].configMap.items[0]"
        );
        assert!(message.contains("'absent'"), "{message}");
    }
}
