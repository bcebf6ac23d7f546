//! A scheme as the flip engine holds it: R terms u⊗v⊗w, each factor
//! bit-packed in the arithmetic of [`Factor`] (one u64 over Z2, several
//! for longer factors, bit planes over Z). A shape is supported when its
//! factors (n·m, m·p and n·p coefficients) fit F: 64 coefficients in one
//! word (up to 8x8x8), 256 in four (up to 16x16x16, over Z2).

use super::factor::Factor;
use crate::problem::{Decomposition, Shape};
use anyhow::{bail, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheme<F> {
    pub shape: Shape,
    pub terms: Vec<[F; 3]>,
}

/// A scheme over Z2: its terms as bit masks.
pub type Z2Scheme = Scheme<u64>;

impl<F: Factor> Scheme<F> {
    /// Whether every factor of `shape` fits in F.
    pub fn supports(shape: Shape) -> bool {
        shape.factor_lens().iter().all(|&l| l <= F::MAX_COEFFS)
    }

    /// `supports`, as the one-line error a user sees.
    pub fn check_supported(shape: Shape) -> Result<()> {
        if !Self::supports(shape) {
            bail!(
                "{shape} is not supported: the flip engine needs n·m, m·p and n·p up to {} over {}",
                F::MAX_COEFFS,
                F::FIELD
            );
        }
        Ok(())
    }

    /// The decomposition in this arithmetic: mod 2 over Z2 (a fraction
    /// with an even denominator is refused), within the coefficient bound
    /// over Z.
    pub fn from_decomposition(d: &Decomposition) -> Result<Self> {
        Self::check_supported(d.shape)?;
        let [u, v, w] = d.factors();
        let terms = (0..d.rank())
            .map(|r| {
                Ok([
                    F::from_coeffs(&u[r])?,
                    F::from_coeffs(&v[r])?,
                    F::from_coeffs(&w[r])?,
                ])
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Scheme {
            shape: d.shape,
            terms,
        })
    }

    pub fn standard(shape: Shape) -> Result<Self> {
        Self::from_decomposition(&Decomposition::standard(shape, F::FIELD))
    }

    pub fn rank(&self) -> usize {
        self.terms.len()
    }

    /// Whether this is a decomposition of its shape's tensor in F's
    /// arithmetic, each factor nonzero and encoded as F encodes it (no
    /// bits beyond the factor's length): what a scheme read back from a
    /// file must pass before a walk starts from it.
    pub fn check(&self) -> Result<()> {
        if !Self::supports(self.shape) {
            bail!("{} is not supported by the flip engine", self.shape);
        }
        let lens = self.shape.factor_lens();
        for (r, term) in self.terms.iter().enumerate() {
            for (role, &f) in term.iter().enumerate() {
                let ints: Vec<i64> = (0..lens[role]).map(|i| f.get(i)).collect();
                if f.is_zero() || F::from_ints(&ints) != Some(f) {
                    bail!("term {r} has a malformed or zero factor");
                }
            }
        }
        crate::problem::verify(&self.to_decomposition(), F::FIELD).map_err(|e| {
            anyhow::anyhow!(
                "not a decomposition of {} over {}: {e}",
                self.shape,
                F::FIELD
            )
        })
    }

    pub fn to_decomposition(&self) -> Decomposition {
        let lens = self.shape.factor_lens();
        let rows = |role: usize| -> Vec<Vec<i64>> {
            self.terms
                .iter()
                .map(|t| (0..lens[role]).map(|i| t[role].get(i)).collect())
                .collect()
        };
        Decomposition::from_integers(self.shape, F::FIELD, &rows(0), &rows(1), &rows(2))
            .expect("a scheme's factors have the shape's lengths")
    }
}
