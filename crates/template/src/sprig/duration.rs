//! Sprig's `duration` and `durationRound`, the two date-family functions that need no clock:
//! Go's `time.Duration.String` and `time.ParseDuration`. Like Sprig, `duration` reads only a
//! string or an `int64` (a template's integer literal is an `int` and counts as zero).

use crate::gotime::{format_duration, parse_duration};
use crate::registry::{FuncMap, Param};
use crate::value::Value;

const SECOND: u64 = 1_000_000_000;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("duration", &[Param::Any], None, |a| {
        let seconds = match &a[0] {
            Value::String(s) => s.to_text().parse::<i64>().unwrap_or(0),
            Value::Int64(i) => *i,
            _ => 0,
        };
        Ok(Value::from(format_duration(
            seconds.wrapping_mul(SECOND as i64),
        )))
    });
    map.add("durationRound", &[Param::Any], None, |a| {
        let d = match &a[0] {
            Value::String(s) => parse_duration(&s.to_text()).unwrap_or(0),
            Value::Int64(i) => *i,
            Value::Time(t) => super::date::since(t),
            _ => 0,
        };
        Ok(Value::from(round(d)))
    });
}

/// Sprig's coarse rendering: the largest unit the duration exceeds, truncated.
fn round(d: i64) -> String {
    let u = d.unsigned_abs();
    let hour = 3600 * SECOND;
    let units: [(u64, &str); 6] = [
        (hour * 24 * 365, "y"),
        (hour * 24 * 30, "mo"),
        (hour * 24, "d"),
        (hour, "h"),
        (60 * SECOND, "m"),
        (SECOND, "s"),
    ];
    units.iter().find(|(size, _)| u > *size).map_or_else(
        || "0s".to_owned(),
        |(size, unit)| format!("{}{unit}", u / size),
    )
}
