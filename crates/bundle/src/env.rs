//! The env format inside bundles: parsing and writing `KEY="value"` lines.
//!
//! From the design document's compatibility contracts:
//!
//! > `KEY="value"` lines, keys sorted on write, `\\ \" \r \n` escaped; the reader skips blanks,
//! > `#` comments and lines without `=`, strips one pair of matching quotes, and lets the last
//! > duplicate win.
//!
//! Escapes are undone only inside double quotes (so what the writer writes reads back
//! exactly); single-quoted and bare values are taken literally. A leading `export ` is
//! accepted, as shells and dotenv tools write it. Keys must be valid environment variable
//! names, because a bundle's purpose is to become a child's environment.

use std::collections::BTreeMap;

use keyward_core::SecretValue;
use zeroize::Zeroizing;

/// The decrypted content of a bundle: names and their values, sorted by name.
pub type EnvMap = BTreeMap<String, SecretValue>;

/// Why an env text could not be parsed. Never carries a value, only positions and names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// A key is not a valid environment variable name.
    #[error("line {line}: {reason}")]
    InvalidKey {
        /// 1-based line number.
        line: usize,
        /// Why the key is refused (its length and a position, never the token itself).
        reason: String,
    },
    /// A line is neither `KEY=value`, blank nor a comment: the plaintext is some other
    /// format (an ansible-vault YAML vars file, JSON, INI). The reader would skip the line, so
    /// rewriting the bundle from its values would lose it.
    #[error("line {line} is not KEY=value, a comment or blank (the text looks like {looks_like})")]
    NotEnv {
        /// 1-based line number.
        line: usize,
        /// What the text seems to be instead.
        looks_like: &'static str,
    },
    /// The plaintext is not UTF-8.
    #[error("the plaintext is not UTF-8 (at byte {offset})")]
    NotUtf8 {
        /// Where the first invalid byte is.
        offset: usize,
    },
}

/// Whether `name` is a valid environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_valid_key(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks a key given by a user, with the same rule as the parser.
pub fn validate_key(name: &str) -> Result<(), EnvError> {
    if is_valid_key(name) {
        Ok(())
    } else {
        Err(EnvError::InvalidKey {
            line: 0,
            reason: describe_bad_key(name),
        })
    }
}

/// Parses decrypted bundle bytes.
pub fn parse(plaintext: &[u8]) -> Result<EnvMap, EnvError> {
    let text = std::str::from_utf8(plaintext).map_err(|error| EnvError::NotUtf8 {
        offset: error.valid_up_to(),
    })?;
    let mut map = EnvMap::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let key = key.strip_prefix("export ").map(str::trim).unwrap_or(key);
        if !is_valid_key(key) {
            return Err(EnvError::InvalidKey {
                line: index + 1,
                reason: describe_bad_key(key),
            });
        }
        map.insert(key.to_owned(), parse_value(value.trim()));
    }
    Ok(map)
}

/// The first line that makes `plaintext` something other than an env file: a line that is not
/// blank, not a `#` comment and has no `=`, or that reads as YAML (`name: value`, `---`,
/// `- item`), JSON or an INI section. `None` for an env file (invalid keys and non-UTF-8 are
/// [`parse`]'s errors).
///
/// [`parse`] skips such lines, as the format contract says; a command that writes the bundle
/// back from its values must refuse the plaintext instead of dropping them.
pub fn foreign_line(plaintext: &[u8]) -> Option<EnvError> {
    let text = std::str::from_utf8(plaintext).ok()?;
    text.lines().enumerate().find_map(|(index, raw_line)| {
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let looks_like = looks_like(line);
        (looks_like.is_some() || !line.contains('=')).then(|| EnvError::NotEnv {
            line: index + 1,
            looks_like: looks_like.unwrap_or("free text"),
        })
    })
}

/// Recognises the formats ansible-vault files usually hold, from one line.
fn looks_like(line: &str) -> Option<&'static str> {
    let yaml_key = line.split_once(':').is_some_and(|(name, rest)| {
        !name.is_empty()
            && !name.contains(['=', ' ', '\t'])
            && (rest.is_empty() || rest.starts_with([' ', '\t']))
    });
    if line.starts_with('{') || (line.starts_with('[') && !line.ends_with(']')) {
        Some("JSON")
    } else if line.starts_with('[') {
        Some("an INI file")
    } else if line == "---" || line.starts_with("- ") || yaml_key {
        Some("YAML")
    } else {
        None
    }
}

/// Writes `map` as `KEY="value"` lines, sorted by key (a `BTreeMap` iterates sorted).
/// The returned buffer zeroizes when dropped.
pub fn render(map: &EnvMap) -> Zeroizing<Vec<u8>> {
    // Sized exactly, so the buffer never grows: growing would free a block holding values
    // without wiping it.
    let escaped = |value: &SecretValue| -> usize {
        value
            .expose_bytes()
            .iter()
            .map(|byte| match byte {
                b'\\' | b'"' | b'\r' | b'\n' => 2,
                _ => 1,
            })
            .sum()
    };
    let room: usize = map
        .iter()
        .map(|(key, value)| key.len() + 4 + escaped(value))
        .sum();
    let mut out = Zeroizing::new(Vec::with_capacity(room));
    for (key, value) in map {
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"=\"");
        for &byte in value.expose_bytes() {
            match byte {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'"' => out.extend_from_slice(b"\\\""),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\n' => out.extend_from_slice(b"\\n"),
                other => out.push(other),
            }
        }
        out.extend_from_slice(b"\"\n");
    }
    out
}

fn parse_value(value: &str) -> SecretValue {
    if let Some(inner) = strip_quotes(value, '"') {
        return SecretValue::from(unescape_double_quoted(inner));
    }
    if let Some(inner) = strip_quotes(value, '\'') {
        return SecretValue::from(inner);
    }
    SecretValue::from(value)
}

fn strip_quotes(value: &str, quote: char) -> Option<&str> {
    value
        .strip_prefix(quote)
        .and_then(|rest| rest.strip_suffix(quote))
        .filter(|_| value.len() >= 2)
}

fn unescape_double_quoted(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            // Unknown escapes stay as written, so Windows paths survive.
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Says why a key is refused without echoing any of it: a token where a key was expected may
/// be a value pasted in the wrong place (`set s3cr3t`, a YAML line, a shifted column), so only
/// its length and the position of the first offending character are named.
fn describe_bad_key(key: &str) -> String {
    if key.is_empty() {
        return "empty key".to_owned();
    }
    let problem = if key.starts_with(|c: char| c.is_ascii_digit()) {
        "it starts with a digit".to_owned()
    } else {
        key.chars()
            .position(|c| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or_else(
                || "it is not one".to_owned(),
                |index| format!("character {} is not a letter, a digit or _", index + 1),
            )
    };
    format!(
        "the key ({} characters) is not a valid environment variable name \
         ([A-Za-z_][A-Za-z0-9_]*): {problem}",
        key.chars().count()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(map: &EnvMap, key: &str) -> String {
        map[key].expose_str().expect("utf-8").to_owned()
    }

    #[test]
    fn reads_the_documented_syntax() {
        let input = b"# comment\n\nA=plain\nB=\"double \\\"q\\\" \\\\ \\n \\r\"\nC='single \\n'\nnot a pair\n  D = spaced  \nexport E=exported\nA=last wins\n";
        let map = parse(input).expect("parse");
        assert_eq!(text(&map, "A"), "last wins");
        assert_eq!(text(&map, "B"), "double \"q\" \\ \n \r");
        assert_eq!(text(&map, "C"), "single \\n");
        assert_eq!(text(&map, "D"), "spaced");
        assert_eq!(text(&map, "E"), "exported");
        assert_eq!(map.len(), 5);
    }

    #[test]
    fn writes_sorted_and_escaped_and_reads_back() {
        let mut map = EnvMap::new();
        map.insert("ZED".into(), SecretValue::from("z"));
        map.insert(
            "ALPHA".into(),
            SecretValue::from("multi\nline \"quoted\" back\\slash\r"),
        );
        map.insert("EMPTY".into(), SecretValue::from(""));
        map.insert("UNICODE".into(), SecretValue::from("pässwörd 🔑"));
        let rendered = render(&map);
        assert_eq!(
            std::str::from_utf8(&rendered).expect("utf-8"),
            "ALPHA=\"multi\\nline \\\"quoted\\\" back\\\\slash\\r\"\nEMPTY=\"\"\nUNICODE=\"pässwörd 🔑\"\nZED=\"z\"\n"
        );
        assert_eq!(parse(&rendered).expect("parse"), map);
    }

    #[test]
    fn crlf_input_is_read_like_lf() {
        let map = parse(b"A=\"1\"\r\nB=2\r\n").expect("parse");
        assert_eq!(text(&map, "A"), "1");
        assert_eq!(text(&map, "B"), "2");
    }

    #[test]
    fn invalid_keys_are_refused_with_their_line() {
        let error = parse(b"GOOD=1\n1BAD=2\n").expect_err("must fail");
        assert_eq!(
            error.to_string(),
            "line 2: the key (4 characters) is not a valid environment variable name \
             ([A-Za-z_][A-Za-z0-9_]*): it starts with a digit"
        );
        let error = parse(b"GOOD=1\nA-B=2\n").expect_err("must fail");
        assert!(
            error
                .to_string()
                .ends_with("character 2 is not a letter, a digit or _"),
            "{error}"
        );
        assert!(parse(b"=value\n").is_err());
        assert!(parse(b"A-B=1\n").is_err());
        assert!(validate_key("PATH_2").is_ok());
        assert!(validate_key("a b").is_err());
    }

    #[test]
    fn a_bad_key_that_might_be_a_value_is_not_echoed() {
        for canary in [
            "sk_live_CANARY_VALUE_with spaces",
            "kw-CANARY-short",
            "9CANARY",
        ] {
            let error = parse(format!("{canary}=x\n").as_bytes()).expect_err("must fail");
            assert!(!error.to_string().contains("CANARY"), "{error}");
            let error = validate_key(canary).expect_err("must fail");
            assert!(!error.to_string().contains("CANARY"), "{error}");
        }
    }

    #[test]
    fn other_formats_are_found_by_their_first_foreign_line() {
        assert_eq!(
            foreign_line(b"# c\n\nA=1\nexport B='x: y'\nC=\"a=b\"\n"),
            None
        );
        for (text, line, kind) in [
            (&b"db_password: x\n"[..], 1, "YAML"),
            (b"---\nuser: app\n", 1, "YAML"),
            (b"A=1\nurl: http://x?a=b\n", 2, "YAML"),
            (b"A=1\nlist:\n  - a\n", 2, "YAML"),
            (b"{\"a\": 1}\n", 1, "JSON"),
            (b"[main]\nA=1\n", 1, "an INI file"),
            (b"A=1\njust a note\n", 2, "free text"),
        ] {
            assert_eq!(
                foreign_line(text),
                Some(EnvError::NotEnv {
                    line,
                    looks_like: kind
                }),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn non_utf8_is_refused_with_an_offset() {
        let error = parse(b"A=\xff\n").expect_err("must fail");
        assert_eq!(error, EnvError::NotUtf8 { offset: 2 });
    }

    #[test]
    fn a_lone_quote_is_literal() {
        let map = parse(b"A=\"\nB='\n").expect("parse");
        assert_eq!(text(&map, "A"), "\"");
        assert_eq!(text(&map, "B"), "'");
    }
}
