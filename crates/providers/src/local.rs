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
//! use the usual age identities. A provider never prompts: a password command gets no
//! terminal and no stdin. Each key of the file is a remote key; properties address JSON
//! inside a value. The file is opened once, off the async threads, and its values shared by
//! every fetch until the file changes (another inode, size or time).
//!
//! This is not a replacement for a real store in production: it has no access control beyond
//! file permissions, no audit trail and no replication.

use std::path::PathBuf;
use std::sync::Arc;

use keyward_api::{ExternalSecretFind, SecretKeySelector};
use keyward_bundle::env::EnvMap;
use keyward_bundle::password::{Environment, Interaction, PasswordOptions};
use keyward_bundle::sops::SopsError;
use keyward_bundle::vault::VaultError;
use keyward_bundle::{Bundle, BundleError, Keyring};
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
    /// The opened file, shared by every fetch until the file changes. The async mutex makes
    /// concurrent first fetches wait for one open instead of each opening the file.
    opened: Mutex<Option<Opened>>,
}

/// The values of one version of the file.
#[derive(Debug)]
struct Opened {
    stamp: FileStamp,
    values: Arc<EnvMap>,
}

/// What identifies one version of the file: bundle writes rename a new inode into place, and
/// an in-place edit changes the size or the times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl FileStamp {
    fn of(path: &std::path::Path) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(Self {
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.size(),
            modified: (meta.mtime(), meta.mtime_nsec()),
            changed: (meta.ctime(), meta.ctime_nsec()),
        })
    }
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
                store.as_str(),
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
        ProviderError::new(kind, self.store.as_str(), key, message)
    }

    /// The file's values, shared; opened again only when the file changed. File reads, key
    /// derivation and password commands run on the blocking pool, never on a runtime thread.
    async fn values(&self) -> Result<Arc<EnvMap>, ProviderError> {
        let file = self.config.file.clone();
        let stamp = self
            .blocking(move || FileStamp::of(&file))
            .await?
            .map_err(|e| {
                self.error(
                    ProviderErrorKind::Unreachable,
                    None,
                    format!("{}: {e}", self.config.file.display()),
                )
            })?;
        let mut opened = self.opened.lock().await;
        if let Some(current) = opened.as_ref()
            && current.stamp == stamp
        {
            return Ok(Arc::clone(&current.values));
        }
        let mut keyring = self.keyring().await?;
        let file = self.config.file.clone();
        let values = self
            .blocking(move || {
                // A plaintext that is not an env file would read as an empty store: refuse it.
                let bundle = Bundle::open(&file, &mut keyring)?;
                bundle.check_env()?;
                Ok::<_, BundleError>(bundle.into_values())
            })
            .await?
            .map_err(|e| self.error(provider_kind(&e), None, e.to_string()))?;
        let values = Arc::new(values);
        *opened = Some(Opened {
            stamp,
            values: Arc::clone(&values),
        });
        Ok(values)
    }

    /// Runs blocking work on the runtime's blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ProviderError> {
        tokio::task::spawn_blocking(work).await.map_err(|e| {
            self.error(
                ProviderErrorKind::Unreachable,
                None,
                format!(
                    "opening {} did not complete: {e}",
                    self.config.file.display()
                ),
            )
        })
    }

    /// The keyring for the file, never interactive: a provider runs inside a sync and must
    /// not prompt (a `prompt` source is refused, commands get no terminal).
    async fn keyring(&self) -> Result<Keyring, ProviderError> {
        if let Some(selector) = &self.config.password_secret_ref
            && self.config.password_file.is_none()
        {
            let password = self
                .credentials
                .secret_key(selector, &self.namespace)
                .await?;
            return Ok(Keyring::with_password("default", password));
        }
        let options = PasswordOptions {
            password_file: self.config.password_file.clone(),
            interaction: Interaction::Never,
            ..PasswordOptions::default()
        };
        Ok(Keyring::resolve(&options, &Environment::from_process()))
    }
}

/// What a bundle failure means for a store: a missing file may appear (unreachable), a
/// password or identity that does not open it is a refusal (permission denied), and a file
/// that is not a readable bundle, or whose plaintext is not an env file, is corrupt data.
fn provider_kind(error: &BundleError) -> ProviderErrorKind {
    match error {
        BundleError::Read { source, .. } if source.is_not_found() => ProviderErrorKind::Unreachable,
        BundleError::Vault {
            source: VaultError::HmacMismatch | VaultError::EmptyPassword,
            ..
        }
        | BundleError::Sops {
            source: SopsError::NoIdentity(_),
            ..
        } => ProviderErrorKind::PermissionDenied,
        BundleError::Vault { .. }
        | BundleError::Sops { .. }
        | BundleError::NotEncrypted { .. }
        | BundleError::Env { .. }
        | BundleError::NotEnv { .. } => ProviderErrorKind::InvalidData,
        _ => ProviderErrorKind::Misconfigured,
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
        let matcher = crate::value::name_matcher(find, self.store().as_str())?;
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
            StoreId::namespaced("apps", "local"),
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
            StoreId::cluster("s"),
            config,
            "apps",
            Arc::new(StaticCredentials::new()),
        )
        .expect("valid");
        let error = provider.fetch("db", None).await.expect_err("denied");
        assert_eq!(error.kind, ProviderErrorKind::PermissionDenied);
    }
}

/// Hostile input for the local provider (issue 12, item 15).
#[cfg(test)]
mod hostile {
    use keyward_core::SecretValue;

    use super::*;
    use crate::StaticCredentials;

    fn provider(file: PathBuf) -> LocalProvider {
        let mut credentials = StaticCredentials::new();
        credentials.insert("apps", "store", "password", SecretValue::from("pw"));
        let config = LocalConfig {
            file,
            password_secret_ref: Some(SecretKeySelector {
                name: "store".into(),
                key: Some("password".into()),
                namespace: None,
            }),
            ..LocalConfig::default()
        };
        LocalProvider::new(StoreId::cluster("s"), config, "apps", Arc::new(credentials))
            .expect("valid")
    }

    #[tokio::test]
    async fn a_corrupt_store_is_invalid_data_not_permission_denied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let yaml = keyward_bundle::vault::encrypt(
            b"db_password: x\n",
            &SecretValue::from("pw"),
            None,
            None,
        )
        .expect("encrypt");
        for (name, content) in [
            ("not-hex", b"$ANSIBLE_VAULT;1.1;AES256\nzz\n".to_vec()),
            ("version", b"$ANSIBLE_VAULT;9.9;AES256\n3132\n".to_vec()),
            ("plain", b"TOKEN=not encrypted\n".to_vec()),
            ("yaml", yaml),
        ] {
            let file = dir.path().join(name);
            std::fs::write(&file, content).expect("write");
            let error = provider(file).fetch("db", None).await.expect_err(name);
            assert_eq!(
                error.kind,
                ProviderErrorKind::InvalidData,
                "{name}: {error}"
            );
        }
        let missing = provider(dir.path().join("absent"))
            .fetch("db", None)
            .await
            .expect_err("missing");
        assert_eq!(missing.kind, ProviderErrorKind::Unreachable);
    }

    fn vault_store(dir: &std::path::Path, plaintext: &[u8], password: &str) -> PathBuf {
        let file = dir.join("store.vault.env");
        let sealed =
            keyward_bundle::vault::encrypt(plaintext, &SecretValue::from(password), None, None)
                .expect("encrypt");
        std::fs::write(&file, sealed).expect("write");
        file
    }

    fn with_password_file(file: PathBuf, password_file: PathBuf) -> LocalProvider {
        let config = LocalConfig {
            file,
            password_file: Some(password_file),
            ..LocalConfig::default()
        };
        LocalProvider::new(
            StoreId::cluster("s"),
            config,
            "apps",
            Arc::new(StaticCredentials::new()),
        )
        .expect("valid")
    }

    /// The password script waits for a file the test creates from the same single runtime
    /// thread: if opening the store blocked that thread, the file would never come. The script
    /// gives up (and fails) after a while, so the old code fails the test instead of hanging
    /// it.
    #[tokio::test(flavor = "current_thread")]
    async fn opening_the_store_does_not_block_the_runtime() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = vault_store(dir.path(), b"db=\"v\"\n", "pw");
        let go = dir.path().join("go");
        let script = dir.path().join("password.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ni=0\nwhile [ ! -e {} ]; do\n  i=$((i + 1)); [ $i -gt 2000 ] && exit 1\n  sleep 0.01\ndone\necho pw\n",
                go.display()
            ),
        )
        .expect("write");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let provider = with_password_file(file, script);
        let fetch = provider.fetch("db", None);
        tokio::pin!(fetch);
        tokio::select! {
            biased;
            result = &mut fetch => panic!("the fetch ended before the runtime ran anything else: {:?}", result.err()),
            () = std::future::ready(()) => std::fs::write(&go, b"").expect("go"),
        }
        let fetched = fetch.await.expect("fetched");
        let value = crate::value::select(&fetched, None, "s", "db").expect("value");
        assert_eq!(value.expose_str(), Ok("v"));
    }

    #[tokio::test]
    async fn fetches_share_one_opened_map_until_the_file_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = vault_store(dir.path(), b"a=\"1\"\n", "pw");
        let password = dir.path().join("pw");
        std::fs::write(&password, "pw\n").expect("write");
        let provider = with_password_file(file.clone(), password);
        let first = provider.values().await.expect("values");
        let second = provider.values().await.expect("values");
        assert!(Arc::ptr_eq(&first, &second), "the map was copied");
        // Rewritten as bundle commands write: a new file renamed into place.
        let next = tempfile::tempdir_in(dir.path()).expect("tempdir");
        std::fs::rename(vault_store(next.path(), b"a=\"2\"\n", "pw"), &file).expect("rename");
        let third = provider.values().await.expect("values");
        assert_eq!(third["a"].expose_str(), Ok("2"));
    }
}
