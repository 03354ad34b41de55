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
use crate::input::{self, ReadError};
use crate::lock::{self, BundleLock, LockError};
use crate::password::{self, Environment, Interaction, PasswordError, PasswordOptions, VaultId};
use crate::sops::{self, SopsError};
use crate::{atomic, vault};

/// The mode of every bundle keyward creates.
pub const BUNDLE_MODE: u32 = 0o600;

/// Why a bundle could not be opened, decrypted or written. Names the file, never a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The file cannot be read, is not a regular file, or is too large.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The bundle.
        path: PathBuf,
        /// Why.
        #[source]
        source: ReadError,
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
    /// The plaintext decrypts but is not an env file (a YAML vars file, JSON, free text):
    /// writing it back from its values would destroy what the env reader skips.
    #[error(
        "{}: decrypts, but the plaintext is not an env bundle: {source}; keyward refuses to \
         rewrite it (ansible-vault view shows it)",
        path.display()
    )]
    NotEnv {
        /// The bundle.
        path: PathBuf,
        /// The first line that is not env (its number, never its text).
        #[source]
        source: EnvError,
    },
    /// `rekey` of a SOPS bundle: its keys are age recipients, not a password.
    #[error("{}: a SOPS bundle has age recipients, not a password; use sops updatekeys", path.display())]
    RekeySops {
        /// The bundle.
        path: PathBuf,
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
    /// Another writer holds the bundle's lock, or the lock file cannot be made.
    #[error("{}: {source}", path.display())]
    Lock {
        /// The bundle.
        path: PathBuf,
        /// Why.
        #[source]
        source: LockError,
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
            BundleError::Read { source, .. } if source.is_not_found() => {
                ErrorKind::MissingDependency
            }
            BundleError::Password {
                source: PasswordError::NoSource | PasswordError::InvalidVaultId(_),
                ..
            } => ErrorKind::Usage,
            BundleError::Exists { .. } | BundleError::RekeySops { .. } => ErrorKind::Usage,
            BundleError::Write { .. } | BundleError::Lock { .. } => ErrorKind::Write,
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
    interaction: Interaction,
    /// Why there are no ids, reported only when a password is actually needed (a SOPS
    /// bundle needs none).
    unresolved: Option<PasswordError>,
}

impl Keyring {
    /// The one way from password options to a keyring, for every caller (`keyward bundle`,
    /// `keyward sync --bundle`, the `local` provider): the vault-ids of the first kind of
    /// source present in `options`, else in `env` (see [`password::resolve`]), with the
    /// options' timeout and interaction. A resolution error surfaces only when a password is
    /// needed (a SOPS bundle needs none).
    pub fn resolve(options: &PasswordOptions, env: &Environment) -> Self {
        let timeout = options.timeout.unwrap_or(password::DEFAULT_COMMAND_TIMEOUT);
        let mut keyring = Self::from_resolution(password::resolve(options, env), timeout);
        keyring.interaction = options.interaction;
        keyring
    }

    /// A keyring over `ids`.
    pub fn new(ids: Vec<VaultId>, timeout: Duration) -> Self {
        let passwords = vec![None; ids.len()];
        Self {
            ids,
            passwords,
            timeout,
            interaction: Interaction::Allowed,
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
            interaction: Interaction::Never,
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
        let obtained = password::obtain_with(&self.ids[index], self.timeout, self.interaction)?;
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
    /// The path as the user gave it (messages name it).
    path: PathBuf,
    /// The file read and written: `path`, or the file a symlinked `path` points to.
    target: PathBuf,
    format: Format,
    values: EnvMap,
    seal: Seal,
    /// Set when the plaintext has lines the env reader skipped: it must not be rewritten.
    foreign: Option<EnvError>,
}

/// A bundle opened to be changed and saved: its plaintext is an env file, so writing it back
/// from its values loses nothing but comments and order.
///
/// It holds the bundle's writers' lock from before the read until it is dropped, so two
/// concurrent changes never both start from the same content (a lost update).
pub struct BundleUpdate {
    bundle: Bundle,
    _lock: BundleLock,
}

impl std::fmt::Debug for BundleUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BundleUpdate").field(&self.bundle).finish()
    }
}

impl std::ops::Deref for BundleUpdate {
    type Target = Bundle;

    fn deref(&self) -> &Bundle {
        &self.bundle
    }
}

impl std::ops::DerefMut for BundleUpdate {
    fn deref_mut(&mut self) -> &mut Bundle {
        &mut self.bundle
    }
}

impl BundleUpdate {
    /// Encrypts the values and replaces the file atomically, keeping mode and owner.
    pub fn save(&self) -> Result<(), BundleError> {
        self.bundle.write()
    }
}

/// What [`rekey`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rekeyed {
    /// The vault-id label the file now carries (`None`: a 1.1 file, label `default`).
    pub label: Option<String>,
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
        let target = resolve(path)?;
        Self::open_at(path, target, keyring)
    }

    /// Opens `target`, the file `path` stands for.
    fn open_at(path: &Path, target: PathBuf, keyring: &mut Keyring) -> Result<Self, BundleError> {
        let content = read_bundle(path, &target)?;
        protect_process();
        let format = Format::detect(&content);
        tracing::debug!(path = %path.display(), target = %target.display(), format = format.map(Format::name), bytes = content.len(), "opening bundle");
        let mut bundle = match format {
            Some(Format::AnsibleVault) => Self::open_vault(path, &content, keyring),
            Some(format) => Self::open_sops(path, &content, format),
            None => Err(BundleError::NotEncrypted {
                path: path.to_owned(),
            }),
        }?;
        bundle.target = target;
        Ok(bundle)
    }

    /// Opens the bundle to change it, under its writers' lock (waiting up to
    /// [`lock::LOCK_WAIT`] for another writer). Refused when the plaintext is not an env file.
    pub fn open_for_update(
        path: &Path,
        keyring: &mut Keyring,
    ) -> Result<BundleUpdate, BundleError> {
        let target = resolve(path)?;
        let lock = lock_existing(path, &target)?;
        let bundle = Self::open_at(path, target, keyring)?;
        bundle.check_env()?;
        Ok(BundleUpdate {
            bundle,
            _lock: lock,
        })
    }

    /// `Ok` when the plaintext is an env file; otherwise the first line that is not, as
    /// [`BundleError::NotEnv`] (`verify` reports it, writers refuse).
    pub fn check_env(&self) -> Result<(), BundleError> {
        match &self.foreign {
            None => Ok(()),
            Some(source) => Err(BundleError::NotEnv {
                path: self.path.clone(),
                source: source.clone(),
            }),
        }
    }

    fn open_vault(path: &Path, content: &[u8], keyring: &mut Keyring) -> Result<Self, BundleError> {
        let opened = decrypt_vault(path, content, keyring)?;
        let foreign = env::foreign_line(&opened.plaintext);
        let values = env::parse(&opened.plaintext).map_err(|source| match &foreign {
            // A YAML line with `=` in its value fails as a bad key; what it is matters more.
            Some(foreign) => BundleError::NotEnv {
                path: path.to_owned(),
                source: foreign.clone(),
            },
            None => BundleError::Env {
                path: path.to_owned(),
                source,
            },
        })?;
        Ok(Self {
            path: path.to_owned(),
            target: path.to_owned(),
            format: Format::AnsibleVault,
            values,
            seal: Seal::Vault {
                password: opened.password,
                label: opened.label,
            },
            foreign,
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
            target: path.to_owned(),
            format,
            values: opened.values,
            seal: Seal::Sops(opened.sealed),
            foreign: None,
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
            target: path.to_owned(),
            format: Format::AnsibleVault,
            values: EnvMap::new(),
            seal: Seal::Vault { password, label },
            foreign: None,
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
            target: path.to_owned(),
            format,
            values: EnvMap::new(),
            seal: Seal::Sops(sealed),
            foreign: None,
        })
    }

    /// Writes a bundle that must not exist yet (mode 0600). Anything at the path, a dangling
    /// symlink included, counts as existing.
    pub fn create(&self) -> Result<(), BundleError> {
        // Locked, so two `new`s cannot both find the path free and both write.
        let _lock =
            lock::acquire(&self.path, lock::LOCK_WAIT).map_err(|source| BundleError::Lock {
                path: self.path.clone(),
                source,
            })?;
        if std::fs::symlink_metadata(&self.path).is_ok() {
            return Err(BundleError::Exists {
                path: self.path.clone(),
            });
        }
        self.write()
    }

    /// Encrypts the values and replaces the file atomically, keeping mode and owner.
    fn write(&self) -> Result<(), BundleError> {
        let sealed = self.seal_bytes()?;
        tracing::debug!(path = %self.path.display(), format = self.format.name(), keys = self.values.len(), "saving bundle");
        // Through a symlinked bundle to its target, as ansible-vault writes.
        atomic::write(&self.target, &sealed, BUNDLE_MODE).map_err(|source| BundleError::Write {
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

    /// Mutable access to the values; [`BundleUpdate::save`] (or [`Bundle::create`] for a new
    /// bundle) writes them.
    pub fn values_mut(&mut self) -> &mut EnvMap {
        &mut self.values
    }

    /// The values, taking them out of the bundle (no copy).
    pub fn into_values(self) -> EnvMap {
        self.values
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

/// Re-encrypts the ansible-vault file at `path` under the first password of `new` (and its
/// label), as `ansible-vault rekey` does: the plaintext bytes as they are, whatever they hold
/// (comments, order, YAML), never parsed or rewritten. A SOPS bundle is refused.
pub fn rekey(path: &Path, old: &mut Keyring, new: &mut Keyring) -> Result<Rekeyed, BundleError> {
    let target = resolve(path)?;
    let _lock = lock_existing(path, &target)?;
    let content = read_bundle(path, &target)?;
    protect_process();
    match Format::detect(&content) {
        Some(Format::AnsibleVault) => {}
        Some(_) => {
            return Err(BundleError::RekeySops {
                path: path.to_owned(),
            });
        }
        None => {
            return Err(BundleError::NotEncrypted {
                path: path.to_owned(),
            });
        }
    }
    let opened = decrypt_vault(path, &content, old)?;
    let password = new.password(0).map_err(|source| BundleError::Password {
        path: path.to_owned(),
        source,
    })?;
    let label = new
        .encrypt_label()
        .filter(|l| *l != "default")
        .map(str::to_owned);
    let sealed =
        vault::encrypt(&opened.plaintext, &password, label.as_deref(), None).map_err(|source| {
            BundleError::Vault {
                path: path.to_owned(),
                source,
            }
        })?;
    atomic::write(&target, &sealed, BUNDLE_MODE).map_err(|source| BundleError::Write {
        path: path.to_owned(),
        source,
    })?;
    Ok(Rekeyed { label })
}

/// The file a bundle path stands for (see [`atomic::symlink_target`]).
fn resolve(path: &Path) -> Result<PathBuf, BundleError> {
    atomic::symlink_target(path).map_err(|source| BundleError::Read {
        path: path.to_owned(),
        source: ReadError::Io(source),
    })
}

/// Takes the writers' lock of an existing bundle. A missing bundle is reported as missing
/// before any lock file is made beside it.
fn lock_existing(path: &Path, target: &Path) -> Result<BundleLock, BundleError> {
    if let Err(source) = std::fs::symlink_metadata(target) {
        return Err(BundleError::Read {
            path: path.to_owned(),
            source: ReadError::Io(source),
        });
    }
    lock::acquire(target, lock::LOCK_WAIT).map_err(|source| BundleError::Lock {
        path: path.to_owned(),
        source,
    })
}

/// Reads the bundle file `target` (which `path` names), regular and bounded.
fn read_bundle(path: &Path, target: &Path) -> Result<Zeroizing<Vec<u8>>, BundleError> {
    input::read_regular(target, input::MAX_BUNDLE_BYTES).map_err(|source| BundleError::Read {
        path: path.to_owned(),
        source,
    })
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
/// existing one keeps its mode and owner. A symlink at `path` is replaced, never followed:
/// the sync engine writes its targets with this.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    atomic::write(path, bytes, BUNDLE_MODE)
}

/// Writes decrypted `bytes` atomically; the file ends 0600 even when it existed with a wider
/// mode. With `through_symlink`, a symlink at `path` is written through to its target (the
/// in-place `decrypt` of a symlinked file); otherwise it is replaced (`--out`).
pub fn write_plaintext_atomic(
    path: &Path,
    bytes: &[u8],
    through_symlink: bool,
) -> std::io::Result<()> {
    if through_symlink {
        atomic::write_private(&atomic::symlink_target(path)?, bytes)
    } else {
        atomic::write_private(path, bytes)
    }
}

/// Like [`write_atomic`], but when `path` is a symlink the file it points to is replaced and
/// the link kept, as ansible-vault writes a symlinked vault file. Only for files the user
/// named as the bundle or input of a bundle command.
pub fn write_atomic_through_symlink(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    atomic::write(&atomic::symlink_target(path)?, bytes, BUNDLE_MODE)
}

/// Marks the process non-dumpable (no core dumps, no same-user ptrace) before plaintext
/// exists. Failure is not fatal (some sandboxes forbid prctl) but is logged.
pub fn protect_process() {
    if let Err(error) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!(%error, "could not mark the process non-dumpable");
    }
}
