//! `dataFrom[].rewrite`: the steps that rename (and merge) the keys a `dataFrom` entry
//! produced, applied in order, each on the output of the one before (as ESO does, before
//! `conversionStrategy`).
//!
//! - `regexp`: every match of `source` in a key is replaced by `target` (`$1` = group 1);
//!   keys that do not match stay as they are.
//! - `transform`: each key is rendered through a Go template that sees it as `.value`.
//! - `merge`: every value is a JSON object; their members are merged, values in alphabetical
//!   order of their keys and `priority` keys last, so those win. The merged map replaces the
//!   input: `Extract` hoists the merged members to the top level, `JSON` writes the merged
//!   object as one key, `into`. A member carried twice fails unless `conflictPolicy: Ignore`.
//!
//! Errors name the step's field, never a value.

use std::collections::BTreeMap;

use keyward_api::{
    ExternalSecretRewrite, MergeConflictPolicy, MergePriorityPolicy, MergeStrategy, RewriteMerge,
    RewriteRegexp,
};
use keyward_core::SecretValue;

/// The keys and values a `dataFrom` entry produced.
pub type Values = BTreeMap<String, SecretValue>;

/// Applies `steps` in order; `Err((field suffix, message))` names the failing step, e.g.
/// `rewrite[1].merge.priority`.
pub fn apply(
    mut values: Values,
    steps: &[ExternalSecretRewrite],
) -> Result<Values, (String, String)> {
    for (index, step) in steps.iter().enumerate() {
        let field = format!("rewrite[{index}]");
        values = match (&step.regexp, &step.transform, &step.merge) {
            (Some(regexp), None, None) => by_regexp(values, regexp)
                .map_err(|message| (format!("{field}.regexp.source"), message))?,
            (None, Some(transform), None) => by_template(values, &transform.template)
                .map_err(|message| (format!("{field}.transform.template"), message))?,
            (None, None, Some(merge)) => merged(values, merge)
                .map_err(|(what, message)| (format!("{field}.merge{what}"), message))?,
            _ => {
                return Err((
                    field,
                    "needs exactly one of regexp, transform or merge".to_owned(),
                ));
            }
        };
    }
    Ok(values)
}

fn by_regexp(values: Values, rule: &RewriteRegexp) -> Result<Values, String> {
    let pattern = regex::Regex::new(&rule.source).map_err(|e| first_line(&e.to_string()))?;
    Ok(values
        .into_iter()
        .map(|(key, value)| {
            let key = pattern.replace_all(&key, rule.target.as_str()).into_owned();
            (key, value)
        })
        .collect())
}

fn by_template(values: Values, text: &str) -> Result<Values, String> {
    let template =
        keyward_template::Template::parse("transform", text).map_err(|e| e.to_string())?;
    let mut out = Values::new();
    for (key, value) in values {
        let data = keyward_template::Value::Map(BTreeMap::from([(
            "value".into(),
            keyward_template::Value::from(key),
        )]));
        let renamed = template.render(&data).map_err(|e| e.to_string())?;
        out.insert(renamed, value);
    }
    Ok(out)
}

/// The `merge` step; `Err((".field", message))`.
fn merged(values: Values, merge: &RewriteMerge) -> Result<Values, (String, String)> {
    let strategy = merge.strategy.unwrap_or(MergeStrategy::Extract);
    if strategy == MergeStrategy::Json && merge.into.is_empty() {
        return Err((".into".into(), "is required by strategy JSON".into()));
    }
    let order = processing_order(&values, merge)?;
    let mut members: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for key in order {
        let Some(value) = values.get(key) else {
            continue;
        };
        for (member, inner) in json_object(key, value)? {
            let conflict = members.contains_key(&member);
            if conflict && merge.conflict_policy != Some(MergeConflictPolicy::Ignore) {
                return Err((
                    ".conflictPolicy".into(),
                    format!("the member '{member}' of '{key}' is also carried by an earlier value"),
                ));
            }
            members.insert(member, inner);
        }
    }
    match strategy {
        MergeStrategy::Extract => Ok(members
            .into_iter()
            .map(|(member, inner)| (member, as_value(inner)))
            .collect()),
        MergeStrategy::Json => {
            let object: serde_json::Map<String, serde_json::Value> = members.into_iter().collect();
            let text = serde_json::to_string(&serde_json::Value::Object(object))
                .map_err(|e| (String::new(), e.to_string()))?;
            Ok(Values::from([(
                merge.into.clone(),
                SecretValue::from(text),
            )]))
        }
    }
}

/// Keys in alphabetical order, then the `priority` keys in their order.
fn processing_order<'a>(
    values: &'a Values,
    merge: &'a RewriteMerge,
) -> Result<Vec<&'a str>, (String, String)> {
    let strict = merge.priority_policy != Some(MergePriorityPolicy::IgnoreNotFound);
    for key in &merge.priority {
        if strict && !values.contains_key(key) {
            return Err((
                ".priority".into(),
                format!("the key '{key}' is not among the fetched keys (priorityPolicy Strict)"),
            ));
        }
    }
    let mut order: Vec<&str> = values
        .keys()
        .map(String::as_str)
        .filter(|key| !merge.priority.iter().any(|p| p == key))
        .collect();
    order.extend(merge.priority.iter().map(String::as_str));
    Ok(order)
}

fn json_object(
    key: &str,
    value: &SecretValue,
) -> Result<serde_json::Map<String, serde_json::Value>, (String, String)> {
    // serde_json's error would quote part of the value: replace it.
    match serde_json::from_slice(value.expose_bytes()) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        _ => Err((
            String::new(),
            format!("the value of '{key}' is not a JSON object"),
        )),
    }
}

/// A merged member as a value: strings as they are, anything else as its JSON text.
fn as_value(inner: serde_json::Value) -> SecretValue {
    match inner {
        serde_json::Value::String(text) => SecretValue::from(text),
        other => SecretValue::from(other.to_string()),
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretValue::from(*v)))
            .collect()
    }

    fn text(values: &Values) -> BTreeMap<String, String> {
        values
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    String::from_utf8_lossy(v.expose_bytes()).into_owned(),
                )
            })
            .collect()
    }

    fn steps(yaml: &str) -> Vec<ExternalSecretRewrite> {
        serde_yaml_ng::from_str(yaml).expect("rewrite steps")
    }

    #[test]
    fn regexp_then_transform_apply_in_order() {
        let input = values(&[("path/to/db-user", "u"), ("path/to/db-pass", "p")]);
        let rules = steps(
            "- regexp: {source: 'path/to/(.*)', target: '$1'}\n\
             - transform: {template: 'ENV_{{ .value | upper | replace \"-\" \"_\" }}'}\n",
        );
        let out = text(&apply(input, &rules).expect("applies"));
        assert_eq!(
            out,
            BTreeMap::from([
                ("ENV_DB_PASS".to_owned(), "p".to_owned()),
                ("ENV_DB_USER".to_owned(), "u".to_owned()),
            ])
        );
    }

    #[test]
    fn merge_extract_hoists_members_and_priority_wins() {
        let input = values(&[
            ("a-credentials", r#"{"user":"a","port":5432}"#),
            ("b-credentials", r#"{"user":"b"}"#),
        ]);
        let conflict = apply(input.clone(), &steps("- merge: {}\n"));
        let (field, message) = conflict.expect_err("conflict is an error by default");
        assert_eq!(field, "rewrite[0].merge.conflictPolicy");
        assert!(message.contains("'user'"), "{message}");

        let rules = steps("- merge: {conflictPolicy: Ignore, priority: [a-credentials]}\n");
        let out = text(&apply(input, &rules).expect("merges"));
        assert_eq!(out["user"], "a", "priority keys are processed last and win");
        assert_eq!(out["port"], "5432", "non-strings become their JSON text");
        assert_eq!(out.len(), 2, "Extract replaces the map");
    }

    #[test]
    fn merge_json_writes_into_only() {
        let input = values(&[("x", r#"{"k":"1"}"#), ("y", r#"{"l":"2"}"#)]);
        let missing_into = apply(input.clone(), &steps("- merge: {strategy: JSON}\n"));
        assert_eq!(
            missing_into.expect_err("into required").0,
            "rewrite[0].merge.into"
        );
        let out =
            text(&apply(input, &steps("- merge: {strategy: JSON, into: all}\n")).expect("merges"));
        assert_eq!(out["all"], r#"{"k":"1","l":"2"}"#);
        assert_eq!(out.len(), 1, "the merged map replaces the input");
    }

    #[test]
    fn merge_errors_never_quote_values() {
        let input = values(&[("plain", "canary-not-json-9f3a")]);
        let (field, message) = apply(input.clone(), &steps("- merge: {}\n")).expect_err("not JSON");
        assert_eq!(field, "rewrite[0].merge");
        assert!(!message.contains("canary"), "{message}");
        let strict = apply(input.clone(), &steps("- merge: {priority: [absent]}\n"));
        assert_eq!(strict.expect_err("strict").0, "rewrite[0].merge.priority");
        let relaxed = steps("- merge: {priority: [absent], priorityPolicy: IgnoreNotFound}\n");
        assert!(apply(values(&[("j", "{}")]), &relaxed).is_ok());
    }

    #[test]
    fn a_step_needs_exactly_one_operation() {
        let rules = steps("- {}\n");
        assert_eq!(
            apply(Values::new(), &rules).expect_err("empty step").0,
            "rewrite[0]"
        );
    }
}
