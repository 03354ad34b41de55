//! Sprig v3 (Masterminds), as External Secrets Operator hands it to templates: the text
//! function map minus `env`, `expandenv` and `getHostByName`, plus ESO's own additions
//! (`filterPEM`, `toYaml`/`fromYaml`, and the certificate and key functions in `certs`,
//! `pkcs12`, `jwk` and `decrypt`). This module registers the
//! families and holds Sprig's shared conversions (`strval`, `toInt64`, `empty`) plus the
//! defaults, type and number functions.

mod case;
mod certgen;
mod certs;
mod collections;
mod crypto;
mod date;
mod decimal;
mod decrypt;
mod duration;
mod encoding;
mod fromyaml;
mod jwk;
mod keys;
mod pem;
mod pkcs12;
mod random;
pub(crate) mod semver;
mod strings;
mod url;
mod yaml;

use crate::gofmt;
use crate::gostring::GoString;
use crate::limits;
use crate::registry::{FuncMap, FuncResult, Param, bytes_at, int_at, string, text_at};
use crate::value::{IntType, Value};

use Param::{Any, Bool, Int, Str};

/// Adds every implemented Sprig function to `map`.
pub(crate) fn register(map: &mut FuncMap) {
    register_defaults(map);
    register_numbers(map);
    register_types(map);
    strings::register(map);
    collections::register(map);
    encoding::register(map);
    decimal::register(map);
    url::register(map);
    random::register(map);
    duration::register(map);
    date::register(map);
    semver::register(map);
    pem::register(map);
    certs::register(map);
    pkcs12::register(map);
    jwk::register(map);
    decrypt::register(map);
    certgen::register(map);
    crypto::register(map);
    yaml::register(map);
}

/// Sprig's `strval`: strings as they are, anything else as `fmt.Sprintf("%v")`.
pub(crate) fn strval(v: &Value) -> GoString {
    match v {
        Value::String(s) => s.clone(),
        other => gofmt::display(other),
    }
}

/// Sprig's `empty`: Go's zero values and empty containers.
pub(crate) fn is_empty(v: &Value) -> bool {
    !v.is_true()
}

/// `strings.TrimSuffix`-style cleanup cast applies before parsing integers: `"1.00"` → `"1"`.
fn trim_zero_decimal(s: &str) -> &str {
    let mut found_zero = false;
    for (i, b) in s.bytes().enumerate().rev() {
        match b {
            b'.' if found_zero => return &s[..i],
            b'.' => return s,
            b'0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

/// `cast.ToInt64`: numbers truncated, strings parsed (base prefixes allowed), else 0.
pub(crate) fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        // cast knows uint64, time.Month and time.Weekday, not time.Duration.
        Value::Typed(t) if t.ty == IntType::Duration => 0,
        Value::Typed(t) => t.bits,
        Value::Float(f) => go_float_to_int64(*f),
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => {
            crate::parse::go_parse_int(trim_zero_decimal(&s.to_text())).unwrap_or(0)
        }
        _ => 0,
    }
}

/// Go's `int64(f)` on amd64: out-of-range and NaN values become the minimum int64.
pub(crate) fn go_float_to_int64(f: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || !(-LIMIT..LIMIT).contains(&f) {
        return i64::MIN;
    }
    f as i64
}

/// `cast.ToFloat64`.
pub(crate) fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Typed(t) if t.ty == IntType::Duration => 0.0,
        Value::Typed(t) if t.is_unsigned() => t.unsigned() as f64,
        Value::Typed(t) => t.bits as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => s
            .to_text()
            .parse::<f64>()
            .ok()
            .filter(|_| !s.as_bytes().iter().any(|b| b"iInN_".contains(b)))
            .unwrap_or(0.0),
        _ => 0.0,
    }
}

fn register_defaults(map: &mut FuncMap) {
    map.add("default", &[Any], Some(Any), |a| {
        let given = a.get(1).cloned().unwrap_or(Value::Nil);
        if a.len() < 2 || is_empty(&given) {
            return Ok(a[0].clone());
        }
        Ok(given)
    });
    map.add("empty", &[Any], None, |a| Ok(Value::Bool(is_empty(&a[0]))));
    map.add("coalesce", &[], Some(Any), |a| {
        Ok(a.into_iter().find(|v| !is_empty(v)).unwrap_or(Value::Nil))
    });
    map.add("all", &[], Some(Any), |a| {
        Ok(Value::Bool(a.iter().all(|v| !is_empty(v))))
    });
    map.add("any", &[], Some(Any), |a| {
        Ok(Value::Bool(a.iter().any(|v| !is_empty(v))))
    });
    map.add("ternary", &[Any, Any, Bool], None, |a| {
        Ok(if a[2].is_true() {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    map.add("fail", &[Str], None, |_| {
        Err("the template called fail (its message is not shown: it may hold data)".to_owned())
    });
    map.add("hello", &[], None, |_| Ok(Value::from("Hello!")));
}

fn int64_op(a: Vec<Value>, op: fn(i64, i64) -> Option<i64>) -> FuncResult {
    let mut values = a.iter().map(to_int64);
    let first = values.next().unwrap_or(0);
    values
        .try_fold(first, op)
        .map(Value::Int64)
        .ok_or_else(|| "integer divide by zero".to_owned())
}

fn register_numbers(map: &mut FuncMap) {
    map.add("add1", &[Any], None, |a| {
        Ok(Value::Int64(to_int64(&a[0]).wrapping_add(1)))
    });
    map.add("add", &[], Some(Any), |a| {
        Ok(Value::Int64(
            a.iter().map(to_int64).fold(0i64, i64::wrapping_add),
        ))
    });
    map.add("sub", &[Any, Any], None, |a| {
        int64_op(a, |x, y| Some(x.wrapping_sub(y)))
    });
    map.add("div", &[Any, Any], None, |a| {
        int64_op(a, |x, y| x.checked_div(y))
    });
    map.add("mod", &[Any, Any], None, |a| {
        int64_op(a, |x, y| x.checked_rem(y))
    });
    map.add("mul", &[Any], Some(Any), |a| {
        int64_op(a, |x, y| Some(x.wrapping_mul(y)))
    });
    map.add("max", &[Any], Some(Any), |a| {
        int64_op(a, |x, y| Some(x.max(y)))
    });
    map.add("biggest", &[Any], Some(Any), |a| {
        int64_op(a, |x, y| Some(x.max(y)))
    });
    map.add("min", &[Any], Some(Any), |a| {
        int64_op(a, |x, y| Some(x.min(y)))
    });
    map.add("floor", &[Any], None, |a| {
        Ok(Value::Float(to_float64(&a[0]).floor()))
    });
    map.add("ceil", &[Any], None, |a| {
        Ok(Value::Float(to_float64(&a[0]).ceil()))
    });
    map.add("round", &[Any, Int], Some(Any), |a| {
        Ok(Value::Float(round(&a)))
    });
    map.add("maxf", &[Any], Some(Any), |a| {
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::NEG_INFINITY, go_max),
        ))
    });
    map.add("minf", &[Any], Some(Any), |a| {
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::INFINITY, go_min),
        ))
    });
    map.add("toDecimal", &[Any], None, |a| {
        // strconv.ParseInt(fmt.Sprint(v), 8, 64), 0 on failure.
        let text = strval(&a[0]).to_text().into_owned();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(&text)),
        };
        let valid = !digits.is_empty() && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
        let magnitude = if valid {
            i64::from_str_radix(digits, 8).ok()
        } else {
            None
        };
        Ok(Value::Int64(
            magnitude.map_or(0, |m| if negative { -m } else { m }),
        ))
    });
    map.add("int64", &[Any], None, |a| Ok(Value::Int64(to_int64(&a[0]))));
    map.add("int", &[Any], None, |a| Ok(Value::Int(to_int64(&a[0]))));
    map.add("float64", &[Any], None, |a| {
        Ok(Value::Float(to_float64(&a[0])))
    });
    map.add("atoi", &[Str], None, |a| {
        let s = &*text_at(&a, 0);
        let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
        let valid = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        Ok(Value::Int(if valid { s.parse().unwrap_or(0) } else { 0 }))
    });
    map.add("until", &[Int], None, |a| {
        let count = int_at(&a, 0);
        Ok(int_list(until_step(
            0,
            count,
            if count < 0 { -1 } else { 1 },
        )?))
    });
    map.add("untilStep", &[Int, Int, Int], None, |a| {
        Ok(int_list(until_step(
            int_at(&a, 0),
            int_at(&a, 1),
            int_at(&a, 2),
        )?))
    });
    map.add("seq", &[], Some(Int), |a| string(seq(&a)?));
}

/// Sprig's `round(value, places, [roundOn=.5])`.
fn round(a: &[Value]) -> f64 {
    let round_on = a.get(2).map_or(0.5, to_float64);
    let value = to_float64(&a[0]);
    let pow = 10f64.powf(to_float64(&a[1]));
    let digit = pow * value;
    let fraction = digit.fract();
    let rounded = if fraction >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    rounded / pow
}

/// `math.Max`: NaN wins, and +0 beats -0.
fn go_max(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == y && x == 0.0 {
        return if x.is_sign_negative() { y } else { x };
    }
    x.max(y)
}

/// `math.Min`: NaN wins, and -0 beats +0.
fn go_min(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == y && x == 0.0 {
        return if x.is_sign_negative() { x } else { y };
    }
    x.min(y)
}

fn int_list(values: Vec<i64>) -> Value {
    Value::List(values.into_iter().map(Value::Int).collect())
}

/// Sprig's `untilStep`, refused before it is built when it would hold more elements than
/// the size cap allows.
fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, String> {
    let towards_stop = (stop > start && step > 0) || (stop < start && step < 0);
    if towards_stop {
        let span = (i128::from(stop) - i128::from(start)).unsigned_abs();
        let count = span / i128::from(step).unsigned_abs();
        limits::reserve(usize::try_from(count).unwrap_or(usize::MAX))?;
    }
    Ok(until_step_unchecked(start, stop, step))
}

fn until_step_unchecked(start: i64, stop: i64, step: i64) -> Vec<i64> {
    let mut out = Vec::new();
    if stop < start {
        if step >= 0 {
            return out;
        }
        let mut i = start;
        while i > stop {
            out.push(i);
            let Some(next) = i.checked_add(step) else {
                break;
            };
            i = next;
        }
        return out;
    }
    if step <= 0 {
        return out;
    }
    let mut i = start;
    while i < stop {
        out.push(i);
        let Some(next) = i.checked_add(step) else {
            break;
        };
        i = next;
    }
    out
}

fn seq(params: &[Value]) -> Result<String, String> {
    let p: Vec<i64> = params.iter().map(|v| v.as_integer().unwrap_or(0)).collect();
    let values = match p.as_slice() {
        [] => return Ok(String::new()),
        [end] => {
            let inc = if *end < 1 { -1 } else { 1 };
            until_step(1, end.wrapping_add(inc), inc)?
        }
        [start, end] => {
            let inc = if end < start { -1 } else { 1 };
            until_step(*start, end.wrapping_add(inc), inc)?
        }
        [start, step, end] => {
            let inc = if end < start { -1 } else { 1 };
            if end < start && *step > 0 {
                return Ok(String::new());
            }
            until_step(*start, end.wrapping_add(inc), *step)?
        }
        _ => return Ok(String::new()),
    };
    Ok(values
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" "))
}

fn go_type_name(v: &Value) -> &'static str {
    v.go_type()
}

fn register_types(map: &mut FuncMap) {
    map.add("typeOf", &[Any], None, |a| {
        Ok(Value::from(go_type_name(&a[0])))
    });
    map.add("typeIs", &[Str, Any], None, |a| {
        Ok(Value::Bool(
            bytes_at(&a, 0) == go_type_name(&a[1]).as_bytes(),
        ))
    });
    map.add("kindOf", &[Any], None, |a| kind_of(&a[0]).map(Value::from));
    map.add("kindIs", &[Str, Any], None, |a| {
        kind_of(&a[1]).map(|k| Value::Bool(k.as_bytes() == bytes_at(&a, 0)))
    });
    map.add("deepEqual", &[Any, Any], None, |a| {
        Ok(Value::Bool(a[0] == a[1]))
    });
    map.add("typeIsLike", &[Str, Any], None, |a| {
        let (target, actual) = (&*text_at(&a, 0), go_type_name(&a[1]));
        Ok(Value::Bool(
            target == actual || format!("*{target}") == actual,
        ))
    });
    // keyward's values are already copies: a deep copy is the value itself (and, as in
    // copystructure, nil cannot be copied).
    for name in ["deepCopy", "mustDeepCopy"] {
        map.add(name, &[Any], None, |a| match &a[0] {
            Value::Nil => Err("cannot copy nil".to_owned()),
            other => Ok(other.clone()),
        });
    }
}

fn kind_of(v: &Value) -> Result<&'static str, String> {
    Ok(v.go_kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_spf13_cast() {
        assert_eq!(to_int64(&Value::from("1.00")), 1);
        assert_eq!(to_int64(&Value::from("0x10")), 16);
        assert_eq!(to_int64(&Value::from("abc")), 0);
        assert_eq!(to_int64(&Value::Float(2.9)), 2);
        assert_eq!(to_float64(&Value::from("2.5")), 2.5);
    }

    #[test]
    fn seq_counts_like_sprig() {
        assert_eq!(seq(&[Value::Int(3)]).as_deref(), Ok("1 2 3"));
        assert_eq!(seq(&[Value::Int(5), Value::Int(3)]).as_deref(), Ok("5 4 3"));
        assert_eq!(
            seq(&[Value::Int(0), Value::Int(2), Value::Int(6)]).as_deref(),
            Ok("0 2 4 6")
        );
    }
}
