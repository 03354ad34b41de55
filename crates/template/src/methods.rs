//! The methods a template may call on the two Sprig results that have them, as Go's
//! `text/template` resolves `.Name` on a non-map value: `time.Time` (`.Unix`, `.Year`,
//! `.Format "…"`, `.UTC`, …) and `*semver.Version` (`.Major`, `.Prerelease`, `.Original`,
//! `.LessThan $other`, …). Everything else in keyward's data is method-free.
//!
//! Results keep their Go types: `time.Month`, `time.Weekday`, `time.Duration` and `uint64`
//! are [`Value::Typed`] integers.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::gotime::{self, GoTime, Zone};
use crate::registry::{FuncResult, Param};
use crate::semver::Version;
use crate::value::{IntType, TypedInt, Value};

/// A method: its parameters and implementation (receiver first, then the arguments).
pub(crate) struct Method {
    pub params: &'static [Param],
    pub call: fn(&Value, &[Value]) -> FuncResult,
}

/// The method `name` of `receiver`, if its Go type has one keyward implements.
pub(crate) fn lookup(receiver: &Value, name: &str) -> Option<Method> {
    match receiver {
        Value::Time(_) => time_method(name),
        Value::Semver(v) if v.by_value && POINTER_METHODS.contains(&name) => None,
        Value::Semver(_) => semver_method(name),
        _ => None,
    }
}

fn method(params: &'static [Param], call: fn(&Value, &[Value]) -> FuncResult) -> Option<Method> {
    Some(Method { params, call })
}

fn time_of(v: &Value) -> GoTime {
    match v {
        Value::Time(t) => (**t).clone(),
        _ => GoTime::zero(),
    }
}

fn time_value(t: GoTime) -> FuncResult {
    Ok(Value::Time(Box::new(t)))
}

fn civil_int(v: &Value, field: fn(&gotime::Civil) -> i64) -> FuncResult {
    Ok(Value::Int(field(&time_of(v).civil().0)))
}

fn unix_scaled(v: &Value, per_second: i64) -> FuncResult {
    let t = time_of(v);
    let scaled = i128::from(t.unix) * i128::from(per_second)
        + i128::from(t.nsec) / i128::from(1_000_000_000 / per_second);
    Ok(Value::Int64(scaled as i64))
}

/// A `time.Duration` argument: Go accepts only an integer constant there.
fn int_arg(a: &[Value]) -> i64 {
    a.first().and_then(Value::as_integer).unwrap_or(0)
}

/// The order of two instants (Go's `Compare`, `Before`, `After`, `Equal`: the monotonic
/// reading when both have one, else the wall clock).
fn order(v: &Value, a: &[Value]) -> Ordering {
    let (t, u) = (time_of(v), time_of(a.first().unwrap_or(&Value::Nil)));
    if let (Some(x), Some(y)) = (t.mono, u.mono) {
        return x.cmp(&y);
    }
    (t.unix, t.nsec).cmp(&(u.unix, u.nsec))
}

fn time_method(name: &str) -> Option<Method> {
    match name {
        "Unix" => method(&[], |v, _| Ok(Value::Int64(time_of(v).unix))),
        "UnixMilli" => method(&[], |v, _| unix_scaled(v, 1_000)),
        "UnixMicro" => method(&[], |v, _| unix_scaled(v, 1_000_000)),
        "UnixNano" => method(&[], |v, _| unix_scaled(v, 1_000_000_000)),
        "Year" => method(&[], |v, _| civil_int(v, |c| c.year)),
        "Day" => method(&[], |v, _| civil_int(v, |c| i64::from(c.day))),
        "Hour" => method(&[], |v, _| civil_int(v, |c| i64::from(c.hour))),
        "Minute" => method(&[], |v, _| civil_int(v, |c| i64::from(c.minute))),
        "Second" => method(&[], |v, _| civil_int(v, |c| i64::from(c.second))),
        "YearDay" => method(&[], |v, _| civil_int(v, |c| c.yday)),
        "Nanosecond" => method(&[], |v, _| Ok(Value::Int(i64::from(time_of(v).nsec)))),
        "Month" => method(&[], |v, _| {
            let month = i64::from(time_of(v).civil().0.month);
            Ok(TypedInt::signed(IntType::Month, month))
        }),
        "Weekday" => method(&[], |v, _| {
            let day = i64::from(time_of(v).civil().0.weekday);
            Ok(TypedInt::signed(IntType::Weekday, day))
        }),
        "IsZero" => method(&[], |v, _| Ok(Value::Bool(time_of(v).is_zero()))),
        "String" => method(&[], |v, _| Ok(Value::from(time_of(v).go_string()))),
        "GoString" => method(&[], |v, _| Ok(Value::from(time_of(v).go_syntax()))),
        "UTC" => method(&[], |v, _| time_value(time_of(v).in_zone(Zone::Utc))),
        "Local" => method(&[], |v, _| time_value(time_of(v).in_zone(Zone::Local))),
        "AddDate" => method(&[Param::Int, Param::Int, Param::Int], |v, a| {
            let n = |i: usize| a.get(i).and_then(Value::as_integer).unwrap_or(0);
            time_value(time_of(v).add_date(n(0), n(1), n(2)))
        }),
        "Add" => method(&[Param::Int], |v, a| time_value(time_of(v).add(int_arg(a)))),
        "Truncate" => method(&[Param::Int], |v, a| {
            time_value(time_of(v).truncate(int_arg(a)))
        }),
        "Round" => method(&[Param::Int], |v, a| {
            time_value(time_of(v).round(int_arg(a)))
        }),
        "Sub" => method(&[Param::Time], |v, a| {
            let d = time_of(v).sub(&time_of(a.first().unwrap_or(&Value::Nil)));
            Ok(TypedInt::signed(IntType::Duration, d))
        }),
        "After" => method(&[Param::Time], |v, a| Ok(Value::Bool(order(v, a).is_gt()))),
        "Before" => method(&[Param::Time], |v, a| Ok(Value::Bool(order(v, a).is_lt()))),
        "Equal" => method(&[Param::Time], |v, a| Ok(Value::Bool(order(v, a).is_eq()))),
        "Compare" => method(&[Param::Time], |v, a| Ok(Value::Int(order(v, a) as i64))),
        "IsDST" => method(&[], |v, _| Ok(Value::Bool(time_of(v).is_dst()))),
        "Format" => method(&[Param::Str], |v, a| match a.first() {
            Some(Value::String(layout)) => {
                Ok(Value::from(gotime::format(&time_of(v), &layout.to_text())))
            }
            _ => Ok(Value::from(String::new())),
        }),
        _ => None,
    }
}

fn version_of(v: &Value) -> Option<&Version> {
    match v {
        Value::Semver(v) => Some(v),
        _ => None,
    }
}

fn text(v: &Value, field: fn(&Version) -> &str) -> FuncResult {
    Ok(Value::from(version_of(v).map_or("", field)))
}

fn number(v: &Value, field: fn(&Version) -> u64) -> FuncResult {
    Ok(TypedInt::uint64(version_of(v).map_or(0, field)))
}

/// Compares the receiver with a `*semver.Version` argument.
fn compare(v: &Value, a: &[Value], test: fn(Ordering) -> bool) -> FuncResult {
    match (version_of(v), a.first()) {
        (Some(v), Some(Value::Semver(o))) if !o.by_value => Ok(Value::Bool(test(v.compare(o)))),
        (Some(_), Some(Value::Nil) | None) => {
            Err("invalid memory address or nil pointer dereference".to_owned())
        }
        (_, Some(other)) => Err(format!(
            "wrong type for value; expected *semver.Version; got {}",
            other.go_type()
        )),
        _ => Err("not a version".to_owned()),
    }
}

fn bumped(v: &Value, bump: fn(&Version) -> Version) -> FuncResult {
    match version_of(v) {
        Some(version) => Ok(Value::Semver(Arc::new(bump(version)))),
        None => Err("not a version".to_owned()),
    }
}

/// The `*semver.Version` methods a `semver.Version` value does not have.
const POINTER_METHODS: [&str; 7] = [
    "Original",
    "LessThan",
    "LessThanEqual",
    "GreaterThan",
    "GreaterThanEqual",
    "Equal",
    "Compare",
];

fn semver_method(name: &str) -> Option<Method> {
    match name {
        "Major" => method(&[], |v, _| number(v, |s| s.major)),
        "Minor" => method(&[], |v, _| number(v, |s| s.minor)),
        "Patch" => method(&[], |v, _| number(v, |s| s.patch)),
        "Prerelease" => method(&[], |v, _| text(v, |s| &s.pre)),
        "Metadata" => method(&[], |v, _| text(v, |s| &s.metadata)),
        "Original" => method(&[], |v, _| text(v, |s| &s.original)),
        "String" => method(&[], |v, _| {
            Ok(Value::from(
                version_of(v).map(Version::normalized).unwrap_or_default(),
            ))
        }),
        "IncMajor" => method(&[], |v, _| bumped(v, Version::inc_major)),
        "IncMinor" => method(&[], |v, _| bumped(v, Version::inc_minor)),
        "IncPatch" => method(&[], |v, _| bumped(v, Version::inc_patch)),
        "LessThan" => method(&[Param::Any], |v, a| compare(v, a, Ordering::is_lt)),
        "LessThanEqual" => method(&[Param::Any], |v, a| compare(v, a, Ordering::is_le)),
        "GreaterThan" => method(&[Param::Any], |v, a| compare(v, a, Ordering::is_gt)),
        "GreaterThanEqual" => method(&[Param::Any], |v, a| compare(v, a, Ordering::is_ge)),
        "Equal" => method(&[Param::Any], |v, a| compare(v, a, Ordering::is_eq)),
        "Compare" => method(&[Param::Any], |v, a| {
            compare(v, a, |_| true)?;
            match (version_of(v), a.first()) {
                (Some(v), Some(Value::Semver(o))) => Ok(Value::Int(v.compare(o) as i64)),
                _ => Ok(Value::Int(0)),
            }
        }),
        _ => None,
    }
}
