//! The numbers of an exported function: per product, the integer (or
//! floating-point) coefficients of its two sums; per output entry, its
//! weights over the products and how the sum is finished.
//!
//! Exactness by construction. C and Rust work in 64-bit two's-complement
//! arithmetic, which is the ring Z/2^64: every intermediate may wrap, and
//! nothing is lost as long as the *result* fits. A rational coefficient
//! x = 2^t·a/o (a, o odd) lives in that ring up to its power of two, since
//! o is invertible mod 2^64. So each output is computed as 2^e·c mod 2^64,
//! with e the largest power of two any of its denominators needs, and
//! recovered as the signed value divided exactly by 2^e. That is exact
//! whenever |2^e·c| < 2^63; with |c| ≤ m·B² for entries bounded by B, the
//! input bound follows from the shape and the powers of two alone, never
//! from the size of the coefficients or how many terms a sum has.
//! Python's integers are unbounded, so Python divides each output exactly
//! by its own common denominator instead.

use super::super::decomposition::Decomposition;
use super::super::field::{common_denominator, Coeff, Field};
use anyhow::{bail, Result};
use num_traits::Zero;

/// One coefficient as it is written in the code.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Literal {
    /// An integer; in wrapping plans the signed representative mod 2^64.
    Int(i128),
    Float(f64),
}

/// Nonzero (coefficient, index) pairs of a sum.
pub type Combination = Vec<(Literal, usize)>;

/// How an output's sum of weighted products becomes the entry of C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// Z2: the low bit.
    Parity,
    /// Wrapping arithmetic: the signed 64-bit value divided exactly by 2^shift.
    Signed { shift: u32 },
    /// Unbounded integers: divided exactly by this denominator (1: as is).
    Divide(i128),
    /// Floating point: as is.
    Float,
}

/// Which arithmetic the code uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    /// Exact: wrapping 64-bit integers (C, Rust) or unbounded ones (Python).
    Exact,
    /// Doubles, with each rational constant rounded to the nearest f64.
    F64,
}

pub struct Plan {
    /// Per product r: the sums over a and over b it multiplies.
    pub left: Vec<Combination>,
    pub right: Vec<Combination>,
    /// Whether the code works in floating point.
    pub float: bool,
    /// Per output entry: weights over the products, and the finish.
    pub outputs: Vec<(Combination, Finish)>,
    /// The largest |entry| of A and B for which the code is exact, when
    /// there is one (wrapping plans over Z and Q).
    pub bound: Option<u64>,
}

/// Whether the plan uses 64-bit wrapping arithmetic (C and Rust) or
/// unbounded integers (Python).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integers {
    Wrapping64,
    Unbounded,
}

pub fn plan(d: &Decomposition, arith: Arith, integers: Integers) -> Result<Plan> {
    let reduce = |x: &Coeff| d.field.reduce(x).expect("coefficients are checked on load");
    let rows = |f: &[Vec<Coeff>]| -> Vec<Vec<Coeff>> {
        f.iter().map(|r| r.iter().map(reduce).collect()).collect()
    };
    let (u, v, w) = (rows(&d.u), rows(&d.v), rows(&d.w));
    match (arith, d.field) {
        (Arith::F64, Field::Z2) => {
            bail!("--arith f64 is for Z and Q schemes; a Z2 export is exact in integers")
        }
        (Arith::F64, _) => Ok(direct_plan(
            &u,
            &v,
            &w,
            |x| Literal::Float(nearest_f64(x)),
            Finish::Float,
        )),
        (Arith::Exact, Field::Z2) => Ok(direct_plan(
            &u,
            &v,
            &w,
            |x| Literal::Int(x.to_integer()),
            Finish::Parity,
        )),
        (Arith::Exact, _) => match integers {
            Integers::Wrapping64 => wrapping_plan(d, &u, &v, &w),
            Integers::Unbounded => unbounded_plan(&u, &v, &w),
        },
    }
}

fn combination(row: &[Coeff], literal: impl Fn(&Coeff) -> Literal) -> Combination {
    row.iter()
        .enumerate()
        .filter(|(_, x)| !x.is_zero())
        .map(|(i, x)| (literal(x), i))
        .collect()
}

/// Weights of output k over the products, from the w rows.
fn column(w: &[Vec<Coeff>], k: usize) -> Vec<Coeff> {
    w.iter().map(|row| row[k]).collect()
}

/// Every coefficient written as `lit` gives it, every output finished
/// alike: doubles, or integers reduced mod 2 at the end.
fn direct_plan(
    u: &[Vec<Coeff>],
    v: &[Vec<Coeff>],
    w: &[Vec<Coeff>],
    lit: impl Fn(&Coeff) -> Literal + Copy,
    finish: Finish,
) -> Plan {
    let lc = w.first().map_or(0, |r| r.len());
    Plan {
        left: u.iter().map(|r| combination(r, lit)).collect(),
        right: v.iter().map(|r| combination(r, lit)).collect(),
        outputs: (0..lc)
            .map(|k| (combination(&column(w, k), lit), finish))
            .collect(),
        bound: None,
        float: finish == Finish::Float,
    }
}

/// The 2-adic valuation of a nonzero rational (negative for even denominators).
fn valuation(x: &Coeff) -> i64 {
    x.numer().trailing_zeros() as i64 - x.denom().trailing_zeros() as i64
}

/// The inverse of an odd number modulo 2^128 (Newton's iteration doubles
/// the correct low bits each step: 1 → 128 in 7 steps).
fn inverse_mod_2_128(odd: u128) -> u128 {
    let mut x = odd;
    for _ in 0..7 {
        x = x.wrapping_mul(2u128.wrapping_sub(odd.wrapping_mul(x)));
    }
    x
}

/// x·2^shift modulo 2^64 as a signed value; x·2^shift must have an odd
/// denominator (a 2-adic integer).
fn residue(x: &Coeff, shift: i64) -> i64 {
    let (numer, denom) = (*x.numer(), *x.denom());
    let power = valuation(x) + shift;
    debug_assert!(power >= 0, "{x}·2^{shift} is not a 2-adic integer");
    let odd_numer = (numer >> numer.trailing_zeros()) as u128;
    let odd_denom = (denom >> denom.trailing_zeros()) as u128;
    let odd = odd_numer.wrapping_mul(inverse_mod_2_128(odd_denom));
    let value = if power >= 128 { 0 } else { odd << power };
    value as u64 as i64
}

fn wrapping_plan(
    d: &Decomposition,
    u: &[Vec<Coeff>],
    v: &[Vec<Coeff>],
    w: &[Vec<Coeff>],
) -> Result<Plan> {
    // Powers of two that make each u and v row a 2-adic integer row.
    let need = |row: &[Coeff]| -> i64 {
        row.iter()
            .filter(|x| !x.is_zero())
            .map(|x| -valuation(x))
            .max()
            .unwrap_or(0)
            .max(0)
    };
    let eu: Vec<i64> = u.iter().map(|r| need(r)).collect();
    let ev: Vec<i64> = v.iter().map(|r| need(r)).collect();
    let left = u
        .iter()
        .zip(&eu)
        .map(|(r, &e)| combination(r, |x| Literal::Int(residue(x, e) as i128)))
        .collect();
    let right = v
        .iter()
        .zip(&ev)
        .map(|(r, &e)| combination(r, |x| Literal::Int(residue(x, e) as i128)))
        .collect();
    let lc = w.first().map_or(0, |r| r.len());
    let mut outputs = Vec::with_capacity(lc);
    let mut largest_shift = 0;
    for k in 0..lc {
        // Product r carries 2^(eu+ev) too much: its weight is w/2^(eu+ev).
        let weights = column(w, k);
        let shift = (0..w.len())
            .filter(|&r| !weights[r].is_zero())
            .map(|r| eu[r] + ev[r] - valuation(&weights[r]))
            .max()
            .unwrap_or(0)
            .max(0);
        let terms = (0..w.len())
            .filter(|&r| !weights[r].is_zero())
            .map(|r| {
                let lit = Literal::Int(residue(&weights[r], shift - eu[r] - ev[r]) as i128);
                (lit, r)
            })
            .filter(|(lit, _)| *lit != Literal::Int(0))
            .collect();
        largest_shift = largest_shift.max(shift);
        outputs.push((
            terms,
            Finish::Signed {
                shift: shift as u32,
            },
        ));
    }
    let bound = input_bound(d.shape.m as u128, largest_shift);
    if bound == 0 {
        bail!(
            "the denominators need 2^{largest_shift}, which leaves no input range exact in 64-bit integers; export --lang python (exact at any size) or --arith f64"
        );
    }
    Ok(Plan {
        left,
        right,
        float: false,
        outputs,
        bound: Some(bound),
    })
}

/// The largest B with m·B² < 2^(63-shift): entries of A and B within ±B
/// give |2^shift·c| < 2^63, so the wrapped result is the true one.
pub fn input_bound(m: u128, shift: i64) -> u64 {
    if shift >= 63 {
        return 0;
    }
    let limit = ((1u128 << (63 - shift)) - 1) / m;
    let mut b = (limit as f64).sqrt() as u128;
    while b * b > limit {
        b -= 1;
    }
    while (b + 1) * (b + 1) <= limit {
        b += 1;
    }
    b as u64
}

fn unbounded_plan(u: &[Vec<Coeff>], v: &[Vec<Coeff>], w: &[Vec<Coeff>]) -> Result<Plan> {
    let row_lcm = |row: &[Coeff]| {
        common_denominator(row).ok_or_else(|| anyhow::anyhow!("the denominators' common multiple passes 2^127; export with --lang c or rust (exact by 2-adic arithmetic) or --arith f64"))
    };
    let overflow = || anyhow::anyhow!("a coefficient times its denominators passes 2^127");
    let scale_row = |row: &[Coeff], by: i128| -> Result<Combination> {
        let mut out = vec![];
        for (i, x) in row.iter().enumerate() {
            if !x.is_zero() {
                let y = x.numer().checked_mul(by / x.denom()).ok_or_else(overflow)?;
                out.push((Literal::Int(y), i));
            }
        }
        Ok(out)
    };
    let (mut left, mut right, mut scales) = (vec![], vec![], vec![]);
    for (ur, vr) in u.iter().zip(v) {
        let (du, dv) = (row_lcm(ur)?, row_lcm(vr)?);
        left.push(scale_row(ur, du)?);
        right.push(scale_row(vr, dv)?);
        let scale = du.checked_mul(dv).ok_or_else(overflow)?;
        scales.push(scale);
    }
    let lc = w.first().map_or(0, |r| r.len());
    let mut outputs = vec![];
    for k in 0..lc {
        let weights: Vec<Coeff> = (0..w.len())
            .map(|r| w[r][k] / Coeff::from_integer(scales[r]))
            .collect();
        let denominator = row_lcm(&weights)?;
        outputs.push((
            scale_row(&weights, denominator)?,
            Finish::Divide(denominator),
        ));
    }
    Ok(Plan {
        left,
        right,
        float: false,
        outputs,
        bound: None,
    })
}

/// The f64 nearest to x, correctly rounded: 64 significant bits of the
/// quotient by long division, with a sticky bit for the rest, rounded once.
pub fn nearest_f64(x: &Coeff) -> f64 {
    let (n, d) = (*x.numer(), *x.denom());
    if n == 0 {
        return 0.0;
    }
    let den = d as u128;
    let mut mantissa = n.unsigned_abs() / den;
    let mut rest = n.unsigned_abs() % den;
    let mut exponent = 0i32;
    let mut sticky = false;
    while mantissa >> 64 != 0 {
        sticky |= mantissa & 1 != 0;
        mantissa >>= 1;
        exponent += 1;
    }
    while mantissa < 1 << 63 {
        // rest < den <= 2^127, so doubling it cannot overflow.
        rest <<= 1;
        mantissa <<= 1;
        if rest >= den {
            rest -= den;
            mantissa |= 1;
        }
        exponent -= 1;
    }
    sticky |= rest != 0;
    let value = (mantissa as u64 | sticky as u64) as f64 * 2f64.powi(exponent);
    if n < 0 {
        -value
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residues_are_two_adic_values() {
        // 3 · (1/3 mod 2^64) = 1, and 1/2 needs one power of two.
        let third = residue(&Coeff::new(1, 3), 0);
        assert_eq!(third.wrapping_mul(3), 1);
        assert_eq!(residue(&Coeff::new(-5, 2), 1), -5);
        assert_eq!(
            residue(&Coeff::new(7, 12), 2),
            7i64.wrapping_mul(residue(&Coeff::new(1, 3), 0))
        );
    }

    #[test]
    fn bound_is_the_largest_that_fits() {
        for (m, shift) in [(2u128, 0i64), (16, 3), (8, 40), (64, 0)] {
            let b = input_bound(m, shift) as u128;
            let limit = 1u128 << (63 - shift);
            assert!(m * b * b < limit, "m {m} shift {shift}: {b} too large");
            assert!(
                m * (b + 1) * (b + 1) >= limit,
                "m {m} shift {shift}: {b} too small"
            );
        }
        assert_eq!(input_bound(4, 63), 0);
    }

    #[test]
    fn floats_are_correctly_rounded() {
        for (n, d) in [
            (1i128, 3i128),
            (-2, 3),
            (1, 10),
            (355, 113),
            (7, 1),
            (1, 1 << 40),
        ] {
            assert_eq!(nearest_f64(&Coeff::new(n, d)), n as f64 / d as f64);
        }
        // Around 2^60 doubles are 256 apart. Just below the tie 2^60 + 128
        // the nearest is 2^60; converting numerator and denominator first
        // rounds twice and lands on 2^60 + 256.
        let tie = (1i128 << 60) + 128;
        let below = Coeff::new(3 * tie - 1, 3);
        let above = Coeff::new(3 * tie + 1, 3);
        assert_eq!(nearest_f64(&below), 2f64.powi(60));
        assert_eq!(nearest_f64(&above), 2f64.powi(60) + 256.0);
    }
}
