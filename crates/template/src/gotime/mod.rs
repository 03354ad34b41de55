//! Go's `time.Time` as Sprig's date functions see it: an instant (Unix seconds and
//! nanoseconds), a location and an optional monotonic clock reading, with Go's calendar
//! arithmetic (`absDays`, ported so that even absurd Unix seconds wrap exactly as Go's do),
//! `time.Date`'s normalisation across DST gaps, `LoadLocation` and the process's `Local`
//! zone. Layout formatting and parsing live in [`layout`].
//!
//! Locations (`Local`, `LoadLocation`, fixed zones) live in [`zone`].

mod duration;
mod layout;
mod zone;

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub(crate) use duration::{format_duration, parse_duration};
pub(crate) use layout::{format, parse_in_local};
pub(crate) use zone::{Zone, load_location};

const SECONDS_PER_DAY: u64 = 86_400;
const MARCH_THRU_DECEMBER: u64 = 31 + 30 + 31 + 30 + 31 + 31 + 30 + 31 + 30 + 31;
const ABSOLUTE_YEARS: u64 = 292_277_022_400;
const ABSOLUTE_TO_INTERNAL: i64 =
    -((ABSOLUTE_YEARS as i64 * 3_652_425 / 10_000) + MARCH_THRU_DECEMBER as i64) * 86_400;
const UNIX_TO_INTERNAL: i64 = (1969 * 365 + 1969 / 4 - 1969 / 100 + 1969 / 400) * 86_400;
const UNIX_TO_ABSOLUTE: i64 = UNIX_TO_INTERNAL.wrapping_sub(ABSOLUTE_TO_INTERNAL);
const ABSOLUTE_TO_UNIX: i64 = ABSOLUTE_TO_INTERNAL.wrapping_sub(UNIX_TO_INTERNAL);

/// A Go `time.Time`, as Sprig's date functions return it. Opaque: templates format it.
#[derive(Clone, Debug, PartialEq)]
pub struct GoTime {
    /// Seconds since the Unix epoch (Go's `unixSec`, wrapping as Go's int64 arithmetic does).
    pub(crate) unix: i64,
    /// Nanoseconds within the second, `0..1e9`.
    pub(crate) nsec: u32,
    pub(crate) zone: Zone,
    /// The monotonic clock reading in nanoseconds since the process started, as `time.Now`
    /// records it; printed by `String` as `m=±s.nnnnnnnnn`.
    pub(crate) mono: Option<i64>,
}

/// `time.Month.String`.
pub(crate) fn month_name(month: i64) -> String {
    match usize::try_from(month) {
        Ok(m @ 1..=12) => layout::LONG_MONTHS[m - 1].to_owned(),
        _ => format!("%!Month({month})"),
    }
}

/// `time.Weekday.String`.
pub(crate) fn weekday_name(day: i64) -> String {
    match usize::try_from(day) {
        Ok(d @ 0..=6) => layout::LONG_DAYS[d].to_owned(),
        _ => format!("%!Weekday({day})"),
    }
}

/// The fields of a civil date and clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub yday: i64,
    pub weekday: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl GoTime {
    /// The zero `time.Time`: January 1, year 1, 00:00:00 UTC.
    pub(crate) fn zero() -> GoTime {
        GoTime {
            unix: -UNIX_TO_INTERNAL,
            nsec: 0,
            zone: Zone::Utc,
            mono: None,
        }
    }

    /// `time.Unix(sec, 0)`, in the local zone.
    pub(crate) fn from_unix(unix: i64) -> GoTime {
        GoTime {
            unix,
            nsec: 0,
            zone: Zone::Local,
            mono: None,
        }
    }

    /// `time.Now()`: local, with a monotonic reading.
    pub(crate) fn now() -> GoTime {
        static START: OnceLock<Instant> = OnceLock::new();
        let start = *START.get_or_init(Instant::now);
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mono = i64::try_from(start.elapsed().as_nanos()).unwrap_or(i64::MAX);
        GoTime {
            unix: i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX),
            nsec: since_epoch.subsec_nanos(),
            zone: Zone::Local,
            mono: Some(mono),
        }
    }

    /// Go's `IsZero`.
    pub(crate) fn is_zero(&self) -> bool {
        self.unix == -UNIX_TO_INTERNAL && self.nsec == 0
    }

    /// `t.In(zone)`: the same instant elsewhere, without a monotonic reading.
    pub(crate) fn in_zone(&self, zone: Zone) -> GoTime {
        GoTime {
            zone,
            mono: None,
            ..self.clone()
        }
    }

    /// `t.Add(d)` for a duration in nanoseconds (the monotonic reading moves too).
    pub(crate) fn add(&self, d: i64) -> GoTime {
        let mut dsec = d / 1_000_000_000;
        let mut nsec = i64::from(self.nsec) + d % 1_000_000_000;
        if nsec >= 1_000_000_000 {
            dsec += 1;
            nsec -= 1_000_000_000;
        } else if nsec < 0 {
            dsec -= 1;
            nsec += 1_000_000_000;
        }
        GoTime {
            unix: self.unix.wrapping_add(dsec),
            nsec: nsec as u32,
            zone: self.zone.clone(),
            mono: self.mono.map(|m| m.wrapping_add(d)),
        }
    }

    /// `t.Sub(u)` in nanoseconds, saturating like Go.
    pub(crate) fn sub(&self, u: &GoTime) -> i64 {
        if let (Some(a), Some(b)) = (self.mono, u.mono) {
            return a.saturating_sub(b);
        }
        let d = (i128::from(self.unix) - i128::from(u.unix)) * 1_000_000_000
            + (i128::from(self.nsec) - i128::from(u.nsec));
        d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// `t.AddDate(years, months, days)`: calendar arithmetic in the time's zone, with Go's
    /// normalisation (October 31 plus one month is December 1).
    pub(crate) fn add_date(&self, years: i64, months: i64, days: i64) -> GoTime {
        let (c, _, _) = self.civil();
        let month0 = i64::from(c.month) - 1 + months;
        let year = c
            .year
            .wrapping_add(years)
            .wrapping_add(month0.div_euclid(12));
        let month = month0.rem_euclid(12) as u32 + 1;
        let clock = i64::from(c.hour * 3600 + c.minute * 60 + c.second);
        let day = i64::from(c.day).wrapping_add(days);
        date_days(year, month, day, clock, self.nsec, self.zone.clone())
    }

    /// The remainder of the time since year 1 divided by `d` (Go's `div`), for `Truncate`
    /// and `Round`.
    fn remainder(&self, d: i64) -> i64 {
        let since_zero = (i128::from(self.unix) + i128::from(UNIX_TO_INTERNAL)) * 1_000_000_000
            + i128::from(self.nsec);
        since_zero.rem_euclid(i128::from(d)) as i64
    }

    /// `t.Truncate(d)`.
    pub(crate) fn truncate(&self, d: i64) -> GoTime {
        let t = self.in_zone(self.zone.clone());
        if d <= 0 {
            return t;
        }
        t.add(-t.remainder(d))
    }

    /// `t.Round(d)`: halfway values round up.
    pub(crate) fn round(&self, d: i64) -> GoTime {
        let t = self.in_zone(self.zone.clone());
        if d <= 0 {
            return t;
        }
        let r = t.remainder(d);
        if (r as u64).wrapping_add(r as u64) < d as u64 {
            return t.add(-r);
        }
        t.add(d - r)
    }

    /// Whether daylight saving time is in effect (`IsDST`).
    pub(crate) fn is_dst(&self) -> bool {
        self.zone.is_dst(self.unix)
    }

    /// The zone abbreviation, offset and absolute seconds (Go's `locabs`).
    fn locabs(&self) -> (String, i32, u64) {
        let (name, offset) = self.zone.lookup(self.unix);
        let local = self.unix.wrapping_add(i64::from(offset));
        (name, offset, local.wrapping_add(UNIX_TO_ABSOLUTE) as u64)
    }

    /// Calendar fields in the time's own zone.
    pub(crate) fn civil(&self) -> (Civil, String, i32) {
        let (name, offset, abs) = self.locabs();
        (civil_of(abs), name, offset)
    }

    /// Go's `Time.String`: `2006-01-02 15:04:05.999999999 -0700 MST`, plus `m=±…` when the
    /// time carries a monotonic reading.
    pub(crate) fn go_string(&self) -> String {
        let mut s = format(self, "2006-01-02 15:04:05.999999999 -0700 MST");
        if let Some(mono) = self.mono {
            let sign = if mono < 0 { '-' } else { '+' };
            let m = mono.unsigned_abs();
            let (m1, m2) = (m / 1_000_000_000, m % 1_000_000_000);
            s.push_str(&format!(" m={sign}{m1}.{m2:09}"));
        }
        s
    }

    /// Go's `Time.GoString` (`%#v`): `time.Date(2006, time.January, 2, …, time.Local)`.
    pub(crate) fn go_syntax(&self) -> String {
        let (c, _, _) = self.civil();
        let month = layout::LONG_MONTHS[(c.month as usize).clamp(1, 12) - 1];
        format!(
            "time.Date({}, time.{month}, {}, {}, {}, {}, {}, {})",
            c.year,
            c.day,
            c.hour,
            c.minute,
            c.second,
            self.nsec,
            self.zone.go_syntax()
        )
    }

    /// `MarshalJSON`'s text: RFC 3339 with nanoseconds, or an error outside years 0..=9999
    /// or for a zone offset of 24 hours or more.
    pub(crate) fn rfc3339_nano(&self) -> Result<String, String> {
        let (civil, _, offset) = self.civil();
        if !(0..=9999).contains(&civil.year) {
            return Err("Time.MarshalJSON: year outside of range [0,9999]".to_owned());
        }
        if offset.unsigned_abs() / 3600 >= 24 {
            return Err("Time.MarshalJSON: timezone hour outside of range [0,23]".to_owned());
        }
        Ok(format(self, "2006-01-02T15:04:05.999999999Z07:00"))
    }
}

/// Calendar fields of absolute seconds (Go's `absSeconds.days().date()`, `yearYday`,
/// `weekday` and `clock`).
fn civil_of(abs: u64) -> Civil {
    let days = abs / SECONDS_PER_DAY;
    let d = 4u64.wrapping_mul(days).wrapping_add(3);
    let century = d / 146_097;
    let cd = ((d % 146_097) as u32) | 3;
    let product = 2_939_745u64 * u64::from(cd);
    let cyear = (product >> 32) as u32;
    let ayday = (product as u32) / 2_939_745 / 4;
    let md = 2141 * ayday + 197_913;
    let amonth = md >> 16;
    let day = 1 + (md & 0xFFFF) / 2141;
    let jan_feb = u32::from(u64::from(ayday) >= MARCH_THRU_DECEMBER);
    let year = (century.wrapping_mul(100).wrapping_sub(ABSOLUTE_YEARS) as i64)
        .wrapping_add(i64::from(cyear))
        .wrapping_add(i64::from(jan_feb));
    let leap = u32::from(cyear.is_multiple_of(4))
        & (u32::from(cyear != 0) | u32::from(century.is_multiple_of(4)));
    let yday =
        i64::from(ayday) + (1 + 31 + 28) + i64::from(leap & !jan_feb) - 365 * i64::from(jan_feb);
    let secs = (abs % SECONDS_PER_DAY) as u32;
    Civil {
        year,
        month: amonth - jan_feb * 12,
        day,
        yday,
        weekday: ((days.wrapping_add(3)) % 7) as u32,
        hour: secs / 3600,
        minute: secs % 3600 / 60,
        second: secs % 60,
    }
}

/// Go's `dateToAbsDays`.
fn date_to_abs_days(year: i64, month: u32, day: i64) -> u64 {
    let jan_feb = u32::from(month < 3);
    let amonth = month + 12 * jan_feb;
    let y = (year as u64)
        .wrapping_sub(u64::from(jan_feb))
        .wrapping_add(ABSOLUTE_YEARS);
    let ayday = (979 * amonth).wrapping_sub(2919) >> 5;
    let century = y / 100;
    let cyear = (y % 100) as u32;
    let cday = 1461 * cyear / 4;
    let century_days = 146_097u64.wrapping_mul(century) / 4;
    century_days.wrapping_add((i64::from(cday + ayday).wrapping_add(day).wrapping_sub(1)) as u64)
}

/// Whether `year` is a leap year.
pub(crate) fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `month` (1-based) of `year`.
pub(crate) fn days_in(month: u32, year: i64) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `time.Date` for already-valid fields: the wall clock in `zone`, resolving a time in
/// a DST gap or fold the way Go does (look up the offset at the wall time read as UTC, then
/// again at the instant that gives, if it differs).
pub(crate) fn date(fields: &Civil, nsec: u32, zone: Zone) -> GoTime {
    let clock = i64::from(fields.hour * 3600 + fields.minute * 60 + fields.second);
    date_days(
        fields.year,
        fields.month,
        i64::from(fields.day),
        clock,
        nsec,
        zone,
    )
}

/// `time.Date` with a day of month and seconds of day that may overflow (`AddDate`): the
/// month is normalised into the year first, the day count is linear.
pub(crate) fn date_days(
    year: i64,
    month: u32,
    day: i64,
    clock: i64,
    nsec: u32,
    zone: Zone,
) -> GoTime {
    let days = date_to_abs_days(year, month, day);
    let unix = (days.wrapping_mul(SECONDS_PER_DAY) as i64)
        .wrapping_add(clock)
        .wrapping_add(ABSOLUTE_TO_UNIX);
    let mut offset = zone.offset(unix);
    if offset != 0 {
        offset = zone.offset(unix.wrapping_sub(i64::from(offset)));
    }
    GoTime {
        unix: unix.wrapping_sub(i64::from(offset)),
        nsec,
        zone,
        mono: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_matches_go() {
        let t = GoTime {
            unix: 951_782_400,
            nsec: 0,
            zone: Zone::Utc,
            mono: None,
        };
        let (c, name, offset) = t.civil();
        assert_eq!((c.year, c.month, c.day, c.yday), (2000, 2, 29, 60));
        assert_eq!((name.as_str(), offset, c.weekday), ("UTC", 0, 2));
        assert_eq!(GoTime::zero().go_string(), "0001-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn date_round_trips() {
        let fields = Civil {
            year: -44,
            month: 3,
            day: 15,
            hour: 12,
            ..Civil::default()
        };
        let t = date(&fields, 5, Zone::Utc);
        let (c, _, _) = t.civil();
        assert_eq!((c.year, c.month, c.day, c.hour), (-44, 3, 15, 12));
    }
}
