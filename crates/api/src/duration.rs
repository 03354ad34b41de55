//! Go's duration syntax (`time.ParseDuration`), which ESO manifests use for
//! `refreshInterval`: `1h`, `15m0s`, `1.5h`, `300ms`, `0`.

use std::time::Duration;

/// Parses a Go duration. Negative durations are refused: no interval can be negative.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("'{text}' is not a duration like 1h, 15m0s or 30s");
    let rest = text.strip_prefix('+').unwrap_or(text);
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() || rest.starts_with('-') {
        return Err(invalid());
    }
    let mut total = 0f64;
    let mut rest = rest;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, after) = rest.split_at(number_end);
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        total += value * unit_seconds(unit).ok_or_else(invalid)?;
        rest = next;
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1e-9,
        "us" | "µs" | "μs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let secs = |text: &str| parse_go_duration(text).map(|d| d.as_secs_f64());
        assert_eq!(secs("1h"), Ok(3600.0));
        assert_eq!(secs("1h0m0s"), Ok(3600.0));
        assert_eq!(secs("15m30s"), Ok(930.0));
        assert_eq!(secs("1.5h"), Ok(5400.0));
        assert_eq!(secs("300ms"), Ok(0.3));
        assert_eq!(secs("0"), Ok(0.0));
        assert_eq!(secs("0s"), Ok(0.0));
        for bad in ["", "1", "-1h", "1d", "h", "1h-", "."] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }
}
