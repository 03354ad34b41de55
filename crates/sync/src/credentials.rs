//! Store credentials on a host, where there is no Kubernetes API to read Secrets from.
//!
//! A store's auth block refers to Secrets (`{name, key, namespace}`). `keyward sync` resolves
//! them, first found wins, from:
//! 1. a credentials directory laid out like mounted Secrets: `DIR/<namespace>/<name>/<key>`
//!    (files 0600; a file readable by group or others is refused);
//! 2. the bundle: the key `<NAME>__<KEY>`, upper-cased, every character outside `[A-Z0-9]`
//!    written as `_` (`vault-token`/`token` → `VAULT_TOKEN__TOKEN`);
//! 3. plaintext `v1/Secret` manifests, only when the user allowed them explicitly.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use keyward_api::{NamespaceName, ResourceName, SecretKeySelector};
use keyward_bundle::env::EnvMap;
use keyward_core::SecretValue;
use keyward_providers::{Credentials, ProviderError, ProviderErrorKind};

/// The bundle key for a Secret key: `VAULT_TOKEN__TOKEN` for `vault-token`/`token`.
pub fn bundle_key(name: &str, key: &str) -> String {
    let upper = |text: &str| {
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!("{}__{}", upper(name), upper(key))
}

/// Credentials from a directory, a bundle and allowed plaintext Secrets.
#[derive(Clone, Debug, Default)]
pub struct HostCredentials {
    /// `DIR/<namespace>/<name>/<key>`.
    pub dir: Option<PathBuf>,
    /// The opened bundle's values.
    pub bundle: EnvMap,
    /// `(namespace, name, key)` from plaintext Secret manifests.
    pub secrets: BTreeMap<(String, String, String), SecretValue>,
}

impl HostCredentials {
    /// Reads `DIR/<namespace>/<name>/<key>` on a blocking thread: file system calls must not
    /// hold up the async workers that serve every other store call.
    async fn read_dir_entry(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<Option<SecretValue>, ProviderError> {
        let Some(dir) = self.dir.clone() else {
            return Ok(None);
        };
        let (namespace, name, key) = (namespace.to_owned(), name.to_owned(), key.to_owned());
        tokio::task::spawn_blocking(move || read_dir_entry(&dir, &namespace, &name, &key))
            .await
            .map_err(|_| {
                ProviderError::new(
                    ProviderErrorKind::Misconfigured,
                    "credentials",
                    None,
                    "reading the credentials directory failed",
                )
            })?
    }
}

/// Reads one credential file under `dir`, refusing what leaves it, is not a regular private
/// file or is too large.
fn read_dir_entry(
    dir: &std::path::Path,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Option<SecretValue>, ProviderError> {
    // The three parts come from manifests: each must be a Kubernetes name (or Secret
    // key), so the path cannot leave DIR by itself.
    let invalid = |what: &str, error: keyward_api::NameError| {
        ProviderError::new(
            ProviderErrorKind::Misconfigured,
            "credentials",
            None,
            format!("the Secret reference's {what} {error}"),
        )
    };
    NamespaceName::parse(namespace).map_err(|e| invalid("namespace", e))?;
    ResourceName::parse(name).map_err(|e| invalid("name", e))?;
    keyward_api::check_secret_key(key).map_err(|e| invalid("key", e))?;
    let path = dir.join(namespace).join(name).join(key);
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    let misconfigured = |message: String| {
        ProviderError::new(
            ProviderErrorKind::Misconfigured,
            "credentials",
            None,
            message,
        )
    };
    // Links are followed only within DIR (mounted Secrets link `key -> ..data/key`).
    let (Ok(real), Ok(root)) = (path.canonicalize(), dir.canonicalize()) else {
        return Err(misconfigured(format!(
            "{} cannot be resolved",
            path.display()
        )));
    };
    if !real.starts_with(&root) {
        return Err(misconfigured(format!(
            "{} leads out of the credentials directory through a symbolic link; refused",
            path.display()
        )));
    }
    let meta =
        std::fs::metadata(&real).map_err(|e| misconfigured(format!("{}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(misconfigured(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(misconfigured(format!(
            "{} is readable by group or others; chmod 600 it",
            path.display()
        )));
    }
    if meta.len() > MAX_CREDENTIAL_BYTES {
        return Err(misconfigured(format!(
            "{} is larger than {} KiB; refused",
            path.display(),
            MAX_CREDENTIAL_BYTES >> 10
        )));
    }
    std::fs::read(&real)
        .map(|bytes| Some(SecretValue::new(bytes)))
        .map_err(|e| misconfigured(format!("{}: {e}", path.display())))
}

/// A credential is a Secret key: at most 1 MiB, like a Secret.
const MAX_CREDENTIAL_BYTES: u64 = 1 << 20;

#[async_trait::async_trait]
impl Credentials for HostCredentials {
    async fn secret_key(
        &self,
        selector: &SecretKeySelector,
        namespace: &str,
    ) -> Result<SecretValue, ProviderError> {
        let namespace = selector.namespace.as_deref().unwrap_or(namespace);
        let key = selector.key.as_deref().unwrap_or("");
        if let Some(value) = self.read_dir_entry(namespace, &selector.name, key).await? {
            return Ok(value);
        }
        if let Some(value) = self.bundle.get(&bundle_key(&selector.name, key)) {
            return Ok(value.clone());
        }
        if let Some(value) =
            self.secrets
                .get(&(namespace.to_owned(), selector.name.clone(), key.to_owned()))
        {
            return Ok(value.clone());
        }
        Err(ProviderError::new(
            ProviderErrorKind::Misconfigured,
            "credentials",
            None,
            format!(
                "no credential for Secret {namespace}/{} key {key}: put it in the credentials directory as {namespace}/{}/{key} or in the bundle as {}",
                selector.name,
                selector.name,
                bundle_key(&selector.name, key)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_keys_are_env_names() {
        assert_eq!(bundle_key("vault-token", "token"), "VAULT_TOKEN__TOKEN");
        assert_eq!(
            bundle_key("aws.keys", "access-key-id"),
            "AWS_KEYS__ACCESS_KEY_ID"
        );
    }

    #[tokio::test]
    async fn directory_then_bundle_then_secrets() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("apps/vault-token/token");
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, "from-dir").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let mut credentials = HostCredentials {
            dir: Some(dir.path().to_owned()),
            ..HostCredentials::default()
        };
        credentials
            .bundle
            .insert("OTHER__KEY".into(), SecretValue::from("from-bundle"));
        let selector = |name: &str, key: &str| SecretKeySelector {
            name: name.into(),
            key: Some(key.into()),
            namespace: None,
        };
        let got = credentials
            .secret_key(&selector("vault-token", "token"), "apps")
            .await
            .expect("dir");
        assert_eq!(got.expose_str(), Ok("from-dir"));
        let got = credentials
            .secret_key(&selector("other", "key"), "apps")
            .await
            .expect("bundle");
        assert_eq!(got.expose_str(), Ok("from-bundle"));
        let error = credentials
            .secret_key(&selector("nope", "k"), "apps")
            .await
            .expect_err("missing");
        assert!(error.to_string().contains("NOPE__K"), "{error}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(
            credentials
                .secret_key(&selector("vault-token", "token"), "apps")
                .await
                .is_err()
        );
    }
}
