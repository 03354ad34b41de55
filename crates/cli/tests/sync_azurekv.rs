//! `keyward sync` end to end from an Azure Key Vault store, against lowkey-vault (the real
//! peer): the store authenticates with a managed identity, whose token endpoint the process
//! finds through `AZURE_POD_IDENTITY_AUTHORITY_HOST` (lowkey-vault's own), and trusts the
//! vault's test CA through `SSL_CERT_FILE`, as a host would. The vault is seeded through the
//! official SDK.

use crate::util::{Scratch, everything as text};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use keyward_test_support::{LowkeyClients, LowkeyVault, or_skip_unavailable};

const CANARY: &str = "kw-canary-azurekv-5c07d1";

/// A scratch directory trusting lowkey-vault's CA, whose keyward runs get their managed
/// identity token from lowkey-vault's token endpoint.
struct Run {
    scratch: Scratch,
    vault: &'static LowkeyVault,
}

impl Run {
    fn new(vault: &'static LowkeyVault) -> Self {
        let scratch = Scratch::new();
        scratch.write("ca.pem", vault.ca_pem());
        Self { scratch, vault }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.scratch.join(name)
    }

    fn write(&self, name: &str, text: &str) {
        self.scratch.write(name, text);
    }

    fn read(&self, relative: &str) -> String {
        self.scratch.read(relative)
    }

    /// `keyward ARGS` trusting the CA and with the token authority set.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.scratch.command(args);
        command
            .env("SSL_CERT_FILE", self.path("ca.pem"))
            .env(
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                self.vault.token_authority(),
            )
            .env_remove("AZURE_AUTHORITY_HOST");
        command
    }

    /// `keyward EXTRA sync -f m --out out --state-dir state`.
    fn sync(&self, extra: &[&str]) -> Output {
        self.command(extra)
            .args(["sync", "-f", "m", "--out", "out", "--state-dir", "state"])
            .output()
            .expect("run keyward")
    }

    /// `keyward check ARGS` (logging at trace level) with the environment of `sync`.
    fn check(&self, args: &[&str]) -> Output {
        self.command(&["--log-level", "trace", "check"])
            .args(args)
            .output()
            .expect("run keyward check")
    }
}

/// A managed identity store; `identity` tells one test's token requests apart on the
/// server shared by this test binary.
fn store(vault: &LowkeyVault, identity: &str) -> String {
    format!(
        r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: azure-store, namespace: apps}}
spec:
  provider:
    azurekv:
      authType: ManagedIdentity
      identityId: {identity}
      vaultUrl: "{}"
"#,
        vault.vault_url()
    )
}

const EXTERNAL_SECRET: &str = r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: app, namespace: apps}
spec:
  secretStoreRef: {name: azure-store}
  target: {name: app-secrets}
  data:
    - {secretKey: password, remoteRef: {key: e2e-db, property: password}}
    - {secretKey: old-password, remoteRef: {key: secret/e2e-db, version: VERSION, property: password}}
    - {secretKey: environment, remoteRef: {key: e2e-db, metadataPolicy: Fetch, property: environment}}
    - {secretKey: tls.der, remoteRef: {key: cert/e2e-cert}}
    - {secretKey: signing.jwk, remoteRef: {key: key/e2e-key}}
  dataFrom:
    - extract: {key: e2e-db}
    - find: {name: {regexp: "^e2e-feature-"}, tags: {team: core}}
"#;

/// Secrets (a property, an old version, a tag, extract, find by name and tags), a
/// certificate and a key reach the projection; a changed secret is picked up by the next run;
/// the value appears in no output, log or report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyward_sync_projects_an_azure_key_vault_store_from_lowkey_vault() {
    let Some(vault) = or_skip_unavailable(LowkeyVault::shared().await) else {
        return;
    };
    let kv = LowkeyClients::new(vault).expect("SDK clients");
    let old = kv
        .put_secret(
            "e2e-db",
            r#"{"user":"app","password":"old"}"#,
            &[("environment", "prod")],
            None,
        )
        .await
        .expect("seed");
    kv.put_secret(
        "e2e-db",
        &format!(r#"{{"user":"app","password":"{CANARY}","port":5432,"ratio":1.50}}"#),
        &[("environment", "prod")],
        None,
    )
    .await
    .expect("seed");
    kv.put_secret("e2e-feature-a", "on", &[("team", "core")], None)
        .await
        .expect("seed");
    kv.put_secret("e2e-feature-b", "off", &[("team", "edge")], None)
        .await
        .expect("seed");
    let der = kv
        .create_certificate("e2e-cert")
        .await
        .expect("certificate");
    let jwk = kv.create_rsa_key("e2e-key").await.expect("key");

    let run = Run::new(vault);
    run.write("m/store.yaml", &store(vault, "keyward-sync-e2e"));
    run.write("m/es.yaml", &EXTERNAL_SECRET.replace("VERSION", &old));
    let first = run.sync(&["--log-level", "trace"]);
    assert!(first.status.success(), "{}", text(&first));

    let target = "out/apps/app-secrets";
    assert_eq!(run.read(&format!("{target}/password")), CANARY);
    assert_eq!(run.read(&format!("{target}/old-password")), "old");
    assert_eq!(run.read(&format!("{target}/environment")), "prod");
    assert_eq!(run.read(&format!("{target}/user")), "app");
    assert_eq!(run.read(&format!("{target}/port")), "5432");
    assert_eq!(run.read(&format!("{target}/ratio")), "1.50", "as stored");
    assert_eq!(run.read(&format!("{target}/e2e-feature-a")), "on");
    assert!(!run.path(&format!("{target}/e2e-feature-b")).exists());
    assert_eq!(
        std::fs::read(run.path(&format!("{target}/tls.der"))).expect("der"),
        der
    );
    let read_jwk: serde_json::Value =
        serde_json::from_str(&run.read(&format!("{target}/signing.jwk"))).expect("JWK JSON");
    assert_eq!(read_jwk["n"], jwk["n"]);

    kv.put_secret("e2e-feature-a", "changed", &[("team", "core")], None)
        .await
        .expect("change");
    let second = run.sync(&["--output", "json"]);
    assert!(second.status.success(), "{}", text(&second));
    assert_eq!(run.read(&format!("{target}/e2e-feature-a")), "changed");
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).expect("JSON report");
    assert_eq!(report["results"][0]["status"], "synced", "{report}");
    assert!(
        report["storeCalls"]
            .as_str()
            .is_some_and(|calls| calls.contains("provider=\"azurekv\"")),
        "{report}"
    );

    for output in [&first, &second] {
        assert!(
            !text(output).contains(CANARY),
            "canary leaked: {}",
            text(output)
        );
    }
    let tokens = vault
        .requests()
        .iter()
        .filter(|r| r.is_token_request() && r.has_query("client_id", "keyward-sync-e2e"))
        .count();
    assert_eq!(tokens, 2, "one token per run, from lowkey-vault's endpoint");
}

/// A key the vault does not hold fails the ExternalSecret with the store exit code, names
/// the key, and leaves the earlier projection byte-identical.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_fails_with_exit_20_and_keeps_the_projection() {
    let Some(vault) = or_skip_unavailable(LowkeyVault::shared().await) else {
        return;
    };
    LowkeyClients::new(vault)
        .expect("SDK clients")
        .put_secret("e2e-kept", "first", &[], None)
        .await
        .expect("seed");
    let run = Run::new(vault);
    run.write("m/store.yaml", &store(vault, "keyward-sync-missing"));
    let external_secret = |key: &str| {
        format!(
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: kept, namespace: apps}}\nspec:\n  secretStoreRef: {{name: azure-store}}\n  data:\n    - {{secretKey: value, remoteRef: {{key: {key}}}}}\n"
        )
    };
    run.write("m/es.yaml", &external_secret("e2e-kept"));
    let first = run.sync(&[]);
    assert!(first.status.success(), "{}", text(&first));
    let before = std::fs::read(run.path("out/apps/kept/value")).expect("projected");

    run.write("m/es.yaml", &external_secret("e2e-never-created"));
    let failed = run.sync(&[]);
    assert_eq!(failed.status.code(), Some(20), "{}", text(&failed));
    assert!(
        text(&failed).contains("e2e-never-created"),
        "{}",
        text(&failed)
    );
    assert_eq!(
        std::fs::read(run.path("out/apps/kept/value")).expect("still there"),
        before
    );
    assert!(Path::new(&run.path("state")).exists());
}

/// `keyward check --stores-only` finds keys and versions in lowkey-vault by listing versions
/// (no value read); `--verify` proves the synced target matches, then tells it stale once the
/// vault holds a newer version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_stores_only_and_verify_against_lowkey_vault() {
    let Some(vault) = or_skip_unavailable(LowkeyVault::shared().await) else {
        return;
    };
    let kv = LowkeyClients::new(vault).expect("SDK clients");
    let first = kv
        .put_secret("verify-db", "first", &[], None)
        .await
        .expect("seed");
    // A second apart: Key Vault dates versions to the second, and the newest is found by date.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    kv.put_secret("verify-db", CANARY, &[], None)
        .await
        .expect("seed");
    let run = Run::new(vault);
    run.write("m/store.yaml", &store(vault, "keyward-check-verify"));
    run.write(
        "m/es.yaml",
        &format!(
            r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: verified, namespace: apps}}
spec:
  secretStoreRef: {{name: azure-store}}
  data:
    - {{secretKey: password, remoteRef: {{key: verify-db}}}}
    - {{secretKey: first, remoteRef: {{key: verify-db, version: {first}}}}}
"#
        ),
    );
    let found = run.check(&["--stores-only", "m"]);
    let found_text = text(&found);
    assert_eq!(found.status.code(), Some(0), "{found_text}");
    assert!(
        found_text
            .contains("spec.data[0]: verify-db exists in SecretStore/apps/azure-store, version ")
            && found_text.contains(&format!(
                "spec.data[1]: verify-db exists in SecretStore/apps/azure-store, version {first}"
            )),
        "{found_text}"
    );
    assert!(!found_text.contains("read and dropped"), "{found_text}");

    let synced = run.sync(&[]);
    assert!(synced.status.success(), "{}", text(&synced));
    let verify = ["--verify", "m", "--out", "out", "--state-dir", "state"];
    let proved = run.check(&verify);
    assert_eq!(proved.status.code(), Some(0), "{}", text(&proved));
    assert!(
        text(&proved).contains("key password matches the store"),
        "{}",
        text(&proved)
    );

    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    kv.put_secret("verify-db", "rotated", &[], None)
        .await
        .expect("rotate");
    let stale = run.check(&verify);
    assert_eq!(stale.status.code(), Some(1), "{}", text(&stale));
    assert!(
        text(&stale).contains("key password is stale: the store has a newer version since "),
        "{}",
        text(&stale)
    );
    assert!(
        text(&stale).contains("key first matches the store"),
        "{}",
        text(&stale)
    );
    for output in [&found, &proved, &stale] {
        assert!(
            !text(output).contains(CANARY),
            "canary leaked: {}",
            text(output)
        );
    }
}
