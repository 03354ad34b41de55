//! Sprig's string, regular-expression and path functions.

use std::collections::BTreeMap;

use regex::Regex;

use super::strval;
use crate::funcs::{FuncMap, FuncResult, Param, int_at, string_at};
use crate::gofmt;
use crate::limits;
use crate::value::Value;

use Param::{Any, Int, Str};

pub(crate) fn register(map: &mut FuncMap) {
    register_case_and_trim(map);
    register_search_and_build(map);
    register_split_and_join(map);
    register_regex(map);
    register_paths(map);
}

fn string(s: impl Into<String>) -> FuncResult {
    Ok(Value::String(s.into()))
}

/// Go's simple (one-to-one) case mapping, as `strings.ToUpper`/`ToLower` apply it.
fn map_case(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            let mut mapped = if upper {
                c.to_uppercase().collect::<Vec<_>>()
            } else {
                c.to_lowercase().collect::<Vec<_>>()
            };
            if mapped.len() == 1 {
                mapped.remove(0)
            } else {
                c
            }
        })
        .collect()
}

fn is_go_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    ) || (c as u32 > 0xff && c.is_whitespace())
}

/// goutils' `DeleteWhiteSpace`, which walks bytes and turns each kept byte into the rune of
/// the same number (so non-ASCII text comes out as Latin-1 mojibake, exactly as in Go).
fn delete_white_space(s: &str) -> String {
    s.bytes()
        .filter(|b| !matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0))
        .map(char::from)
        .collect()
}

fn register_case_and_trim(map: &mut FuncMap) {
    map.add("upper", &[Str], None, |a| {
        string(map_case(string_at(&a, 0), true))
    });
    map.add("lower", &[Str], None, |a| {
        string(map_case(string_at(&a, 0), false))
    });
    map.add("trim", &[Str], None, |a| {
        string(string_at(&a, 0).trim_matches(is_go_space))
    });
    map.add("trimAll", &[Str, Str], None, |a| {
        let cutset: Vec<char> = string_at(&a, 0).chars().collect();
        string(string_at(&a, 1).trim_matches(cutset.as_slice()))
    });
    map.add("trimall", &[Str, Str], None, |a| {
        let cutset: Vec<char> = string_at(&a, 0).chars().collect();
        string(string_at(&a, 1).trim_matches(cutset.as_slice()))
    });
    map.add("trimSuffix", &[Str, Str], None, |a| {
        let s = string_at(&a, 1);
        string(s.strip_suffix(string_at(&a, 0)).unwrap_or(s))
    });
    map.add("trimPrefix", &[Str, Str], None, |a| {
        let s = string_at(&a, 1);
        string(s.strip_prefix(string_at(&a, 0)).unwrap_or(s))
    });
    map.add("nospace", &[Str], None, |a| {
        string(delete_white_space(string_at(&a, 0)))
    });
    map.add("trunc", &[Int, Str], None, |a| {
        let (c, s) = (int_at(&a, 0), string_at(&a, 1));
        let len = s.len() as i64;
        let bytes = s.as_bytes();
        let cut = if c < 0 && len + c > 0 {
            &bytes[(len + c) as usize..]
        } else if c >= 0 && len > c {
            &bytes[..c as usize]
        } else {
            bytes
        };
        // Go cuts bytes; a cut inside a character is rendered lossily (keyward renders text).
        string(String::from_utf8_lossy(cut))
    });
    map.add("substr", &[Int, Int, Str], None, |a| {
        let (start, end, s) = (int_at(&a, 0), int_at(&a, 1), string_at(&a, 2));
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
            .and_then(|(from, to)| s.as_bytes().get(from..to))
            .map(String::from_utf8_lossy)
            .map(string)
            .unwrap_or_else(|| Err("slice bounds out of range".to_owned()))
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
                map_case(&c.to_string(), true)
            } else {
                c.to_string()
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

fn abbreviated(s: &str, offset: i64, max_width: i64) -> FuncResult {
    let bytes = abbreviate_full(s.as_bytes(), offset, max_width).unwrap_or_default();
    string(String::from_utf8_lossy(&bytes))
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
fn initials(s: &str) -> String {
    let mut last_was_gap = true;
    let mut out = String::new();
    for b in s.bytes() {
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

/// xstrings' `ToPascalCase` (Sprig's `camelcase`): connectors removed, the rune after each
/// connector upper-cased, the first rune upper-cased.
fn pascal_case(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    let mut first_upper = false;
    let mut r0 = None;
    for c in chars.by_ref() {
        if !is_connector(c) {
            first_upper = c.is_uppercase();
            r0 = Some(single_case(c, true));
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
            first_upper = r0.is_uppercase();
            r0 = single_case(r0, true);
        } else {
            if first_upper {
                if r0.is_uppercase() {
                    r0 = single_case(r0, false);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

/// goutils' `WrapCustom`, over bytes as in Go (a cut inside a character renders lossily).
fn wrap_custom(
    s: &str,
    wrap_length: i64,
    newline: &str,
    wrap_long_words: bool,
) -> Result<String, String> {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return Ok(String::new());
    }
    let newline = if newline.is_empty() {
        b"\n".as_slice()
    } else {
        newline.as_bytes()
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
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn single_case(c: char, upper: bool) -> char {
    map_case(&c.to_string(), upper).chars().next().unwrap_or(c)
}

fn register_search_and_build(map: &mut FuncMap) {
    map.add("title", &[Str], None, |a| string(title(string_at(&a, 0))));
    map.add("camelcase", &[Str], None, |a| {
        string(pascal_case(string_at(&a, 0)))
    });
    map.add("wrap", &[Int, Str], None, |a| {
        string(wrap_custom(string_at(&a, 1), int_at(&a, 0), "", false)?)
    });
    map.add("wrapWith", &[Int, Str, Str], None, |a| {
        string(wrap_custom(
            string_at(&a, 2),
            int_at(&a, 0),
            string_at(&a, 1),
            true,
        )?)
    });
    map.add("snakecase", &[Str], None, |a| {
        string(super::case::to_lower_case(string_at(&a, 0), '_'))
    });
    map.add("kebabcase", &[Str], None, |a| {
        string(super::case::to_lower_case(string_at(&a, 0), '-'))
    });
    map.add("untitle", &[Str], None, |a| {
        string(untitle(string_at(&a, 0)))
    });
    map.add("swapcase", &[Str], None, |a| {
        string(swapcase(string_at(&a, 0)))
    });
    map.add("initials", &[Str], None, |a| {
        string(initials(string_at(&a, 0)))
    });
    map.add("abbrev", &[Int, Str], None, |a| {
        let (width, s) = (int_at(&a, 0), string_at(&a, 1));
        if width < 4 {
            return string(s);
        }
        abbreviated(s, 0, width)
    });
    map.add("abbrevboth", &[Int, Int, Str], None, |a| {
        let (left, right, s) = (int_at(&a, 0), int_at(&a, 1), string_at(&a, 2));
        if right < 4 || left > 0 && right < 7 {
            return string(s);
        }
        abbreviated(s, left, right)
    });
    map.add("contains", &[Str, Str], None, |a| {
        Ok(Value::Bool(string_at(&a, 1).contains(string_at(&a, 0))))
    });
    map.add("hasPrefix", &[Str, Str], None, |a| {
        Ok(Value::Bool(string_at(&a, 1).starts_with(string_at(&a, 0))))
    });
    map.add("hasSuffix", &[Str, Str], None, |a| {
        Ok(Value::Bool(string_at(&a, 1).ends_with(string_at(&a, 0))))
    });
    map.add("quote", &[], Some(Any), |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| **v != Value::Nil)
            .map(|v| gofmt::quote(&strval(v)))
            .collect();
        string(parts.join(" "))
    });
    map.add("squote", &[], Some(Any), |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| **v != Value::Nil)
            .map(|v| format!("'{}'", gofmt::display(v)))
            .collect();
        string(parts.join(" "))
    });
    map.add("cat", &[], Some(Any), |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| **v != Value::Nil)
            .map(gofmt::display)
            .collect();
        string(parts.join(" "))
    });
    map.add("indent", &[Int, Str], None, |a| {
        string(indent(int_at(&a, 0), string_at(&a, 1))?)
    });
    map.add("nindent", &[Int, Str], None, |a| {
        string(format!("\n{}", indent(int_at(&a, 0), string_at(&a, 1))?))
    });
    map.add("replace", &[Str, Str, Str], None, |a| {
        let (old, new, s) = (string_at(&a, 0), string_at(&a, 1), string_at(&a, 2));
        let count = if old.is_empty() {
            s.chars().count() + 1
        } else {
            s.matches(old).count()
        };
        limits::reserve_product(count, new.len(), s.len())?;
        string(s.replace(old, new))
    });
    map.add("plural", &[Str, Str, Int], None, |a| {
        string(if int_at(&a, 2) == 1 {
            string_at(&a, 0)
        } else {
            string_at(&a, 1)
        })
    });
    map.add("repeat", &[Int, Str], None, |a| {
        let count =
            usize::try_from(int_at(&a, 0)).map_err(|_| "negative repeat count".to_owned())?;
        let text = string_at(&a, 1);
        limits::reserve_product(count, text.len(), 0)?;
        string(text.repeat(count))
    });
    map.add("toString", &[Any], None, |a| string(strval(&a[0])));
}

/// Sprig's `indent`: `spaces` spaces before every line, within the size cap.
fn indent(spaces: i64, v: &str) -> Result<String, String> {
    let spaces = usize::try_from(spaces).unwrap_or(0);
    let lines = v.bytes().filter(|b| *b == b'\n').count() + 1;
    limits::reserve_product(lines, spaces, v.len() + 1)?;
    let pad = " ".repeat(spaces);
    Ok(format!("{pad}{}", v.replace('\n', &format!("\n{pad}"))))
}

/// Sprig's `strslice`: a list's non-nil elements as strings; nil as an empty list; anything
/// else as a one-element list.
pub(crate) fn strslice(v: &Value) -> Vec<String> {
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

fn string_list(items: Vec<String>) -> Value {
    Value::List(items.into_iter().map(Value::String).collect())
}

/// Sprig's `split` and `splitn` results: a `map[string]string` of `_0`, `_1`, ….
fn indexed_map(parts: Vec<&str>) -> Value {
    let map: BTreeMap<String, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::from(p)))
        .collect();
    Value::StringMap(map)
}

/// `strings.SplitN` (n < 0: all parts; n == 0: none).
fn split_n<'a>(s: &'a str, sep: &str, n: i64) -> Vec<&'a str> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let mut parts: Vec<&str> = s
            .char_indices()
            .map(|(i, c)| &s[i..i + c.len_utf8()])
            .collect();
        if n > 0 && parts.len() > n as usize {
            let keep = n as usize - 1;
            let tail_start: usize = parts[..keep].iter().map(|p| p.len()).sum();
            parts.truncate(keep);
            parts.push(&s[tail_start..]);
        }
        return parts;
    }
    if n < 0 {
        s.split(sep).collect()
    } else {
        s.splitn(n as usize, sep).collect()
    }
}

fn register_split_and_join(map: &mut FuncMap) {
    map.add("split", &[Str, Str], None, |a| {
        Ok(indexed_map(split_n(string_at(&a, 1), string_at(&a, 0), -1)))
    });
    map.add("splitn", &[Str, Int, Str], None, |a| {
        Ok(indexed_map(split_n(
            string_at(&a, 2),
            string_at(&a, 0),
            int_at(&a, 1),
        )))
    });
    map.add("splitList", &[Str, Str], None, |a| {
        let parts = split_n(string_at(&a, 1), string_at(&a, 0), -1);
        Ok(string_list(parts.into_iter().map(str::to_owned).collect()))
    });
    map.add("join", &[Str, Any], None, |a| {
        let (separator, parts) = (string_at(&a, 0), strslice(&a[1]));
        let text: usize = parts.iter().map(String::len).sum();
        limits::reserve_product(parts.len().saturating_sub(1), separator.len(), text)?;
        string(parts.join(separator))
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

fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|_| "the regular expression does not compile".to_owned())
}

fn find_all(re: &Regex, s: &str, n: i64) -> Vec<String> {
    let limit = if n < 0 { usize::MAX } else { n as usize };
    re.find_iter(s)
        .take(limit)
        .map(|m| m.as_str().to_owned())
        .collect()
}

fn regex_split(re: &Regex, s: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    let parts: Vec<&str> = if n < 0 {
        re.split(s).collect()
    } else {
        re.splitn(s, n as usize).collect()
    };
    parts.into_iter().map(str::to_owned).collect()
}

fn register_regex(map: &mut FuncMap) {
    map.add("regexMatch", &[Str, Str], None, |a| {
        Ok(Value::Bool(
            compile(string_at(&a, 0)).is_ok_and(|re| re.is_match(string_at(&a, 1))),
        ))
    });
    map.add("mustRegexMatch", &[Str, Str], None, |a| {
        compile(string_at(&a, 0)).map(|re| Value::Bool(re.is_match(string_at(&a, 1))))
    });
    for name in ["regexFindAll", "mustRegexFindAll"] {
        map.add(name, &[Str, Str, Int], None, |a| {
            let re = compile(string_at(&a, 0))?;
            Ok(string_list(find_all(&re, string_at(&a, 1), int_at(&a, 2))))
        });
    }
    for name in ["regexFind", "mustRegexFind"] {
        map.add(name, &[Str, Str], None, |a| {
            let re = compile(string_at(&a, 0))?;
            string(re.find(string_at(&a, 1)).map_or("", |m| m.as_str()))
        });
    }
    for name in ["regexReplaceAll", "mustRegexReplaceAll"] {
        map.add(name, &[Str, Str, Str], None, |a| {
            let re = compile(string_at(&a, 0))?;
            capped_replace_all(&re, string_at(&a, 1), string_at(&a, 2), true)
        });
    }
    for name in ["regexReplaceAllLiteral", "mustRegexReplaceAllLiteral"] {
        map.add(name, &[Str, Str, Str], None, |a| {
            let re = compile(string_at(&a, 0))?;
            capped_replace_all(&re, string_at(&a, 1), string_at(&a, 2), false)
        });
    }
    for name in ["regexSplit", "mustRegexSplit"] {
        map.add(name, &[Str, Str, Int], None, |a| {
            let re = compile(string_at(&a, 0))?;
            Ok(string_list(regex_split(
                &re,
                string_at(&a, 1),
                int_at(&a, 2),
            )))
        });
    }
    map.add("regexQuoteMeta", &[Str], None, |a| {
        string(quote_meta(string_at(&a, 0)))
    });
}

/// A replacement that stops expanding once the result passes the size cap (a short pattern
/// matching everywhere can multiply a long replacement a million times).
struct CappedReplacer<'r> {
    replacement: &'r str,
    expand: bool,
    max: usize,
    over: bool,
}

impl regex::Replacer for CappedReplacer<'_> {
    fn replace_append(&mut self, caps: &regex::Captures<'_>, dst: &mut String) {
        if self.over {
            return;
        }
        if self.expand {
            caps.expand(self.replacement, dst);
        } else {
            dst.push_str(self.replacement);
        }
        if dst.len() > self.max {
            self.over = true;
            dst.clear();
        }
    }
}

/// `ReplaceAllString` (with `$1` expansion) or `ReplaceAllLiteralString`, within the cap.
fn capped_replace_all(re: &Regex, s: &str, replacement: &str, expand: bool) -> FuncResult {
    let mut replacer = CappedReplacer {
        replacement,
        expand,
        max: limits::max_bytes(),
        over: false,
    };
    let out = re
        .replace_all(s, regex::Replacer::by_ref(&mut replacer))
        .into_owned();
    if replacer.over {
        limits::reserve(usize::MAX)?;
    }
    string(out)
}

/// `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Go's `path.Clean`: the shortest lexically equivalent slash-separated path.
pub(crate) fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_owned();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

fn dir(p: &str) -> String {
    let split = p.rfind('/').map_or(0, |i| i + 1);
    clean_path(&p[..split])
}

fn ext(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        match c {
            '/' => break,
            '.' => return p[i..].to_owned(),
            _ => {}
        }
    }
    String::new()
}

/// `path` and, on Linux where they coincide, `path/filepath` functions.
fn register_paths(map: &mut FuncMap) {
    for name in ["base", "osBase"] {
        map.add(name, &[Str], None, |a| string(base(string_at(&a, 0))));
    }
    for name in ["dir", "osDir"] {
        map.add(name, &[Str], None, |a| string(dir(string_at(&a, 0))));
    }
    for name in ["clean", "osClean"] {
        map.add(name, &[Str], None, |a| string(clean_path(string_at(&a, 0))));
    }
    for name in ["ext", "osExt"] {
        map.add(name, &[Str], None, |a| string(ext(string_at(&a, 0))));
    }
    map.add("osIsAbs", &[Str], None, |a| {
        Ok(Value::Bool(string_at(&a, 0).starts_with('/')))
    });
    map.add("isAbs", &[Str], None, |a| {
        Ok(Value::Bool(string_at(&a, 0).starts_with('/')))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_go() {
        assert_eq!(clean_path("a/../../b/./c//"), "../b/c");
        assert_eq!(clean_path("/../a"), "/a");
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(dir("/a/b"), "/a");
        assert_eq!(dir("a"), ".");
        assert_eq!(ext("a/b.tar.gz"), ".gz");
    }

    #[test]
    fn split_n_matches_go() {
        assert_eq!(split_n("a,b,c", ",", 2), vec!["a", "b,c"]);
        assert_eq!(split_n("abc", "", -1), vec!["a", "b", "c"]);
        assert!(split_n("abc", ",", 0).is_empty());
    }
}
