//! keyward's CustomResourceDefinitions, generated from the Rust types of `keyward-api`, for
//! clusters without ESO's (`keyward operator crds | kubectl apply -f -`). They serve
//! `external-secrets.io/v1` under ESO's names, so manifests written for ESO validate against
//! them (PushSecret under `v1alpha1`, as ESO, and the generators keyward serves under
//! `generators.external-secrets.io/v1alpha1`); a cluster that already has ESO's CRDs keeps them.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use keyward_api::generator::{ClusterGenerator, Fake, Password, UUID};
use keyward_api::{
    ClusterExternalSecret, ClusterSecretStore, ExternalSecret, PushSecret, SecretStore,
};
use kube::CustomResourceExt;

/// The CRDs keyward serves, in apply order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        ExternalSecret::crd(),
        ClusterExternalSecret::crd(),
        SecretStore::crd(),
        ClusterSecretStore::crd(),
        PushSecret::crd(),
        Password::crd(),
        UUID::crd(),
        Fake::crd(),
        ClusterGenerator::crd(),
    ]
}

/// The CRDs as one multi-document YAML stream.
pub fn crds_yaml() -> Result<String, serde_yaml_ng::Error> {
    let mut text = String::new();
    for crd in crds() {
        text.push_str("---\n");
        text.push_str(&serde_yaml_ng::to_string(&crd)?);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    /// The copy in deploy/ is what the types generate: regenerate it with
    /// `keyward operator crds > deploy/crds.yaml` after changing a type.
    #[test]
    fn the_copy_in_deploy_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/crds.yaml");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        let generated = super::crds_yaml().expect("yaml");
        assert!(
            committed == generated,
            "deploy/crds.yaml is stale: run `keyward operator crds > deploy/crds.yaml`"
        );
    }
}
