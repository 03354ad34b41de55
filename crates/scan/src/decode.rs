//! Wrapped values: base64 and hex runs that decode to printable text are decoded so the
//! detectors see what they hide (Kubernetes `data:` is base64). The scanner recurses to a
//! bounded depth.

use std::sync::LazyLock;

use base64::Engine;
use regex::Regex;

/// Most decoded candidates one text yields, against pathological inputs.
const MAX_CANDIDATES: usize = 4096;

static BASE64_RUN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/_-]{20,}={0,2}").ok());
static HEX_RUN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?-u:\b)(?:[0-9a-fA-F]{2}){16,}(?-u:\b)").ok());

/// A decoded run: where it was in the outer text and what it decodes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Byte offset of the encoded run in the outer text.
    pub offset: usize,
    /// The decoded text.
    pub text: String,
    /// `base64` or `hex`.
    pub encoding: &'static str,
}

/// Every base64 or hex run of `text` that decodes to mostly printable UTF-8.
pub fn decode_runs(text: &str) -> Vec<Decoded> {
    let mut out = Vec::new();
    if let Some(regex) = BASE64_RUN.as_ref() {
        let runs = regex
            .find_iter(text)
            .filter(|run| plausible_base64(run.as_str()));
        for run in runs.take(MAX_CANDIDATES) {
            if let Some(decoded) = base64_text(run.as_str()) {
                out.push(Decoded {
                    offset: run.start(),
                    text: decoded,
                    encoding: "base64",
                });
            }
        }
    }
    if let Some(regex) = HEX_RUN.as_ref() {
        for run in regex.find_iter(text).take(MAX_CANDIDATES) {
            if let Some(decoded) = hex::decode(run.as_str()).ok().and_then(printable) {
                out.push(Decoded {
                    offset: run.start(),
                    text: decoded,
                    encoding: "hex",
                });
            }
        }
    }
    out
}

/// Base64 of text mixes cases and almost always holds a digit or `+`/`/`; identifiers such as
/// `SOME_LONG_CONSTANT_NAME` or `some_function_name` do not, and are not worth decoding.
fn plausible_base64(run: &str) -> bool {
    let upper = run.bytes().any(|b| b.is_ascii_uppercase());
    let lower = run.bytes().any(|b| b.is_ascii_lowercase());
    let other = run
        .bytes()
        .any(|b| b.is_ascii_digit() || b == b'+' || b == b'/');
    let mixed_alphabets = run.contains(['-', '_']) && run.contains(['+', '/']);
    upper && lower && other && !mixed_alphabets
}

/// Decodes standard or URL-safe base64, padded or not, to printable text.
pub fn base64_text(run: &str) -> Option<String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let bytes = if run.contains(['-', '_']) {
        URL_SAFE_NO_PAD.decode(run.trim_end_matches('=')).ok()?
    } else {
        STANDARD
            .decode(run)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(run))
            .ok()?
    };
    printable(bytes)
}

fn printable(bytes: Vec<u8>) -> Option<String> {
    if bytes.len() < 8 {
        return None;
    }
    let text = String::from_utf8(bytes).ok()?;
    let good = text
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .count();
    (good * 100 >= text.chars().count() * 95).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic password, assembled so the source holds no credential-shaped literal.
    const SAMPLE: &str = concat!("q8Zr", "2LmX9vTb", "4NcK");

    #[test]
    fn base64_and_hex_runs_decode_to_text() {
        let inner = format!("password={SAMPLE}");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&inner);
        let text = format!("value: {b64}\nother: {}", hex::encode(&inner));
        let runs = decode_runs(&text);
        assert!(
            runs.iter()
                .any(|r| r.encoding == "base64" && r.text == inner)
        );
        assert!(runs.iter().any(|r| r.encoding == "hex" && r.text == inner));
    }

    #[test]
    fn random_binary_is_not_text() {
        assert_eq!(base64_text("AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"), None);
        assert!(decode_runs("sha: 3f786850e387550fdab836ed7e6dc881de23001b").is_empty());
    }
}
