//! keyward's encrypted bundle: a small env file of bootstrap, CI and disaster-recovery
//! credentials, encrypted with ansible-vault (1.1 and 1.2) or SOPS with age recipients.
//!
//! The crate owns the formats ([`vault`], [`sops`], [`env`]), where passwords come from
//! ([`password`]), bounded reads of regular files ([`input`]), reading and atomically writing
//! bundle files ([`Bundle`]) under a writers' lock ([`lock`]), and handing the
//! values to exactly one child process ([`exec`]). Values only ever live in
//! [`keyward_core::SecretValue`]s and zeroizing buffers; no function here prints or logs one.
//!
//! It must not talk to a store or a cluster: the bundle is what exists *before* those can be
//! reached.
//!
//! ```
//! use keyward_bundle::{env, vault};
//! use keyward_core::SecretValue;
//!
//! let password = SecretValue::from("correct horse battery staple");
//! let sealed = vault::encrypt(b"API_TOKEN=\"t0k3n\"\n", &password, None, None)?;
//! assert!(sealed.starts_with(b"$ANSIBLE_VAULT;1.1;AES256\n"));
//! let plaintext = vault::decrypt(&vault::parse(&sealed)?, &password)?;
//! let values = env::parse(&plaintext).expect("valid env");
//! assert_eq!(values["API_TOKEN"].expose_str(), Ok("t0k3n"));
//! # Ok::<(), vault::VaultError>(())
//! ```

pub mod env;
pub mod input;
pub mod lock;
pub mod password;
pub mod random;
pub mod sops;
pub mod vault;

pub mod exec;

mod atomic;
mod file;
mod group;

pub use file::{
    BUNDLE_MODE, Bundle, BundleError, BundleUpdate, Format, Keyring, Rekeyed, open_vault_bytes,
    protect_process, rekey, write_atomic, write_atomic_through_symlink, write_plaintext_atomic,
};
