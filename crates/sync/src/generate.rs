//! Values from ESO's generators: what `dataFrom[].sourceRef.generatorRef` produces.
//!
//! - `Password`: sethvargo/go-password's rules as ESO calls them: `length` (default 24)
//!   characters, of which `digits` digits and `symbols` symbols (each default a quarter of the
//!   length, rounded down) and the rest letters (lower and, unless `noUpper`, upper case),
//!   each placed at a random position; without `allowRepeat` no character appears twice.
//!   Under the key `password`.
//! - `UUID`: a random version 4 UUID, lower case, under the key `uuid`.
//! - `Fake`: `spec.data` as it is.
//!
//! Every random choice comes from the operating system's CSPRNG, drawn without bias. Where
//! go-password would misbehave, keyward refuses instead, with a message that says why: a
//! negative count (go-password then makes a longer or shorter password than asked), symbols
//! outside ASCII (it picks bytes, and garbles them), and too few distinct symbols for a
//! password without repeats (it loops forever).

use std::collections::BTreeMap;

use keyward_api::generator::{FakeSpec, GeneratorSpec, PasswordEncoding, PasswordSpec};
use keyward_core::SecretValue;
use zeroize::Zeroizing;

/// go-password's symbols, ESO's default `symbolCharacters`.
pub const DEFAULT_SYMBOLS: &str = "~!@#$%^&*()_+`-={}|[]\\:\"<>?,./";

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";

/// The longest password generated: far beyond any real use, and bounded so that a manifest
/// cannot make keyward build a huge one.
const MAX_LENGTH: usize = 4096;

/// The most one Password generator writes over all its `secretKeys`: what a Secret holds.
const MAX_GENERATED: usize = 1 << 20;

/// The keys and values `spec` generates, or why it cannot (one line, never a value).
pub fn generate(spec: &GeneratorSpec) -> Result<BTreeMap<String, SecretValue>, String> {
    match spec {
        GeneratorSpec::Password(password) => passwords(password),
        GeneratorSpec::Uuid => Ok(BTreeMap::from([("uuid".to_owned(), uuid_v4()?)])),
        GeneratorSpec::Fake(FakeSpec { data, .. }) => Ok(data
            .iter()
            .map(|(key, value)| (key.clone(), SecretValue::from(value.as_str())))
            .collect()),
    }
}

/// One password per key of `secretKeys` (default `password`), each encoded as `encoding` says.
fn passwords(spec: &PasswordSpec) -> Result<BTreeMap<String, SecretValue>, String> {
    let default = ["password".to_owned()];
    let keys = spec.secret_keys.as_deref().unwrap_or(&default);
    let mut unique: Vec<&String> = keys.iter().collect();
    unique.sort();
    unique.dedup();
    if keys.is_empty() || unique.len() != keys.len() || keys.iter().any(String::is_empty) {
        return Err("secretKeys must be non-empty and unique".to_owned());
    }
    let length = usize::try_from(spec.length.max(1)).unwrap_or(usize::MAX);
    if keys.len().saturating_mul(length) > MAX_GENERATED {
        return Err(format!(
            "{} passwords of {length} characters are more than a Secret holds (1 MiB)",
            keys.len()
        ));
    }
    keys.iter()
        .map(|key| {
            let password = generate_password(spec)?;
            Ok((key.clone(), encode(password, spec.encoding)))
        })
        .collect()
}

/// ESO's `encodePassword`: the password's bytes in `encoding` (none: as they are).
fn encode(password: SecretValue, encoding: Option<PasswordEncoding>) -> SecretValue {
    use base64::Engine as _;
    let bytes = password.expose_bytes();
    let encoded = match encoding {
        None | Some(PasswordEncoding::Raw) => return password,
        Some(PasswordEncoding::Base64) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Some(PasswordEncoding::Base64url) => {
            base64::engine::general_purpose::URL_SAFE.encode(bytes)
        }
        Some(PasswordEncoding::Base32) => base32_std(bytes),
        Some(PasswordEncoding::Hex) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    };
    SecretValue::from(encoded)
}

/// Go's `base32.StdEncoding`: RFC 4648 alphabet, padded with `=`.
fn base32_std(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut block = [0u8; 5];
        block[..chunk.len()].copy_from_slice(chunk);
        let bits = block.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let symbols = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < symbols {
                let index = usize::try_from((bits >> (35 - 5 * i)) & 31).unwrap_or(0);
                out.push(char::from(ALPHABET[index]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A password as go-password v0.3.1's `Generate(length, digits, symbols, noUpper,
/// allowRepeat)` makes it.
pub fn generate_password(spec: &PasswordSpec) -> Result<SecretValue, String> {
    let length = if spec.length <= 0 { 24 } else { spec.length };
    let quarter = length / 4;
    let digits = spec.digits.unwrap_or(quarter);
    let symbols = spec.symbols.unwrap_or(quarter);
    if digits < 0 || symbols < 0 {
        return Err("digits and symbols must not be negative".to_owned());
    }
    let symbol_set = match spec.symbol_characters.as_deref() {
        None | Some("") => DEFAULT_SYMBOLS,
        Some(chosen) => chosen,
    };
    if !symbol_set.is_ascii() {
        return Err("symbolCharacters must be ASCII (go-password picks bytes)".to_owned());
    }
    let letters = if spec.no_upper {
        LOWER.to_owned()
    } else {
        format!("{LOWER}{UPPER}")
    };
    let count = |n: i64| usize::try_from(n).unwrap_or(usize::MAX);
    let (digits, symbols) = (count(digits), count(symbols));
    let chars = count(length)
        .checked_sub(digits)
        .and_then(|rest| rest.checked_sub(symbols))
        .ok_or("number of digits and symbols must be less than total length")?;
    if count(length) > MAX_LENGTH {
        return Err(format!("length must be at most {MAX_LENGTH}"));
    }
    if !spec.allow_repeat {
        check_enough(chars, &letters, "letters", "")?;
        check_enough(digits, DIGITS, "digits", "")?;
        check_enough(
            symbols,
            symbol_set,
            "symbols",
            &format!("{letters}{DIGITS}"),
        )?;
    }
    let mut password = Zeroizing::new(Vec::with_capacity(count(length)));
    for (set, how_many) in [
        (letters.as_bytes(), chars),
        (DIGITS.as_bytes(), digits),
        (symbol_set.as_bytes(), symbols),
    ] {
        for _ in 0..how_many {
            let byte = loop {
                let candidate = set[below(set.len())?];
                if spec.allow_repeat || !password.contains(&candidate) {
                    break candidate;
                }
            };
            let at = below(password.len() + 1)?;
            password.insert(at, byte);
        }
    }
    Ok(SecretValue::new(password.to_vec()))
}

/// go-password's refusals when there are not enough distinct characters for a password
/// without repeats; `taken` are characters already used by an earlier class (a symbol that is
/// also a letter cannot be picked twice, where go-password would loop forever).
fn check_enough(wanted: usize, set: &str, what: &str, taken: &str) -> Result<(), String> {
    let mut distinct: Vec<char> = set.chars().filter(|c| !taken.contains(*c)).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if wanted > set.len() {
        return Err(format!(
            "number of {what} exceeds available {what} and repeats are not allowed"
        ));
    }
    if wanted > distinct.len() {
        return Err(format!(
            "{wanted} {what} without repeats need as many distinct characters: symbolCharacters has {}",
            distinct.len()
        ));
    }
    Ok(())
}

/// A random version 4 UUID, as google/uuid's `New().String()` writes it (lower case).
fn uuid_v4() -> Result<SecretValue, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("the system's random source failed: {e}"))?;
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    Ok(SecretValue::from(uuid.hyphenated().to_string()))
}

/// A uniform random number below `n` (n > 0), by rejection: no modulo bias.
fn below(n: usize) -> Result<usize, String> {
    if n == 0 {
        return Err("nothing to draw from".to_owned());
    }
    let n = u64::try_from(n).map_err(|_| "a range too large to draw from".to_owned())?;
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)
            .map_err(|e| format!("the system's random source failed: {e}"))?;
        let draw = u64::from_le_bytes(bytes);
        if draw < zone {
            return usize::try_from(draw % n).map_err(|_| "unreachable".to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> PasswordSpec {
        serde_json::from_value(json).expect("spec")
    }

    fn text(value: &SecretValue) -> String {
        value.expose_str().expect("ASCII").to_owned()
    }

    #[test]
    fn a_default_password_has_esos_shape() {
        for _ in 0..50 {
            let password = text(&generate_password(&spec(serde_json::json!({}))).expect("ok"));
            assert_eq!(password.len(), 24);
            assert_eq!(password.chars().filter(char::is_ascii_digit).count(), 6);
            assert_eq!(
                password
                    .chars()
                    .filter(|c| DEFAULT_SYMBOLS.contains(*c))
                    .count(),
                6
            );
            assert_eq!(
                password.chars().filter(char::is_ascii_alphabetic).count(),
                12
            );
            let mut seen: Vec<char> = password.chars().collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), 24, "no character twice without allowRepeat");
        }
    }

    #[test]
    fn counts_symbols_and_case_follow_the_spec() {
        let password = text(
            &generate_password(&spec(serde_json::json!({
                "length": 40, "digits": 5, "symbols": 3, "symbolCharacters": "-_",
                "noUpper": true, "allowRepeat": true
            })))
            .expect("ok"),
        );
        assert_eq!(password.len(), 40);
        assert_eq!(password.chars().filter(char::is_ascii_digit).count(), 5);
        assert_eq!(password.chars().filter(|c| "-_".contains(*c)).count(), 3);
        assert!(!password.chars().any(|c| c.is_ascii_uppercase()));
        assert!(
            password
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c))
        );
    }

    #[test]
    fn two_passwords_differ() {
        let spec = spec(serde_json::json!({}));
        let first = generate_password(&spec).expect("ok");
        let second = generate_password(&spec).expect("ok");
        assert_ne!(first.expose_bytes(), second.expose_bytes());
    }

    #[test]
    fn impossible_specs_are_refused_with_go_passwords_words() {
        let refused = |json| generate_password(&spec(json)).expect_err("refused");
        assert_eq!(
            refused(serde_json::json!({"length": 4, "digits": 3, "symbols": 2})),
            "number of digits and symbols must be less than total length"
        );
        assert_eq!(
            refused(serde_json::json!({"length": 30, "digits": 11, "symbols": 0})),
            "number of digits exceeds available digits and repeats are not allowed"
        );
        assert_eq!(
            refused(serde_json::json!({"length": 60, "digits": 0, "symbols": 0})),
            "number of letters exceeds available letters and repeats are not allowed"
        );
        assert!(
            refused(serde_json::json!({"length": 10, "symbols": 3, "digits": 0, "symbolCharacters": "!!!"}))
                .contains("distinct")
        );
        assert!(refused(serde_json::json!({"digits": -1})).contains("negative"));
        assert!(refused(serde_json::json!({"symbolCharacters": "é"})).contains("ASCII"));
        assert!(refused(serde_json::json!({"length": 5000})).contains("at most 4096"));
    }

    #[test]
    fn secret_keys_get_their_own_passwords_and_encodings_are_esos() {
        let generated = generate(&GeneratorSpec::Password(spec(serde_json::json!({
            "length": 16, "secretKeys": ["a", "b"], "encoding": "hex"
        }))))
        .expect("passwords");
        assert_eq!(generated.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(text(&generated["a"]).len(), 32);
        assert_ne!(text(&generated["a"]), text(&generated["b"]));
        assert_eq!(base32_std(b"f"), "MY======");
        assert_eq!(base32_std(b"foobar"), "MZXW6YTBOI======");
        assert_eq!(
            encode(SecretValue::from("a?b"), Some(PasswordEncoding::Base64url)).expose_bytes(),
            b"YT9i"
        );
        let refused = generate(&GeneratorSpec::Password(spec(serde_json::json!({
            "secretKeys": ["a", "a"]
        }))));
        assert_eq!(
            refused.expect_err("duplicate keys"),
            "secretKeys must be non-empty and unique"
        );
        let keys: Vec<String> = (0..300).map(|i| format!("k{i}")).collect();
        let huge = generate(&GeneratorSpec::Password(spec(serde_json::json!({
            "length": 4096, "allowRepeat": true, "secretKeys": keys
        }))));
        assert!(
            huge.expect_err("too much")
                .contains("more than a Secret holds")
        );
    }

    #[test]
    fn a_uuid_is_version_4_in_lower_case() {
        let generated = generate(&GeneratorSpec::Uuid).expect("uuid");
        let uuid = text(&generated["uuid"]);
        assert_eq!(uuid.len(), 36);
        let parts: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!("89ab".contains(&parts[3][..1]));
        assert_eq!(uuid, uuid.to_lowercase());
    }

    #[test]
    fn fake_gives_its_data() {
        let fake = FakeSpec {
            controller: None,
            data: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        };
        let generated = generate(&GeneratorSpec::Fake(fake)).expect("fake");
        assert_eq!(text(&generated["k"]), "v");
    }
}
