//! The env-file policy: `.env`, `.env.*`, `*.env`, `.envrc` and `*.tfvars` committed in
//! plaintext. Example files (`.env.example`, `.env.sample`, `.env.template`, `.env.dist`,
//! `*.sample.env`, `*.example.env`, …) document variables: empty values, placeholders
//! (`USER:PASSWORD` in a URL, `BLAH`) and references pass; a credential-named key holding a
//! value shaped like a real credential is still reported.

use super::{ENV_FILE, PolicyHit, is_real_value};

/// Whether a file name is an env file this policy covers.
pub fn is_env_file(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == ".env"
        || name.starts_with(".env.")
        || name.ends_with(".env")
        || name == ".envrc"
        || name.ends_with(".tfvars")
}

fn is_example(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["example", "sample", "template", ".dist", ".tmpl", ".tpl"]
        .iter()
        .any(|marker| name.contains(marker))
}

/// Whether a key names a credential.
pub fn is_credential_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "secret",
        "token",
        "key",
        "credential",
        "auth",
        "private",
        "cert",
        "conn",
        "dsn",
        "database_url",
    ]
    .iter()
    .any(|part| key.contains(part))
}

/// One `KEY=value` line: key, value (quotes and trailing comment removed).
pub fn parse_assignment(line: &str) -> Option<(&str, String)> {
    let line = line.trim();
    if line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    let valid_key = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    valid_key.then(|| (key, unquote(value.trim())))
}

fn unquote(value: &str) -> String {
    // `KEY= # comment`: a value that starts with `#` is a comment, the value is empty.
    if value.starts_with('#') {
        return String::new();
    }
    for quote in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(quote)
            && let Some(end) = inner.find(quote)
        {
            return inner[..end].to_owned();
        }
    }
    value.split(" #").next().unwrap_or(value).trim().to_owned()
}

/// The assignments of an env file that break the policy.
pub fn check(name: &str, text: &str) -> Vec<PolicyHit> {
    let lower = name.to_ascii_lowercase();
    let names_only = is_example(name) || lower == ".envrc" || lower.ends_with(".tfvars");
    let mut hits = Vec::new();
    let mut first_assignment = None;
    for (index, line) in text.lines().enumerate() {
        let Some((key, value)) = parse_assignment(line) else {
            continue;
        };
        if !is_real_value(&value) {
            continue;
        }
        first_assignment.get_or_insert(index + 1);
        let credential = if names_only {
            is_credential_key(key) && looks_like_credential(&value)
        } else {
            is_credential_key(key) || (crate::filters::entropy(&value) >= 3.5 && value.len() >= 16)
        };
        if credential {
            hits.push(PolicyHit::new(ENV_FILE, index + 1, Some(&value)));
        }
    }
    match first_assignment {
        Some(line) if hits.is_empty() && !names_only => vec![PolicyHit::new(ENV_FILE, line, None)],
        _ => hits,
    }
}

/// Whether a value in an example file is shaped like a real credential rather than a
/// documentation value: a URL counts by its password (`postgres://USER:PASSWORD@…` does not),
/// anything else by the generic detector's gates (8 characters or more, mixed classes, not a
/// word or name) and its entropy.
fn looks_like_credential(value: &str) -> bool {
    use crate::filters::{entropy, generic_ok, password_ok};
    if let Some((_, rest)) = value.split_once("://") {
        let userinfo = rest.split(['/', '?', '#']).next().unwrap_or("");
        return match userinfo.rsplit_once('@') {
            Some((user, _)) => user
                .split_once(':')
                .is_some_and(|(_, password)| password.len() >= 4 && password_ok(password)),
            None => false,
        };
    }
    generic_ok("", value) && entropy(value) >= 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic password, assembled so the source holds no credential-shaped literal.
    const SAMPLE: &str = concat!("q8Zr", "2LmX9vTb", "4NcK");

    #[test]
    fn env_files_are_recognised_by_name() {
        for name in [
            ".env",
            ".env.production",
            "prod.env",
            ".envrc",
            "main.tfvars",
        ] {
            assert!(is_env_file(name), "{name}");
        }
        assert!(!is_env_file("environment.rs"));
    }

    #[test]
    fn credentials_are_flagged_per_line_and_plain_settings_once() {
        let text = format!("# db\nPORT=8080\nDB_PASSWORD=\"{SAMPLE}\"\n");
        let hits = check(".env", &text);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].line, 3);
        let hits = check(".env", "PORT=8080\nHOST=localhost\n");
        assert_eq!(hits.len(), 1);
        assert!(hits[0].value.is_none());
    }

    #[test]
    fn example_files_with_placeholders_pass() {
        let text = "DB_PASSWORD=\nAPI_TOKEN=<your-token>\nSECRET=${SECRET}\nPORT=8080\n";
        assert!(check(".env.example", text).is_empty());
        let real = format!("DB_PASSWORD={SAMPLE}\n");
        assert_eq!(check(".env.example", &real).len(), 1);
    }

    #[test]
    fn example_files_document_with_placeholders_urls_and_comments() {
        let text = "AZURE_CLIENT_SECRET=\nAZURE_TENANT_ID= # from the portal\n\
                    DATABASE_URL=postgres://USER:PASSWORD@localhost:5432/app\n\
                    TEST_SECRET=\"BLAH\"\nAPI_TOKEN=op://dev/api/token\n";
        for name in [
            ".env.example",
            ".cluster-secrets.sample.env",
            "app.example.env",
            ".env.dist",
        ] {
            assert!(check(name, text).is_empty(), "{name}");
        }
        let url = format!("DATABASE_URL=postgres://app:{SAMPLE}@db.internal:5432/app\n");
        assert_eq!(check(".env.sample", &url).len(), 1);
    }
}
