//! Sprig's encodings and digests: base64 and base32, `encoding/json` output and input, and
//! the `sha1sum`/`sha256sum`/`adler32sum` hashes, all over a Go string's bytes. ESO's Sprig
//! fork has no `sha512sum`: calling it fails to parse, as in ESO.

use base64::Engine;
use sha1::Digest;

use crate::gofmt;
use crate::gostring::{self, TextBuf};
use crate::registry::{FuncMap, FuncResult, Param, bytes_at, string, text_at};
use crate::value::Value;

use Param::{Any, Str};

pub(crate) fn register(map: &mut FuncMap) {
    map.add("b64enc", &[Str], None, |a| {
        string(base64::engine::general_purpose::STANDARD.encode(bytes_at(&a, 0)))
    });
    map.add("b64dec", &[Str], None, |a| {
        Ok(match go_base64_decode(bytes_at(&a, 0)) {
            Ok(bytes) => Value::from_bytes(bytes),
            Err(offset) => Value::from(format!("illegal base64 data at input byte {offset}")),
        })
    });
    map.add("b32enc", &[Str], None, |a| {
        string(data_encoding::BASE32.encode(bytes_at(&a, 0)))
    });
    map.add("b32dec", &[Str], None, |a| {
        Ok(match go_base32_decode(bytes_at(&a, 0)) {
            Ok(bytes) => Value::from_bytes(bytes),
            Err(offset) => Value::from(format!("illegal base32 data at input byte {offset}")),
        })
    });
    map.add("sha1sum", &[Str], None, |a| {
        string(hex(&sha1::Sha1::digest(bytes_at(&a, 0))))
    });
    map.add("sha256sum", &[Str], None, |a| {
        string(hex(&sha2::Sha256::digest(bytes_at(&a, 0))))
    });
    map.add("adler32sum", &[Str], None, |a| {
        string(adler32(bytes_at(&a, 0)).to_string())
    });
    register_json(map);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % MOD;
        b = (b + a) % MOD;
    }
    (b << 16) | a
}

fn decode_char(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

fn skip_newlines(src: &[u8], mut si: usize) -> usize {
    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
        si += 1;
    }
    si
}

/// `base64.StdEncoding.DecodeString`, including the byte offset Go reports for bad input.
pub(crate) fn go_base64_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    loop {
        let mut quantum = [0u8; 4];
        let mut len = 4;
        let mut j = 0;
        let mut trailing_error = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(v) = decode_char(c) {
                quantum[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' || j < 2 {
                return Err(si - 1);
            }
            if j == 2 {
                si = skip_newlines(src, si);
                if si == src.len() {
                    return Err(src.len());
                }
                if src[si] != b'=' {
                    return Err(si - 1);
                }
                si += 1;
            }
            si = skip_newlines(src, si);
            if si < src.len() {
                trailing_error = Some(si);
            }
            len = j;
            break;
        }
        let val = (u32::from(quantum[0]) << 18)
            | (u32::from(quantum[1]) << 12)
            | (u32::from(quantum[2]) << 6)
            | u32::from(quantum[3]);
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..len - 1]);
        if let Some(offset) = trailing_error {
            return Err(offset);
        }
        if len < 4 {
            return Ok(out);
        }
    }
}

fn decode_base32_char(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'2'..=b'7' => Some(c - b'2' + 26),
        _ => None,
    }
}

/// `base32.StdEncoding.DecodeString`, including the byte offset Go reports for bad input.
fn go_base32_decode(input: &[u8]) -> Result<Vec<u8>, usize> {
    let src: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| *b != b'\n' && *b != b'\r')
        .collect();
    let olen = src.len();
    let mut rest = src.as_slice();
    let mut out = Vec::new();
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut quantum = [0u8; 8];
        let mut len = 8;
        let mut j = 0;
        while j < 8 {
            let Some((&c, tail)) = rest.split_first() else {
                return Err(olen - j);
            };
            rest = tail;
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 7 {
                    return Err(olen);
                }
                for k in 0..7 - j {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(olen - rest.len() + k - 1);
                    }
                }
                len = j;
                end = true;
                if matches!(len, 1 | 3 | 6) {
                    return Err(olen - rest.len() - 1);
                }
                break;
            }
            quantum[j] = decode_base32_char(c).ok_or(olen - rest.len() - 1)?;
            j += 1;
        }
        let q = quantum;
        let bytes = [
            (q[0] << 3) | (q[1] >> 2),
            (q[1] << 6) | (q[2] << 1) | (q[3] >> 4),
            (q[3] << 4) | (q[4] >> 1),
            (q[4] << 7) | (q[5] << 2) | (q[6] >> 3),
            (q[6] << 5) | q[7],
        ];
        let produced = match len {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            _ => 1,
        };
        out.extend_from_slice(&bytes[..produced]);
    }
    Ok(out)
}

fn register_json(map: &mut FuncMap) {
    map.add("toJson", &[Any], None, |a| {
        string(to_json(&a[0], true).unwrap_or_default())
    });
    map.add("mustToJson", &[Any], None, |a| {
        to_json(&a[0], true).map(Value::from)
    });
    map.add("toPrettyJson", &[Any], None, |a| {
        string(
            to_json(&a[0], true)
                .map(|j| indent_json(&j))
                .unwrap_or_default(),
        )
    });
    map.add("mustToPrettyJson", &[Any], None, |a| {
        to_json(&a[0], true).map(|j| Value::from(indent_json(&j)))
    });
    map.add("toRawJson", &[Any], None, |a| {
        to_json(&a[0], false).map(Value::from)
    });
    map.add("mustToRawJson", &[Any], None, |a| {
        to_json(&a[0], false).map(Value::from)
    });
    map.add("fromJson", &[Str], None, |a| {
        Ok(from_json(&text_at(&a, 0)).unwrap_or(Value::Nil))
    });
    map.add("mustFromJson", &[Str], None, |a| from_json(&text_at(&a, 0)));
}

/// `json.Unmarshal` into `interface{}` (Go reads an invalid byte inside a JSON string as
/// U+FFFD, which is what the text holds).
pub(crate) fn from_json(text: &str) -> FuncResult {
    serde_json::from_str::<serde_json::Value>(text)
        .map(Value::from_json_owned)
        .map_err(|_| "the input is not valid JSON".to_owned())
}

/// `json.Marshal` (with Go's HTML escaping when `escape_html`).
pub(crate) fn to_json(v: &Value, escape_html: bool) -> Result<TextBuf, String> {
    let mut out = TextBuf::new();
    write_json(&mut out, v, escape_html)?;
    Ok(out)
}

fn write_json(out: &mut TextBuf, v: &Value, escape_html: bool) -> Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&json_number(*f)?),
        Value::String(s) => write_json_string(out, s.as_bytes(), escape_html),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, escape_html)?;
            }
            out.push(']');
        }
        Value::Map(map) | Value::StringMap(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, key.as_bytes(), escape_html);
                out.push(':');
                write_json(out, item, escape_html)?;
            }
            out.push('}');
        }
        // MarshalJSON of both: a JSON string.
        Value::Time(t) => write_json_string(out, t.rfc3339_nano()?.as_bytes(), escape_html),
        Value::Semver(v) => write_json_string(out, v.normalized().as_bytes(), escape_html),
        Value::Typed(t) if t.is_unsigned() => out.push_str(&t.unsigned().to_string()),
        Value::Typed(t) => out.push_str(&t.bits.to_string()),
        // encoding/json writes exported fields in declaration order.
        Value::Struct(st) => {
            out.push('{');
            for (i, (name, item)) in st.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, name.as_bytes(), escape_html);
                out.push(':');
                write_json(out, item, escape_html)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

pub(crate) fn json_number(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err("unsupported float value".to_owned());
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = gofmt::format_float(f, 'e', -1);
        return Ok(match text.rsplit_once("e-0") {
            Some((mantissa, digit)) if digit.len() == 1 => format!("{mantissa}e-{digit}"),
            _ => text,
        });
    }
    Ok(gofmt::format_float(f, 'f', -1))
}

/// Go's `encoding/json` string: each byte that is not valid UTF-8 is written `\ufffd`.
fn write_json_string(out: &mut TextBuf, s: &[u8], escape_html: bool) {
    out.push('"');
    for (_, c, width) in gostring::runes(s) {
        match c {
            _ if gostring::is_invalid(c, width) => out.push_str("\\ufffd"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `json.Indent` with an empty prefix and two spaces, applied to compact JSON.
fn indent_json(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = compact.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                if matches!(chars.peek(), Some('}') | Some(']')) {
                    if let Some(close) = chars.next() {
                        out.push(close);
                    }
                    continue;
                }
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_errors_report_go_offsets() {
        assert_eq!(go_base64_decode(b"aGVsbG8="), Ok(b"hello".to_vec()));
        assert_eq!(go_base64_decode(b"aGVsbG8"), Err(4));
        assert_eq!(go_base64_decode(b"a!"), Err(1));
    }

    #[test]
    fn json_matches_go_encoding() {
        let v = Value::Map(
            [
                (
                    "b".into(),
                    Value::List(vec![Value::Float(1e21), Value::Float(0.5)]),
                ),
                ("a".into(), Value::from("<&>")),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(
            to_json(&v, true).as_deref(),
            Ok(r#"{"a":"\u003c\u0026\u003e","b":[1e+21,0.5]}"#)
        );
        assert_eq!(
            indent_json(r#"{"a":[],"b":[1,2]}"#),
            "{\n  \"a\": [],\n  \"b\": [\n    1,\n    2\n  ]\n}"
        );
        assert_eq!(json_number(1e-7).as_deref(), Ok("1e-7"));
    }

    #[test]
    fn adler32_matches_known_value() {
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }
}
