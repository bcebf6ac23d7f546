//! The arithmetic a decomposition lives in, and exact coefficients.

use num_rational::Ratio;
use num_traits::{Signed, Zero};
use std::fmt;
use std::str::FromStr;

/// An exact coefficient. Integers (Z, Z2) have denominator 1; imported Q
/// files may hold any rational. i128 with checked arithmetic leaves ample
/// headroom for verification sums, and overflow is reported, never wrapped.
pub type Coeff = Ratio<i128>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// Integer coefficients, exact over every ring.
    Z,
    /// Arithmetic modulo 2.
    Z2,
    /// Rational coefficients.
    Q,
}

impl Field {
    pub const ALL: [Field; 3] = [Field::Z, Field::Z2, Field::Q];

    /// The spelling used in decomposition files.
    pub fn name(self) -> &'static str {
        match self {
            Field::Z => "Z",
            Field::Z2 => "Z2",
            Field::Q => "Q",
        }
    }

    /// Whether the field only admits integer coefficients.
    pub fn integral(self) -> bool {
        !matches!(self, Field::Q)
    }

    /// Brings a value into the field's canonical form (mod 2 for Z2).
    /// `None` when the value has no meaning in the field (a fraction in Z or Z2).
    pub fn reduce(self, x: &Coeff) -> Option<Coeff> {
        match self {
            Field::Q => Some(*x),
            Field::Z => x.is_integer().then_some(*x),
            Field::Z2 => x
                .is_integer()
                .then(|| Coeff::from_integer(x.to_integer().rem_euclid(2))),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Field {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "z" => Ok(Field::Z),
            "z2" | "gf2" | "f2" => Ok(Field::Z2),
            "q" => Ok(Field::Q),
            _ => Err(format!("unknown field '{s}': expected Z, Z2 or Q")),
        }
    }
}

/// Files and checkpoints spell a field as decomposition files do: "Z",
/// "Z2", "Q" (any case is read).
impl serde::Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The least common multiple of the denominators of `xs` (1 for none);
/// `None` when it leaves i128.
pub fn common_denominator<'a>(xs: impl IntoIterator<Item = &'a Coeff>) -> Option<i128> {
    xs.into_iter().try_fold(1i128, |acc, x| {
        let d = *x.denom();
        (acc / num_integer::Integer::gcd(&acc, &d)).checked_mul(d)
    })
}

/// Parses an exact coefficient from its text: an integer (`-2`), a decimal
/// (`0.5`, `-1.25e-1`) or a fraction (`1/3`). Decimals are read exactly,
/// never through floating point.
pub fn parse_coeff(text: &str) -> Result<Coeff, String> {
    let t = text.trim();
    let bad = || format!("'{text}' is not a number");
    let too_big = || format!("'{text}' is too large (it leaves 128-bit integers)");
    let too_fine = || {
        format!("'{text}' is too small to hold exactly (its denominator leaves 128-bit integers)")
    };
    // An integer of a fraction: "not a number" only when it is not one.
    let integer = |part: &str, what: &str| -> Result<i128, String> {
        match part.trim().parse::<i128>() {
            // i128::MIN has no negation, which a fraction's sign needs.
            Ok(i128::MIN) => Err(format!("'{text}': its {what} leaves 128-bit integers")),
            Ok(x) => Ok(x),
            Err(e) => match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    Err(format!("'{text}': its {what} leaves 128-bit integers"))
                }
                _ => Err(bad()),
            },
        }
    };
    if let Some((num, den)) = t.split_once('/') {
        let num = integer(num, "numerator")?;
        let den = integer(den, "denominator")?;
        if den == 0 {
            return Err(format!("'{text}' has a zero denominator"));
        }
        return Ok(Coeff::new(num, den));
    }
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(pos) => {
            let e = &t[pos + 1..];
            let exponent = match e.parse::<i32>() {
                Ok(x) => x,
                Err(err) => match err.kind() {
                    std::num::IntErrorKind::PosOverflow => return Err(too_big()),
                    std::num::IntErrorKind::NegOverflow => return Err(too_fine()),
                    _ => return Err(bad()),
                },
            };
            (&t[..pos], exponent)
        }
        None => (t, 0),
    };
    let (negative, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let mut value: i128 = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add((b - b'0') as i128))
            .ok_or_else(too_big)?;
    }
    if value == 0 {
        return Ok(Coeff::from_integer(0));
    }
    let scale = exponent as i64 - frac_part.len() as i64;
    let mut q = if scale >= 0 {
        let pow10 = u32::try_from(scale)
            .ok()
            .and_then(|e| 10i128.checked_pow(e))
            .ok_or_else(too_big)?;
        Coeff::from_integer(value.checked_mul(pow10).ok_or_else(too_big)?)
    } else {
        let pow10 = u32::try_from(-scale)
            .ok()
            .and_then(|e| 10i128.checked_pow(e))
            .ok_or_else(too_fine)?;
        Coeff::new(value, pow10)
    };
    if negative {
        q = -q;
    }
    Ok(q)
}

/// Writes a coefficient so that `parse_coeff` reads it back exactly:
/// integers plainly, terminating decimals as decimals, the rest as `p/q`.
pub fn format_coeff(x: &Coeff) -> String {
    if x.is_integer() {
        return x.to_integer().to_string();
    }
    match terminating_decimal(x) {
        Some(s) => s,
        None => format!("{}/{}", x.numer(), x.denom()),
    }
}

/// `Some("0.125")` when the denominator has only the prime factors 2 and 5.
fn terminating_decimal(x: &Coeff) -> Option<String> {
    let mut den = *x.denom();
    let (mut twos, mut fives) = (0u32, 0u32);
    while den % 2 == 0 {
        den /= 2;
        twos += 1;
    }
    while den % 5 == 0 {
        den /= 5;
        fives += 1;
    }
    if den != 1 {
        return None;
    }
    let digits = twos.max(fives);
    let scaled = x.abs() * Coeff::from_integer(10i128.checked_pow(digits)?);
    let scaled = scaled.to_integer().to_string();
    let padded = format!("{scaled:0>width$}", width = digits as usize + 1);
    let (int_part, frac_part) = padded.split_at(padded.len() - digits as usize);
    let sign = if x.is_negative() { "-" } else { "" };
    Some(format!("{sign}{int_part}.{frac_part}"))
}

/// True when `x` is zero in `field` (e.g. 2 in Z2).
pub fn is_zero_in(field: Field, x: &Coeff) -> bool {
    field.reduce(x).is_some_and(|r| r.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(parse_coeff("-2").unwrap(), Coeff::from_integer(-2));
        assert_eq!(parse_coeff("0.5").unwrap(), Coeff::new(1, 2));
        assert_eq!(parse_coeff("-0.125").unwrap(), Coeff::new(-1, 8));
        assert_eq!(parse_coeff("0.1").unwrap(), Coeff::new(1, 10));
        assert_eq!(parse_coeff("1.5e1").unwrap(), Coeff::from_integer(15));
        assert_eq!(parse_coeff("25e-2").unwrap(), Coeff::new(1, 4));
        assert_eq!(parse_coeff("1/3").unwrap(), Coeff::new(1, 3));
        assert_eq!(parse_coeff("2.0").unwrap(), Coeff::from_integer(2));
        for bad in ["", "-", ".", "x", "1/0", "1..2", "--1", "1e", "0x10"] {
            assert!(parse_coeff(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn out_of_range_values_are_named_for_what_they_are() {
        let says = |text: &str, words: &str| {
            let e = parse_coeff(text).unwrap_err();
            assert!(e.contains(words), "{text}: {e}");
        };
        says("1e-400", "too small to hold exactly");
        says("1e-99999999999", "too small to hold exactly");
        says("0.000000000000000000000000000000000000000001", "too small");
        says("1e400", "too large");
        says("123456789012345678901234567890123456789012", "too large");
        says(
            "1/340282366920938463463374607431768211457",
            "denominator leaves 128-bit",
        );
        says(
            "340282366920938463463374607431768211457/3",
            "numerator leaves 128-bit",
        );
        says(
            "1/-170141183460469231731687303715884105728",
            "denominator leaves 128-bit",
        );
        says("1/x", "is not a number");
        assert_eq!(parse_coeff("0e-400").unwrap(), Coeff::from_integer(0));
        assert_eq!(parse_coeff("1e-38").unwrap(), Coeff::new(1, 10i128.pow(38)));
    }

    #[test]
    fn formats_round_trip() {
        for x in [
            Coeff::from_integer(-3),
            Coeff::new(1, 2),
            Coeff::new(-1, 8),
            Coeff::new(-7, 40),
            Coeff::new(2, 3),
            Coeff::new(-1, 1000),
        ] {
            let s = format_coeff(&x);
            assert_eq!(parse_coeff(&s).unwrap(), x, "{s}");
        }
        assert_eq!(format_coeff(&Coeff::new(-1, 8)), "-0.125");
        assert_eq!(format_coeff(&Coeff::new(2, 3)), "2/3");
    }

    #[test]
    fn reduces_per_field() {
        let m1 = Coeff::from_integer(-1);
        assert_eq!(Field::Z2.reduce(&m1), Some(Coeff::from_integer(1)));
        assert_eq!(Field::Z.reduce(&m1), Some(m1));
        assert_eq!(Field::Z.reduce(&Coeff::new(1, 2)), None);
        assert_eq!(Field::Z2.reduce(&Coeff::new(1, 2)), None);
        assert!(is_zero_in(Field::Z2, &Coeff::from_integer(2)));
        assert!(!is_zero_in(Field::Z, &Coeff::from_integer(2)));
    }
}
