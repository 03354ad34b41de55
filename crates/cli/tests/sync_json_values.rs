//! `keyward sync` writes JSON values that are not strings exactly as ESO writes them: a
//! `property` through gjson, `dataFrom.extract` through `json.RawMessage`. The expected files
//! are what ESO v0.16.2's fake provider returned for the same store value.

use crate::util::keyward_in;

const STORE_AND_SECRET: &str = r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: fake, namespace: apps}
spec:
  provider:
    fake:
      data:
        - key: /values
          value: '{"none": null, "price": 1.50, "big": 12345678901234567890, "db": { "port" : 5432, "hosts": ["a",  "b"] }, "on": true}'
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: values, namespace: apps}
spec:
  secretStoreRef: {name: fake}
  target: {name: extracted}
  dataFrom:
    - extract: {key: /values}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: properties, namespace: apps}
spec:
  secretStoreRef: {name: fake}
  target: {name: selected}
  data:
    - {secretKey: none, remoteRef: {key: /values, property: none}}
    - {secretKey: price, remoteRef: {key: /values, property: price}}
    - {secretKey: big, remoteRef: {key: /values, property: big}}
    - {secretKey: db, remoteRef: {key: /values, property: db}}
    - {secretKey: hosts, remoteRef: {key: /values, property: db.hosts}}
    - {secretKey: "on", remoteRef: {key: /values, property: "on"}}
"#;

#[test]
fn non_string_json_values_are_written_as_eso_writes_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("m")).expect("mkdir");
    std::fs::write(dir.path().join("m/all.yaml"), STORE_AND_SECRET).expect("write");
    let output = keyward_in(
        dir.path(),
        &["sync", "-f", "m", "--out", "out", "--state-dir", "state"],
    );
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let read = |path: &str| {
        std::fs::read_to_string(dir.path().join("out/apps").join(path))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let db = r#"{ "port" : 5432, "hosts": ["a",  "b"] }"#;
    for (key, expected) in [
        ("none", ""),
        ("price", "1.50"),
        ("big", "12345678901234567890"),
        ("db", db),
        ("on", "true"),
    ] {
        assert_eq!(read(&format!("extracted/{key}")), expected, "extract {key}");
    }
    for (key, expected) in [
        ("none", ""),
        ("price", "1.5"),
        ("big", "12345678901234567890"),
        ("db", db),
        ("hosts", r#"["a",  "b"]"#),
        ("on", "true"),
    ] {
        assert_eq!(read(&format!("selected/{key}")), expected, "property {key}");
    }
}
