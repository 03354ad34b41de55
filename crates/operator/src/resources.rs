//! The `external-secrets.io` kinds as the API server serves them (`v1`; PushSecret `v1alpha1`).
//!
//! The operator watches them as [`DynamicObject`]s and types each object when it uses it: a
//! field keyward does not know (ESO adds some in every release) or an object that fails to
//! type then fails that one object, with a condition that says why, and never the watch of
//! all the others.

use kube::api::DynamicObject;
use kube::core::{ApiResource, GroupVersionKind};

fn resource(kind: &str, plural: &str) -> ApiResource {
    versioned(keyward_api::VERSION, kind, plural)
}

fn versioned(version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(keyward_api::GROUP, version, kind),
        plural,
    )
}

/// `PushSecret`, served as `v1alpha1` as ESO serves it.
pub fn push_secret() -> ApiResource {
    versioned(
        keyward_api::PUSH_SECRET_VERSION,
        "PushSecret",
        "pushsecrets",
    )
}

/// `ExternalSecret`.
pub fn external_secret() -> ApiResource {
    resource("ExternalSecret", "externalsecrets")
}

/// `ClusterExternalSecret`.
pub fn cluster_external_secret() -> ApiResource {
    resource("ClusterExternalSecret", "clusterexternalsecrets")
}

/// `SecretStore`.
pub fn secret_store() -> ApiResource {
    resource("SecretStore", "secretstores")
}

/// `ClusterSecretStore`.
pub fn cluster_secret_store() -> ApiResource {
    resource("ClusterSecretStore", "clustersecretstores")
}

/// Types an object the API server sent; the error names the field, never a value.
pub fn typed<T: serde::de::DeserializeOwned>(object: &DynamicObject) -> Result<T, String> {
    let value = serde_json::to_value(object).map_err(|e| e.to_string())?;
    keyward_api::load::from_value(value)
}
