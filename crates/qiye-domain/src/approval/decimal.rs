//! Exact decimal numbers for `Number`, `Money` and `Formula` values and for
//! branch conditions. Never a float: a value is an integer count of
//! millionths, so `0.1 + 0.2 == 0.3` holds and every result is reproducible.

use std::fmt;
use std::str::FromStr;

/// Digits kept after the decimal point.
pub const DECIMAL_PLACES: u32 = 6;
const SCALE: i128 = 1_000_000;
/// Largest magnitude a value may have: 10^15 (a quadrillion), far beyond any
/// amount a form carries, and small enough that products never overflow.
const MAX_UNITS: i128 = 1_000_000_000_000_000 * SCALE;

/// Why a decimal could not be read or computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not a decimal number (`-12.5`, `700`, `0.25` are).
    #[error("not a decimal number")]
    Syntax,
    /// More than six digits after the point.
    #[error("at most {DECIMAL_PLACES} digits after the decimal point")]
    TooPrecise,
    /// Beyond ±10^15.
    #[error("number out of range")]
    OutOfRange,
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
}

/// A decimal number with six fixed fractional digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Decimal(i128);

impl Decimal {
    /// Zero.
    pub const ZERO: Decimal = Decimal(0);
    /// One.
    pub const ONE: Decimal = Decimal(SCALE);

    /// A whole number.
    pub fn from_int(n: i64) -> Self {
        Decimal(i128::from(n) * SCALE)
    }

    /// `units / 10^places`, e.g. `from_scaled(1250, 2)` is 12.50.
    pub fn from_scaled(units: i64, places: u32) -> Result<Self, DecimalError> {
        if places > DECIMAL_PLACES {
            return Err(DecimalError::TooPrecise);
        }
        Self::checked(i128::from(units) * 10i128.pow(DECIMAL_PLACES - places))
    }

    fn checked(units: i128) -> Result<Self, DecimalError> {
        if units.abs() > MAX_UNITS {
            Err(DecimalError::OutOfRange)
        } else {
            Ok(Decimal(units))
        }
    }

    /// Digits after the point that are not zero (0 for a whole number).
    pub fn places(self) -> u32 {
        let mut frac = (self.0 % SCALE).abs();
        if frac == 0 {
            return 0;
        }
        let mut places = DECIMAL_PLACES;
        while frac % 10 == 0 {
            frac /= 10;
            places -= 1;
        }
        places
    }

    /// The value as an integer count of `10^-places`, if it has no more
    /// digits than that (`12.5` at 2 places is 1250).
    pub fn to_scaled(self, places: u32) -> Option<i64> {
        if places > DECIMAL_PLACES || self.places() > places {
            return None;
        }
        i64::try_from(self.0 / 10i128.pow(DECIMAL_PLACES - places)).ok()
    }

    /// Sum.
    pub fn checked_add(self, other: Self) -> Result<Self, DecimalError> {
        Self::checked(self.0 + other.0)
    }

    /// Difference.
    pub fn checked_sub(self, other: Self) -> Result<Self, DecimalError> {
        Self::checked(self.0 - other.0)
    }

    /// Product, rounded half away from zero to six places.
    pub fn checked_mul(self, other: Self) -> Result<Self, DecimalError> {
        // |a|, |b| <= 10^21: a * (b div S) <= 10^36 and a * (b mod S) <= 10^27,
        // both well inside i128.
        let whole = self.0 * (other.0 / SCALE);
        let frac = round_div(self.0 * (other.0 % SCALE), SCALE);
        Self::checked(whole + frac)
    }

    /// Quotient, rounded half away from zero to six places.
    pub fn checked_div(self, other: Self) -> Result<Self, DecimalError> {
        if other.0 == 0 {
            return Err(DecimalError::DivisionByZero);
        }
        Self::checked(round_div(self.0 * SCALE, other.0))
    }

    /// Whether the value is below zero.
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl std::ops::Neg for Decimal {
    type Output = Decimal;

    fn neg(self) -> Decimal {
        Decimal(-self.0)
    }
}

/// `n / d` rounded half away from zero.
fn round_div(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if 2 * r.abs() >= d.abs() {
        if (n < 0) == (d < 0) { q + 1 } else { q - 1 }
    } else {
        q
    }
}

impl FromStr for Decimal {
    type Err = DecimalError;

    /// Reads `-?digits(.digits)?`; surrounding spaces are allowed, a
    /// leading `+`, exponents and thousands separators are not.
    fn from_str(raw: &str) -> Result<Self, DecimalError> {
        let s = raw.trim();
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) || (s.contains('.') && frac.is_empty()) {
            return Err(DecimalError::Syntax);
        }
        if frac.len() > DECIMAL_PLACES as usize {
            return Err(DecimalError::TooPrecise);
        }
        let int = int.trim_start_matches('0');
        if int.len() > 16 {
            return Err(DecimalError::OutOfRange);
        }
        let int_units: i128 = if int.is_empty() {
            0
        } else {
            int.parse::<i128>().map_err(|_| DecimalError::Syntax)?
        };
        let mut frac_units: i128 = 0;
        for (i, b) in frac.bytes().enumerate() {
            frac_units += i128::from(b - b'0') * 10i128.pow(DECIMAL_PLACES - 1 - i as u32);
        }
        let units = int_units * SCALE + frac_units;
        Self::checked(if negative { -units } else { units })
    }
}

impl fmt::Display for Decimal {
    /// The shortest exact form: `700`, `12.5`, `-0.25`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.abs();
        let int = abs / SCALE;
        let frac = abs % SCALE;
        if frac == 0 {
            return write!(f, "{sign}{int}");
        }
        let frac = format!("{frac:06}");
        write!(f, "{sign}{int}.{}", frac.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[rstest]
    #[case("700", "700")]
    #[case("0700.50", "700.5")]
    #[case("-0.25", "-0.25")]
    #[case(" 3 ", "3")]
    #[case("0.000001", "0.000001")]
    #[case("-0", "0")]
    fn parses_and_prints(#[case] raw: &str, #[case] shown: &str) {
        assert_eq!(d(raw).to_string(), shown);
    }

    #[rstest]
    #[case("", DecimalError::Syntax)]
    #[case("1e5", DecimalError::Syntax)]
    #[case("+1", DecimalError::Syntax)]
    #[case("1.", DecimalError::Syntax)]
    #[case(".5", DecimalError::Syntax)]
    #[case("1,000", DecimalError::Syntax)]
    #[case("NaN", DecimalError::Syntax)]
    #[case("1.0000001", DecimalError::TooPrecise)]
    #[case("10000000000000000", DecimalError::OutOfRange)]
    fn refuses(#[case] raw: &str, #[case] err: DecimalError) {
        assert_eq!(raw.parse::<Decimal>(), Err(err));
    }

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(d("0.1").checked_add(d("0.2")).unwrap(), d("0.3"));
        assert_eq!(d("12.5").checked_mul(d("4")).unwrap(), d("50"));
        assert_eq!(d("1").checked_div(d("3")).unwrap(), d("0.333333"));
        assert_eq!(d("2").checked_div(d("3")).unwrap(), d("0.666667"));
        assert_eq!(d("-2").checked_div(d("3")).unwrap(), d("-0.666667"));
        assert_eq!(
            d("1").checked_div(Decimal::ZERO),
            Err(DecimalError::DivisionByZero)
        );
        let big = d("999999999999999");
        assert_eq!(big.checked_mul(big), Err(DecimalError::OutOfRange));
        assert_eq!(big.checked_add(big), Err(DecimalError::OutOfRange));
    }

    #[test]
    fn scaled_round_trip() {
        assert_eq!(d("12.5").to_scaled(2), Some(1250));
        assert_eq!(d("12.505").to_scaled(2), None);
        assert_eq!(Decimal::from_scaled(1250, 2).unwrap(), d("12.5"));
        assert_eq!(d("12.505").places(), 3);
    }

    proptest! {
        #[test]
        fn display_parses_back(units in -MAX_UNITS..=MAX_UNITS) {
            let v = Decimal(units);
            prop_assert_eq!(v.to_string().parse::<Decimal>(), Ok(v));
        }

        #[test]
        fn operations_never_panic_and_agree(a in any::<i128>(), b in any::<i128>()) {
            let a = Decimal(a % (MAX_UNITS + 1));
            let b = Decimal(b % (MAX_UNITS + 1));
            match a.checked_add(b) {
                Ok(sum) => prop_assert_eq!(sum.checked_sub(b), Ok(a)),
                Err(e) => prop_assert_eq!(e, DecimalError::OutOfRange),
            }
            match a.checked_div(b) {
                Err(DecimalError::DivisionByZero) => prop_assert_eq!(b, Decimal::ZERO),
                Ok(q) => prop_assert!(q == Decimal::ZERO || (q.is_negative() == (a.is_negative() != b.is_negative()))),
                Err(e) => prop_assert_eq!(e, DecimalError::OutOfRange),
            }
            if let Ok(p) = a.checked_mul(b) {
                prop_assert!(p == Decimal::ZERO || (p.is_negative() == (a.is_negative() != b.is_negative())));
                prop_assert_eq!(a.checked_mul(b), b.checked_mul(a));
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}") {
            let _ = s.parse::<Decimal>();
        }
    }
}
