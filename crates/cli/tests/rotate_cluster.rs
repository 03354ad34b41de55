//! `keyward rotate --cluster` on a real kube-apiserver with kube-controller-manager running
//! (Deployments, ReplicaSets, StatefulSets and DaemonSets really roll), the operator running,
//! and OpenBao, moto and lowkey-vault (Azure Key Vault) as stores: each rotation writes a new
//! store version, the operator makes the Secret follow and restarts the workloads that opted
//! in (Reloader's annotations, keyward's on the ExternalSecret), `rotate` waits until they
//! have rolled out; a workload without opt-in is left alone. A store that refuses the write
//! and a projection that does not follow before the timeout leave store and Secret as they
//! were. The planted value shows in no output and no operator log.
//!
//! No kubelet runs here (no container runtime on the test machines), so a small loop stands
//! in for it: it marks the pods the controllers create Running and Ready, which is what the
//! ReplicaSet and StatefulSet controllers wait for. Everything else is the real control plane.

use std::time::Instant;

use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use keyward_test_support::{LowkeyClients, LowkeyVault, Moto, OpenBao, or_skip_unavailable};
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use serde_json::json;

use crate::operator::{Cluster, Operator, kube_with_eso_crds, object, resource, wait_until};
use crate::runbooks::play_kubelet;
use crate::util::{command_in, everything, stderr, stdout, with_stdin};

const CANARY: &str = "kw-canary-rotate-cluster-93be";
const AZURE_IDENTITY: &str = "keyward-rotate-cluster";
const AZURE_NAME: &str = "rotate-cluster-api-key";

/// A workload of `kind` named `name` reading Secret `secret` through `envFrom`.
fn workload(
    kind: &str,
    name: &str,
    secret: &str,
    annotations: serde_json::Value,
) -> serde_json::Value {
    let mut spec = json!({"selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}},
                     "spec": {"containers": [{"name": "app", "image": "app:1",
                              "envFrom": [{"secretRef": {"name": secret}}]}]}}});
    if kind != "DaemonSet" {
        spec["replicas"] = json!(1);
    }
    if kind == "StatefulSet" {
        spec["serviceName"] = json!(name);
    }
    json!({"metadata": {"name": name, "namespace": "apps", "annotations": annotations}, "spec": spec})
}

async fn create_workloads(client: &kube::Client) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "apps");
    let stateful_sets: Api<StatefulSet> = Api::namespaced(client.clone(), "apps");
    let daemon_sets: Api<DaemonSet> = Api::namespaced(client.clone(), "apps");
    let auto = json!({"reloader.stakater.com/auto": "true"});
    let parse = |value| serde_json::from_value(value).expect("a workload");
    deployments
        .create(
            &PostParams::default(),
            &parse(workload("Deployment", "web", "db", json!({}))),
        )
        .await
        .expect("web");
    deployments
        .create(
            &PostParams::default(),
            &parse(workload("Deployment", "bystander", "api", json!({}))),
        )
        .await
        .expect("bystander");
    let named = json!({"secret.reloader.stakater.com/reload": "api"});
    stateful_sets
        .create(
            &PostParams::default(),
            &serde_json::from_value(workload("StatefulSet", "cache", "api", named)).expect("sts"),
        )
        .await
        .expect("cache");
    daemon_sets
        .create(
            &PostParams::default(),
            &serde_json::from_value(workload("DaemonSet", "agent", "azure", auto)).expect("ds"),
        )
        .await
        .expect("agent");
}

/// ReplicaSets (Deployments) or ControllerRevisions (StatefulSets, DaemonSets) of `app`:
/// one more per rollout.
async fn revisions(client: &kube::Client, app: &str) -> usize {
    let selector = ListParams::default().labels(&format!("app={app}"));
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "apps");
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "apps");
    let sets = replica_sets
        .list(&selector)
        .await
        .map(|l| l.items.len())
        .unwrap_or(0);
    let history = revisions
        .list(&selector)
        .await
        .map(|l| l.items.len())
        .unwrap_or(0);
    sets + history
}

async fn bao_write(bao: &OpenBao, path: &str, body: serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/secret/{path}", bao.address()))
        .header("X-Vault-Token", bao.root_token())
        .json(&body)
        .send()
        .await
        .expect("OpenBao");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

async fn bao_password(bao: &OpenBao) -> (String, u64) {
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/v1/secret/data/apps/db", bao.address()))
        .header("X-Vault-Token", bao.root_token())
        .send()
        .await
        .expect("OpenBao")
        .json()
        .await
        .expect("json");
    (
        body.pointer("/data/data/password")
            .and_then(|v| v.as_str())
            .expect("password")
            .to_owned(),
        body.pointer("/data/metadata/version")
            .and_then(|v| v.as_u64())
            .expect("version"),
    )
}

/// The stores' credentials as Secrets, and a SecretStore per store.
async fn stores(cluster: &Cluster, bao: &OpenBao, vault: &LowkeyVault) {
    let secret = |name: &str, data: &[(&str, &str)]| Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        string_data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..Secret::default()
    };
    for s in [
        secret("bao-token", &[("token", bao.root_token())]),
        secret("aws-keys", &[("id", "testing"), ("secret", "testing")]),
    ] {
        cluster
            .secrets("apps")
            .create(&PostParams::default(), &s)
            .await
            .expect("Secret");
    }
    let ss = resource("SecretStore", "secretstores");
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), "apps", &ss);
    for (name, provider) in [
        (
            "bao",
            json!({"vault": {"server": bao.address(), "path": "secret", "version": "v2",
                                 "auth": {"tokenSecretRef": {"name": "bao-token", "key": "token"}}}}),
        ),
        (
            "aws",
            json!({"aws": {"service": "SecretsManager", "region": keyward_test_support::MOTO_REGION,
                               "auth": {"secretRef": {
                                   "accessKeyIDSecretRef": {"name": "aws-keys", "key": "id"},
                                   "secretAccessKeySecretRef": {"name": "aws-keys", "key": "secret"}}}}}),
        ),
        (
            "azure",
            json!({"azurekv": {"authType": "ManagedIdentity", "identityId": AZURE_IDENTITY,
                                     "vaultUrl": vault.vault_url()}}),
        ),
    ] {
        let store = object(
            &ss,
            json!({"metadata": {"name": name, "namespace": "apps"}, "spec": {"provider": provider}}),
        );
        api.create(&PostParams::default(), &store)
            .await
            .expect("SecretStore");
    }
    for (name, store, key, annotations) in [
        (
            "db",
            "bao",
            json!({"key": "apps/db", "property": "password"}),
            json!({"keyward.io/restart-readers": "true"}),
        ),
        ("api", "aws", json!({"key": "apps/api"}), json!({})),
        ("azure", "azure", json!({"key": AZURE_NAME}), json!({})),
    ] {
        let es = object(
            &cluster.es,
            json!({
            "metadata": {"name": name, "namespace": "apps", "annotations": annotations},
            "spec": {"secretStoreRef": {"name": store}, "refreshInterval": "1h", "target": {"name": name},
                     "data": [{"secretKey": "value", "remoteRef": key}]}}),
        );
        cluster
            .external_secrets("apps")
            .create(&PostParams::default(), &es)
            .await
            .expect("ExternalSecret");
    }
}

/// The environment both keyward processes need to reach the stores.
struct StoreEnv {
    vars: Vec<(String, String)>,
}

impl StoreEnv {
    fn new(dir: &std::path::Path, moto: &Moto, vault: &LowkeyVault) -> Self {
        let ca = dir.join("lowkey-ca.pem");
        std::fs::write(&ca, vault.ca_pem()).expect("CA file");
        Self {
            vars: vec![
                ("AWS_ENDPOINT_URL".into(), moto.endpoint().to_owned()),
                ("SSL_CERT_FILE".into(), ca.display().to_string()),
                (
                    "AZURE_POD_IDENTITY_AUTHORITY_HOST".into(),
                    vault.token_authority(),
                ),
            ],
        }
    }

    fn pairs(&self) -> Vec<(&str, &str)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

fn rotate(
    dir: &std::path::Path,
    kubeconfig: &std::path::Path,
    env: &StoreEnv,
    args: &[&str],
) -> std::process::Command {
    let mut command = command_in(
        dir,
        &[
            "--log-level",
            "trace",
            "--output",
            "json",
            "rotate",
            "--cluster",
        ],
    );
    command
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .envs(env.pairs());
    command
}

fn steps(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(stdout(output).trim())
        .unwrap_or_else(|e| panic!("JSON report ({e}): {}", everything(output)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_through_the_cluster_roll_the_workloads_that_follow() {
    let Some(kube) =
        kube_with_eso_crds(&["externalsecrets", "secretstores", "clustersecretstores"]).await
    else {
        return;
    };
    let Some(vault) = or_skip_unavailable(LowkeyVault::shared().await) else {
        return;
    };
    let _controllers = kube
        .start_workload_controllers()
        .await
        .expect("kube-controller-manager");
    let bao = OpenBao::start().await.expect("openbao");
    let moto = Moto::start().await.expect("moto");
    let aws = aws_sdk_secretsmanager::Client::new(&moto.admin_config().await);
    let lowkey = LowkeyClients::new(vault).expect("lowkey clients");
    let cluster = Cluster::of(&kube).await;
    cluster.namespace("apps").await;
    let _kubelet = play_kubelet(cluster.client.clone());

    // The stores hold the first values; OpenBao's and Key Vault's keys are not keyward's yet
    // (rotate --force takes them over), moto's is tagged managed-by=keyward.
    bao_write(
        &bao,
        "data/apps/db",
        json!({"data": {"password": "old-db", "user": "app"}}),
    )
    .await;
    aws.create_secret()
        .name("apps/api")
        .secret_string("old-api")
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("managed-by")
                .value("keyward")
                .build(),
        )
        .send()
        .await
        .expect("seed moto");
    lowkey
        .put_secret(AZURE_NAME, "old-azure", &[("team", "payments")], None)
        .await
        .expect("seed lowkey");
    stores(&cluster, &bao, vault).await;
    create_workloads(&cluster.client).await;

    let scratch = tempfile::tempdir().expect("tempdir");
    let env = StoreEnv::new(scratch.path(), &moto, vault);
    let operator = Operator::start_env(kube.kubeconfig_path(), scratch.path(), &[], &env.pairs());
    cluster.wait_data("apps", "db", "value", "old-db").await;
    cluster.wait_data("apps", "api", "value", "old-api").await;
    cluster
        .wait_data("apps", "azure", "value", "old-azure")
        .await;
    for app in ["web", "bystander", "cache", "agent"] {
        wait_until("the first rollout", || async {
            revisions(&cluster.client, app).await == 1
        })
        .await;
    }
    let kubeconfig = kube.kubeconfig_path();
    let dir = scratch.path();

    // --dry-run names the write, the ExternalSecret and the workloads, and changes nothing.
    let output = rotate(
        dir,
        kubeconfig,
        &env,
        &["--secret", "apps/db", "--generate", "--force", "--dry-run"],
    )
    .output()
    .expect("rotate");
    assert_eq!(output.status.code(), Some(0), "{}", everything(&output));
    let plan = steps(&output).to_string();
    assert!(
        plan.contains("Deployment/web") && plan.contains("force-sync"),
        "{plan}"
    );
    assert_eq!(bao_password(&bao).await, ("old-db".to_owned(), 1));

    // OpenBao, through --force: a generated password; the Deployment web (its
    // ExternalSecret opted every reader in) restarts and rolls out before rotate returns.
    let started = Instant::now();
    let output = rotate(
        dir,
        kubeconfig,
        &env,
        &[
            "--secret",
            "apps/db",
            "--generate",
            "--force",
            "--timeout",
            "60s",
            "--rollout-timeout",
            "90s",
        ],
    )
    .output()
    .expect("rotate");
    let rotate_to_rollout = started.elapsed();
    if output.status.code() != Some(0) {
        let logs = operator.logs();
        let tail: Vec<&str> = logs.lines().filter(|l| l.contains("db")).collect();
        eprintln!(
            "OPERATOR: {}",
            tail[tail.len().saturating_sub(30)..].join("\n")
        );
        eprintln!(
            "SECRET: {:?}",
            cluster
                .secrets("apps")
                .get("db")
                .await
                .map(|s| s.metadata.annotations)
        );
    }
    assert_eq!(output.status.code(), Some(0), "{}", everything(&output));
    let report = steps(&output);
    let consumers = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == "consumers")
        .cloned()
        .expect("a consumers step");
    assert!(
        consumers["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Deployment/web")),
        "{consumers}"
    );
    assert_eq!(
        revisions(&cluster.client, "web").await,
        2,
        "web rolled out once"
    );
    let (password, version) = bao_password(&bao).await;
    assert_ne!(password, "old-db");
    assert_eq!(version, 2);
    cluster.wait_data("apps", "db", "value", &password).await;
    assert!(
        !everything(&output).contains(&password),
        "the generated password was printed"
    );
    eprintln!(
        "from keyward rotate to the rolled-out Deployment (OpenBao, generated): {:.1} s",
        rotate_to_rollout.as_secs_f64()
    );

    // moto, from standard input: the StatefulSet that names the Secret (Reloader's
    // annotation) rolls; the Deployment that reads it without opting in does not.
    let output = with_stdin(
        rotate(
            dir,
            kubeconfig,
            &env,
            &[
                "--audit-log",
                "audit.jsonl",
                "--state-dir",
                "state",
                "--secret",
                "apps/api",
                "--from-stdin",
                "--timeout",
                "60s",
                "--rollout-timeout",
                "90s",
            ],
        ),
        CANARY.as_bytes(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", everything(&output));
    assert!(
        !everything(&output).contains(CANARY),
        "the canary leaked: {}",
        everything(&output)
    );
    assert!(steps(&output).to_string().contains("StatefulSet/cache"));
    assert_eq!(
        revisions(&cluster.client, "cache").await,
        2,
        "cache rolled out"
    );
    assert_eq!(
        revisions(&cluster.client, "bystander").await,
        1,
        "a workload without opt-in was restarted"
    );
    cluster.wait_data("apps", "api", "value", CANARY).await;
    // Each step is in the signed audit log, which verifies, and holds no value.
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).expect("audit log");
    assert!(!audit.contains(CANARY), "the canary is in the audit log");
    for event in [
        "rotation.store",
        "rotation.projection",
        "rotation.consumers",
    ] {
        assert!(
            audit.contains(&format!("\"event\":\"{event}\"")),
            "{event} missing: {audit}"
        );
    }
    let key = command_in(dir, &["audit", "key", "--state-dir", "state"])
        .output()
        .expect("audit key");
    let public = stdout(&key);
    let verified = command_in(
        dir,
        &["audit", "verify", "audit.jsonl", "--key", public.trim()],
    )
    .output()
    .expect("audit verify");
    assert_eq!(verified.status.code(), Some(0), "{}", everything(&verified));

    // Key Vault (lowkey-vault), through --force: the DaemonSet with Reloader's auto
    // annotation restarts (no node runs its pods, so its rollout is a new revision).
    let output = with_stdin(
        rotate(
            dir,
            kubeconfig,
            &env,
            &[
                "--secret",
                "apps/azure",
                "--from-stdin",
                "--force",
                "--timeout",
                "60s",
                "--rollout-timeout",
                "90s",
            ],
        ),
        b"new-azure\n",
    );
    assert_eq!(output.status.code(), Some(0), "{}", everything(&output));
    assert!(steps(&output).to_string().contains("DaemonSet/agent"));
    assert_eq!(
        revisions(&cluster.client, "agent").await,
        2,
        "agent restarted"
    );
    let stored = lowkey
        .secret(AZURE_NAME)
        .await
        .expect("read lowkey")
        .expect("secret");
    assert_eq!(stored.value.as_deref(), Some("new-azure"));
    let tags = stored.tags.unwrap_or_default();
    assert_eq!(tags.get("managed-by").map(String::as_str), Some("keyward"));
    assert_eq!(
        tags.get("team").map(String::as_str),
        Some("payments"),
        "other tags kept"
    );
    cluster
        .wait_data("apps", "azure", "value", "new-azure")
        .await;

    // The store refuses the write (Key Vault's key is keyward's now, moto gets a key that is
    // not): exit 20, store and Secret unchanged, nothing restarted.
    aws.create_secret()
        .name("apps/other")
        .secret_string("theirs")
        .send()
        .await
        .expect("seed");
    let es = object(
        &cluster.es,
        json!({"metadata": {"name": "other", "namespace": "apps"},
        "spec": {"secretStoreRef": {"name": "aws"}, "target": {"name": "other"},
                 "data": [{"secretKey": "value", "remoteRef": {"key": "apps/other"}}]}}),
    );
    cluster
        .external_secrets("apps")
        .create(&PostParams::default(), &es)
        .await
        .expect("ExternalSecret");
    cluster.wait_data("apps", "other", "value", "theirs").await;
    let output = rotate(
        dir,
        kubeconfig,
        &env,
        &["--secret", "apps/other", "--generate"],
    )
    .output()
    .expect("rotate");
    assert_eq!(output.status.code(), Some(20), "{}", everything(&output));
    assert!(
        stderr(&output).contains("managed-by"),
        "{}",
        stderr(&output)
    );
    let theirs = aws
        .get_secret_value()
        .secret_id("apps/other")
        .send()
        .await
        .expect("read moto");
    assert_eq!(theirs.secret_string(), Some("theirs"));

    // The projection does not follow (no operator): after --timeout the previous value is
    // the store's current version again and the Secret is as it was.
    let logs = operator.logs();
    drop(operator);
    let before = cluster.secrets("apps").get("db").await.expect("db");
    let output = rotate(
        dir,
        kubeconfig,
        &env,
        &["--secret", "apps/db", "--generate", "--timeout", "5s"],
    )
    .output()
    .expect("rotate");
    assert_eq!(output.status.code(), Some(30), "{}", everything(&output));
    let (restored, version) = bao_password(&bao).await;
    assert_eq!(restored, password, "the previous value is current again");
    assert_eq!(version, 4, "written, then written back");
    let after = cluster.secrets("apps").get("db").await.expect("db");
    assert_eq!(after.data, before.data, "the Secret is unchanged");
    assert!(steps(&output).to_string().contains("restore"));

    assert!(
        !logs.contains(CANARY),
        "the canary is in the operator's log"
    );
    assert!(
        !logs.contains(&password),
        "a generated password is in the operator's log"
    );
}
