//! Wrapped values: base64 and hex runs that decode to printable text are decoded so the
//! detectors see what they hide (Kubernetes `data:` is base64). The scanner recurses to a
//! bounded depth.

use base64::Engine;

/// Most decoded candidates one text yields, against pathological inputs.
const MAX_CANDIDATES: usize = 4096;

/// Shortest base64 run worth decoding.
const MIN_BASE64: usize = 20;

/// Shortest hex run worth decoding (16 bytes).
const MIN_HEX: usize = 32;

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

/// Every base64 or hex run of `text` that decodes to mostly printable UTF-8: base64 runs
/// first, then hex runs, each in text order.
pub fn decode_runs(text: &str) -> Vec<Decoded> {
    let (base64_runs, hex_runs) = runs(text);
    let mut out = Vec::new();
    let plausible = base64_runs
        .into_iter()
        .filter(|&(start, end)| plausible_base64(&text[start..end]));
    for (start, end) in plausible.take(MAX_CANDIDATES) {
        if let Some(decoded) = base64_text(&text[start..end]) {
            out.push(Decoded {
                offset: start,
                text: decoded,
                encoding: "base64",
            });
        }
    }
    for (start, end) in hex_runs.into_iter().take(MAX_CANDIDATES) {
        if let Some(decoded) = hex::decode(&text[start..end]).ok().and_then(printable) {
            out.push(Decoded {
                offset: start,
                text: decoded,
                encoding: "hex",
            });
        }
    }
    out
}

/// A byte range of the text.
type Span = (usize, usize);

/// Whether a byte belongs to the standard or URL-safe base64 alphabet (a table: this test
/// runs on every byte scanned).
static BASE64_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-');
        byte += 1;
    }
    table
};

fn is_base64_byte(b: u8) -> bool {
    BASE64_BYTE[usize::from(b)]
}

/// One pass over the bytes: base64 runs are maximal runs of `[A-Za-z0-9+/_-]` of at least
/// [`MIN_BASE64`] bytes plus up to two `=`; hex runs are whole words (`[A-Za-z0-9_]`, so
/// inside a base64 run) made of an even number, at least [`MIN_HEX`], of hex digits.
fn runs(text: &str) -> (Vec<Span>, Vec<Span>) {
    let bytes = text.as_bytes();
    let (mut base64_runs, mut hex_runs) = (Vec::new(), Vec::new());
    let mut at = 0;
    while at < bytes.len() {
        if !is_base64_byte(bytes[at]) {
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len() && is_base64_byte(bytes[at]) {
            at += 1;
        }
        if at - start < MIN_BASE64 {
            continue;
        }
        let end = at;
        while at < bytes.len() && at - end < 2 && bytes[at] == b'=' {
            at += 1;
        }
        base64_runs.push((start, at));
        hex_words(bytes, start, end, &mut hex_runs);
    }
    (base64_runs, hex_runs)
}

/// The all-hex words of `bytes[start..end]` (a base64 run, so words end at `+`, `/`, `-`).
fn hex_words(bytes: &[u8], start: usize, end: usize, out: &mut Vec<Span>) {
    let mut word = start;
    for at in start..=end {
        if at < end && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            continue;
        }
        let len = at - word;
        if len >= MIN_HEX
            && len.is_multiple_of(2)
            && bytes[word..at].iter().all(u8::is_ascii_hexdigit)
        {
            out.push((word, at));
        }
        word = at + 1;
    }
}

/// Base64 of text mixes cases and almost always holds a digit or `+`/`/`; identifiers such as
/// `SOME_LONG_CONSTANT_NAME` or `some_function_name` do not, and are not worth decoding.
fn plausible_base64(run: &str) -> bool {
    let (mut upper, mut lower, mut other, mut url, mut standard) =
        (false, false, false, false, false);
    for b in run.bytes() {
        match b {
            b'A'..=b'Z' => upper = true,
            b'a'..=b'z' => lower = true,
            b'0'..=b'9' => other = true,
            b'+' | b'/' => (other, standard) = (true, true),
            b'-' | b'_' => url = true,
            _ => {}
        }
    }
    upper && lower && other && !(url && standard)
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
    fn runs_are_maximal_and_hex_runs_are_whole_even_words() {
        let hex32 = "0123456789abcdef".repeat(2);
        let text = format!("a {hex32}1 b {hex32}+{hex32}== c short_run x{hex32}");
        let (base64_runs, hex_runs) = runs(&text);
        let slices: Vec<&str> = base64_runs.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(
            slices,
            [
                format!("{hex32}1"),
                format!("{hex32}+{hex32}=="),
                format!("x{hex32}")
            ]
        );
        let hex: Vec<&str> = hex_runs.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(hex, [hex32.as_str(), hex32.as_str()]);
    }

    #[test]
    fn random_binary_is_not_text() {
        assert_eq!(base64_text("AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"), None);
        assert!(decode_runs("sha: 3f786850e387550fdab836ed7e6dc881de23001b").is_empty());
    }
}
