//! [`Kubernetes`]: a real control plane, etcd plus kube-apiserver, with an admin kubeconfig.
//!
//! The flags follow what controller-runtime's envtest gives a test control plane: a serving
//! certificate from a CA of our own, static-token admin authentication (group
//! `system:masters`), RBAC, and service-account signing keys so token requests work.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use rcgen::KeyPair;
use tempfile::TempDir;

use crate::pki::ServingPki;
use crate::wait::{free_port, http_ok, probe_client, until_ready};
use crate::{HarnessError, Peer, PeerProcess, peer_path};

const PEER: &str = "kubernetes";
const ETCD_READY: Duration = Duration::from_secs(30);
const APISERVER_READY: Duration = Duration::from_secs(90);

/// A running etcd + kube-apiserver pair. Dropping it stops both and removes their data.
#[derive(Debug)]
pub struct Kubernetes {
    // Field order is drop order: the apiserver stops before etcd, then the files go.
    apiserver: PeerProcess,
    etcd: PeerProcess,
    server: String,
    token: String,
    ca_pem: String,
    kubeconfig_path: PathBuf,
    dir: TempDir,
}

impl Kubernetes {
    /// Starts etcd and kube-apiserver on free ports and waits until `/readyz` answers.
    pub async fn start() -> Result<Self, HarnessError> {
        let apiserver_bin = peer_path(Peer::KubeApiserver)?;
        let etcd_bin = peer_path(Peer::Etcd)?;
        let dir = tempfile::Builder::new()
            .prefix("keyward-kube-")
            .tempdir()
            .map_err(|e| HarnessError::prepare(PEER, e))?;
        let pki = Pki::write(dir.path())?;
        let token = format!("admin-{}", free_port()?);
        std::fs::write(
            dir.path().join("tokens.csv"),
            format!("{token},admin,admin-uid,system:masters\n"),
        )
        .map_err(|e| HarnessError::prepare(PEER, e))?;

        let mut etcd = start_etcd(&etcd_bin, dir.path())?;
        let etcd_url = etcd.url.clone();
        let probe = probe_client(None)?;
        let ready_url = format!("{etcd_url}/health");
        until_ready(&mut etcd.process, ETCD_READY, || {
            http_ok(&probe, &ready_url, None)
        })
        .await?;

        let port = free_port()?;
        let args = apiserver_args(dir.path(), &pki, &etcd_url, port);
        let mut apiserver = PeerProcess::spawn(
            "kube-apiserver",
            &apiserver_bin,
            &args,
            dir.path(),
            &[],
            &dir.path().join("kube-apiserver.log"),
        )?;
        let server = format!("https://127.0.0.1:{port}");
        let probe = probe_client(Some(pki.ca_pem.as_bytes()))?;
        let ready_url = format!("{server}/readyz");
        until_ready(&mut apiserver, APISERVER_READY, || {
            http_ok(&probe, &ready_url, Some(&token))
        })
        .await?;

        let kubeconfig_path = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig_path, kubeconfig(&server, &pki.ca_pem, &token))
            .map_err(|e| HarnessError::prepare(PEER, e))?;
        Ok(Self {
            apiserver,
            etcd: etcd.process,
            server,
            token,
            ca_pem: pki.ca_pem,
            kubeconfig_path,
            dir,
        })
    }

    /// The API server URL, `https://127.0.0.1:PORT`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// A bearer token with cluster-admin rights (`system:masters`).
    pub fn admin_token(&self) -> &str {
        &self.token
    }

    /// The PEM of the CA that signed the API server's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A kubeconfig file for the admin user, with one context that is current.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// A kube client with the admin user's rights.
    pub async fn admin_client(&self) -> Result<kube::Client, HarnessError> {
        let fail = |e: String| HarnessError::prepare(PEER, format!("admin client: {e}"));
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig_path)
            .map_err(|e| fail(e.to_string()))?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(|e| fail(e.to_string()))?;
        kube::Client::try_from(config).map_err(|e| fail(e.to_string()))
    }

    /// Creates `namespace` (unless it is `default`) and service accounts in it, each with
    /// its annotations (`(name, [(key, value)])`).
    pub async fn create_service_accounts(
        &self,
        namespace: &str,
        accounts: &[(&str, &[(&str, &str)])],
    ) -> Result<(), HarnessError> {
        use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
        use kube::api::{Api, ObjectMeta, PostParams};
        let fail = |e: kube::Error| HarnessError::prepare(PEER, format!("service accounts: {e}"));
        let client = self.admin_client().await?;
        let meta = |name: &str, annotations: &[(&str, &str)]| ObjectMeta {
            name: Some(name.to_owned()),
            annotations: (!annotations.is_empty()).then(|| {
                annotations
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect()
            }),
            ..ObjectMeta::default()
        };
        if namespace != "default" {
            let created = Namespace {
                metadata: meta(namespace, &[]),
                ..Namespace::default()
            };
            Api::<Namespace>::all(client.clone())
                .create(&PostParams::default(), &created)
                .await
                .map_err(fail)?;
        }
        let api: Api<ServiceAccount> = Api::namespaced(client, namespace);
        for (name, annotations) in accounts {
            let account = ServiceAccount {
                metadata: meta(name, annotations),
                ..ServiceAccount::default()
            };
            api.create(&PostParams::default(), &account)
                .await
                .map_err(fail)?;
        }
        Ok(())
    }

    /// Installs the CRDs of the given `external-secrets.io` kinds (`externalsecrets`,
    /// `secretstores`, …; another group's as `passwords.generators.external-secrets.io`)
    /// from ESO's own CRD files in `corpus` (`config/crds/bases`), as a
    /// cluster running ESO has them, and waits until the API server serves them.
    pub async fn install_eso_crds(
        &self,
        corpus: &Path,
        plurals: &[&str],
    ) -> Result<(), HarnessError> {
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        use kube::api::{Api, PostParams};
        let fail = |e: String| HarnessError::prepare(PEER, format!("ESO CRDs: {e}"));
        let api: Api<CustomResourceDefinition> = Api::all(self.admin_client().await?);
        // `plural` alone is in external-secrets.io; `plural.group` names another group
        // (`passwords.generators.external-secrets.io`).
        fn split(plural: &str) -> (&str, &str) {
            plural
                .split_once('.')
                .unwrap_or((plural, "external-secrets.io"))
        }
        for plural in plurals {
            let (plural, group) = split(plural);
            let path = corpus
                .join("config/crds/bases")
                .join(format!("{group}_{plural}.yaml"));
            let text = std::fs::read_to_string(&path)
                .map_err(|e| fail(format!("{}: {e}", path.display())))?;
            let crd: CustomResourceDefinition = serde_yaml_ng::from_str(&text)
                .map_err(|e| fail(format!("{}: {e}", path.display())))?;
            api.create(&PostParams::default(), &crd)
                .await
                .map_err(|e| fail(format!("creating {plural}: {e}")))?;
        }
        for plural in plurals {
            let (plural, group) = split(plural);
            let name = format!("{plural}.{group}");
            let established = kube::runtime::conditions::is_crd_established();
            let waiting = kube::runtime::wait::await_condition(api.clone(), &name, established);
            tokio::time::timeout(Duration::from_secs(30), waiting)
                .await
                .map_err(|_| fail(format!("{name} never became established")))?
                .map_err(|e| fail(e.to_string()))?;
        }
        Ok(())
    }

    /// A kubeconfig for another user of this cluster, identified by a bearer `token` (a
    /// ServiceAccount's, to test that RBAC is enough).
    pub fn kubeconfig_for_token(&self, token: &str) -> String {
        kubeconfig(&self.server, &self.ca_pem, token)
    }

    /// The kubeconfig's YAML.
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig(&self.server, &self.ca_pem, &self.token)
    }

    /// The directory holding the control plane's files and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts kube-controller-manager against this API server with only its garbage
    /// collector, which deletes objects whose owners are gone. Start it after the CRDs whose
    /// objects it should collect are installed: it discovers resources when it starts (and
    /// again every 30 s). Dropping the returned process stops it.
    pub async fn start_garbage_collector(&self) -> Result<PeerProcess, HarnessError> {
        // Ready once the collector has synced its first view of the resources.
        self.start_controller_manager("garbagecollector", "1", |text| {
            text.contains("synced garbage collector")
                || text.contains("Garbage collector: all resource monitors have synced")
        })
        .await
    }

    /// Starts kube-controller-manager against this API server with the Deployment,
    /// ReplicaSet, StatefulSet, DaemonSet and ServiceAccount controllers (the last gives each
    /// namespace the `default` account pods need) and the garbage collector, so that
    /// workloads really roll out: a changed pod template makes a new ReplicaSet or
    /// ControllerRevision. (No node runs their pods: they stay pending unless a test marks
    /// them ready.) Dropping the process stops it.
    pub async fn start_workload_controllers(&self) -> Result<PeerProcess, HarnessError> {
        // Ready once the deployment controller has started (it logs its name as it starts).
        self.start_controller_manager(
            "deployment,replicaset,statefulset,daemonset,serviceaccount,garbagecollector",
            "2",
            |text| text.to_ascii_lowercase().contains("deployment"),
        )
        .await
    }

    /// kube-controller-manager running `controllers` at log level `verbosity`, ready when its
    /// log satisfies `ready`. No leader election, no serving port (so no delegated
    /// authentication either); its log is named after the controllers.
    async fn start_controller_manager(
        &self,
        controllers: &str,
        verbosity: &str,
        ready: fn(&str) -> bool,
    ) -> Result<PeerProcess, HarnessError> {
        let binary = peer_path(Peer::KubeControllerManager)?;
        let kubeconfig = self.kubeconfig_path.display().to_string();
        let args = [
            format!("--kubeconfig={kubeconfig}"),
            format!("--controllers={controllers}"),
            "--leader-elect=false".to_owned(),
            "--secure-port=0".to_owned(),
            "--use-service-account-credentials=false".to_owned(),
            format!("--v={verbosity}"),
        ];
        let log = self.dir.path().join(format!(
            "kube-controller-manager-{}.log",
            controllers.replace(',', "-")
        ));
        let mut process = PeerProcess::spawn(
            "kube-controller-manager",
            &binary,
            &args,
            self.dir.path(),
            &[],
            &log,
        )?;
        until_ready(&mut process, APISERVER_READY, || {
            let log = log.clone();
            async move { std::fs::read_to_string(&log).is_ok_and(|text| ready(&text)) }
        })
        .await?;
        Ok(process)
    }

    /// The apiserver and etcd processes (for log tails in failing tests).
    pub fn processes(&self) -> [&PeerProcess; 2] {
        [&self.apiserver, &self.etcd]
    }
}

struct Etcd {
    process: PeerProcess,
    url: String,
}

fn start_etcd(binary: &Path, dir: &Path) -> Result<Etcd, HarnessError> {
    let client_port = free_port()?;
    let peer_port = free_port()?;
    let url = format!("http://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let args = [
        "--name=keyward-test".to_owned(),
        format!("--data-dir={}", dir.join("etcd").display()),
        format!("--listen-client-urls={url}"),
        format!("--advertise-client-urls={url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=keyward-test={peer_url}"),
        // Test data is thrown away: skipping fsync makes writes (and so tests) much faster.
        "--unsafe-no-fsync=true".to_owned(),
        "--log-level=warn".to_owned(),
    ];
    let process = PeerProcess::spawn("etcd", binary, &args, dir, &[], &dir.join("etcd.log"))?;
    Ok(Etcd { process, url })
}

fn apiserver_args(dir: &Path, pki: &Pki, etcd_url: &str, port: u16) -> Vec<String> {
    let path = |name: &str| dir.join(name).display().to_string();
    vec![
        format!("--etcd-servers={etcd_url}"),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
        format!("--cert-dir={}", path("apiserver-certs")),
        format!("--tls-cert-file={}", pki.serving_cert.display()),
        format!("--tls-private-key-file={}", pki.serving_key.display()),
        format!("--token-auth-file={}", path("tokens.csv")),
        "--authorization-mode=RBAC".into(),
        format!(
            "--service-account-key-file={}",
            pki.service_account_public_key.display()
        ),
        format!(
            "--service-account-signing-key-file={}",
            pki.service_account_key.display()
        ),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
        // A configuration value for Service IPs, never contacted.
        "--service-cluster-ip-range=10.96.0.0/24".into(),
        "--allow-privileged=true".into(),
        // The default reconciler refuses a loopback advertise address; nothing needs the
        // `kubernetes` Service endpoints in a test cluster.
        "--endpoint-reconciler-type=none".into(),
        // Fewer moving parts at start-up; a test cluster has no load to shape.
        "--enable-priority-and-fairness=false".into(),
        "--v=1".into(),
    ]
}

/// The certificates and keys of a test control plane, written into its directory.
struct Pki {
    ca_pem: String,
    serving_cert: PathBuf,
    serving_key: PathBuf,
    service_account_key: PathBuf,
    service_account_public_key: PathBuf,
}

impl Pki {
    fn write(dir: &Path) -> Result<Self, HarnessError> {
        let serving = ServingPki::generate(PEER, "kube-apiserver")?;
        let service_account_key = KeyPair::generate()
            .map_err(|e| HarnessError::prepare(PEER, format!("service-account key: {e}")))?;
        Ok(Self {
            serving_cert: write_file(dir, "serving.crt", &serving.cert_pem)?,
            serving_key: write_file(dir, "serving.key", &serving.key_pem)?,
            service_account_key: write_file(
                dir,
                "service-account.key",
                &service_account_key.serialize_pem(),
            )?,
            service_account_public_key: write_file(
                dir,
                "service-account.pub",
                &service_account_key.public_key_pem(),
            )?,
            ca_pem: serving.ca_pem,
        })
    }
}

fn write_file(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, HarnessError> {
    let path = dir.join(name);
    std::fs::write(&path, contents)
        .map(|()| path)
        .map_err(|e| HarnessError::prepare(PEER, e))
}

fn kubeconfig(server: &str, ca_pem: &str, token: &str) -> String {
    let ca_data = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: keyward-test
  cluster:
    server: {server}
    certificate-authority-data: {ca_data}
users:
- name: admin
  user:
    token: {token}
contexts:
- name: keyward-test
  context:
    cluster: keyward-test
    user: admin
    namespace: default
current-context: keyward-test
"
    )
}
