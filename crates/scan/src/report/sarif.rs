//! SARIF 2.1.0, as GitHub code scanning accepts it: one run, the rules that fired, one result
//! per finding with a location and the keyed fingerprint under `partialFingerprints`, and a
//! warning notification for each file or blob not scanned.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Report;
use crate::finding::{Finding, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Renders `report` as a SARIF 2.1.0 log.
pub fn render_sarif(report: &Report) -> String {
    let mut rules: BTreeMap<&str, &Finding> = BTreeMap::new();
    for finding in &report.findings {
        rules.entry(finding.rule.as_str()).or_insert(finding);
    }
    let rule_index: BTreeMap<&str, usize> =
        rules.keys().enumerate().map(|(i, id)| (*id, i)).collect();
    let driver_rules: Vec<Value> = rules.values().map(|f| rule(f)).collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| result(f, rule_index.get(f.rule.as_str()).copied().unwrap_or(0)))
        .collect();
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "keyward",
                "informationUri": "https://github.com/keyward/keyward",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": driver_rules,
            }},
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notifications(report),
            }],
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}

/// One warning notification per piece of content the scan did not look at.
fn notifications(report: &Report) -> Vec<Value> {
    let mut notes: Vec<Value> = report
        .skipped
        .iter()
        .map(|skip| {
            json!({
                "level": "warning",
                "message": { "text": format!("not scanned: {}", skip.reason) },
                "locations": [{ "physicalLocation": {
                    "artifactLocation": { "uri": skip.path },
                }}],
            })
        })
        .collect();
    if report.stats.shallow > 0 {
        notes.push(json!({
            "level": "warning",
            "message": { "text": "a shallow clone: the history before its boundary commits was not scanned" },
        }));
    }
    if report.stats.missing > 0 {
        notes.push(json!({
            "level": "warning",
            "message": { "text": format!(
                "{} blob(s) missing from the object store (a partial clone?) were not scanned",
                report.stats.missing
            ) },
        }));
    }
    notes
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
    }
}

fn rule(f: &Finding) -> Value {
    json!({
        "id": f.rule,
        "name": f.rule,
        "shortDescription": { "text": f.title },
        "defaultConfiguration": { "level": level(f.severity) },
        "properties": {
            "tags": ["security", "secret", f.category],
            "security-severity": security_severity(f.severity),
        },
    })
}

fn result(f: &Finding, index: usize) -> Value {
    let preview = f
        .preview
        .as_ref()
        .map_or(String::new(), |p| format!(" (value {p})"));
    let mut properties = json!({ "severity": f.severity.as_str() });
    if let Some(commit) = &f.location.commit {
        properties["commit"] = json!(commit);
    }
    json!({
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": level(f.severity),
        "message": { "text": format!("{}{preview}", f.title) },
        "locations": [{ "physicalLocation": {
            "artifactLocation": { "uri": f.location.path },
            "region": { "startLine": f.location.line.max(1) },
        }}],
        "partialFingerprints": { "keyward/v1": f.fingerprint },
        "properties": properties,
    })
}
