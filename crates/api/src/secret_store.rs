//! `SecretStore` and `ClusterSecretStore` (`external-secrets.io/v1`).
//!
//! The provider block stays raw JSON ([`ProviderSpec`]); keyward-providers parses it into the
//! configuration type of the one provider it names.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The provider block: exactly one key, the provider's name (`vault`, `aws`, `azurekv`,
/// `fake`, …), whose value that provider parses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderSpec(pub BTreeMap<String, serde_json::Value>);

/// In a CRD the provider block is an object of exactly one field whose content the API server
/// keeps as sent (`x-kubernetes-preserve-unknown-fields`): each provider validates its own.
impl JsonSchema for ProviderSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProviderSpec".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "Which provider, configured how: exactly one field, the provider's name.",
            "minProperties": 1,
            "maxProperties": 1,
            "x-kubernetes-preserve-unknown-fields": true,
        })
    }
}

impl ProviderSpec {
    /// The single provider named, or a message saying why there is not exactly one.
    pub fn single(&self) -> Result<(&str, &serde_json::Value), String> {
        let mut entries = self.0.iter();
        match (entries.next(), entries.next()) {
            (Some((name, config)), None) => Ok((name.as_str(), config)),
            (None, _) => Err("spec.provider names no provider".to_owned()),
            (Some(_), Some(_)) => Err(format!(
                "spec.provider names {} providers ({}); a store has exactly one",
                self.0.len(),
                self.0.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

/// The spec shared by both store kinds.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "SecretStore",
    namespaced,
    shortname = "ss",
    status = "SecretStoreStatus",
    doc = "SecretStore: a store the ExternalSecrets of its own namespace read from."
)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreSpec {
    /// Which provider, configured how.
    pub provider: ProviderSpec,
    /// Only the controller of this class reconciles the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// Seconds between store validations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<i64>,
    /// Retries of failed calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_settings: Option<RetrySettings>,
    /// ClusterSecretStore only: which namespaces may use the store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ClusterSecretStoreCondition>,
}

impl SecretStoreSpec {
    /// Whether a ClusterSecretStore's `spec.conditions` let `namespace` (with `labels`, when
    /// known) use it: no conditions allow every namespace; otherwise one condition must match
    /// by name, by regular expression (unanchored, as ESO's `regexp.MatchString`) or by label
    /// selector.
    pub fn allows_namespace(
        &self,
        namespace: &str,
        labels: Option<&BTreeMap<String, String>>,
    ) -> bool {
        self.conditions.is_empty()
            || self.conditions.iter().any(|condition| {
                condition.namespaces.iter().any(|n| n == namespace)
                    || condition.namespace_regexes.iter().any(|pattern| {
                        regex::Regex::new(pattern).is_ok_and(|re| re.is_match(namespace))
                    })
                    || match (&condition.namespace_selector, labels) {
                        (Some(selector), Some(labels)) => selects(selector, labels),
                        _ => false,
                    }
            })
    }
}

/// Whether a Kubernetes label selector picks an object with `labels`.
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_label = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    let by_expression = selector.match_expressions.iter().flatten().all(|rule| {
        let values = rule.values.as_deref().unwrap_or_default();
        let value = labels.get(&rule.key);
        match rule.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    by_label && by_expression
}

/// `spec.retrySettings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetrySettings {
    /// How many retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,
    /// The wait between retries, as a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<String>,
}

/// One `spec.conditions` entry: a namespace may use the store when it matches any of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSecretStoreCondition {
    /// Namespaces by label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Namespaces by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Namespaces by regular expression.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_regexes: Vec<String>,
}

/// What the operator reports of a store, as ESO reports it: whether it validated, and whether
/// it can be read, written or both. Served as a status subresource, so that writing it never
/// touches the spec.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreStatus {
    /// The `Ready` condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<SecretStoreCondition>,
    /// `ReadOnly`, `WriteOnly` or `ReadWrite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<String>,
}

/// One store condition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreCondition {
    /// `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False`, `Unknown`.
    pub status: String,
    /// A machine-readable reason (`Valid`, `InvalidProviderConfig`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A message for people; never a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// The cluster-wide store; its spec is the [`SecretStoreSpec`].
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "ClusterSecretStore",
    shortname = "css",
    status = "SecretStoreStatus",
    doc = "ClusterSecretStore: a store ExternalSecrets of the namespaces its conditions allow read from."
)]
pub struct ClusterSecretStoreSpec {
    /// The same fields as a SecretStore's spec.
    #[serde(flatten)]
    pub store: SecretStoreSpec,
}
