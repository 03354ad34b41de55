//! Go's layout language (`time.Format` and `time.ParseInLocation`): the reference time
//! `Mon Jan 2 15:04:05 MST 2006` spelled in the layout, element by element, with Go's exact
//! tokenising (`nextStdChunk`), padding and parsing rules.

use std::sync::Arc;

use super::{Civil, GoTime, Zone, date, days_in, is_leap};

/// One layout element (Go's `std*` constants); fractional seconds carry their digit count
/// and separator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TZ,
    Iso8601TZ,
    Iso8601SecondsTZ,
    Iso8601ShortTZ,
    Iso8601ColonTZ,
    Iso8601ColonSecondsTZ,
    NumTZ,
    NumSecondsTz,
    NumShortTZ,
    NumColonTZ,
    NumColonSecondsTZ,
    /// `.000` (keep zeros) or `.999` (trim zeros): digits, separator, trim.
    Frac(usize, u8, bool),
}

pub(super) const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
pub(super) const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn starts_lower(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_lowercase)
}

fn is_digit(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

/// Go's `nextStdChunk`: the literal text before the first element, the element, and the
/// rest of the layout.
fn next_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    for i in 0..b.len() {
        if let Some((std, start, end)) = element_at(b, i) {
            return (&layout[..start], Some(std), &layout[end..]);
        }
    }
    (layout, None, "")
}

/// The element starting at byte `i`, with the byte range it covers (Go's `_2006` leaves the
/// underscore as literal text).
fn element_at(b: &[u8], i: usize) -> Option<(Std, usize, usize)> {
    let rest = &b[i..];
    let has = |s: &str| rest.starts_with(s.as_bytes());
    let found = |std: Std, len: usize| Some((std, i, i + len));
    match b[i] {
        b'J' if has("Jan") => {
            if has("January") {
                return found(Std::LongMonth, 7);
            }
            (!starts_lower(&rest[3..])).then_some((Std::Month, i, i + 3))
        }
        b'M' if has("Mon") => {
            if has("Monday") {
                return found(Std::LongWeekDay, 6);
            }
            (!starts_lower(&rest[3..])).then_some((Std::WeekDay, i, i + 3))
        }
        b'M' if has("MST") => found(Std::TZ, 3),
        b'0' if rest.len() >= 2 && (b'1'..=b'6').contains(&rest[1]) => {
            let std = [
                Std::ZeroMonth,
                Std::ZeroDay,
                Std::ZeroHour12,
                Std::ZeroMinute,
                Std::ZeroSecond,
                Std::Year,
            ][usize::from(rest[1] - b'1')];
            found(std, 2)
        }
        b'0' if has("002") => found(Std::ZeroYearDay, 3),
        b'1' if has("15") => found(Std::Hour, 2),
        b'1' => found(Std::NumMonth, 1),
        b'2' if has("2006") => found(Std::LongYear, 4),
        b'2' => found(Std::Day, 1),
        b'_' if has("_2006") => Some((Std::LongYear, i + 1, i + 5)),
        b'_' if has("_2") => found(Std::UnderDay, 2),
        b'_' if has("__2") => found(Std::UnderYearDay, 3),
        b'3' => found(Std::Hour12, 1),
        b'4' => found(Std::Minute, 1),
        b'5' => found(Std::Second, 1),
        b'P' if has("PM") => found(Std::PM, 2),
        b'p' if has("pm") => found(Std::Pm, 2),
        b'-' | b'Z' => zone_element(rest).map(|(std, len)| (std, i, i + len)),
        b'.' | b',' if rest.len() > 1 && (rest[1] == b'0' || rest[1] == b'9') => {
            let ch = rest[1];
            let n = rest[1..].iter().take_while(|&&c| c == ch).count();
            if is_digit(rest, n + 1) {
                return None;
            }
            found(Std::Frac(n & 0xfff, b[i], ch == b'9'), n + 1)
        }
        _ => None,
    }
}

fn zone_element(rest: &[u8]) -> Option<(Std, usize)> {
    const NUMERIC: [(&str, Std); 10] = [
        ("-070000", Std::NumSecondsTz),
        ("-07:00:00", Std::NumColonSecondsTZ),
        ("-0700", Std::NumTZ),
        ("-07:00", Std::NumColonTZ),
        ("-07", Std::NumShortTZ),
        ("Z070000", Std::Iso8601SecondsTZ),
        ("Z07:00:00", Std::Iso8601ColonSecondsTZ),
        ("Z0700", Std::Iso8601TZ),
        ("Z07:00", Std::Iso8601ColonTZ),
        ("Z07", Std::Iso8601ShortTZ),
    ];
    NUMERIC
        .iter()
        .find(|(text, _)| rest.starts_with(text.as_bytes()))
        .map(|(text, std)| (*std, text.len()))
}

/// Go's `appendInt`: `x` in decimal, zero-padded to `width` digits after any sign.
fn push_int(out: &mut String, x: i64, width: usize) {
    if x < 0 {
        out.push('-');
    }
    let digits = x.unsigned_abs().to_string();
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

/// Go's `appendNano`.
fn push_nano(out: &mut String, nsec: u32, digits: usize, sep: u8, trim: bool) {
    if trim && (digits == 0 || nsec == 0) {
        return;
    }
    let all = format!("{nsec:09}");
    let mut frac = format!("{}{}", sep as char, &all[..digits.min(9)]);
    if trim {
        while frac.ends_with('0') {
            frac.pop();
        }
        if frac.len() == 1 {
            frac.pop();
        }
    }
    out.push_str(&frac);
}

/// `t.Format(layout)`.
pub(crate) fn format(t: &GoTime, layout: &str) -> String {
    let (c, name, offset) = t.civil();
    let mut out = String::with_capacity(layout.len() + 10);
    let mut layout = layout;
    loop {
        let (prefix, std, suffix) = next_chunk(layout);
        out.push_str(prefix);
        let Some(std) = std else { break };
        layout = suffix;
        format_element(&mut out, std, &c, t.nsec, &name, offset);
    }
    out
}

fn hour12(hour: u32) -> i64 {
    match hour % 12 {
        0 => 12,
        h => i64::from(h),
    }
}

fn format_element(out: &mut String, std: Std, c: &Civil, nsec: u32, name: &str, offset: i32) {
    let month = LONG_MONTHS[(c.month as usize).clamp(1, 12) - 1];
    let weekday = LONG_DAYS[c.weekday as usize % 7];
    match std {
        Std::Year => push_int(out, c.year.wrapping_abs() % 100, 2),
        Std::LongYear => push_int(out, c.year, 4),
        Std::Month => out.push_str(&month[..3]),
        Std::LongMonth => out.push_str(month),
        Std::NumMonth => push_int(out, i64::from(c.month), 0),
        Std::ZeroMonth => push_int(out, i64::from(c.month), 2),
        Std::WeekDay => out.push_str(&weekday[..3]),
        Std::LongWeekDay => out.push_str(weekday),
        Std::Day => push_int(out, i64::from(c.day), 0),
        Std::UnderDay => {
            if c.day < 10 {
                out.push(' ');
            }
            push_int(out, i64::from(c.day), 0);
        }
        Std::ZeroDay => push_int(out, i64::from(c.day), 2),
        Std::UnderYearDay => {
            let pad = if c.yday < 10 { "  " } else { " " };
            if c.yday < 100 {
                out.push_str(pad);
            }
            push_int(out, c.yday, 0);
        }
        Std::ZeroYearDay => push_int(out, c.yday, 3),
        Std::Hour => push_int(out, i64::from(c.hour), 2),
        Std::Hour12 => push_int(out, hour12(c.hour), 0),
        Std::ZeroHour12 => push_int(out, hour12(c.hour), 2),
        Std::Minute => push_int(out, i64::from(c.minute), 0),
        Std::ZeroMinute => push_int(out, i64::from(c.minute), 2),
        Std::Second => push_int(out, i64::from(c.second), 0),
        Std::ZeroSecond => push_int(out, i64::from(c.second), 2),
        Std::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
        Std::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
        Std::TZ if !name.is_empty() => out.push_str(name),
        Std::TZ => {
            let zone = offset / 60;
            out.push(if zone < 0 { '-' } else { '+' });
            push_int(out, i64::from(zone.abs() / 60), 2);
            push_int(out, i64::from(zone.abs() % 60), 2);
        }
        Std::Frac(digits, sep, trim) => push_nano(out, nsec, digits, sep, trim),
        zone => format_offset(out, zone, offset),
    }
}

fn format_offset(out: &mut String, std: Std, offset: i32) {
    use Std::*;
    let iso = matches!(
        std,
        Iso8601TZ | Iso8601ColonTZ | Iso8601SecondsTZ | Iso8601ShortTZ | Iso8601ColonSecondsTZ
    );
    if offset == 0 && iso {
        out.push('Z');
        return;
    }
    let zone = offset / 60;
    out.push(if zone < 0 { '-' } else { '+' });
    let (zone, abs) = (zone.abs(), offset.abs());
    push_int(out, i64::from(zone / 60), 2);
    let colon = matches!(
        std,
        Iso8601ColonTZ | NumColonTZ | Iso8601ColonSecondsTZ | NumColonSecondsTZ
    );
    if colon {
        out.push(':');
    }
    if !matches!(std, NumShortTZ | Iso8601ShortTZ) {
        push_int(out, i64::from(zone % 60), 2);
    }
    if matches!(
        std,
        Iso8601SecondsTZ | NumSecondsTz | NumColonSecondsTZ | Iso8601ColonSecondsTZ
    ) {
        if colon {
            out.push(':');
        }
        push_int(out, i64::from(abs % 60), 2);
    }
}

/// Why `time.Parse` failed. The message names neither the value nor the layout: either may
/// be data.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ParseError(pub &'static str);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "parsing time: {}", self.0)
    }
}

const BAD: ParseError = ParseError("the value does not match the layout");

/// What the layout elements read from the value.
struct Fields {
    year: i64,
    month: i64,
    day: i64,
    yday: i64,
    hour: i64,
    min: i64,
    sec: i64,
    nsec: i64,
    utc: bool,
    zone_offset: Option<i32>,
    zone_name: String,
    am: bool,
    pm: bool,
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn getnum(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    if !is_digit(s, 0) {
        return None;
    }
    if !is_digit(s, 1) {
        if fixed {
            return None;
        }
        return Some((i64::from(s[0] - b'0'), &s[1..]));
    }
    Some((
        i64::from(s[0] - b'0') * 10 + i64::from(s[1] - b'0'),
        &s[2..],
    ))
}

/// Go's `getnum3`.
fn getnum3(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    let n = s.iter().take(3).take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || (fixed && n != 3) {
        return None;
    }
    let v = s[..n]
        .iter()
        .fold(0i64, |acc, c| acc * 10 + i64::from(c - b'0'));
    Some((v, &s[n..]))
}

/// Go's `atoi` on a short field: optional sign, then only digits.
fn atoi(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().try_fold(0i64, |acc, c| {
        acc.checked_mul(10)?.checked_add(i64::from(c - b'0'))
    })?;
    Some(if neg { -v } else { v })
}

/// Go's `skip`: the literal layout text must appear in the value; a space in the layout
/// matches any run of spaces.
fn skip<'v>(mut value: &'v [u8], prefix: &[u8]) -> Option<&'v [u8]> {
    let mut prefix = prefix;
    while let Some(&p) = prefix.first() {
        if p == b' ' {
            if value.first().is_some_and(|&c| c != b' ') {
                return None;
            }
            prefix = trim_spaces(prefix);
            value = trim_spaces(value);
            continue;
        }
        if value.first() != Some(&p) {
            return None;
        }
        prefix = &prefix[1..];
        value = &value[1..];
    }
    Some(value)
}

fn trim_spaces(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b' ').count();
    &s[n..]
}

/// Go's `lookup`: a case-insensitive prefix match against a name table.
fn lookup_name<'v>(table: &[&str], value: &'v [u8], short: bool) -> Option<(i64, &'v [u8])> {
    table.iter().enumerate().find_map(|(i, name)| {
        let name = if short { &name[..3] } else { name };
        let n = name.len();
        (value.len() >= n && value[..n].eq_ignore_ascii_case(name.as_bytes()))
            .then(|| (i as i64, &value[n..]))
    })
}

/// Go's `parseNanoseconds`: `value[0]` is the separator, `n` bytes in all.
fn parse_nanos(value: &[u8], n: usize) -> Result<i64, ParseError> {
    if !matches!(value.first(), Some(b'.' | b',')) {
        return Err(BAD);
    }
    let n = n.min(10);
    let mut ns = atoi(&value[1..n]).ok_or(BAD)?;
    if ns < 0 {
        return Err(ParseError("fractional second out of range"));
    }
    for _ in 0..10 - n {
        ns *= 10;
    }
    Ok(ns)
}

/// `time.ParseInLocation(layout, value, time.Local)`.
pub(crate) fn parse_in_local(layout: &str, value: &str) -> Result<GoTime, ParseError> {
    let mut f = Fields {
        year: 0,
        month: -1,
        day: -1,
        yday: -1,
        hour: 0,
        min: 0,
        sec: 0,
        nsec: 0,
        utc: false,
        zone_offset: None,
        zone_name: String::new(),
        am: false,
        pm: false,
    };
    let mut layout = layout;
    let mut value = value.as_bytes();
    loop {
        let (prefix, std, suffix) = next_chunk(layout);
        value = skip(value, prefix.as_bytes()).ok_or(BAD)?;
        let Some(std) = std else {
            if !value.is_empty() {
                return Err(ParseError("extra text after the layout"));
            }
            break;
        };
        layout = suffix;
        value = parse_element(std, value, layout, &mut f)?;
    }
    finish(f)
}

fn parse_element<'v>(
    std: Std,
    value: &'v [u8],
    layout: &str,
    f: &mut Fields,
) -> Result<&'v [u8], ParseError> {
    match std {
        Std::Hour
        | Std::Hour12
        | Std::ZeroHour12
        | Std::Minute
        | Std::ZeroMinute
        | Std::Second
        | Std::ZeroSecond
        | Std::PM
        | Std::Pm => parse_clock(std, value, layout, f),
        Std::TZ => parse_zone_name(value, f),
        Std::Frac(..) => parse_fraction(std, value, f),
        Std::Iso8601TZ
        | Std::Iso8601SecondsTZ
        | Std::Iso8601ShortTZ
        | Std::Iso8601ColonTZ
        | Std::Iso8601ColonSecondsTZ
        | Std::NumTZ
        | Std::NumSecondsTz
        | Std::NumShortTZ
        | Std::NumColonTZ
        | Std::NumColonSecondsTZ => parse_offset(std, value, f),
        _ => parse_date(std, value, f),
    }
}

/// The date elements: year, month, day, day of year, weekday.
fn parse_date<'v>(std: Std, value: &'v [u8], f: &mut Fields) -> Result<&'v [u8], ParseError> {
    match std {
        Std::Year => {
            if value.len() < 2 {
                return Err(BAD);
            }
            let y = atoi(&value[..2]).ok_or(BAD)?;
            f.year = if y >= 69 { y + 1900 } else { y + 2000 };
            Ok(&value[2..])
        }
        Std::LongYear => {
            if value.len() < 4 || !is_digit(value, 0) {
                return Err(BAD);
            }
            f.year = atoi(&value[..4]).ok_or(BAD)?;
            Ok(&value[4..])
        }
        Std::Month | Std::LongMonth => {
            let (m, rest) = lookup_name(&LONG_MONTHS, value, std == Std::Month).ok_or(BAD)?;
            f.month = m + 1;
            Ok(rest)
        }
        Std::NumMonth | Std::ZeroMonth => {
            let (m, rest) = getnum(value, std == Std::ZeroMonth).ok_or(BAD)?;
            if !(1..=12).contains(&m) {
                return Err(ParseError("month out of range"));
            }
            f.month = m;
            Ok(rest)
        }
        Std::WeekDay | Std::LongWeekDay => lookup_name(&LONG_DAYS, value, std == Std::WeekDay)
            .map(|(_, rest)| rest)
            .ok_or(BAD),
        Std::Day | Std::UnderDay | Std::ZeroDay => {
            let value = match value {
                [b' ', rest @ ..] if std == Std::UnderDay => rest,
                _ => value,
            };
            let (d, rest) = getnum(value, std == Std::ZeroDay).ok_or(BAD)?;
            f.day = d;
            Ok(rest)
        }
        Std::UnderYearDay | Std::ZeroYearDay => {
            let mut value = value;
            for _ in 0..2 {
                if std == Std::UnderYearDay && value.first() == Some(&b' ') {
                    value = &value[1..];
                }
            }
            let (d, rest) = getnum3(value, std == Std::ZeroYearDay).ok_or(BAD)?;
            f.yday = d;
            Ok(rest)
        }
        _ => Err(BAD),
    }
}

/// The clock elements: hours, minutes, seconds, AM/PM.
fn parse_clock<'v>(
    std: Std,
    value: &'v [u8],
    layout: &str,
    f: &mut Fields,
) -> Result<&'v [u8], ParseError> {
    let range = |what: &'static str| ParseError(what);
    match std {
        Std::Hour => {
            let (h, rest) = getnum(value, false).ok_or(BAD)?;
            if h >= 24 {
                return Err(range("hour out of range"));
            }
            f.hour = h;
            Ok(rest)
        }
        Std::Hour12 | Std::ZeroHour12 => {
            let (h, rest) = getnum(value, std == Std::ZeroHour12).ok_or(BAD)?;
            if h > 12 {
                return Err(range("hour out of range"));
            }
            f.hour = h;
            Ok(rest)
        }
        Std::Minute | Std::ZeroMinute => {
            let (m, rest) = getnum(value, std == Std::ZeroMinute).ok_or(BAD)?;
            if m >= 60 {
                return Err(range("minute out of range"));
            }
            f.min = m;
            Ok(rest)
        }
        Std::Second | Std::ZeroSecond => parse_second(std, value, layout, f),
        Std::PM | Std::Pm => {
            if value.len() < 2 {
                return Err(BAD);
            }
            let (upper, lower) = (b"PM".as_slice(), b"AM".as_slice());
            let p = &value[..2];
            let (pm_text, am_text) = if std == Std::PM {
                (upper, lower)
            } else {
                (b"pm".as_slice(), b"am".as_slice())
            };
            if p == pm_text {
                f.pm = true;
            } else if p == am_text {
                f.am = true;
            } else {
                return Err(BAD);
            }
            Ok(&value[2..])
        }
        _ => Err(BAD),
    }
}

/// `.000` (exactly that many digits) and `.999` (optional, any number of digits).
fn parse_fraction<'v>(std: Std, value: &'v [u8], f: &mut Fields) -> Result<&'v [u8], ParseError> {
    match std {
        Std::Frac(digits, _, false) => {
            let n = 1 + digits;
            if value.len() < n {
                return Err(BAD);
            }
            f.nsec = parse_nanos(value, n)?;
            Ok(&value[n..])
        }
        Std::Frac(_, _, true) => {
            if value.len() < 2 || !matches!(value[0], b'.' | b',') || !is_digit(value, 1) {
                return Ok(value);
            }
            let n = 1 + value[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            f.nsec = parse_nanos(value, n)?;
            Ok(&value[n..])
        }
        _ => Err(BAD),
    }
}

fn parse_second<'v>(
    std: Std,
    value: &'v [u8],
    layout: &str,
    f: &mut Fields,
) -> Result<&'v [u8], ParseError> {
    let (s, mut rest) = getnum(value, std == Std::ZeroSecond).ok_or(BAD)?;
    if s >= 60 {
        return Err(ParseError("second out of range"));
    }
    f.sec = s;
    // A fraction after the seconds is accepted even when the layout has none.
    if rest.len() >= 2 && matches!(rest[0], b'.' | b',') && is_digit(rest, 1) {
        if let (_, Some(Std::Frac(..)), _) = next_chunk(layout) {
            return Ok(rest);
        }
        let n = 2 + rest[2..].iter().take_while(|c| c.is_ascii_digit()).count();
        f.nsec = parse_nanos(rest, n)?;
        rest = &rest[n..];
    }
    Ok(rest)
}

fn parse_offset<'v>(std: Std, value: &'v [u8], f: &mut Fields) -> Result<&'v [u8], ParseError> {
    use Std::*;
    let iso = matches!(
        std,
        Iso8601TZ | Iso8601ShortTZ | Iso8601ColonTZ | Iso8601SecondsTZ | Iso8601ColonSecondsTZ
    );
    if iso && value.first() == Some(&b'Z') {
        f.utc = true;
        return Ok(&value[1..]);
    }
    // (length, positions of hour, minute, second; colons at)
    let (len, min_at, sec_at, colons): (usize, Option<usize>, Option<usize>, &[usize]) = match std {
        Iso8601ColonTZ | NumColonTZ => (6, Some(4), None, &[3]),
        NumShortTZ | Iso8601ShortTZ => (3, None, None, &[]),
        Iso8601ColonSecondsTZ | NumColonSecondsTZ => (9, Some(4), Some(7), &[3, 6]),
        Iso8601SecondsTZ | NumSecondsTz => (7, Some(3), Some(5), &[]),
        _ => (5, Some(3), None, &[]),
    };
    if value.len() < len || colons.iter().any(|&i| value[i] != b':') {
        return Err(BAD);
    }
    let two = |at: Option<usize>| match at {
        Some(i) => getnum(&value[i..i + 2], true).map(|(n, _)| n),
        None => Some(0),
    };
    let (hr, mm, ss) = match (two(Some(1)), two(min_at), two(sec_at)) {
        (Some(h), Some(m), Some(s)) => (h, m, s),
        _ => return Err(BAD),
    };
    if hr > 24 || mm > 60 || ss > 60 {
        return Err(ParseError("time zone offset out of range"));
    }
    let offset = ((hr * 60 + mm) * 60 + ss) as i32;
    f.zone_offset = Some(match value[0] {
        b'+' => offset,
        b'-' => -offset,
        _ => return Err(BAD),
    });
    Ok(&value[len..])
}

fn parse_zone_name<'v>(value: &'v [u8], f: &mut Fields) -> Result<&'v [u8], ParseError> {
    if value.starts_with(b"UTC") {
        f.utc = true;
        return Ok(&value[3..]);
    }
    let n = zone_name_len(value).ok_or(BAD)?;
    f.zone_name = String::from_utf8_lossy(&value[..n]).into_owned();
    Ok(&value[n..])
}

/// Go's `parseTimeZone`: how many bytes of `value` look like a zone abbreviation.
fn zone_name_len(value: &[u8]) -> Option<usize> {
    if value.len() < 3 {
        return None;
    }
    if value.starts_with(b"ChST") || value.starts_with(b"MeST") {
        return Some(4);
    }
    if value.starts_with(b"GMT") {
        return Some(3 + signed_offset_len(&value[3..]).unwrap_or(0));
    }
    if matches!(value[0], b'+' | b'-') {
        return signed_offset_len(value);
    }
    let upper = value
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_uppercase())
        .count();
    match upper {
        5 if value[4] == b'T' => Some(5),
        4 if value[3] == b'T' || value.starts_with(b"WITA") => Some(4),
        3 => Some(3),
        _ => None,
    }
}

/// Go's `parseSignedOffset`: a sign and up to 23 hours, as a length (None when invalid).
fn signed_offset_len(value: &[u8]) -> Option<usize> {
    let sign = *value.first()?;
    if sign != b'-' && sign != b'+' {
        return None;
    }
    let digits = value[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let x = value[1..1 + digits].iter().try_fold(0u64, |acc, c| {
        acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
    })?;
    (x <= 23).then_some(1 + digits)
}

/// Resolves the day of year, checks the date and picks the location (Go's `parse` tail).
fn finish(mut f: Fields) -> Result<GoTime, ParseError> {
    if f.pm && f.hour < 12 {
        f.hour += 12;
    } else if f.am && f.hour == 12 {
        f.hour = 0;
    }
    resolve_yday(&mut f)?;
    if f.day < 1 || f.day > i64::from(days_in(f.month as u32, f.year)) {
        return Err(ParseError("day out of range"));
    }
    let fields = Civil {
        year: f.year,
        month: f.month as u32,
        day: f.day as u32,
        hour: f.hour as u32,
        minute: f.min as u32,
        second: f.sec as u32,
        ..Civil::default()
    };
    let nsec = f.nsec as u32;
    if f.utc {
        return Ok(date(&fields, nsec, Zone::Utc));
    }
    if let Some(zone_offset) = f.zone_offset {
        let mut t = date(&fields, nsec, Zone::Utc);
        t.unix = t.unix.wrapping_sub(i64::from(zone_offset));
        let (name, offset) = Zone::Local.lookup(t.unix);
        t.zone = if offset == zone_offset && (f.zone_name.is_empty() || name == f.zone_name) {
            Zone::Local
        } else {
            Zone::Fixed(Arc::new((f.zone_name, zone_offset)))
        };
        return Ok(t);
    }
    if !f.zone_name.is_empty() {
        let mut t = date(&fields, nsec, Zone::Utc);
        if let Some(offset) = Zone::Local.lookup_name(&f.zone_name, t.unix) {
            t.unix = t.unix.wrapping_sub(i64::from(offset));
            t.zone = Zone::Local;
            return Ok(t);
        }
        let offset = match f.zone_name.strip_prefix("GMT") {
            Some(hours) if !hours.is_empty() => atoi(hours.as_bytes()).unwrap_or(0) as i32 * 3600,
            _ => 0,
        };
        t.zone = Zone::Fixed(Arc::new((f.zone_name, offset)));
        return Ok(t);
    }
    Ok(date(&fields, nsec, Zone::Local))
}

fn resolve_yday(f: &mut Fields) -> Result<(), ParseError> {
    if f.yday < 0 {
        if f.month < 0 {
            f.month = 1;
        }
        if f.day < 0 {
            f.day = 1;
        }
        return Ok(());
    }
    let (mut m, mut d) = (0, 0);
    if is_leap(f.year) {
        if f.yday == 31 + 29 {
            m = 2;
            d = 29;
        } else if f.yday > 31 + 29 {
            f.yday -= 1;
        }
    }
    if f.yday < 1 || f.yday > 365 {
        return Err(ParseError("day-of-year out of range"));
    }
    if m == 0 {
        m = (f.yday - 1) / 31 + 1;
        if days_before(m + 1) < f.yday {
            m += 1;
        }
        d = f.yday - days_before(m);
    }
    if f.month >= 0 && f.month != m {
        return Err(ParseError("day-of-year does not match month"));
    }
    f.month = m;
    if f.day >= 0 && f.day != d {
        return Err(ParseError("day-of-year does not match day"));
    }
    f.day = d;
    Ok(())
}

/// Days before the first of `month` in a non-leap year (Go's `daysBefore`).
fn days_before(month: i64) -> i64 {
    (1..month).map(|m| i64::from(days_in(m as u32, 1))).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(unix: i64, nsec: u32) -> GoTime {
        GoTime {
            unix,
            nsec,
            zone: Zone::Utc,
            mono: None,
        }
    }

    #[test]
    fn formats_every_element() {
        let t = utc(1_136_214_245, 123_400_000);
        assert_eq!(
            format(
                &t,
                "Mon Monday Jan January 1 01 2 02 _2 __2 002 15 3 03 4 04 5 05 06 2006 PM pm MST"
            ),
            "Mon Monday Jan January 1 01 2 02  2   2 002 15 3 03 4 04 5 05 06 2006 PM pm UTC"
        );
        assert_eq!(
            format(&t, ".000 .999 ,9 .000000000"),
            ".123 .123 ,1 .123400000"
        );
        assert_eq!(format(&t, "Z07:00 -07:00 -0700 Z"), "Z +00:00 +0000 Z");
        assert_eq!(format(&t, "Janet _2006"), "Janet _2006");
    }

    #[test]
    fn parses_what_it_formats() {
        let t = parse_in_local("2006-01-02T15:04:05.999Z07:00", "2020-02-29T12:30:45.5Z")
            .expect("parses");
        assert_eq!(
            format(&t, "2006-01-02 15:04:05.000 MST"),
            "2020-02-29 12:30:45.500 UTC"
        );
        assert!(parse_in_local("2006-01-02", "2021-02-29").is_err());
        assert!(parse_in_local("2006", "20x1").is_err());
        let yday = parse_in_local("2006 002", "2024 060").expect("day of year");
        assert_eq!(format(&yday, "01-02"), "02-29");
    }
}
