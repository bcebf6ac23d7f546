//! Symmetries of the target (docs/design.md §5): for invertible P, Q, R,
//! (A, B, C) ↦ (PAQ⁻¹, QBR⁻¹, PCR⁻¹) keeps AB = C, so it maps every
//! decomposition of T to another decomposition of T, term by term. A solved
//! game seen through one is another solved game of the same target. The
//! standard basis's games teach the network the schoolbook's eight
//! elementary terms; their images show it the 216 terms of the
//! schoolbook's orbit over Z2 for 2x2x2, among which lie six of every
//! rank-7 scheme's seven.
//!
//! In factor coordinates (row-major u of A, v of B, w of C):
//! u ↦ (P⁻ᵀ ⊗ Q) u, v ↦ (Q⁻ᵀ ⊗ R) v, w ↦ (P ⊗ R⁻ᵀ) w, since
//! ⟨U, P⁻¹AQ⟩ = ⟨P⁻ᵀUQᵀ, A⟩. The maps are returned as a [`Basis`] whose
//! `transform_tensor` leaves T unchanged (a test).

use super::action::decomposition_actions;
use super::basis::{Basis, Unimodular};
use super::demo::Demonstration;
use super::state::GameConfig;
use crate::problem::{Coeff, Decomposition, Field, Shape};
use rand::Rng;

/// X ⊗ Y for row-major square matrices of sizes n and m.
fn kron(x: &[i64], n: usize, y: &[i64], m: usize) -> Vec<i64> {
    let size = n * m;
    let mut out = vec![0; size * size];
    for i in 0..n {
        for k in 0..n {
            let a = x[i * n + k];
            if a == 0 {
                continue;
            }
            for j in 0..m {
                for l in 0..m {
                    out[(i * m + j) * size + k * m + l] = a * y[j * m + l];
                }
            }
        }
    }
    out
}

fn transpose(x: &[i64], n: usize) -> Vec<i64> {
    (0..n * n).map(|at| x[(at % n) * n + at / n]).collect()
}

/// X ⊗ Y as a factor map with its exact inverse X⁻¹ ⊗ Y⁻¹.
fn kron_map(x: &Unimodular, y: &Unimodular, field: Field) -> Unimodular {
    let reduce = |mut m: Vec<i64>| {
        if field == Field::Z2 {
            m.iter_mut().for_each(|e| *e = e.rem_euclid(2));
        }
        m
    };
    Unimodular {
        n: x.n * y.n,
        m: reduce(kron(&x.m, x.n, &y.m, y.n)),
        inv: reduce(kron(&x.inv, x.n, &y.inv, y.n)),
    }
}

/// Swaps a matrix and its inverse after transposing both: X⁻ᵀ.
fn inverse_transpose(x: &Unimodular) -> Unimodular {
    Unimodular {
        n: x.n,
        m: transpose(&x.inv, x.n),
        inv: transpose(&x.m, x.n),
    }
}

/// The factor maps of the symmetry given by P (n×n), Q (m×m), R (p×p).
pub fn symmetry(p: &Unimodular, q: &Unimodular, r: &Unimodular, field: Field) -> Basis {
    Basis {
        modes: [
            kron_map(&inverse_transpose(p), q, field),
            kron_map(&inverse_transpose(q), r, field),
            kron_map(p, &inverse_transpose(r), field),
        ],
        field,
    }
}

/// A random symmetry of `shape`'s T, each of P, Q, R a product of `ops`
/// elementary operations (over Z, through a signed permutation:
/// [`Unimodular::random`]).
pub fn random_symmetry<R: Rng>(rng: &mut R, shape: Shape, field: Field, ops: usize) -> Basis {
    let [p, q, r] = [shape.n, shape.m, shape.p].map(|n| Unimodular::random(rng, n, ops, field));
    symmetry(&p, &q, &r, field)
}

/// A random symmetry that maps `d` into the coefficient set `set`, or None
/// when no draw fits. Over Z2 every one fits (2n operations per matrix);
/// over Z larger matrices take coefficients past ±1, so the draws go from
/// two operations per matrix down to one.
pub fn random_symmetry_within<R: Rng>(
    rng: &mut R,
    d: &Decomposition,
    set: &[i32],
) -> Option<Basis> {
    if d.field == Field::Z2 {
        let ops = exploration_ops(d.shape, d.field);
        return Some(random_symmetry(rng, d.shape, d.field, ops));
    }
    [2, 2, 2, 2, 1, 1, 1, 1]
        .into_iter()
        .map(|ops| random_symmetry(rng, d.shape, d.field, ops))
        .find(|s| s.keeps_within(d, set))
}

/// The image of one action u‖v‖w under a symmetry of T, for a game played
/// in `basis` (None: the standard one): the symmetry is conjugated by the
/// basis, so the image is a term of the same target's orbit. None when a
/// coefficient leaves `set`.
pub fn map_action(
    symmetry: &Basis,
    basis: Option<&Basis>,
    dims: [usize; 3],
    set: &[i32],
    action: &[i32],
) -> Option<Vec<i32>> {
    let field = symmetry.field;
    let mut out = Vec::with_capacity(action.len());
    let mut at = 0;
    for (mode, &len) in dims.iter().enumerate() {
        let mut x: Vec<Coeff> = action[at..at + len]
            .iter()
            .map(|&c| Coeff::from_integer(c as i128))
            .collect();
        at += len;
        if let Some(b) = basis {
            x = b.modes[mode].apply_inverse(&x);
        }
        x = symmetry.modes[mode].apply(&x);
        if let Some(b) = basis {
            x = b.modes[mode].apply(&x);
        }
        for c in x {
            let c = field.reduce(&c).unwrap_or(c);
            let v = i32::try_from(c.to_integer())
                .ok()
                .filter(|v| set.contains(v))?;
            out.push(v);
        }
    }
    Some(out)
}

/// Operations per matrix of the symmetries drawn for exploration (and
/// for views over Z2): over Z one keeps most images of a ±1 term within
/// ±1.
pub fn exploration_ops(shape: Shape, field: Field) -> usize {
    match field {
        Field::Z2 => 2 * shape.n.max(shape.m).max(shape.p),
        _ => 1,
    }
}

/// A synthetic demonstration whose factors are terms of the standard
/// algorithm's orbit: each a random term of it under its own random
/// symmetry of T. Such sums are what the residuals of T's games look like
/// once they leave the standard basis's terms (every term but one of a
/// rank-7 scheme for 2x2x2 is in the orbit), so the value head learns to
/// count their terms.
pub fn orbit_demonstration<R: Rng>(rng: &mut R, cfg: &GameConfig, rank: usize) -> Demonstration {
    let standard = decomposition_actions(&Decomposition::standard(cfg.shape, cfg.field));
    let set = crate::game::action::coefficient_set(cfg.field);
    let ops = exploration_ops(cfg.shape, cfg.field);
    let mut factors = Vec::with_capacity(rank);
    while factors.len() < rank {
        let s = random_symmetry(rng, cfg.shape, cfg.field, ops);
        let source = &standard[rng.random_range(0..standard.len())];
        if let Some(mut f) = map_action(&s, None, cfg.dims, set, source) {
            crate::game::action::canonicalise(cfg.field, cfg.dims, &mut f);
            factors.push(f);
        }
    }
    Demonstration::of_factors(cfg, factors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::verify;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn symmetries_keep_t_and_map_schemes_to_schemes() {
        let mut rng = StdRng::seed_from_u64(3);
        for (n, m, p) in [(2, 2, 2), (2, 3, 4), (3, 3, 3)] {
            let shape = Shape::new(n, m, p).unwrap();
            let t = shape.dense_tensor();
            for field in [Field::Z2, Field::Z] {
                for _ in 0..20 {
                    let s = random_symmetry(&mut rng, shape, field, 4);
                    let mut image = s.transform_tensor(shape.factor_lens(), &t);
                    if field == Field::Z2 {
                        image.iter_mut().for_each(|x| *x = x.rem_euclid(2));
                    }
                    assert_eq!(image, t, "{shape} over {field}: T moved");
                    let d = Decomposition::standard(shape, field);
                    let view = s.forward(&d);
                    verify(&view, field).unwrap_or_else(|e| panic!("{shape} over {field}: {e}"));
                    assert_eq!(s.back(&view), d);
                }
            }
        }
    }

    #[test]
    fn mapped_actions_are_the_terms_of_the_mapped_scheme_in_any_basis() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let dims = shape.factor_lens();
        let mut rng = StdRng::seed_from_u64(9);
        for field in [Field::Z2, Field::Z] {
            let set = crate::game::action::coefficient_set(field);
            let d = Decomposition::standard(shape, field);
            for _ in 0..20 {
                let s = random_symmetry(&mut rng, shape, field, exploration_ops(shape, field));
                let basis = Basis::random_with(&mut rng, dims, field, 1);
                // In the game's basis: the image of the basis's view of a
                // term is the basis's view of the term's image.
                let view = basis.forward(&d);
                let image = basis.forward(&s.forward(&d));
                for r in 0..d.rank() {
                    let term = |x: &Decomposition| -> Option<Vec<i32>> {
                        [&x.u[r], &x.v[r], &x.w[r]]
                            .iter()
                            .flat_map(|row| row.iter())
                            .map(|c| i32::try_from(c.to_integer()).ok())
                            .collect()
                    };
                    let (Some(a), Some(want)) = (term(&view), term(&image)) else {
                        continue;
                    };
                    let got = map_action(&s, Some(&basis), dims, set, &a);
                    if want.iter().all(|v| set.contains(v)) {
                        assert_eq!(got, Some(want), "{field}");
                    } else {
                        assert_eq!(got, None, "{field}");
                    }
                }
            }
        }
    }

    #[test]
    fn orbit_demonstrations_sum_to_their_tensor_with_terms_of_the_orbit() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let mut rng = StdRng::seed_from_u64(4);
        for field in [Field::Z2, Field::Z] {
            let cfg = GameConfig::new(shape, field, 1, 8);
            let set = crate::game::action::coefficient_set(field);
            let mut dense_terms = 0;
            for rank in 1..=6 {
                let d = orbit_demonstration(&mut rng, &cfg, rank);
                assert_eq!(d.factors.len(), rank);
                let mut r = d.tensor.clone();
                for f in &d.factors {
                    assert!(f.iter().all(|x| set.contains(x)), "{field}: {f:?}");
                    // An orbit term of 2x2x2: each factor is a 2x2 matrix of
                    // rank one (a nonzero with a zero determinant).
                    for m in f.chunks(4) {
                        let det = m[0] * m[3] - m[1] * m[2];
                        let singular = match field {
                            Field::Z2 => det.rem_euclid(2) == 0,
                            _ => det == 0,
                        };
                        assert!(m.iter().any(|&x| x != 0) && singular, "{field}: {f:?}");
                    }
                    dense_terms += usize::from(f.iter().filter(|&&x| x != 0).count() > 3);
                    cfg.subtract(&mut r, f);
                }
                assert!(
                    r.iter().all(|&x| x == 0),
                    "{field}: the factors do not sum to the tensor"
                );
            }
            assert!(dense_terms > 0, "{field}: only elementary terms");
        }
    }

    #[test]
    fn symmetries_reach_beyond_the_elementary_terms() {
        // The schoolbook's terms are elementary (one nonzero per factor);
        // their images under random symmetries are not, and they are all
        // kept within {−1, 0, 1} over Z.
        let shape = Shape::new(2, 2, 2).unwrap();
        let mut rng = StdRng::seed_from_u64(5);
        for field in [Field::Z2, Field::Z] {
            let d = Decomposition::standard(shape, field);
            let set = crate::game::action::coefficient_set(field);
            let dense = (0..20)
                .filter_map(|_| random_symmetry_within(&mut rng, &d, set))
                .map(|s| s.forward(&d))
                .filter(|v| {
                    v.u.iter().any(|row| {
                        row.iter()
                            .filter(|x| !crate::problem::field::is_zero_in(field, x))
                            .count()
                            > 1
                    })
                })
                .count();
            assert!(
                dense >= 10,
                "{field}: {dense} of 20 views left the elementary terms"
            );
        }
    }
}
