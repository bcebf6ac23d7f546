//! Schemes of one shape made from schemes of others, so that one shape's
//! search can start where another's ended:
//! - the tensor product of ⟨n₁,m₁,p₁⟩ and ⟨n₂,m₂,p₂⟩ schemes is a
//!   ⟨n₁n₂,m₁m₂,p₁p₂⟩ scheme of rank R₁R₂ (the first multiplies blocks,
//!   the second their entries);
//! - a projection to a smaller shape keeps the leading rows and columns
//!   (terms that vanish there are dropped);
//! - an extension to a larger shape adds one standard term for each
//!   product A[i][j]·B[j][k] the smaller scheme does not cover.
//!
//! Each is exact; callers verify the result before they use it.

use super::decomposition::Decomposition;
use super::field::Coeff;
use super::shape::Shape;
use anyhow::{anyhow, Result};

/// The tensor product: term (r₁, r₂) has factors u₁ ⊗ u₂, v₁ ⊗ v₂ and
/// w₁ ⊗ w₂, each a Kronecker product of matrices (row i = i₁·n₂ + i₂,
/// column j = j₁·m₂ + j₂).
pub fn tensor_product(a: &Decomposition, b: &Decomposition) -> Result<Decomposition> {
    let (sa, sb) = (a.shape, b.shape);
    let shape = Shape::new(sa.n * sb.n, sa.m * sb.m, sa.p * sb.p)
        .map_err(|e| anyhow!("the product of {sa} and {sb}: {e}"))?;
    let (da, db) = (matrix_dims(sa), matrix_dims(sb));
    let kron = |role: usize, x: &[Coeff], y: &[Coeff]| -> Vec<Coeff> {
        let ((r1, c1), (r2, c2)) = (da[role], db[role]);
        let cols = c1 * c2;
        let mut out = vec![Coeff::from_integer(0); r1 * r2 * cols];
        for i1 in 0..r1 {
            for j1 in 0..c1 {
                let xv = x[i1 * c1 + j1];
                if xv == Coeff::from_integer(0) {
                    continue;
                }
                for i2 in 0..r2 {
                    for j2 in 0..c2 {
                        out[(i1 * r2 + i2) * cols + j1 * c2 + j2] = xv * y[i2 * c2 + j2];
                    }
                }
            }
        }
        out
    };
    let (mut u, mut v, mut w) = (vec![], vec![], vec![]);
    for r1 in 0..a.rank() {
        for r2 in 0..b.rank() {
            u.push(kron(0, &a.u[r1], &b.u[r2]));
            v.push(kron(1, &a.v[r1], &b.v[r2]));
            w.push(kron(2, &a.w[r1], &b.w[r2]));
        }
    }
    Decomposition::new(shape, a.field, u, v, w).map_err(|e| anyhow!(e))
}

/// `d` made a scheme of `target`: projected to the smaller of the two in
/// each dimension, then extended by standard terms to `target`.
pub fn fit(d: &Decomposition, target: Shape) -> Decomposition {
    let s = d.shape;
    let low = Shape {
        n: s.n.min(target.n),
        m: s.m.min(target.m),
        p: s.p.min(target.p),
    };
    let mut out = reshape(d, low);
    // Terms that vanish in the smaller shape are dropped.
    let zero = Coeff::from_integer(0);
    let keep: Vec<bool> = (0..out.rank())
        .map(|r| {
            [&out.u[r], &out.v[r], &out.w[r]]
                .iter()
                .all(|f| f.iter().any(|x| *x != zero))
        })
        .collect();
    for factor in [&mut out.u, &mut out.v, &mut out.w] {
        let mut k = keep.iter();
        factor.retain(|_| *k.next().expect("one flag per term"));
    }
    let mut out = reshape(&out, target);
    // The products A[i][j]·B[j][k] the smaller scheme does not cover: the
    // standard algorithm's terms for them (in its order, one per entry).
    let standard = Decomposition::standard(target, d.field);
    for (r, e) in target.tensor_entries().iter().enumerate() {
        let (i, j, k) = (e.a / target.m, e.a % target.m, e.b % target.p);
        if i >= low.n || j >= low.m || k >= low.p {
            out.u.push(standard.u[r].clone());
            out.v.push(standard.v[r].clone());
            out.w.push(standard.w[r].clone());
        }
    }
    out
}

/// The matrix each factor indexes, (rows, columns): A is n×m, B m×p, C n×p.
fn matrix_dims(s: Shape) -> [(usize, usize); 3] {
    [(s.n, s.m), (s.m, s.p), (s.n, s.p)]
}

/// The same terms in the index space of `to`: each factor's matrix is cut
/// to, or padded with zeros to, the new dimensions.
fn reshape(d: &Decomposition, to: Shape) -> Decomposition {
    let (df, dt) = (matrix_dims(d.shape), matrix_dims(to));
    let zero = Coeff::from_integer(0);
    let cut = |role: usize, x: &[Coeff]| -> Vec<Coeff> {
        let ((rf, cf), (rt, ct)) = (df[role], dt[role]);
        let mut out = vec![zero; rt * ct];
        for i in 0..rf.min(rt) {
            for j in 0..cf.min(ct) {
                out[i * ct + j] = x[i * cf + j];
            }
        }
        out
    };
    let map = |role: usize, rows: &[Vec<Coeff>]| rows.iter().map(|x| cut(role, x)).collect();
    Decomposition {
        shape: to,
        field: d.field,
        u: map(0, &d.u),
        v: map(1, &d.v),
        w: map(2, &d.w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{verify, Field};

    #[test]
    fn strassen_squared_is_a_4x4x4_scheme_of_rank_49() {
        let s = Decomposition::strassen();
        let p = tensor_product(&s, &s).unwrap();
        assert_eq!(p.shape, Shape::new(4, 4, 4).unwrap());
        assert_eq!(p.rank(), 49);
        verify(&p, Field::Z).unwrap();
    }

    #[test]
    fn products_of_unequal_shapes_verify() {
        let s = Decomposition::strassen();
        let std = Decomposition::standard(Shape::new(1, 2, 3).unwrap(), Field::Z);
        for (a, b) in [(&s, &std), (&std, &s)] {
            let p = tensor_product(a, b).unwrap();
            assert_eq!(p.rank(), 7 * 6);
            verify(&p, Field::Z).unwrap();
        }
    }

    #[test]
    fn extensions_and_projections_verify_with_the_expected_ranks() {
        let s = Decomposition::strassen();
        let shape = |n, m, p| Shape::new(n, m, p).unwrap();
        // 2x2x3: Strassen plus the 2x2x1 column, 4 standard terms.
        let e = fit(&s, shape(2, 2, 3));
        assert_eq!(e.rank(), 7 + 4);
        verify(&e, Field::Z).unwrap();
        // 3x3x3 from Strassen: 7 + 27 − 8.
        let e = fit(&s, shape(3, 3, 3));
        assert_eq!(e.rank(), 7 + 19);
        verify(&e, Field::Z).unwrap();
        // 4x4x5 from Strassen² plus 4x4x1.
        let sq = tensor_product(&s, &s).unwrap();
        let e = fit(&sq, shape(4, 4, 5));
        assert_eq!(e.rank(), 49 + 16);
        verify(&e, Field::Z).unwrap();
        // Projections: 3x3x3 from Strassen², and 1x2x2 from Strassen.
        for (d, to) in [
            (&sq, shape(3, 3, 3)),
            (&s, shape(1, 2, 2)),
            (&sq, shape(2, 4, 3)),
        ] {
            let e = fit(d, to);
            assert!(e.rank() <= d.rank());
            verify(&e, Field::Z).unwrap();
        }
        // Projected and extended in one: 2x2x2 → 1x2x3.
        let e = fit(&s, shape(1, 2, 3));
        verify(&e, Field::Z).unwrap();
    }
}
