//! Go's `time.Duration`: its `String` form and `time.ParseDuration`. Part of the time model
//! (printing a `time.Duration` value needs it), used by Sprig's `duration`, `durationRound`,
//! `ago` and `dateModify`.

const SECOND: u64 = 1_000_000_000;

/// Go's `time.Duration.String`.
pub(crate) fn format_duration(d: i64) -> String {
    let mut u = d.unsigned_abs();
    let mut out = String::new();
    if u < SECOND {
        let (prec, unit) = match u {
            0 => return "0s".to_owned(),
            1..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        let (frac, whole) = fraction(u, prec);
        out = format!("{whole}{frac}{unit}");
    } else {
        let (frac, whole) = fraction(u, 9);
        u = whole;
        let mut text = format!("{}{frac}s", u % 60);
        u /= 60;
        if u > 0 {
            text = format!("{}m{text}", u % 60);
            u /= 60;
            if u > 0 {
                text = format!("{u}h{text}");
            }
        }
        out.push_str(&text);
    }
    if d < 0 {
        out.insert(0, '-');
    }
    out
}

/// Go's `fmtFrac`: the last `prec` digits of `v` as a fraction without trailing zeros, and
/// `v` with them removed.
fn fraction(v: u64, prec: u32) -> (String, u64) {
    let scale = 10u64.pow(prec);
    let digits = format!("{:0width$}", v % scale, width = prec as usize);
    let trimmed = digits.trim_end_matches('0');
    let frac = if trimmed.is_empty() {
        String::new()
    } else {
        format!(".{trimmed}")
    };
    (frac, v / scale)
}

/// Go's `time.ParseDuration`: `[-+]` then one or more decimal numbers with a unit.
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (value, after) = component(rest)?;
        total = total.checked_add(value)?;
        if total > 1u128 << 63 {
            return None;
        }
        rest = after;
    }
    if negative {
        Some((total as i128).wrapping_neg() as i64)
    } else if total > i64::MAX as u128 {
        None
    } else {
        Some(total as i64)
    }
}

/// One `number[.fraction]unit` component in nanoseconds.
fn component(s: &str) -> Option<(u128, &str)> {
    let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
    let (int_part, mut rest) = s.split_at(int_len);
    let mut frac_part = "";
    if let Some(after_dot) = rest.strip_prefix('.') {
        let n = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        frac_part = &after_dot[..n];
        rest = &after_dot[n..];
    }
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let unit_len = rest
        .find(|c: char| c == '.' || c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (unit, rest) = rest.split_at(unit_len);
    let scale: u128 = match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    };
    let whole: u128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().ok()?
    };
    if whole > 1u128 << 63 {
        return None;
    }
    let mut value = whole.checked_mul(scale)?;
    if value > 1u128 << 63 {
        return None;
    }
    let mut divisor = 1u128;
    let mut frac_value = 0u128;
    for digit in frac_part.bytes().take(30) {
        frac_value = frac_value * 10 + u128::from(digit - b'0');
        divisor *= 10;
    }
    value += frac_value * scale / divisor;
    Some((value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(95 * SECOND as i64), "1m35s");
        assert_eq!(format_duration(-3_661 * SECOND as i64), "-1h1m1s");
        assert_eq!(format_duration(1_500), "1.5µs");
        assert_eq!(format_duration(1_500_000_000), "1.5s");
        assert_eq!(parse_duration("1h30m"), Some(5_400 * SECOND as i64));
        assert_eq!(parse_duration("1.5h"), Some(5_400 * SECOND as i64));
        assert_eq!(parse_duration("-300ms"), Some(-300_000_000));
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration(""), None);
    }
}
