//! Hardening of `keyward template render` against hostile input: bad data files are invalid
//! input (exit 11) named by path, and templates that would build more than a Secret can hold
//! fail with the field they are in, within the process (no abort), without showing data.

use crate::util::{keyward_in as keyward, stderr};

use std::path::Path;
use std::process::Output;

const CANARY: &str = "CANARY-hostile-7a2c";

fn manifest(data: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: demo\nspec:\n  target:\n    template:\n      data:\n{data}"
    )
}

fn render(dir: &Path) -> Output {
    keyward(
        dir,
        &["template", "render", "-f", "es.yaml", "--data", "data.json"],
    )
}

#[test]
fn data_that_is_not_utf8_is_invalid_input_named_by_path() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("es.yaml"),
        manifest("        k: '{{ .password }}'\n"),
    )
    .expect("write manifest");
    let mut data = format!("{{\"password\": \"{CANARY}").into_bytes();
    data.extend_from_slice(b"\xff\xfe\"}");
    std::fs::write(dir.path().join("data.json"), data).expect("write data");
    let output = render(dir.path());
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(11), "{err}");
    assert!(
        err.contains("data.json") && err.contains("not UTF-8"),
        "{err}"
    );
    assert!(!err.contains(CANARY), "{err}");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_template_building_more_than_a_secret_holds_fails_naming_its_field() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("es.yaml"),
        manifest("        big: '{{ repeat 100000 (repeat 100000 .password) }}'\n"),
    )
    .expect("write manifest");
    let data = serde_json::json!({ "password": CANARY });
    std::fs::write(dir.path().join("data.json"), data.to_string()).expect("write data");
    let output = render(dir.path());
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(11), "{err}");
    assert!(
        err.contains("spec.target.template.data.big") && err.contains("exceeds 1 MiB"),
        "{err}"
    );
    assert!(!err.contains(CANARY), "{err}");
}

#[test]
fn keys_of_one_external_secret_share_one_mebibyte_of_output() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // Each key alone fits (600,000 bytes); together they exceed a Secret's 1 MiB.
    std::fs::write(
        dir.path().join("es.yaml"),
        manifest(
            "        a: '{{ repeat 300000 \"ab\" }}'\n        b: '{{ repeat 300000 \"ab\" }}'\n",
        ),
    )
    .expect("write manifest");
    std::fs::write(dir.path().join("data.json"), "{}").expect("write data");
    let output = render(dir.path());
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(11), "{err}");
    assert!(
        err.contains("spec.target.template.data.b: output exceeds 1 MiB"),
        "{err}"
    );
}
