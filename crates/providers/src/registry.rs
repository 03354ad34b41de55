//! The one explicit list of providers: from a store's `spec.provider` to a [`Provider`].

use std::sync::Arc;

use keyward_api::ProviderSpec;

#[cfg(feature = "aws")]
use crate::aws::{AwsConfig, AwsProvider};
#[cfg(feature = "aws")]
use crate::aws_ssm::ParameterStoreProvider;
#[cfg(feature = "azure")]
use crate::azurekv::{AzureKvConfig, AzureKvProvider, AzureOptions};
use crate::fake::{FakeConfig, FakeProvider};
use crate::kubernetes::{KubernetesConfig, KubernetesProvider};
use crate::local::{LocalConfig, LocalProvider};
#[cfg(feature = "vault")]
use crate::vault::{VaultConfig, VaultProvider};
use crate::{Credentials, Provider, ProviderError, ProviderErrorKind, StoreId};

/// The providers keyward implements, by their `spec.provider` key.
pub const PROVIDERS: [&str; 6] = ["aws", "azurekv", "fake", "kubernetes", "local", "vault"];

/// The cargo feature that builds provider `name`, when this build left it out.
pub fn left_out(name: &str) -> Option<&'static str> {
    match name {
        "aws" if !cfg!(feature = "aws") => Some("aws"),
        "azurekv" if !cfg!(feature = "azure") => Some("azure"),
        "vault" if !cfg!(feature = "vault") => Some("vault"),
        _ => None,
    }
}

fn unsupported(name: &str) -> String {
    match left_out(name) {
        Some(feature) => format!(
            "provider '{name}' was left out of this keyward build (cargo feature `{feature}`)"
        ),
        None => format!(
            "provider '{name}' is not supported by keyward (supported: {})",
            PROVIDERS.join(", ")
        ),
    }
}

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
        ProviderError::new(
            ProviderErrorKind::Misconfigured,
            store.as_str(),
            None,
            message,
        )
    };
    let (name, config) = spec.single().map_err(misconfigured)?;
    if store.kind() == keyward_api::StoreKind::SecretStore {
        confine_to_namespace(config, &format!("spec.provider.{name}"), namespace)
            .map_err(misconfigured)?;
    }
    let parse_error = misconfigured;
    match name {
        #[cfg(feature = "aws")]
        "aws" => {
            let config: AwsConfig = typed(name, config).map_err(parse_error)?;
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
        #[cfg(feature = "azure")]
        "azurekv" => {
            let config: AzureKvConfig = typed(name, config).map_err(parse_error)?;
            Ok(Box::new(AzureKvProvider::new(
                store,
                config,
                namespace,
                credentials,
                AzureOptions::from_env(),
            )?))
        }
        "fake" => {
            let config: FakeConfig = typed(name, config).map_err(parse_error)?;
            Ok(Box::new(FakeProvider::new(store, config)))
        }
        "kubernetes" => {
            let config: KubernetesConfig = typed(name, config).map_err(parse_error)?;
            Ok(Box::new(KubernetesProvider::new(
                store,
                config,
                namespace,
                credentials,
            )?))
        }
        "local" => {
            let config: LocalConfig = typed(name, config).map_err(parse_error)?;
            Ok(Box::new(LocalProvider::new(
                store,
                config,
                namespace,
                credentials,
            )?))
        }
        #[cfg(feature = "vault")]
        "vault" => {
            let config: VaultConfig = typed(name, config).map_err(parse_error)?;
            Ok(Box::new(VaultProvider::new(
                store,
                config,
                namespace,
                credentials,
            )?))
        }
        other => Err(misconfigured(unsupported(other))),
    }
}

/// `spec.provider.NAME` typed as provider `name` reads it. The error names the exact field
/// (`spec.provider.azurekv.tenantId: got a map, expected a string`), never quotes a value,
/// and where a common mistake is known, says what ESO expects instead.
fn typed<T: serde::de::DeserializeOwned>(
    name: &str,
    config: &serde_json::Value,
) -> Result<T, String> {
    keyward_api::load::from_value(config.clone()).map_err(|reason| {
        // `from_value` says `PATH: WHAT`, or just `WHAT` for the block itself.
        let (path, what) = match reason.split_once(": ") {
            Some((path, what)) if !path.contains(' ') => (path, what),
            _ => ("", reason.as_str()),
        };
        let field = if path.is_empty() {
            format!("spec.provider.{name}")
        } else {
            format!("spec.provider.{name}.{path}")
        };
        match hint(name, path) {
            Some(hint) => format!("{field}: {what}; {hint}"),
            None => format!("{field}: {what}"),
        }
    })
}

/// What ESO expects where manifests written from memory commonly put something else.
fn hint(provider: &str, field: &str) -> Option<&'static str> {
    let hint = match (provider, field) {
        ("azurekv", "tenantId") => {
            "tenantId is the directory id as a string; a client id and secret go in authSecretRef.clientId and authSecretRef.clientSecret, each {name, key} of a Secret"
        }
        ("azurekv", "clientId" | "clientSecret" | "clientCertificate") => {
            "ESO reads these as authSecretRef.clientId, authSecretRef.clientSecret and authSecretRef.clientCertificate, each {name, key} of a Secret"
        }
        ("vault", "token" | "tokenSecretRef") => {
            "ESO reads a token as auth.tokenSecretRef, {name, key} of a Secret"
        }
        (
            "aws",
            "accessKeyID" | "secretAccessKey" | "accessKeyIDSecretRef" | "secretAccessKeySecretRef",
        ) => {
            "ESO reads keys as auth.secretRef.accessKeyIDSecretRef and auth.secretRef.secretAccessKeySecretRef, each {name, key} of a Secret"
        }
        _ => return None,
    };
    Some(hint)
}

/// What [`build`] would refuse in a store's `spec.provider`, found without building a client
/// or calling anyone, and else the fields of it that keyward does not read (each with a hint
/// when it is a known mistake).
///
/// A field keyward does not read is either one ESO's schema lacks too (the apiserver drops it
/// silently) or an ESO feature keyward does not implement; both deserve a warning.
pub fn check_config(
    spec: &ProviderSpec,
    namespaced: bool,
    namespace: &str,
) -> Result<Vec<String>, String> {
    let (name, config) = spec.single()?;
    if namespaced {
        confine_to_namespace(config, &format!("spec.provider.{name}"), namespace)?;
    }
    match name {
        #[cfg(feature = "aws")]
        "aws" => unread::<AwsConfig>(name, config),
        #[cfg(feature = "azure")]
        "azurekv" => unread::<AzureKvConfig>(name, config),
        "fake" => unread::<FakeConfig>(name, config),
        "kubernetes" => unread::<KubernetesConfig>(name, config),
        "local" => unread::<LocalConfig>(name, config),
        #[cfg(feature = "vault")]
        "vault" => unread::<VaultConfig>(name, config),
        other => Err(unsupported(other)),
    }
}

fn unread<T: serde::de::DeserializeOwned>(
    name: &str,
    config: &serde_json::Value,
) -> Result<Vec<String>, String> {
    typed::<T>(name, config)?;
    let mut unread = Vec::new();
    // The block typed once already; this pass only records the paths serde skipped.
    let _ = serde_ignored::deserialize::<_, _, T>(config.clone(), |path| {
        let path = path.to_string();
        unread.push(match hint(name, &path) {
            Some(hint) => format!("spec.provider.{name}.{path}: {hint}"),
            None => format!("spec.provider.{name}.{path}"),
        });
    });
    Ok(unread)
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
    fn a_provider_left_out_of_the_build_is_refused_naming_its_feature() {
        for (name, feature, built) in [
            ("aws", "aws", cfg!(feature = "aws")),
            ("azurekv", "azure", cfg!(feature = "azure")),
            ("vault", "vault", cfg!(feature = "vault")),
        ] {
            assert_eq!(left_out(name), (!built).then_some(feature));
            if !built {
                let error = check_config(&spec(name, serde_json::json!({})), false, "ns")
                    .expect_err("left out");
                assert!(
                    error.contains(&format!("cargo feature `{feature}`")),
                    "{error}"
                );
            }
        }
        assert_eq!(left_out("fake"), None);
    }

    #[test]
    #[cfg(feature = "azure")]
    fn errors_name_the_exact_field_and_teach_the_eso_form() {
        // The shape a how-to written from memory gives: ids as valueFrom maps.
        let how_to = spec(
            "azurekv",
            serde_json::json!({
                "vaultUrl": "https://kv.vault.azure.net",
                "tenantId": {"valueFrom": {"secretKeyRef": {"name": "azure", "key": "tenant"}}},
                "clientId": {"valueFrom": {"secretKeyRef": {"name": "azure", "key": "id"}}},
            }),
        );
        let error = check_config(&how_to, false, "ns").expect_err("tenantId is a string");
        assert!(
            error.starts_with("spec.provider.azurekv.tenantId: got a map, expected a string; "),
            "{error}"
        );
        assert!(error.contains("authSecretRef.clientId"), "{error}");
        let built = build(
            StoreId::cluster("azure"),
            &how_to,
            "ns",
            Arc::new(StaticCredentials::new()),
        )
        .map(|_| ())
        .expect_err("same error");
        assert!(
            built
                .to_string()
                .contains("spec.provider.azurekv.tenantId: got a map"),
            "{built}"
        );

        let fixed_tenant = spec(
            "azurekv",
            serde_json::json!({
                "vaultUrl": "https://kv.vault.azure.net", "tenantId": "t",
                "clientId": {"name": "azure", "key": "id"}, "retries": 3,
            }),
        );
        let unread = check_config(&fixed_tenant, false, "ns").expect("loads");
        assert_eq!(unread.len(), 2, "{unread:?}");
        assert!(
            unread[0].starts_with(
                "spec.provider.azurekv.clientId: ESO reads these as authSecretRef.clientId"
            ),
            "{unread:?}"
        );
        assert_eq!(unread[1], "spec.provider.azurekv.retries");
    }

    #[test]
    fn unknown_providers_are_named() {
        let error = build(
            StoreId::namespaced("ns", "op"),
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
    #[cfg(feature = "vault")]
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
                store.parse::<StoreId>().expect("a store id"),
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
            StoreId::namespaced("ns", "fake"),
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
