//! The labelled accuracy corpus: positives per detector and per policy, and hard negatives
//! (commit SHAs, UUIDs, lockfile hashes, Helm `{{ }}`, `${VAR}`, `secretKeyRef`,
//! ExternalSecret, SealedSecret, SOPS files, test placeholders, code references).
//!
//! Prints precision and recall per category; run with
//! `cargo test -p keyward-scan --test integration accuracy -- --nocapture`.
//! Every credential-shaped string is generated from a template at run time.

use std::collections::BTreeMap;

use keyward_scan::catalog::DETECTORS;
use keyward_scan::synth::expand;
use keyward_scan::{Config, FingerprintKey, Scanner};

/// One labelled file.
struct Case {
    path: String,
    text: String,
    /// Rules that must fire; empty for a negative.
    expect: Vec<String>,
    /// What the case exercises (for failure messages).
    label: String,
}

fn case(label: &str, path: &str, template: &str, expect: &[&str]) -> Case {
    Case {
        path: path.to_owned(),
        text: expand(label, template),
        expect: expect.iter().map(|r| (*r).to_owned()).collect(),
        label: label.to_owned(),
    }
}

fn detector_positives() -> Vec<Case> {
    let mut cases = Vec::new();
    for spec in DETECTORS {
        // The fixture as written, then the same format inside a larger file with new values.
        cases.push(case(
            &format!("{}/plain", spec.id),
            "fixture.txt",
            spec.example,
            &[spec.id],
        ));
        let embedded = format!(
            "# deployment notes\n\nsettings:\n{}\n\nend of file\n",
            spec.example
        );
        cases.push(case(
            &format!("{}/embedded", spec.id),
            "notes/setup.md",
            &embedded,
            &[spec.id],
        ));
    }
    cases
}

fn policy_positives() -> Vec<Case> {
    let k8s = "policy/k8s-secret";
    let env = "policy/env-file";
    vec![
        case(
            "k8s-stringdata",
            "deploy/db.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  username: app\n  dsn: host=db user=app pw={an:16}\n",
            &[k8s],
        ),
        case(
            "k8s-data-base64",
            "deploy/db.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  username: YXBw\n  conn: {b64:24}\n",
            &[k8s],
        ),
        case(
            "k8s-multidoc",
            "deploy/all.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  mode: fast\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: api\nstringData:\n  key-material: {an:32}\n",
            &[k8s],
        ),
        case(
            "k8s-json",
            "deploy/secret.json",
            "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Secret\",\n  \"metadata\": {\"name\": \"x\"},\n  \"data\": {\"cert\": \"{b64:32}\"}\n}\n",
            &[k8s],
        ),
        case(
            "k8s-json-list",
            "deploy/list.json",
            "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n  {\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"y\"},\n   \"stringData\": {\"blob\": \"{an:20}\"}}\n]}\n",
            &[k8s],
        ),
        case(
            "k8s-helm-output",
            "rendered/manifest.yaml",
            "---\n# Source: app/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: release-app\n  labels:\n    helm.sh/chart: app-1.2.3\ntype: Opaque\ndata:\n  redis-pass: {b64:28}\n",
            &[k8s],
        ),
        case(
            "k8s-kustomize-output",
            "out/kustomized.yaml",
            "apiVersion: v1\ndata:\n  session: {b64:40}\nkind: Secret\nmetadata:\n  name: app-secrets-7k9h2m\n  namespace: prod\ntype: Opaque\n",
            &[k8s],
        ),
        case(
            "env-dotenv",
            ".env",
            "NODE_ENV=production\nDB_PASSWORD={an:18}\n",
            &[env],
        ),
        case(
            "env-plain-settings-only",
            "config/prod.env",
            "PORT=8080\nLOG_LEVEL=info\n",
            &[env],
        ),
        case(
            "env-envrc",
            ".envrc",
            "export API_TOKEN={an:24}\nPATH_add bin\n",
            &[env],
        ),
        case(
            "env-tfvars",
            "infra/prod.tfvars",
            "location = \"westeurope\"\nadmin_password = \"{an:20}\"\n",
            &[env],
        ),
        case(
            "env-example-with-real-value",
            ".env.example",
            "DB_PASSWORD={an:18}\nPORT=8080\n",
            &[env],
        ),
        case(
            "bundle-plaintext",
            "control/secrets.vault.env",
            "BOOTSTRAP_USER=admin\nCI_DEPLOY_KEY={an:30}\n",
            &["policy/bundle-unencrypted"],
        ),
        case(
            "sops-yaml-plaintext",
            "secrets/app.enc.yaml",
            "db:\n    user: ENC[AES256_GCM,data:{b64:8},iv:{b64:43}=,tag:{b64:22}==,type:str]\n    host: db.internal\nsops:\n    mac: ENC[AES256_GCM,data:{b64:60},type:str]\n    version: 3.9.0\n",
            &["policy/sops-unencrypted"],
        ),
        case(
            "sops-dotenv-plaintext",
            "secrets/app.env",
            "API_URL=https://api.kw.test\nAPI_KEY=ENC[AES256_GCM,data:{b64:20},iv:{b64:43}=,tag:{b64:22}==,type:str]\nsops_version=3.9.0\nsops_mac=ENC[AES256_GCM,data:{b64:60},type:str]\n",
            &["policy/sops-unencrypted"],
        ),
        case(
            "sops-json-plaintext",
            "secrets/app.json",
            "{\n  \"user\": \"ENC[AES256_GCM,data:{b64:8},iv:{b64:43}=,tag:{b64:22}==,type:str]\",\n  \"region\": \"eu-west-1\",\n  \"sops\": {\"mac\": \"ENC[x]\", \"version\": \"3.9.0\"}\n}\n",
            &["policy/sops-unencrypted"],
        ),
    ]
}

/// Formats seen in gitleaks' history that the detectors once missed (issue 7 recall work).
fn variant_positives() -> Vec<Case> {
    let pem = "pem-private-key";
    vec![
        case(
            "pem-sigstore-encrypted",
            "keys/cosign.key",
            "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{b64:64}\n{b64:64}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
            &[pem],
        ),
        case(
            "pem-rfc1421-headers",
            "keys/legacy.pem",
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,{HEX:32}\n\n{b64:64}\n{b64:64}\n-----END RSA PRIVATE KEY-----\n",
            &[pem],
        ),
        case(
            "pem-escaped-crlf-in-code",
            "pkg/keys_test.go",
            "var key = \"-----BEGIN EC PRIVATE KEY-----\\r\\n{b64:64}\\r\\n{b64:56}\\r\\n-----END EC PRIVATE KEY-----\"\n",
            &[pem],
        ),
        case(
            "openssh-indented-raw-string",
            "pkg/ssh_test.go",
            "const key = `-----BEGIN OPENSSH PRIVATE KEY-----\n\t\tb3BlbnNzaC1rZXktdjE{b64:45}\n\t\t{b64:70}\n\t\t-----END OPENSSH PRIVATE KEY-----`\n",
            &["openssh-private-key"],
        ),
        case(
            "flyio-macaroon-fm1a",
            "deploy/fly.env.md",
            "export FLY_API_TOKEN=fm1a_{b64:180}==\n",
            &["flyio-macaroon-token"],
        ),
        // Issue (scan performance and recall): runs of `A` (zero bytes) in long encoded
        // values are not filler.
        case(
            "openssh-zero-byte-runs",
            "keys/id_ed25519",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n{b64:70}\n{b64:70}\n{b64:20}AAAAAAAAAAA{b64:12}=\n-----END OPENSSH PRIVATE KEY-----\n",
            &["openssh-private-key"],
        ),
        case(
            "flyio-macaroon-comma-joined",
            "fly.toml.md",
            "ENV FLY_API_TOKEN=\"FlyV1 fm1r_lJPECAAAAAAAAMqcxBB{b64:150},fm1a_lJPOAAAAAAAB{b64:120}\"\n",
            &["flyio-macaroon-token"],
        ),
        case(
            "pgp-private-key-json-escaped",
            "test/keys.json",
            "{\"key\": \"-----BEGIN PGP PRIVATE KEY BLOCK-----\\n\\n{b64:64}\\n{b64:64}\\n={b64:4}\\n-----END PGP PRIVATE KEY BLOCK-----\\n\"}\n",
            &["pgp-private-key"],
        ),
        case(
            "vault-legacy-service-token",
            "deploy/vault.hcl",
            "vault_token = \"s.{an:9}7{an:5}4Q{an:6}9\"\n",
            &["vault-service-token-legacy"],
        ),
        case(
            "atlassian-php-concatenation-assignment",
            "lib/jira.php",
            "$atlassianToken .= \"{an:10}7{an:13}\";\n",
            &["atlassian-api-token-legacy"],
        ),
    ]
}

fn variant_negatives() -> Vec<Case> {
    vec![
        case(
            "pem-certificate",
            "certs/ca.pem",
            "-----BEGIN CERTIFICATE-----\n{b64:64}\n{b64:64}\n-----END CERTIFICATE-----\n",
            &[],
        ),
        case(
            "pem-elided-body",
            "docs/keys.md",
            "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n...\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
            &[],
        ),
        case(
            "vault-legacy-go-field",
            "pkg/vault/client.go",
            "token: s.AcceptanceTimeoutSeconds,\nv := s.Scte35SpliceInsert\n",
            &[],
        ),
        case(
            "long-filler-value",
            "docs/fly.md",
            "FLY_API_TOKEN=fm2_{b64:8}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
            &[],
        ),
        case(
            "flyio-prefix-only",
            "docs/fly.md",
            "tokens look like fm2_ followed by base64\n",
            &[],
        ),
    ]
}

fn hard_negatives() -> Vec<Case> {
    let example_akid = ["AKIA", "IOSFODNN7", "EXAMPLE"].concat();
    let mut cases = vec![
        case(
            "commit-sha",
            "CHANGELOG.md",
            "## 1.2.0\n\n- fix parser (commit {hex:40})\n- merged {hex:40}\nresolved_commit: {hex:40}\n",
            &[],
        ),
        case(
            "uuids",
            "config/app.yaml",
            "tenant_id: {hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}\nrequest_token: {hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}\n",
            &[],
        ),
        case(
            "package-lock",
            "package-lock.json",
            "{\n  \"packages\": {\n    \"node_modules/left-pad\": {\n      \"version\": \"1.3.0\",\n      \"resolved\": \"https://registry.kw.test/left-pad/-/left-pad-1.3.0.tgz\",\n      \"integrity\": \"sha512-{b64:86}==\"\n    }\n  }\n}\n",
            &[],
        ),
        case(
            "cargo-lock",
            "Cargo.lock",
            "[[package]]\nname = \"regex\"\nversion = \"1.11.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{hex:64}\"\n",
            &[],
        ),
        case(
            "go-sum",
            "go.sum",
            "github.com/kw/mod v1.2.3 h1:{b64:43}=\ngithub.com/kw/mod v1.2.3/go.mod h1:{b64:43}=\n",
            &[],
        ),
        case(
            "poetry-lock",
            "poetry.lock",
            "[[package]]\nname = \"requests\"\nfiles = [\n    {file = \"requests-2.32.0.tar.gz\", hash = \"sha256:{hex:64}\"},\n]\n",
            &[],
        ),
        case(
            "image-digest",
            "deploy/app.yaml",
            "containers:\n  - name: app\n    image: registry.kw.test/app@sha256:{hex:64}\n",
            &[],
        ),
        case(
            "helm-template",
            "chart/templates/secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ include \"app.fullname\" . }}\ndata:\n  password: {{ .Values.db.password | b64enc | quote }}\n  token: {{ required \"token\" .Values.token | b64enc }}\n",
            &[],
        ),
        case(
            "helm-values-refs",
            "chart/values.yaml",
            "db:\n  password: \"\"\n  existingSecret: db-credentials\n  secretKeys:\n    passwordKey: password\n",
            &[],
        ),
        case(
            "env-var-refs",
            "docker-compose.yml",
            "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n      DATABASE_URL: postgres://app:${PGPASSWORD}@db:5432/app\n      API_TOKEN: ${API_TOKEN:-}\n",
            &[],
        ),
        case(
            "secret-key-ref",
            "deploy/deployment.yaml",
            "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-credentials\n        key: password\n",
            &[],
        ),
        case(
            "external-secret",
            "deploy/external-secret.yaml",
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: db\nspec:\n  secretStoreRef:\n    name: azure-kv\n    kind: ClusterSecretStore\n  target:\n    name: db-credentials\n  data:\n    - secretKey: password\n      remoteRef:\n        key: db-password\n",
            &[],
        ),
        case(
            "sealed-secret",
            "deploy/sealed.yaml",
            "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\nspec:\n  encryptedData:\n    password: AgB{b64:380}==\n",
            &[],
        ),
        case(
            "sops-encrypted-yaml",
            "secrets/db.enc.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: ENC[AES256_GCM,data:{b64:16},iv:{b64:43}=,tag:{b64:22}==,type:str]\nsops:\n    age:\n        - recipient: age1{bech:58}\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            {b64:64}\n            -----END AGE ENCRYPTED FILE-----\n    mac: ENC[AES256_GCM,data:{b64:60},iv:{b64:43}=,tag:{b64:22}==,type:str]\n    encrypted_regex: ^(data|stringData)$\n    version: 3.9.0\n",
            &[],
        ),
        case(
            "sops-encrypted-dotenv",
            "control/secrets.vault.env",
            "DB_PASSWORD=ENC[AES256_GCM,data:{b64:16},iv:{b64:43}=,tag:{b64:22}==,type:str]\nsops_version=3.9.0\nsops_mac=ENC[AES256_GCM,data:{b64:60},type:str]\nsops_unencrypted_suffix=_unencrypted\n",
            &[],
        ),
        case(
            "ansible-vault-bundle",
            "control/secrets.vault.env",
            "$ANSIBLE_VAULT;1.1;AES256\n{hex:80}\n{hex:80}\n{hex:40}\n",
            &[],
        ),
        case(
            "placeholders",
            "docs/setup.md",
            "password: changeme\napi_key: <your-api-key>\ntoken: xxxxxxxxxxxxxxxxxxxx\nclient_secret: REPLACE_ME\nGITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
            &[],
        ),
        case(
            "env-example",
            ".env.example",
            "DB_PASSWORD=\nAPI_TOKEN=<token>\nSECRET_KEY=${SECRET_KEY}\nPORT=8080\n",
            &[],
        ),
        case(
            "code-references",
            "app/settings.py",
            "password = os.environ[\"DB_PASSWORD\"]\ntoken = os.getenv(\"API_TOKEN\")\nsecret_key = settings.SECRET_KEY\napi_key = config.get(\"api_key\")\n",
            &[],
        ),
        case(
            "js-references",
            "web/config.js",
            "const apiKey = process.env.API_KEY;\nconst token = await vault.read(path);\nexport const secretName = \"app-secret\";\n",
            &[],
        ),
        case(
            "terraform-refs",
            "infra/main.tf",
            "resource \"azurerm_mssql_server\" \"db\" {\n  administrator_login_password = var.db_password\n  client_secret = data.azurerm_key_vault_secret.sp.value\n}\n",
            &[],
        ),
        case(
            "actions-secrets",
            ".github/workflows/ci.yml",
            "steps:\n  - uses: actions/checkout@v4\n    with:\n      token: ${{ secrets.GITHUB_TOKEN }}\n  - run: echo \"$NPM_TOKEN\"\n",
            &[],
        ),
        case(
            "keyvault-reference",
            "appsettings.json",
            "{\"Db\": {\"Password\": \"@Microsoft.KeyVault(SecretUri=https://kw.vault.azure.net/secrets/db/)\"}}\n",
            &[],
        ),
        case(
            "public-keys",
            "keys/README.md",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5{b64:48} ops@kw\n-----BEGIN PUBLIC KEY-----\n{b64:64}\n-----END PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----\n{b64:64}\n-----END CERTIFICATE-----\n",
            &[],
        ),
        case(
            "urls-without-passwords",
            "config/urls.yaml",
            "db: postgres://localhost:5432/app\ncache: redis://redis:6379/0\nmq: amqp://mq.kw.test:5672/\nsite: https://user@git.kw.test/repo.git\n",
            &[],
        ),
        case(
            "ingress-tls",
            "deploy/ingress.yaml",
            "spec:\n  tls:\n    - hosts: [kw.test]\n      secretName: kw-test-tls\n",
            &[],
        ),
        case(
            "empty-secret",
            "deploy/sa-token.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sa-token\n  annotations:\n    kubernetes.io/service-account.name: app\ntype: kubernetes.io/service-account-token\n",
            &[],
        ),
        case(
            "not-a-jwt",
            "fixtures/blob.txt",
            "data: eyJ{url:20}.eyJ{url:30}.{url:30}\n",
            &[],
        ),
        case(
            "hash-assignments",
            "tests/expected.txt",
            "expected_hash = \"sha256:{hex:64}\"\netag: \"{hex:32}\"\n",
            &[],
        ),
        case(
            "escaped-newlines-in-code",
            "tests/fixtures.rs",
            "let doc = \"existingSecret: db-credentials\\nsecret_key = settings.SECRET_KEY\\nnext: 1\";\n",
            &[],
        ),
        case(
            "rust-types",
            "src/lib.rs",
            "pub const K8S_SECRET: PolicyRule = PolicyRule::new();\nfn token(&self) -> TokenKind {\n    let secret = SecretValue::from(bytes);\n}\n",
            &[],
        ),
    ];
    cases.push(Case {
        path: "docs/aws.md".to_owned(),
        text: format!("aws_access_key_id = {example_akid}\n"),
        expect: Vec::new(),
        label: "aws-example-key".to_owned(),
    });
    cases
}

#[derive(Default)]
struct Tally {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Tally {
    fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// The category a rule's results count under: its detector category, or the policy id.
fn category_of(rule: &str) -> String {
    if rule.starts_with("policy/") {
        return rule.to_owned();
    }
    DETECTORS
        .iter()
        .find(|d| d.id == rule)
        .map_or_else(|| "other".to_owned(), |d| d.category.to_owned())
}

fn score(scanner: &Scanner, cases: &[Case]) -> (BTreeMap<String, Tally>, Vec<String>) {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut errors = Vec::new();
    for case in cases {
        let found: Vec<String> = scanner
            .scan(&case.path, case.text.as_bytes())
            .into_iter()
            .map(|f| f.rule)
            .collect();
        for rule in &case.expect {
            let tally = tallies.entry(category_of(rule)).or_default();
            if found.contains(rule) {
                tally.tp += 1;
            } else {
                tally.fn_ += 1;
                errors.push(format!("missed {rule} in {}", case.label));
            }
        }
        for rule in found.iter().filter(|r| !case.expect.contains(r)) {
            tallies.entry(category_of(rule)).or_default().fp += 1;
            errors.push(format!("false positive {rule} in {}", case.label));
        }
    }
    (tallies, errors)
}

#[test]
fn precision_and_recall_per_category() {
    let scanner = Scanner::new(
        Config::default(),
        FingerprintKey::from_bytes(b"accuracy-key"),
    )
    .expect("scanner");
    let mut cases = detector_positives();
    cases.extend(policy_positives());
    cases.extend(hard_negatives());
    cases.extend(variant_positives());
    cases.extend(variant_negatives());
    let (tallies, errors) = score(&scanner, &cases);
    println!(
        "{:<28} {:>4} {:>4} {:>4} {:>9} {:>7}",
        "category", "TP", "FP", "FN", "precision", "recall"
    );
    let mut total = Tally::default();
    for (category, t) in &tallies {
        println!(
            "{category:<28} {:>4} {:>4} {:>4} {:>9.3} {:>7.3}",
            t.tp,
            t.fp,
            t.fn_,
            t.precision(),
            t.recall()
        );
        total.tp += t.tp;
        total.fp += t.fp;
        total.fn_ += t.fn_;
    }
    println!(
        "{:<28} {:>4} {:>4} {:>4} {:>9.3} {:>7.3}",
        "ALL",
        total.tp,
        total.fp,
        total.fn_,
        total.precision(),
        total.recall()
    );
    println!(
        "{} cases, {} hard negatives",
        cases.len(),
        hard_negatives().len()
    );
    for error in &errors {
        println!("  {error}");
    }
    for (category, t) in tallies.iter().filter(|(c, _)| c.starts_with("policy/")) {
        assert_eq!(t.fn_, 0, "policy {category} must reach 100% recall");
    }
    assert!(total.recall() >= 0.98, "recall {:.3}", total.recall());
    assert!(
        total.precision() >= 0.98,
        "precision {:.3}",
        total.precision()
    );
}
