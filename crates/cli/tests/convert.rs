//! `keyward convert`: v1beta1 manifests become v1 with only their apiVersion line changed;
//! what does not convert cleanly is refused by name and left byte-identical.

use crate::util::{Scratch, stderr, stdout};

const OLD: &str = "\
# Owned by the payments team.
apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: {name: db, namespace: apps}   # keep
spec:
  secretStoreRef: {name: vault, kind: ClusterSecretStore}
  data:
  - {secretKey: password, remoteRef: {key: apps/db}}
---
apiVersion: external-secrets.io/v1beta1
kind: ClusterSecretStore
metadata: {name: vault}
spec:
  provider:
    vault: {server: 'https://vault:8200', path: secret, version: v2}
";

#[test]
fn in_place_conversion_changes_only_api_version_lines() {
    let scratch = Scratch::new();
    scratch.write("deploy/db.yaml", OLD);
    let before = scratch.keyward(&["check", "--offline", "deploy"]);
    assert_eq!(before.status.code(), Some(11), "v1beta1 is not served");
    let output = scratch.keyward(&["convert", "--in-place", "deploy/db.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("deploy/db.yaml: 2 converted, 0 refused"));
    assert_eq!(
        scratch.read("deploy/db.yaml"),
        OLD.replace("external-secrets.io/v1beta1", "external-secrets.io/v1")
    );
    let after = scratch.keyward(&["check", "--offline", "deploy"]);
    assert_eq!(after.status.code(), Some(0), "{}", stdout(&after));
}

#[test]
fn refusals_name_the_document_and_leave_the_file_alone() {
    let scratch = Scratch::new();
    let text = OLD.replace(
        "  data:\n",
        "  target:\n    template: {engineVersion: v1, data: {k: '{{ .password | toString }}'}}\n  data:\n",
    );
    scratch.write("db.yaml", &text);
    let printed = scratch.keyward(&["convert", "db.yaml"]);
    assert_eq!(printed.status.code(), Some(11), "{}", stderr(&printed));
    assert!(
        stderr(&printed).contains(
            "db.yaml: refused document 1 (ExternalSecret/db): spec.target.template.engineVersion v1"
        ),
        "{}",
        stderr(&printed)
    );
    // The store still converts; the ExternalSecret stays as it was.
    assert_eq!(
        stdout(&printed),
        text.replacen(
            "apiVersion: external-secrets.io/v1beta1\nkind: ClusterSecretStore",
            "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore",
            1
        )
    );
    let in_place = scratch.keyward(&["convert", "--in-place", "db.yaml"]);
    assert_eq!(in_place.status.code(), Some(11));
    assert_eq!(
        scratch.read("db.yaml"),
        stdout(&printed),
        "the store converted in place"
    );
    let missing = scratch.keyward(&["convert", "nope.yaml"]);
    assert_eq!(missing.status.code(), Some(12), "{}", stderr(&missing));
}
