//! ESO's `filterPEM TYPE TEXT`: the PEM blocks of `TEXT` whose type equals `TYPE` (ignoring
//! case), re-encoded. Decoding and encoding follow Go's `encoding/pem` (which ESO uses):
//! text around and between blocks is skipped, a malformed block is skipped, and the result
//! is an error only when no block matched and undecodable text remains.

use std::collections::BTreeMap;

use base64::Engine;

use crate::registry::{FuncMap, FuncResult, Param, text_at};
use crate::sprig::encoding::go_base64_decode;
use crate::value::Value;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("filterPEM", &[Param::Str, Param::Str], None, |a| {
        filter_pem(&text_at(&a, 0), &text_at(&a, 1))
    });
}

/// One decoded PEM block.
pub(crate) struct Block {
    pub(crate) kind: String,
    headers: BTreeMap<String, String>,
    pub(crate) bytes: Vec<u8>,
}

impl Block {
    /// A block without headers, as ESO's functions encode certificates and keys.
    pub(crate) fn new(kind: &str, bytes: Vec<u8>) -> Block {
        Block {
            kind: kind.to_owned(),
            headers: BTreeMap::new(),
            bytes,
        }
    }
}

fn filter_pem(kind: &str, input: &str) -> FuncResult {
    let mut data = input.as_bytes();
    let mut out = String::new();
    loop {
        let (block, rest) = decode(data);
        data = rest;
        let Some(block) = block else {
            break;
        };
        if block.kind.to_lowercase() == kind.to_lowercase() {
            out.push_str(&encode(&block));
        }
    }
    if out.is_empty() && !data.is_empty() {
        return Err("error filtering pem: found junk".to_owned());
    }
    Ok(Value::from(out))
}

/// Go's `getLine`: up to the next `\n`, trailing spaces, tabs and `\r` trimmed.
fn get_line(data: &[u8]) -> (&[u8], &[u8]) {
    let (line, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let end = line
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r'))
        .map_or(0, |i| i + 1);
    (&line[..end], rest)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Go's `pem.Decode`: the first block and the rest, or `None` and the input unchanged.
pub(crate) fn decode(data: &[u8]) -> (Option<Block>, &[u8]) {
    let mut rest = data;
    loop {
        if let Some(r) = rest.strip_prefix(b"-----BEGIN ") {
            rest = r;
        } else if let Some(i) = find(rest, b"\n-----BEGIN ") {
            rest = &rest[i + 12..];
        } else {
            return (None, data);
        }
        let (type_line, after) = get_line(rest);
        rest = after;
        let Some(kind) = type_line.strip_suffix(b"-----") else {
            continue;
        };
        match decode_body(kind, rest) {
            Body::Block(block, after) => return (Some(block), after),
            Body::Truncated => return (None, data),
            Body::Skip => continue,
        }
    }
}

enum Body<'a> {
    Block(Block, &'a [u8]),
    Truncated,
    Skip,
}

fn decode_body<'a>(kind: &[u8], mut rest: &'a [u8]) -> Body<'a> {
    let mut headers = BTreeMap::new();
    loop {
        if rest.is_empty() {
            return Body::Truncated;
        }
        let (line, next) = get_line(rest);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            break;
        };
        let key = String::from_utf8_lossy(line[..colon].trim_ascii()).into_owned();
        let value = String::from_utf8_lossy(line[colon + 1..].trim_ascii()).into_owned();
        headers.insert(key, value);
        rest = next;
    }
    let (end, trailer) = if headers.is_empty() && rest.starts_with(b"-----END ") {
        (0, 9)
    } else {
        match find(rest, b"\n-----END ") {
            Some(i) => (i, i + 10),
            None => return Body::Skip,
        }
    };
    let end_trailer = &rest[trailer..];
    let want = kind.len() + 5;
    if end_trailer.len() < want
        || !end_trailer[..want].starts_with(kind)
        || !end_trailer[..want].ends_with(b"-----")
        || !get_line(&end_trailer[want..]).0.is_empty()
    {
        return Body::Skip;
    }
    let text: Vec<u8> = rest[..end]
        .iter()
        .copied()
        .filter(|b| !matches!(b, b' ' | b'\t'))
        .collect();
    let Ok(bytes) = go_base64_decode(&text) else {
        return Body::Skip;
    };
    let (_, after) = get_line(&rest[end + 9..]);
    let block = Block {
        kind: String::from_utf8_lossy(kind).into_owned(),
        headers,
        bytes,
    };
    Body::Block(block, after)
}

/// Go's `pem.Encode`: `Proc-Type` first, other headers sorted, 64-column base64.
pub(crate) fn encode(block: &Block) -> String {
    let mut out = format!("-----BEGIN {}-----\n", block.kind);
    if !block.headers.is_empty() {
        if let Some(v) = block.headers.get("Proc-Type") {
            out.push_str(&format!("Proc-Type: {v}\n"));
        }
        for (k, v) in block.headers.iter().filter(|(k, _)| *k != "Proc-Type") {
            out.push_str(&format!("{k}: {v}\n"));
        }
        out.push('\n');
    }
    let text = base64::engine::general_purpose::STANDARD.encode(&block.bytes);
    for chunk in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {}-----\n", block.kind));
    out
}
