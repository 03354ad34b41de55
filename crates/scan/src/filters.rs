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

/// A value that points somewhere else: `$VAR`, `%VAR%`, `@Microsoft.KeyVault(…)`, `{…}`.
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
    "algorithm",
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
    let v = value.trim_end_matches(['"', '\'', ')', ']']);
    if v.len() < 8 || is_placeholder(v) || is_reference(v) || v.starts_with([':', '=']) {
        return false;
    }
    let has_digit_or_symbol = v.chars().any(|c| !c.is_ascii_alphabetic());
    let disqualified = looks_like_code(v)
        || looks_like_path(v)
        || is_uuid(v)
        || is_git_sha(v)
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
fn is_slug(v: &str) -> bool {
    match v.rsplit_once(':') {
        Some((head, tail)) if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit()) => {
            is_name(head)
        }
        _ => is_name(v),
    }
}

fn is_name(t: &str) -> bool {
    let joined = |case: fn(&char) -> bool| t.chars().all(|c| case(&c) || c == '-' || c == '_');
    joined(char::is_ascii_lowercase) || joined(char::is_ascii_uppercase)
}

fn looks_like_path(v: &str) -> bool {
    v.starts_with('/') || v.starts_with("./") || v.starts_with("~/") || v.contains("://")
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
    fn generic_gates_reject_names_paths_code_and_ids() {
        assert!(!generic_ok("secretName", "app-credentials"));
        assert!(!generic_ok("password_file", "/run/secrets/db"));
        assert!(!generic_ok("password", "os.environ.get"));
        assert!(!generic_ok("token", "0f8e2c1a-1b2c-4d5e-8f9a-0b1c2d3e4f5a"));
        assert!(!generic_ok("token", "lowercaseonlyword"));
        assert!(!generic_ok("K8S_SECRET", "PolicyRule"));
        assert!(!generic_ok("existingSecret", "db-credentials"));
        assert!(!generic_ok("ACCESS_TOKEN", "STANDARD_RIGHTS_READ"));
        assert!(!generic_ok("privatekey.go", "private-key:14"));
        assert!(!generic_ok("password", "os.environ["));
        assert!(!generic_ok("password", ":expose_str"));
        assert!(!generic_ok("token", "ghp_{an:36}"));
        assert!(generic_ok("db_password", &format!("{SAMPLE}!")));
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
