//! The gates a regex match must pass before it is a finding: entropy, placeholders, references
//! and the context checks of the generic detectors.

use base64::Engine;

/// Shannon entropy of `text` in bits per character.
pub fn entropy(text: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut total = 0u32;
    for byte in text.bytes() {
        counts[usize::from(byte)] += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    let total = f64::from(total);
    counts
        .iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let p = f64::from(count) / total;
            -p * p.log2()
        })
        .sum()
}

/// Fragments that mark a documentation value, a template or a reference rather than a secret.
const PLACEHOLDER_FRAGMENTS: &[&str] = &[
    "example",
    "placeholder",
    "changeme",
    "change_me",
    "change-me",
    "your_",
    "your-",
    "yourpass",
    "<",
    ">",
    "${",
    "{{",
    "}}",
    "$(",
    "redacted",
    "dummy",
    "insert",
    "replace_",
    "fake",
    "******",
    "enc[",
];

/// Whole values that are placeholders.
const PLACEHOLDER_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "changeme",
    "admin",
    "root",
    "test",
    "testing",
    "guest",
    "null",
    "none",
    "nil",
    "true",
    "false",
    "pass",
    "redacted",
    "example",
    "todo",
    "tbd",
    "undefined",
    "empty",
    "default",
    "value",
    "string",
    "required",
    "optional",
    "xxx",
];

/// Whether `value` reads as a placeholder, template expression or documentation value.
pub fn is_placeholder(value: &str) -> bool {
    let lower = value.trim().to_ascii_lowercase();
    if lower.is_empty() || PLACEHOLDER_WORDS.contains(&lower.as_str()) {
        return true;
    }
    PLACEHOLDER_FRAGMENTS.iter().any(|f| lower.contains(f)) || padded(&lower)
}

/// `xxxxxxxx`, `sk_live_000000…`: a run of six or more equal characters marks a short value as
/// filler. Long values are binary encoded (an OpenSSH key body, a Fly.io macaroon holds runs
/// of `A` for zero bytes), so there the run must make up a quarter of the value.
fn padded(text: &str) -> bool {
    let run = longest_run(text);
    let length = text.chars().count();
    run >= 6 && (length < 64 || run * 4 >= length)
}

fn longest_run(text: &str) -> usize {
    let (mut run, mut longest) = (0, 0);
    let mut previous = None;
    for c in text.chars() {
        run = if Some(c) == previous { run + 1 } else { 1 };
        previous = Some(c);
        longest = longest.max(run);
    }
    longest
}

/// A value that points somewhere else: `$VAR`, `%VAR%`, `@Microsoft.KeyVault(…)`, `{…}`, or
/// a secret reference that a tool resolves at deploy time (see [`holds_secret_reference`]).
pub fn is_reference(value: &str) -> bool {
    let v = value.trim();
    v.starts_with('$')
        || v.starts_with('%')
        || v.starts_with('{')
        || v.starts_with('@')
        || v.starts_with('&')
        || v.starts_with('*')
        || v.starts_with("!!")
        || v.contains("$(")
        || holds_secret_reference(v)
}

/// Prefixes a secret reference starts with, in the syntaxes of the tools that resolve them:
/// 1Password (`op://vault/item/field`, for `op inject` and `op run`), Bank-Vaults
/// (`vault:secret/data/app#key`), Berglas (`berglas://bucket/object`, `sm://project/secret`),
/// LiteLLM (`os.environ/API_KEY`).
const REFERENCE_PREFIXES: &[&str] = &["op://", "vault:", "berglas://", "sm://", "os.environ/"];

/// Fragments that mark a secret reference wherever they occur: argocd-vault-plugin
/// (`<path:kv/data/app#key>`), AWS Secrets Manager and Parameter Store ARNs, GCP Secret
/// Manager resource names. vals (`ref+vault://…`, `ref+awssecrets://…`) is matched apart.
const REFERENCE_FRAGMENTS: &[&str] =
    &["op://", "<path:", "arn:aws:secretsmanager:", "arn:aws:ssm:"];

/// Whether `value` is, or (in a block of text such as a config file in a Secret) holds, a
/// reference to a secret kept elsewhere. A 1Password reference like `op://kubernetes/db/password`
/// is what `op inject` replaces; the value in Git is only the address.
pub fn holds_secret_reference(value: &str) -> bool {
    let v = value.trim_start();
    REFERENCE_PREFIXES
        .iter()
        .any(|prefix| v.starts_with(prefix) && v.len() > prefix.len())
        || REFERENCE_FRAGMENTS.iter().any(|f| v.contains(f))
        || holds_vals_reference(v)
        || is_gcp_secret_name(v)
}

/// vals: `ref+BACKEND://PATH`, BACKEND lowercase letters and digits.
fn holds_vals_reference(value: &str) -> bool {
    value.match_indices("ref+").any(|(at, _)| {
        let rest = &value[at + 4..];
        let scheme = rest.find("://").map_or("", |end| &rest[..end]);
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

/// `projects/PROJECT/secrets/NAME[/versions/V]`: a GCP Secret Manager resource name.
fn is_gcp_secret_name(value: &str) -> bool {
    let parts: Vec<&str> = value.trim().split('/').collect();
    matches!(parts.as_slice(), ["projects", p, "secrets", s, ..] if !p.is_empty() && !s.is_empty())
}

/// Whether `text` is only SSH public keys or `known_hosts` lines (`github.com ssh-ed25519
/// AAAA…`, as a Flux deploy-key Secret carries): public, as a certificate is.
pub fn is_public_ssh(text: &str) -> bool {
    let is_key_type = |field: &str| {
        ["ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-"]
            .iter()
            .any(|prefix| field.starts_with(prefix))
    };
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .peekable();
    lines.peek().is_some()
        && lines.all(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields
                .windows(2)
                .any(|pair| is_key_type(pair[0]) && pair[1].starts_with("AAAA"))
        })
}

/// Whether `text` is only public PEM material (certificates, public keys, CRLs, requests):
/// a CA bundle in a Secret is not a secret value.
pub fn is_public_pem(text: &str) -> bool {
    const PUBLIC: &[&str] = &[
        "CERTIFICATE",
        "TRUSTED CERTIFICATE",
        "PUBLIC KEY",
        "RSA PUBLIC KEY",
        "X509 CRL",
        "CERTIFICATE REQUEST",
        "NEW CERTIFICATE REQUEST",
    ];
    let mut labels = text
        .match_indices("-----BEGIN ")
        .map(|(at, _)| {
            let rest = &text[at + "-----BEGIN ".len()..];
            rest.find("-----").map_or(rest, |end| &rest[..end])
        })
        .peekable();
    text.trim_start().starts_with("-----BEGIN ")
        && labels.peek().is_some()
        && labels.all(|label| PUBLIC.contains(&label))
}

/// Gates for a password inside a URL or connection string.
pub fn password_ok(value: &str) -> bool {
    !is_placeholder(value) && !is_reference(value)
}

/// Key names that hold a name, path or reference, never the secret itself.
const BENIGN_KEY_PARTS: &[&str] = &[
    "keyref",
    "secretref",
    "name",
    "file",
    "path",
    "policy",
    "length",
    "type",
    "format",
    "field",
    "header",
    "prefix",
    "source",
    "store",
    "provider",
    "kind",
    "mode",
    "url",
    "uri",
    "endpoint",
    "expir",
    "ttl",
    "rotation",
    "version",
    "count",
    "size",
    "min",
    "max",
    "enabled",
    "required",
    "id_",
    "hash",
    "checksum",
    "digest",
    "algorithm",
    // `TSIG_SECRET_ALG: hmac-sha256` names the algorithm of a secret kept elsewhere.
    "_alg",
    "label",
    "selector",
    "template",
    "env",
    "generator",
    "manager",
];

/// Gates of the generic assignment detector: `key` names a credential, `value` looks like one.
pub fn generic_ok(key: &str, value: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if BENIGN_KEY_PARTS.iter().any(|part| key.contains(part)) {
        return false;
    }
    // `KEY: "NAME: \"{{ … }}\""`: the value stops at the escaped quote, leaving `NAME:`.
    let v = value.trim_end_matches(['"', '\'', ')', ']', ':']);
    if v.len() < 8 || is_placeholder(v) || is_reference(v) || v.starts_with([':', '=']) {
        return false;
    }
    let has_digit_or_symbol = v.chars().any(|c| !c.is_ascii_alphabetic());
    let disqualified = looks_like_code(v)
        || v.parse::<f64>().is_ok()
        || looks_like_path(v)
        || ((is_uuid(v) || is_git_sha(v)) && !names_a_bearer_credential(&key))
        || v.contains(['{', '}']);
    !disqualified && has_digit_or_symbol && character_classes(v) >= 2
}

fn looks_like_code(v: &str) -> bool {
    v.contains(['(', '['])
        || v.contains("::")
        || is_slug(v)
        || v.contains("->")
        || (v.contains('.')
            && v.split('.').all(|part| {
                !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            && v.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && v.split('.').count() > 1
            && v.chars().filter(char::is_ascii_digit).count() < 3)
}

/// `db-credentials`, `STANDARD_RIGHTS_READ`: words of one case joined by `-` or `_`, a name;
/// `private-key:14`: a name and a line or port number.
/// `kube-system/basic-auth`: a namespaced name, as annotations such as cert-manager's
/// `inject-ca-from-secret` hold them.
fn is_slug(v: &str) -> bool {
    let name = match v.rsplit_once(':') {
        Some((head, tail)) if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit()) => head,
        _ => v,
    };
    match name.split_once('/') {
        Some((namespace, name)) => is_name(namespace) && is_name(name),
        None => is_name(name),
    }
}

fn is_name(t: &str) -> bool {
    let joined = |case: fn(&char) -> bool| t.chars().all(|c| case(&c) || c == '-' || c == '_');
    joined(char::is_ascii_lowercase) || joined(char::is_ascii_uppercase) || is_resource_name(t)
}

/// `oauth2-proxy-dex`, `home-assistant.json`, `runner-secret-v2`: the name of a Secret, or of
/// a key in one, as fields like `existingSecret` and an ExternalSecret's `secretKey` hold
/// them. Lowercase words joined by `-`, `.` or `_`, a few digits among them (a random string
/// has one character in four or more a digit).
fn is_resource_name(t: &str) -> bool {
    let separator = |c: char| matches!(c, '-' | '.' | '_');
    let digits = t.chars().filter(char::is_ascii_digit).count();
    t.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && t.contains(separator)
        && t.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || separator(c))
        && digits * 5 <= t.len()
        && t.split(separator)
            .all(|word| !word.is_empty() && word.len() <= 24)
}

fn looks_like_path(v: &str) -> bool {
    v.starts_with('/')
        || v.starts_with("./")
        || v.starts_with("~/")
        || v.contains("://")
        || is_file_name(v)
}

/// Extensions of the files a Secret's keys are named after (`kms-vault-984a38134bbc.json`, a
/// service account key file): a value ending in one names a file.
const FILE_EXTENSIONS: &[&str] = &[
    "json",
    "yaml",
    "yml",
    "toml",
    "ini",
    "conf",
    "cfg",
    "env",
    "txt",
    "pem",
    "crt",
    "cer",
    "key",
    "p12",
    "pfx",
    "jks",
    "properties",
    "xml",
];

/// A file name, or a relative path to one (`.taskfiles/Taskfile_secrets.yml`, as task
/// runners include files under a `secrets:` key): segments of name characters, ending in a
/// known extension. Base64 has no `.`, so a key or token does not end like this.
fn is_file_name(v: &str) -> bool {
    v.rsplit_once('.').is_some_and(|(stem, extension)| {
        FILE_EXTENSIONS.contains(&extension)
            && !stem.is_empty()
            && stem.split('/').all(|segment| {
                !segment.is_empty()
                    && segment
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            })
    })
}

/// Whether `key` (lower case) names a credential that its value grants by itself: a UUID or
/// 40 hex digits under such a key is a token (a classic GitHub token, a Traefik Pilot token,
/// a Vault AppRole `secret_id`), where under any other key it is an ID or a Git SHA. An ID of
/// a token (`token_id`, a Vault accessor) names it without granting it.
fn names_a_bearer_credential(key: &str) -> bool {
    const BEARER: &[&str] = &[
        "token", "secret", "password", "passwd", "apikey", "api_key", "api-key", "license",
        "licence",
    ];
    let names_an_id = key.ends_with("id") && !key.contains("secret");
    BEARER.iter().any(|part| key.contains(part)) && !names_an_id
}

/// `8-4-4-4-12` hexadecimal.
pub fn is_uuid(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_git_sha(v: &str) -> bool {
    v.len() == 40 && v.chars().all(|c| c.is_ascii_hexdigit())
}

fn character_classes(v: &str) -> usize {
    let lower = v.chars().any(|c| c.is_ascii_lowercase());
    let upper = v.chars().any(|c| c.is_ascii_uppercase());
    let digit = v.chars().any(|c| c.is_ascii_digit());
    let other = v.chars().any(|c| !c.is_ascii_alphanumeric());
    [lower, upper, digit, other]
        .into_iter()
        .filter(|&b| b)
        .count()
}

/// A JWT whose header decodes to JSON naming an algorithm.
pub fn jwt_ok(token: &str) -> bool {
    let Some(header) = token.split('.').next() else {
        return false;
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .is_some_and(|text| text.trim_start().starts_with('{') && text.contains("\"alg\""))
}

/// Basic credentials: base64 of `user:password` with a real-looking password.
pub fn basic_auth_ok(encoded: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            text.split_once(':')
                .map(|(user, pass)| !user.is_empty() && pass.len() >= 4 && password_ok(pass))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic password, assembled so the source holds no credential-shaped literal.
    const SAMPLE: &str = concat!("q8Zr", "2LmX9vTb", "4NcK");

    #[test]
    fn entropy_orders_random_above_repetitive() {
        assert!(entropy("aaaaaaaa") < 0.1);
        assert!(entropy(SAMPLE) > 3.5);
    }

    #[test]
    fn placeholders_and_references_are_recognised() {
        for value in [
            "changeme",
            "<your-token>",
            "${DB_PASSWORD}",
            "{{ .Values.pw }}",
            "xxxxxxxx",
        ] {
            assert!(is_placeholder(value) || is_reference(value), "{value}");
        }
        assert!(!is_placeholder(SAMPLE));
    }

    #[test]
    fn uuids_and_40_hex_under_a_bearer_credential_key_are_tokens() {
        assert!(generic_ok("token", "0f8e2c1a-1b2c-4d5e-8f9a-0b1c2d3e4f5a"));
        assert!(generic_ok(
            "secret_id",
            "0f8e2c1a-1b2c-4d5e-8f9a-0b1c2d3e4f5a"
        ));
        assert!(generic_ok(
            "GITHUB_TOKEN",
            "0f8e2c1a1b2c4d5e8f9a0b1c2d3e4f5a01234567"
        ));
        assert!(generic_ok("GEOIPUPDATE_LICENSE_KEY", "Qx3cTq9Lm2Vw7Rz1"));
    }

    #[test]
    fn generic_gates_reject_names_paths_code_and_ids() {
        assert!(!generic_ok("secretName", "app-credentials"));
        assert!(!generic_ok("password_file", "/run/secrets/db"));
        assert!(!generic_ok("secrets", ".taskfiles/Taskfile_secrets.yml"));
        assert!(!generic_ok(
            "EXTERNAL_DNS_RFC2136_TSIG_SECRET_ALG",
            "hmac-sha256"
        ));
        assert!(!generic_ok(
            "secrets",
            ".taskfiles/ExternalSecrets/Taskfile.yaml"
        ));
        assert!(!generic_ok("password", "os.environ.get"));
        assert!(!generic_ok(
            "token_id",
            "0f8e2c1a-1b2c-4d5e-8f9a-0b1c2d3e4f5a"
        ));
        assert!(!generic_ok(
            "cache_key",
            "0f8e2c1a-1b2c-4d5e-8f9a-0b1c2d3e4f5a"
        ));
        assert!(!generic_ok(
            "secretsChecksum",
            "0f8e2c1a1b2c4d5e8f9a0b1c2d3e4f5a01234567"
        ));
        assert!(!generic_ok("token", "lowercaseonlyword"));
        assert!(!generic_ok("K8S_SECRET", "PolicyRule"));
        assert!(!generic_ok("existingSecret", "db-credentials"));
        assert!(!generic_ok("ACCESS_TOKEN", "STANDARD_RIGHTS_READ"));
        assert!(!generic_ok("privatekey.go", "private-key:14"));
        assert!(!generic_ok("password", "os.environ["));
        assert!(!generic_ok("password", ":expose_str"));
        assert!(!generic_ok("existingSecret", "oauth2-proxy-dex"));
        assert!(!generic_ok("secretKey", "home-assistant.json"));
        assert!(!generic_ok("password", "op://vault/item/password"));
        assert!(generic_ok("password", "x8f2k-q9m3z-7hw4p"));
        assert!(!generic_ok("credentialsKey", "1password-credentials.json"));
        assert!(!generic_ok("secretKey", "kms-vault-984a38134bbc.json"));
        assert!(!generic_ok(
            "inject-ca-from-secret",
            "cert-manager/cert-manager-webhook-tls"
        ));
        assert!(!generic_ok("SECRET_KEYS", "ADMIN_PASSWORD:"));
        assert!(!generic_ok("apiKey", "os.environ/OPENCODE_API_KEY"));
        assert!(!generic_ok("input_cost_per_token", "1.25e-07"));
        assert!(generic_ok("password", &format!("{SAMPLE}.json!")));
        assert!(!generic_ok("token", "ghp_{an:36}"));
        assert!(generic_ok("db_password", &format!("{SAMPLE}!")));
    }

    #[test]
    fn secret_reference_syntaxes_are_references() {
        for value in [
            "op://kubernetes/cloudflare/CLOUDFLARE_API_TOKEN",
            "ref+vault://secret/data/app#/password",
            "ref+awssecrets://prod/db?region=eu-west-1#/password",
            "<path:kv/data/app#password>",
            "vault:secret/data/app#password",
            "berglas://bucket/app-password",
            "sm://project/app-password",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
            "projects/demo/secrets/db-password/versions/latest",
            "auth:\n  secret: op://vault/item/field\n",
        ] {
            assert!(is_reference(value), "{value}");
        }
        for value in [SAMPLE, "https://op.example/x", "vault:", "preference+x"] {
            assert!(!holds_secret_reference(value), "{value}");
        }
    }

    #[test]
    fn only_public_pem_material_is_public() {
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert!(is_public_pem(cert));
        assert!(is_public_pem(&format!("{cert}{cert}")));
        let key = "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n";
        assert!(!is_public_pem(&format!("{cert}{key}")));
        assert!(!is_public_pem(SAMPLE));
        let hosts = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n\
                     github.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY=\n";
        assert!(is_public_ssh(hosts));
        assert!(is_public_ssh("ssh-rsa AAAAB3NzaC1yc2E= user@host"));
        assert!(!is_public_ssh(&format!("{hosts}{SAMPLE}\n")));
        assert!(!is_public_ssh(""));
    }

    #[test]
    fn jwt_and_basic_checks_decode() {
        assert!(jwt_ok("eyJhbGciOiJIUzI1NiJ9.x.y"));
        assert!(!jwt_ok("eyJmb28iOiJiYXIifQ.x.y"));
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("deploy:{SAMPLE}"));
        assert!(basic_auth_ok(&basic));
        let placeholder = base64::engine::general_purpose::STANDARD.encode("user:password");
        assert!(!basic_auth_ok(&placeholder));
    }
}
