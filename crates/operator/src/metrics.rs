//! The operator's metrics under ESO's names and labels, so ESO's dashboards and alerts keep
//! working, in the Prometheus text format:
//!
//! - `externalsecret_sync_calls_total{name,namespace}`: reconciles;
//! - `externalsecret_sync_calls_error{name,namespace}`: failed reconciles;
//! - `externalsecret_status_condition{name,namespace,condition,status}`: 1 for the current
//!   status of the `Ready` condition, 0 for the other;
//! - `externalsecret_reconcile_duration{name,namespace}`: the last reconcile, in nanoseconds
//!   (ESO's unit);
//! - `externalsecret_provider_api_calls_count{provider,call,status}`: store calls (from the
//!   call discipline).
//!
//! Written by hand rather than through a metrics crate: ESO's names break the conventions
//! those crates enforce (a counter without `_total`, a duration gauge in nanoseconds), and
//! keeping them exactly is the point. Labels hold names only, never a value.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyward_providers::CallCounters;

type Labels = Vec<(&'static str, String)>;

/// One family: help, type, and a value per label set.
#[derive(Default)]
struct Family {
    help: &'static str,
    kind: &'static str,
    values: BTreeMap<Labels, f64>,
}

/// The operator's metrics.
pub struct Metrics {
    families: Mutex<BTreeMap<&'static str, Family>>,
    store_calls: Arc<CallCounters>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

const SYNC_CALLS: &str = "externalsecret_sync_calls_total";
const SYNC_ERRORS: &str = "externalsecret_sync_calls_error";
const CONDITION: &str = "externalsecret_status_condition";
const DURATION: &str = "externalsecret_reconcile_duration";

impl Metrics {
    /// Metrics that also expose `store_calls`.
    pub fn new(store_calls: Arc<CallCounters>) -> Self {
        Self {
            families: Mutex::new(BTreeMap::new()),
            store_calls,
        }
    }

    fn update(
        &self,
        name: &'static str,
        help: &'static str,
        kind: &'static str,
        labels: Labels,
        change: impl FnOnce(&mut f64),
    ) {
        let Ok(mut families) = self.families.lock() else {
            return;
        };
        let family = families.entry(name).or_insert_with(|| Family {
            help,
            kind,
            values: BTreeMap::new(),
        });
        change(family.values.entry(labels).or_insert(0.0));
    }

    /// Records one reconcile of ExternalSecret `namespace/name`.
    pub fn reconciled(
        &self,
        namespace: &str,
        name: &str,
        took: Duration,
        ready: Option<bool>,
        failed: bool,
    ) {
        let object = || {
            vec![
                ("name", name.to_owned()),
                ("namespace", namespace.to_owned()),
            ]
        };
        self.update(
            SYNC_CALLS,
            "Total number of the External Secret sync calls",
            "counter",
            object(),
            |v| *v += 1.0,
        );
        if failed {
            self.update(
                SYNC_ERRORS,
                "Total number of the External Secret sync errors",
                "counter",
                object(),
                |v| *v += 1.0,
            );
        }
        self.update(
            DURATION,
            "The duration time to reconcile the External Secret",
            "gauge",
            object(),
            |v| {
                *v = took.as_nanos() as f64;
            },
        );
        if let Some(ready) = ready {
            for (status, on) in [("True", ready), ("False", !ready)] {
                let mut labels = object();
                labels.push(("condition", "Ready".into()));
                labels.push(("status", status.into()));
                self.update(
                    CONDITION,
                    "The status condition of a specific External Secret",
                    "gauge",
                    labels,
                    |v| {
                        *v = if on { 1.0 } else { 0.0 };
                    },
                );
            }
        }
    }

    /// Forgets a deleted ExternalSecret's series.
    pub fn forget(&self, namespace: &str, name: &str) {
        let Ok(mut families) = self.families.lock() else {
            return;
        };
        for family in families.values_mut() {
            family.values.retain(|labels, _| {
                !(labels.contains(&("name", name.to_owned()))
                    && labels.contains(&("namespace", namespace.to_owned())))
            });
        }
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Ok(families) = self.families.lock() {
            for (name, family) in families.iter() {
                let _ = writeln!(text, "# HELP {name} {}", family.help);
                let _ = writeln!(text, "# TYPE {name} {}", family.kind);
                for (labels, value) in &family.values {
                    let rendered: Vec<String> = labels
                        .iter()
                        .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
                        .collect();
                    let _ = writeln!(text, "{name}{{{}}} {value}", rendered.join(","));
                }
            }
        }
        text.push_str(&self.store_calls.render_prometheus());
        text
    }
}

/// Label values are Kubernetes names; escape anyway, as the format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eso_names_and_labels() {
        let metrics = Metrics::new(Arc::new(CallCounters::default()));
        metrics.reconciled("apps", "db", Duration::from_millis(3), Some(true), false);
        metrics.reconciled("apps", "db", Duration::from_millis(2), Some(false), true);
        let text = metrics.render();
        assert!(
            text.contains("externalsecret_sync_calls_total{name=\"db\",namespace=\"apps\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("externalsecret_sync_calls_error{name=\"db\",namespace=\"apps\"} 1"),
            "{text}"
        );
        assert!(text.contains("externalsecret_status_condition{name=\"db\",namespace=\"apps\",condition=\"Ready\",status=\"False\"} 1"), "{text}");
        assert!(
            text.contains(
                "externalsecret_reconcile_duration{name=\"db\",namespace=\"apps\"} 2000000"
            ),
            "{text}"
        );
        metrics.forget("apps", "db");
        assert!(!metrics.render().contains("name=\"db\""));
    }
}
