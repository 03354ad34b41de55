//! Helpers shared by the provider tests: a value as text, a property selected as a store
//! would, and the static keys an `aws` store reads through `auth.secretRef` (moto accepts any).
#![allow(dead_code)]

use std::sync::Arc;

use keyward_core::SecretValue;
use keyward_providers::{Fetched, StaticCredentials, value};

/// Credentials holding the Secret `apps/aws-keys` (`id`, `secret`).
pub fn aws_key_credentials() -> Arc<StaticCredentials> {
    let mut credentials = StaticCredentials::new();
    credentials.insert(
        "apps",
        "aws-keys",
        "id",
        SecretValue::from("AKIAKEYWARDTEST"),
    );
    credentials.insert(
        "apps",
        "aws-keys",
        "secret",
        SecretValue::from("keyward-test-secret"),
    );
    Arc::new(credentials)
}

/// `spec.provider.aws` for `service` in moto's region, authenticated with
/// [`aws_key_credentials`].
pub fn aws_config_json(service: &str) -> serde_json::Value {
    serde_json::json!({
        "service": service,
        "region": keyward_test_support::MOTO_REGION,
        "auth": { "secretRef": {
            "accessKeyIDSecretRef": { "name": "aws-keys", "key": "id" },
            "secretAccessKeySecretRef": { "name": "aws-keys", "key": "secret" }
        } }
    })
}

/// A fetched value as text (the tests' values are UTF-8).
pub fn text(value: &SecretValue) -> String {
    value.expose_str().expect("utf-8").to_owned()
}

/// `property` of `fetched` selected as the sync engine selects it (`None`: the whole value),
/// as text.
pub fn selected(fetched: &Fetched, property: Option<&str>) -> String {
    text(&value::select(fetched, property, "test-store", "test-key").expect("select"))
}
