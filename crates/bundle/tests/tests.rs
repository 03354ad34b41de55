//! keyward-bundle against the real ansible-vault, sops and age, and hostile input, as one test
//! binary.

mod ansible_vault_interop;
mod hostile;
mod sops_interop;
