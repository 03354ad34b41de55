//! Copies of a value that a host sync frees without wiping (issue 15: values are zeroized
//! wherever they are copied between the store read and the file written). A `local` store (an
//! ansible-vault bundle, opened as `keyward sync` opens it) holds a canary; one ExternalSecret
//! reads it whole, by property, by `extract` and through a template; `keyward_sync::run` writes
//! it in each layout, a first time and again unchanged (which reads the file back to compare).
//! The global allocator of this binary ([`WipeCheck`], installed in `tests.rs`) counts every
//! block freed while it still held the canary. No buffer of a value may be among them; see
//! [`report_inline`] for what is not a buffer.

use std::path::Path;
use std::time::Duration;

use keyward_api::NamespaceName;
use keyward_core::SecretValue;
use keyward_sync::credentials::HostCredentials;
use keyward_sync::host::Layout;
use keyward_sync::run::{RunOptions, Status, run, throwaway_fingerprint_key};
use keyward_test_support::wipe_check::count_unwiped;
use zeroize::Zeroizing;

const CANARY: &str = "5309-8675-1123-5813-2134";

/// Not counted as copies: blocks that hold the canary inline, as a small buffer right after
/// its length (see [`keyward_test_support::wipe_check::Unwiped::inline`]). They are seen in a
/// task's future state and a parsed manifest's `Vec<ExternalSecretData>`, neither of which has
/// a field that could hold a value: stack memory that held such a buffer earlier, carried
/// along when the structure was built there and moved to the heap. How many depends on
/// scheduling (0 to 4 per round here), so they are printed, not bounded; wiping stacks is not
/// something this test can measure.
fn report_inline(what: &str, inline: usize) {
    if inline > 0 {
        eprintln!("{what}: {inline} block(s) held the canary inline (stack residue)");
    }
}
const PASSWORD: &str = "copies-test-password";

/// The bundle store and an ExternalSecret that takes the canary every way a value can go.
fn manifests(dir: &Path) -> String {
    format!(
        r#"apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: local, namespace: apps}}
spec:
  provider:
    local: {{file: "{dir}/store.vault.env", passwordFile: "{dir}/password"}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: db, namespace: apps}}
spec:
  secretStoreRef: {{name: local}}
  target:
    name: db
    template:
      mergePolicy: Merge
      data:
        url: 'postgres://{{{{ .user }}}}:{{{{ .password | urlquery }}}}@db/app'
        upper: '{{{{ .password | upper }}}}'
  data:
    - {{secretKey: whole, remoteRef: {{key: PLAIN}}}}
    - {{secretKey: password, remoteRef: {{key: DB, property: password}}}}
    - {{secretKey: user, remoteRef: {{key: DB, property: user}}}}
  dataFrom:
    - extract: {{key: DB}}
"#,
        dir = dir.display()
    )
}

/// Writes the encrypted store, its password file and the manifests into `dir`.
fn prepare(dir: &Path) {
    // Wiped after use like any value, so no stale copy of the test's own is left around.
    let plaintext = Zeroizing::new(format!(
        "PLAIN='{CANARY}'\nDB='{{\"user\":\"app\",\"password\":\"{CANARY}\"}}'\n"
    ));
    let password = SecretValue::from(PASSWORD);
    let sealed = keyward_bundle::vault::encrypt(plaintext.as_bytes(), &password, None, None)
        .expect("encrypt the store");
    std::fs::write(dir.join("store.vault.env"), sealed).expect("write the store");
    std::fs::write(dir.join("password"), format!("{PASSWORD}\n")).expect("write the password");
    std::fs::create_dir(dir.join("m")).expect("manifest directory");
    std::fs::write(dir.join("m/all.yaml"), manifests(dir)).expect("write the manifests");
}

/// One `keyward sync` round into `out` in `layout`; returns the ExternalSecret's status.
fn sync_once(dir: &Path, out: &Path, layout: Layout) -> Status {
    let options = RunOptions {
        paths: vec![dir.join("m")],
        out: out.to_path_buf(),
        layout,
        namespace: NamespaceName::parse("apps").expect("namespace"),
        credentials: HostCredentials::default(),
        allow_plaintext_secrets: false,
        fingerprint_key: throwaway_fingerprint_key().expect("fingerprint key"),
        wait_for_lock: true,
        record_reads: false,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(run(options)).expect("the run");
    // Wait for the runtime's threads, so what they held is freed inside the measurement.
    runtime.shutdown_timeout(Duration::from_secs(30));
    let [row] = <[_; 1]>::try_from(report.rows).expect("one ExternalSecret");
    row.status
}

#[test]
fn a_sync_frees_no_unwiped_copy_of_a_value() {
    let dir = tempfile::tempdir().expect("temporary directory");
    prepare(dir.path());
    let mut leaks = Vec::new();
    for (layout, name) in [
        (Layout::Dir, "dir"),
        (Layout::Env, "env"),
        (Layout::Json, "json"),
    ] {
        let out = dir.path().join(format!("out-{name}"));
        for (round, expected) in [("first", Status::Synced), ("again", Status::Unchanged)] {
            let (status, unwiped) =
                count_unwiped(CANARY.as_bytes(), || sync_once(dir.path(), &out, layout));
            assert_eq!(status, expected, "{name} layout, {round} round");
            report_inline(&format!("{name} layout, {round} round"), unwiped.inline);
            if unwiped.blocks > unwiped.inline {
                leaks.push(format!(
                    "{name} layout, {round} round: {} unwiped block(s) ({} inline), {} bytes, sizes {:?}",
                    unwiped.blocks, unwiped.inline, unwiped.bytes, unwiped.sizes
                ));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "a sync freed the value unwiped:\n{}",
        leaks.join("\n")
    );
}
