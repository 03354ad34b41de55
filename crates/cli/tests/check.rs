//! `keyward check --offline`: the CI gate over manifests. A small GitOps tree (stores, an
//! ExternalSecret, a PushSecret, a Deployment and a CronJob) is checked healthy, then broken
//! the ways pull requests break it; each break gets its exit code and a one-line finding
//! that names the object, the field or key, and what to do. No value is ever printed.

use crate::util::{Scratch, stderr, stdout};

const CANARY: &str = "CANARY-check-5f1e";

const STORES: &str = "\
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: vault}
spec:
  provider:
    vault: {server: 'http://127.0.0.1:8200', path: secret, version: v2}
  conditions:
  - namespaces: [apps]
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: local, namespace: apps}
spec:
  provider:
    fake: {data: [{key: a, value: b}]}
";

fn external_secret(password_key: &str) -> String {
    format!(
        "\
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: db, namespace: apps}}
spec:
  secretStoreRef: {{name: vault, kind: ClusterSecretStore}}
  target:
    template:
      data:
        {password_key}: '{{{{ .password }}}}'
        url: 'postgres://app:{{{{ .password | urlquery }}}}@db:5432/app'
  data:
  - secretKey: password
    remoteRef: {{key: apps/db, property: password}}
"
    )
}

const WORKLOADS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: web:1
        env:
        - name: DB_PASSWORD
          valueFrom: {secretKeyRef: {name: db, key: password}}
        - name: DB_URL
          valueFrom: {secretKeyRef: {name: db, key: url}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup, namespace: apps}
spec:
  schedule: '0 3 * * *'
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: backup
            image: backup:1
            envFrom: [{secretRef: {name: db}}]
            volumeMounts: [{name: tls, mountPath: /tls}]
          volumes:
          - name: tls
            secret: {secretName: db-tls}
";

const PUSH: &str = "\
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: db-copy, namespace: apps}
spec:
  secretStoreRefs: [{name: local, kind: SecretStore}]
  selector: {secret: {name: db}}
  data:
  - match: {secretKey: url, remoteRef: {remoteKey: db-url}}
";

/// `keyward check --offline deploy EXTRA…`: its exit code and stdout.
fn check(scratch: &Scratch, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["check", "--offline", "deploy"];
    args.extend_from_slice(extra);
    let output = scratch.keyward(&args);
    (output.status.code(), stdout(&output))
}

/// Asserts the exit code and that the report holds `line`.
fn assert_reports(result: &(Option<i32>, String), code: i32, line: &str) {
    let (status, out) = result;
    assert_eq!(*status, Some(code), "{out}");
    assert!(out.contains(line), "expected {line:?} in:\n{out}");
}

/// A tree that passes: the Secret `db-tls` is produced by nothing here (a warning).
fn healthy() -> Scratch {
    let scratch = Scratch::new();
    scratch.write("deploy/stores.yaml", STORES);
    scratch.write("deploy/apps/db.yaml", &external_secret("password"));
    scratch.write("deploy/apps/web.yaml", WORKLOADS);
    scratch.write("deploy/apps/push.yml", PUSH);
    scratch
}

#[test]
fn a_consistent_tree_is_healthy_and_says_what_it_cannot_tell() {
    let scratch = healthy();
    let output = scratch.keyward(&["check", "--offline", "deploy"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    assert!(
        out.contains("warn     CronJob apps/backup (deploy/apps/web.yaml document 2): volume tls reads Secret apps/db-tls, which no ExternalSecret or Secret in these manifests produces"),
        "{out}"
    );
    assert!(
        out.ends_with(
            "checked 1 ExternalSecret, 1 PushSecret, 2 stores, 2 workloads: 0 invalid, 0 unhealthy, 1 warning\n"
        ),
        "{out}"
    );
    let strict = scratch.keyward(&["check", "--offline", "deploy", "--strict"]);
    assert_eq!(strict.status.code(), Some(1), "{}", stdout(&strict));
}

#[test]
fn a_key_the_external_secret_no_longer_produces_fails_the_workload_that_reads_it() {
    let scratch = healthy();
    // The pull request renames the key; the Deployment still reads `password`.
    scratch.write("deploy/apps/db.yaml", &external_secret("db-password"));
    let result = check(&scratch, &[]);
    assert_reports(
        &result,
        1,
        "FAIL     Deployment apps/web (deploy/apps/web.yaml document 1): container app env DB_PASSWORD reads key password of Secret apps/db, which ExternalSecret apps/db does not produce (it produces: db-password, url)",
    );
    assert!(
        !result.1.contains("DB_URL"),
        "url is still produced: {}",
        result.1
    );
}

#[test]
fn stores_must_be_declared_or_known_and_must_serve_the_namespace() {
    let scratch = healthy();
    scratch.write("deploy/stores.yaml", "");
    let result = check(&scratch, &[]);
    assert_reports(
        &result,
        1,
        "FAIL     ExternalSecret apps/db (deploy/apps/db.yaml document 1): spec.secretStoreRef: ClusterSecretStore vault is not declared in these manifests (if it lives elsewhere, say --known-store ClusterSecretStore/vault)",
    );
    assert_reports(&result, 1, "PushSecret apps/db-copy");
    let known = check(
        &scratch,
        &[
            "--known-store",
            "ClusterSecretStore/vault",
            "--known-store",
            "SecretStore/apps/local",
        ],
    );
    assert_eq!(known.0, Some(0), "{}", known.1);

    let scratch = healthy();
    scratch.write(
        "deploy/stores.yaml",
        &STORES.replace("namespaces: [apps]", "namespaces: [billing]"),
    );
    assert_reports(
        &check(&scratch, &[]),
        1,
        "ClusterSecretStore vault does not serve namespace apps (its spec.conditions keep it out)",
    );
}

#[test]
fn templates_and_schemas_that_do_not_load_are_invalid_manifests() {
    let scratch = healthy();
    scratch.write(
        "deploy/apps/db.yaml",
        &external_secret("password").replace("| urlquery }}", "| urlquery }"),
    );
    assert_reports(
        &check(&scratch, &[]),
        11,
        "INVALID  ExternalSecret apps/db (deploy/apps/db.yaml document 1): spec.target.template.data.url: ",
    );

    let scratch = healthy();
    scratch.write(
        "deploy/apps/broken.yaml",
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: broken, namespace: apps}\nspec:\n  data:\n  - secretKey: k\n    remoteRef: {key: [not, a, string]}\n",
    );
    assert_reports(
        &check(&scratch, &[]),
        11,
        "INVALID  ExternalSecret broken (deploy/apps/broken.yaml document 1): spec.data[0].remoteRef.key: got a sequence, expected a string",
    );
}

#[test]
fn json_and_junit_carry_the_same_findings() {
    let scratch = healthy();
    scratch.write("deploy/apps/db.yaml", &external_secret("db-password"));
    let output = scratch.keyward(&[
        "check",
        "--offline",
        "deploy",
        "--junit",
        "check.xml",
        "--output",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["outcome"], "unhealthy");
    assert_eq!(json["summary"]["unhealthy"], 1);
    let failing: Vec<&serde_json::Value> = json["checked"]
        .as_array()
        .expect("checked")
        .iter()
        .filter(|c| c["findings"].as_array().is_some_and(|f| !f.is_empty()))
        .collect();
    assert_eq!(failing.len(), 2, "{json:#}"); // the Deployment (key) and the CronJob (warning)
    assert_eq!(failing[0]["kind"], "Deployment");
    assert_eq!(failing[0]["findings"][0]["rule"], "key");
    assert_eq!(failing[0]["findings"][0]["severity"], "unhealthy");

    let xml = scratch.read("check.xml");
    assert!(
        xml.contains("<testsuites name=\"keyward check\" tests=\"6\" failures=\"1\">"),
        "{xml}"
    );
    assert!(
        xml.contains("<testcase classname=\"Deployment\" name=\"apps/web\" file=\"deploy/apps/web.yaml document 1\">"),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"container app env DB_PASSWORD reads key password"),
        "{xml}"
    );
}

#[test]
fn manifests_without_offline_are_a_usage_error_naming_the_flag() {
    let scratch = healthy();
    let output = scratch.keyward(&["check", "deploy"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--offline"), "{}", stderr(&output));
}

#[test]
fn no_value_in_any_output_even_at_trace_level() {
    let scratch = healthy();
    // Values where manifests may hold them: a plaintext Secret, a workload's env, a template
    // literal, and a document that does not type-check around one.
    scratch.write(
        "deploy/apps/plain.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: db-tls, namespace: apps}}\nstringData: {{tls.crt: {CANARY}}}\ndata: {{tls.key: {}}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: apps}}\nspec:\n  containers:\n  - name: c\n    env: [{{name: X, value: {CANARY}}}, {{name: Y, valueFrom: {{secretKeyRef: {{name: db-tls, key: {CANARY}-missing}}}}}}]\n---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: bad, namespace: apps}}\nspec:\n  refreshInterval: [{CANARY}]\n",
            base64_of(CANARY)
        ),
    );
    for format in ["text", "json"] {
        let output = scratch.keyward(&[
            "check",
            "--offline",
            "deploy",
            "--junit",
            "check.xml",
            "--output",
            format,
            "--log-level",
            "trace",
            "--verbose",
        ]);
        assert_eq!(output.status.code(), Some(11), "{}", stdout(&output));
        let everything = format!(
            "{}{}{}",
            stdout(&output),
            stderr(&output),
            scratch.read("check.xml")
        );
        // The key name the Pod asks for is a name, and is shown; the values never are.
        let without_key_names = everything.replace(&format!("{CANARY}-missing"), "");
        assert!(!without_key_names.contains(CANARY), "{everything}");
        assert!(!everything.contains(&base64_of(CANARY)), "{everything}");
    }
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn a_store_written_from_memory_is_named_to_the_field_with_the_eso_form() {
    let scratch = healthy();
    // The shape of the platform how-to: ids and secret as valueFrom maps, beside tenantId.
    scratch.write(
        "deploy/stores.yaml",
        "\
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: vault}
spec:
  provider:
    azurekv:
      vaultUrl: https://kv.vault.azure.net
      tenantId: {valueFrom: {secretKeyRef: {name: azure, key: tenant}}}
      clientId: {valueFrom: {secretKeyRef: {name: azure, key: client-id}}}
      clientSecret: {valueFrom: {secretKeyRef: {name: azure, key: client-secret}}}
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: local, namespace: apps}
spec:
  provider:
    fake: {data: [{key: a, value: b}]}
",
    );
    assert_reports(
        &check(&scratch, &[]),
        11,
        "INVALID  ClusterSecretStore vault (deploy/stores.yaml document 1): spec.provider.azurekv.tenantId: got a map, expected a string; tenantId is the directory id as a string; a client id and secret go in authSecretRef.clientId and authSecretRef.clientSecret",
    );

    // tenantId fixed, the ids still beside it: the apiserver would drop them silently.
    scratch.write(
        "deploy/stores.yaml",
        &scratch.read("deploy/stores.yaml").replace(
            "tenantId: {valueFrom: {secretKeyRef: {name: azure, key: tenant}}}",
            "tenantId: 9f2c-tenant",
        ),
    );
    assert_reports(
        &check(&scratch, &[]),
        0,
        "warn     ClusterSecretStore vault (deploy/stores.yaml document 1): spec.provider.azurekv.clientId: keyward does not read this field; ESO reads these as authSecretRef.clientId",
    );
}

#[test]
fn misspelt_fields_the_apiserver_would_drop_are_named() {
    let scratch = healthy();
    scratch.write(
        "deploy/apps/db.yaml",
        &external_secret("password").replace(
            "remoteRef: {key: apps/db, property: password}",
            "remoteRef: {key: apps/db, propery: password}",
        ),
    );
    assert_reports(
        &check(&scratch, &[]),
        0,
        "warn     ExternalSecret apps/db (deploy/apps/db.yaml document 1): spec.data[0].remoteRef.propery: not a field keyward knows for this kind",
    );
}

#[test]
fn generators_are_checked_where_they_are_named() {
    let scratch = healthy();
    let reference = |kind: &str, name: &str| {
        format!(
            "{{generatorRef: {{apiVersion: generators.external-secrets.io/v1alpha1, kind: {kind}, name: {name}}}}}"
        )
    };
    let es = |name: &str, spec: &str| {
        format!(
            "---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: {name}, namespace: apps}}\nspec:\n{spec}\n"
        )
    };
    let manifests = [
        "apiVersion: generators.external-secrets.io/v1alpha1\nkind: Password\nmetadata: {name: fine, namespace: apps}\nspec: {length: 30}\n".to_owned(),
        "---\napiVersion: generators.external-secrets.io/v1alpha1\nkind: Password\nmetadata: {name: short, namespace: apps}\nspec: {length: 4, digits: 3, symbols: 2}\n".to_owned(),
        es("generated", &format!("  dataFrom: [{{sourceRef: {}}}]", reference("Password", "fine"))),
        es("elsewhere", &format!("  dataFrom: [{{sourceRef: {}}}]", reference("UUID", "ids"))),
        es("impossible", &format!("  dataFrom: [{{sourceRef: {}}}]", reference("Password", "short"))),
        es(
            "in-data",
            &format!(
                "  secretStoreRef: {{name: vault}}\n  data: [{{secretKey: k, remoteRef: {{key: k}}, sourceRef: {}}}]",
                reference("UUID", "ids")
            ),
        ),
    ]
    .concat();
    scratch.write("deploy/apps/generated.yaml", &manifests);
    let result = check(&scratch, &[]);
    assert_reports(
        &result,
        11,
        "spec.dataFrom[0].sourceRef.generatorRef: names UUID apps/ids, which is not in these manifests",
    );
    assert_reports(
        &result,
        11,
        "spec.dataFrom[0].sourceRef.generatorRef: error using generator: number of digits and symbols must be less than total length",
    );
    assert_reports(
        &result,
        11,
        "spec.data[0].sourceRef.generatorRef: a generator is served only in spec.dataFrom",
    );
    assert!(
        !result
            .1
            .lines()
            .any(|line| line.contains("ExternalSecret apps/generated ")
                && (line.starts_with("INVALID") || line.starts_with("warn"))),
        "a generator that is there and can generate is no finding:\n{}",
        result.1
    );
}
