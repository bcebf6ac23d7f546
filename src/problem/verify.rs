//! Exact verification: does Σ_r u_r ⊗ v_r ⊗ w_r equal T in a given field?

use super::decomposition::{Decomposition, FACTOR_NAMES};
use super::field::{format_coeff, Coeff, Field};
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
pub fn verify(d: &Decomposition, field: Field) -> Result<(), VerifyFailure> {
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
}
