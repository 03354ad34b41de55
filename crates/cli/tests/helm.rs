//! charts/keyward with the real `helm` and a real kube-apiserver and etcd. The chart lints
//! strictly; each values combination its README documents (default, namespaced,
//! `crds.create=false`, monitoring on) renders what it says and passes a server-side dry run
//! on the API server; a misspelt value is refused by its schema; its CRDs are `keyward operator
//! crds`; its RBAC grants exactly the verbs of a fixed table (cluster-wide: deploy/rbac.yaml's).
//! And the strongest check: `keyward operator run`, started with the arguments and environment
//! of the rendered Deployment and a token of the chart's ServiceAccount, holding nothing but the
//! chart's RBAC, syncs an ExternalSecret from a fake ClusterSecretStore (Secret, status, event),
//! writes the store's status, creates its fingerprint key, takes the leader Lease and is refused
//! nothing: cluster-wide under the chart's CRDs, and namespaced under ESO's.
//!
//! A values file written for External Secrets Operator's chart ([`ESO_VALUES`]) installs
//! keyward as it means: its keys mapped onto the chart's, ESO's image and flags keyward lacks
//! left out and listed in NOTES.txt with its webhook and cert controller, keyward's own keys
//! winning where both are set; it lints, passes the dry run, and `keyward operator run` takes
//! the arguments it renders.
//!
//! prometheus-operator's CRDs are no peer here: the ServiceMonitor and PrometheusRule are
//! dry-run against minimal CRDs of the same group, version and kind that accept any spec; their
//! specs are checked by the render assertions below.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use keyward_test_support::{
    Kubernetes, Peer, eso_corpus, free_port, or_skip_unavailable, peer_path,
};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

/// ESO's CRDs the end-to-end test under them installs.
const ESO_CRDS: [&str; 5] = [
    "externalsecrets",
    "clusterexternalsecrets",
    "secretstores",
    "clustersecretstores",
    "pushsecrets",
];

/// The release every test renders, in its namespace.
const RELEASE: &str = "keyward";
const RELEASE_NAMESPACE: &str = "keyward";
/// The namespace the namespaced combination watches.
const WATCHED: &str = "apps";

/// The values combinations charts/keyward/README.md documents, as `--set` arguments.
const DEFAULT: &[&str] = &[];
const NAMESPACED: &[&str] = &["rbac.scope=namespace", "watchNamespace=apps"];
const WITHOUT_CRDS: &[&str] = &["crds.create=false"];
const MONITORING: &[&str] = &[
    "serviceMonitor.enabled=true",
    "prometheusRule.enabled=true",
    "grafanaDashboard.enabled=true",
];
const COMBINATIONS: [(&str, &[&str]); 4] = [
    ("default", DEFAULT),
    ("namespaced", NAMESPACED),
    ("crds.create=false", WITHOUT_CRDS),
    ("monitoring", MONITORING),
];

/// A values file for External Secrets Operator's chart (external-secrets 0.16.x), as a team
/// switching to keyward has one: ESO's own keys (installCRDs, leaderElect, scopedNamespace and
/// scopedRBAC, log, an extraArgs map with ESO's flags and one of keyward's), ESO's image, its
/// webhook and cert controller, and the keys both charts share.
const ESO_VALUES: &str = r#"# external-secrets 0.16.2, platform cluster
installCRDs: false
replicaCount: 2
leaderElect: true
concurrent: 4
controllerClass: platform
scopedNamespace: apps
scopedRBAC: true

image:
  repository: ghcr.io/external-secrets/external-secrets
  tag: v0.16.2
  pullPolicy: IfNotPresent

log:
  level: debug
  timeEncoding: iso8601

serviceAccount:
  create: true
  name: external-secrets
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/external-secrets

rbac:
  create: true

extraArgs:
  enable-flood-gate: false
  store-requeue-interval: 1m
  restarts-per-minute: 10

resources:
  requests:
    cpu: 10m
    memory: 96Mi
  limits:
    memory: 192Mi

podAnnotations:
  cluster-autoscaler.kubernetes.io/safe-to-evict: "true"
podLabels:
  team: platform

nodeSelector:
  kubernetes.io/os: linux
tolerations:
  - key: dedicated
    operator: Equal
    value: platform
    effect: NoSchedule
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              app.kubernetes.io/instance: keyward
priorityClassName: system-cluster-critical

podDisruptionBudget:
  enabled: true
  minAvailable: 1

serviceMonitor:
  enabled: true
  additionalLabels:
    release: kube-prometheus-stack
  interval: 60s
  scrapeTimeout: 30s

metrics:
  service:
    enabled: true
    port: 8080

webhook:
  create: true
  replicaCount: 2
  certManager:
    enabled: true
    cert:
      issuerRef:
        kind: ClusterIssuer
        name: letsencrypt
  resources:
    requests:
      cpu: 10m
      memory: 32Mi

certController:
  create: false
  resources:
    requests:
      cpu: 10m
      memory: 32Mi
"#;

/// The ServiceAccount [`ESO_VALUES`] names.
const ESO_SERVICE_ACCOUNT: &str = "external-secrets";

/// [`ESO_VALUES`] in a file of `dir`, for `helm --values`.
fn eso_values_file(dir: &Path) -> PathBuf {
    let path = dir.join("eso-values.yaml");
    std::fs::write(&path, ESO_VALUES).expect("write the ESO values file");
    path
}

/// What the cluster-wide ClusterRole grants, as (verbs, API group, resources): exactly
/// deploy/rbac.yaml's ClusterRole, whose every rule a test of crates/cli/tests/operator.rs needs.
const CLUSTER_WIDE: &[(&str, &str, &str)] = &[
    (
        "get list watch",
        "external-secrets.io",
        "externalsecrets clusterexternalsecrets pushsecrets secretstores clustersecretstores",
    ),
    ("patch", "external-secrets.io", "pushsecrets"),
    (
        "create update delete",
        "external-secrets.io",
        "externalsecrets",
    ),
    (
        "patch update",
        "external-secrets.io",
        "externalsecrets/status clusterexternalsecrets/status pushsecrets/status secretstores/status clustersecretstores/status",
    ),
    (
        "update",
        "external-secrets.io",
        "externalsecrets/finalizers clusterexternalsecrets/finalizers",
    ),
    (
        "get",
        "generators.external-secrets.io",
        "passwords uuids fakes clustergenerators",
    ),
    ("list patch", "apps", "deployments statefulsets daemonsets"),
    ("get list watch create update delete", "", "secrets"),
    ("get", "", "configmaps serviceaccounts"),
    ("get list watch", "", "namespaces"),
    ("create", "", "serviceaccounts/token"),
    ("create patch", "events.k8s.io", "events"),
];

/// The namespaced install's Role in the watched namespace: the cluster-wide grants there,
/// without ClusterExternalSecrets and Namespaces.
const NAMESPACE_ROLE: &[(&str, &str, &str)] = &[
    (
        "get list watch",
        "external-secrets.io",
        "externalsecrets pushsecrets secretstores",
    ),
    ("patch", "external-secrets.io", "pushsecrets"),
    (
        "patch update",
        "external-secrets.io",
        "externalsecrets/status pushsecrets/status secretstores/status",
    ),
    (
        "update",
        "external-secrets.io",
        "externalsecrets/finalizers",
    ),
    (
        "get",
        "generators.external-secrets.io",
        "passwords uuids fakes",
    ),
    ("list patch", "apps", "deployments statefulsets daemonsets"),
    ("get list watch create update delete", "", "secrets"),
    ("get", "", "configmaps serviceaccounts"),
    ("create", "", "serviceaccounts/token"),
    ("create patch", "events.k8s.io", "events"),
];

/// The namespaced install's ClusterRole: the cluster-scoped kinds it reads, nothing else.
const NAMESPACE_CLUSTER_ROLE: &[(&str, &str, &str)] = &[
    (
        "get list watch",
        "external-secrets.io",
        "clustersecretstores",
    ),
    (
        "patch update",
        "external-secrets.io",
        "clustersecretstores/status",
    ),
    ("get", "generators.external-secrets.io", "clustergenerators"),
];

/// The namespaced install's Role in `default`, where events about ClusterSecretStores go.
const CLUSTER_STORE_EVENTS: &[(&str, &str, &str)] = &[("create patch", "events.k8s.io", "events")];

/// The namespaced install's Role for the fingerprint key in the release namespace.
const FINGERPRINT_KEY: &[(&str, &str, &str)] = &[
    ("get", "", "secrets[keyward-fingerprint-key]"),
    ("create", "", "secrets"),
];

/// The leader Lease Role in the release namespace (both scopes).
const LEADER: &[(&str, &str, &str)] = &[
    ("get update", "coordination.k8s.io", "leases[keyward]"),
    ("create", "coordination.k8s.io", "leases"),
];

fn chart_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../charts/keyward")
}

fn repo_file(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every YAML document of `text` as JSON, empty ones left out.
fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|document| serde::Deserialize::deserialize(document).expect("a YAML document"))
        .filter(|value: &Value| !value.is_null())
        .collect()
}

/// `helm`, with its configuration, cache and data in a scratch directory (never the user's
/// repositories or plugins) and no cluster.
struct Helm {
    path: PathBuf,
    home: tempfile::TempDir,
}

impl Helm {
    /// The helm peer; `None` (the test returns) only where the installer recorded it as
    /// unavailable and the run does not require every peer.
    fn find() -> Option<Self> {
        let path = or_skip_unavailable(peer_path(Peer::Helm))?;
        let home = tempfile::tempdir().expect("tempdir");
        Some(Self { path, home })
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.path)
            .args(args)
            .env("HELM_CONFIG_HOME", self.home.path().join("config"))
            .env("HELM_CACHE_HOME", self.home.path().join("cache"))
            .env("HELM_DATA_HOME", self.home.path().join("data"))
            .env("KUBECONFIG", self.home.path().join("no-kubeconfig"))
            .output()
            .expect("run helm")
    }

    /// `helm SUBCOMMAND` of the chart with `sets`: stdout, or stderr when it fails.
    fn chart_command(&self, subcommand: &[&str], sets: &[&str]) -> Result<String, String> {
        self.chart_command_with(subcommand, None, sets)
    }

    /// `helm SUBCOMMAND` of the chart with the values file `values` (`-f`), then `sets`.
    fn chart_command_with(
        &self,
        subcommand: &[&str],
        values: Option<&Path>,
        sets: &[&str],
    ) -> Result<String, String> {
        let chart = chart_dir();
        let mut args = subcommand.to_vec();
        args.push(chart.to_str().expect("a UTF-8 path"));
        args.extend(["--namespace", RELEASE_NAMESPACE]);
        if let Some(values) = values {
            args.extend(["--values", values.to_str().expect("a UTF-8 path")]);
        }
        for set in sets {
            args.extend(["--set", set]);
        }
        let output = self.run(&args);
        let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
        if output.status.success() {
            Ok(text(output.stdout))
        } else {
            Err(format!("{}{}", text(output.stdout), text(output.stderr)))
        }
    }

    fn template(&self, sets: &[&str]) -> Result<String, String> {
        self.chart_command(&["template", RELEASE], sets)
    }

    /// The objects the chart renders with `sets`.
    fn render(&self, sets: &[&str]) -> Rendered {
        self.render_with(None, sets)
    }

    /// The objects the chart renders with the values file `values`, then `sets`.
    fn render_with(&self, values: Option<&Path>, sets: &[&str]) -> Rendered {
        let text = self
            .chart_command_with(&["template", RELEASE], values, sets)
            .unwrap_or_else(|e| panic!("helm template {values:?} {sets:?}: {e}"));
        Rendered(documents(&text))
    }

    /// What `helm install` would print after NOTES: (a client-side dry run: no cluster).
    fn notes(&self, values: Option<&Path>, sets: &[&str]) -> String {
        let text = self
            .chart_command_with(&["install", RELEASE, "--dry-run=client"], values, sets)
            .unwrap_or_else(|e| panic!("helm install --dry-run=client {values:?} {sets:?}: {e}"));
        let (_, notes) = text.split_once("\nNOTES:\n").expect("NOTES");
        notes.to_owned()
    }
}

/// The objects `helm template` printed.
struct Rendered(Vec<Value>);

impl Rendered {
    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.0.iter().filter(|o| o["kind"] == kind).collect()
    }

    /// The one object of `kind` named `name` (in `namespace` when given).
    fn one(&self, kind: &str, name: &str, namespace: Option<&str>) -> &Value {
        let found: Vec<_> = self
            .of_kind(kind)
            .into_iter()
            .filter(|o| o["metadata"]["name"] == name)
            .filter(|o| namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns))
            .collect();
        assert_eq!(found.len(), 1, "one {kind} {name} in {namespace:?}");
        found[0]
    }

    fn kinds(&self) -> BTreeSet<String> {
        self.0
            .iter()
            .filter_map(|o| o["kind"].as_str().map(str::to_owned))
            .collect()
    }

    fn container(&self) -> &Value {
        &self.one("Deployment", RELEASE, Some(RELEASE_NAMESPACE))["spec"]["template"]["spec"]["containers"]
            [0]
    }

    fn args(&self) -> Vec<String> {
        strings(&self.container()["args"])
    }

    /// The grants of the Role or ClusterRole `kind`/`name` (in `namespace`).
    fn grants(&self, kind: &str, name: &str, namespace: Option<&str>) -> BTreeSet<String> {
        grants(&self.one(kind, name, namespace)["rules"])
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// RBAC rules as `verb group/resource[name]` lines (`core` for the core group).
fn grants(rules: &Value) -> BTreeSet<String> {
    let mut grants = BTreeSet::new();
    for rule in rules.as_array().expect("rules") {
        let names = strings(&rule["resourceNames"]);
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                for verb in strings(&rule["verbs"]) {
                    let target = format!("{verb} {}/{resource}", api_group(&group));
                    for name in &names {
                        grants.insert(format!("{target}[{name}]"));
                    }
                    if names.is_empty() {
                        grants.insert(target);
                    }
                }
            }
        }
    }
    grants
}

fn api_group(group: &str) -> &str {
    if group.is_empty() { "core" } else { group }
}

/// A fixed table of (verbs, group, resources) as [`grants`] lines.
fn table(rows: &[(&str, &str, &str)]) -> BTreeSet<String> {
    let mut grants = BTreeSet::new();
    for (verbs, group, resources) in rows {
        for verb in verbs.split_whitespace() {
            for resource in resources.split_whitespace() {
                grants.insert(format!("{verb} {}/{resource}", api_group(group)));
            }
        }
    }
    grants
}

/// The ClusterRole of deploy/rbac.yaml, as [`grants`] lines.
fn deploy_cluster_role() -> BTreeSet<String> {
    let objects = documents(&repo_file("deploy/rbac.yaml"));
    let role = objects
        .iter()
        .find(|o| o["kind"] == "ClusterRole")
        .expect("deploy/rbac.yaml has a ClusterRole");
    grants(&role["rules"])
}

#[test]
fn the_charts_crds_are_the_ones_keyward_prints() {
    let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["operator", "crds"])
        .output()
        .expect("keyward operator crds");
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(
        repo_file("charts/keyward/files/crds.yaml") == printed,
        "charts/keyward/files/crds.yaml is stale: run \
         `keyward operator crds > charts/keyward/files/crds.yaml`"
    );
    assert!(
        repo_file("deploy/crds.yaml") == printed,
        "deploy/crds.yaml is stale"
    );
}

#[test]
fn the_chart_lints_strictly_in_every_documented_combination() {
    let Some(helm) = Helm::find() else {
        return;
    };
    for (name, sets) in COMBINATIONS {
        let lint = helm.chart_command(&["lint", "--strict"], sets);
        let text = lint.unwrap_or_else(|e| panic!("helm lint --strict ({name}): {e}"));
        assert!(text.contains("0 chart(s) failed"), "{name}: {text}");
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let eso = eso_values_file(scratch.path());
    let lint = helm.chart_command_with(&["lint", "--strict"], Some(&eso), &[]);
    let text = lint.unwrap_or_else(|e| panic!("helm lint --strict (ESO's values): {e}"));
    assert!(text.contains("0 chart(s) failed"), "ESO's values: {text}");
}

#[test]
fn misspelt_or_invalid_values_are_refused_by_the_schema() {
    let Some(helm) = Helm::find() else {
        return;
    };
    for (set, says) in [
        ("replicaz=3", "additional properties 'replicaz' not allowed"),
        (
            "serviceMonitor.enable=true",
            "additional properties 'enable' not allowed",
        ),
        ("rbac.scope=namespaces", "/rbac/scope"),
        ("crds.create=maybe", "/crds/create"),
        (
            "leaderElection.leaseDuration=15",
            "/leaderElection/leaseDuration",
        ),
        ("watchNamespace=Not_A_Namespace", "/watchNamespace"),
        // ESO's keys are accepted, not their typos.
        (
            "installCRD=false",
            "additional properties 'installCRD' not allowed",
        ),
        (
            "serviceMonitor.additionalLabel.release=x",
            "additional properties 'additionalLabel' not allowed",
        ),
        ("leaderElect=maybe", "/leaderElect"),
        ("scopedNamespace=Not_A_Namespace", "/scopedNamespace"),
        ("log.level=verbose", "/log/level"),
        ("webhook=on", "/webhook"),
        ("extraArgs.restart-burst.deep=1", "/extraArgs"),
    ] {
        let refused = helm.template(&[set]).expect_err(set);
        assert!(refused.contains(says), "{set}: {refused}");
    }
    let refused = helm
        .template(&["leaderElection.enabled=false"])
        .expect_err("two replicas without a leader");
    assert!(
        refused.contains("needs leaderElection.enabled"),
        "{refused}"
    );
    let one = helm.render(&["leaderElection.enabled=false", "replicaCount=1"]);
    assert!(!one.args().contains(&"--enable-leader-election".to_owned()));
    assert!(
        !one.kinds().contains("Role"),
        "no Lease Role without an election"
    );
}

#[test]
fn the_default_renders_keywards_crds_least_rbac_and_a_locked_down_pod() {
    let Some(helm) = Helm::find() else {
        return;
    };
    let rendered = helm.render(DEFAULT);
    let crds = rendered.of_kind("CustomResourceDefinition");
    let expected = documents(&repo_file("deploy/crds.yaml"));
    assert_eq!(crds.len(), expected.len());
    for (crd, expected) in crds.into_iter().zip(&expected) {
        let mut crd = crd.clone();
        let annotations = crd["metadata"]
            .as_object_mut()
            .and_then(|m| m.remove("annotations"))
            .expect("crds.keep annotates the CRDs");
        assert_eq!(annotations, json!({"helm.sh/resource-policy": "keep"}));
        assert_eq!(&crd, expected, "a CRD differs from deploy/crds.yaml");
    }
    let unkept = helm.render(&["crds.keep=false"]);
    let unkept: Vec<_> = unkept
        .of_kind("CustomResourceDefinition")
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(unkept, expected);

    let cluster_role = rendered.grants("ClusterRole", RELEASE, None);
    assert_eq!(cluster_role, table(CLUSTER_WIDE));
    assert_eq!(
        cluster_role,
        deploy_cluster_role(),
        "deploy/rbac.yaml's ClusterRole"
    );
    assert_eq!(
        rendered.grants("Role", "keyward-leader", Some(RELEASE_NAMESPACE)),
        table(LEADER)
    );
    assert_eq!(rendered.of_kind("Role").len(), 1);
    assert_bound(&rendered);

    let deployment = rendered.one("Deployment", RELEASE, Some(RELEASE_NAMESPACE));
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], RELEASE);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = rendered.container();
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}),
        "deploy/deployment.yaml's"
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    let args = rendered.args();
    for flag in [
        "--enable-leader-election",
        "--leader-election-namespace=keyward",
        "--leader-election-id=keyward",
        "--metrics-addr=0.0.0.0:8080",
    ] {
        assert!(args.contains(&flag.to_owned()), "{flag} in {args:?}");
    }
    assert!(
        !args.iter().any(|a| a.starts_with("--namespace")),
        "{args:?}"
    );
    for kind in ["ServiceMonitor", "PrometheusRule", "ConfigMap"] {
        assert!(!rendered.kinds().contains(kind), "{kind} is off by default");
    }
}

#[test]
fn crds_create_false_renders_everything_but_the_crds() {
    let Some(helm) = Helm::find() else {
        return;
    };
    let with = helm.render(DEFAULT);
    let without = helm.render(WITHOUT_CRDS);
    assert!(!without.kinds().contains("CustomResourceDefinition"));
    let others: Vec<_> = with
        .0
        .iter()
        .filter(|o| o["kind"] != "CustomResourceDefinition")
        .cloned()
        .collect();
    assert_eq!(without.0, others);
}

#[test]
fn the_namespaced_install_grants_one_namespace_and_reads_cluster_stores() {
    let Some(helm) = Helm::find() else {
        return;
    };
    let rendered = helm.render(NAMESPACED);
    assert!(rendered.args().contains(&"--namespace=apps".to_owned()));
    let cluster_roles = rendered.of_kind("ClusterRole");
    assert_eq!(
        cluster_roles.len(),
        1,
        "only the cluster stores' ClusterRole"
    );
    assert_eq!(
        grants(&cluster_roles[0]["rules"]),
        table(NAMESPACE_CLUSTER_ROLE)
    );
    assert_eq!(
        rendered.grants("Role", RELEASE, Some(WATCHED)),
        table(NAMESPACE_ROLE)
    );
    assert_eq!(
        rendered.grants("Role", "keyward-keyward-events", Some("default")),
        table(CLUSTER_STORE_EVENTS)
    );
    assert_eq!(
        rendered.grants("Role", "keyward-fingerprint-key", Some(RELEASE_NAMESPACE)),
        table(FINGERPRINT_KEY)
    );
    assert_eq!(
        rendered.grants("Role", "keyward-leader", Some(RELEASE_NAMESPACE)),
        table(LEADER)
    );
    assert_eq!(rendered.of_kind("Role").len(), 4);
    assert_bound(&rendered);

    // Watching the release namespace itself: its Role covers the fingerprint key.
    let own = helm.render(&["rbac.scope=namespace"]);
    assert!(own.args().contains(&"--namespace=keyward".to_owned()));
    assert_eq!(
        own.grants("Role", RELEASE, Some(RELEASE_NAMESPACE)),
        table(NAMESPACE_ROLE)
    );
    assert_eq!(
        own.of_kind("Role").len(),
        3,
        "no separate fingerprint key Role"
    );
}

#[test]
fn monitoring_renders_the_service_monitor_rules_and_dashboard_of_its_files() {
    let Some(helm) = Helm::find() else {
        return;
    };
    let rendered = helm.render(MONITORING);
    let service = rendered.one("Service", "keyward-metrics", Some(RELEASE_NAMESPACE));
    let monitor = rendered.one("ServiceMonitor", RELEASE, Some(RELEASE_NAMESPACE));
    let selector = monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels");
    for (key, value) in selector {
        assert_eq!(
            &service["metadata"]["labels"][key], value,
            "the Service has {key}"
        );
    }
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"],
        service["spec"]["ports"][0]["name"]
    );
    assert_eq!(
        monitor["spec"]["endpoints"][0]["honorLabels"], true,
        "the ExternalSecret metrics keep their namespace label (not exported_namespace)"
    );
    assert_eq!(
        monitor["spec"]["namespaceSelector"]["matchNames"],
        json!(["keyward"])
    );

    let rules = documents(&repo_file("charts/keyward/files/prometheus-rules.yaml"));
    let rule = rendered.one("PrometheusRule", RELEASE, Some(RELEASE_NAMESPACE));
    assert_eq!(rule["spec"]["groups"], rules[0]["groups"]);
    let groups = rule["spec"]["groups"].as_array().expect("groups");
    assert!(
        !groups.is_empty(),
        "the PrometheusRule has the file's groups"
    );

    let dashboard = rendered.one("ConfigMap", "keyward-dashboard", Some(RELEASE_NAMESPACE));
    assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(
        dashboard["data"]["keyward.json"],
        repo_file("charts/keyward/files/grafana-dashboard.json")
    );
}

#[test]
fn an_eso_values_file_installs_keyward_as_it_means() {
    let Some(helm) = Helm::find() else {
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    let eso = eso_values_file(scratch.path());
    let rendered = helm.render_with(Some(&eso), &[]);

    // installCRDs: false; no webhook, cert controller or anything else of ESO's.
    let kinds: BTreeSet<&str> = [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
        "ServiceMonitor",
        "PodDisruptionBudget",
    ]
    .into();
    assert_eq!(
        rendered.kinds(),
        kinds.iter().map(|k| (*k).to_owned()).collect()
    );

    let deployment = rendered.one("Deployment", RELEASE, Some(RELEASE_NAMESPACE));
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        rendered.args(),
        [
            "operator",
            "run",
            "--metrics-addr=0.0.0.0:8080",
            "--controller-class=platform",
            "--concurrent=4",
            "--fingerprint-key-secret=keyward/keyward-fingerprint-key",
            // scopedNamespace with scopedRBAC: a namespaced install.
            "--namespace=apps",
            "--enable-leader-election",
            "--leader-election-namespace=keyward",
            "--leader-election-id=keyward",
            "--leader-election-lease-duration=15s",
            // ESO's extraArgs map: keyward's own flag passed, ESO's left out.
            "--restarts-per-minute=10",
        ]
    );
    let container = rendered.container();
    assert_eq!(
        container["image"], "keyward:0.1.0",
        "ESO's image is never run"
    );
    let env = &container["env"];
    assert!(
        env.as_array()
            .expect("env")
            .contains(&json!({"name": "KEYWARD_LOG_LEVEL", "value": "debug"})),
        "log.level: {env}"
    );
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "10m", "memory": "96Mi"}, "limits": {"memory": "192Mi"}})
    );
    let pod = &deployment["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"]["team"], "platform");
    assert_eq!(
        pod["metadata"]["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"],
        "true"
    );
    let spec = &pod["spec"];
    assert_eq!(spec["serviceAccountName"], ESO_SERVICE_ACCOUNT);
    assert_eq!(spec["priorityClassName"], "system-cluster-critical");
    assert_eq!(spec["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
    assert_eq!(spec["tolerations"][0]["key"], "dedicated");
    assert_eq!(
        spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"],
        100
    );
    // keyward's locked-down defaults stay.
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);

    let account = rendered.one(
        "ServiceAccount",
        ESO_SERVICE_ACCOUNT,
        Some(RELEASE_NAMESPACE),
    );
    assert_eq!(
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/external-secrets"
    );

    // The namespaced install's RBAC, exactly, bound to ESO's ServiceAccount name.
    assert_eq!(
        rendered.grants("Role", RELEASE, Some(WATCHED)),
        table(NAMESPACE_ROLE)
    );
    let cluster_roles = rendered.of_kind("ClusterRole");
    assert_eq!(cluster_roles.len(), 1);
    assert_eq!(
        grants(&cluster_roles[0]["rules"]),
        table(NAMESPACE_CLUSTER_ROLE)
    );
    assert_eq!(
        rendered.grants("Role", "keyward-leader", Some(RELEASE_NAMESPACE)),
        table(LEADER)
    );
    assert_bound_to(&rendered, ESO_SERVICE_ACCOUNT);

    let monitor = rendered.one("ServiceMonitor", RELEASE, Some(RELEASE_NAMESPACE));
    assert_eq!(
        monitor["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["interval"], "60s");
    assert_eq!(endpoint["scrapeTimeout"], "30s");
    assert_eq!(endpoint["honorLabels"], true);
    let service = rendered.one("Service", "keyward-metrics", Some(RELEASE_NAMESPACE));
    assert_eq!(service["spec"]["ports"][0]["port"], 8080);
    let budget = rendered.one("PodDisruptionBudget", RELEASE, Some(RELEASE_NAMESPACE));
    assert_eq!(budget["spec"]["minAvailable"], 1);
    assert_eq!(
        budget["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );

    // What keyward does not honour, said at install time.
    let notes = helm.notes(Some(&eso), &[]);
    assert!(notes.contains("watching apps only"), "{notes}");
    assert!(notes.contains("crds.create=false"), "{notes}");
    for warning in [
        "extraArgs: enable-flood-gate, store-requeue-interval left out",
        "image: External Secrets Operator's image (ghcr.io/external-secrets/external-secrets:v0.16.2) ignored",
        "log.timeEncoding: \"iso8601\" ignored",
        "webhook, certController: ignored",
    ] {
        assert!(
            notes.contains(&format!("  - {warning}")),
            "{warning}:\n{notes}"
        );
    }
    assert_eq!(notes.matches("\n  - ").count(), 4, "{notes}");

    // And `keyward operator run` takes the arguments rendered (it goes on to connect).
    assert_operator_accepts(&rendered.args(), scratch.path());
}

/// `keyward operator run` parses `args` (the rendered Deployment's): without a cluster it
/// stops at connecting, where an argument it does not know stops it with a usage error.
fn assert_operator_accepts(args: &[String], dir: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .env("KUBECONFIG", dir.join("no-kubeconfig"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env("POD_NAME", POD)
        .output()
        .expect("keyward operator run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains("connecting to the cluster"),
        "{args:?}: {stderr}"
    );
}

#[test]
fn esos_keys_map_onto_keywards_and_keywards_own_win() {
    let Some(helm) = Helm::find() else {
        return;
    };
    let has = |rendered: &Rendered, arg: &str| rendered.args().iter().any(|a| a == arg);

    // scopedNamespace alone watches one namespace with the cluster-wide RBAC, as ESO's chart.
    let scoped = helm.render(&["scopedNamespace=apps"]);
    assert!(has(&scoped, "--namespace=apps"));
    assert_eq!(
        scoped.grants("ClusterRole", RELEASE, None),
        table(CLUSTER_WIDE)
    );
    // keyward's rbac.scope and watchNamespace win over scopedNamespace.
    let own = helm.render(&[
        "scopedNamespace=apps",
        "scopedRBAC=true",
        "rbac.scope=namespace",
        "watchNamespace=other",
    ]);
    assert!(has(&own, "--namespace=other"));
    assert_eq!(
        own.grants("Role", RELEASE, Some("other")),
        table(NAMESPACE_ROLE)
    );

    // installCRDs=false or crds.create=false: no CRDs.
    for sets in [
        &["installCRDs=false"][..],
        &["installCRDs=true", "crds.create=false"],
    ] {
        let rendered = helm.render(sets);
        assert!(
            !rendered.kinds().contains("CustomResourceDefinition"),
            "{sets:?}"
        );
    }
    assert!(
        helm.render(&["installCRDs=true"])
            .kinds()
            .contains("CustomResourceDefinition")
    );

    // leaderElect=false turns the election off for one replica only, and says so for more.
    let two = ["leaderElect=false"];
    assert!(has(&helm.render(&two), "--enable-leader-election"));
    let notes = helm.notes(None, &two);
    assert!(
        notes.contains("leaderElect: false ignored: keyward elects a leader"),
        "{notes}"
    );
    let one = helm.render(&["leaderElect=false", "replicaCount=1"]);
    assert!(!has(&one, "--enable-leader-election"));
    assert!(!one.kinds().contains("Role"), "no Lease Role");

    // ESO's extraArgs map: its mapped flags override as in ESO's chart (concurrent,
    // leader election), keyward's switches are bare, keyward's list shape passes as it is.
    let map = helm.render(&[
        "replicaCount=1",
        "extraArgs.concurrent=7",
        "extraArgs.leader-elect=false",
        "extraArgs.audit-stdout=true",
        "extraArgs.restart-burst=3",
        "extraArgs.loglevel=debug",
    ]);
    let args = map.args();
    assert!(has(&map, "--concurrent=7"), "{args:?}");
    assert!(!has(&map, "--concurrent=16"), "{args:?}");
    assert!(!has(&map, "--enable-leader-election"), "{args:?}");
    assert!(has(&map, "--audit-stdout"), "{args:?}");
    assert!(has(&map, "--restart-burst=3"), "{args:?}");
    assert!(!args.iter().any(|a| a.contains("loglevel")), "{args:?}");
    let scratch = tempfile::tempdir().expect("tempdir");
    assert_operator_accepts(&args, scratch.path());
    let list = helm.render(&["extraArgs={--restart-burst=3,--audit-stdout}"]);
    assert_eq!(
        list.args()[list.args().len() - 2..],
        ["--restart-burst=3", "--audit-stdout"]
    );

    // ESO's metrics ports, unless keyward's metrics.port is set.
    let ports = helm.render(&["metrics.listen.port=9000", "metrics.service.port=9090"]);
    assert_eq!(ports.container()["ports"][0]["containerPort"], 9000);
    assert!(has(&ports, "--metrics-addr=0.0.0.0:9000"));
    let service = ports.one("Service", "keyward-metrics", Some(RELEASE_NAMESPACE));
    assert_eq!(service["spec"]["ports"][0]["port"], 9090);
    let own_port = helm.render(&["metrics.port=7000", "metrics.service.port=9090"]);
    let service = own_port.one("Service", "keyward-metrics", Some(RELEASE_NAMESPACE));
    assert_eq!(service["spec"]["ports"][0]["port"], 7000);

    // log.level unless keyward's logLevel is set; ESO's dpanic, panic and fatal are errors.
    let level = |sets: &[&str]| {
        let rendered = helm.render(sets);
        rendered.container()["env"]
            .as_array()
            .expect("env")
            .iter()
            .find(|e| e["name"] == "KEYWARD_LOG_LEVEL")
            .expect("KEYWARD_LOG_LEVEL")["value"]
            .clone()
    };
    assert_eq!(level(&["log.level=fatal"]), "error");
    assert_eq!(level(&["log.level=debug", "logLevel=warn"]), "warn");

    // An image that is not ESO's is keyward's, as given.
    let image = helm.render(&[
        "image.repository=registry.example/keyward",
        "image.tag=1.2.3",
    ]);
    assert_eq!(image.container()["image"], "registry.example/keyward:1.2.3");

    // ESO's security contexts: `enabled` is dropped; false renders none.
    let contexts = helm.render(&[
        "podSecurityContext.enabled=false",
        "securityContext.enabled=true",
    ]);
    let deployment = contexts.one("Deployment", RELEASE, Some(RELEASE_NAMESPACE));
    assert!(deployment["spec"]["template"]["spec"]["securityContext"].is_null());
    let security = &contexts.container()["securityContext"];
    assert!(security["enabled"].is_null(), "{security}");
    assert_eq!(security["readOnlyRootFilesystem"], true);

    // rbac.create=false: no RBAC at all.
    let unmanaged = helm.render(&["rbac.create=false"]);
    for kind in ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"] {
        assert!(!unmanaged.kinds().contains(kind), "{kind}");
    }

    // serviceMonitor.labels win over ESO's additionalLabels; ESO's namespace for it.
    let monitor = helm.render(&[
        "serviceMonitor.enabled=true",
        "serviceMonitor.labels.release=mine",
        "serviceMonitor.additionalLabels.release=eso",
        "serviceMonitor.additionalLabels.team=platform",
        "serviceMonitor.namespace=monitoring",
    ]);
    let monitor = monitor.one("ServiceMonitor", RELEASE, Some("monitoring"));
    assert_eq!(monitor["metadata"]["labels"]["release"], "mine");
    assert_eq!(monitor["metadata"]["labels"]["team"], "platform");
    assert_eq!(
        monitor["spec"]["namespaceSelector"]["matchNames"],
        json!([RELEASE_NAMESPACE])
    );

    // ESO's Grafana sidecar label, global scheduling and commonLabels.
    let more = helm.render(&[
        "grafanaDashboard.enabled=true",
        "grafanaDashboard.sidecarLabel=dashboards",
        "global.nodeSelector.pool=system",
        "commonLabels.cost-center=platform",
    ]);
    let dashboard = more.one("ConfigMap", "keyward-dashboard", Some(RELEASE_NAMESPACE));
    assert_eq!(dashboard["metadata"]["labels"]["dashboards"], "1");
    assert!(dashboard["metadata"]["labels"]["grafana_dashboard"].is_null());
    let deployment = more.one("Deployment", RELEASE, Some(RELEASE_NAMESPACE));
    assert_eq!(
        deployment["spec"]["template"]["spec"]["nodeSelector"],
        json!({"pool": "system"})
    );
    assert_eq!(deployment["metadata"]["labels"]["cost-center"], "platform");
    assert!(
        deployment["spec"]["selector"]["matchLabels"]["cost-center"].is_null(),
        "selectors do not change"
    );

    // Without ESO's keys, nothing to warn about.
    assert!(!helm.notes(None, &[]).contains("WARNING"));
}

/// Every RoleBinding and ClusterRoleBinding binds a Role or ClusterRole of the chart (in its
/// namespace) to the chart's ServiceAccount, and every Role and ClusterRole is bound.
fn assert_bound(rendered: &Rendered) {
    assert_bound_to(rendered, RELEASE);
}

/// [`assert_bound`], the ServiceAccount named `service_account`.
fn assert_bound_to(rendered: &Rendered, service_account: &str) {
    let subject = json!([{"kind": "ServiceAccount", "name": service_account, "namespace": RELEASE_NAMESPACE}]);
    let mut bound = BTreeSet::new();
    for (binding, role) in [
        ("RoleBinding", "Role"),
        ("ClusterRoleBinding", "ClusterRole"),
    ] {
        for object in rendered.of_kind(binding) {
            assert_eq!(object["subjects"], subject);
            assert_eq!(object["roleRef"]["kind"], role);
            let name = object["roleRef"]["name"].as_str().expect("roleRef.name");
            let namespace = object["metadata"]["namespace"].as_str();
            rendered.one(role, name, namespace);
            bound.insert((role, name.to_owned(), namespace.map(str::to_owned)));
        }
    }
    for role in ["Role", "ClusterRole"] {
        for object in rendered.of_kind(role) {
            let key = (
                role,
                object["metadata"]["name"]
                    .as_str()
                    .expect("name")
                    .to_owned(),
                object["metadata"]["namespace"].as_str().map(str::to_owned),
            );
            assert!(bound.contains(&key), "{key:?} is bound");
        }
    }
}

/// Minimal CRDs for prometheus-operator's ServiceMonitor and PrometheusRule: the right group,
/// version, kind and scope, any spec.
fn monitoring_crds() -> Vec<Value> {
    [
        ("ServiceMonitor", "servicemonitors"),
        ("PrometheusRule", "prometheusrules"),
    ]
    .into_iter()
    .map(|(kind, plural)| {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.monitoring.coreos.com")},
            "spec": {
                "group": "monitoring.coreos.com",
                "names": {"kind": kind, "plural": plural},
                "scope": "Namespaced",
                "versions": [{
                    "name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": true}}
                }]
            }
        })
    })
    .collect()
}

async fn create_namespace(client: &kube::Client, name: &str) {
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap_or_else(|e| panic!("namespace {name}: {e}"));
}

/// Applies the CustomResourceDefinitions among `objects` for real and waits until the API
/// server serves them.
async fn establish(client: &kube::Client, objects: &[&Value]) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for object in objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
    {
        let crd: CustomResourceDefinition =
            serde_json::from_value((*object).clone()).expect("a CRD");
        let name = crd.metadata.name.clone().expect("name");
        api.patch(
            &name,
            &PatchParams::apply("keyward-helm-test").force(),
            &Patch::Apply(&crd),
        )
        .await
        .unwrap_or_else(|e| panic!("CRD {name}: {e}"));
        let established = kube::runtime::conditions::is_crd_established();
        tokio::time::timeout(
            Duration::from_secs(30),
            kube::runtime::wait::await_condition(api.clone(), &name, established),
        )
        .await
        .expect("established in time")
        .expect("established");
    }
}

/// Server-side applies `object` as the admin: for real, or as a dry run (`dryRun=All`: the API
/// server validates and admits it, RBAC escalation checks included, and stores nothing).
async fn apply(client: &kube::Client, discovery: &kube::Discovery, object: &Value, dry_run: bool) {
    let object: DynamicObject = serde_json::from_value(object.clone()).expect("an object");
    let types = object.types.clone().expect("apiVersion and kind");
    let gvk = GroupVersionKind::try_from(&types).expect("gvk");
    let (resource, capabilities) = discovery
        .resolve_gvk(&gvk)
        .unwrap_or_else(|| panic!("the API server serves no {}", types.kind));
    let api: Api<DynamicObject> = match &object.metadata.namespace {
        Some(namespace) if capabilities.scope == kube::discovery::Scope::Namespaced => {
            Api::namespaced_with(client.clone(), namespace, &resource)
        }
        _ => Api::all_with(client.clone(), &resource),
    };
    let mut params = PatchParams::apply("keyward-helm-test").force();
    params.dry_run = dry_run;
    let name = object.metadata.name.clone().expect("name");
    api.patch(&name, &params, &Patch::Apply(&object))
        .await
        .unwrap_or_else(|e| panic!("{} {name}: {e}", types.kind));
}

async fn discover(client: &kube::Client) -> kube::Discovery {
    kube::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_combination_passes_a_server_side_dry_run() {
    let Some(helm) = Helm::find() else {
        return;
    };
    let kube = Kubernetes::start().await.expect("kube-apiserver");
    let client = kube.admin_client().await.expect("client");
    for namespace in [RELEASE_NAMESPACE, WATCHED] {
        create_namespace(&client, namespace).await;
    }
    // The CRDs for real, or the API server knows none of the objects that need them.
    let monitoring = monitoring_crds();
    establish(&client, &monitoring.iter().collect::<Vec<_>>()).await;
    establish(
        &client,
        &helm.render(DEFAULT).of_kind("CustomResourceDefinition"),
    )
    .await;
    let discovery = discover(&client).await;
    for (name, sets) in COMBINATIONS {
        let rendered = helm.render(sets);
        for object in &rendered.0 {
            apply(&client, &discovery, object, true).await;
        }
        eprintln!("{name}: {} objects accepted (dry run)", rendered.0.len());
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let rendered = helm.render_with(Some(&eso_values_file(scratch.path())), &[]);
    for object in &rendered.0 {
        apply(&client, &discovery, object, true).await;
    }
    eprintln!(
        "ESO's values: {} objects accepted (dry run)",
        rendered.0.len()
    );
}

/// A `keyward operator run` started as the rendered Deployment's container would be: its
/// arguments (metrics on a free local port instead) and environment; killed when dropped.
struct ChartOperator {
    child: Child,
    log: PathBuf,
}

/// The pod name the operator is given (POD_NAME and HOSTNAME, as in a pod).
const POD: &str = "keyward-chart-pod";

impl ChartOperator {
    fn start(rendered: &Rendered, kubeconfig: &Path, dir: &Path) -> Self {
        let metrics = free_port().expect("port");
        let args: Vec<String> = rendered
            .args()
            .into_iter()
            .map(|arg| {
                if arg.starts_with("--metrics-addr=") {
                    format!("--metrics-addr=127.0.0.1:{metrics}")
                } else {
                    arg
                }
            })
            .collect();
        let env = rendered.container()["env"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let values = env
            .iter()
            .filter_map(|e| Some((e["name"].as_str()?, e["value"].as_str()?)));
        let log = dir.join("operator.log");
        let child = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(&args)
            .envs(values)
            .env("POD_NAME", POD)
            .env("HOSTNAME", POD)
            .env("KUBECONFIG", kubeconfig)
            .stderr(std::fs::File::create(&log).expect("log"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start keyward operator run");
        Self { child, log }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ChartOperator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to a minute for `check`, with `what` and the operator's log on failure.
async fn wait_for<F, Fut>(what: &str, operator: &ChartOperator, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "waited a minute for {what}; the operator's log:\n{}",
            operator.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A token of the chart's ServiceAccount.
async fn service_account_token(client: &kube::Client) -> String {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: Some(vec![]),
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), RELEASE_NAMESPACE)
        .create_token_request(RELEASE, &PostParams::default(), &request)
        .await
        .expect("token")
        .status
        .and_then(|status| status.token)
        .expect("a token")
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// The Ready condition's status and reason of `object`.
fn ready(object: &DynamicObject) -> Option<(String, String)> {
    let conditions = object.data.pointer("/status/conditions")?.as_array()?;
    let ready = conditions.iter().find(|c| c["type"] == "Ready")?;
    Some((
        ready["status"].as_str()?.into(),
        ready["reason"].as_str()?.into(),
    ))
}

/// The cluster an installed chart serves: a fake ClusterSecretStore and an ExternalSecret in
/// `namespace` reading it, and one in `unwatched` (when given) that must stay untouched.
async fn create_workload(client: &kube::Client, namespace: &str, unwatched: Option<&str>) {
    let store = resource(
        "external-secrets.io",
        "v1",
        "ClusterSecretStore",
        "clustersecretstores",
    );
    let store_object = json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
        "metadata": {"name": "fake"},
        "spec": {"provider": {"fake": {"data": [{"key": "db", "value": "chart-value-7f3e"}]}}}
    });
    Api::<DynamicObject>::all_with(client.clone(), &store)
        .create(
            &PostParams::default(),
            &serde_json::from_value(store_object).expect("store"),
        )
        .await
        .expect("ClusterSecretStore");
    let es = resource(
        "external-secrets.io",
        "v1",
        "ExternalSecret",
        "externalsecrets",
    );
    for namespace in std::iter::once(namespace).chain(unwatched) {
        let object = json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": "chart", "namespace": namespace},
            "spec": {"secretStoreRef": {"name": "fake", "kind": "ClusterSecretStore"},
                     "data": [{"secretKey": "password", "remoteRef": {"key": "db"}}]}
        });
        Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &es)
            .create(
                &PostParams::default(),
                &serde_json::from_value(object).expect("es"),
            )
            .await
            .expect("ExternalSecret");
    }
}

/// Where the external-secrets.io CRDs of an end-to-end test come from.
#[derive(Clone, Copy)]
enum Crds {
    /// The chart's (keyward's own).
    Chart,
    /// ESO's (`crds.create=false`, as in a cluster switching from ESO).
    Eso,
}

/// Installs the chart rendered with `sets` (the CRDs `crds` says, its ServiceAccount and RBAC
/// for real), runs the operator as its Deployment would with nothing but that ServiceAccount's
/// token, and checks it syncs an ExternalSecret of `watched`, writes its status and event and
/// the store's status, creates the fingerprint key, takes the Lease and leaves `unwatched`
/// alone.
async fn the_operator_works_with_the_charts_rbac(
    sets: &[&str],
    crds: Crds,
    watched: &str,
    unwatched: Option<&str>,
) {
    let Some(helm) = Helm::find() else {
        return;
    };
    let eso = match crds {
        Crds::Eso => match eso_corpus() {
            Some(corpus) => Some(corpus),
            None => return,
        },
        Crds::Chart => None,
    };
    let rendered = helm.render(sets);
    let kube = Kubernetes::start().await.expect("kube-apiserver");
    let client = kube.admin_client().await.expect("client");
    for namespace in [RELEASE_NAMESPACE, watched].into_iter().chain(unwatched) {
        create_namespace(&client, namespace).await;
    }
    match &eso {
        Some(corpus) => kube
            .install_eso_crds(corpus, &ESO_CRDS)
            .await
            .expect("ESO's CRDs"),
        None => establish(&client, &rendered.of_kind("CustomResourceDefinition")).await,
    }
    let discovery = discover(&client).await;
    let installed = [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    ];
    for kind in installed {
        for object in rendered.of_kind(kind) {
            apply(&client, &discovery, object, false).await;
        }
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let kubeconfig = scratch.path().join("kubeconfig");
    let token = service_account_token(&client).await;
    std::fs::write(&kubeconfig, kube.kubeconfig_for_token(&token)).expect("kubeconfig");

    create_workload(&client, watched, unwatched).await;
    let operator = ChartOperator::start(&rendered, &kubeconfig, scratch.path());
    expect_synced(&client, &operator, watched).await;
    expect_store_ready(&client, &operator).await;
    expect_leader(&client, &operator).await;
    let key = Api::<Secret>::namespaced(client.clone(), RELEASE_NAMESPACE)
        .get_opt("keyward-fingerprint-key")
        .await
        .expect("read");
    assert!(key.is_some(), "the fingerprint key Secret was created");
    if let Some(unwatched) = unwatched {
        let es = resource(
            "external-secrets.io",
            "v1",
            "ExternalSecret",
            "externalsecrets",
        );
        let other = Api::<DynamicObject>::namespaced_with(client.clone(), unwatched, &es)
            .get("chart")
            .await
            .expect("ExternalSecret");
        assert_eq!(ready(&other), None, "{unwatched} is not watched");
    }
    let logs = operator.logs();
    assert!(
        !logs.to_ascii_lowercase().contains("forbidden"),
        "the chart's RBAC refused something:\n{logs}"
    );
}

/// The ExternalSecret of `namespace` is Ready, its Secret has the store's value, and an event
/// says so.
async fn expect_synced(client: &kube::Client, operator: &ChartOperator, namespace: &str) {
    let es = resource(
        "external-secrets.io",
        "v1",
        "ExternalSecret",
        "externalsecrets",
    );
    let external_secrets = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &es);
    wait_for("the ExternalSecret to be Ready", operator, || async {
        let object = external_secrets.get("chart").await.ok();
        object.as_ref().and_then(ready) == Some(("True".into(), "SecretSynced".into()))
    })
    .await;
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get("chart")
        .await
        .expect("the target Secret");
    let data = secret.data.unwrap_or_default();
    assert_eq!(
        data.get("password").map(|v| v.0.as_slice()),
        Some(&b"chart-value-7f3e"[..])
    );
    let events = Api::<Event>::namespaced(client.clone(), namespace);
    wait_for("an event about the ExternalSecret", operator, || async {
        let listed = events.list(&Default::default()).await.map(|l| l.items);
        listed
            .unwrap_or_default()
            .iter()
            .any(|event| event.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("chart"))
    })
    .await;
}

/// The ClusterSecretStore's status says Ready.
async fn expect_store_ready(client: &kube::Client, operator: &ChartOperator) {
    let store = resource(
        "external-secrets.io",
        "v1",
        "ClusterSecretStore",
        "clustersecretstores",
    );
    let stores = Api::<DynamicObject>::all_with(client.clone(), &store);
    wait_for("the ClusterSecretStore to be Ready", operator, || async {
        let object = stores.get("fake").await.ok();
        object
            .as_ref()
            .and_then(ready)
            .is_some_and(|(status, _)| status == "True")
    })
    .await;
}

/// The operator holds the chart's Lease in the release namespace.
async fn expect_leader(client: &kube::Client, operator: &ChartOperator) {
    let leases = Api::<Lease>::namespaced(client.clone(), RELEASE_NAMESPACE);
    wait_for("the leader Lease", operator, || async {
        let lease = leases.get_opt(RELEASE).await.ok().flatten();
        let holder = lease.and_then(|l| l.spec).and_then(|s| s.holder_identity);
        holder.is_some_and(|h| h.starts_with(&format!("{POD}_")))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_syncs_and_leads_with_the_default_charts_rbac_alone() {
    the_operator_works_with_the_charts_rbac(DEFAULT, Crds::Chart, WATCHED, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_namespaced_operator_serves_its_namespace_under_esos_crds_with_its_rbac_alone() {
    let sets = [NAMESPACED, WITHOUT_CRDS].concat();
    the_operator_works_with_the_charts_rbac(&sets, Crds::Eso, WATCHED, Some("elsewhere")).await;
}
