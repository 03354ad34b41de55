//! [`Bundle`]: an encrypted env file on disk, opened into memory and saved back atomically.
//!
//! The format is detected from the content: an `$ANSIBLE_VAULT;` header is ansible-vault,
//! `sops` metadata is SOPS (dotenv or YAML). Saving keeps the format, the vault-id label (or
//! the SOPS recipients), the file's mode and its owner.

use std::path::{Path, PathBuf};
use std::time::Duration;

use keyward_core::{Classify, ErrorKind, SecretValue};
use zeroize::Zeroizing;

use crate::env::{self, EnvError, EnvMap};
use crate::password::{self, PasswordError, VaultId};
use crate::sops::{self, SopsError};
use crate::{atomic, vault};

/// The mode of every bundle keyward creates.
pub const BUNDLE_MODE: u32 = 0o600;

/// Why a bundle could not be opened, decrypted or written. Names the file, never a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The file cannot be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The bundle.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file exists where a new bundle was to be created.
    #[error("{}: already exists (keyward never overwrites a bundle with a new one)", path.display())]
    Exists {
        /// The bundle.
        path: PathBuf,
    },
    /// The file is neither ansible-vault nor SOPS.
    #[error("{}: not an encrypted bundle (no $ANSIBLE_VAULT header and no sops metadata)", path.display())]
    NotEncrypted {
        /// The file.
        path: PathBuf,
    },
    /// The ansible-vault envelope is bad or no password decrypts it.
    #[error("{}: {source}", path.display())]
    Vault {
        /// The bundle.
        path: PathBuf,
        /// What the format layer found.
        #[source]
        source: vault::VaultError,
    },
    /// The SOPS file is bad, tampered, or no identity decrypts it.
    #[error("{}: {source}", path.display())]
    Sops {
        /// The bundle.
        path: PathBuf,
        /// What the format layer found.
        #[source]
        source: SopsError,
    },
    /// The plaintext is not a valid env file.
    #[error("{}: {source}", path.display())]
    Env {
        /// The bundle.
        path: PathBuf,
        /// The parse error (positions, never values).
        #[source]
        source: EnvError,
    },
    /// No password could be obtained.
    #[error("{}: {source}", path.display())]
    Password {
        /// The bundle.
        path: PathBuf,
        /// Why.
        #[source]
        source: PasswordError,
    },
    /// Writing the file failed; the previous content is unchanged.
    #[error("{}: cannot write (the previous content is unchanged): {source}", path.display())]
    Write {
        /// The bundle.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl Classify for BundleError {
    fn kind(&self) -> ErrorKind {
        match self {
            BundleError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::MissingDependency
            }
            BundleError::Password {
                source: PasswordError::NoSource | PasswordError::InvalidVaultId(_),
                ..
            } => ErrorKind::Usage,
            BundleError::Exists { .. } => ErrorKind::Usage,
            BundleError::Write { .. } => ErrorKind::Write,
            _ => ErrorKind::Decryption,
        }
    }
}

/// The formats a bundle can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ansible-vault 1.1 or 1.2 around env lines.
    AnsibleVault,
    /// SOPS, dotenv flavour.
    SopsDotenv,
    /// SOPS, YAML flavour (a flat mapping of names to strings).
    SopsYaml,
}

impl Format {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Format::AnsibleVault => "ansible-vault",
            Format::SopsDotenv => "sops-dotenv",
            Format::SopsYaml => "sops-yaml",
        }
    }

    /// Detects the format from a file's content.
    pub fn detect(content: &[u8]) -> Option<Format> {
        if vault::is_vault(content) {
            Some(Format::AnsibleVault)
        } else {
            sops::detect(content).map(|kind| match kind {
                sops::Kind::Dotenv => Format::SopsDotenv,
                sops::Kind::Yaml => Format::SopsYaml,
            })
        }
    }
}

/// Vault passwords for one command: the vault-ids in order, each obtained at most once and
/// only when needed (so a prompt or a slow script runs only if its password is tried).
#[derive(Debug)]
pub struct Keyring {
    ids: Vec<VaultId>,
    passwords: Vec<Option<SecretValue>>,
    timeout: Duration,
    /// Why there are no ids, reported only when a password is actually needed (a SOPS
    /// bundle needs none).
    unresolved: Option<PasswordError>,
}

impl Keyring {
    /// A keyring over `ids`.
    pub fn new(ids: Vec<VaultId>, timeout: Duration) -> Self {
        let passwords = vec![None; ids.len()];
        Self {
            ids,
            passwords,
            timeout,
            unresolved: None,
        }
    }

    /// A keyring from the result of [`password::resolve`]: a resolution error surfaces only
    /// when a password is needed.
    pub fn from_resolution(
        resolved: Result<Vec<VaultId>, PasswordError>,
        timeout: Duration,
    ) -> Self {
        match resolved {
            Ok(ids) => Self::new(ids, timeout),
            Err(error) => Self {
                unresolved: Some(error),
                ..Self::new(Vec::new(), timeout)
            },
        }
    }

    /// A keyring holding one password already known (tests, rekey).
    pub fn with_password(label: &str, password: SecretValue) -> Self {
        Self {
            ids: vec![VaultId {
                label: label.to_owned(),
                source: password::PasswordSource::Prompt,
            }],
            passwords: vec![Some(password)],
            timeout: password::DEFAULT_COMMAND_TIMEOUT,
            unresolved: None,
        }
    }

    /// The label new files are encrypted under (the first vault-id's).
    pub fn encrypt_label(&self) -> Option<&str> {
        self.ids.first().map(|id| id.label.as_str())
    }

    /// Indexes of the vault-ids to try for a file labelled `label`: matching ones first.
    fn order_for(&self, label: Option<&str>) -> Vec<usize> {
        let (mut matching, others): (Vec<usize>, Vec<usize>) =
            (0..self.ids.len()).partition(|&i| Some(self.ids[i].label.as_str()) == label);
        matching.extend(others);
        matching
    }

    fn password(&mut self, index: usize) -> Result<SecretValue, PasswordError> {
        if index >= self.ids.len() {
            return Err(self.unresolved.take().unwrap_or(PasswordError::NoSource));
        }
        if let Some(known) = &self.passwords[index] {
            return Ok(known.clone());
        }
        let obtained = password::obtain(&self.ids[index], self.timeout)?;
        self.passwords[index] = Some(obtained.clone());
        Ok(obtained)
    }
}

/// How to encrypt the bundle again after a change.
enum Seal {
    Vault {
        password: SecretValue,
        label: Option<String>,
    },
    Sops(sops::Sealed),
}

/// An opened bundle: its values in memory and how to seal them again.
pub struct Bundle {
    path: PathBuf,
    format: Format,
    values: EnvMap,
    seal: Seal,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Bundle {
    /// Reads and decrypts the bundle at `path`.
    ///
    /// Before any plaintext exists the process is made non-dumpable, so no core dump or
    /// ptrace of a same-user process can read it.
    pub fn open(path: &Path, keyring: &mut Keyring) -> Result<Self, BundleError> {
        let content = std::fs::read(path).map_err(|source| BundleError::Read {
            path: path.to_owned(),
            source,
        })?;
        protect_process();
        let format = Format::detect(&content);
        tracing::debug!(path = %path.display(), format = format.map(Format::name), bytes = content.len(), "opening bundle");
        match format {
            Some(Format::AnsibleVault) => Self::open_vault(path, &content, keyring),
            Some(format) => Self::open_sops(path, &content, format),
            None => Err(BundleError::NotEncrypted {
                path: path.to_owned(),
            }),
        }
    }

    fn open_vault(path: &Path, content: &[u8], keyring: &mut Keyring) -> Result<Self, BundleError> {
        let opened = decrypt_vault(path, content, keyring)?;
        let values = env::parse(&opened.plaintext).map_err(|source| BundleError::Env {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            path: path.to_owned(),
            format: Format::AnsibleVault,
            values,
            seal: Seal::Vault {
                password: opened.password,
                label: opened.label,
            },
        })
    }

    fn open_sops(path: &Path, content: &[u8], format: Format) -> Result<Self, BundleError> {
        let opened =
            sops::decrypt(content, &sops::Identities::from_environment()).map_err(|source| {
                BundleError::Sops {
                    path: path.to_owned(),
                    source,
                }
            })?;
        Ok(Self {
            path: path.to_owned(),
            format,
            values: opened.values,
            seal: Seal::Sops(opened.sealed),
        })
    }

    /// A new, empty ansible-vault bundle, not yet written (see [`Bundle::create`]).
    pub fn new_vault(path: &Path, keyring: &mut Keyring) -> Result<Self, BundleError> {
        let password = keyring
            .password(0)
            .map_err(|source| BundleError::Password {
                path: path.to_owned(),
                source,
            })?;
        let label = keyring
            .encrypt_label()
            .filter(|l| *l != "default")
            .map(str::to_owned);
        Ok(Self {
            path: path.to_owned(),
            format: Format::AnsibleVault,
            values: EnvMap::new(),
            seal: Seal::Vault { password, label },
        })
    }

    /// A new, empty SOPS bundle for `recipients` (age public keys), not yet written.
    pub fn new_sops(
        path: &Path,
        format: Format,
        recipients: &[String],
    ) -> Result<Self, BundleError> {
        let kind = match format {
            Format::SopsYaml => sops::Kind::Yaml,
            _ => sops::Kind::Dotenv,
        };
        let sealed = sops::Sealed::new(kind, recipients).map_err(|source| BundleError::Sops {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            path: path.to_owned(),
            format,
            values: EnvMap::new(),
            seal: Seal::Sops(sealed),
        })
    }

    /// Writes a bundle that must not exist yet (mode 0600).
    pub fn create(&self) -> Result<(), BundleError> {
        if self.path.exists() {
            return Err(BundleError::Exists {
                path: self.path.clone(),
            });
        }
        self.save()
    }

    /// Encrypts the values and replaces the file atomically, keeping mode and owner.
    pub fn save(&self) -> Result<(), BundleError> {
        let sealed = self.seal_bytes()?;
        tracing::debug!(path = %self.path.display(), format = self.format.name(), keys = self.values.len(), "saving bundle");
        atomic::write(&self.path, &sealed, BUNDLE_MODE).map_err(|source| BundleError::Write {
            path: self.path.clone(),
            source,
        })
    }

    /// The encrypted bytes of the current values, in the bundle's format.
    pub fn seal_bytes(&self) -> Result<Vec<u8>, BundleError> {
        match &self.seal {
            Seal::Vault { password, label } => {
                vault::encrypt(&env::render(&self.values), password, label.as_deref(), None)
                    .map_err(|source| BundleError::Vault {
                        path: self.path.clone(),
                        source,
                    })
            }
            Seal::Sops(sealed) => {
                sealed
                    .encrypt(&self.values)
                    .map_err(|source| BundleError::Sops {
                        path: self.path.clone(),
                        source,
                    })
            }
        }
    }

    /// Encrypts arbitrary `plaintext` with this ansible-vault bundle's password and label
    /// (`bundle encrypt` of a file that need not be env lines, as `ansible-vault encrypt`).
    pub fn seal_raw(&self, plaintext: &[u8]) -> Result<Vec<u8>, BundleError> {
        match &self.seal {
            Seal::Vault { password, label } => {
                vault::encrypt(plaintext, password, label.as_deref(), None).map_err(|source| {
                    BundleError::Vault {
                        path: self.path.clone(),
                        source,
                    }
                })
            }
            Seal::Sops(sealed) => {
                let values = env::parse(plaintext).map_err(|source| BundleError::Env {
                    path: self.path.clone(),
                    source,
                })?;
                sealed.encrypt(&values).map_err(|source| BundleError::Sops {
                    path: self.path.clone(),
                    source,
                })
            }
        }
    }

    /// Switches an ansible-vault bundle to a new password and label (for `rekey`).
    /// Returns false for SOPS bundles, whose keys are age recipients instead.
    pub fn rekey(&mut self, keyring: &mut Keyring) -> Result<bool, BundleError> {
        if !matches!(self.seal, Seal::Vault { .. }) {
            return Ok(false);
        }
        let password = keyring
            .password(0)
            .map_err(|source| BundleError::Password {
                path: self.path.clone(),
                source,
            })?;
        let label = keyring
            .encrypt_label()
            .filter(|l| *l != "default")
            .map(str::to_owned);
        self.seal = Seal::Vault { password, label };
        Ok(true)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The detected (or chosen) format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The vault-id label of an ansible-vault 1.2 bundle.
    pub fn label(&self) -> Option<&str> {
        match &self.seal {
            Seal::Vault { label, .. } => label.as_deref(),
            Seal::Sops(_) => None,
        }
    }

    /// The values, sorted by name.
    pub fn values(&self) -> &EnvMap {
        &self.values
    }

    /// Mutable access to the values; call [`Bundle::save`] afterwards.
    pub fn values_mut(&mut self) -> &mut EnvMap {
        &mut self.values
    }
}

/// What decrypting an ansible-vault file yields: the plaintext and what opened it.
struct OpenedVault {
    plaintext: Zeroizing<Vec<u8>>,
    password: SecretValue,
    label: Option<String>,
}

/// Tries the keyring's passwords, the file's own label first, until one opens `content`.
fn decrypt_vault(
    path: &Path,
    content: &[u8],
    keyring: &mut Keyring,
) -> Result<OpenedVault, BundleError> {
    let vault_error = |source| BundleError::Vault {
        path: path.to_owned(),
        source,
    };
    let envelope = vault::parse(content).map_err(vault_error)?;
    let mut last_error = vault::VaultError::HmacMismatch;
    let mut order = keyring.order_for(envelope.label.as_deref());
    if order.is_empty() {
        // No vault-id at all: index 0 makes `password` report why.
        order.push(0);
    }
    for index in order {
        let password = keyring
            .password(index)
            .map_err(|source| BundleError::Password {
                path: path.to_owned(),
                source,
            })?;
        let label = &keyring.ids[index].label;
        match vault::decrypt(&envelope, &password) {
            Ok(plaintext) => {
                tracing::trace!(vault_id = %label, "vault password accepted");
                return Ok(OpenedVault {
                    plaintext,
                    password,
                    label: envelope.label.clone(),
                });
            }
            Err(error) => {
                tracing::trace!(vault_id = %label, %error, "vault password rejected");
                last_error = error;
            }
        }
    }
    Err(vault_error(last_error))
}

/// Decrypts any ansible-vault file (not only env bundles), for `bundle decrypt`.
pub fn open_vault_bytes(
    path: &Path,
    content: &[u8],
    keyring: &mut Keyring,
) -> Result<Zeroizing<Vec<u8>>, BundleError> {
    protect_process();
    decrypt_vault(path, content, keyring).map(|opened| opened.plaintext)
}

/// Writes `bytes` atomically (temp file, fsync, rename); a new file gets mode 0600, an
/// existing one keeps its mode and owner.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    atomic::write(path, bytes, BUNDLE_MODE)
}

/// Marks the process non-dumpable (no core dumps, no same-user ptrace) before plaintext
/// exists. Failure is not fatal (some sandboxes forbid prctl) but is logged.
pub fn protect_process() {
    if let Err(error) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!(%error, "could not mark the process non-dumpable");
    }
}
