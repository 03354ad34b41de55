//! Sprig's `urlParse` and `urlJoin`, following Go's `net/url.Parse` and `URL.String` for the
//! URLs templates meet (scheme, user info, host and port, path, query, fragment, opaque URLs).
//! Both work on bytes, as Go's do: a URL holding bytes that are not UTF-8 keeps them.

use std::collections::BTreeMap;

use crate::gostring::GoString;
use crate::registry::{FuncMap, Param, bytes_at};
use crate::value::Value;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("urlParse", &[Param::Str], None, |a| {
        parse(bytes_at(&a, 0)).map(|parts| {
            Value::Map(
                parts
                    .into_iter()
                    .map(|(k, v)| (GoString::from(k), Value::String(GoString::from(v))))
                    .collect(),
            )
        })
    });
    map.add("urlJoin", &[Param::Map], None, |a| match &a[0] {
        Value::Map(d) => url_join(d).map(|url| Value::String(GoString::from(url))),
        _ => Ok(Value::from("")),
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

fn escape(s: &[u8], mode: Mode) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &b in s {
        if should_escape(b, mode) {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// Sprig's `dictGetOrEmpty`: the string under `key`, "" when missing; another type panics.
fn dict_string(d: &BTreeMap<GoString, Value>, key: &str) -> Result<Vec<u8>, String> {
    match d.get(key.as_bytes()) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(_) => Err(format!("unable to parse {key} key, must be of type string")),
    }
}

/// `url.URL{...}.String()` over the dictionary's parts, as Sprig's `urlJoin` builds it.
fn url_join(d: &BTreeMap<GoString, Value>) -> Result<Vec<u8>, String> {
    let get = |k| dict_string(d, k);
    let (scheme, host, path) = (get("scheme")?, get("host")?, get("path")?);
    let (query, opaque, fragment) = (get("query")?, get("opaque")?, get("fragment")?);
    let userinfo = get("userinfo")?;
    let user = if userinfo.is_empty() {
        None
    } else {
        let raw = [b"proto://".as_slice(), &userinfo, b"@host"].concat();
        let mut parts =
            parse(&raw).map_err(|e| format!("unable to parse userinfo in dict: {e}"))?;
        parts.remove("userinfo").filter(|u| !u.is_empty())
    };
    let mut out = Vec::new();
    if !scheme.is_empty() {
        out.extend_from_slice(&scheme);
        out.push(b':');
    }
    if !opaque.is_empty() {
        out.extend_from_slice(&opaque);
    } else {
        write_hier_part(&mut out, &scheme, &host, user.as_deref(), &path);
    }
    if !query.is_empty() {
        out.push(b'?');
        out.extend_from_slice(&query);
    }
    if !fragment.is_empty() {
        out.push(b'#');
        out.extend_from_slice(&escape(&fragment, Mode::Fragment));
    }
    Ok(out)
}

fn write_hier_part(
    out: &mut Vec<u8>,
    scheme: &[u8],
    host: &[u8],
    user: Option<&[u8]>,
    path: &[u8],
) {
    if !scheme.is_empty() || !host.is_empty() || user.is_some() {
        if !host.is_empty() || !path.is_empty() || user.is_some() {
            out.extend_from_slice(b"//");
        }
        if let Some(u) = user {
            out.extend_from_slice(u);
            out.push(b'@');
        }
        out.extend_from_slice(&escape(host, Mode::Host));
    }
    let path = if path == b"*" {
        b"*".to_vec()
    } else {
        escape(path, Mode::Path)
    };
    if !path.is_empty() && !path.starts_with(b"/") && !host.is_empty() {
        out.push(b'/');
    }
    let first_segment = path.split(|&b| b == b'/').next().unwrap_or(&[]);
    if out.is_empty() && first_segment.contains(&b':') {
        out.extend_from_slice(b"./");
    }
    out.extend_from_slice(&path);
}

const FAILED: &str = "unable to parse url";

/// Percent-decoding, as Go's `url.unescape`: any byte may come out; `None` on a malformed
/// escape (a `%` not followed by two hex digits).
fn unescape(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            let digit = |c: u8| (c as char).to_digit(16);
            out.push((digit(hex[0])? * 16 + digit(hex[1])?) as u8);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Escaping of user names and passwords in `Userinfo.String`.
fn escape_userinfo(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &b in s {
        let kept = b.is_ascii_alphanumeric() || b"-_.~$&+,;=".contains(&b);
        if kept {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// The scheme, if `s` starts with one, and the rest.
fn split_scheme(s: &[u8]) -> Result<(Vec<u8>, &[u8]), String> {
    for (i, &c) in s.iter().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err(FAILED.to_owned()),
            b':' => return Ok((s[..i].to_ascii_lowercase(), &s[i + 1..])),
            _ => return Ok((Vec::new(), s)),
        }
    }
    Ok((Vec::new(), s))
}

/// `s` split at the first `sep`, or `None` when `sep` is absent.
fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

fn parse(raw: &[u8]) -> Result<BTreeMap<&'static str, Vec<u8>>, String> {
    if raw.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(FAILED.to_owned());
    }
    let (rest, fragment) = match split_once(raw, b'#') {
        Some((r, f)) => (r, unescape(f).ok_or(FAILED)?),
        None => (raw, Vec::new()),
    };
    let mut parts: BTreeMap<&'static str, Vec<u8>> = [
        "scheme", "host", "hostname", "path", "query", "opaque", "fragment", "userinfo",
    ]
    .into_iter()
    .map(|k| (k, Vec::new()))
    .collect();
    parts.insert("fragment", fragment);
    let (scheme, rest) = split_scheme(rest)?;
    let (rest, query) = match split_once(rest, b'?') {
        Some((r, q)) => (r, q.to_vec()),
        None => (rest, Vec::new()),
    };
    parts.insert("query", query);
    if !rest.starts_with(b"/") && !scheme.is_empty() {
        parts.insert("scheme", scheme);
        parts.insert("opaque", rest.to_vec());
        return Ok(parts);
    }
    let first_segment = rest.split(|&b| b == b'/').next().unwrap_or(&[]);
    if scheme.is_empty() && first_segment.contains(&b':') {
        return Err(FAILED.to_owned());
    }
    let mut path = rest;
    if let Some(after) = rest.strip_prefix(b"//")
        && (!scheme.is_empty() || !rest.starts_with(b"///"))
    {
        let (authority, tail) = after
            .iter()
            .position(|&b| b == b'/')
            .map_or((after, &[][..]), |i| (&after[..i], &after[i..]));
        parse_authority(authority, &mut parts)?;
        path = tail;
    }
    parts.insert("scheme", scheme);
    parts.insert("path", unescape(path).ok_or(FAILED)?);
    Ok(parts)
}

fn parse_authority(
    authority: &[u8],
    parts: &mut BTreeMap<&'static str, Vec<u8>>,
) -> Result<(), String> {
    let (userinfo, host) = match authority.iter().rposition(|&b| b == b'@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if let Some(info) = userinfo {
        let valid = info
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b));
        if !valid {
            return Err(FAILED.to_owned());
        }
        let shown = match split_once(info, b':') {
            Some((user, password)) => [
                escape_userinfo(&unescape(user).ok_or(FAILED)?),
                b":".to_vec(),
                escape_userinfo(&unescape(password).ok_or(FAILED)?),
            ]
            .concat(),
            None => escape_userinfo(&unescape(info).ok_or(FAILED)?),
        };
        parts.insert("userinfo", shown);
    }
    let host_valid = host.iter().all(|&b| {
        b.is_ascii_alphanumeric() || b >= 0x80 || b"-._~!$&'()*+,;=:[]<>\"%".contains(&b)
    });
    if !host_valid {
        return Err(FAILED.to_owned());
    }
    let hostname = if let Some(bracketed) = host.strip_prefix(b"[") {
        let end = bracketed.iter().position(|&b| b == b']').ok_or(FAILED)?;
        check_port(&bracketed[end + 1..])?;
        &bracketed[..end]
    } else {
        match host.iter().rposition(|&b| b == b':') {
            Some(i) => {
                check_port(&host[i..])?;
                &host[..i]
            }
            None => host,
        }
    };
    parts.insert("host", unescape(host).ok_or(FAILED)?);
    parts.insert("hostname", unescape(hostname).ok_or(FAILED)?);
    Ok(())
}

/// `:digits` or nothing.
fn check_port(port: &[u8]) -> Result<(), String> {
    match port.strip_prefix(b":") {
        None if port.is_empty() => Ok(()),
        Some(digits) if digits.iter().all(u8::is_ascii_digit) => Ok(()),
        _ => Err(FAILED.to_owned()),
    }
}
