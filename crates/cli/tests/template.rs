//! `keyward template render`: values stay redacted unless `--reveal`, JSON output, and
//! template failures exit 11 without showing data.

use crate::util::keyward_in as keyward;

const CANARY: &str = "CANARY-cli-5d1e";

const MANIFEST: &str = r#"apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: demo
spec:
  target:
    template:
      engineVersion: v2
      data:
        auth: '{{ printf "%s:%s" .user .password | b64enc }}'
        plain: '{{ .password }}'
        broken: '{{ .password | add1 | upper }}'
"#;

fn fixture(manifest: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("es.yaml"), manifest).expect("write manifest");
    let data = serde_json::json!({ "user": "admin", "password": CANARY });
    std::fs::write(dir.path().join("data.json"), data.to_string()).expect("write data");
    dir
}

fn working_manifest() -> String {
    MANIFEST
        .lines()
        .filter(|l| !l.contains("broken"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn values_are_redacted_by_default() {
    let dir = fixture(&working_manifest());
    let output = keyward(
        dir.path(),
        &["template", "render", "-f", "es.yaml", "--data", "data.json"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout, "auth: [redacted]\nplain: [redacted]\n");
    assert!(!String::from_utf8_lossy(&output.stderr).contains(CANARY));
}

#[test]
fn reveal_prints_the_rendered_values() {
    let dir = fixture(&working_manifest());
    let output = keyward(
        dir.path(),
        &[
            "--output",
            "json",
            "template",
            "render",
            "-f",
            "es.yaml",
            "--data",
            "data.json",
            "--reveal",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["data"]["plain"], CANARY);
    assert_eq!(report["data"]["auth"], "YWRtaW46Q0FOQVJZLWNsaS01ZDFl");
    assert_eq!(report["revealed"], true);
}

#[test]
fn a_failing_template_exits_11_and_names_the_key_not_the_value() {
    let dir = fixture(MANIFEST);
    let output = keyward(
        dir.path(),
        &[
            "template",
            "render",
            "-f",
            "es.yaml",
            "--data",
            "data.json",
            "--reveal",
        ],
    );
    assert_eq!(output.status.code(), Some(11));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("template \"broken\" 1:"), "{stderr}");
    assert!(!stderr.contains(CANARY), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn non_string_data_reach_the_template_as_json_text() {
    let manifest =
        working_manifest().replace("'{{ .password }}'", "'{{ (fromJson .config).port }}'");
    let dir = fixture(&manifest);
    let data = serde_json::json!({ "user": "u", "password": "p", "config": { "port": 5432 } });
    std::fs::write(dir.path().join("data.json"), data.to_string()).expect("write data");
    let output = keyward(
        dir.path(),
        &[
            "--output",
            "json",
            "template",
            "render",
            "-f",
            "es.yaml",
            "--data",
            "data.json",
            "--reveal",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["data"]["plain"], "5432");
}

/// A function ESO's engine does not have (ESO removes Sprig's `env`) fails as Go fails, named.
#[test]
fn an_unknown_function_is_named() {
    let manifest = working_manifest().replace("'{{ .password }}'", "'{{ env .password }}'");
    let dir = fixture(&manifest);
    let output = keyward(
        dir.path(),
        &["template", "render", "-f", "es.yaml", "--data", "data.json"],
    );
    assert_eq!(output.status.code(), Some(11));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("function \"env\" not defined"), "{stderr}");
}
