//! Sprig's float arithmetic (`addf`, `subf`, `mulf`, `divf`, `add1f`), which goes through
//! shopspring/decimal: each operand becomes the shortest decimal that reads back as the same
//! float, the operation is exact (division: 16 decimal places, half away from zero), and the
//! result is parsed back into a float.

use super::to_float64;
use crate::registry::{FuncMap, Param};
use crate::value::Value;

/// `mantissa × 10^exponent`.
#[derive(Clone, Copy)]
struct Decimal {
    mantissa: i128,
    exponent: i32,
}

impl Decimal {
    /// `decimal.NewFromFloat`: the shortest round-tripping digits.
    fn from_float(f: f64) -> Option<Decimal> {
        if !f.is_finite() {
            return None;
        }
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e')?;
        let exponent: i32 = exponent.parse().ok()?;
        let fraction_digits = mantissa.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
        let digits: i128 = mantissa.replace('.', "").parse().ok()?;
        Some(Decimal {
            mantissa: digits,
            exponent: exponent - fraction_digits,
        })
    }

    fn to_float(self) -> f64 {
        format!("{}e{}", self.mantissa, self.exponent)
            .parse()
            .unwrap_or(f64::NAN)
    }

    /// Both mantissas at the smaller exponent.
    fn aligned(self, other: Decimal) -> Option<(i128, i128, i32)> {
        let exponent = self.exponent.min(other.exponent);
        let scale = |d: Decimal| -> Option<i128> {
            let shift = u32::try_from(d.exponent - exponent).ok()?;
            d.mantissa.checked_mul(10i128.checked_pow(shift)?)
        };
        Some((scale(self)?, scale(other)?, exponent))
    }

    fn add(self, other: Decimal) -> Option<Decimal> {
        let (a, b, exponent) = self.aligned(other)?;
        Some(Decimal {
            mantissa: a.checked_add(b)?,
            exponent,
        })
    }

    fn sub(self, other: Decimal) -> Option<Decimal> {
        self.add(Decimal {
            mantissa: other.mantissa.checked_neg()?,
            exponent: other.exponent,
        })
    }

    fn mul(self, other: Decimal) -> Option<Decimal> {
        Some(Decimal {
            mantissa: self.mantissa.checked_mul(other.mantissa)?,
            exponent: self.exponent.checked_add(other.exponent)?,
        })
    }

    /// `DivRound(other, 16)`.
    fn div(self, other: Decimal) -> Option<Decimal> {
        if other.mantissa == 0 {
            return None;
        }
        // quotient × 10^16 = a × 10^(ea - eb + 16) / b, computed with one extra digit to round.
        let shift = self.exponent - other.exponent + 17;
        let (numerator, denominator) = if shift >= 0 {
            (
                self.mantissa
                    .checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?,
                other.mantissa,
            )
        } else {
            (
                self.mantissa,
                other
                    .mantissa
                    .checked_mul(10i128.checked_pow(shift.unsigned_abs())?)?,
            )
        };
        let tenfold = numerator / denominator;
        let remainder_digit = tenfold % 10;
        let mut quotient = tenfold / 10;
        if remainder_digit.abs() >= 5 {
            quotient += tenfold.signum();
        }
        Some(Decimal {
            mantissa: quotient,
            exponent: -16,
        })
    }
}

type Op = fn(Decimal, Decimal) -> Option<Decimal>;
type FloatOp = fn(f64, f64) -> f64;

/// Folds `args` with `op`, falling back to float arithmetic where the exact decimal would
/// not fit.
fn fold(first: f64, rest: impl Iterator<Item = f64>, op: Op, fallback: FloatOp) -> f64 {
    let mut exact = Decimal::from_float(first);
    let mut approximate = first;
    for x in rest {
        approximate = fallback(exact.map_or(approximate, Decimal::to_float), x);
        exact = exact
            .zip(Decimal::from_float(x))
            .and_then(|(a, b)| op(a, b));
    }
    exact.map_or(approximate, Decimal::to_float)
}

pub(crate) fn register(map: &mut FuncMap) {
    use Param::Any;
    map.add("add1f", &[Any], None, |a| {
        Ok(Value::Float(fold(
            to_float64(&a[0]),
            [1.0].into_iter(),
            Decimal::add,
            |x, y| x + y,
        )))
    });
    map.add("addf", &[], Some(Any), |a| {
        Ok(Value::Float(fold(
            0.0,
            a.iter().map(to_float64),
            Decimal::add,
            |x, y| x + y,
        )))
    });
    map.add("subf", &[Any], Some(Any), |a| {
        Ok(Value::Float(fold(
            to_float64(&a[0]),
            a[1..].iter().map(to_float64),
            Decimal::sub,
            |x, y| x - y,
        )))
    });
    map.add("mulf", &[Any], Some(Any), |a| {
        Ok(Value::Float(fold(
            to_float64(&a[0]),
            a[1..].iter().map(to_float64),
            Decimal::mul,
            |x, y| x * y,
        )))
    });
    map.add("divf", &[Any], Some(Any), |a| {
        if a[1..].iter().any(|v| to_float64(v) == 0.0) {
            return Err("decimal division by 0".to_owned());
        }
        Ok(Value::Float(fold(
            to_float64(&a[0]),
            a[1..].iter().map(to_float64),
            Decimal::div,
            |x, y| x / y,
        )))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_arithmetic_avoids_float_noise() {
        assert_eq!(
            fold(0.1, [0.2].into_iter(), Decimal::add, |x, y| x + y),
            0.3
        );
        assert_eq!(
            fold(1.0, [3.0].into_iter(), Decimal::div, |x, y| x / y),
            0.3333333333333333
        );
        assert_eq!(
            fold(2.0, [3.0].into_iter(), Decimal::div, |x, y| x / y),
            0.6666666666666667
        );
    }
}
