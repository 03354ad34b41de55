//! The one explicit list of providers: from a store's `spec.provider` to a [`Provider`].

use std::sync::Arc;

use keyward_api::ProviderSpec;

use crate::aws::{AwsConfig, AwsProvider};
use crate::aws_ssm::ParameterStoreProvider;
use crate::azurekv::{AzureKvConfig, AzureKvProvider, AzureOptions};
use crate::fake::{FakeConfig, FakeProvider};
use crate::kubernetes::{KubernetesConfig, KubernetesProvider};
use crate::local::{LocalConfig, LocalProvider};
use crate::vault::{VaultConfig, VaultProvider};
use crate::{Credentials, Provider, ProviderError, ProviderErrorKind, StoreId};

/// The providers keyward implements, by their `spec.provider` key.
pub const PROVIDERS: [&str; 6] = ["aws", "azurekv", "fake", "kubernetes", "local", "vault"];

/// Validates `spec` and builds its provider. No store call is made: bad configuration
/// (unknown provider, missing fields, unsupported auth) is reported here.
///
/// `namespace` is where namespaced credential references resolve (the store's namespace).
pub fn build(
    store: StoreId,
    spec: &ProviderSpec,
    namespace: &str,
    credentials: Arc<dyn Credentials>,
) -> Result<Box<dyn Provider>, ProviderError> {
    let misconfigured = |message: String| {
        ProviderError::new(ProviderErrorKind::Misconfigured, &store.0, None, message)
    };
    let (name, config) = spec.single().map_err(misconfigured)?;
    if store.0.starts_with("SecretStore/") {
        confine_to_namespace(config, &format!("spec.provider.{name}"), namespace)
            .map_err(misconfigured)?;
    }
    let parse_error = |e: serde_json::Error| {
        misconfigured(format!(
            "spec.provider.{name}: {}",
            first_line(&e.to_string())
        ))
    };
    match name {
        "aws" => {
            let config: AwsConfig = serde_json::from_value(config.clone()).map_err(parse_error)?;
            if config.service == "ParameterStore" {
                return Ok(Box::new(ParameterStoreProvider::new(
                    store,
                    config,
                    namespace,
                    credentials,
                )?));
            }
            Ok(Box::new(AwsProvider::new(
                store,
                config,
                namespace,
                credentials,
            )?))
        }
        "azurekv" => {
            let config: AzureKvConfig =
                serde_json::from_value(config.clone()).map_err(parse_error)?;
            Ok(Box::new(AzureKvProvider::new(
                store,
                config,
                namespace,
                credentials,
                AzureOptions::from_env(),
            )?))
        }
        "fake" => {
            let config: FakeConfig = serde_json::from_value(config.clone()).map_err(parse_error)?;
            Ok(Box::new(FakeProvider::new(store, config)))
        }
        "kubernetes" => {
            let config: KubernetesConfig =
                serde_json::from_value(config.clone()).map_err(parse_error)?;
            Ok(Box::new(KubernetesProvider::new(
                store,
                config,
                namespace,
                credentials,
            )?))
        }
        "local" => {
            let config: LocalConfig =
                serde_json::from_value(config.clone()).map_err(parse_error)?;
            Ok(Box::new(LocalProvider::new(
                store,
                config,
                namespace,
                credentials,
            )?))
        }
        "vault" => {
            let config: VaultConfig =
                serde_json::from_value(config.clone()).map_err(parse_error)?;
            Ok(Box::new(VaultProvider::new(
                store,
                config,
                namespace,
                credentials,
            )?))
        }
        other => Err(misconfigured(format!(
            "provider '{other}' is not supported by keyward (supported: {})",
            PROVIDERS.join(", ")
        ))),
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or(text).to_owned()
}

/// ESO's rule that keeps a namespaced store inside its namespace: in a `SecretStore`, a
/// reference to a Secret or ServiceAccount (an object with `name` and `namespace`) may only
/// name the store's own namespace. Only a ClusterSecretStore may reach across namespaces.
/// Otherwise whoever may create a SecretStore could read any namespace's credentials.
fn confine_to_namespace(
    node: &serde_json::Value,
    path: &str,
    namespace: &str,
) -> Result<(), String> {
    match node {
        serde_json::Value::Object(map) => {
            if map.contains_key("name")
                && let Some(other) = map.get("namespace").and_then(serde_json::Value::as_str)
                && other != namespace
            {
                return Err(format!(
                    "{path}.namespace: a SecretStore may only refer to its own namespace '{namespace}', not '{other}' (use a ClusterSecretStore)"
                ));
            }
            for (key, value) in map {
                confine_to_namespace(value, &format!("{path}.{key}"), namespace)?;
            }
            Ok(())
        }
        serde_json::Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                confine_to_namespace(value, &format!("{path}[{i}]"), namespace)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::StaticCredentials;

    fn spec(name: &str, config: serde_json::Value) -> ProviderSpec {
        ProviderSpec(BTreeMap::from([(name.to_owned(), config)]))
    }

    #[test]
    fn unknown_providers_are_named() {
        let error = build(
            StoreId("SecretStore/ns/op".into()),
            &spec("onepassword", serde_json::json!({})),
            "ns",
            Arc::new(StaticCredentials::new()),
        )
        .expect_err("unsupported");
        assert!(
            error
                .to_string()
                .contains("provider 'onepassword' is not supported"),
            "{error}"
        );
    }

    #[test]
    fn a_secret_store_stays_in_its_namespace() {
        let vault = |namespace: &str| {
            spec(
                "vault",
                serde_json::json!({
                    "server": "https://vault.example", "path": "secret", "namespace": "vault-ns",
                    "auth": {"tokenSecretRef": {"name": "t", "key": "token", "namespace": namespace}}
                }),
            )
        };
        let build_in = |store: &str, spec: &ProviderSpec| {
            build(
                StoreId(store.into()),
                spec,
                "team-a",
                Arc::new(StaticCredentials::new()),
            )
        };
        let error = build_in("SecretStore/team-a/v", &vault("team-b"))
            .map(|_| ())
            .expect_err("another namespace");
        assert_eq!(error.kind, ProviderErrorKind::Misconfigured);
        assert!(
            error
                .message
                .contains("spec.provider.vault.auth.tokenSecretRef.namespace"),
            "{error}"
        );
        assert!(build_in("SecretStore/team-a/v", &vault("team-a")).is_ok());
        assert!(build_in("ClusterSecretStore/v", &vault("team-b")).is_ok());
    }

    #[test]
    fn known_providers_build() {
        let provider = build(
            StoreId("SecretStore/ns/fake".into()),
            &spec(
                "fake",
                serde_json::json!({"data": [{"key": "a", "value": "b"}]}),
            ),
            "ns",
            Arc::new(StaticCredentials::new()),
        )
        .expect("fake");
        assert_eq!(provider.name(), "fake");
    }
}
