//! keyward-evidence: what keyward can prove about secrets without showing one.
//!
//! - [`check`]: the gate. `keyward check --offline` reads manifests (ExternalSecrets,
//!   PushSecrets, stores, workloads) and finds what would break once they are applied; against
//!   a cluster it reads health; `--stores-only` finds every referenced key in its store from
//!   metadata; `--verify` proves, per key, that a projection holds what its store holds, by
//!   keyed fingerprints. [`report`] renders the result as text, JSON or JUnit XML.
//! - [`audit`]: the tamper-evident audit log: hash-chained JSON lines with ed25519-signed
//!   checkpoints, and the check that finds any edit.
//! - [`dossier`], [`html`] and [`folder`]: `keyward evidence`, a dated folder (JSON and one self-contained
//!   HTML page) of inventory, health, rotation age, verification and an audit excerpt.
//!
//! Values pass through this crate only where a store is read to be compared (`--verify`), in
//! memory, as `SecretValue`s dropped after fingerprinting. Everything reported is built from
//! names (objects, keys, fields), store metadata, fingerprints and verdicts.

pub mod audit;
pub mod check;
pub mod dossier;
pub mod folder;
pub mod html;
pub mod report;
