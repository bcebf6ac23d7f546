//! Exact verification: does Σ_r u_r ⊗ v_r ⊗ w_r equal T in a given field?

use super::decomposition::{Decomposition, FACTOR_NAMES};
use super::field::{common_denominator, format_coeff, Coeff, Field};
use num_traits::{CheckedAdd, CheckedMul, Zero};
use std::collections::BTreeMap;
use std::fmt;

/// Why a decomposition is not one of T.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyFailure {
    /// The first entry (lexicographic in (a, b, c)) where the sum differs from T.
    WrongEntry {
        index: [usize; 3],
        meaning: String,
        expected: Coeff,
        found: Coeff,
    },
    /// A coefficient that has no value in the field (a fraction in Z or Z2).
    NotInField {
        factor: &'static str,
        term: usize,
        index: usize,
        value: Coeff,
        field: Field,
    },
    /// The exact sums left the range of 128-bit rationals.
    Overflow,
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyFailure::WrongEntry {
                index: [a, b, c],
                meaning,
                expected,
                found,
            } => write!(
                f,
                "wrong entry T[{a}][{b}][{c}] ({meaning}): expected {}, found {}",
                format_coeff(expected),
                format_coeff(found)
            ),
            VerifyFailure::NotInField {
                factor,
                term,
                index,
                value,
                field,
            } => write!(
                f,
                "coefficient {factor}[{term}][{index}] = {} has no value in {field}",
                format_coeff(value)
            ),
            VerifyFailure::Overflow => write!(f, "coefficients too large to verify exactly"),
        }
    }
}

impl std::error::Error for VerifyFailure {}

/// Checks exactly, in `field` (which may differ from the file's own field:
/// a Z decomposition also holds over Z2, a Z2 one usually not over Z).
///
/// The fast path scales every factor to integers (one common denominator
/// per factor) and sums slice by slice of u's index into a dense i128
/// buffer of the other two indices (a hash map for the largest shapes), so
/// memory is one slice and the work is Σ_r nnz(u_r)·nnz(v_r)·nnz(w_r).
/// When a scale or a sum would leave i128, the rational path below decides.
pub fn verify(d: &Decomposition, field: Field) -> Result<(), VerifyFailure> {
    let terms = nonzero_terms(d, field)?;
    match IntegerTerms::new(&terms) {
        Some(int) => match verify_integer(d, field, &int) {
            Err(VerifyFailure::Overflow) => verify_rational(d, field),
            verdict => verdict,
        },
        None => verify_rational(d, field),
    }
}

/// Per term and factor, the nonzero coefficients reduced in `field`.
type Sparse<T> = Vec<[Vec<(usize, T)>; 3]>;

fn nonzero_terms(d: &Decomposition, field: Field) -> Result<Sparse<Coeff>, VerifyFailure> {
    let mut terms = Vec::with_capacity(d.rank());
    for term in 0..d.rank() {
        let mut nonzero: [Vec<(usize, Coeff)>; 3] = Default::default();
        for (f, factor) in d.factors().iter().enumerate() {
            for (index, x) in factor[term].iter().enumerate() {
                let reduced = field.reduce(x).ok_or(VerifyFailure::NotInField {
                    factor: FACTOR_NAMES[f],
                    term,
                    index,
                    value: *x,
                    field,
                })?;
                if !reduced.is_zero() {
                    nonzero[f].push((index, reduced));
                }
            }
        }
        terms.push(nonzero);
    }
    Ok(terms)
}

/// The terms with each factor multiplied by the common denominator of that
/// factor over all terms; T's entries then become `scale` = Lu·Lv·Lw.
struct IntegerTerms {
    terms: Sparse<i128>,
    scale: i128,
}

impl IntegerTerms {
    fn new(terms: &Sparse<Coeff>) -> Option<IntegerTerms> {
        let mut lcm = [1i128; 3];
        for (f, slot) in lcm.iter_mut().enumerate() {
            *slot = common_denominator(terms.iter().flat_map(|t| t[f].iter().map(|(_, x)| x)))?;
        }
        let scale = lcm[0].checked_mul(lcm[1])?.checked_mul(lcm[2])?;
        let mut int = Vec::with_capacity(terms.len());
        for t in terms {
            let mut row: [Vec<(usize, i128)>; 3] = Default::default();
            for f in 0..3 {
                for (i, x) in &t[f] {
                    row[f].push((*i, i128::checked_mul(*x.numer(), lcm[f] / x.denom())?));
                }
            }
            int.push(row);
        }
        Some(IntegerTerms { terms: int, scale })
    }
}

/// Slices of mp·np entries up to this size are summed in a dense buffer.
const DENSE_SLICE: usize = 1 << 22;

/// Sums of one slice T[a][·][·]: dense, or a map for the largest shapes.
enum Slice {
    Dense(Vec<i128>),
    Sparse(std::collections::HashMap<usize, i128>),
}

impl Slice {
    fn add(&mut self, at: usize, x: i128) -> Result<(), VerifyFailure> {
        let slot = match self {
            Slice::Dense(v) => &mut v[at],
            Slice::Sparse(m) => m.entry(at).or_insert(0),
        };
        *slot = slot.checked_add(x).ok_or(VerifyFailure::Overflow)?;
        Ok(())
    }

    fn get(&self, at: usize) -> i128 {
        match self {
            Slice::Dense(v) => v[at],
            Slice::Sparse(m) => m.get(&at).copied().unwrap_or(0),
        }
    }

    fn clear(&mut self) {
        match self {
            Slice::Dense(v) => v.iter_mut().for_each(|x| *x = 0),
            Slice::Sparse(m) => m.clear(),
        }
    }

    /// For a sparse slice, the positions to compare in order: those
    /// touched plus T's. `None` for a dense slice: every position.
    fn sparse_positions(&self, expected: &[usize]) -> Option<Vec<usize>> {
        match self {
            Slice::Dense(_) => None,
            Slice::Sparse(m) => {
                let mut at: Vec<usize> =
                    m.keys().copied().chain(expected.iter().copied()).collect();
                at.sort_unstable();
                at.dedup();
                Some(at)
            }
        }
    }
}

fn verify_integer(
    d: &Decomposition,
    field: Field,
    int: &IntegerTerms,
) -> Result<(), VerifyFailure> {
    let s = d.shape;
    let [la, lb, lc] = s.factor_lens();
    let mut by_a: Vec<Vec<(usize, i128)>> = vec![vec![]; la];
    for (r, t) in int.terms.iter().enumerate() {
        for &(a, x) in &t[0] {
            by_a[a].push((r, x));
        }
    }
    let len = lb * lc;
    let mut slice = if len <= DENSE_SLICE {
        Slice::Dense(vec![0; len])
    } else {
        Slice::Sparse(Default::default())
    };
    let reduce = |x: i128| {
        if field == Field::Z2 {
            x.rem_euclid(2)
        } else {
            x
        }
    };
    let want_one = reduce(int.scale);
    for (a, users) in by_a.iter().enumerate() {
        slice.clear();
        for &(r, x) in users {
            let t = &int.terms[r];
            for &(b, y) in &t[1] {
                let xy = x.checked_mul(y).ok_or(VerifyFailure::Overflow)?;
                for &(c, z) in &t[2] {
                    slice.add(
                        b * lc + c,
                        xy.checked_mul(z).ok_or(VerifyFailure::Overflow)?,
                    )?;
                }
            }
        }
        // T[a][b][c] = 1 for a = (i, j), b = (j, k), c = (i, k): increasing in k.
        let (i, j) = (a / s.m, a % s.m);
        let expected: Vec<usize> = (0..s.p).map(|k| (j * s.p + k) * lc + i * s.p + k).collect();
        let check = |at: usize| -> Result<(), VerifyFailure> {
            let want = if expected.binary_search(&at).is_ok() {
                want_one
            } else {
                0
            };
            if reduce(slice.get(at)) == want {
                return Ok(());
            }
            let (b, c) = (at / lc, at % lc);
            let exact = |x: i128| {
                let q = Coeff::new(x, int.scale);
                field.reduce(&q).unwrap_or(q)
            };
            Err(VerifyFailure::WrongEntry {
                index: [a, b, c],
                meaning: s.describe_entry(a, b, c),
                expected: exact(want),
                found: exact(slice.get(at)),
            })
        };
        match slice.sparse_positions(&expected) {
            None => (0..len).try_for_each(check)?,
            Some(positions) => positions.into_iter().try_for_each(check)?,
        }
    }
    Ok(())
}

/// The reference path in exact rationals, for coefficients whose common
/// denominators leave i128.
fn verify_rational(d: &Decomposition, field: Field) -> Result<(), VerifyFailure> {
    let found = reconstruct(d, field)?;
    let expected: BTreeMap<[usize; 3], Coeff> = d
        .shape
        .tensor_entries()
        .into_iter()
        .map(|e| ([e.a, e.b, e.c], Coeff::from_integer(1)))
        .collect();
    let zero = Coeff::zero();
    // Both maps are sorted: walk their union in order, stop at the first difference.
    let mut keys: Vec<&[usize; 3]> = expected.keys().chain(found.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let e = expected.get(key).unwrap_or(&zero);
        let g = found.get(key).unwrap_or(&zero);
        if e != g {
            let [a, b, c] = *key;
            return Err(VerifyFailure::WrongEntry {
                index: *key,
                meaning: d.shape.describe_entry(a, b, c),
                expected: *e,
                found: *g,
            });
        }
    }
    Ok(())
}

/// The nonzero entries of Σ_r u_r ⊗ v_r ⊗ w_r, reduced in `field`.
/// Sparse: the work is Σ_r nnz(u_r)·nnz(v_r)·nnz(w_r).
fn reconstruct(
    d: &Decomposition,
    field: Field,
) -> Result<BTreeMap<[usize; 3], Coeff>, VerifyFailure> {
    let mut sum: BTreeMap<[usize; 3], Coeff> = BTreeMap::new();
    for nonzero in nonzero_terms(d, field)? {
        for (a, x) in &nonzero[0] {
            for (b, y) in &nonzero[1] {
                let xy = x.checked_mul(y).ok_or(VerifyFailure::Overflow)?;
                for (c, z) in &nonzero[2] {
                    let xyz = xy.checked_mul(z).ok_or(VerifyFailure::Overflow)?;
                    let slot = sum.entry([*a, *b, *c]).or_insert_with(Coeff::zero);
                    *slot = slot.checked_add(&xyz).ok_or(VerifyFailure::Overflow)?;
                }
            }
        }
    }
    for value in sum.values_mut() {
        *value = field.reduce(value).ok_or(VerifyFailure::Overflow)?;
    }
    sum.retain(|_, v| !v.is_zero());
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::shape::Shape;

    #[test]
    fn strassen_holds_over_z_and_z2() {
        let s = Decomposition::strassen();
        assert_eq!(s.rank(), 7);
        verify(&s, Field::Z).unwrap();
        verify(&s, Field::Z2).unwrap();
        verify(&s, Field::Q).unwrap();
    }

    #[test]
    fn standard_holds_for_rectangular_shapes() {
        for (n, m, p) in [(1, 1, 1), (2, 3, 4), (4, 1, 3), (3, 5, 2), (5, 5, 5)] {
            let shape = Shape::new(n, m, p).unwrap();
            let d = Decomposition::standard(shape, Field::Z);
            assert_eq!(d.rank(), n * m * p);
            verify(&d, Field::Z).unwrap();
            verify(&d, Field::Z2).unwrap();
        }
    }

    #[test]
    fn every_single_changed_coefficient_is_caught() {
        let s = Decomposition::strassen();
        for f in 0..3 {
            for r in 0..7 {
                for i in 0..4 {
                    for delta in [1, -1] {
                        let mut d = s.clone();
                        let rows = [&mut d.u, &mut d.v, &mut d.w][f].as_mut_slice();
                        rows[r][i] += Coeff::from_integer(delta);
                        assert!(
                            matches!(verify(&d, Field::Z), Err(VerifyFailure::WrongEntry { .. })),
                            "change of {}[{r}][{i}] by {delta} not caught over Z",
                            FACTOR_NAMES[f]
                        );
                    }
                    // Over Z2 a change by 1 flips the bit, which must be caught too.
                    let mut d = s.clone();
                    let rows = [&mut d.u, &mut d.v, &mut d.w][f].as_mut_slice();
                    rows[r][i] += Coeff::from_integer(1);
                    assert!(verify(&d, Field::Z2).is_err());
                }
            }
        }
    }

    #[test]
    fn names_the_first_wrong_entry() {
        let mut d = Decomposition::strassen();
        d.w[6][0] = Coeff::from_integer(0); // m7 no longer feeds C[0][0]
        let err = verify(&d, Field::Z).unwrap_err();
        // m7 = (a01 - a11)(b10 + b11): first affected entry is a=1 (A[0][1]), b=2 (B[1][0]).
        match &err {
            VerifyFailure::WrongEntry {
                index,
                expected,
                found,
                ..
            } => {
                assert_eq!(*index, [1, 2, 0]);
                assert_eq!(*expected, Coeff::from_integer(1));
                assert_eq!(*found, Coeff::from_integer(0));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "wrong entry T[1][2][0] (A[0][1]*B[1][0] -> C[0][0]): expected 1, found 0"
        );
    }

    #[test]
    fn fraction_has_no_value_in_z2() {
        let mut d = Decomposition::strassen();
        d.field = Field::Q;
        d.u[0][0] = Coeff::new(1, 2);
        assert!(matches!(
            verify(&d, Field::Z2),
            Err(VerifyFailure::NotInField {
                factor: "u",
                term: 0,
                index: 0,
                ..
            })
        ));
    }

    /// The standard algorithm plus random dense terms and their negatives:
    /// a decomposition whose sums are dense and cancel exactly.
    fn dense_scheme(shape: Shape, extra: usize, field: Field, seed: u64) -> Decomposition {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut d = Decomposition::standard(shape, field);
        let [la, lb, lc] = shape.factor_lens();
        for _ in 0..extra {
            let mut row = |len: usize| -> Vec<Coeff> {
                (0..len)
                    .map(|_| Coeff::from_integer(rng.random_range(-3..=3)))
                    .collect()
            };
            let (u, v, w) = (row(la), row(lb), row(lc));
            let minus: Vec<Coeff> = w.iter().map(|x| -x).collect();
            d.u.extend([u.clone(), u]);
            d.v.extend([v.clone(), v]);
            d.w.extend([w, minus]);
        }
        d
    }

    #[test]
    fn dense_random_schemes_verify_and_corruptions_fail() {
        let shape = Shape::new(8, 8, 8).unwrap();
        let d = dense_scheme(shape, 150, Field::Z, 1);
        assert_eq!(d.rank(), 512 + 300);
        verify(&d, Field::Z).unwrap();
        verify(&d, Field::Z2).unwrap();
        let mut bad = d.clone();
        bad.v[600][17] += Coeff::from_integer(1);
        assert!(matches!(
            verify(&bad, Field::Z),
            Err(VerifyFailure::WrongEntry { .. })
        ));
        assert!(verify(&bad, Field::Z2).is_err());
    }

    #[test]
    fn fast_and_rational_paths_agree_on_the_first_wrong_entry() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        for trial in 0..200 {
            let shape = Shape::new(
                rng.random_range(1..4),
                rng.random_range(1..4),
                rng.random_range(1..4),
            )
            .unwrap();
            let field = [Field::Z, Field::Z2, Field::Q][trial % 3];
            let mut d = dense_scheme(shape, 2, field, trial as u64);
            if field == Field::Q {
                let x = Coeff::new(rng.random_range(1..9), rng.random_range(1..9));
                d.u[0].iter_mut().for_each(|c| *c *= x);
                d.w[0].iter_mut().for_each(|c| *c /= x);
            }
            if trial % 2 == 1 {
                let (r, f) = (rng.random_range(0..d.rank()), rng.random_range(0..3));
                let rows = [&mut d.u, &mut d.v, &mut d.w][f].as_mut_slice();
                let i = rng.random_range(0..rows[r].len());
                rows[r][i] += Coeff::new(1, if field == Field::Q { 3 } else { 1 });
            }
            let terms = nonzero_terms(&d, field).unwrap();
            let fast = verify_integer(&d, field, &IntegerTerms::new(&terms).unwrap());
            assert_eq!(fast, verify_rational(&d, field), "trial {trial}");
        }
    }

    #[test]
    fn denominators_beyond_i128_take_the_rational_path() {
        // Forty distinct primes in u's denominators: their common multiple
        // leaves i128, so the integer form cannot exist.
        let primes: Vec<i128> = (3..)
            .filter(|n: &i128| (2..*n).all(|k| n % k != 0))
            .take(40)
            .collect();
        let shape = Shape::new(2, 2, 10).unwrap();
        let mut d = Decomposition::standard(shape, Field::Q);
        for ((u, w), &prime) in d.u.iter_mut().zip(d.w.iter_mut()).zip(&primes) {
            let x = Coeff::new(1, prime);
            u.iter_mut().for_each(|c| *c *= x);
            w.iter_mut().for_each(|c| *c /= x);
        }
        let terms = nonzero_terms(&d, Field::Q).unwrap();
        assert!(IntegerTerms::new(&terms).is_none());
        verify(&d, Field::Q).unwrap();
        d.w[5][0] += Coeff::new(1, 7);
        assert!(verify(&d, Field::Q).is_err());
    }
}
