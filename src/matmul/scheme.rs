//! A decomposition as a recipe for multiplying real matrices: for each
//! term, the blocks of A and of B it combines and the blocks of C it
//! feeds, with their coefficients. Only schemes that hold over the reals
//! (over Z or Q) are accepted: a Z2 scheme multiplies mod 2 only.

use crate::problem::{verify, Decomposition, Field, Shape};
use anyhow::{bail, Result};

/// One term: (block index, coefficient) for each nonzero of u, v and w.
/// A's blocks are indexed i·m + j, B's j·p + k and C's i·p + k, as
/// `problem` indexes the tensor (w indexes C itself).
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub a: Vec<(usize, f64)>,
    pub b: Vec<(usize, f64)>,
    pub c: Vec<(usize, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RealScheme {
    pub shape: Shape,
    pub terms: Vec<Term>,
}

impl RealScheme {
    /// The scheme of `d`, verified exactly over its own field first; a Z2
    /// scheme is refused.
    pub fn new(d: &Decomposition) -> Result<Self> {
        if d.field == Field::Z2 {
            bail!(
                "a {} scheme over Z2 multiplies only mod 2: matmul needs one over Z or Q (`flip --lift` lifts Z2 schemes)",
                d.shape
            );
        }
        if let Err(e) = verify(d, d.field) {
            bail!("not a decomposition of {} over {}: {e}", d.shape, d.field);
        }
        let [u, v, w] = d.factors();
        let sparse = |row: &Vec<crate::problem::Coeff>| -> Vec<(usize, f64)> {
            row.iter()
                .enumerate()
                .filter(|(_, x)| **x != crate::problem::Coeff::from_integer(0))
                .map(|(i, x)| (i, *x.numer() as f64 / *x.denom() as f64))
                .collect()
        };
        let terms = (0..d.rank())
            .map(|r| Term {
                a: sparse(&u[r]),
                b: sparse(&v[r]),
                c: sparse(&w[r]),
            })
            .collect();
        Ok(RealScheme {
            shape: d.shape,
            terms,
        })
    }

    /// The scheme of `levels` levels of `d` as one level: the
    /// `levels`-th tensor power of `d` (the 1x1x1 product for 0).
    pub fn power(d: &Decomposition, levels: usize) -> Result<Self> {
        let one =
            Decomposition::standard(Shape::new(1, 1, 1).map_err(anyhow::Error::msg)?, d.field);
        let mut power = one;
        for _ in 0..levels {
            power = crate::problem::meta::tensor_product(&power, d)?;
        }
        RealScheme::new(&power)
    }

    pub fn rank(&self) -> usize {
        self.terms.len()
    }

    /// The standard algorithm of `shape` (one term per product), the
    /// recipe the others are checked against.
    pub fn standard(shape: Shape) -> Self {
        RealScheme::new(&Decomposition::standard(shape, Field::Z))
            .expect("the standard algorithm holds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z2_schemes_are_refused_and_strassen_reads_as_seven_terms() {
        let s = RealScheme::new(&Decomposition::strassen()).unwrap();
        assert_eq!(s.rank(), 7);
        // m1 = (a00 + a11)(b00 + b11), feeding c00 and c11.
        assert_eq!(s.terms[0].a, vec![(0, 1.0), (3, 1.0)]);
        assert_eq!(s.terms[0].c, vec![(0, 1.0), (3, 1.0)]);
        let p = RealScheme::power(&Decomposition::strassen(), 2).unwrap();
        assert_eq!((p.shape, p.rank()), (Shape::new(4, 4, 4).unwrap(), 49));
        assert_eq!(
            RealScheme::power(&Decomposition::strassen(), 0)
                .unwrap()
                .rank(),
            1
        );
        let z2 = Decomposition::standard(Shape::new(2, 2, 2).unwrap(), Field::Z2);
        let e = RealScheme::new(&z2).unwrap_err().to_string();
        assert!(e.contains("over Z2 multiplies only mod 2"), "{e}");
    }
}
