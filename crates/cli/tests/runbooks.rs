//! The runbooks in `docs/runbooks/` are executed, so they cannot rot: every ```` ```sh ````
//! block of a runbook runs, in order, in `bash -euo pipefail`, against the real peers: a
//! kube-apiserver with etcd and kube-controller-manager, OpenBao, lowkey-vault (Azure Key
//! Vault), with `keyward`, `kubectl`, `helm` and `bao` on `PATH`. A block that fails fails the
//! test, with its output.
//!
//! What a runbook's reader has and the test machine lacks is played by the harness at points
//! the runbook marks with an HTML comment (invisible when the Markdown is rendered):
//!
//! - `<!-- runbook: the keyward pod runs -->`: the operator starts as a process, with the
//!   admin's kubeconfig, standing in for the pod of deploy/deployment.yaml (no kubelet, no
//!   container runtime here); `<!-- runbook: the keyward pod stops -->` stops it.
//! - `<!-- runbook: Key Vault is down -->` / `<!-- runbook: Key Vault is back -->`: the
//!   connection to lowkey-vault is cut (a TCP relay in front of it refuses connections) and
//!   restored, as an outage looks from the cluster.
//! - `<!-- runbook: ESO was here -->`: ESO's CRDs, an ExternalSecret ESO synced and the
//!   Secret ESO wrote (labels, data-hash, field manager, owner), and ESO's Deployment, as a
//!   cluster running External Secrets Operator has them.
//!
//! Throughout, a loop stands in for the kubelet: pods are marked Running and Ready, which is
//! what the workload controllers wait for.
//!
//! The environment a runbook's blocks see: `KUBECONFIG` (cluster admin), `BAO_ADDR` and
//! `BAO_TOKEN` (the store admin), `AZURE_VAULT_URL` (the Key Vault),
//! `KEYWARD_VAULT_PASSWORD_FILE` (the password of the disaster-recovery bundle), and a working
//! directory with `deploy/` and `charts/` of this repository.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret};
use keyward_test_support::{
    Kubernetes, LowkeyVault, OpenBao, Peer, eso_corpus, or_skip_unavailable, peer_path,
};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::operator::Operator;

/// One step of a runbook: a shell block, or something the harness plays.
#[derive(Debug, PartialEq)]
enum Step {
    Shell { line: usize, script: String },
    Harness { line: usize, action: String },
}

/// The `sh` blocks and harness markers of `markdown`, in order.
fn steps_of(markdown: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut block: Option<(usize, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let number = index + 1;
        if let Some((start, script)) = block.as_mut() {
            if line.trim_start().starts_with("```") {
                steps.push(Step::Shell {
                    line: *start,
                    script: std::mem::take(script),
                });
                block = None;
            } else {
                script.push_str(line);
                script.push('\n');
            }
            continue;
        }
        let trimmed = line.trim();
        if trimmed == "```sh" {
            block = Some((number, String::new()));
        } else if let Some(action) = trimmed
            .strip_prefix("<!-- runbook:")
            .and_then(|rest| rest.strip_suffix("-->"))
        {
            steps.push(Step::Harness {
                line: number,
                action: action.trim().to_owned(),
            });
        }
    }
    assert!(block.is_none(), "an unclosed ```sh block");
    steps
}

#[test]
fn runbook_steps_are_the_sh_blocks_and_the_markers_in_order() {
    let markdown = "# A\n```sh\necho one\n```\n<!-- runbook: the keyward pod runs -->\n```text\nnot run\n```\n```sh\necho two\necho three\n```\n";
    assert_eq!(
        steps_of(markdown),
        vec![
            Step::Shell {
                line: 2,
                script: "echo one\n".into()
            },
            Step::Harness {
                line: 5,
                action: "the keyward pod runs".into()
            },
            Step::Shell {
                line: 9,
                script: "echo two\necho three\n".into()
            },
        ]
    );
}

/// The repository's root.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A TCP relay to `target` that can refuse connections: a store outage as the cluster sees it.
///
/// Going down cuts every connection in flight before [`Relay::set_up`] returns: a pooled
/// keep-alive connection that outlived the cut would let the next store call succeed, and
/// the runbook would wait for a failure that never comes.
struct Relay {
    port: u16,
    up: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn to(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("relay");
        let port = listener.local_addr().expect("address").port();
        let (up, _) = tokio::sync::watch::channel(true);
        let serving = up.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !*serving.borrow() {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                // Subscribed before the connection is relayed, so a cut cannot be missed.
                let mut state = serving.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = state.wait_for(|up| !*up) => {}
                    }
                    // Dropping the receiver tells `set_up(false)` this connection is closed.
                    drop((inbound, outbound));
                    drop(state);
                });
            }
        });
        Self { port, up, task }
    }

    /// Serves again, or cuts Key Vault off: new connections are refused and every open one
    /// is closed before this returns.
    async fn set_up(&self, up: bool) {
        self.up.send_replace(up);
        if up {
            return;
        }
        // Every open connection holds a receiver until it has closed both its ends.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.up.receiver_count() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the relay could not close its connections"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Stands in for the kubelet, which the test machines cannot run (no container runtime):
/// every pod becomes Running and Ready, what the workload controllers wait for.
pub(crate) fn play_kubelet(client: kube::Client) -> tokio::task::JoinHandle<()> {
    let pods: Api<Pod> = Api::all(client.clone());
    tokio::spawn(async move {
        loop {
            for pod in pods
                .list(&ListParams::default())
                .await
                .map(|l| l.items)
                .unwrap_or_default()
            {
                let ready = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                if ready || pod.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let namespace = pod.metadata.namespace.clone().unwrap_or_default();
                let name = pod.metadata.name.clone().unwrap_or_default();
                let now = time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                let status = json!({"status": {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": now},
                    {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}]}});
                let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
                let _ = api
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// Everything a runbook runs against.
struct Stage {
    kube: Kubernetes,
    _controllers: keyward_test_support::PeerProcess,
    bao: OpenBao,
    vault: &'static LowkeyVault,
    relay: Relay,
    dir: tempfile::TempDir,
    bin: PathBuf,
    operator: Option<Operator>,
    _kubelet: tokio::task::JoinHandle<()>,
}

impl Stage {
    async fn new(vault: &'static LowkeyVault) -> Self {
        let kube = Kubernetes::start().await.expect("kube-apiserver");
        let controllers = kube
            .start_workload_controllers()
            .await
            .expect("kube-controller-manager");
        let bao = OpenBao::start().await.expect("openbao");
        let target = vault
            .vault_url()
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        let relay = Relay::to(target).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin");
        let tools = [
            ("keyward", PathBuf::from(env!("CARGO_BIN_EXE_keyward"))),
            ("kubectl", peer(Peer::Kubectl)),
            ("helm", peer(Peer::Helm)),
            ("bao", peer(Peer::Bao)),
        ];
        for (name, path) in tools {
            std::os::unix::fs::symlink(&path, bin.join(name)).expect("symlink");
        }
        for shared in ["deploy", "charts"] {
            std::os::unix::fs::symlink(repo().join(shared), dir.path().join(shared))
                .expect("symlink");
        }
        std::fs::write(dir.path().join("lowkey-ca.pem"), vault.ca_pem()).expect("CA");
        // The disaster-recovery bundle's password, as a password manager would hand it out.
        std::fs::write(
            dir.path().join("dr-password"),
            "correct horse battery staple\n",
        )
        .expect("password file");
        let kubelet = play_kubelet(kube.admin_client().await.expect("client"));
        Self {
            kube,
            _controllers: controllers,
            bao,
            vault,
            relay,
            dir,
            bin,
            operator: None,
            _kubelet: kubelet,
        }
    }

    /// The Key Vault URL through the relay (lowkey-vault's certificate names localhost).
    fn vault_url(&self) -> String {
        format!("https://localhost:{}", self.relay.port)
    }

    fn store_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "SSL_CERT_FILE".into(),
                self.dir.path().join("lowkey-ca.pem").display().to_string(),
            ),
            (
                "AZURE_POD_IDENTITY_AUTHORITY_HOST".into(),
                self.vault.token_authority(),
            ),
        ]
    }

    fn shell(&self, script: &str) -> std::process::Output {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("bash")
            .args(["--noprofile", "--norc", "-euo", "pipefail", "-c", script])
            .current_dir(self.dir.path())
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", self.kube.kubeconfig_path())
            .env("BAO_ADDR", self.bao.address())
            .env("BAO_TOKEN", self.bao.root_token())
            .env("AZURE_VAULT_URL", self.vault_url())
            .env(
                "KEYWARD_VAULT_PASSWORD_FILE",
                self.dir.path().join("dr-password"),
            )
            .envs(self.store_env())
            .env_remove("KEYWARD_LOG")
            .output()
            .expect("bash")
    }

    async fn play(&mut self, action: &str) {
        match action {
            "the keyward pod runs" => {
                let env = self.store_env();
                let pairs: Vec<(&str, &str)> =
                    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                // What the pod of deploy/deployment.yaml runs; the namespace it would read
                // from its ServiceAccount mount is given.
                self.operator = Some(Operator::start_env(
                    self.kube.kubeconfig_path(),
                    self.dir.path(),
                    &[
                        "--enable-leader-election",
                        "--leader-election-namespace",
                        "keyward",
                        "--fingerprint-key-secret",
                        "keyward/keyward-fingerprint-key",
                    ],
                    &pairs,
                ));
            }
            "the keyward pod stops" => self.operator = None,
            "Key Vault is down" => self.relay.set_up(false).await,
            "Key Vault is back" => self.relay.set_up(true).await,
            "ESO was here" => self.eso_was_here().await,
            other => panic!("the harness does not know how to play {other:?}"),
        }
    }

    /// What a cluster running ESO has: its CRDs, a store, an ExternalSecret it synced, the
    /// Secret it wrote, and its Deployment.
    async fn eso_was_here(&self) {
        let corpus = eso_corpus().expect("ESO's corpus");
        self.kube
            .install_eso_crds(
                &corpus,
                &[
                    "externalsecrets",
                    "secretstores",
                    "clustersecretstores",
                    "pushsecrets",
                ],
            )
            .await
            .expect("ESO's CRDs");
        let script = format!(
            r#"
kubectl create namespace apps
kubectl create namespace external-secrets
kubectl -n external-secrets create deployment external-secrets --image=ghcr.invalid/external-secrets:v0.16.2
kubectl -n apps create secret generic bao-token --from-literal=token="$BAO_TOKEN"
bao kv put -mount=secret apps/payments api-key=eso-era-key >/dev/null
kubectl apply -f - <<EOF
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: bao, namespace: apps}}
spec:
  provider:
    vault:
      server: {bao}
      path: secret
      version: v2
      auth: {{tokenSecretRef: {{name: bao-token, key: token}}}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: payments, namespace: apps}}
spec:
  refreshInterval: 1h
  secretStoreRef: {{name: bao}}
  target: {{name: payments}}
  data:
    - {{secretKey: api-key, remoteRef: {{key: apps/payments, property: api-key}}}}
EOF
"#,
            bao = self.bao.address()
        );
        let output = self.shell(&script);
        assert!(output.status.success(), "ESO fixture: {}", text(&output));
        self.eso_secret().await;
    }

    /// The Secret as ESO v0.16 writes it, with the status ESO leaves on its ExternalSecret.
    async fn eso_secret(&self) {
        let client = self.kube.admin_client().await.expect("client");
        let es_resource = kube::core::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("external-secrets.io", "v1", "ExternalSecret"),
            "externalsecrets",
        );
        let external_secrets: Api<kube::api::DynamicObject> =
            Api::namespaced_with(client.clone(), "apps", &es_resource);
        let es = external_secrets
            .get("payments")
            .await
            .expect("ExternalSecret");
        let data: std::collections::BTreeMap<String, k8s_openapi::ByteString> = [(
            "api-key".to_owned(),
            k8s_openapi::ByteString(b"eso-era-key".to_vec()),
        )]
        .into();
        let hash = keyward_operator::eso::data_hash(data.iter().map(|(k, v)| (k, v.0.as_slice())));
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "payments", "namespace": "apps",
                "labels": {"reconcile.external-secrets.io/managed": "true",
                           "reconcile.external-secrets.io/created-by": keyward_operator::eso::created_by("apps", "payments")},
                "annotations": {"reconcile.external-secrets.io/data-hash": hash},
                "ownerReferences": [{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                    "name": "payments", "uid": es.metadata.uid, "controller": true, "blockOwnerDeletion": true}]},
            "data": data,
            "type": "Opaque"
        }))
        .expect("a Secret");
        let secrets: Api<Secret> = Api::namespaced(client, "apps");
        secrets
            .create(
                &PostParams {
                    field_manager: Some("externalsecrets.external-secrets.io/payments".into()),
                    ..PostParams::default()
                },
                &secret,
            )
            .await
            .expect("ESO's Secret");
    }
}

fn peer(peer: Peer) -> PathBuf {
    peer_path(peer).unwrap_or_else(|e| panic!("{e}"))
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `docs/runbooks/NAME.md` on a fresh stage.
async fn run_runbook(name: &str) {
    let Some(vault) = or_skip_unavailable(LowkeyVault::shared().await) else {
        return;
    };
    let path = repo().join("docs/runbooks").join(format!("{name}.md"));
    let markdown = std::fs::read_to_string(&path).expect("the runbook");
    let steps = steps_of(&markdown);
    assert!(
        steps.iter().any(|s| matches!(s, Step::Shell { .. })),
        "{name}: no ```sh block to run"
    );
    let mut stage = Stage::new(vault).await;
    for step in steps {
        match step {
            Step::Harness { action, .. } => stage.play(&action).await,
            Step::Shell { line, script } => {
                let output = stage.shell(&script);
                let mut logs = stage
                    .operator
                    .as_ref()
                    .map(Operator::logs)
                    .unwrap_or_default();
                if !output.status.success()
                    && let Some(operator) = &stage.operator
                {
                    // What it was doing when the block failed: reconciles in progress, queue.
                    logs.push_str("\n--- its metrics:\n");
                    logs.push_str(&operator.metrics().await);
                }
                if !output.status.success() {
                    // The whole log (trace level) for the post-mortem, beside the build.
                    let kept = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                        .join(format!("runbook-{name}-operator.log"));
                    let _ = std::fs::write(&kept, &logs);
                    eprintln!("the operator's whole log: {}", kept.display());
                }
                assert!(
                    output.status.success(),
                    "docs/runbooks/{name}.md, the block at line {line} failed ({}):\n{script}\n--- its output:\n{}\n--- the operator's log (tail):\n{}",
                    output.status,
                    text(&output),
                    logs.lines()
                        .filter(|l| !l.contains("\"level\":\"TRACE\"")
                            && !l.contains("\"level\":\"DEBUG\""))
                        .rev()
                        .take(20)
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                // Shown with --nocapture: what a reader of the runbook sees.
                eprintln!("{name}.md:{line}: ok\n{}", text(&output));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_an_application() {
    run_runbook("onboarding").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_a_secret() {
    run_runbook("rotating-a-secret").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_vault_outage() {
    run_runbook("key-vault-outage").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disaster_recovery_from_the_bundle() {
    run_runbook("disaster-recovery").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_from_eso() {
    run_runbook("switching-from-eso").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_down_or_without_a_leader() {
    run_runbook("operator-down").await;
}

/// Every runbook in docs/runbooks/ has a test above: a new one cannot be left unexecuted.
#[test]
fn every_runbook_is_executed() {
    let this = include_str!("runbooks.rs");
    let dir = repo().join("docs/runbooks");
    for entry in std::fs::read_dir(&dir).expect("docs/runbooks") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("md") || path.ends_with("README.md") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        assert!(
            this.contains(&format!("run_runbook(\"{name}\")")),
            "docs/runbooks/{name}.md has no test running it"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_that_does_not_appear() {
    run_runbook("secret-not-appearing").await;
}
