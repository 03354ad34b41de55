//! What a test needing a peer does when the installer recorded that peer as unavailable:
//! under CI (`CI=true`, which `.ci/run` sets) the test fails, elsewhere it is skipped with a
//! loud `NOT RUN` line. Proven on lowkey-vault, the peer most likely to be missing (its jar
//! comes from `../shared/peers/`): the ignored probe below needs it as every lowkey-vault test
//! does, and each test here runs that probe in a child process of this binary against a peer
//! cache that records lowkey-vault as unavailable.

use std::path::Path;
use std::process::{Command, Output};

use keyward_test_support::{LowkeyVault, or_skip_unavailable};

/// The probe's full name in the integration test binary, for `--exact`.
const PROBE: &str = "peer_requirement::probe_needs_lowkey_vault";
const REASON: &str = "no jar at the test's shared path";

/// Needs lowkey-vault as every lowkey-vault test does. Run only by the tests below, in a child
/// whose peer cache records lowkey-vault as unavailable.
#[tokio::test]
#[ignore = "a probe run in a child process by the tests of this file"]
async fn probe_needs_lowkey_vault() {
    let Some(_vault) = or_skip_unavailable(LowkeyVault::start().await) else {
        return;
    };
    panic!("lowkey-vault started although the peer cache records it as unavailable");
}

/// A peer cache with no paths and lowkey-vault recorded as unavailable.
fn cache_without_lowkey_vault(dir: &Path) {
    let unavailable = dir.join("unavailable");
    std::fs::create_dir_all(&unavailable).expect("create the unavailable directory");
    std::fs::write(unavailable.join("lowkey_vault"), format!("{REASON}\n"))
        .expect("record lowkey-vault as unavailable");
}

/// Runs the probe in a child process with `CI` as given (`None`: unset).
fn run_probe(ci: Option<&str>) -> Output {
    let cache = tempfile::tempdir().expect("temporary peer cache");
    cache_without_lowkey_vault(cache.path());
    let mut child = Command::new(std::env::current_exe().expect("this test binary"));
    child
        .args([
            "--exact",
            PROBE,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KEYWARD_PEERS_DIR", cache.path())
        .env_remove("KEYWARD_PEER_LOWKEY_VAULT_JAR")
        .env_remove("KEYWARD_PEER_JAVA25")
        .env_remove("KEYWARD_REQUIRE_ALL_PEERS")
        .env_remove("CI");
    if let Some(value) = ci {
        child.env("CI", value);
    }
    child.output().expect("run the probe")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn under_ci_an_unavailable_lowkey_vault_fails_the_test_that_needs_it() {
    let output = run_probe(Some("true"));
    assert!(
        !output.status.success(),
        "the probe passed under CI: {}",
        stderr(&output)
    );
    let said = stdout(&output) + &stderr(&output);
    assert!(
        said.contains("lowkey-vault is UNAVAILABLE") && said.contains(REASON),
        "the failure does not name the peer and the recorded reason: {said}"
    );
    assert!(!said.contains("NOT RUN"), "reported as skipped: {said}");
}

#[test]
fn outside_ci_an_unavailable_lowkey_vault_is_skipped_loudly() {
    for ci in [None, Some(""), Some("false"), Some("0")] {
        let output = run_probe(ci);
        assert!(
            output.status.success(),
            "CI={ci:?}: the probe failed: {}",
            stderr(&output)
        );
        let said = stderr(&output);
        assert!(
            said.contains("NOT RUN") && said.contains("lowkey-vault is UNAVAILABLE"),
            "CI={ci:?}: the skip is not reported: {said}"
        );
        assert!(said.contains(REASON), "CI={ci:?}: no reason given: {said}");
    }
}
