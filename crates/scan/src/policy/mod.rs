//! Policies: what the platform forbids in Git regardless of what a value looks like.
//!
//! - [`K8S_SECRET`]: a Kubernetes `Secret` with non-empty `data`/`stringData`.
//! - [`ENV_FILE`]: a committed plaintext env file holding assignments.
//! - [`BUNDLE_UNENCRYPTED`]: a bundle file that is neither ansible-vault nor SOPS encrypted.
//! - [`SOPS_UNENCRYPTED`]: a SOPS file with a value left in plaintext.

mod envfile;
mod kubernetes;
mod sops;

use keyward_core::SecretValue;

use crate::finding::Severity;
use crate::glob::Glob;

/// A policy's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyRule {
    /// Rule id.
    pub id: &'static str,
    /// One-line description.
    pub title: &'static str,
    /// Default severity.
    pub severity: Severity,
}

/// Kubernetes `Secret` with values in a committed file.
pub const K8S_SECRET: PolicyRule = PolicyRule {
    id: "policy/k8s-secret",
    title: "Kubernetes Secret with values committed (use an ExternalSecret)",
    severity: Severity::High,
};

/// Plaintext env file committed.
pub const ENV_FILE: PolicyRule = PolicyRule {
    id: "policy/env-file",
    title: "Plaintext env file with assignments committed",
    severity: Severity::Medium,
};

/// Bundle file without encryption.
pub const BUNDLE_UNENCRYPTED: PolicyRule = PolicyRule {
    id: "policy/bundle-unencrypted",
    title: "Bundle file is not encrypted (no ansible-vault header, no SOPS metadata)",
    severity: Severity::Critical,
};

/// SOPS file with plaintext values.
pub const SOPS_UNENCRYPTED: PolicyRule = PolicyRule {
    id: "policy/sops-unencrypted",
    title: "SOPS file holds a value that is not encrypted",
    severity: Severity::High,
};

/// Every policy.
pub const POLICIES: [PolicyRule; 4] = [K8S_SECRET, ENV_FILE, BUNDLE_UNENCRYPTED, SOPS_UNENCRYPTED];

/// One policy breach in a file.
#[derive(Debug)]
pub struct PolicyHit {
    /// Which policy.
    pub rule: PolicyRule,
    /// 1-based line.
    pub line: usize,
    /// The offending value, when the breach is about one.
    pub value: Option<SecretValue>,
}

impl PolicyHit {
    fn new(rule: PolicyRule, line: usize, value: Option<&str>) -> Self {
        Self {
            rule,
            line,
            value: value.map(SecretValue::from),
        }
    }
}

/// Every policy breach of the file at `path` (relative, `/`-separated) holding `text`.
pub fn check(path: &str, text: &str, bundle_globs: &[Glob]) -> Vec<PolicyHit> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut hits = Vec::new();
    let is_bundle = name.ends_with(".vault.env") || bundle_globs.iter().any(|g| g.matches(path));
    if is_bundle {
        hits.extend(sops::check_bundle(text));
    }
    if sops::is_sops(text) {
        hits.extend(sops::check_sops(text));
    } else if !is_bundle && envfile::is_env_file(name) {
        hits.extend(envfile::check(name, text));
    }
    if kubernetes::may_hold_secret(text) {
        hits.extend(kubernetes::check(name, text));
    }
    hits
}

/// Whether a value is worth flagging: not empty, not a placeholder, reference or SOPS value.
fn is_real_value(value: &str) -> bool {
    let v = value.trim();
    !v.is_empty()
        && !v.starts_with("ENC[")
        && !crate::filters::is_placeholder(v)
        && !crate::filters::is_reference(v)
}

/// The 1-based line of the first line at or after `from` (0-based) that defines `key`.
fn key_line(text: &str, from: usize, key: &str) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(from)
        .find(|(_, line)| {
            let t = line.trim_start().trim_start_matches("- ");
            let t = t
                .strip_prefix('"')
                .or_else(|| t.strip_prefix('\''))
                .unwrap_or(t);
            t.strip_prefix(key).is_some_and(|rest| {
                let rest = rest.trim_start_matches(['"', '\'']).trim_start();
                rest.starts_with(':') || rest.starts_with('=')
            })
        })
        .map(|(index, _)| index + 1)
}
