//! Set-up shared by the provider tests against moto: the static keys an `aws` store reads
//! through `auth.secretRef` (moto accepts any).

use std::sync::Arc;

use keyward_core::SecretValue;
use keyward_providers::StaticCredentials;

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
