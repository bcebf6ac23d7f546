//! The coefficient arithmetic a flip walk runs in, on bit-packed factors
//! of up to 64 coefficients: over Z2 a factor is one u64 mask (addition is
//! XOR); over Z it is K bit planes of two's-complement coefficients
//! (`Planes<K>`), added with a ripple carry across the planes, so a factor
//! operation is a few word operations whatever the shape.
//!
//! Over Z the walk compares factors up to sign, so each factor has a
//! canonical form (first nonzero coefficient positive) and terms carry the
//! sign.

use crate::problem::{Coeff, Field};
use anyhow::{bail, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt::Debug;
use std::hash::{Hash, Hasher};

/// Vectors a dependence is looked for among (the terms of one group a
/// flip walk looks at; larger groups are rare and searched in part).
pub const MAX_DEPENDENCE: usize = 16;

pub trait Factor:
    Copy + Eq + Ord + Hash + Debug + Send + Sync + Serialize + DeserializeOwned + 'static
{
    const FIELD: Field;
    /// Whether factors carry a sign (over Z): flips then draw one.
    const SIGNED: bool;
    /// The coefficient set, as `--coeffs` spells it ("" over Z2).
    const COEFFS: &'static str;
    /// The largest coefficient magnitude (1 over Z2).
    const BOUND: i64;
    /// Bits per coefficient (the key of a direct lookup is PLANES · len
    /// bits).
    const PLANES: usize;
    /// The most coefficients a factor holds.
    const MAX_COEFFS: usize = 64;

    fn zero() -> Self;
    fn is_zero(self) -> bool;
    /// self + other; None when a coefficient would leave the bound.
    fn add(self, other: Self) -> Option<Self>;
    fn neg(self) -> Self;
    /// (r, negated) with self = −r when negated, else r; r's first nonzero
    /// coefficient is positive (r = self over Z2).
    fn canonical(self) -> (Self, bool);
    /// Coefficient i.
    fn get(self, i: usize) -> i64;
    /// From integers; None when one is outside the bound (taken mod 2
    /// over Z2).
    fn from_ints(xs: &[i64]) -> Option<Self>;
    /// The factor's bits in one number, for a factor of `len`
    /// coefficients (PLANES · len bits): a key for direct lookup.
    fn packed(self, len: usize) -> u64;

    fn sub(self, other: Self) -> Option<Self> {
        self.add(other.neg())
    }

    /// The first `len` coefficients in reverse order (coefficient i
    /// becomes len − 1 − i; the rest are zero): for an n×n matrix held
    /// row-major with len = n², the matrix turned by 180°, J·X·J with J
    /// the exchange matrix.
    fn reversed(self, len: usize) -> Self {
        let ints: Vec<i64> = (0..len).map(|i| self.get(len - 1 - i)).collect();
        Self::from_ints(&ints).expect("the same coefficients fit")
    }

    /// A linear dependence among the first [`MAX_DEPENDENCE`] of `vs`: `(k, members,
    /// negated)` with vs[k] = Σ ±vs[i] over the bits i of `members` (none
    /// of them k), vs[i] taken negated where `negated` has bit i; None when
    /// none is found. Over Z the search takes three vectors at a time
    /// (vs[k] = ±vs[i] ± vs[j]); equal pairs are the walk's merges, not
    /// looked for here.
    fn dependence(vs: &[Self]) -> Option<(usize, u64, u64)> {
        let n = vs.len().min(MAX_DEPENDENCE);
        for k in 0..n {
            for i in 0..n {
                for j in i + 1..n {
                    if i == k || j == k {
                        continue;
                    }
                    for (ni, nj) in [(false, false), (false, true), (true, false), (true, true)] {
                        let sum = vs[i].signed(ni).add(vs[j].signed(nj));
                        if sum == Some(vs[k]) {
                            let members = 1 << i | 1 << j;
                            let negated = (ni as u64) << i | (nj as u64) << j;
                            return Some((k, members, negated));
                        }
                    }
                }
            }
        }
        None
    }

    /// `self` negated when `negated`.
    fn signed(self, negated: bool) -> Self {
        if negated {
            self.neg()
        } else {
            self
        }
    }

    /// From exact coefficients, which must be integers within the bound
    /// (over Z2, any fraction with an odd denominator).
    fn from_coeffs(row: &[Coeff]) -> Result<Self> {
        let ints = row
            .iter()
            .map(|x| {
                if Self::FIELD == Field::Z2 {
                    if x.denom() % 2 == 0 {
                        bail!("the coefficient {x} has no value mod 2");
                    }
                    Ok(x.numer().rem_euclid(2) as i64)
                } else if !x.is_integer() || x.to_integer().abs() > Self::BOUND as i128 {
                    bail!(
                        "the coefficient {x} is outside --coeffs {} (integers up to {} in size)",
                        Self::COEFFS,
                        Self::BOUND
                    );
                } else {
                    Ok(x.to_integer() as i64)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::from_ints(&ints).expect("checked against the bound"))
    }
}

/// The lowest `n` bits set (n ≤ 64).
fn low_bits(n: usize) -> u64 {
    match n {
        64.. => u64::MAX,
        _ => (1u64 << n) - 1,
    }
}

/// Over Z2: bit i is coefficient i.
impl Factor for u64 {
    const FIELD: Field = Field::Z2;
    const SIGNED: bool = false;
    const COEFFS: &'static str = "";
    const BOUND: i64 = 1;
    const PLANES: usize = 1;

    fn zero() -> Self {
        0
    }
    fn is_zero(self) -> bool {
        self == 0
    }
    fn add(self, other: Self) -> Option<Self> {
        Some(self ^ other)
    }
    fn neg(self) -> Self {
        self
    }
    fn canonical(self) -> (Self, bool) {
        (self, false)
    }
    fn get(self, i: usize) -> i64 {
        (self >> i & 1) as i64
    }
    fn packed(self, _len: usize) -> u64 {
        self
    }
    fn reversed(self, len: usize) -> Self {
        match len {
            0 => 0,
            _ => (self & low_bits(len)).reverse_bits() >> (64 - len),
        }
    }
    fn from_ints(xs: &[i64]) -> Option<Self> {
        Some(
            xs.iter()
                .enumerate()
                .fold(0, |m, (i, &x)| m | ((x.rem_euclid(2) as u64) << i)),
        )
    }

    /// Gaussian elimination over Z2, as for one-word `Wide` factors.
    fn dependence(vs: &[Self]) -> Option<(usize, u64, u64)> {
        let mut words = [Wide([0]); MAX_DEPENDENCE];
        for (w, &v) in words.iter_mut().zip(vs) {
            *w = Wide([v]);
        }
        Wide::<1>::dependence(&words[..vs.len().min(MAX_DEPENDENCE)])
    }
}

/// Hash, Serialize and Deserialize for a factor of N words, `$name<N>`:
/// the words folded into one u64 for the walk's fast hasher (which keeps
/// only the last word written), and a list of words in files.
macro_rules! words_factor {
    ($name:ident, $what:literal) => {
        impl<const N: usize> Hash for $name<N> {
            fn hash<H: Hasher>(&self, state: &mut H) {
                let h = self.0.iter().fold(0u64, |h, &p| {
                    h.rotate_left(23) ^ p.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                });
                state.write_u64(h);
            }
        }

        impl<const N: usize> Serialize for $name<N> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                self.0.as_slice().serialize(s)
            }
        }

        impl<'de, const N: usize> Deserialize<'de> for $name<N> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let words = Vec::<u64>::deserialize(d)?;
                let words: [u64; N] = words.try_into().map_err(|w: Vec<u64>| {
                    serde::de::Error::custom(format!("a factor has {N} {}, not {}", $what, w.len()))
                })?;
                Ok($name(words))
            }
        }
    };
}

/// Over Z2 with more than 64 coefficients: bit i of word i / 64 is
/// coefficient i (shapes to 16x16x16 with W = 4). Word 0 alone is the
/// direct-lookup key, as for u64, so a walk on a shape both can hold draws
/// the same flips.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wide<const W: usize>(pub [u64; W]);

words_factor!(Wide, "words");

impl<const W: usize> Factor for Wide<W> {
    const FIELD: Field = Field::Z2;
    const SIGNED: bool = false;
    const COEFFS: &'static str = "";
    const BOUND: i64 = 1;
    const PLANES: usize = 1;
    const MAX_COEFFS: usize = 64 * W;

    fn zero() -> Self {
        Wide([0; W])
    }
    fn is_zero(self) -> bool {
        self.0.iter().all(|&x| x == 0)
    }
    fn add(self, other: Self) -> Option<Self> {
        let mut out = self.0;
        for (o, x) in out.iter_mut().zip(other.0) {
            *o ^= x;
        }
        Some(Wide(out))
    }
    fn neg(self) -> Self {
        self
    }
    fn canonical(self) -> (Self, bool) {
        (self, false)
    }
    fn get(self, i: usize) -> i64 {
        (self.0[i / 64] >> (i % 64) & 1) as i64
    }
    fn packed(self, _len: usize) -> u64 {
        self.0[0]
    }
    fn reversed(self, len: usize) -> Self {
        assert!(
            len <= 64 * W,
            "a factor holds at most {} coefficients",
            64 * W
        );
        // Reversing all 64·W bits takes bit i to 64·W − 1 − i; shifting
        // the whole right by 64·W − len then takes it to len − 1 − i.
        let mut all = [0u64; W];
        for (k, word) in all.iter_mut().enumerate() {
            let source = W - 1 - k;
            let kept = len.saturating_sub(64 * source).min(64);
            *word = (self.0[source] & low_bits(kept)).reverse_bits();
        }
        let shift = 64 * W - len;
        let (words, bits) = (shift / 64, shift % 64);
        let mut out = [0u64; W];
        for (k, o) in out.iter_mut().enumerate() {
            let Some(&lo) = all.get(k + words) else {
                break;
            };
            *o = lo >> bits;
            if bits > 0 {
                if let Some(&hi) = all.get(k + words + 1) {
                    *o |= hi << (64 - bits);
                }
            }
        }
        Wide(out)
    }
    fn from_ints(xs: &[i64]) -> Option<Self> {
        if xs.len() > 64 * W {
            return None;
        }
        let mut words = [0; W];
        for (i, &x) in xs.iter().enumerate() {
            words[i / 64] |= (x.rem_euclid(2) as u64) << (i % 64);
        }
        Some(Wide(words))
    }

    /// Gaussian elimination over Z2: each vector is reduced by the pivots
    /// of those before it (a pivot is a word and a bit), recording which
    /// originals it took; the first that reduces to zero is the sum of
    /// those. Row k comes from vector k: each vector adds a row or returns.
    fn dependence(vs: &[Self]) -> Option<(usize, u64, u64)> {
        let mut basis = [(0usize, 0u64, Wide::<W>::zero(), 0u64); MAX_DEPENDENCE];
        for (k, &v) in vs.iter().enumerate().take(MAX_DEPENDENCE) {
            let (mut x, mut used) = (v, 1u64 << k);
            for &(word, bit, row, mask) in &basis[..k] {
                if x.0[word] & bit != 0 {
                    x = x.add(row).expect("Z2 adds");
                    used ^= mask;
                }
            }
            let Some(word) = x.0.iter().position(|&w| w != 0) else {
                return Some((k, used & !(1u64 << k), 0));
            };
            let bit = x.0[word] & x.0[word].wrapping_neg();
            basis[k] = (word, bit, x, used);
        }
        None
    }
}

/// Over Z: K planes of two's-complement coefficients (bit i of plane k is
/// bit k of coefficient i), bounded by 2^(K−1) − 1 in size so that
/// negation never overflows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Planes<const K: usize>(pub [u64; K]);

/// Coefficients in {−1, 0, 1}.
pub type Ternary = Planes<2>;
/// Coefficients from −7 to 7.
pub type Small = Planes<4>;

impl<const K: usize> Planes<K> {
    /// Coefficients that are nonzero.
    fn support(&self) -> u64 {
        self.0.iter().fold(0, |m, p| m | p)
    }
}

words_factor!(Planes, "planes");

impl<const K: usize> Factor for Planes<K> {
    const FIELD: Field = Field::Z;
    const SIGNED: bool = true;
    const COEFFS: &'static str = if K == 2 { "ternary" } else { "any" };
    const BOUND: i64 = (1 << (K - 1)) - 1;
    const PLANES: usize = K;

    fn zero() -> Self {
        Planes([0; K])
    }
    fn is_zero(self) -> bool {
        self.support() == 0
    }
    fn add(self, other: Self) -> Option<Self> {
        let (a, b) = (self.0, other.0);
        let mut sum = [0; K];
        let mut carry = 0u64;
        let mut carry_into_top = 0u64;
        for k in 0..K {
            if k == K - 1 {
                carry_into_top = carry;
            }
            sum[k] = a[k] ^ b[k] ^ carry;
            carry = (a[k] & b[k]) | (carry & (a[k] ^ b[k]));
        }
        let overflow = carry ^ carry_into_top;
        // −2^(K−1) is representable but outside the symmetric bound.
        let low = sum[..K - 1].iter().fold(0, |m, p| m | p);
        let most_negative = sum[K - 1] & !low;
        (overflow | most_negative == 0).then_some(Planes(sum))
    }
    fn neg(self) -> Self {
        // −x = !x + 1, plane by plane with a carry; a zero stays zero.
        let mut out = self.0;
        let mut carry = !0u64;
        for plane in &mut out {
            let inv = !*plane;
            *plane = inv ^ carry;
            carry &= inv;
        }
        Planes(out)
    }
    fn canonical(self) -> (Self, bool) {
        let s = self.support();
        let first = s & s.wrapping_neg();
        if self.0[K - 1] & first != 0 {
            (self.neg(), true)
        } else {
            (self, false)
        }
    }
    fn packed(self, len: usize) -> u64 {
        self.0.iter().enumerate().fold(0, |key, (k, &p)| {
            key | p.checked_shl((k * len) as u32).unwrap_or(0)
        })
    }
    fn get(self, i: usize) -> i64 {
        let bits = (0..K).fold(0i64, |v, k| v | ((self.0[k] >> i & 1) as i64) << k);
        // Sign-extend from K bits.
        bits - ((bits >> (K - 1)) << K)
    }
    fn from_ints(xs: &[i64]) -> Option<Self> {
        let mut planes = [0; K];
        for (i, &x) in xs.iter().enumerate() {
            if x.abs() > Self::BOUND {
                return None;
            }
            let bits = x as u64;
            for (k, plane) in planes.iter_mut().enumerate() {
                *plane |= (bits >> k & 1) << i;
            }
        }
        Some(Planes(planes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints<F: Factor>(f: F, n: usize) -> Vec<i64> {
        (0..n).map(|i| f.get(i)).collect()
    }

    /// Every pair of small vectors: the planes add, negate and normalise
    /// like the integers they hold, and refuse what leaves the bound.
    fn arithmetic_matches_the_integers<F: Factor>() {
        let b = F::BOUND;
        let values: Vec<i64> = (-b..=b).collect();
        let vecs: Vec<Vec<i64>> = values
            .iter()
            .flat_map(|&x| values.iter().map(move |&y| vec![x, y, -x, 0]))
            .collect();
        for x in &vecs {
            let fx = F::from_ints(x).unwrap();
            assert_eq!(&ints(fx, 4), x);
            assert_eq!(ints(fx.neg(), 4), x.iter().map(|v| -v).collect::<Vec<_>>());
            let (c, negated) = fx.canonical();
            let back = ints(c.signed(negated), 4);
            assert_eq!(&back, x);
            if let Some(first) = ints(c, 4).into_iter().find(|&v| v != 0) {
                assert!(first > 0, "{x:?} → {:?}", ints(c, 4));
            }
            for y in &vecs {
                let fy = F::from_ints(y).unwrap();
                let sum: Vec<i64> = x.iter().zip(y).map(|(a, b)| a + b).collect();
                match fx.add(fy) {
                    Some(s) => assert_eq!(ints(s, 4), sum),
                    None => assert!(sum.iter().any(|v| v.abs() > b), "{x:?} + {y:?}"),
                }
            }
        }
        assert!(F::from_ints(&[b + 1]).is_none());
    }

    #[test]
    fn ternary_planes_are_the_integers_minus_one_to_one() {
        arithmetic_matches_the_integers::<Ternary>();
    }

    #[test]
    fn small_planes_are_the_integers_minus_seven_to_seven() {
        arithmetic_matches_the_integers::<Small>();
    }

    /// A found dependence holds; over Z2 any dependent set is found,
    /// over Z one of three vectors with coefficients ±1.
    #[test]
    fn dependences_are_found_and_hold() {
        let z2 = |xs: &[i64]| <u64 as Factor>::from_ints(xs).unwrap();
        // a + b + c + d = 0, no three dependent.
        let vs = [
            z2(&[1, 0, 0, 1]),
            z2(&[0, 1, 0, 1]),
            z2(&[0, 0, 1, 1]),
            z2(&[1, 1, 1, 1]),
        ];
        let (k, members, _) = Factor::dependence(&vs).unwrap();
        assert_eq!(members.count_ones(), 3);
        let sum = (0..4)
            .filter(|i| members >> i & 1 == 1)
            .fold(0u64, |s, i| s ^ vs[i]);
        assert_eq!(sum, vs[k]);
        assert!(Factor::dependence(&vs[..3]).is_none());
        let t = |xs: &[i64]| Ternary::from_ints(xs).unwrap();
        // c = a − b.
        let vs = [t(&[1, 1, 0]), t(&[0, 1, 1]), t(&[1, 0, -1])];
        let (k, members, negated) = Factor::dependence(&vs).unwrap();
        let sum = (0..3)
            .filter(|i| members >> i & 1 == 1)
            .fold(Ternary::zero(), |s, i| {
                s.add(vs[i].signed(negated >> i & 1 == 1)).unwrap()
            });
        assert_eq!(sum, vs[k]);
        assert!(Factor::dependence(&[t(&[1, 0, 0]), t(&[0, 1, 0]), t(&[0, 0, 1])]).is_none());
    }

    /// Wide factors hold coefficients past the first word, add mod 2, and
    /// find the dependences u64 finds.
    #[test]
    fn wide_factors_are_z2_past_one_word() {
        let mut xs = vec![0i64; 200];
        xs[3] = 1;
        xs[70] = 1;
        xs[199] = 3;
        let f = Wide::<4>::from_ints(&xs).unwrap();
        let back: Vec<i64> = (0..200).map(|i| f.get(i)).collect();
        assert_eq!(back, xs.iter().map(|x| x % 2).collect::<Vec<_>>());
        assert!(f.add(f).unwrap().is_zero());
        assert!(Wide::<1>::from_ints(&xs).is_none());
        let z2 = |x: &[i64]| <u64 as Factor>::from_ints(x).unwrap();
        let w = |x: &[i64]| Wide::<2>::from_ints(x).unwrap();
        let rows: [&[i64]; 4] = [&[1, 0, 0, 1], &[0, 1, 0, 1], &[0, 0, 1, 1], &[1, 1, 1, 1]];
        let narrow: Vec<u64> = rows.iter().map(|r| z2(r)).collect();
        let wide: Vec<Wide<2>> = rows.iter().map(|r| w(r)).collect();
        assert_eq!(Factor::dependence(&narrow), Factor::dependence(&wide));
        assert!(Factor::dependence(&wide).is_some());
    }

    /// The fast reversals of the Z2 factors equal coefficient-by-coefficient
    /// reversal, at every length their words hold.
    fn reversal_is_coefficient_order_reversed<F: Factor>(seed: u64) {
        let mut rng = crate::flip::rng::XorShift::new(seed);
        for len in 1..=F::MAX_COEFFS {
            let ints: Vec<i64> = (0..len).map(|_| (rng.next_u64() & 1) as i64).collect();
            let f = F::from_ints(&ints).unwrap();
            let back: Vec<i64> = (0..F::MAX_COEFFS).map(|i| f.reversed(len).get(i)).collect();
            let mut want: Vec<i64> = ints.iter().rev().copied().collect();
            want.resize(F::MAX_COEFFS, 0);
            assert_eq!(back, want, "length {len}");
            assert_eq!(f.reversed(len).reversed(len), f);
        }
    }

    #[test]
    fn reversals_turn_the_coefficients_around() {
        reversal_is_coefficient_order_reversed::<u64>(1);
        reversal_is_coefficient_order_reversed::<Wide<2>>(2);
        reversal_is_coefficient_order_reversed::<Wide<4>>(3);
        // A 2x2 matrix turned by 180°: [[1, 1], [0, 0]] becomes [[0, 0], [1, 1]].
        let m = <u64 as Factor>::from_ints(&[1, 1, 0, 0]).unwrap();
        assert_eq!(ints(m.reversed(4), 4), vec![0, 0, 1, 1]);
        let t = Ternary::from_ints(&[1, 0, -1]).unwrap();
        assert_eq!(ints(t.reversed(3), 3), vec![-1, 0, 1]);
    }

    #[test]
    fn z2_factors_add_mod_two() {
        let x = <u64 as Factor>::from_ints(&[1, 0, 3, -1]).unwrap();
        assert_eq!(ints(x, 4), vec![1, 0, 1, 1]);
        assert_eq!(ints(x.add(x).unwrap(), 4), vec![0; 4]);
    }
}
