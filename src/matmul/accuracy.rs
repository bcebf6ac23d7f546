//! Accuracy among equivalent 2x2x2 schemes. A change of basis (P, Q, R),
//! with AB = P⁻¹ (PAQ⁻¹)(QBR⁻¹) R, maps a scheme (U_r, V_r, W_r), read as
//! 2x2 matrices with ⟨U, A⟩ = Σ U_ij A_ij, to
//! (Pᵀ U_r Q⁻ᵀ, Qᵀ V_r R⁻ᵀ, P⁻¹ W_r R): another scheme of the same rank
//! that rounds differently. Signs and power-of-two scalings of a term's
//! factors are exact in floating point and change no rounding, so the
//! search runs over bases with entries in {−1, 0, 1} and determinant ±1,
//! one per class modulo signed permutations (which only relabel and
//! negate entries), and measures each scheme's error on random matrices.

use super::cpu::{multiply, reference, Dims};
use super::measure::{random_matrix, relative_error};
use super::scheme::RealScheme;
use crate::problem::{verify, Decomposition, Field, Shape};
use anyhow::Result;
use rand::SeedableRng;

type M2 = [[i64; 2]; 2];

/// Winograd's variant of Strassen's algorithm (7 products, 15 additions
/// when its sums are shared), in this project's convention.
pub fn winograd() -> Decomposition {
    let u = [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [1, 1, -1, -1],
        [0, 0, 0, 1],
        [0, 0, 1, 1],
        [-1, 0, 1, 1],
        [1, 0, -1, 0],
    ];
    let v = [
        [1, 0, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
        [1, -1, -1, 1],
        [-1, 1, 0, 0],
        [1, -1, 0, 1],
        [0, -1, 0, 1],
    ];
    let w = [
        [1, 1, 1, 1],
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, -1, 0],
        [0, 1, 0, 1],
        [0, 1, 1, 1],
        [0, 0, 1, 1],
    ];
    let rows = |x: &[[i64; 4]]| x.iter().map(|r| r.to_vec()).collect::<Vec<_>>();
    let shape = Shape::new(2, 2, 2).expect("2x2x2");
    Decomposition::from_integers(shape, Field::Z, &rows(&u), &rows(&v), &rows(&w))
        .expect("Winograd's rows have the lengths of 2x2x2")
}

fn mul(a: M2, b: M2) -> M2 {
    let mut c = [[0; 2]; 2];
    for i in 0..2 {
        for j in 0..2 {
            c[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j];
        }
    }
    c
}

fn transpose(a: M2) -> M2 {
    [[a[0][0], a[1][0]], [a[0][1], a[1][1]]]
}

fn det(a: M2) -> i64 {
    a[0][0] * a[1][1] - a[0][1] * a[1][0]
}

/// The inverse of a matrix of determinant ±1 (an integer matrix).
fn inverse(a: M2) -> M2 {
    let d = det(a);
    [[a[1][1] * d, -a[0][1] * d], [-a[1][0] * d, a[0][0] * d]]
}

/// Bases with entries in {−1, 0, 1} and determinant ±1, one per class of
/// P ~ ΠP with Π a signed permutation (the identity for its own class,
/// else the class's first in a fixed order).
pub fn bases() -> Vec<M2> {
    let signed_perms: Vec<M2> = [[[1, 0], [0, 1]], [[0, 1], [1, 0]]]
        .iter()
        .flat_map(|&p| {
            [(1, 1), (1, -1), (-1, 1), (-1, -1)]
                .map(|(s, t)| mul([[s, 0], [0, t]], p))
                .to_vec()
        })
        .collect();
    // The identity stands for its class: the scheme as given.
    let mut reps: Vec<M2> = vec![[[1, 0], [0, 1]]];
    for code in 0..81 {
        let e = |k: u32| (code / 3i64.pow(k)) % 3 - 1;
        let a = [[e(0), e(1)], [e(2), e(3)]];
        if det(a).abs() != 1 {
            continue;
        }
        if !reps
            .iter()
            .any(|&r| signed_perms.iter().any(|&p| mul(p, r) == a))
        {
            reps.push(a);
        }
    }
    reps
}

/// The scheme `d` (2x2x2) in the bases (P, Q, R), verified.
pub fn change_basis(d: &Decomposition, [p, q, r]: [M2; 3]) -> Result<Decomposition> {
    let as_m2 = |row: &[crate::problem::Coeff]| -> M2 {
        let x = |i: usize| *row[i].numer() as i64;
        [[x(0), x(1)], [x(2), x(3)]]
    };
    let flat = |m: M2| vec![m[0][0], m[0][1], m[1][0], m[1][1]];
    let (qit, rit, pi) = (transpose(inverse(q)), transpose(inverse(r)), inverse(p));
    let [u, v, w] = d.factors();
    let (mut nu, mut nv, mut nw) = (vec![], vec![], vec![]);
    for t in 0..d.rank() {
        nu.push(flat(mul(mul(transpose(p), as_m2(&u[t])), qit)));
        nv.push(flat(mul(mul(transpose(q), as_m2(&v[t])), rit)));
        nw.push(flat(mul(mul(pi, as_m2(&w[t])), r)));
    }
    let out = Decomposition::from_integers(d.shape, d.field, &nu, &nv, &nw)
        .map_err(anyhow::Error::msg)?;
    verify(&out, d.field)
        .map_err(|e| anyhow::anyhow!("a change of basis broke the scheme: {e}"))?;
    Ok(out)
}

/// The mean error (max|Ĉ−C| / (max|A|·max|B|) against f64) of `s` at
/// `levels` levels on `samples` pairs of random n×n matrices.
pub fn mean_error(s: &RealScheme, levels: usize, n: usize, samples: u64) -> f64 {
    let d = Dims { n, k: n, m: n };
    let total: f64 = (0..samples)
        .map(|seed| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let a = random_matrix(&mut rng, n * n);
            let b = random_matrix(&mut rng, n * n);
            let want = reference(&a, &b, d);
            relative_error(&multiply(s, levels, &a, &b, d), &want, &a, &b)
        })
        .sum();
    total / samples as f64
}

/// One scheme of the search: its bases and its error.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub bases: [M2; 3],
    pub scheme: Decomposition,
    pub error: f64,
}

/// Every change of basis of `d` over [`bases`]³, each scored by its mean
/// error at `levels` levels on n×n matrices; sorted, most accurate first.
pub fn search(d: &Decomposition, levels: usize, n: usize, samples: u64) -> Result<Vec<Candidate>> {
    let reps = bases();
    let mut out = vec![];
    for &p in &reps {
        for &q in &reps {
            for &r in &reps {
                let scheme = change_basis(d, [p, q, r])?;
                let error = mean_error(&RealScheme::new(&scheme)?, levels, n, samples);
                out.push(Candidate {
                    bases: [p, q, r],
                    scheme,
                    error,
                });
            }
        }
    }
    out.sort_by(|a, b| a.error.total_cmp(&b.error));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winograd_and_every_change_of_basis_of_strassen_verify() {
        verify(&winograd(), Field::Z).unwrap();
        let reps = bases();
        assert!(reps.contains(&[[1, 0], [0, 1]]));
        // Every class is distinct: no rep is a signed permutation of another.
        assert!(reps.len() >= 3 && reps.len() < 48, "{}", reps.len());
        for &p in &reps {
            for &q in &reps {
                change_basis(&Decomposition::strassen(), [p, q, [[1, 1], [0, 1]]]).unwrap();
            }
        }
    }

    #[test]
    fn the_identity_change_of_basis_keeps_the_scheme_and_a_search_ranks_it() {
        let id = [[1, 0], [0, 1]];
        let s = Decomposition::strassen();
        assert_eq!(change_basis(&s, [id, id, id]).unwrap(), s);
        let found = search(&s, 1, 32, 2).unwrap();
        assert_eq!(found.len(), bases().len().pow(3));
        assert!(found.windows(2).all(|w| w[0].error <= w[1].error));
        let own = found.iter().find(|c| c.bases == [id, id, id]).unwrap();
        assert!(found[0].error <= own.error && own.error > 0.0);
    }
}
