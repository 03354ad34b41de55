//! `keyward check`: findings about manifests, each tied to the object it is about.
//!
//! A [`Report`] lists every object checked ([`Checked`]), each with its [`Finding`]s. A finding
//! is [`Severity::Invalid`] (the manifest would not load or apply: schema, template syntax,
//! regular expressions), [`Severity::Unhealthy`] (it applies, and then breaks: an undeclared
//! store, a missing key) or [`Severity::Warning`] (keyward cannot tell from the manifests: a
//! Secret produced elsewhere, keys known only at sync time). [`Report::outcome`] maps them onto
//! the documented exit codes.

mod cluster;
mod cluster_verify;
mod host;
mod offline;
mod produces;
pub mod stores;
pub mod verify;
pub(crate) mod workloads;

use serde::Serialize;

pub use cluster::{ClusterOptions, Gathered, check_cluster, gather_cluster};
pub use host::{HostCheck, check_host};
pub use offline::{KnownStore, OfflineOptions, check_offline};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// What was checked and found right (`--verify`, `--stores-only` say it per key).
    Info,
    /// keyward cannot prove it either way from the manifests.
    Warning,
    /// The manifests apply and then break.
    Unhealthy,
    /// A store could not be reached (or refused keyward), so nothing could be proved.
    Unreachable,
    /// A manifest that does not load or would be refused.
    Invalid,
}

impl Severity {
    /// The word the text report starts a finding's line with.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "ok",
            Severity::Warning => "warn",
            Severity::Unhealthy => "FAIL",
            Severity::Unreachable => "DOWN",
            Severity::Invalid => "INVALID",
        }
    }
}

/// One thing found about one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// Which rule found it: `schema`, `provider`, `store`, `template`, `regexp`, `target`,
    /// `secret`, `key`; against a cluster also `ready` and `age`; against stores
    /// `store-key` and `verify`.
    pub rule: &'static str,
    /// What is wrong and what to do, in one line. Names only, never a value.
    pub message: String,
}

/// An object (or a file that did not load) and what was found about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// `ExternalSecret`, `PushSecret`, `Deployment`, …; `file` for a file that did not load.
    pub kind: String,
    /// Its namespace (the default namespace when the manifest has none); empty for cluster
    /// objects and files.
    pub namespace: String,
    /// Its name (the file's path for a file).
    pub name: String,
    /// `FILE document N`.
    pub origin: String,
    /// What was found; empty when the object passed.
    pub findings: Vec<Finding>,
}

impl Checked {
    /// `Kind namespace/name`, as a report names the object.
    pub fn subject(&self) -> String {
        match (self.kind.as_str(), self.namespace.is_empty()) {
            ("file", _) => format!("file {}", self.name),
            (kind, true) => format!("{kind} {}", self.name),
            (kind, false) => format!("{kind} {}/{}", self.namespace, self.name),
        }
    }

    /// The worst finding's severity, if any worse than [`Severity::Info`].
    pub fn worst(&self) -> Option<Severity> {
        self.findings
            .iter()
            .map(|f| f.severity)
            .filter(|s| *s > Severity::Info)
            .max()
    }
}

/// Everything one `keyward check` looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Every object checked, in manifest order; files that did not load first.
    pub checked: Vec<Checked>,
}

/// What a report means for the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing found (warnings allowed unless strict).
    Healthy,
    /// Something would break (exit 1).
    Unhealthy,
    /// A store could not be read (exit 20).
    Unreachable,
    /// A manifest does not load or would be refused (exit 11).
    Invalid,
}

impl Report {
    /// The outcome: invalid manifests outrank unhealthy ones; with `strict`, a warning counts
    /// as unhealthy.
    pub fn outcome(&self, strict: bool) -> Outcome {
        match self.checked.iter().filter_map(Checked::worst).max() {
            Some(Severity::Invalid) => Outcome::Invalid,
            Some(Severity::Unreachable) => Outcome::Unreachable,
            Some(Severity::Unhealthy) => Outcome::Unhealthy,
            Some(Severity::Warning) if strict => Outcome::Unhealthy,
            _ => Outcome::Healthy,
        }
    }

    /// How many findings of `severity` the report holds.
    pub fn count(&self, severity: Severity) -> usize {
        self.checked
            .iter()
            .flat_map(|c| &c.findings)
            .filter(|f| f.severity == severity)
            .count()
    }

    /// How many objects of `kind` were checked.
    pub fn objects(&self, kind: &str) -> usize {
        self.checked.iter().filter(|c| c.kind == kind).count()
    }
}
