//! keyward-evidence: what keyward can prove about secrets without showing one.
//!
//! Today this is [`check`], the gate a pull request passes through: `keyward check --offline`
//! reads manifests (ExternalSecrets, PushSecrets, stores, workloads) and finds what would break
//! once they are applied: a store nobody declared, a template that does not parse, a workload
//! asking for a key its ExternalSecret no longer produces. [`report`] renders the result as
//! text, JSON or JUnit XML. [`audit`] keeps the tamper-evident audit log: hash-chained JSON
//! lines with ed25519-signed checkpoints, and the check that finds any edit.
//!
//! This crate reads manifests only: never a store, never a cluster, never a value. What a
//! finding says is built from names (objects, keys, fields), which are not secret; a plaintext
//! `Secret` manifest contributes its key names and nothing else.

pub mod audit;
pub mod check;
pub mod report;
