//! The `local` provider: a keyward bundle file on disk as a store, for single hosts,
//! air-gapped sites, CI runners and the quick start.
//!
//! ```yaml
//! spec:
//!   provider:
//!     local:
//!       file: /etc/keyward/store.vault.env   # ansible-vault or SOPS+age, detected
//!       passwordFile: /etc/keyward/vault-password   # optional
//! ```
//!
//! The password comes from `passwordFile`, else `passwordSecretRef` (through the store
//! credentials), else keyward's usual sources (`KEYWARD_VAULT_PASSWORD_FILE`, …); SOPS files
//! use the usual age identities. Each key of the file is a remote key; properties address
//! JSON inside a value. The file is read again when its modification time changes.
//!
//! This is not a replacement for a real store in production: it has no access control beyond
//! file permissions, no audit trail and no replication.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use keyward_api::{ExternalSecretFind, SecretKeySelector};
use keyward_bundle::env::EnvMap;
use keyward_bundle::password::{self, Environment, PasswordOptions, PasswordSource, VaultId};
use keyward_bundle::{Bundle, Keyring};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::{Credentials, Fetched, Provider, ProviderError, ProviderErrorKind, StoreId};

/// `spec.provider.local`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalConfig {
    /// The bundle file.
    pub file: PathBuf,
    /// A file holding the vault password (run when executable).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The vault password, from the store's credentials.
    #[serde(default)]
    pub password_secret_ref: Option<SecretKeySelector>,
}

/// A bundle file as a store.
#[derive(Debug)]
pub struct LocalProvider {
    store: StoreId,
    config: LocalConfig,
    namespace: String,
    credentials: Arc<dyn Credentials>,
    opened: Mutex<Option<(SystemTime, EnvMap)>>,
}

impl LocalProvider {
    /// Validates the configuration (the file is read on first use).
    pub fn new(
        store: StoreId,
        config: LocalConfig,
        namespace: &str,
        credentials: Arc<dyn Credentials>,
    ) -> Result<Self, ProviderError> {
        if config.file.as_os_str().is_empty() {
            return Err(ProviderError::new(
                ProviderErrorKind::Misconfigured,
                &store.0,
                None,
                "spec.provider.local.file is required",
            ));
        }
        Ok(Self {
            store,
            config,
            namespace: namespace.to_owned(),
            credentials,
            opened: Mutex::new(None),
        })
    }

    fn error(
        &self,
        kind: ProviderErrorKind,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ProviderError {
        ProviderError::new(kind, &self.store.0, key, message)
    }

    /// The file's values, read again when the file changed.
    async fn values(&self) -> Result<EnvMap, ProviderError> {
        let modified = std::fs::metadata(&self.config.file)
            .and_then(|meta| meta.modified())
            .map_err(|e| {
                self.error(
                    ProviderErrorKind::Unreachable,
                    None,
                    format!("{}: {e}", self.config.file.display()),
                )
            })?;
        let mut opened = self.opened.lock().await;
        if let Some((at, values)) = opened.as_ref()
            && *at == modified
        {
            return Ok(values.clone());
        }
        let mut keyring = self.keyring().await?;
        let bundle = Bundle::open(&self.config.file, &mut keyring).map_err(|e| {
            let kind = match keyward_core::Classify::kind(&e) {
                keyward_core::ErrorKind::MissingDependency => ProviderErrorKind::Unreachable,
                keyward_core::ErrorKind::Usage => ProviderErrorKind::Misconfigured,
                _ => ProviderErrorKind::PermissionDenied,
            };
            self.error(kind, None, e.to_string())
        })?;
        let values = bundle.values().clone();
        *opened = Some((modified, values.clone()));
        Ok(values)
    }

    async fn keyring(&self) -> Result<Keyring, ProviderError> {
        let timeout = password::DEFAULT_COMMAND_TIMEOUT;
        if let Some(file) = &self.config.password_file {
            let id = VaultId {
                label: "default".into(),
                source: PasswordSource::File(file.clone()),
            };
            return Ok(Keyring::new(vec![id], timeout));
        }
        if let Some(selector) = &self.config.password_secret_ref {
            let password = self
                .credentials
                .secret_key(selector, &self.namespace)
                .await?;
            return Ok(Keyring::with_password("default", password));
        }
        let resolved = password::resolve(&PasswordOptions::default(), &Environment::from_process());
        Ok(Keyring::from_resolution(resolved, timeout))
    }
}

#[async_trait::async_trait]
impl Provider for LocalProvider {
    fn name(&self) -> &'static str {
        "local"
    }

    fn store(&self) -> &StoreId {
        &self.store
    }

    async fn fetch(&self, key: &str, version: Option<&str>) -> Result<Fetched, ProviderError> {
        if version.is_some_and(|v| !v.is_empty()) {
            return Err(self.error(
                ProviderErrorKind::Unsupported,
                Some(key),
                "the local store keeps no versions",
            ));
        }
        let values = self.values().await?;
        values
            .get(key)
            .map(|value| Fetched::Value(value.clone()))
            .ok_or_else(|| {
                self.error(
                    ProviderErrorKind::NotFound,
                    Some(key),
                    "no such key in the file",
                )
            })
    }

    async fn list(&self, find: &ExternalSecretFind) -> Result<Vec<String>, ProviderError> {
        if !find.tags.is_empty() {
            return Err(self.error(
                ProviderErrorKind::Unsupported,
                None,
                "the local store has no tags",
            ));
        }
        let matcher = crate::value::name_matcher(find, &self.store().0)?;
        let prefix = find.path.clone().unwrap_or_default();
        let values = self.values().await?;
        Ok(values
            .keys()
            .filter(|key| {
                key.starts_with(&prefix) && matcher.as_ref().is_none_or(|m| m.is_match(key))
            })
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use keyward_core::SecretValue;

    use super::*;
    use crate::StaticCredentials;

    fn write_bundle(dir: &std::path::Path) -> PathBuf {
        let file = dir.join("store.vault.env");
        let mut keyring = Keyring::with_password("default", SecretValue::from("pw"));
        let mut bundle = Bundle::new_vault(&file, &mut keyring).expect("new");
        bundle.values_mut().insert(
            "db".into(),
            SecretValue::from(r#"{"user":"app","password":"p"}"#),
        );
        bundle
            .values_mut()
            .insert("token".into(), SecretValue::from("t"));
        bundle.create().expect("create");
        file
    }

    #[tokio::test]
    async fn reads_keys_properties_and_lists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write_bundle(dir.path());
        let mut credentials = StaticCredentials::new();
        credentials.insert(
            "apps",
            "store-password",
            "password",
            SecretValue::from("pw"),
        );
        let config = LocalConfig {
            file,
            password_secret_ref: Some(SecretKeySelector {
                name: "store-password".into(),
                key: Some("password".into()),
                namespace: None,
            }),
            ..LocalConfig::default()
        };
        let provider = LocalProvider::new(
            StoreId("SecretStore/apps/local".into()),
            config,
            "apps",
            Arc::new(credentials),
        )
        .expect("valid");
        let fetched = provider.fetch("db", None).await.expect("db");
        let password =
            crate::value::select(&fetched, Some("password"), "s", "db").expect("property");
        assert_eq!(password.expose_str(), Ok("p"));
        let missing = provider.fetch("nope", None).await.expect_err("missing");
        assert_eq!(missing.kind, ProviderErrorKind::NotFound);
        assert_eq!(
            provider
                .list(&ExternalSecretFind::default())
                .await
                .expect("list"),
            ["db", "token"]
        );
    }

    #[tokio::test]
    async fn a_wrong_password_is_permission_denied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write_bundle(dir.path());
        let password_file = dir.path().join("pw");
        std::fs::write(&password_file, "wrong\n").expect("write");
        let config = LocalConfig {
            file,
            password_file: Some(password_file),
            ..LocalConfig::default()
        };
        let provider = LocalProvider::new(
            StoreId("s".into()),
            config,
            "apps",
            Arc::new(StaticCredentials::new()),
        )
        .expect("valid");
        let error = provider.fetch("db", None).await.expect_err("denied");
        assert_eq!(error.kind, ProviderErrorKind::PermissionDenied);
    }
}
