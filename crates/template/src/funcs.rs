//! Go's template builtins (len, index, eq, lt, print, html, js, urlquery, …) and the shared
//! function map they and the Sprig modules fill (the calling convention is in `registry`).

use std::sync::OnceLock;

use zeroize::Zeroizing;

use crate::gofmt;
use crate::gostring;
use crate::registry::{FuncMap, FuncResult, Param, bytes_at, string};
use crate::sprig;
use crate::value::Value;

impl FuncMap {
    /// The shared map: Go's builtins, then Sprig as ESO exposes it.
    pub(crate) fn global() -> &'static FuncMap {
        static MAP: OnceLock<FuncMap> = OnceLock::new();
        MAP.get_or_init(|| {
            let mut map = FuncMap::new();
            register_builtins(&mut map);
            sprig::register(&mut map);
            map
        })
    }
}

use Param::{Any, Reflect, Str};

fn register_builtins(map: &mut FuncMap) {
    map.add("not", &[Reflect], None, |a| {
        Ok(Value::Bool(!a[0].is_true()))
    });
    map.add("len", &[Reflect], None, builtin_len);
    map.add("index", &[Reflect], Some(Reflect), builtin_index);
    map.add("print", &[], Some(Any), |a| string(gofmt::sprint(&a)));
    map.add("println", &[], Some(Any), |a| string(gofmt::sprintln(&a)));
    map.add("printf", &[Str], Some(Any), |a| {
        gofmt::sprintf(bytes_at(&a, 0), &a[1..]).map(Value::from)
    });
    map.add("html", &[], Some(Any), |a| {
        string(html_escape(&Zeroizing::new(escaper_input(a))))
    });
    map.add("js", &[], Some(Any), |a| {
        string(js_escape(&Zeroizing::new(escaper_input(a))))
    });
    map.add("urlquery", &[], Some(Any), |a| {
        string(query_escape(&Zeroizing::new(escaper_input(a))))
    });
    map.add("call", &[Reflect], Some(Reflect), |a| match a[0] {
        Value::Nil => Err("call of nil".to_owned()),
        ref other => Err(format!("non-function of type {}", other.go_type())),
    });
    map.add("eq", &[Reflect], Some(Reflect), builtin_eq);
    map.add("ne", &[Reflect, Reflect], None, |a| {
        builtin_eq(a).map(|v| Value::Bool(!v.is_true()))
    });
    map.add("lt", &[Reflect, Reflect], None, |a| {
        less(&a[0], &a[1]).map(Value::Bool)
    });
    map.add("le", &[Reflect, Reflect], None, |a| {
        less_or_equal(&a[0], &a[1]).map(Value::Bool)
    });
    map.add("gt", &[Reflect, Reflect], None, |a| {
        less_or_equal(&a[0], &a[1]).map(|b| Value::Bool(!b))
    });
    map.add("ge", &[Reflect, Reflect], None, |a| {
        less(&a[0], &a[1]).map(|b| Value::Bool(!b))
    });
}

fn builtin_len(args: Vec<Value>) -> FuncResult {
    match &args[0] {
        Value::String(s) => Ok(Value::Int(s.len() as i64)),
        Value::List(l) => Ok(Value::Int(l.len() as i64)),
        Value::Map(m) | Value::StringMap(m) => Ok(Value::Int(m.len() as i64)),
        Value::Nil => Err("len of nil pointer".to_owned()),
        other => Err(format!("len of type {}", other.go_type())),
    }
}

fn list_index(index: &Value, len: usize) -> Result<usize, String> {
    let i = match index {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Typed(t) => t.bits,
        Value::Nil => return Err("cannot index slice/array with nil".to_owned()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.go_type()
            ));
        }
    };
    usize::try_from(i)
        .ok()
        .filter(|i| *i < len)
        .ok_or_else(|| "index out of range".to_owned())
}

fn builtin_index(args: Vec<Value>) -> FuncResult {
    let mut args = args.into_iter();
    let mut item = args.next().unwrap_or(Value::Nil);
    if item == Value::Nil {
        return Err("index of untyped nil".to_owned());
    }
    for index in args {
        item = match item {
            Value::Nil => return Err("index of untyped nil".to_owned()),
            Value::List(mut l) => {
                let i = list_index(&index, l.len())?;
                l.swap_remove(i)
            }
            Value::String(s) => {
                let i = list_index(&index, s.len())?;
                Value::Int(i64::from(s.as_bytes()[i]))
            }
            Value::Map(mut m) => match index {
                Value::String(key) => m.remove(&key).unwrap_or(Value::Nil),
                Value::Nil => return Err("value is nil; should be of type string".to_owned()),
                other => {
                    return Err(format!(
                        "value has type {}; should be string",
                        other.go_type()
                    ));
                }
            },
            // An absent key of a `map[string]string` is the zero string.
            Value::StringMap(mut m) => match index {
                Value::String(key) => m.remove(&key).unwrap_or_else(|| Value::from("")),
                Value::Nil => return Err("value is nil; should be of type string".to_owned()),
                other => {
                    return Err(format!(
                        "value has type {}; should be string",
                        other.go_type()
                    ));
                }
            },
            other => return Err(format!("can't index item of type {}", other.go_type())),
        };
    }
    Ok(item)
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum BasicKind {
    Bool,
    Int,
    Uint,
    Float,
    String,
    Invalid,
}

fn basic_kind(v: &Value) -> BasicKind {
    match v {
        Value::Bool(_) => BasicKind::Bool,
        Value::Int(_) | Value::Int64(_) => BasicKind::Int,
        Value::Typed(t) if t.is_unsigned() => BasicKind::Uint,
        Value::Typed(_) => BasicKind::Int,
        Value::Float(_) => BasicKind::Float,
        Value::String(_) => BasicKind::String,
        _ => BasicKind::Invalid,
    }
}

fn builtin_eq(args: Vec<Value>) -> FuncResult {
    let Some((first, rest)) = args.split_first() else {
        return Err("missing argument for comparison".to_owned());
    };
    if rest.is_empty() {
        return Err("missing argument for comparison".to_owned());
    }
    for other in rest {
        if equal(first, other)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn incompatible(a: &Value, b: &Value) -> String {
    format!(
        "incompatible types for comparison: {} and {}",
        a.go_type(),
        b.go_type()
    )
}

/// A signed and an unsigned integer, or two unsigned ones: Go compares them by value.
fn mixed_integers(a: &Value, b: &Value) -> Option<(i128, i128)> {
    let wide = |v: &Value| match v {
        Value::Typed(t) if t.is_unsigned() => Some(i128::from(t.unsigned())),
        other => other.as_integer().map(i128::from),
    };
    let unsigned = |v: &Value| basic_kind(v) == BasicKind::Uint;
    if !unsigned(a) && !unsigned(b) {
        return None;
    }
    Some((wide(a)?, wide(b)?))
}

fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    if let Some((x, y)) = mixed_integers(a, b) {
        return Ok(x == y);
    }
    let (ka, kb) = (basic_kind(a), basic_kind(b));
    if ka != kb {
        if *a != Value::Nil && *b != Value::Nil {
            return Err(incompatible(a, b));
        }
        return Ok(false);
    }
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        _ if ka == BasicKind::Int => a.as_integer() == b.as_integer(),
        (Value::Nil, _) | (_, Value::Nil) => a == b,
        // Go compares time.Time structs field by field and *semver.Version by pointer.
        (Value::Time(x), Value::Time(y)) => x == y,
        (Value::Semver(x), Value::Semver(y)) if x.by_value && y.by_value => x == y,
        (Value::Semver(x), Value::Semver(y)) if !x.by_value && !y.by_value => {
            std::sync::Arc::ptr_eq(x, y)
        }
        // Go compares comparable structs (Sprig's certificate: two strings) field by field.
        (Value::Struct(x), Value::Struct(y)) if x.type_name == y.type_name => x == y,
        (Value::List(_), Value::List(_))
        | (Value::Map(_), Value::Map(_))
        | (Value::StringMap(_), Value::StringMap(_)) => {
            return Err(format!("non-comparable type {}", a.go_type()));
        }
        _ => {
            return Err(format!(
                "non-comparable types {} and {}",
                a.go_type(),
                b.go_type()
            ));
        }
    })
}

fn less(a: &Value, b: &Value) -> Result<bool, String> {
    if let Some((x, y)) = mixed_integers(a, b) {
        return Ok(x < y);
    }
    let (ka, kb) = (basic_kind(a), basic_kind(b));
    if ka == BasicKind::Invalid || kb == BasicKind::Invalid {
        return Err("invalid type for comparison".to_owned());
    }
    if ka != kb {
        return Err(incompatible(a, b));
    }
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::String(x), Value::String(y)) => Ok(x < y),
        _ if ka == BasicKind::Int => Ok(a.as_integer() < b.as_integer()),
        _ => Err("invalid type for comparison".to_owned()),
    }
}

fn less_or_equal(a: &Value, b: &Value) -> Result<bool, String> {
    if less(a, b)? {
        return Ok(true);
    }
    equal(a, b)
}

/// Go's `evalArgs` for the escapers: one string as is, else `fmt.Sprint` with nils shown as
/// `<no value>`.
fn escaper_input(args: Vec<Value>) -> Vec<u8> {
    if let [Value::String(s)] = args.as_slice() {
        return s.as_bytes().to_vec();
    }
    let shown: Vec<Value> = args
        .into_iter()
        .map(|a| match a {
            Value::Nil => Value::from("<no value>"),
            other => other,
        })
        .collect();
    gofmt::sprint(&shown).into_bytes()
}

/// `template.HTMLEscape`, which walks bytes: other bytes, invalid UTF-8 included, pass.
pub(crate) fn html_escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"&#34;"),
            b'\'' => out.extend_from_slice(b"&#39;"),
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            0 => out.extend_from_slice("\u{FFFD}".as_bytes()),
            b => out.push(b),
        }
    }
    out
}

/// `template.JSEscape`: runes it need not escape are copied as the bytes they were, so an
/// invalid byte (read as a printable U+FFFD) passes unchanged.
pub(crate) fn js_escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for (i, c, width) in gostring::runes(s) {
        match c {
            '\\' => out.extend_from_slice(b"\\\\"),
            '\'' => out.extend_from_slice(b"\\'"),
            '"' => out.extend_from_slice(b"\\\""),
            '<' => out.extend_from_slice(b"\\u003C"),
            '>' => out.extend_from_slice(b"\\u003E"),
            '&' => out.extend_from_slice(b"\\u0026"),
            '=' => out.extend_from_slice(b"\\u003D"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04X}", c as u32).as_bytes())
            }
            c if (c as u32) < 0x80 || gofmt::is_go_printable(c) => {
                out.extend_from_slice(&s[i..i + width])
            }
            c => out.extend_from_slice(format!("\\u{:04X}", c as u32).as_bytes()),
        }
    }
    out
}

/// `url.QueryEscape`.
pub(crate) fn query_escape(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
