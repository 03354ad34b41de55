//! ESO's generators (`generators.external-secrets.io/v1alpha1`) that keyward serves:
//! `Password`, `UUID` and `Fake`, and the cluster-scoped `ClusterGenerator` that wraps one of
//! them. An ExternalSecret names one in `spec.dataFrom[].sourceRef.generatorRef`; every
//! refresh then gets newly generated values. Field names and defaults follow ESO's CRDs.
//!
//! Generators of other kinds (ACR, ECR, GCR, GitHub, Quay, STS, Vault dynamic secrets,
//! webhooks, Grafana) are not served: an ExternalSecret that names one fails with a message
//! that says so.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The generators' API group.
pub const GENERATORS_GROUP: &str = "generators.external-secrets.io";

/// The version the generators are served under, as ESO serves them.
pub const GENERATORS_VERSION: &str = "v1alpha1";

/// `generators.external-secrets.io/v1alpha1`.
pub const GENERATORS_API_VERSION: &str = "generators.external-secrets.io/v1alpha1";

/// A random password (ESO's `Password`, with sethvargo/go-password's rules).
#[derive(
    CustomResource, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema,
)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "Password",
    namespaced,
    doc = "Password: a random password under the key `password`, new on every refresh."
)]
#[serde(rename_all = "camelCase")]
pub struct PasswordSpec {
    /// Length of the password. Default 24.
    #[serde(default = "default_length")]
    pub length: i64,
    /// How many digits. Default: a quarter of the length, rounded down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digits: Option<i64>,
    /// How many symbols. Default: a quarter of the length, rounded down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbols: Option<i64>,
    /// The symbols to pick from. Default (and when empty) ``~!@#$%^&*()_+`-={}|[]\:"<>?,./``.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol_characters: Option<String>,
    /// Lower-case letters only.
    #[serde(default)]
    pub no_upper: bool,
    /// Whether a character may appear more than once. Default false: none does.
    #[serde(default)]
    pub allow_repeat: bool,
    /// How the password is written: `raw` (default), `base64`, `base64url`, `base32` or
    /// `hex` of its characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<PasswordEncoding>,
    /// The keys to write a password under, each its own. Default `[password]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_keys: Option<Vec<String>>,
}

/// `spec.encoding` of a Password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PasswordEncoding {
    /// Padded standard base64.
    Base64,
    /// Padded URL-safe base64.
    Base64url,
    /// Padded standard base32.
    Base32,
    /// Lower-case hexadecimal.
    Hex,
    /// As generated.
    Raw,
}

fn default_length() -> i64 {
    24
}

/// A random UUID (version 4) under the key `uuid`.
#[derive(
    CustomResource, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema,
)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "UUID",
    plural = "uuids",
    namespaced,
    doc = "UUID: a random version 4 UUID under the key `uuid`, new on every refresh."
)]
pub struct UUIDSpec {}

/// Fixed values, for tests: `spec.data` as it is.
#[derive(
    CustomResource, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema,
)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "Fake",
    namespaced,
    doc = "Fake: the keys and values of spec.data, as they are."
)]
pub struct FakeSpec {
    /// The controller class that handles ExternalSecrets using this generator (ESO's
    /// `spec.controller`); keyward handles them whatever it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// The keys and values to produce.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
}

/// A generator usable from every namespace: `spec.kind` and the matching spec.
#[derive(
    CustomResource, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema,
)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "ClusterGenerator",
    doc = "ClusterGenerator: a generator that ExternalSecrets of every namespace may use."
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGeneratorSpec {
    /// The kind of generator (`Password`, `UUID`, `Fake`, …).
    pub kind: String,
    /// Its spec, under `<kind>Spec` (`passwordSpec`, `uuidSpec`, `fakeSpec`, …).
    pub generator: ClusterGeneratorSpecs,
}

/// `spec.generator` of a ClusterGenerator: exactly one spec, matching `spec.kind`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGeneratorSpecs {
    /// For `kind: Password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_spec: Option<PasswordSpec>,
    /// For `kind: UUID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid_spec: Option<UUIDSpec>,
    /// For `kind: Fake`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fake_spec: Option<FakeSpec>,
    /// The specs of kinds keyward does not serve, kept as they are.
    #[serde(flatten)]
    #[schemars(skip)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// What a generator produces from: the spec of one served kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GeneratorSpec {
    /// `Password`.
    Password(PasswordSpec),
    /// `UUID`.
    Uuid,
    /// `Fake`.
    Fake(FakeSpec),
}

impl ClusterGeneratorSpec {
    /// The spec its `kind` names, or ESO's words for what is wrong.
    pub fn served(&self) -> Result<GeneratorSpec, String> {
        let missing = |spec: &str| {
            format!(
                "invalid ClusterGenerator: when kind is {}, {spec} must be set",
                self.kind
            )
        };
        match self.kind.as_str() {
            "Password" => self
                .generator
                .password_spec
                .clone()
                .map(GeneratorSpec::Password)
                .ok_or_else(|| missing("PasswordSpec")),
            "UUID" => self
                .generator
                .uuid_spec
                .as_ref()
                .map(|_| GeneratorSpec::Uuid)
                .ok_or_else(|| missing("UUIDSpec")),
            "Fake" => self
                .generator
                .fake_spec
                .clone()
                .map(GeneratorSpec::Fake)
                .ok_or_else(|| missing("FakeSpec")),
            other => Err(not_served(other)),
        }
    }
}

/// The message for a generator kind keyward does not serve.
pub fn not_served(kind: &str) -> String {
    format!(
        "generator kind {kind} is not served by keyward (it serves Password, UUID, Fake and ClusterGenerator)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_spec_takes_esos_defaults() {
        let spec: PasswordSpec = serde_json::from_value(serde_json::json!({})).expect("spec");
        assert_eq!(spec.length, 24);
        assert_eq!(spec.digits, None);
        assert!(!spec.no_upper && !spec.allow_repeat);
    }

    #[test]
    fn a_cluster_generator_needs_the_spec_of_its_kind() {
        let spec: ClusterGeneratorSpec = serde_json::from_value(serde_json::json!({
            "kind": "Password",
            "generator": {"uuidSpec": {}}
        }))
        .expect("spec");
        assert_eq!(
            spec.served(),
            Err("invalid ClusterGenerator: when kind is Password, PasswordSpec must be set".into())
        );
        let spec: ClusterGeneratorSpec = serde_json::from_value(serde_json::json!({
            "kind": "Fake",
            "generator": {"fakeSpec": {"data": {"k": "v"}}}
        }))
        .expect("spec");
        assert!(matches!(spec.served(), Ok(GeneratorSpec::Fake(fake)) if fake.data["k"] == "v"));
        let spec: ClusterGeneratorSpec = serde_json::from_value(serde_json::json!({
            "kind": "Webhook",
            "generator": {"webhookSpec": {"url": "https://example.invalid"}}
        }))
        .expect("spec");
        assert!(spec.served().is_err_and(|e| e.contains("not served")));
    }
}
