//! Sprig's `urlParse` and `urlJoin`, following Go's `net/url.Parse` and `URL.String` for the
//! URLs templates meet (scheme, user info, host and port, path, query, fragment, opaque URLs).

use std::collections::BTreeMap;

use crate::registry::{FuncMap, Param, text_at};
use crate::value::Value;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("urlParse", &[Param::Str], None, |a| {
        parse(&text_at(&a, 0)).map(|parts| {
            Value::Map(
                parts
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), Value::from(v)))
                    .collect(),
            )
        })
    });
    map.add("urlJoin", &[Param::Map], None, |a| match &a[0] {
        Value::Map(d) => url_join(d).map(Value::from),
        _ => Ok(Value::from(String::new())),
    });
}

/// The `net/url` escaping contexts `urlJoin` needs.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Host,
    Path,
    Fragment,
}

/// Go's `shouldEscape` for the three modes.
fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if mode == Mode::Host && b"!$&'()*+,;=:[]<>\"".contains(&c) {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::Path => c == b'?',
            Mode::Fragment => false,
            Mode::Host => true,
        },
        b'!' | b'(' | b')' | b'*' => mode != Mode::Fragment,
        _ => true,
    }
}

fn escape(s: &str, mode: Mode) -> String {
    s.bytes()
        .map(|b| {
            if should_escape(b, mode) {
                format!("%{b:02X}")
            } else {
                (b as char).to_string()
            }
        })
        .collect()
}

/// Sprig's `dictGetOrEmpty`: the string under `key`, "" when missing; another type panics.
fn dict_string(d: &BTreeMap<String, Value>, key: &str) -> Result<String, String> {
    match d.get(key) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.to_text().into_owned()),
        Some(_) => Err(format!("unable to parse {key} key, must be of type string")),
    }
}

/// `url.URL{...}.String()` over the dictionary's parts, as Sprig's `urlJoin` builds it.
fn url_join(d: &BTreeMap<String, Value>) -> Result<String, String> {
    let get = |k| dict_string(d, k);
    let (scheme, host, path) = (get("scheme")?, get("host")?, get("path")?);
    let (query, opaque, fragment) = (get("query")?, get("opaque")?, get("fragment")?);
    let userinfo = get("userinfo")?;
    let user = if userinfo.is_empty() {
        None
    } else {
        let parts = parse(&format!("proto://{userinfo}@host"))
            .map_err(|e| format!("unable to parse userinfo in dict: {e}"))?;
        parts.get("userinfo").filter(|u| !u.is_empty()).cloned()
    };
    let mut out = String::new();
    if !scheme.is_empty() {
        out.push_str(&scheme);
        out.push(':');
    }
    if !opaque.is_empty() {
        out.push_str(&opaque);
    } else {
        write_hier_part(&mut out, &scheme, &host, user.as_deref(), &path);
    }
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(&escape(&fragment, Mode::Fragment));
    }
    Ok(out)
}

fn write_hier_part(out: &mut String, scheme: &str, host: &str, user: Option<&str>, path: &str) {
    if !scheme.is_empty() || !host.is_empty() || user.is_some() {
        if !host.is_empty() || !path.is_empty() || user.is_some() {
            out.push_str("//");
        }
        if let Some(u) = user {
            out.push_str(u);
            out.push('@');
        }
        out.push_str(&escape(host, Mode::Host));
    }
    let path = if path == "*" {
        "*".to_owned()
    } else {
        escape(path, Mode::Path)
    };
    if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
        out.push('/');
    }
    if out.is_empty() && path.split('/').next().unwrap_or("").contains(':') {
        out.push_str("./");
    }
    out.push_str(&path);
}

const FAILED: &str = "unable to parse url";

/// Percent-decoding; `None` on a malformed escape.
fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Escaping of user names and passwords in `Userinfo.String`.
fn escape_userinfo(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'$'
            | b'&'
            | b'+'
            | b','
            | b';'
            | b'=' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The scheme, if `s` starts with one, and the rest.
fn split_scheme(s: &str) -> Result<(String, &str), String> {
    for (i, c) in s.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(FAILED.to_owned()),
            ':' => return Ok((s[..i].to_ascii_lowercase(), &s[i + 1..])),
            _ => return Ok((String::new(), s)),
        }
    }
    Ok((String::new(), s))
}

fn parse(raw: &str) -> Result<BTreeMap<&'static str, String>, String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(FAILED.to_owned());
    }
    let (rest, fragment) = match raw.split_once('#') {
        Some((r, f)) => (r, unescape(f).ok_or(FAILED)?),
        None => (raw, String::new()),
    };
    let mut parts: BTreeMap<&'static str, String> = [
        "scheme", "host", "hostname", "path", "query", "opaque", "fragment", "userinfo",
    ]
    .into_iter()
    .map(|k| (k, String::new()))
    .collect();
    parts.insert("fragment", fragment);
    let (scheme, rest) = split_scheme(rest)?;
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q.to_owned()),
        None => (rest, String::new()),
    };
    parts.insert("query", query);
    if !rest.starts_with('/') && !scheme.is_empty() {
        parts.insert("scheme", scheme);
        parts.insert("opaque", rest.to_owned());
        return Ok(parts);
    }
    let first_segment = rest.split('/').next().unwrap_or("");
    if scheme.is_empty() && first_segment.contains(':') {
        return Err(FAILED.to_owned());
    }
    let mut path = rest;
    if let Some(after) = rest.strip_prefix("//")
        && (!scheme.is_empty() || !rest.starts_with("///"))
    {
        let (authority, tail) = after
            .find('/')
            .map_or((after, ""), |i| (&after[..i], &after[i..]));
        parse_authority(authority, &mut parts)?;
        path = tail;
    }
    parts.insert("scheme", scheme);
    parts.insert("path", unescape(path).ok_or(FAILED)?);
    Ok(parts)
}

fn parse_authority(
    authority: &str,
    parts: &mut BTreeMap<&'static str, String>,
) -> Result<(), String> {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if let Some(info) = userinfo {
        let valid = info
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b));
        if !valid {
            return Err(FAILED.to_owned());
        }
        let shown = match info.split_once(':') {
            Some((user, password)) => format!(
                "{}:{}",
                escape_userinfo(&unescape(user).ok_or(FAILED)?),
                escape_userinfo(&unescape(password).ok_or(FAILED)?)
            ),
            None => escape_userinfo(&unescape(info).ok_or(FAILED)?),
        };
        parts.insert("userinfo", shown);
    }
    let host_valid = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b >= 0x80 || b"-._~!$&'()*+,;=:[]<>\"%".contains(&b));
    if !host_valid {
        return Err(FAILED.to_owned());
    }
    let hostname = if let Some(bracketed) = host.strip_prefix('[') {
        let end = bracketed.find(']').ok_or(FAILED)?;
        check_port(&bracketed[end + 1..])?;
        bracketed[..end].to_owned()
    } else {
        match host.rfind(':') {
            Some(i) => {
                check_port(&host[i..])?;
                host[..i].to_owned()
            }
            None => host.to_owned(),
        }
    };
    parts.insert("host", unescape(host).ok_or(FAILED)?);
    parts.insert("hostname", unescape(&hostname).ok_or(FAILED)?);
    Ok(())
}

/// `:digits` or nothing.
fn check_port(port: &str) -> Result<(), String> {
    match port.strip_prefix(':') {
        None if port.is_empty() => Ok(()),
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(FAILED.to_owned()),
    }
}
