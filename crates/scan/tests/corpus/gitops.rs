//! The GitOps precision corpus (issue 13, item 4): files in the shapes of home-ops style
//! repositories, where Git holds references and a scanner must stay quiet, plus the real
//! credentials such repositories do commit by mistake, which it must still find. Written for
//! keyward, copied from no repository; every credential-shaped value is generated at run time.
//!
//! A line of a template holding `⟦` starts a labelled secret and the line holding `⟧` ends it
//! (the same line for one-line values); the markers are removed. A tool's finding on a line
//! of a labelled span (or the line above it, where a multi-line value's key sits) is a true
//! positive for that secret; a finding anywhere else is a false positive.

use base64::Engine;
use keyward_scan::synth::expand;

/// One file of the corpus.
pub struct Case {
    /// Path inside the corpus.
    pub path: &'static str,
    /// Content.
    pub text: String,
    /// Real secrets: 1-based first and last line.
    pub secrets: Vec<(usize, usize)>,
}

fn case(path: &'static str, template: &str) -> Case {
    let text = expand(path, template);
    let mut secrets = Vec::new();
    let mut open = None;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.contains('⟦') {
            open = Some(index + 1);
        }
        if line.contains('⟧') {
            let first = open.take().unwrap_or(index + 1);
            secrets.push((first, index + 1));
        }
        lines.push(line.replace(['⟦', '⟧'], ""));
    }
    assert!(open.is_none(), "{path}: a span is not closed");
    Case {
        path,
        text: lines.join("\n") + "\n",
        secrets,
    }
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A PEM block with a generated body.
fn pem(seed: &str, label: &str, lines: usize) -> String {
    let mut body = String::new();
    for i in 0..lines {
        body.push_str(&expand(&format!("{seed}-{i}"), "{b64:64}"));
        body.push('\n');
    }
    format!("-----BEGIN {label}-----\n{body}-----END {label}-----\n")
}

/// Every case: references and names (quiet), example files, and real mistakes.
pub fn cases() -> Vec<Case> {
    let mut cases = references();
    cases.extend(names());
    cases.extend(example_files());
    cases.extend(mistakes());
    cases.extend(tooling());
    cases
}

/// What the tooling around a cluster commits that names secrets without holding one: task
/// runner includes under `secrets:`, the algorithm of a TSIG key kept elsewhere, and the
/// public `known_hosts` a Flux deploy-key Secret carries next to its templated private key
/// (shapes seen in the history of a public home-ops repository, rewritten here).
fn tooling() -> Vec<Case> {
    vec![
        // Git SHAs and IDs under keys that name no credential stay quiet, and so do token
        // *IDs* (a Vault accessor names a token, it does not grant one).
        case(
            "kubernetes/apps/default/renovate/helmrelease.yaml",
            r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: renovate
  annotations:
    commit: {hex:40}
spec:
  chart:
    spec:
      version: 39.0.0
  values:
    cache_key: {hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}
    uid: {hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}
    token_id: {hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}
    source_revision: main@sha1:{hex:40}
    secretsChecksum: {hex:40}
"#,
        ),
        case(
            "Taskfile.yaml",
            r#"version: "3"
includes:
  flux: .taskfiles/Flux/Taskfile.yaml
  secrets: .taskfiles/ExternalSecrets/Taskfile.yaml
  sops: .taskfiles/Sops/Taskfile_secrets.yml
"#,
        ),
        case(
            "kubernetes/apps/network/external-dns/bind/helmrelease.yaml",
            r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: external-dns-bind
spec:
  values:
    env:
      - name: EXTERNAL_DNS_RFC2136_TSIG_KEYNAME
        value: kubernetes-key
      - name: EXTERNAL_DNS_RFC2136_TSIG_SECRET_ALG
        value: hmac-sha256
    extraArgs:
      EXTERNAL_DNS_RFC2136_TSIG_SECRET_ALG: hmac-sha512
    envFrom:
      - secretRef:
          name: external-dns-bind-secret
"#,
        ),
        case(
            "kubernetes/bootstrap/flux/github-deploy-key.secret.yaml.j2",
            r#"apiVersion: v1
kind: Secret
metadata:
  name: github-deploy-key
  namespace: flux-system
stringData:
  identity: |
    {{ ENV.FLUX_GITHUB_DEPLOY_KEY | indent(4) }}
  known_hosts: |
    github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5{b64:44}
    github.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY{b64:120}
"#,
        ),
    ]
}

/// Secret references as values: 1Password for `op inject` and `op run`, vals,
/// argocd-vault-plugin, Bank-Vaults, Flux substitutions, Helm and ESO templates.
fn references() -> Vec<Case> {
    vec![
        case(
            "kubernetes/bootstrap/resources.yaml",
            r#"---
apiVersion: v1
kind: Namespace
metadata:
  name: external-secrets
---
apiVersion: v1
kind: Secret
metadata:
  name: onepassword-secret
  namespace: external-secrets
stringData:
  token: op://kubernetes/1password/OP_CONNECT_TOKEN
  1password-credentials.json: "op://kubernetes/1password/OP_CREDENTIALS_JSON"
---
apiVersion: v1
kind: Secret
metadata:
  name: sops-age
  namespace: flux-system
stringData:
  age.agekey: |-
    op://kubernetes/sops/SOPS_PRIVATE_KEY
---
apiVersion: v1
kind: Secret
metadata:
  name: cloudflare-tunnel
  namespace: network
stringData:
  credentials.json: |
    {
      "AccountTag": "op://kubernetes/cloudflare/CLOUDFLARE_ACCOUNT_TAG",
      "TunnelSecret": "op://kubernetes/cloudflare/CLOUDFLARE_TUNNEL_SECRET",
      "TunnelID": "op://kubernetes/cloudflare/CLOUDFLARE_TUNNEL_ID"
    }
---
apiVersion: v1
kind: Secret
metadata:
  name: github-deploy-key
  namespace: flux-system
stringData:
  identity: |
    op://kubernetes/flux/FLUX_GITHUB_DEPLOY_KEY
  known_hosts: |
    op://kubernetes/flux/FLUX_GITHUB_KNOWN_HOSTS
"#,
        ),
        case(
            "bootstrap/op.env",
            "CLOUDFLARE_API_TOKEN=op://kubernetes/cloudflare/CLOUDFLARE_API_TOKEN\n\
             GITHUB_TOKEN=\"op://kubernetes/github/GITHUB_TOKEN\"\n\
             SOPS_AGE_KEY='op://kubernetes/sops/SOPS_PRIVATE_KEY'\n\
             export OP_CONNECT_TOKEN=op://kubernetes/1password/OP_CONNECT_TOKEN\n",
        ),
        case(
            "Taskfile.yaml",
            r#"version: "3"
tasks:
  bootstrap:
    cmds:
      - op inject -i kubernetes/bootstrap/resources.yaml | kubectl apply -f -
      - op run --env-file=bootstrap/op.env -- ./scripts/bootstrap.sh
    env:
      GITHUB_TOKEN: op://kubernetes/github/GITHUB_TOKEN
"#,
        ),
        case(
            "kubernetes/apps/db/app/secret.yaml",
            r#"apiVersion: v1
kind: Secret
metadata:
  name: db
  annotations:
    avp.kubernetes.io/path: "kv/data/db"
stringData:
  username: <username>
  password: <path:kv/data/db#password>
  replication-password: <path:kv/data/db#replication | base64encode>
"#,
        ),
        case(
            "helmfile/values/postgres.yaml",
            r#"auth:
  postgresPassword: ref+vault://secret/data/postgres#/admin
  password: ref+awssecrets://prod/postgres?region=eu-west-1#/app
  replicationPassword: "ref+sops://secrets.enc.yaml#/postgres/replication"
"#,
        ),
        case(
            "charts/app/rendered-secret.yaml",
            r#"apiVersion: v1
kind: Secret
metadata:
  name: app-vals
stringData:
  password: ref+vault://secret/data/app#/password
  token: ref+gcpsecrets://my-project/app-token
  vault-injected: vault:secret/data/app#api_key
  gcp: projects/my-project/secrets/app-token/versions/latest
  aws: arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/api-AbCdEf
"#,
        ),
        case(
            "kubernetes/apps/media/app/secret-substituted.yaml",
            r#"apiVersion: v1
kind: Secret
metadata:
  name: media-secret
stringData:
  DOMAIN: ${SECRET_DOMAIN}
  API_KEY: "${MEDIA_API_KEY}"
  WEBHOOK_URL: https://hooks.${SECRET_DOMAIN}/media?token=${MEDIA_WEBHOOK_TOKEN}
"#,
        ),
        case(
            "charts/app/templates/secret.yaml",
            r#"apiVersion: v1
kind: Secret
metadata:
  name: {{ include "app.fullname" . }}
type: Opaque
data:
  password: {{ .Values.auth.password | b64enc | quote }}
stringData:
  config.yaml: |
    token: {{ required "a token" .Values.auth.token }}
"#,
        ),
        case(
            "kubernetes/apps/home/home-assistant/externalsecret.yaml",
            r#"apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: home-assistant
spec:
  secretStoreRef:
    kind: ClusterSecretStore
    name: onepassword
  target:
    name: home-assistant-secret
    template:
      data:
        HASS_TOKEN: "{{ .HASS_TOKEN }}"
        secrets.yaml: |
          postgres_url: postgresql://{{ .POSTGRES_USER }}:{{ .POSTGRES_PASS }}@postgres-rw.database.svc/home
  data:
    - secretKey: home-assistant.json
      remoteRef:
        key: home-assistant
        property: config
    - secretKey: HASS_POSTGRES_PASSWORD
      remoteRef:
        key: cloudnative-pg
        property: POSTGRES_SUPER_PASS
  dataFrom:
    - extract:
        key: home-assistant
"#,
        ),
        case(
            ".github/workflows/bootstrap.yaml",
            r#"on: workflow_dispatch
jobs:
  bootstrap:
    runs-on: ubuntu-latest
    steps:
      - uses: 1password/load-secrets-action@v2
        with:
          export-env: true
        env:
          OP_SERVICE_ACCOUNT_TOKEN: ${{ secrets.OP_SERVICE_ACCOUNT_TOKEN }}
          CLOUDFLARE_API_TOKEN: op://kubernetes/cloudflare/CLOUDFLARE_API_TOKEN
"#,
        ),
        case(
            "kubernetes/flux/vars/cluster-secrets.sops.yaml",
            r#"apiVersion: v1
kind: Secret
metadata:
  name: cluster-secrets
  namespace: flux-system
stringData:
  SECRET_DOMAIN: ENC[AES256_GCM,data:{b64:16},iv:{b64:43}=,tag:{b64:22}==,type:str]
sops:
  age:
    - recipient: age1{bech:58}
      enc: |
        -----BEGIN AGE ENCRYPTED FILE-----
        {b64:64}
        -----END AGE ENCRYPTED FILE-----
  mac: ENC[AES256_GCM,data:{b64:60},iv:{b64:43}=,tag:{b64:22}==,type:str]
  encrypted_regex: ^(data|stringData)$
  version: 3.9.0
"#,
        ),
    ]
}

/// Fields that name a Secret or a key in one.
fn names() -> Vec<Case> {
    vec![
        case(
            "kubernetes/apps/security/oauth2-proxy/helmrelease.yaml",
            r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: oauth2-proxy
spec:
  values:
    config:
      existingSecret: oauth2-proxy-dex
      configFile: |-
        email_domains = ["*"]
    redis:
      auth:
        existingSecret: oauth2-proxy-redis-v2
        existingSecretPasswordKey: redis-password
    envFrom:
      - secretRef:
          name: oauth2-proxy-secret
"#,
        ),
        case(
            "kubernetes/apps/actions-runner-system/runners/helmrelease.yaml",
            r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: home-ops-runner
spec:
  values:
    githubConfigUrl: https://github.com/someone/home-ops
    githubConfigSecret: runner-secret
    minRunners: 1
    template:
      spec:
        containers:
          - name: runner
            env:
              - name: ACTIONS_RUNNER_TOKEN
                valueFrom:
                  secretKeyRef:
                    name: actions-runner-controller-auth
                    key: github_token
"#,
        ),
        case(
            "kubernetes/apps/observability/grafana/helmrelease.yaml",
            r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: grafana
spec:
  values:
    admin:
      existingSecret: grafana-admin-secret
      userKey: admin-user
      passwordKey: admin-password
    grafana.ini:
      auth.generic_oauth:
        client_secret: $__file{/etc/secrets/oauth/client_secret}
    envFromSecret: grafana-secret
    database:
      passwordSecret: grafana-db-pg16
"#,
        ),
        case(
            "kubernetes/apps/default/paperless/externalsecret.yaml",
            r#"apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: paperless
spec:
  secretStoreRef:
    kind: ClusterSecretStore
    name: onepassword
  target:
    name: paperless-secret
  data:
    - secretKey: PAPERLESS_SECRET_KEY
      remoteRef:
        key: paperless
        property: secret-key
    - secretKey: paperless-admin.json
      remoteRef:
        key: paperless
        property: admin
"#,
        ),
        case(
            "kubernetes/apps/external-secrets/onepassword/helmrelease.yaml",
            r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: onepassword-connect
spec:
  values:
    connect:
      credentialsName: onepassword-secret
      credentialsKey: 1password-credentials.json
    operator:
      token:
        name: onepassword-secret
        key: token
"#,
        ),
        case(
            "kubernetes/apps/home/home-assistant/externalsecret-gcp.yaml",
            r#"apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: home-assistant-gcp-sa
spec:
  secretStoreRef:
    kind: ClusterSecretStore
    name: onepassword
  data:
    - secretKey: home-assistant-3f9c2-a41b07d2e9c4.json
      remoteRef:
        key: gcp-service-account
"#,
        ),
        case(
            "kubernetes/apps/cert-manager/webhook/mutatingwebhook.yaml",
            r#"apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: webhook
  annotations:
    cert-manager.io/inject-ca-from-secret: cert-manager/cert-manager-webhook-ca
    nginx.ingress.kubernetes.io/auth-secret: network/basic-auth-users
"#,
        ),
        case(
            ".github/prompts/monitoring.prompt.yaml",
            r#"steps:
  - name: grafana secret
    env:
      SECRET_KEYS: "ADMIN_PASSWORD: \"{{ .GRAFANA_ADMIN_PASSWORD }}\""
"#,
        ),
        case(
            "kubernetes/apps/llm/litellm/models/chat.yaml",
            r#"apiVersion: litellm.kw.test/v1alpha1
kind: LiteLLMModel
metadata:
  name: chat
spec:
  params:
    model: openai/chat-large
    apiBase: https://llm.kw.test/v1
    apiKey: os.environ/CHAT_API_KEY
  info:
    input_cost_per_token: 4.35e-07
    cache_read_input_token_cost: 3.625e-09
    output_cost_per_token: 8.7e-07
"#,
        ),
        case(
            ".taskfiles/workstation/Brewfile.lock.json",
            r#"{
  "entries": {
    "brew": {
      "sops": {
        "version": "3.9.1",
        "bottle": {
          "files": {
            "arm64_sequoia": {
              "url": "https://ghcr.kw.test/v2/homebrew/core/sops/blobs/sha256:{hex:64}",
              "sha256": "{hex:64}"
            }
          }
        }
      },
      "age": {
        "version": "1.2.1"
      }
    }
  }
}
"#,
        ),
        case(
            "kubernetes/flux/vars/cluster-settings.yaml",
            r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-settings
  namespace: flux-system
data:
  TIMEZONE: Europe/Berlin
  CLUSTER_CIDR: 10.42.0.0/16
  SECRET_DOMAIN_INTERNAL: internal.kw.test
  SECRET_STORE: onepassword-connect
"#,
        ),
    ]
}

/// Example env files: placeholders quiet, a real credential in one still found.
fn example_files() -> Vec<Case> {
    vec![
        case(
            ".env.example",
            "# Service principal for the bootstrap scripts\n\
             AZURE_CLIENT_ID=\n\
             AZURE_CLIENT_SECRET=\n\
             AZURE_TENANT_ID= # from the portal\n\
             DATABASE_URL=postgres://USER:PASSWORD@localhost:5432/app\n\
             REDIS_URL=redis://localhost:6379/0\n\
             SESSION_SECRET=<openssl rand -hex 32>\n",
        ),
        case(
            ".cluster-secrets.sample.env",
            "TEST_SECRET=\"BLAH\"\n\
             SECRET_DOMAIN=\"example.com\"\n\
             SECRET_ACME_EMAIL=\"you@example.com\"\n\
             SECRET_CLOUDFLARE_TOKEN=\"\"\n",
        ),
        case(
            "apps/web/.env.template",
            "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n\
             WEBHOOK_SECRET=changeme\n\
             POSTGRES_PASSWORD=postgres\n\
             SMTP_PASSWORD=your-smtp-password\n",
        ),
        case(
            "apps/mailer/.env.dist",
            "APP_SECRET=\n\
             MAILER_DSN=smtp://user:pass@smtp.kw.test:25\n\
             JWT_PASSPHRASE=${JWT_PASSPHRASE}\n",
        ),
        case(
            "deploy/app.example.env",
            "API_KEY=your-api-key\n\
             JWT_SECRET=\"${JWT_SECRET}\"\n\
             DB_PASS=op://dev/app/db-pass\n",
        ),
        case(
            "services/billing/.env.example",
            "# copied from production by mistake\n\
             ⟦STRIPE_SECRET_KEY=sk_live_{an:24}⟧\n\
             ⟦DATABASE_URL=postgres://billing:{an:16}@db.internal:5432/billing⟧\n\
             LOG_LEVEL=info\n",
        ),
        case(
            "tools/.env.sample",
            "⟦SLACK_BOT_TOKEN=xoxb-{dig:12}-{dig:13}-{an:24}⟧\n\
             ⟦ADMIN_PASSWORD={an:14}!7⟧\n\
             ADMIN_USER=admin\n",
        ),
    ]
}

/// Real credentials committed by mistake, in the same repositories.
fn mistakes() -> Vec<Case> {
    let ca_key = b64(&pem("cilium-ca", "RSA PRIVATE KEY", 8));
    let ca_crt = b64(&pem("cilium-ca-crt", "CERTIFICATE", 8));
    let tls_key = b64(&pem("hubble-server", "RSA PRIVATE KEY", 8));
    let tls_crt = b64(&pem("hubble-server-crt", "CERTIFICATE", 8));
    let cilium = format!(
        r#"---
# Source: cilium/templates/cilium-configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cilium-config
  namespace: kube-system
data:
  cluster-name: home
  enable-ipv4: "true"
  hubble-tls-cert-file: /var/lib/cilium/tls/hubble/server.crt
  hubble-tls-key-file: /var/lib/cilium/tls/hubble/server.key
---
# Source: cilium/templates/cilium-ca-secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: cilium-ca
  namespace: kube-system
data:
  ca.crt: {ca_crt}
  ⟦ca.key: {ca_key}⟧
---
# Source: cilium/templates/hubble/tls-helm/server-secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: hubble-server-certs
  namespace: kube-system
type: kubernetes.io/tls
data:
  ca.crt: {ca_crt}
  tls.crt: {tls_crt}
  ⟦tls.key: {tls_key}⟧
"#
    );
    vec![
        case("kubernetes/bootstrap/cilium/cilium.yaml", &cilium),
        case(
            "kubernetes/apps/media/sonarr/secret.yaml",
            r#"apiVersion: v1
kind: Secret
metadata:
  name: sonarr-secret
stringData:
  ⟦SONARR__AUTH__APIKEY: {hex:32}⟧
"#,
        ),
        case(
            "kubernetes/flux/config/age-key.yaml",
            r#"apiVersion: v1
kind: Secret
metadata:
  name: sops-age
  namespace: flux-system
stringData:
  ⟦age.agekey: AGE-SECRET-KEY-1{bech:58}⟧
"#,
        ),
        case(
            "kubernetes/apps/actions-runner-system/controller/helmrelease.yaml",
            r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: actions-runner-controller
spec:
  values:
    authSecret:
      create: true
      ⟦github_token: gh{x}p_{an:36}⟧
"#
            .replace("{x}", "")
            .as_str(),
        ),
        // A classic 40-hex GitHub token in a how-to, a UUID token left in a commented-out
        // value, a licence key in a comment: shapes a Git SHA or an ID also has, found here
        // because the key names a credential.
        case(
            "docs/flux.md",
            r#"# Bootstrap Flux

```sh
⟦export GITHUB_TOKEN={hex:40}⟧
flux bootstrap github --owner=me --repository=home-ops --path=cluster/base
```
"#,
        ),
        case(
            "cluster/apps/networking/traefik/helm-release.yaml",
            r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: traefik
spec:
  values:
    pilot:
      enabled: false
      ⟦# token: "{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}"⟧
"#,
        ),
        case(
            "kubernetes/apps/monitoring/vector/aggregator/externalsecret.yaml",
            r#"apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: vector-aggregator
spec:
  target:
    template:
      data:
        ⟦# GEOIPUPDATE_ACCOUNT_ID, GEOIPUPDATE_LICENSE_KEY: {an:16}⟧
        GEOIPUPDATE_ACCOUNT_ID: "{{ .GEOIPUPDATE_ACCOUNT_ID }}"
        GEOIPUPDATE_LICENSE_KEY: "{{ .GEOIPUPDATE_LICENSE_KEY }}"
  dataFrom:
    - extract:
        key: maxmind
"#,
        ),
    ]
}
