//! ESO's own documentation snippets, run through `keyward sync` against real peers.
//!
//! Every `external-secrets.io/v1` ExternalSecret snippet in the compatibility corpus
//! (../shared/eso-compat) whose store is one keyward serves runs here: the store it names is
//! created for the peer (OpenBao for `vault`, moto for `aws`, lowkey-vault for `azurekv`, ESO's
//! `fake` provider), the keys, properties and tags it reads are seeded there first, and
//! `keyward sync` must project it.
//! Provider-agnostic snippets (templates, rewrites, find) run on OpenBao; a snippet that names
//! no store gets the peer's store as its `secretStoreRef`. The test prints which snippets ran
//! where, and which did not and why; a snippet expected to fail must fail for the stated reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use keyward_api::{Document, ExternalSecret, StoreKind, load};
use keyward_test_support::{LowkeyClients, LowkeyVault, Moto, OpenBao, or_skip_unavailable};

/// Where a snippet runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Peer {
    OpenBao,
    MotoSecretsManager,
    MotoParameterStore,
    LowkeyVault,
    Fake,
}

/// Snippets whose templates need real key material (certificates, JWKs, RSA ciphertext):
/// the template crate's differential corpus covers those functions.
const NEEDS_KEY_MATERIAL: [&str; 7] = [
    "certsans-template-v2-external-secret.yaml",
    "filtercertchain-template-v2-external-secret.yaml",
    "filterpem-template-v2-external-secret.yaml",
    "jwk-template-v2-external-secret.yaml",
    "pkcs12-template-v1-external-secret.yaml",
    "pkcs12-template-v2-external-secret.yaml",
    "rsadecrypt-template-v2-external-secret.yaml",
];

/// Azure Key Vault secrets the snippets read as a certificate's backing secret (its base64
/// PKCS#12): seeded by creating the certificate.
const AZURE_CERTIFICATE_BACKED: [&str; 1] = ["tls-client-credentials"];

/// The managed identity the azurekv stores use; its token requests carry it.
const AZURE_IDENTITY: &str = "keyward-eso-snippets";

/// Snippets that must fail, and the words their error must contain.
const EXPECTED_FAILURES: [(&str, &str); 5] = [
    // The snippet's version is a placeholder word; Vault versions are numbers.
    ("basic-external-secret.yaml", "spec.data[0]"),
    // `templateFrom[].target` as a path into a generic `target.manifest` (ESO 2.x) shapes
    // cluster objects; a host projects Secrets' keys only.
    (
        "manifest-advanced-path.yaml",
        "'spec.database' is not one of Data, Labels, Annotations",
    ),
    // The snippet passes a hash type to `htpasswd`, which only ESO 0.16's Sprig fork took
    // (`replace … => github.com/external-secrets/sprig/v3` in its go.mod). ESO 1.x builds with
    // Masterminds Sprig v3.3.0 again (no replace in v1.3.2's go.mod), whose `htpasswd` takes
    // two arguments: current ESO fails on this snippet as keyward does.
    (
        "template-v2-literal-example.yaml",
        "wrong number of args for htpasswd: want 2 got 3",
    ),
    // The template makes the fetched user name part of a key name; the seeded value (a JSON
    // object, as for every seeded key) holds '/' and quotes, which no Secret key may hold:
    // the API server would refuse ESO's Secret the same way.
    ("template-v2-from-secret.yaml", "is not a valid Secret key"),
    // The template reads `.now`, which the snippet never fetches: ESO's missingkey=error
    // fails it the same way.
    (
        "template-v2-scope-and-target.yaml",
        "map has no entry for key \\\"now\\\"",
    ),
];

/// The peer a snippet's store stands for, from the snippet's file name and the store's name;
/// `None`: a provider keyward does not serve.
fn peer_for(file: &str, store: &str) -> Option<Peer> {
    let store = store.to_ascii_lowercase();
    if file.starts_with("fake-") || store == "fake" {
        return Some(Peer::Fake);
    }
    if file.starts_with("azkv-") {
        return Some(Peer::LowkeyVault);
    }
    if store.contains("parameter") {
        return Some(Peer::MotoParameterStore);
    }
    if file.starts_with("aws-sm")
        || store.contains("secretsmanager")
        || store == "cluster-secrets-store"
    {
        return Some(Peer::MotoSecretsManager);
    }
    if file.starts_with("vault-") || store.contains("vault") {
        return Some(Peer::OpenBao);
    }
    let agnostic = [
        "basic-",
        "getallsecrets-",
        "datafrom-",
        "multiline-",
        "template-",
        "merge-",
        "multikey-",
        "helm-",
    ];
    agnostic
        .iter()
        .any(|prefix| file.starts_with(prefix))
        .then_some(Peer::OpenBao)
}

/// One snippet to run.
struct Snippet {
    file: String,
    text: String,
    external_secrets: Vec<ExternalSecret>,
    peer: Peer,
    /// It holds v1 Secrets (template sources): run with --allow-plaintext-secrets.
    plaintext_secrets: bool,
}

fn snippets(corpus: &Path) -> (Vec<Snippet>, Vec<(String, String)>) {
    let mut runnable = Vec::new();
    let mut not_run = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join("docs/snippets"))
        .expect("snippets dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for path in files {
        let file = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let raw = std::fs::read_to_string(&path).expect("read");
        if !raw.contains("kind: ExternalSecret") {
            continue;
        }
        if NEEDS_KEY_MATERIAL.contains(&file.as_str()) {
            not_run.push((
                file,
                "needs real key material (covered by the template corpus)".into(),
            ));
            continue;
        }
        let text: String = raw
            .lines()
            .filter(|line| !matches!(line.trim(), "{% raw %}" | "{% endraw %}"))
            .map(|line| format!("{line}\n"))
            .collect();
        let Ok(documents) = load::from_str(&text, &file) else {
            not_run.push((
                file,
                "not a valid external-secrets.io/v1 manifest (negative sample)".into(),
            ));
            continue;
        };
        let mut external_secrets = Vec::new();
        let mut others = false;
        let mut plaintext_secrets = false;
        for document in documents {
            match document {
                Document::ExternalSecret(es) => external_secrets.push(*es),
                // Template sources: ConfigMaps are read as given; Secrets need the flag.
                Document::ConfigMap(_) => {}
                Document::Secret(_) => plaintext_secrets = true,
                _ => others = true,
            }
        }
        if external_secrets.is_empty() || others {
            not_run.push((file, "holds kinds keyward sync does not read".into()));
            continue;
        }
        if external_secrets.iter().any(uses_generators) {
            not_run.push((
                file,
                "uses generators (not served by keyward sync yet)".into(),
            ));
            continue;
        }
        let store = external_secrets[0]
            .spec
            .secret_store_ref
            .as_ref()
            .map(|r| r.name.clone())
            .unwrap_or_default();
        match peer_for(&file, &store) {
            Some(peer) => runnable.push(Snippet {
                file,
                text,
                external_secrets,
                peer,
                plaintext_secrets,
            }),
            None => not_run.push((
                file,
                format!("store '{store}': a provider keyward does not serve"),
            )),
        }
    }
    (runnable, not_run)
}

fn uses_generators(es: &ExternalSecret) -> bool {
    es.spec.data_from.iter().any(|d| {
        d.source_ref
            .as_ref()
            .is_some_and(|s| s.generator_ref.is_some())
    })
}

/// What a snippet reads: remote keys with the properties, tags and find patterns asked of them.
#[derive(Default, Debug)]
struct Reads {
    /// key → properties (empty string: the whole value).
    keys: BTreeMap<String, BTreeSet<String>>,
    /// key → metadata properties (tags) read with `metadataPolicy: Fetch`.
    tags: BTreeMap<String, BTreeSet<String>>,
}

fn reads(es: &ExternalSecret) -> Reads {
    let mut reads = Reads::default();
    for entry in &es.spec.data {
        let r = &entry.remote_ref;
        let property = r.property.clone().unwrap_or_default();
        let fetch_tags = matches!(r.metadata_policy, Some(keyward_api::MetadataPolicy::Fetch));
        let map = if fetch_tags {
            &mut reads.tags
        } else {
            &mut reads.keys
        };
        map.entry(r.key.clone()).or_default().insert(property);
    }
    for entry in &es.spec.data_from {
        if let Some(extract) = &entry.extract {
            let properties = reads.keys.entry(extract.key.clone()).or_default();
            properties.insert(extract.property.clone().unwrap_or_default());
        }
        if let Some(find) = &entry.find {
            let base = find.path.clone().unwrap_or_default();
            let name = find
                .name
                .as_ref()
                .map(|n| matching_name(&n.regexp))
                .unwrap_or_else(|| "seeded".into());
            let key = if base.is_empty() {
                name
            } else {
                // Prefer a key below the matched name (`path/secrets/x`), as the snippets
                // that strip a common path expect, when the pattern still matches it.
                let base = base.trim_end_matches('/');
                let nested = format!("{base}/{name}/seeded");
                let pattern = find.name.as_ref().map_or("", |n| n.regexp.as_str());
                if regex::Regex::new(pattern).is_ok_and(|r| r.is_match(&nested)) {
                    nested
                } else {
                    format!("{base}/{name}")
                }
            };
            reads.keys.entry(key).or_default().insert(String::new());
        }
    }
    reads
}

/// A key name that `pattern` matches, built from the pattern itself.
fn matching_name(pattern: &str) -> String {
    let candidate: String = pattern
        .replace(".*", "x")
        .replace(".+", "x")
        .chars()
        .filter(|c| !"^$\\()[]?+*|".contains(*c))
        .collect();
    let candidate = if candidate.is_empty() {
        "x".to_owned()
    } else {
        candidate
    };
    let regex = regex::Regex::new(pattern).expect("snippet regexp");
    assert!(
        regex.is_match(&candidate),
        "no seed name for /{pattern}/ (tried {candidate})"
    );
    candidate
}

/// A JSON object holding a value at every property path (`a.b`, `friends.1.first`).
fn seeded_object(key: &str, properties: &BTreeSet<String>) -> serde_json::Value {
    let mut object = serde_json::json!({});
    for property in properties {
        if property.is_empty() {
            object["value"] = format!("seed-{key}").into();
            object["other"] = "seed-other".into();
        } else {
            set_path(&mut object, property, format!("seed-{key}-{property}"));
        }
    }
    object
}

fn set_path(node: &mut serde_json::Value, path: &str, value: String) {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    let next_is_index = rest.is_some_and(|r| {
        r.split('.')
            .next()
            .is_some_and(|p| p.parse::<usize>().is_ok())
    });
    let slot = match head.parse::<usize>() {
        Ok(index) if node.is_array() => {
            let array = node.as_array_mut().expect("array");
            while array.len() <= index {
                array.push(serde_json::json!({}));
            }
            &mut array[index]
        }
        _ => {
            let object = node.as_object_mut().expect("object");
            object.entry(head.to_owned()).or_insert_with(|| {
                if next_is_index {
                    serde_json::json!([])
                } else {
                    serde_json::json!({})
                }
            })
        }
    };
    match rest {
        Some(rest) => set_path(slot, rest, value),
        None => *slot = value.into(),
    }
}

/// Everything a run needs: peers started once, on demand.
struct Peers {
    bao: Option<OpenBao>,
    moto: Option<Moto>,
    /// `Some(None)`: lowkey-vault is unavailable here (outside CI only).
    lowkey: Option<Option<&'static LowkeyVault>>,
    http: reqwest::Client,
}

impl Peers {
    async fn bao(&mut self) -> &OpenBao {
        if self.bao.is_none() {
            self.bao = Some(OpenBao::start().await.expect("openbao"));
        }
        self.bao.as_ref().expect("started")
    }

    async fn moto(&mut self) -> &Moto {
        if self.moto.is_none() {
            self.moto = Some(Moto::start().await.expect("moto"));
        }
        self.moto.as_ref().expect("started")
    }

    /// lowkey-vault, or `None` when it is unavailable outside CI (reported once).
    async fn lowkey(&mut self) -> Option<&'static LowkeyVault> {
        if self.lowkey.is_none() {
            self.lowkey = Some(or_skip_unavailable(LowkeyVault::shared().await));
        }
        self.lowkey.flatten()
    }

    /// Seeds what an azurekv snippet reads: `cert/` and `key/` objects, secrets holding a
    /// JSON object with every property read, and the tags read with `metadataPolicy: Fetch`.
    async fn seed_lowkey(&mut self, reads: &Reads) {
        let vault = self.lowkey().await.expect("lowkey-vault is available");
        let kv = LowkeyClients::new(vault).expect("SDK clients");
        let mut keys: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (key, properties) in &reads.keys {
            keys.entry(key)
                .or_default()
                .extend(properties.iter().cloned());
        }
        for key in reads.tags.keys() {
            keys.entry(key).or_default();
        }
        for (key, properties) in keys {
            if let Some(name) = key.strip_prefix("cert/") {
                kv.create_certificate(name).await.expect("seed certificate");
                continue;
            }
            if let Some(name) = key.strip_prefix("key/") {
                kv.create_rsa_key(name).await.expect("seed key");
                continue;
            }
            let name = key.strip_prefix("secret/").unwrap_or(key);
            if AZURE_CERTIFICATE_BACKED.contains(&name) {
                kv.create_certificate(name).await.expect("seed certificate");
                continue;
            }
            let tags: Vec<(String, String)> = reads
                .tags
                .get(key)
                .into_iter()
                .flatten()
                .filter(|t| !t.is_empty())
                .map(|t| (t.clone(), format!("seed-tag-{t}")))
                .collect();
            let tags: Vec<(&str, &str)> =
                tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let value = seeded_object(key, &properties).to_string();
            kv.put_secret(name, &value, &tags, None)
                .await
                .expect("seed secret");
        }
    }

    async fn seed_bao(&mut self, key: &str, object: &serde_json::Value) {
        let http = self.http.clone();
        let bao = self.bao().await;
        let response = http
            .post(format!(
                "{}/v1/secret/data/{}",
                bao.address(),
                key.trim_start_matches('/')
            ))
            .header("X-Vault-Token", bao.root_token())
            .json(&serde_json::json!({ "data": object }))
            .send()
            .await
            .expect("seed openbao");
        assert!(
            response.status().is_success(),
            "seeding {key}: {}",
            response.status()
        );
    }

    async fn aws_config(&mut self) -> aws_config::SdkConfig {
        let endpoint = self.moto().await.endpoint().to_owned();
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .endpoint_url(endpoint)
            .load()
            .await
    }

    async fn seed_parameter(&mut self, key: &str, value: &str) {
        let client = aws_sdk_ssm::Client::new(&self.aws_config().await);
        client
            .put_parameter()
            .name(key)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("seeding parameter {key}: {e:?}"));
    }

    async fn seed_secrets_manager(&mut self, key: &str, value: &str, tags: &BTreeSet<String>) {
        let client = aws_sdk_secretsmanager::Client::new(&self.aws_config().await);
        let tags: Vec<_> = tags
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| {
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key(t)
                    .value(format!("seed-tag-{t}"))
                    .build()
            })
            .collect();
        let _ = client
            .delete_secret()
            .secret_id(key)
            .force_delete_without_recovery(true)
            .send()
            .await;
        client
            .create_secret()
            .name(key)
            .secret_string(value)
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .unwrap_or_else(|e| panic!("seeding {key}: {e:?}"));
    }
}

/// Where ClusterSecretStores' credentials are kept.
const CLUSTER_CREDENTIALS_NAMESPACE: &str = "keyward-test";

/// The store manifest a snippet's `secretStoreRef` names, pointing at `peer`.
fn store_manifest(
    peer: Peer,
    kind: StoreKind,
    name: &str,
    namespace: &str,
    peers: &Peers,
    reads: &Reads,
) -> String {
    // A SecretStore may only refer to Secrets of its own namespace (ESO's rule, enforced);
    // a ClusterSecretStore's credentials live in their own namespace.
    let (kind_text, meta, credentials_namespace) = match kind {
        StoreKind::SecretStore => (
            "SecretStore",
            format!("{{name: {name}, namespace: {namespace}}}"),
            namespace,
        ),
        StoreKind::ClusterSecretStore => (
            "ClusterSecretStore",
            format!("{{name: {name}}}"),
            CLUSTER_CREDENTIALS_NAMESPACE,
        ),
    };
    let provider = match peer {
        Peer::OpenBao => format!(
            "vault: {{server: '{}', path: secret, version: v2, auth: {{tokenSecretRef: {{name: vault-token, key: token, namespace: {credentials_namespace}}}}}}}",
            peers.bao.as_ref().expect("openbao").address()
        ),
        Peer::MotoSecretsManager | Peer::MotoParameterStore => format!(
            "aws: {{service: {}, region: eu-west-1, auth: {{secretRef: {{accessKeyIDSecretRef: {{name: aws, key: id, namespace: {credentials_namespace}}}, secretAccessKeySecretRef: {{name: aws, key: secret, namespace: {credentials_namespace}}}}}}}}}",
            if peer == Peer::MotoParameterStore {
                "ParameterStore"
            } else {
                "SecretsManager"
            }
        ),
        Peer::LowkeyVault => format!(
            "azurekv: {{authType: ManagedIdentity, identityId: {AZURE_IDENTITY}, vaultUrl: '{}'}}",
            peers
                .lowkey
                .flatten()
                .expect("lowkey-vault is available")
                .vault_url()
        ),
        Peer::Fake => {
            let data: Vec<String> = reads
                .keys
                .iter()
                .flat_map(|(key, properties)| {
                    let object = seeded_object(key, properties).to_string();
                    [
                        format!("{{key: '{key}', value: '{object}'}}"),
                        format!("{{key: '{key}', value: '{object}', version: v1}}"),
                    ]
                })
                .collect();
            format!("fake: {{data: [{}]}}", data.join(", "))
        }
    };
    format!(
        "---\napiVersion: external-secrets.io/v1\nkind: {kind_text}\nmetadata: {meta}\nspec:\n  provider:\n    {provider}\n"
    )
}

fn write_private(path: &Path, value: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, value).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

/// moto's static keys, where the stores of `namespaces` look for them.
fn write_aws_keys(dir: &Path, namespaces: &BTreeSet<&str>) {
    for namespace in namespaces {
        write_private(&dir.join(format!("creds/{namespace}/aws/id")), "testing");
        write_private(
            &dir.join(format!("creds/{namespace}/aws/secret")),
            "testing",
        );
    }
}

/// Runs one snippet; `Ok(targets)` or `Err(report)`.
async fn run_snippet(snippet: &Snippet, peers: &mut Peers) -> Result<usize, String> {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path();
    let mut manifests = snippet.text.clone();
    let mut stores = BTreeSet::new();
    let mut all_reads = Reads::default();
    for es in &snippet.external_secrets {
        let r = reads(es);
        for (k, v) in r.keys {
            all_reads.keys.entry(k).or_default().extend(v);
        }
        for (k, v) in r.tags {
            all_reads.tags.entry(k).or_default().extend(v);
        }
        let namespace = es
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        match &es.spec.secret_store_ref {
            Some(r) => {
                stores.insert((r.kind, r.name.clone(), namespace));
            }
            None => {
                stores.insert((StoreKind::SecretStore, "snippet-store".into(), namespace));
            }
        }
    }
    if snippet
        .external_secrets
        .iter()
        .any(|es| es.spec.secret_store_ref.is_none())
    {
        // The snippet names no store: give it the peer's (ESO would need one too).
        manifests = manifests.replace(
            "\nspec:\n",
            "\nspec:\n  secretStoreRef: {name: snippet-store}\n",
        );
    }
    let credential_namespaces: BTreeSet<&str> = stores
        .iter()
        .map(|(kind, _, namespace)| match kind {
            StoreKind::SecretStore => namespace.as_str(),
            StoreKind::ClusterSecretStore => CLUSTER_CREDENTIALS_NAMESPACE,
        })
        .collect();
    match snippet.peer {
        Peer::OpenBao => {
            for (key, properties) in &all_reads.keys {
                peers.seed_bao(key, &seeded_object(key, properties)).await;
            }
            let token = peers.bao().await.root_token().to_owned();
            for namespace in &credential_namespaces {
                write_private(
                    &dir.join(format!("creds/{namespace}/vault-token/token")),
                    &token,
                );
            }
        }
        Peer::MotoParameterStore => {
            for (key, properties) in &all_reads.keys {
                let value = seeded_object(key, properties).to_string();
                peers.seed_parameter(key, &value).await;
            }
            write_aws_keys(dir, &credential_namespaces);
        }
        Peer::MotoSecretsManager => {
            peers.moto().await;
            for (key, properties) in &all_reads.keys {
                let tags = all_reads.tags.get(key).cloned().unwrap_or_default();
                let value = seeded_object(key, properties).to_string();
                peers.seed_secrets_manager(key, &value, &tags).await;
            }
            for (key, tags) in &all_reads.tags {
                if !all_reads.keys.contains_key(key) {
                    peers.seed_secrets_manager(key, "{}", tags).await;
                }
            }
            write_aws_keys(dir, &credential_namespaces);
        }
        Peer::LowkeyVault => peers.seed_lowkey(&all_reads).await,
        Peer::Fake => {}
    }
    for (kind, name, namespace) in &stores {
        manifests.push_str(&store_manifest(
            snippet.peer,
            *kind,
            name,
            namespace,
            peers,
            &all_reads,
        ));
    }
    std::fs::write(dir.join("snippet.yaml"), &manifests).expect("write manifests");
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    command
        .args([
            "--output",
            "json",
            "sync",
            "-f",
            "snippet.yaml",
            "--out",
            "out",
            "--state-dir",
            "state",
        ])
        .args(["--credentials-dir", "creds"])
        .current_dir(dir)
        .env("HOME", dir);
    if snippet.plaintext_secrets {
        command.arg("--allow-plaintext-secrets");
    }
    if let Some(moto) = &peers.moto {
        command.env("AWS_ENDPOINT_URL", moto.endpoint());
    }
    if let (Peer::LowkeyVault, Some(Some(vault))) = (snippet.peer, peers.lowkey) {
        // As a host would: trust the vault's CA, find the managed identity endpoint.
        std::fs::write(dir.join("lowkey-ca.pem"), vault.ca_pem()).expect("CA file");
        command
            .env("SSL_CERT_FILE", dir.join("lowkey-ca.pem"))
            .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", vault.token_authority());
    }
    let output = command.output().expect("run keyward");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let report: serde_json::Value = serde_json::from_str(&stdout).map_err(|_| {
        format!(
            "no JSON report: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    let results = report["results"].as_array().cloned().unwrap_or_default();
    let synced = results.iter().filter(|r| r["status"] == "synced").count();
    if output.status.success() && synced == snippet.external_secrets.len() {
        Ok(synced)
    } else {
        Err(format!(
            "exit {:?}: {}",
            output.status.code(),
            serde_json::to_string(&results).unwrap_or_default()
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eso_snippets_run_through_keyward_sync_against_real_peers() {
    let Some(corpus) = keyward_test_support::eso_corpus() else {
        return;
    };
    let (runnable, not_run) = snippets(&corpus);
    let mut peers = Peers {
        bao: None,
        moto: None,
        lowkey: None,
        http: reqwest::Client::new(),
    };
    let mut ran = Vec::new();
    let mut problems = Vec::new();
    let mut not_run = not_run;
    for snippet in &runnable {
        if snippet.peer == Peer::LowkeyVault && peers.lowkey().await.is_none() {
            not_run.push((
                snippet.file.clone(),
                "lowkey-vault is unavailable on this machine (a failure under CI)".into(),
            ));
            continue;
        }
        let expected = EXPECTED_FAILURES
            .iter()
            .find(|(file, _)| *file == snippet.file);
        let result = run_snippet(snippet, &mut peers).await;
        match (result, expected) {
            (Ok(targets), None) => ran.push(format!(
                "{:<62} {:?}: {targets} synced",
                snippet.file, snippet.peer
            )),
            (Err(report), Some((_, words))) if report.contains(words) => {
                ran.push(format!(
                    "{:<62} {:?}: failed as expected ({words})",
                    snippet.file, snippet.peer
                ));
            }
            (Ok(_), Some((_, words))) => problems.push(format!(
                "{}: expected to fail ({words}) but synced",
                snippet.file
            )),
            (Err(report), _) => {
                problems.push(format!("{} on {:?}: {report}", snippet.file, snippet.peer))
            }
        }
    }
    println!("ESO snippets run through keyward sync ({}):", ran.len());
    for line in &ran {
        println!("  ran      {line}");
    }
    for (file, reason) in &not_run {
        println!("  not run  {file:<62} {reason}");
    }
    assert!(
        problems.is_empty(),
        "snippets that failed:\n{}",
        problems.join("\n")
    );
    let peers_used: BTreeSet<Peer> = runnable.iter().map(|s| s.peer).collect();
    assert!(
        peers_used.contains(&Peer::OpenBao)
            && peers_used.contains(&Peer::MotoSecretsManager)
            && peers_used.contains(&Peer::LowkeyVault)
            && peers_used.contains(&Peer::Fake),
        "{peers_used:?}"
    );
    assert!(ran.len() >= 20, "only {} snippets ran", ran.len());
}
