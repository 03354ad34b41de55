//! Sprig's date family (`now`, `date`, `dateInZone`, `htmlDate`, `htmlDateInZone`,
//! `dateModify`, `mustDateModify`, `ago`, `toDate`, `mustToDate`, `unixEpoch`) with Sprig's
//! argument rules: `date` and friends read a `time.Time` or Unix seconds as `int`/`int64`
//! and use the current time for anything else; an unknown zone name means UTC.

use crate::gotime::{self, GoTime, Zone};
use crate::registry::{FuncMap, FuncResult, Param, text_at};
use crate::value::Value;

use crate::gotime::{format_duration, parse_duration};

use Param::{Any, Str, Time};

const SECOND: i64 = 1_000_000_000;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("now", &[], None, |_| Ok(time(GoTime::now())));
    map.add("date", &[Str, Any], None, |a| {
        Ok(in_zone(&text_at(&a, 0), &a[1], "Local"))
    });
    map.add("htmlDate", &[Any], None, |a| {
        Ok(in_zone("2006-01-02", &a[0], "Local"))
    });
    map.add("htmlDateInZone", &[Any, Str], None, |a| {
        Ok(in_zone("2006-01-02", &a[0], &text_at(&a, 1)))
    });
    for name in ["dateInZone", "date_in_zone"] {
        map.add(name, &[Str, Any, Str], None, |a| {
            Ok(in_zone(&text_at(&a, 0), &a[1], &text_at(&a, 2)))
        });
    }
    for name in ["dateModify", "date_modify"] {
        map.add(name, &[Str, Time], None, |a| {
            let t = time_at(&a, 1);
            Ok(time(match parse_duration(&text_at(&a, 0)) {
                Some(d) => t.add(d),
                None => t,
            }))
        });
    }
    for name in ["mustDateModify", "must_date_modify"] {
        map.add(name, &[Str, Time], None, must_date_modify);
    }
    map.add("ago", &[Any], None, |a| {
        let t = match &a[0] {
            Value::Time(t) => (**t).clone(),
            Value::Int(i) | Value::Int64(i) => GoTime::from_unix(*i),
            _ => GoTime::now(),
        };
        let since = GoTime::now().sub(&t);
        Ok(Value::from(format_duration(round_to_second(since))))
    });
    map.add("toDate", &[Str, Str], None, |a| {
        Ok(time(
            gotime::parse_in_local(&text_at(&a, 0), &text_at(&a, 1))
                .unwrap_or_else(|_| GoTime::zero()),
        ))
    });
    map.add("mustToDate", &[Str, Str], None, |a| {
        gotime::parse_in_local(&text_at(&a, 0), &text_at(&a, 1))
            .map(time)
            .map_err(|e| e.to_string())
    });
    map.add("unixEpoch", &[Time], None, |a| {
        Ok(Value::from(time_at(&a, 0).unix.to_string()))
    });
}

fn time(t: GoTime) -> Value {
    Value::Time(Box::new(t))
}

/// The `time.Time` argument at `i` (the signature guarantees it).
fn time_at(args: &[Value], i: usize) -> GoTime {
    match args.get(i) {
        Some(Value::Time(t)) => (**t).clone(),
        _ => GoTime::zero(),
    }
}

fn must_date_modify(a: Vec<Value>) -> FuncResult {
    match parse_duration(&text_at(&a, 0)) {
        Some(d) => Ok(time(time_at(&a, 1).add(d))),
        None => Err("time: invalid duration (the duration text is not shown)".to_owned()),
    }
}

/// Sprig's `dateInZone`: the time (or Unix seconds, or now) in `zone` (UTC when the zone
/// cannot be loaded), formatted with a Go layout.
fn in_zone(layout: &str, date: &Value, zone: &str) -> Value {
    let t = match date {
        Value::Time(t) => (**t).clone(),
        Value::Int(i) | Value::Int64(i) => GoTime::from_unix(*i),
        _ => GoTime::now(),
    };
    let zone = gotime::load_location(zone).unwrap_or(Zone::Utc);
    Value::from(gotime::format(&t.in_zone(zone), layout))
}

/// Go's `Duration.Round(time.Second)`, saturating at the extremes.
fn round_to_second(d: i64) -> i64 {
    let r = d % SECOND;
    let less_than_half = |x: i64| (x as u64).wrapping_add(x as u64) < SECOND as u64;
    if d < 0 {
        let r = -r;
        if less_than_half(r) {
            return d + r;
        }
        return d.checked_sub(SECOND - r).unwrap_or(i64::MIN);
    }
    if less_than_half(r) {
        return d - r;
    }
    d.checked_add(SECOND - r).unwrap_or(i64::MAX)
}

/// `time.Since(t)`, for `durationRound` of a time.
pub(crate) fn since(t: &GoTime) -> i64 {
    GoTime::now().sub(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_like_go() {
        assert_eq!(round_to_second(1_499_999_999), SECOND);
        assert_eq!(round_to_second(1_500_000_000), 2 * SECOND);
        assert_eq!(round_to_second(-1_500_000_000), -2 * SECOND);
        assert_eq!(round_to_second(i64::MAX), i64::MAX);
    }

    #[test]
    fn unix_seconds_format_in_a_zone() {
        let out = in_zone("2006-01-02 15:04 MST", &Value::Int(0), "UTC");
        assert_eq!(out, Value::from("1970-01-01 00:00 UTC"));
        let fallback = in_zone("MST", &Value::Int(0), "Not/AZone");
        assert_eq!(fallback, Value::from("UTC"));
    }
}
