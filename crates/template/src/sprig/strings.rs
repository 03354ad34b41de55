//! Sprig's string, regular-expression and path functions, over Go strings: bytes. Each
//! follows its Go code: the functions that slice or search bytes (`trunc`, `substr`,
//! `replace`, `split`, `trim`, `wrap`, paths, …) keep invalid UTF-8 as it is, and the ones
//! that walk runes (`upper`, `title`, `swapcase`, `camelcase`, `shuffle`, …) turn each byte
//! that does not start a valid sequence into U+FFFD, as Go's do.

use std::collections::BTreeMap;

use memchr::memmem;
use regex::bytes::Regex;
use zeroize::Zeroizing;

use super::case::is_upper;
use super::strval;
use crate::gofmt;
use crate::gostring::{self, GoString, decode_last_rune, decode_rune};
use crate::limits;
use crate::registry::{FuncMap, FuncResult, Param, bytes_at, int_at, string, text_at};
use crate::value::Value;

use Param::{Any, Int, Str};

pub(crate) fn register(map: &mut FuncMap) {
    register_case_and_trim(map);
    register_search_and_build(map);
    register_split_and_join(map);
    register_regex(map);
    register_paths(map);
}

/// Go's simple (one-to-one) case mapping, as `strings.ToUpper`/`ToLower` apply it.
fn map_case(s: &str, upper: bool) -> String {
    s.chars().map(|c| single_case(c, upper)).collect()
}

fn single_case(c: char, upper: bool) -> char {
    let mapped: Vec<char> = if upper {
        c.to_uppercase().collect()
    } else {
        c.to_lowercase().collect()
    };
    match mapped.as_slice() {
        [one] => *one,
        _ => c,
    }
}

/// Go's `unicode.IsSpace`.
fn is_go_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    ) || (c as u32 > 0xff && c.is_whitespace())
}

/// `strings.TrimSpace`: runes decoded from each end, an invalid byte (not a space) stops.
fn trim_space(mut s: &[u8]) -> &[u8] {
    while !s.is_empty() {
        let (c, width) = decode_rune(s);
        if !is_go_space(c) {
            break;
        }
        s = &s[width..];
    }
    while !s.is_empty() {
        let (c, width) = decode_last_rune(s);
        if !is_go_space(c) {
            break;
        }
        s = &s[..s.len() - width];
    }
    s
}

/// `strings.Trim(s, cutset)`: an ASCII cutset trims bytes; any other trims runes, where an
/// invalid byte of `s` (U+FFFD to Go) goes when the cutset holds U+FFFD or an invalid byte.
fn trim_cutset<'a>(s: &'a [u8], cutset: &[u8]) -> &'a [u8] {
    if s.is_empty() || cutset.is_empty() {
        return s;
    }
    if cutset.is_ascii() {
        let start = s
            .iter()
            .position(|b| !cutset.contains(b))
            .unwrap_or(s.len());
        let end = s
            .iter()
            .rposition(|b| !cutset.contains(b))
            .map_or(start, |i| i + 1);
        return &s[start..end.max(start)];
    }
    let set = gostring::to_text(cutset);
    let contains = |c: char| set.contains(c);
    let mut s = s;
    while !s.is_empty() {
        let (c, width) = decode_rune(s);
        if !contains(c) {
            break;
        }
        s = &s[width..];
    }
    while !s.is_empty() {
        let (c, width) = decode_last_rune(s);
        if !contains(c) {
            break;
        }
        s = &s[..s.len() - width];
    }
    s
}

/// goutils' `DeleteWhiteSpace`: walks bytes, turning each kept byte into the rune of the same
/// number (non-ASCII text comes out as Latin-1 mojibake, as in Go), and returns the string
/// unchanged when it had no white space at all.
fn delete_white_space(s: &[u8]) -> Vec<u8> {
    let is_space = |b: &u8| matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0);
    if !s.iter().any(is_space) {
        return s.to_vec();
    }
    s.iter()
        .filter(|b| !is_space(b))
        .map(|&b| char::from(b))
        .collect::<String>()
        .into_bytes()
}

/// Sprig's `trunc`: bytes cut from the start or (negative count) kept at the end.
fn trunc(c: i64, s: &[u8]) -> &[u8] {
    let len = s.len() as i64;
    if c < 0 && len + c > 0 {
        &s[(len + c) as usize..]
    } else if c >= 0 && len > c {
        &s[..c as usize]
    } else {
        s
    }
}

/// Sprig's `substring` over bytes; Go panics on bounds out of range.
fn substring(start: i64, end: i64, s: &[u8]) -> FuncResult {
    let len = s.len() as i64;
    let range = if start < 0 {
        (0, end)
    } else if end < 0 || end > len {
        (start, len)
    } else {
        (start, end)
    };
    usize::try_from(range.0)
        .ok()
        .zip(usize::try_from(range.1).ok())
        .and_then(|(from, to)| s.get(from..to))
        .map(string)
        .unwrap_or_else(|| Err("slice bounds out of range".to_owned()))
}

fn register_case_and_trim(map: &mut FuncMap) {
    map.add("upper", &[Str], None, |a| {
        string(map_case(&text_at(&a, 0), true))
    });
    map.add("lower", &[Str], None, |a| {
        string(map_case(&text_at(&a, 0), false))
    });
    map.add("trim", &[Str], None, |a| {
        string(trim_space(bytes_at(&a, 0)))
    });
    for name in ["trimAll", "trimall"] {
        map.add(name, &[Str, Str], None, |a| {
            string(trim_cutset(bytes_at(&a, 1), bytes_at(&a, 0)))
        });
    }
    map.add("trimSuffix", &[Str, Str], None, |a| {
        let s = bytes_at(&a, 1);
        string(s.strip_suffix(bytes_at(&a, 0)).unwrap_or(s))
    });
    map.add("trimPrefix", &[Str, Str], None, |a| {
        let s = bytes_at(&a, 1);
        string(s.strip_prefix(bytes_at(&a, 0)).unwrap_or(s))
    });
    map.add("nospace", &[Str], None, |a| {
        string(delete_white_space(bytes_at(&a, 0)))
    });
    map.add("trunc", &[Int, Str], None, |a| {
        string(trunc(int_at(&a, 0), bytes_at(&a, 1)))
    });
    map.add("substr", &[Int, Int, Str], None, |a| {
        substring(int_at(&a, 0), int_at(&a, 1), bytes_at(&a, 2))
    });
}

/// Go's deprecated `strings.Title` word-boundary rule.
fn is_title_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphanumeric() {
        return false;
    }
    c.is_whitespace()
}

fn title(s: &str) -> String {
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let mapped = if is_title_separator(prev) {
                single_case(c, true)
            } else {
                c
            };
            prev = c;
            mapped
        })
        .collect()
}

/// goutils' `AbbreviateFull` over bytes, as Go slices strings; `None` where goutils reports
/// an error (Sprig then prints "").
fn abbreviate_full(s: &[u8], offset: i64, max_width: i64) -> Option<Vec<u8>> {
    let len = s.len() as i64;
    if s.is_empty() {
        return Some(Vec::new());
    }
    if max_width < 4 {
        return None;
    }
    if len <= max_width {
        return Some(s.to_vec());
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    let joined = |a: &[u8], b: &[u8]| [a, b].concat();
    if offset <= 4 {
        return Some(joined(s.get(..(max_width - 3) as usize)?, b"..."));
    }
    if max_width < 7 {
        return None;
    }
    if offset + max_width - 3 < len {
        let rest = abbreviate_full(s.get(offset as usize..)?, 0, max_width - 3)?;
        return Some(joined(b"...", &rest));
    }
    Some(joined(b"...", s.get((len - (max_width - 3)) as usize..)?))
}

fn abbreviated(s: &[u8], offset: i64, max_width: i64) -> FuncResult {
    string(abbreviate_full(s, offset, max_width).unwrap_or_default())
}

/// goutils' `Uncapitalize`: the first letter after whitespace is lowered.
fn untitle(s: &str) -> String {
    let mut next = true;
    s.chars()
        .map(|c| {
            if is_go_space(c) {
                next = true;
                c
            } else if std::mem::take(&mut next) {
                single_case(c, false)
            } else {
                c
            }
        })
        .collect()
}

/// goutils' `SwapCase`: every cased letter swaps case.
fn swapcase(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_uppercase() {
                single_case(c, false)
            } else if c.is_lowercase() {
                single_case(c, true)
            } else {
                c
            }
        })
        .collect()
}

/// goutils' `Initials`, which walks bytes: the first byte of each whitespace-separated word,
/// each taken as the rune of the same number.
fn initials(s: &[u8]) -> String {
    let mut last_was_gap = true;
    let mut out = String::new();
    for &b in s {
        let c = char::from(b);
        if is_go_space(c) {
            last_was_gap = true;
        } else if std::mem::take(&mut last_was_gap) {
            out.push(c);
        }
    }
    out
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || is_go_space(c)
}

/// xstrings' `toCamelCase` (ESO's Sprig fork maps `camelcase` to `ToCamelCase`, `big` false;
/// `ToPascalCase` is `big` true): connectors removed, the rune after each connector
/// upper-cased, the first rune lower-cased (upper-cased when `big`), and a run of capitals
/// after the first lowered. Runes are written back, so invalid bytes come out as U+FFFD.
fn camel_case(s: &str, big: bool) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    let mut first_upper = false;
    let mut r0 = None;
    for c in chars.by_ref() {
        if !is_connector(c) {
            first_upper = is_upper(c);
            r0 = Some(single_case(c, big));
            break;
        }
        out.push(c);
    }
    let Some(mut r0) = r0 else {
        // Only connectors: xstrings writes the last one twice.
        if let Some(last) = s.chars().last() {
            out.push(last);
        }
        return out;
    };
    for c in chars {
        let r1 = r0;
        r0 = c;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = is_upper(r0);
            r0 = single_case(r0, true);
        } else {
            if first_upper {
                if is_upper(r0) {
                    r0 = single_case(r0, false);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    if first_upper && !big {
        r0 = single_case(r0, false);
    }
    out.push(r0);
    out
}

/// goutils' `WrapCustom`, over bytes as in Go.
fn wrap_custom(
    bytes: &[u8],
    wrap_length: i64,
    newline: &[u8],
    wrap_long_words: bool,
) -> Result<Vec<u8>, String> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let newline = if newline.is_empty() {
        b"\n".as_slice()
    } else {
        newline
    };
    let width = usize::try_from(wrap_length.max(1)).unwrap_or(1);
    let len = bytes.len();
    limits::reserve_product(len / width + 1, newline.len(), len)?;
    let mut offset = 0;
    let mut out: Vec<u8> = Vec::with_capacity(len + len / width);
    while len - offset > width {
        if bytes[offset] == b' ' {
            offset += 1;
            continue;
        }
        let window = &bytes[offset..width + offset + 1];
        if let Some(space) = window.iter().rposition(|b| *b == b' ') {
            out.extend_from_slice(&bytes[offset..offset + space]);
            out.extend_from_slice(newline);
            offset += space + 1;
        } else if wrap_long_words {
            out.extend_from_slice(&bytes[offset..offset + width]);
            out.extend_from_slice(newline);
            offset += width;
        } else {
            let end = offset + width;
            match bytes[end..].iter().position(|b| *b == b' ') {
                None => {
                    out.extend_from_slice(&bytes[offset..]);
                    offset = len;
                }
                Some(index) => {
                    out.extend_from_slice(&bytes[offset..end + index]);
                    out.extend_from_slice(newline);
                    offset = end + index + 1;
                }
            }
        }
    }
    out.extend_from_slice(&bytes[offset..]);
    Ok(out)
}

fn register_search_and_build(map: &mut FuncMap) {
    map.add("title", &[Str], None, |a| string(title(&text_at(&a, 0))));
    map.add("camelcase", &[Str], None, |a| {
        string(camel_case(&text_at(&a, 0), false))
    });
    map.add("wrap", &[Int, Str], None, |a| {
        string(wrap_custom(bytes_at(&a, 1), int_at(&a, 0), b"", false)?)
    });
    map.add("wrapWith", &[Int, Str, Str], None, |a| {
        string(wrap_custom(
            bytes_at(&a, 2),
            int_at(&a, 0),
            bytes_at(&a, 1),
            true,
        )?)
    });
    map.add("snakecase", &[Str], None, |a| {
        string(super::case::to_lower_case(bytes_at(&a, 0), '_'))
    });
    map.add("kebabcase", &[Str], None, |a| {
        string(super::case::to_lower_case(bytes_at(&a, 0), '-'))
    });
    map.add("untitle", &[Str], None, |a| {
        string(untitle(&text_at(&a, 0)))
    });
    map.add("swapcase", &[Str], None, |a| {
        string(swapcase(&text_at(&a, 0)))
    });
    map.add("initials", &[Str], None, |a| {
        string(initials(bytes_at(&a, 0)))
    });
    map.add("abbrev", &[Int, Str], None, |a| {
        let (width, s) = (int_at(&a, 0), bytes_at(&a, 1));
        if width < 4 {
            return string(s);
        }
        abbreviated(s, 0, width)
    });
    map.add("abbrevboth", &[Int, Int, Str], None, |a| {
        let (left, right, s) = (int_at(&a, 0), int_at(&a, 1), bytes_at(&a, 2));
        if right < 4 || left > 0 && right < 7 {
            return string(s);
        }
        abbreviated(s, left, right)
    });
    map.add("contains", &[Str, Str], None, |a| {
        Ok(Value::Bool(
            memmem::find(bytes_at(&a, 1), bytes_at(&a, 0)).is_some(),
        ))
    });
    map.add("hasPrefix", &[Str, Str], None, |a| {
        Ok(Value::Bool(bytes_at(&a, 1).starts_with(bytes_at(&a, 0))))
    });
    map.add("hasSuffix", &[Str, Str], None, |a| {
        Ok(Value::Bool(bytes_at(&a, 1).ends_with(bytes_at(&a, 0))))
    });
    map.add("quote", &[], Some(Any), |a| {
        let parts = a.iter().filter(|v| **v != Value::Nil).map(|v| {
            let quoted = Zeroizing::new(gofmt::quote(strval(v).as_bytes()));
            GoString::from(quoted.as_bytes())
        });
        Ok(Value::String(join_wiped(parts, b" ")))
    });
    map.add("squote", &[], Some(Any), |a| {
        let parts = a
            .iter()
            .filter(|v| **v != Value::Nil)
            .map(|v| GoString::concat(&[b"'", gofmt::display(v).as_bytes(), b"'"]));
        Ok(Value::String(join_wiped(parts, b" ")))
    });
    map.add("cat", &[], Some(Any), |a| {
        let parts: Vec<GoString> = a
            .iter()
            .filter(|v| **v != Value::Nil)
            .map(gofmt::display)
            .collect();
        string(join_bytes(&parts, b" "))
    });
    map.add("indent", &[Int, Str], None, |a| {
        string(indent(int_at(&a, 0), bytes_at(&a, 1))?)
    });
    map.add("nindent", &[Int, Str], None, |a| {
        let indented = Zeroizing::new(indent(int_at(&a, 0), bytes_at(&a, 1))?);
        Ok(Value::String(GoString::concat(&[b"\n", &indented])))
    });
    map.add("replace", &[Str, Str, Str], None, |a| {
        string(replace_all(
            bytes_at(&a, 2),
            bytes_at(&a, 0),
            bytes_at(&a, 1),
        )?)
    });
    map.add("plural", &[Str, Str, Int], None, |a| {
        string(if int_at(&a, 2) == 1 {
            bytes_at(&a, 0)
        } else {
            bytes_at(&a, 1)
        })
    });
    map.add("repeat", &[Int, Str], None, |a| {
        let count =
            usize::try_from(int_at(&a, 0)).map_err(|_| "negative repeat count".to_owned())?;
        let text = bytes_at(&a, 1);
        limits::reserve_product(count, text.len(), 0)?;
        string(text.repeat(count))
    });
    map.add("toString", &[Any], None, |a| Ok(Value::from(strval(&a[0]))));
}

/// `strings.Join` over byte strings.
fn join_bytes(parts: &[GoString], separator: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(separator);
        }
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// `strings.Replace(s, old, new, -1)` over bytes, within the size cap: an empty `old`
/// matches before every rune (Go's runes: each invalid byte is one) and at the end.
fn replace_all(s: &[u8], old: &[u8], new: &[u8]) -> Result<Vec<u8>, String> {
    if old.is_empty() {
        let count = gostring::rune_count(s) + 1;
        limits::reserve_product(count, new.len(), s.len())?;
        let mut out = Vec::with_capacity(s.len() + count * new.len());
        out.extend_from_slice(new);
        for (i, _, width) in gostring::runes(s) {
            out.extend_from_slice(&s[i..i + width]);
            out.extend_from_slice(new);
        }
        return Ok(out);
    }
    let count = memmem::find_iter(s, old).count();
    limits::reserve_product(count, new.len(), s.len())?;
    let mut out = Vec::with_capacity(s.len());
    let mut last = 0;
    for at in memmem::find_iter(s, old) {
        // find_iter reports overlapping matches; Go replaces left to right without overlap.
        if at < last {
            continue;
        }
        out.extend_from_slice(&s[last..at]);
        out.extend_from_slice(new);
        last = at + old.len();
    }
    out.extend_from_slice(&s[last..]);
    Ok(out)
}

/// Sprig's `indent`: `spaces` spaces before every line, within the size cap.
/// `parts` joined by `separator` in one buffer of exactly their length; each part is wiped
/// when it is dropped (a `GoString`), and no buffer grows.
fn join_wiped(parts: impl Iterator<Item = GoString>, separator: &[u8]) -> GoString {
    let parts: Vec<GoString> = parts.collect();
    let mut pieces: Vec<&[u8]> = Vec::with_capacity(parts.len().saturating_mul(2));
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            pieces.push(separator);
        }
        pieces.push(part.as_bytes());
    }
    GoString::concat(&pieces)
}

fn indent(spaces: i64, v: &[u8]) -> Result<Vec<u8>, String> {
    let spaces = usize::try_from(spaces).unwrap_or(0);
    let lines = v.iter().filter(|b| **b == b'\n').count() + 1;
    limits::reserve_product(lines, spaces, v.len() + 1)?;
    let pad = vec![b' '; spaces];
    let mut out = Vec::with_capacity(v.len() + lines * spaces);
    out.extend_from_slice(&pad);
    for &b in v {
        out.push(b);
        if b == b'\n' {
            out.extend_from_slice(&pad);
        }
    }
    Ok(out)
}

/// Sprig's `strslice`: a list's non-nil elements as strings; nil as an empty list; anything
/// else as a one-element list.
pub(crate) fn strslice(v: &Value) -> Vec<GoString> {
    match v {
        Value::List(items) => items
            .iter()
            .filter(|i| **i != Value::Nil)
            .map(strval)
            .collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

fn string_list(items: Vec<GoString>) -> Value {
    Value::List(items.into_iter().map(Value::String).collect())
}

fn slice_list(items: Vec<&[u8]>) -> Value {
    Value::List(items.into_iter().map(Value::from_slice).collect())
}

/// Sprig's `split` and `splitn` results: a `map[string]string` of `_0`, `_1`, ….
fn indexed_map(parts: Vec<&[u8]>) -> Value {
    let map: BTreeMap<GoString, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (GoString::from(format!("_{i}")), Value::from_slice(p)))
        .collect();
    Value::StringMap(map)
}

/// `strings.SplitN` over bytes (n < 0: all parts; n == 0: none); an empty separator splits
/// into Go's runes, each invalid byte its own part.
fn split_n<'a>(s: &'a [u8], sep: &[u8], n: i64) -> Vec<&'a [u8]> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let mut parts: Vec<&[u8]> = gostring::runes(s)
            .map(|(i, _, width)| &s[i..i + width])
            .collect();
        if n > 0 && parts.len() > n as usize {
            let keep = n as usize - 1;
            let tail_start: usize = parts[..keep].iter().map(|p| p.len()).sum();
            parts.truncate(keep);
            parts.push(&s[tail_start..]);
        }
        return parts;
    }
    let limit = if n < 0 { usize::MAX } else { n as usize };
    let mut parts = Vec::new();
    let mut rest = s;
    while parts.len() + 1 < limit {
        let Some(at) = memmem::find(rest, sep) else {
            break;
        };
        parts.push(&rest[..at]);
        rest = &rest[at + sep.len()..];
    }
    parts.push(rest);
    parts
}

fn register_split_and_join(map: &mut FuncMap) {
    map.add("split", &[Str, Str], None, |a| {
        Ok(indexed_map(split_n(bytes_at(&a, 1), bytes_at(&a, 0), -1)))
    });
    map.add("splitn", &[Str, Int, Str], None, |a| {
        Ok(indexed_map(split_n(
            bytes_at(&a, 2),
            bytes_at(&a, 0),
            int_at(&a, 1),
        )))
    });
    map.add("splitList", &[Str, Str], None, |a| {
        Ok(slice_list(split_n(bytes_at(&a, 1), bytes_at(&a, 0), -1)))
    });
    map.add("join", &[Str, Any], None, |a| {
        let (separator, parts) = (bytes_at(&a, 0), strslice(&a[1]));
        let text: usize = parts.iter().map(GoString::len).sum();
        limits::reserve_product(parts.len().saturating_sub(1), separator.len(), text)?;
        string(join_bytes(&parts, separator))
    });
    map.add("toStrings", &[Any], None, |a| {
        Ok(string_list(strslice(&a[0])))
    });
    map.add("sortAlpha", &[Any], None, |a| {
        let mut items = match &a[0] {
            list @ Value::List(_) => strslice(list),
            other => vec![strval(other)],
        };
        items.sort();
        Ok(string_list(items))
    });
}

fn compile(pattern: &[u8]) -> Result<Regex, String> {
    let pattern = gostring::to_text(pattern);
    Regex::new(&pattern).map_err(|_| "the regular expression does not compile".to_owned())
}

/// A string as Go's `regexp` reads it: runes, with each byte that does not start a valid
/// UTF-8 sequence read as U+FFFD of width 1 (so `.` and `[^a]` match it). The regex crate
/// skips such bytes instead, so a string that is not UTF-8 is searched in a translation
/// (each invalid byte written as U+FFFD) whose offsets map back to the original bytes.
struct Haystack<'s> {
    original: &'s [u8],
    /// The translation and, for each of its offsets (and its end), the original offset;
    /// `None` when the string is UTF-8 and is searched as it is.
    translated: Option<(Vec<u8>, Vec<usize>)>,
}

impl<'s> Haystack<'s> {
    fn new(original: &'s [u8]) -> Haystack<'s> {
        if std::str::from_utf8(original).is_ok() {
            return Haystack {
                original,
                translated: None,
            };
        }
        let mut text = Vec::with_capacity(original.len() + 8);
        let mut origin = Vec::with_capacity(original.len() + 8);
        for (offset, rune, width) in gostring::runes(original) {
            if gostring::is_invalid(rune, width) {
                text.extend_from_slice("\u{FFFD}".as_bytes());
                origin.extend([offset; 3]);
            } else {
                text.extend_from_slice(&original[offset..offset + width]);
                origin.extend(offset..offset + width);
            }
        }
        origin.push(original.len());
        Haystack {
            original,
            translated: Some((text, origin)),
        }
    }

    /// What the regex searches.
    fn searched(&self) -> &[u8] {
        self.translated.as_ref().map_or(self.original, |(t, _)| t)
    }

    /// An offset in what was searched, as an offset in the original bytes.
    fn at(&self, offset: usize) -> usize {
        self.translated
            .as_ref()
            .map_or(offset, |(_, origin)| origin[offset.min(origin.len() - 1)])
    }

    /// The matches of `re` (at most `limit`), as ranges of the original bytes.
    fn matches(&self, re: &Regex, limit: usize) -> Vec<std::ops::Range<usize>> {
        re.find_iter(self.searched())
            .take(limit)
            .map(|m| self.at(m.start())..self.at(m.end()))
            .collect()
    }
}

fn is_match(re: &Regex, s: &[u8]) -> bool {
    re.is_match(Haystack::new(s).searched())
}

fn find_all<'s>(re: &Regex, s: &'s [u8], n: i64) -> Vec<&'s [u8]> {
    let limit = if n < 0 { usize::MAX } else { n as usize };
    let haystack = Haystack::new(s);
    haystack
        .matches(re, limit)
        .into_iter()
        .map(|m| &s[m])
        .collect()
}

fn regex_split<'s>(re: &Regex, s: &'s [u8], n: i64) -> Vec<&'s [u8]> {
    if n == 0 {
        return Vec::new();
    }
    // `n` pieces at most: the first n-1 matches split, the rest is the last piece.
    let cuts = if n < 0 { usize::MAX } else { n as usize - 1 };
    let haystack = Haystack::new(s);
    let mut pieces = Vec::new();
    let mut last = 0;
    for m in haystack.matches(re, cuts) {
        pieces.push(&s[last..m.start]);
        last = m.end;
    }
    pieces.push(&s[last..]);
    pieces
}

fn register_regex(map: &mut FuncMap) {
    map.add("regexMatch", &[Str, Str], None, |a| {
        Ok(Value::Bool(
            compile(bytes_at(&a, 0)).is_ok_and(|re| is_match(&re, bytes_at(&a, 1))),
        ))
    });
    map.add("mustRegexMatch", &[Str, Str], None, |a| {
        compile(bytes_at(&a, 0)).map(|re| Value::Bool(is_match(&re, bytes_at(&a, 1))))
    });
    for name in ["regexFindAll", "mustRegexFindAll"] {
        map.add(name, &[Str, Str, Int], None, |a| {
            let re = compile(bytes_at(&a, 0))?;
            Ok(slice_list(find_all(&re, bytes_at(&a, 1), int_at(&a, 2))))
        });
    }
    for name in ["regexFind", "mustRegexFind"] {
        map.add(name, &[Str, Str], None, |a| {
            let re = compile(bytes_at(&a, 0))?;
            let s = bytes_at(&a, 1);
            let found = Haystack::new(s).matches(&re, 1).pop();
            string(found.map_or(&[][..], |m| &s[m]))
        });
    }
    for name in ["regexReplaceAll", "mustRegexReplaceAll"] {
        map.add(name, &[Str, Str, Str], None, |a| {
            let re = compile(bytes_at(&a, 0))?;
            capped_replace_all(&re, bytes_at(&a, 1), bytes_at(&a, 2), true)
        });
    }
    for name in ["regexReplaceAllLiteral", "mustRegexReplaceAllLiteral"] {
        map.add(name, &[Str, Str, Str], None, |a| {
            let re = compile(bytes_at(&a, 0))?;
            capped_replace_all(&re, bytes_at(&a, 1), bytes_at(&a, 2), false)
        });
    }
    for name in ["regexSplit", "mustRegexSplit"] {
        map.add(name, &[Str, Str, Int], None, |a| {
            let re = compile(bytes_at(&a, 0))?;
            Ok(slice_list(regex_split(&re, bytes_at(&a, 1), int_at(&a, 2))))
        });
    }
    map.add("regexQuoteMeta", &[Str], None, |a| {
        string(quote_meta(bytes_at(&a, 0)))
    });
}

/// A replacement that stops expanding once the result passes the size cap (a short pattern
/// matching everywhere can multiply a long replacement a million times).
struct CappedReplacer<'r> {
    replacement: &'r [u8],
    expand: bool,
    max: usize,
    over: bool,
}

impl regex::bytes::Replacer for CappedReplacer<'_> {
    fn replace_append(&mut self, caps: &regex::bytes::Captures<'_>, dst: &mut Vec<u8>) {
        if self.over {
            return;
        }
        if self.expand {
            caps.expand(self.replacement, dst);
        } else {
            dst.extend_from_slice(self.replacement);
        }
        if dst.len() > self.max {
            self.over = true;
            dst.clear();
        }
    }
}

/// `ReplaceAllString` (with `$1` expansion) or `ReplaceAllLiteralString`, within the cap.
fn capped_replace_all(re: &Regex, s: &[u8], replacement: &[u8], expand: bool) -> FuncResult {
    let haystack = Haystack::new(s);
    if haystack.translated.is_some() {
        return replace_all_in_bytes(re, &haystack, replacement, expand);
    }
    let mut replacer = CappedReplacer {
        replacement,
        expand,
        max: limits::max_bytes(),
        over: false,
    };
    let out = re
        .replace_all(s, regex::bytes::Replacer::by_ref(&mut replacer))
        .into_owned();
    if replacer.over {
        limits::reserve(usize::MAX)?;
    }
    string(out)
}

/// [`capped_replace_all`] over a string that is not UTF-8: matched in its translation, the
/// unmatched bytes and the groups copied from the original, `$` expanded as Go's
/// `Regexp.Expand` does.
fn replace_all_in_bytes(
    re: &Regex,
    haystack: &Haystack<'_>,
    replacement: &[u8],
    expand: bool,
) -> FuncResult {
    let s = haystack.original;
    let max = limits::max_bytes();
    let mut out = Vec::with_capacity(s.len());
    let mut last = 0;
    for caps in re.captures_iter(haystack.searched()) {
        let Some(whole) = caps.get(0) else {
            continue;
        };
        out.extend_from_slice(&s[last..haystack.at(whole.start())]);
        if expand {
            let group = |name: &str| -> &[u8] {
                let m = match name.parse::<usize>() {
                    Ok(index) => caps.get(index),
                    Err(_) => caps.name(name),
                };
                m.map_or(&[][..], |m| {
                    &s[haystack.at(m.start())..haystack.at(m.end())]
                })
            };
            go_expand(&mut out, replacement, group);
        } else {
            out.extend_from_slice(replacement);
        }
        last = haystack.at(whole.end());
        if out.len() > max {
            limits::reserve(usize::MAX)?;
        }
    }
    out.extend_from_slice(&s[last..]);
    string(out)
}

/// Go's `Regexp.Expand`: `$$` is `$`, `$name` (as long as possible: letters, digits, `_`)
/// and `${name}` are the group by number or name (empty when absent), and a `$` not
/// followed by a name is kept as it is.
fn go_expand<'g>(out: &mut Vec<u8>, template: &[u8], group: impl Fn(&str) -> &'g [u8]) {
    let mut rest = template;
    while let Some(at) = memchr::memchr(b'$', rest) {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix(b"$") {
            out.push(b'$');
            rest = after;
            continue;
        }
        let (name, after) = if let Some(braced) = rest.strip_prefix(b"{") {
            match memchr::memchr(b'}', braced) {
                Some(close) if close > 0 && is_group_name(&braced[..close]) => {
                    (&braced[..close], &braced[close + 1..])
                }
                _ => (&b""[..], rest),
            }
        } else {
            let end = gostring::runes(rest)
                .find(|&(_, rune, _)| !(rune.is_alphanumeric() || rune == '_'))
                .map_or(rest.len(), |(offset, _, _)| offset);
            (&rest[..end], &rest[end..])
        };
        if name.is_empty() {
            out.push(b'$');
            continue;
        }
        out.extend_from_slice(group(&String::from_utf8_lossy(name)));
        rest = after;
    }
    out.extend_from_slice(rest);
}

fn is_group_name(name: &[u8]) -> bool {
    gostring::runes(name).all(|(_, rune, width)| {
        !gostring::is_invalid(rune, width) && (rune.is_alphanumeric() || rune == '_')
    })
}

/// `regexp.QuoteMeta`, byte by byte.
fn quote_meta(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &b in s {
        if b"\\.+*?()|[]{}^$".contains(&b) {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// Go's `path.Clean`: the shortest lexically equivalent slash-separated path, over bytes.
pub(crate) fn clean_path(p: &[u8]) -> Vec<u8> {
    if p.is_empty() {
        return b".".to_vec();
    }
    let rooted = p.starts_with(b"/");
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in p.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|l| *l != b"..") {
                    parts.pop();
                } else if !rooted {
                    parts.push(b"..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join(&b'/');
    match (rooted, joined.is_empty()) {
        (true, _) => [b"/".as_slice(), &joined].concat(),
        (false, true) => b".".to_vec(),
        (false, false) => joined,
    }
}

fn base(p: &[u8]) -> Vec<u8> {
    if p.is_empty() {
        return b".".to_vec();
    }
    let end = p.iter().rposition(|b| *b != b'/').map_or(0, |i| i + 1);
    let trimmed = &p[..end];
    if trimmed.is_empty() {
        return b"/".to_vec();
    }
    let start = trimmed
        .iter()
        .rposition(|b| *b == b'/')
        .map_or(0, |i| i + 1);
    trimmed[start..].to_vec()
}

fn dir(p: &[u8]) -> Vec<u8> {
    let split = p.iter().rposition(|b| *b == b'/').map_or(0, |i| i + 1);
    clean_path(&p[..split])
}

fn ext(p: &[u8]) -> &[u8] {
    for (i, &b) in p.iter().enumerate().rev() {
        match b {
            b'/' => break,
            b'.' => return &p[i..],
            _ => {}
        }
    }
    b""
}

/// `path` and, on Linux where they coincide, `path/filepath` functions.
fn register_paths(map: &mut FuncMap) {
    for name in ["base", "osBase"] {
        map.add(name, &[Str], None, |a| string(base(bytes_at(&a, 0))));
    }
    for name in ["dir", "osDir"] {
        map.add(name, &[Str], None, |a| string(dir(bytes_at(&a, 0))));
    }
    for name in ["clean", "osClean"] {
        map.add(name, &[Str], None, |a| string(clean_path(bytes_at(&a, 0))));
    }
    for name in ["ext", "osExt"] {
        map.add(name, &[Str], None, |a| string(ext(bytes_at(&a, 0))));
    }
    for name in ["isAbs", "osIsAbs"] {
        map.add(name, &[Str], None, |a| {
            Ok(Value::Bool(bytes_at(&a, 0).starts_with(b"/")))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_go() {
        assert_eq!(clean_path(b"a/../../b/./c//"), b"../b/c");
        assert_eq!(clean_path(b"/../a"), b"/a");
        assert_eq!(base(b"/a/b/"), b"b");
        assert_eq!(dir(b"/a/b"), b"/a");
        assert_eq!(dir(b"a"), b".");
        assert_eq!(ext(b"a/b.tar.gz"), b".gz");
    }

    #[test]
    fn split_n_matches_go() {
        assert_eq!(split_n(b"a,b,c", b",", 2), vec![&b"a"[..], b"b,c"]);
        assert_eq!(split_n(b"abc", b"", -1), vec![&b"a"[..], b"b", b"c"]);
        assert_eq!(
            split_n(b"a\xe2\x82", b"", -1),
            vec![&b"a"[..], b"\xe2", b"\x82"]
        );
        assert!(split_n(b"abc", b",", 0).is_empty());
    }
}
