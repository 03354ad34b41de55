//! The monitoring the chart ships (`charts/keyward/files/`): the alert rules pass `promtool
//! check rules` and their own unit tests (`promtool test rules`), every alert has a case that
//! fires it and one that keeps it quiet, and a copy of the rules with one alert disabled or
//! broken fails promtool, so these checks can fail. The Grafana dashboard is one Grafana
//! loads (a data source variable, a namespace variable), its queries parse, and every metric
//! the dashboard and the rules read is one keyward serves: one of
//! `keyward_operator::metrics::FAMILIES`, which is exactly what a real `keyward operator run`
//! on a real kube-apiserver serves on /metrics.
//!
//! promtool is a peer built from Go modules (`scripts/peers install promtool`); without it these
//! tests say so and do not run, except under CI, where they fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use keyward_operator::metrics::FAMILIES;
use keyward_test_support::{HarnessError, Kubernetes, Peer, free_port, peer_path};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use regex::Regex;
use serde::Deserialize;
use serde_json::json;

const RULES: &str = "prometheus-rules.yaml";
const RULE_TESTS: &str = "prometheus-rules.test.yaml";
const DASHBOARD: &str = "grafana-dashboard.json";

/// What the chart's monitoring must show, by the metrics that show it (issue 18): sync rate and
/// errors, Ready by namespace and by store, store calls and throttling, reconcile latency, queue
/// depth, memory and the leader.
const DASHBOARD_MUST_READ: [&str; 10] = [
    "externalsecret_sync_calls_total",
    "externalsecret_sync_calls_error",
    "externalsecret_status_condition",
    "keyward_externalsecret_info",
    "externalsecret_provider_api_calls_count",
    "keyward_provider_api_calls_throttled_total",
    "controller_runtime_reconcile_time_seconds_bucket",
    "workqueue_depth",
    "process_resident_memory_bytes",
    "keyward_leader",
];

fn files() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../charts/keyward/files")
}

fn read(name: &str) -> String {
    let path = files().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// promtool, or `None` (with a note) where it is not installed and the run does not require
/// every peer; under CI a missing promtool fails the test.
fn promtool() -> Option<PathBuf> {
    peer_or_skip(peer_path(Peer::Promtool))
}

fn peer_or_skip<T>(found: Result<T, HarnessError>) -> Option<T> {
    match found {
        Ok(peer) => Some(peer),
        Err(error) if !keyward_test_support::require_all_peers() => {
            eprintln!(
                "NOT RUN (scripts/peers install; CI=true or KEYWARD_REQUIRE_ALL_PEERS=1 fails instead): {error}"
            );
            None
        }
        Err(error) => panic!("{error}"),
    }
}

fn run_promtool(promtool: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(promtool)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

// ---- the rule file and its tests, as promtool reads them ----------------------------------

#[derive(Debug, Deserialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
struct RuleGroup {
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
struct Rule {
    alert: String,
    expr: String,
    #[serde(rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct RuleTests {
    rule_files: Vec<String>,
    tests: Vec<RuleTest>,
}

#[derive(Debug, Deserialize)]
struct RuleTest {
    name: String,
    #[serde(default)]
    alert_rule_test: Vec<AlertCheck>,
}

#[derive(Debug, Deserialize)]
struct AlertCheck {
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<serde_yaml_ng::Value>,
}

fn alerts() -> Vec<Rule> {
    let file: RuleFile = serde_yaml_ng::from_str(&read(RULES)).expect("the rule file parses");
    file.groups.into_iter().flat_map(|g| g.rules).collect()
}

#[test]
fn the_rules_pass_promtool_check_and_their_unit_tests() {
    let Some(promtool) = promtool() else {
        return;
    };
    let check = run_promtool(
        &promtool,
        &files(),
        &["check", "rules", "--lint=all", "--lint-fatal", RULES],
    );
    assert!(check.status.success(), "{}", text(&check));
    let found = format!("SUCCESS: {} rules found", alerts().len());
    assert!(text(&check).contains(&found), "{}", text(&check));

    let tests = run_promtool(&promtool, &files(), &["test", "rules", RULE_TESTS]);
    assert!(tests.status.success(), "{}", text(&tests));
}

#[test]
fn every_alert_has_a_case_that_fires_it_and_one_that_keeps_it_quiet() {
    let alerts: BTreeSet<String> = alerts().into_iter().map(|rule| rule.alert).collect();
    let tests: RuleTests =
        serde_yaml_ng::from_str(&read(RULE_TESTS)).expect("the rule tests parse");
    assert_eq!(tests.rule_files, [RULES]);
    let (mut fired, mut quiet) = (BTreeSet::new(), BTreeSet::new());
    for test in &tests.tests {
        assert!(
            !test.alert_rule_test.is_empty(),
            "{}: checks no alert",
            test.name
        );
        for check in &test.alert_rule_test {
            let seen = if check.exp_alerts.is_empty() {
                &mut quiet
            } else {
                &mut fired
            };
            seen.insert(check.alertname.clone());
        }
    }
    assert_eq!(fired, alerts, "alerts with a firing case");
    assert_eq!(quiet, alerts, "alerts with a case that must not fire");
}

#[test]
fn every_alert_says_how_bad_it_is_what_happened_and_where_its_runbook_is() {
    let runbook = Regex::new(r"^docs/runbooks/[a-z0-9-]+\.md$").expect("regex");
    let alerts = alerts();
    assert!(alerts.len() >= 6, "{alerts:?}");
    for rule in &alerts {
        let name = &rule.alert;
        assert!(name.starts_with("Keyward"), "{name}");
        let severity = rule.labels.get("severity").map(String::as_str);
        assert!(
            matches!(severity, Some("critical" | "warning")),
            "{name}: severity {severity:?}"
        );
        assert!(
            rule.for_.is_some(),
            "{name}: no `for`, so one bad scrape pages"
        );
        for key in ["summary", "description"] {
            assert!(
                rule.annotations.get(key).is_some_and(|v| v.len() > 20),
                "{name}: no {key}"
            );
        }
        let url = rule.annotations.get("runbook_url").map(String::as_str);
        assert!(
            url.is_some_and(|url| runbook.is_match(url)),
            "{name}: runbook_url {url:?} is not docs/runbooks/<name>.md"
        );
        // The runbook exists (and crates/cli/tests/runbooks.rs executes every one).
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(url.unwrap_or_default());
        assert!(path.is_file(), "{name}: {} does not exist", path.display());
    }
}

/// A copy of the rules in a directory of its own, with the unit tests beside it.
fn copy_with(rules: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(RULES), rules).expect("write rules");
    std::fs::write(dir.path().join(RULE_TESTS), read(RULE_TESTS)).expect("write tests");
    dir
}

#[test]
fn a_broken_or_silenced_rule_fails_promtool() {
    let Some(promtool) = promtool() else {
        return;
    };
    // An expression that does not parse fails the check.
    let broken = read(RULES).replacen("max by (namespace, name) (", "max by (namespace, name (", 1);
    assert_ne!(broken, read(RULES));
    let dir = copy_with(&broken);
    let check = run_promtool(&promtool, dir.path(), &["check", "rules", RULES]);
    assert!(!check.status.success(), "{}", text(&check));

    // Each alert silenced in turn (its expression never yields a series) fails its firing
    // case: the unit tests look at every alert.
    let original: serde_yaml_ng::Value = serde_yaml_ng::from_str(&read(RULES)).expect("yaml");
    for alert in alerts() {
        let mut silenced = original.clone();
        let rules = silenced["groups"][0]["rules"]
            .as_sequence_mut()
            .expect("rules");
        for rule in rules.iter_mut() {
            if rule["alert"].as_str() == Some(alert.alert.as_str()) {
                rule["expr"] = "vector(1) == 2".into();
            }
        }
        let dir = copy_with(&serde_yaml_ng::to_string(&silenced).expect("yaml"));
        let tests = run_promtool(&promtool, dir.path(), &["test", "rules", RULE_TESTS]);
        assert!(
            !tests.status.success() && text(&tests).contains(&alert.alert),
            "silencing {} fails no test: {}",
            alert.alert,
            text(&tests)
        );
    }
}

// ---- the dashboard ------------------------------------------------------------------------

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&read(DASHBOARD)).expect("the dashboard is JSON")
}

/// Every panel that is not a row, rows' nested panels included.
fn panels(dashboard: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        all.extend(panel["panels"].as_array().into_iter().flatten());
        if panel["type"] != "row" {
            all.push(panel);
        }
    }
    all
}

/// Every PromQL query of the dashboard: panel targets and variable queries.
fn dashboard_queries(dashboard: &serde_json::Value) -> Vec<String> {
    let label_values = Regex::new(r"^label_values\((.*),\s*\w+\)$").expect("regex");
    let mut queries: Vec<String> = panels(dashboard)
        .iter()
        .flat_map(|panel| panel["targets"].as_array().into_iter().flatten())
        .filter_map(|target| target["expr"].as_str())
        .map(str::to_owned)
        .collect();
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] != "query" {
            continue;
        }
        let query = variable["query"]["query"]
            .as_str()
            .or(variable["query"].as_str())
            .expect("a variable query");
        let inner = label_values
            .captures(query)
            .unwrap_or_else(|| panic!("variable query {query} is not label_values(EXPR, LABEL)"));
        queries.push(inner[1].to_owned());
    }
    queries
}

#[test]
fn the_dashboard_is_a_grafana_dashboard_over_a_prometheus_data_source_variable() {
    let dashboard = dashboard();
    assert!(
        dashboard["schemaVersion"].as_u64() >= Some(39),
        "schemaVersion"
    );
    assert!(dashboard["uid"].as_str().is_some_and(|uid| !uid.is_empty()));
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    let variable = |name: &str| {
        variables
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name} variable"))
    };
    assert_eq!(variable("datasource")["type"], "datasource");
    assert_eq!(variable("datasource")["query"], "prometheus");
    assert_eq!(variable("namespace")["type"], "query");

    let data_source = json!({"type": "prometheus", "uid": "${datasource}"});
    let mut ids = BTreeSet::new();
    let panels = panels(&dashboard);
    for panel in &panels {
        let title = panel["title"].as_str().expect("a title");
        assert!(
            ids.insert(panel["id"].as_u64().expect("an id")),
            "{title}: id taken"
        );
        assert!(panel["gridPos"]["w"].as_u64().is_some(), "{title}: gridPos");
        assert_eq!(panel["datasource"], data_source, "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            assert_eq!(target["datasource"], data_source, "{title}");
        }
    }
    let read: BTreeSet<String> = dashboard_queries(&dashboard)
        .iter()
        .flat_map(|query| metric_names(query))
        .collect();
    for metric in DASHBOARD_MUST_READ {
        assert!(read.contains(metric), "no panel reads {metric}");
    }
}

#[test]
fn the_dashboard_queries_parse() {
    let Some(promtool) = promtool() else {
        return;
    };
    // promtool checks PromQL in rule files: each query becomes a recording rule, with
    // Grafana's variables replaced by what they stand for.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (n, query) in dashboard_queries(&dashboard()).iter().enumerate() {
        let query = query
            .replace("$__rate_interval", "5m")
            .replace("$job", ".*")
            .replace("$namespace", ".*");
        let query = serde_json::to_string(&query).expect("a JSON string is a YAML string");
        rules.push_str(&format!(
            "      - record: dashboard:query_{n}\n        expr: {query}\n"
        ));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("dashboard.yaml"), &rules).expect("write");
    let check = run_promtool(&promtool, dir.path(), &["check", "rules", "dashboard.yaml"]);
    assert!(check.status.success(), "{rules}\n{}", text(&check));
}

// ---- metric names -------------------------------------------------------------------------

/// The metric names a PromQL expression reads: what is left once strings, label matchers,
/// ranges, grouping clauses, Grafana variables, numbers, functions and keywords are taken out.
fn metric_names(expr: &str) -> BTreeSet<String> {
    static PATTERNS: OnceLock<[Regex; 7]> = OnceLock::new();
    let [
        strings,
        matchers,
        ranges,
        grouping,
        offsets,
        variables,
        tokens,
    ] = PATTERNS.get_or_init(|| {
        [
            r#""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`"#,
            r"\{[^}]*\}",
            r"\[[^\]]*\]",
            r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
            r"\b(?:offset|@)\s*-?[0-9a-z.]+",
            r"\$\{?\w+\}?",
            r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[A-Za-z_:][A-Za-z0-9_:]*\s*\(?",
        ]
        .map(|pattern| Regex::new(pattern).expect("regex"))
    });
    const KEYWORDS: [&str; 8] = [
        "and",
        "or",
        "unless",
        "bool",
        "inf",
        "nan",
        "group_left",
        "group_right",
    ];
    let mut rest = expr.to_owned();
    for pattern in [strings, matchers, ranges, grouping, offsets, variables] {
        rest = pattern.replace_all(&rest, " ").into_owned();
    }
    tokens
        .find_iter(&rest)
        .map(|token| token.as_str())
        // A name followed by `(` is a function or an aggregation, not a metric.
        .filter(|token| !token.ends_with('(') && !token.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::trim_end)
        .filter(|token| !KEYWORDS.contains(&token.to_ascii_lowercase().as_str()))
        .map(str::to_owned)
        .collect()
}

/// Whether keyward serves `metric`: a family of [`FAMILIES`], or a histogram's series.
fn served(metric: &str) -> bool {
    FAMILIES.iter().any(|family| {
        family.name == metric
            || (family.kind == "histogram"
                && ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| metric.strip_suffix(suffix) == Some(family.name)))
    })
}

#[test]
fn metric_names_are_found_in_promql_and_unknown_ones_are_refused() {
    let names = metric_names(
        r#"sum by (namespace) (rate(made_up_total{job=~"$job", x="a{b}"}[$__rate_interval]))
           / on (name) group_left () max(other_metric offset 5m) * 1e9 > bool 0.5
           or histogram_quantile(0.9, x_seconds_bucket) unless vector(0)"#,
    );
    let expected: BTreeSet<String> = ["made_up_total", "other_metric", "x_seconds_bucket"]
        .map(String::from)
        .into();
    assert_eq!(names, expected);
    assert!(!served("made_up_total"));
    assert!(served("controller_runtime_reconcile_time_seconds_bucket"));
    assert!(
        !served("externalsecret_sync_calls_total_bucket"),
        "a counter has no buckets"
    );
}

#[test]
fn the_dashboard_and_the_rules_read_only_metrics_keyward_serves() {
    let mut queries: Vec<(String, String)> = alerts()
        .into_iter()
        .map(|rule| (format!("{RULES}: {}", rule.alert), rule.expr))
        .collect();
    queries.extend(
        dashboard_queries(&dashboard())
            .into_iter()
            .map(|query| (DASHBOARD.to_owned(), query)),
    );
    let mut read = BTreeSet::new();
    for (place, query) in &queries {
        let names = metric_names(query);
        assert!(!names.is_empty(), "{place}: reads no metric: {query}");
        for name in names {
            assert!(
                served(&name),
                "{place}: {name} is not a metric keyward serves: {query}"
            );
            read.insert(name);
        }
    }
    assert!(read.len() >= DASHBOARD_MUST_READ.len(), "{read:?}");
}

// ---- a real operator's /metrics -------------------------------------------------------------

const CANARY: &str = "kw-canary-monitoring-5c1e";

/// `keyward operator run` with its metrics on a free port; killed when dropped.
struct Operator {
    child: Child,
    metrics: u16,
    log: PathBuf,
}

impl Operator {
    fn start(kube: &Kubernetes, dir: &Path) -> Self {
        let metrics = free_port().expect("port");
        let log = dir.join("operator.log");
        let child = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["operator", "run", "--concurrent", "3"])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics}")])
            .env("KUBECONFIG", kube.kubeconfig_path())
            .stdout(std::fs::File::create(dir.join("operator.out")).expect("stdout"))
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start keyward operator");
        Self {
            child,
            metrics,
            log,
        }
    }

    async fn scrape(&self) -> Option<String> {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics);
        reqwest::get(&url).await.ok()?.text().await.ok()
    }

    /// /metrics once `ready` holds of it (within a minute).
    async fn scrape_until(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(text) = self.scrape().await
                && ready(&text)
            {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "waited a minute for {what}; operator log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the sample whose line starts with `series` (its name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

fn es_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("external-secrets.io", "v1", kind),
        plural,
    )
}

async fn apply(client: &kube::Client, resource: &ApiResource, value: serde_json::Value) {
    let mut object: DynamicObject = serde_json::from_value(value).expect("object");
    object.types = Some(kube::core::TypeMeta {
        api_version: resource.api_version.clone(),
        kind: resource.kind.clone(),
    });
    let name = object.metadata.name.clone().expect("a name");
    let api: Api<DynamicObject> = match object.metadata.namespace.as_deref() {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, resource),
        None => Api::all_with(client.clone(), resource),
    };
    api.patch(
        &name,
        &PatchParams::apply("test").force(),
        &Patch::Apply(&object),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {name}: {e}"));
}

/// keyward's own CRDs (`keyward operator crds`), established.
async fn install_crds(client: &kube::Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["operator", "crds"])
        .output()
        .expect("keyward operator crds");
    assert!(output.status.success(), "{}", text(&output));
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let yaml = String::from_utf8(output.stdout).expect("utf-8");
    for document in serde_yaml_ng::Deserializer::from_str(&yaml) {
        let crd = CustomResourceDefinition::deserialize(document).expect("a CRD");
        let name = crd.metadata.name.clone().expect("name");
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("create CRD");
        let established = kube::runtime::conditions::is_crd_established();
        tokio::time::timeout(
            Duration::from_secs(30),
            kube::runtime::wait::await_condition(crds.clone(), &name, established),
        )
        .await
        .expect("established in time")
        .expect("established");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_operator_serves_every_family_the_dashboard_and_alerts_read() {
    let Some(kube) = peer_or_skip(Kubernetes::start().await) else {
        return;
    };
    let client = kube.admin_client().await.expect("client");
    install_crds(&client).await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let namespace = serde_json::from_value(json!({"metadata": {"name": "apps"}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .expect("namespace");
    let (es, css) = (
        es_resource("ExternalSecret", "externalsecrets"),
        es_resource("ClusterSecretStore", "clustersecretstores"),
    );
    apply(
        &client,
        &css,
        json!({"metadata": {"name": "fake"},
               "spec": {"provider": {"fake": {"data": [{"key": "db", "value": CANARY}]}}}}),
    )
    .await;
    for (name, key) in [("good", "db"), ("broken", "no-such-key")] {
        apply(
            &client,
            &es,
            json!({"metadata": {"name": name, "namespace": "apps"},
                   "spec": {"refreshInterval": "1h",
                            "secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                            "data": [{"secretKey": "password", "remoteRef": {"key": key}}]}}),
        )
        .await;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    let operator = Operator::start(&kube, scratch.path());
    let condition = |name: &str, status: &str| {
        format!(
            "externalsecret_status_condition{{name=\"{name}\",namespace=\"apps\",condition=\"Ready\",status=\"{status}\"}}"
        )
    };
    let metrics = operator
        .scrape_until("one ExternalSecret Ready and one not", |text| {
            sample(text, &condition("good", "True")) == Some(1.0)
                && sample(text, &condition("broken", "False")) == Some(1.0)
        })
        .await;

    // Exactly the families keyward_operator::metrics::FAMILIES lists, with their types.
    let served: BTreeSet<(&str, &str)> = metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split_once(' '))
        .collect();
    let listed: BTreeSet<(&str, &str)> = FAMILIES.iter().map(|f| (f.name, f.kind)).collect();
    assert_eq!(served, listed, "{metrics}");

    // What the alerts and the dashboard join and compare.
    let good = "{name=\"good\",namespace=\"apps\"}";
    let info = "keyward_externalsecret_info{name=\"good\",namespace=\"apps\",store=\"ClusterSecretStore/fake\",store_kind=\"ClusterSecretStore\"}";
    assert_eq!(sample(&metrics, info), Some(1.0), "{metrics}");
    let interval = format!("keyward_externalsecret_refresh_interval_seconds{good}");
    assert_eq!(sample(&metrics, &interval), Some(3600.0), "{metrics}");
    let last_sync = sample(
        &metrics,
        &format!("keyward_externalsecret_last_sync_timestamp_seconds{good}"),
    )
    .expect("a last sync");
    assert!(
        last_sync >= started.floor() - 1.0,
        "{last_sync} before {started}"
    );
    assert!(
        sample(
            &metrics,
            "keyward_externalsecret_last_sync_timestamp_seconds{name=\"broken\",namespace=\"apps\"}"
        )
        .is_none(),
        "never synced: no sync time"
    );
    let errors = "externalsecret_sync_calls_error{name=\"broken\",namespace=\"apps\"}";
    assert!(sample(&metrics, errors) >= Some(1.0), "{metrics}");
    assert_eq!(sample(&metrics, "keyward_leader"), Some(1.0), "{metrics}");
    let workers = "controller_runtime_max_concurrent_reconciles{controller=\"externalsecret\"}";
    assert_eq!(sample(&metrics, workers), Some(3.0), "{metrics}");
    let depth = sample(&metrics, "workqueue_depth{name=\"externalsecret\"}").expect("depth");
    assert!((0.0..=2.0).contains(&depth), "two ExternalSecrets: {depth}");
    let memory = sample(&metrics, "process_resident_memory_bytes").expect("memory");
    assert!(memory > 1_000_000.0, "{memory}");
    let count = "controller_runtime_reconcile_time_seconds_count{controller=\"externalsecret\"}";
    assert!(sample(&metrics, count) >= Some(2.0), "{metrics}");
    assert!(!metrics.contains(CANARY), "a value in the metrics");

    // A deleted ExternalSecret takes its series with it (the NotReady alert must not go on
    // firing for something that is gone).
    Api::<DynamicObject>::namespaced_with(client.clone(), "apps", &es)
        .delete("broken", &DeleteParams::default())
        .await
        .expect("delete");
    operator
        .scrape_until("the deleted ExternalSecret's series to go", |text| {
            !text.contains("name=\"broken\"") && text.contains(&condition("good", "True"))
        })
        .await;
}
