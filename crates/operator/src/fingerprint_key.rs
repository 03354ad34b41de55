//! The operator's fingerprint key: 32 random bytes in a Secret of the operator's own
//! namespace, created on first start and shared by every replica, so that the fingerprints on
//! the Secrets it writes stay verifiable (`keyward check --verify`) across restarts.
//!
//! Readers of projected Secrets must not read this one: grant `get` on it to the operator and
//! to auditors only.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use keyward_core::{FingerprintKey, SecretValue};
use kube::api::{Api, PostParams};

use crate::OperatorError;

/// The Secret's name unless told otherwise.
pub const DEFAULT_NAME: &str = "keyward-fingerprint-key";

/// The data key that holds the key's bytes.
pub const KEY_FIELD: &str = "fingerprint.key";

/// Where the key is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySecret {
    /// The Secret's namespace (the operator's own).
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl std::fmt::Display for KeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The key in `secret`, created when the Secret does not exist yet. Of two replicas creating
/// it at once, the second finds the first one's (409) and reads it.
pub async fn load_or_create(
    client: &kube::Client,
    secret: &KeySecret,
) -> Result<FingerprintKey, OperatorError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &secret.namespace);
    let failed = |doing: &str, error: &kube::Error| {
        OperatorError::FingerprintKey(format!(
            "{doing} the Secret {secret}: {}; the operator needs get and create on it (--fingerprint-key-secret)",
            summary(error)
        ))
    };
    if let Some(existing) = api
        .get_opt(&secret.name)
        .await
        .map_err(|e| failed("reading", &e))?
    {
        return key_of(&existing, secret);
    }
    let mut bytes = vec![0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| OperatorError::FingerprintKey(e.to_string()))?;
    let created = Secret {
        metadata: ObjectMeta {
            name: Some(secret.name.clone()),
            namespace: Some(secret.namespace.clone()),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "keyward".to_owned(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        data: Some([(KEY_FIELD.to_owned(), ByteString(bytes))].into()),
        type_: Some("Opaque".into()),
        immutable: Some(true),
        ..Secret::default()
    };
    match api.create(&PostParams::default(), &created).await {
        Ok(written) => key_of(&written, secret),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let existing = api
                .get(&secret.name)
                .await
                .map_err(|e| failed("reading", &e))?;
            key_of(&existing, secret)
        }
        Err(error) => Err(failed("creating", &error)),
    }
}

fn key_of(found: &Secret, secret: &KeySecret) -> Result<FingerprintKey, OperatorError> {
    found
        .data
        .as_ref()
        .and_then(|data| data.get(KEY_FIELD))
        .and_then(|bytes| FingerprintKey::new(SecretValue::new(bytes.0.clone())))
        .ok_or_else(|| {
            OperatorError::FingerprintKey(format!(
                "the Secret {secret} has no {KEY_FIELD} of at least 16 bytes; delete it to have a new key made"
            ))
        })
}

/// An API error without the object's content (a message about a Secret may quote it).
fn summary(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => {
            format!("the API server answered {} {}", status.code, status.reason)
        }
        other => other.to_string(),
    }
}

/// The key in `secret`, which must exist (`keyward check --verify`: a new key could verify
/// nothing).
pub async fn load(
    client: &kube::Client,
    secret: &KeySecret,
) -> Result<FingerprintKey, OperatorError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &secret.namespace);
    match api.get_opt(&secret.name).await {
        Ok(Some(found)) => key_of(&found, secret),
        Ok(None) => Err(OperatorError::FingerprintKey(format!(
            "the Secret {secret} does not exist: the operator creates it on first start (its --fingerprint-key-secret)"
        ))),
        Err(error) => Err(OperatorError::FingerprintKey(format!(
            "reading the Secret {secret}: {}",
            summary(&error)
        ))),
    }
}
