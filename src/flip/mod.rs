//! Flip-graph local search (Kauers and Moosbauer, 2022) on the CPU: a
//! random walk over decompositions of the same tensor. A *flip* rewrites
//! two terms that share a factor (up to sign over Z),
//! x⊗y₁⊗z₁ + x⊗y₂⊗z₂ = x⊗(y₁+y₂)⊗z₁ + x⊗y₂⊗(z₂−z₁), in any of the three
//! roles; a *reduction* drops a term whose factor became zero, or merges
//! two terms that share two factors (rank − 1). Every step keeps the sum of
//! the terms, so a scheme stays a decomposition.
//!
//! This module's `Scheme` and `walk` are the engine `search --polish` runs
//! on each decomposition the network finds: a plain CPU walk over small
//! integer vectors. [`z2`] is the bit-packed walker over Z2.

pub mod bench;
pub mod index;
pub mod lift;
pub mod pool;
pub mod run;
pub mod z2;

use crate::problem::{Decomposition, Field, Shape};
use rand::Rng;

/// The largest coefficient an unbounded walk may reach.
pub const HARD_CAP: i32 = 1 << 12;

/// R terms, each u‖v‖w as three integer vectors, over Z (entries bounded
/// by `bound` when set) or Z2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheme {
    pub shape: Shape,
    pub field: Field,
    pub bound: Option<i32>,
    pub terms: Vec<[Vec<i32>; 3]>,
}

impl Scheme {
    /// An integral decomposition as a scheme; `None` when a coefficient is
    /// not an integer (or outside `bound`).
    pub fn from_decomposition(d: &Decomposition, bound: Option<i32>) -> Option<Scheme> {
        let int = |rows: &Vec<Vec<crate::problem::Coeff>>, r: usize| -> Option<Vec<i32>> {
            rows[r]
                .iter()
                .map(|x| {
                    x.is_integer()
                        .then(|| i32::try_from(x.to_integer()).ok())
                        .flatten()
                        .filter(|v| bound.is_none_or(|b| v.abs() <= b))
                })
                .collect()
        };
        let terms = (0..d.rank())
            .map(|r| Some([int(&d.u, r)?, int(&d.v, r)?, int(&d.w, r)?]))
            .collect::<Option<Vec<_>>>()?;
        Some(Scheme {
            shape: d.shape,
            field: d.field,
            bound,
            terms,
        })
    }

    pub fn rank(&self) -> usize {
        self.terms.len()
    }

    pub fn to_decomposition(&self) -> Decomposition {
        let rows = |m: usize| -> Vec<Vec<i64>> {
            self.terms
                .iter()
                .map(|t| t[m].iter().map(|&x| x as i64).collect())
                .collect()
        };
        Decomposition::from_integers(self.shape, self.field, &rows(0), &rows(1), &rows(2))
            .expect("a scheme's rows have the shape's lengths")
    }

    fn reduce_value(&self, x: i32) -> i32 {
        if self.field == Field::Z2 {
            x.rem_euclid(2)
        } else {
            x
        }
    }

    /// s when b = s·a for s = ±1 (only +1 over Z2), both nonzero.
    fn sign_between(&self, a: &[i32], b: &[i32]) -> Option<i32> {
        if a == b {
            return Some(1);
        }
        if self.field != Field::Z2 && a.iter().zip(b).all(|(x, y)| *x == -*y) {
            return Some(-1);
        }
        None
    }

    /// Within the coefficient bound, or the hard cap that keeps unbounded
    /// walks far from i32 overflow (coefficients can double per flip).
    fn in_bound(&self, v: &[i32]) -> bool {
        let b = self.bound.unwrap_or(HARD_CAP);
        v.iter().all(|x| x.abs() <= b)
    }

    /// Applies reductions until none is left: terms with a zero factor go,
    /// and two terms sharing two factors (up to sign) merge into one.
    pub fn reduce(&mut self) {
        'again: loop {
            self.terms
                .retain(|t| t.iter().all(|f| f.iter().any(|&x| x != 0)));
            for i in 0..self.terms.len() {
                for j in i + 1..self.terms.len() {
                    for free in 0..3 {
                        let (p, q) = ((free + 1) % 3, (free + 2) % 3);
                        let (Some(sp), Some(sq)) = (
                            self.sign_between(&self.terms[i][p], &self.terms[j][p]),
                            self.sign_between(&self.terms[i][q], &self.terms[j][q]),
                        ) else {
                            continue;
                        };
                        // t_i + t_j = x⊗y⊗(z_i + sp·sq·z_j) in the free role.
                        let merged: Vec<i32> = self.terms[i][free]
                            .iter()
                            .zip(&self.terms[j][free])
                            .map(|(a, b)| self.reduce_value(a + sp * sq * b))
                            .collect();
                        if !self.in_bound(&merged) {
                            continue;
                        }
                        self.terms[i][free] = merged;
                        self.terms.swap_remove(j);
                        continue 'again;
                    }
                }
            }
            return;
        }
    }

    /// One random flip, when some pair of terms shares a factor; false when
    /// none does or the drawn flip would leave the coefficient bound.
    pub fn flip<R: Rng>(&mut self, rng: &mut R) -> bool {
        let mut pairs = Vec::new();
        for i in 0..self.terms.len() {
            for j in 0..self.terms.len() {
                if i == j {
                    continue;
                }
                for m in 0..3 {
                    if let Some(s) = self.sign_between(&self.terms[i][m], &self.terms[j][m]) {
                        pairs.push((i, j, m, s));
                    }
                }
            }
        }
        if pairs.is_empty() {
            return false;
        }
        let (i, j, m, s) = pairs[rng.random_range(0..pairs.len())];
        // t_j = (s·x, y_j, z_j): t_i ← (x, y_i + s·y_j, z_i), t_j ← (s·x, y_j, z_j − z_i),
        // with (y, z) the other two roles in either order.
        let (y, z) = if rng.random_bool(0.5) {
            ((m + 1) % 3, (m + 2) % 3)
        } else {
            ((m + 2) % 3, (m + 1) % 3)
        };
        let new_y: Vec<i32> = self.terms[i][y]
            .iter()
            .zip(&self.terms[j][y])
            .map(|(a, b)| self.reduce_value(a + s * b))
            .collect();
        let new_z: Vec<i32> = self.terms[j][z]
            .iter()
            .zip(&self.terms[i][z])
            .map(|(a, b)| self.reduce_value(a - b))
            .collect();
        if !self.in_bound(&new_y) || !self.in_bound(&new_z) {
            return false;
        }
        self.terms[i][y] = new_y;
        self.terms[j][z] = new_z;
        true
    }
}

/// Walk settings: flips in all, and flips without a lower rank after which
/// the walk goes back to its best scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkConfig {
    pub flips: usize,
    pub plateau: usize,
}

/// A random walk from `start`; returns the lowest-rank scheme it met.
pub fn walk<R: Rng>(start: &Scheme, cfg: WalkConfig, rng: &mut R) -> Scheme {
    let mut best = start.clone();
    best.reduce();
    let mut current = best.clone();
    let mut since_best = 0;
    for _ in 0..cfg.flips {
        if !current.flip(rng) {
            since_best += 1;
            if since_best >= cfg.plateau {
                current = best.clone();
                since_best = 0;
            }
            continue;
        }
        current.reduce();
        if current.rank() < best.rank() {
            best = current.clone();
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= cfg.plateau {
                current = best.clone();
                since_best = 0;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::verify;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn thousands_of_flips_keep_the_tensor() {
        let mut rng = StdRng::seed_from_u64(4);
        for (n, m, p) in [(2, 2, 2), (2, 3, 3), (3, 3, 3)] {
            let shape = Shape::new(n, m, p).unwrap();
            for (field, bound) in [(Field::Z2, None), (Field::Z, None), (Field::Z, Some(1))] {
                let d = Decomposition::standard(shape, field);
                let mut s = Scheme::from_decomposition(&d, bound).unwrap();
                for step in 0..3000 {
                    if s.flip(&mut rng) {
                        s.reduce();
                    }
                    if step % 500 == 0 {
                        verify(&s.to_decomposition(), field).unwrap();
                    }
                }
                verify(&s.to_decomposition(), field).unwrap();
                if let Some(b) = bound {
                    assert!(s.terms.iter().flatten().flatten().all(|x| x.abs() <= b));
                }
            }
        }
    }

    #[test]
    fn the_standard_algorithm_walks_down_to_rank_seven() {
        let shape = Shape::new(2, 2, 2).unwrap();
        for (field, bound) in [(Field::Z2, None), (Field::Z, Some(1))] {
            let start =
                Scheme::from_decomposition(&Decomposition::standard(shape, field), bound).unwrap();
            let mut rng = StdRng::seed_from_u64(1);
            let cfg = WalkConfig {
                flips: 200_000,
                plateau: 2_000,
            };
            let best = walk(&start, cfg, &mut rng);
            assert_eq!(best.rank(), 7, "{field}");
            verify(&best.to_decomposition(), field).unwrap();
        }
    }

    #[test]
    fn reductions_merge_terms_sharing_two_factors() {
        let shape = Shape::new(1, 1, 2).unwrap();
        // (1)⊗(1,0)⊗(1,0) + (1)⊗(−1,0)⊗(0,1) = (1)⊗(1,0)⊗(1,−1).
        let mut s = Scheme {
            shape,
            field: Field::Z,
            bound: None,
            terms: vec![
                [vec![1], vec![1, 0], vec![1, 0]],
                [vec![1], vec![-1, 0], vec![0, 1]],
            ],
        };
        s.reduce();
        assert_eq!(s.terms, vec![[vec![1], vec![1, 0], vec![1, -1]]]);
    }
}
