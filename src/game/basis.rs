//! Change of basis (docs/design.md §4): T' = T ×₁ A ×₂ B ×₃ C with random invertible
//! integer matrices whose inverses are integer too (unimodular over Z;
//! invertible over GF(2)). A decomposition (u', v', w') of T' maps back to
//! (A⁻¹u', B⁻¹v', C⁻¹w'), a decomposition of T.

use crate::problem::{Coeff, Decomposition, Field};
use rand::seq::SliceRandom;
use rand::Rng;

/// An n×n integer matrix (row-major) with its exact integer inverse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unimodular {
    pub n: usize,
    pub m: Vec<i64>,
    pub inv: Vec<i64>,
}

impl Unimodular {
    pub fn identity(n: usize) -> Self {
        let mut m = vec![0; n * n];
        for i in 0..n {
            m[i * n + i] = 1;
        }
        Unimodular {
            n,
            inv: m.clone(),
            m,
        }
    }

    /// A product of `ops` random elementary operations (row i ± row j),
    /// applied to M while their inverses are applied to M⁻¹ in the
    /// opposite order, so both stay exact integer matrices with small
    /// entries.
    ///
    /// Over Z2 entries are reduced mod 2, and half the time one more
    /// operation is taken: GL₂(F₂) is the group of permutations of its
    /// three nonzero vectors, each row operation is a transposition of two
    /// of them, so a product of a fixed number reaches only the even (or
    /// only the odd) half of it.
    ///
    /// Over Z the product is then taken through a random signed
    /// permutation, which moves no coefficient past ±1; a fifth of the
    /// time one operation fewer is taken. With one operation every one of
    /// the 40 matrices of GL₂(Z) with entries in {−1, 0, 1} is drawn with
    /// the same chance (8 signed permutations, 32 of them times one
    /// operation): the rank-7 schemes over Z lie in the orbit of that whole
    /// set, and elementary operations alone reach 8 of its matrices.
    pub fn random<R: Rng>(rng: &mut R, n: usize, ops: usize, field: Field) -> Self {
        let mut u = Self::identity(n);
        if n < 2 {
            return u;
        }
        let ops = match field {
            Field::Z2 if ops > 0 => ops + rng.random_range(0..2),
            _ if ops > 0 && rng.random_bool(0.2) => ops - 1,
            _ => ops,
        };
        for _ in 0..ops {
            let i = rng.random_range(0..n);
            let mut j = rng.random_range(0..n - 1);
            if j >= i {
                j += 1;
            }
            let s: i64 = if field == Field::Z2 || rng.random_bool(0.5) {
                1
            } else {
                -1
            };
            // M ← E·M with E = I + s·e_i e_jᵀ (row i += s·row j);
            // M⁻¹ ← M⁻¹·E⁻¹ with E⁻¹ = I − s·e_i e_jᵀ (column j −= s·column i).
            for c in 0..n {
                u.m[i * n + c] += s * u.m[j * n + c];
            }
            for r in 0..n {
                u.inv[r * n + j] -= s * u.inv[r * n + i];
            }
            if field == Field::Z2 {
                u.m.iter_mut().for_each(|x| *x = x.rem_euclid(2));
                u.inv.iter_mut().for_each(|x| *x = x.rem_euclid(2));
            }
        }
        if field != Field::Z2 {
            u = u.signed_permutation(rng);
        }
        u
    }

    /// Π·M with its inverse M⁻¹·Πᵀ, for a random signed permutation Π:
    /// row i of M moves to row σ(i) times a random sign s_i, so column
    /// σ(i) of the inverse is s_i times its column i.
    fn signed_permutation<R: Rng>(self, rng: &mut R) -> Self {
        let n = self.n;
        let mut sigma: Vec<usize> = (0..n).collect();
        sigma.shuffle(rng);
        let mut out = Unimodular {
            n,
            m: vec![0; n * n],
            inv: vec![0; n * n],
        };
        for (i, &to) in sigma.iter().enumerate() {
            let s: i64 = if rng.random_bool(0.5) { 1 } else { -1 };
            for c in 0..n {
                out.m[to * n + c] = s * self.m[i * n + c];
                out.inv[c * n + to] = s * self.inv[c * n + i];
            }
        }
        out
    }

    /// M·x.
    pub fn apply(&self, x: &[Coeff]) -> Vec<Coeff> {
        mul(&self.m, self.n, x)
    }

    /// M⁻¹·x.
    pub fn apply_inverse(&self, x: &[Coeff]) -> Vec<Coeff> {
        mul(&self.inv, self.n, x)
    }
}

fn mul(m: &[i64], n: usize, x: &[Coeff]) -> Vec<Coeff> {
    (0..n)
        .map(|r| {
            (0..n).fold(Coeff::from_integer(0), |acc, c| {
                acc + Coeff::from_integer(m[r * n + c] as i128) * x[c]
            })
        })
        .collect()
}

/// One change of basis per mode of the tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Basis {
    pub modes: [Unimodular; 3],
    pub field: Field,
}

impl Basis {
    /// A random basis of 2n elementary operations per mode of size n (see
    /// [`Unimodular::random`]).
    pub fn random<R: Rng>(rng: &mut R, dims: [usize; 3], field: Field) -> Self {
        let modes = dims.map(|n| Unimodular::random(rng, n, 2 * n, field));
        Basis { modes, field }
    }

    /// A random basis of `ops` elementary operations per mode (see
    /// [`Unimodular::random`]): near the standard one, up to a signed
    /// permutation over Z, for small `ops`.
    pub fn random_with<R: Rng>(rng: &mut R, dims: [usize; 3], field: Field, ops: usize) -> Self {
        let modes = dims.map(|n| Unimodular::random(rng, n, ops, field));
        Basis { modes, field }
    }

    /// A random basis in which `d` keeps its coefficients in `set`. Over
    /// Z2 every basis does. Over Z a basis of 2n elementary operations per
    /// mode takes the schoolbook algorithm past ±1 in 78 % of draws for
    /// 2x2x2 (52 % for 3x3x3), so a game there would often have no known
    /// solution in the game's coefficients: two operations per mode keep
    /// it in 82 % (97 % for 3x3x3) of draws, one in all; draws that do
    /// not fit are redrawn, down to one operation per mode.
    pub fn random_within<R: Rng>(
        rng: &mut R,
        dims: [usize; 3],
        field: Field,
        d: &Decomposition,
        set: &[i32],
    ) -> Self {
        if field == Field::Z2 {
            return Self::random(rng, dims, field);
        }
        for ops in [2, 2, 2, 2, 1, 1, 1, 1] {
            let b = Self::random_with(rng, dims, field, ops);
            if b.keeps_within(d, set) {
                return b;
            }
        }
        Basis {
            modes: dims.map(Unimodular::identity),
            field,
        }
    }

    /// Whether `d` in this basis keeps every coefficient in `set`.
    pub fn keeps_within(&self, d: &Decomposition, set: &[i32]) -> bool {
        let image = self.forward(d);
        [&image.u, &image.v, &image.w].iter().all(|rows| {
            rows.iter().flatten().all(|x| {
                x.is_integer() && i32::try_from(x.to_integer()).is_ok_and(|v| set.contains(&v))
            })
        })
    }

    /// The factors of `d` expressed in this basis: (A u, B v, C w).
    pub fn forward(&self, d: &Decomposition) -> Decomposition {
        self.map(d, Unimodular::apply)
    }

    /// A decomposition found in this basis, back in the standard basis.
    pub fn back(&self, d: &Decomposition) -> Decomposition {
        self.map(d, Unimodular::apply_inverse)
    }

    fn map(
        &self,
        d: &Decomposition,
        f: impl Fn(&Unimodular, &[Coeff]) -> Vec<Coeff>,
    ) -> Decomposition {
        let reduce = |row: Vec<Coeff>| -> Vec<Coeff> {
            row.iter()
                .map(|x| self.field.reduce(x).unwrap_or(*x))
                .collect()
        };
        let rows = |m: &Unimodular, rows: &[Vec<Coeff>]| -> Vec<Vec<Coeff>> {
            rows.iter().map(|r| reduce(f(m, r))).collect()
        };
        Decomposition {
            shape: d.shape,
            field: d.field,
            u: rows(&self.modes[0], &d.u),
            v: rows(&self.modes[1], &d.v),
            w: rows(&self.modes[2], &d.w),
        }
    }

    /// T' = T ×₁ A ×₂ B ×₃ C as a dense i32 tensor (mod 2 over Z2).
    pub fn transform_tensor(&self, dims: [usize; 3], t: &[i32]) -> Vec<i32> {
        let [la, lb, lc] = dims;
        let [a, b, c] = &self.modes;
        let mut out = vec![0i64; la * lb * lc];
        for i in 0..la {
            for j in 0..lb {
                for k in 0..lc {
                    let x = t[(i * lb + j) * lc + k] as i64;
                    if x == 0 {
                        continue;
                    }
                    for i2 in 0..la {
                        let ai = a.m[i2 * la + i] * x;
                        if ai == 0 {
                            continue;
                        }
                        for j2 in 0..lb {
                            let aij = ai * b.m[j2 * lb + j];
                            if aij == 0 {
                                continue;
                            }
                            for k2 in 0..lc {
                                out[(i2 * lb + j2) * lc + k2] += aij * c.m[k2 * lc + k];
                            }
                        }
                    }
                }
            }
        }
        out.iter()
            .map(|&x| {
                if self.field == Field::Z2 {
                    x.rem_euclid(2) as i32
                } else {
                    x as i32
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{verify, Shape};
    use rand::SeedableRng;

    #[test]
    fn inverse_is_exact() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for field in [Field::Z, Field::Z2] {
            for n in 1..7 {
                let u = Unimodular::random(&mut rng, n, 3 * n, field);
                for r in 0..n {
                    for c in 0..n {
                        let mut x: i64 = (0..n).map(|k| u.m[r * n + k] * u.inv[k * n + c]).sum();
                        if field == Field::Z2 {
                            x = x.rem_euclid(2);
                        }
                        assert_eq!(x, (r == c) as i64, "{field} n={n}");
                    }
                }
            }
        }
    }

    /// GL₂(F₂) has six elements; draws of two or more operations reach
    /// all of them (a fixed count of row operations reaches only three).
    #[test]
    fn z2_draws_reach_all_of_gl2() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for ops in [2, 4, 8] {
            let seen: std::collections::BTreeSet<Vec<i64>> = (0..300)
                .map(|_| Unimodular::random(&mut rng, 2, ops, Field::Z2).m)
                .collect();
            assert_eq!(seen.len(), 6, "{ops} operations: {seen:?}");
        }
    }

    /// GL₂(Z) has 40 matrices with entries in {−1, 0, 1} (determinant
    /// ±1: 8 signed permutations and 32 with one zero); draws of one
    /// operation reach all of them, and elementary operations alone reach
    /// 8.
    #[test]
    fn z_draws_of_one_operation_reach_all_small_unimodular_matrices() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let seen: std::collections::BTreeSet<Vec<i64>> = (0..2000)
            .map(|_| Unimodular::random(&mut rng, 2, 1, Field::Z).m)
            .collect();
        let small = |m: &Vec<i64>| m.iter().all(|x| x.abs() <= 1);
        let unit = |m: &Vec<i64>| (m[0] * m[3] - m[1] * m[2]).abs() == 1;
        assert!(seen.iter().all(|m| small(m) && unit(m)), "{seen:?}");
        assert_eq!(seen.len(), 40, "{seen:?}");
    }

    /// Σ u⊗v⊗w of `d` as a dense tensor, reduced in its field.
    fn reconstruct(d: &Decomposition) -> Vec<i32> {
        let [la, lb, lc] = d.shape.factor_lens();
        let mut t = vec![0i64; la * lb * lc];
        for r in 0..d.rank() {
            for i in 0..la {
                for j in 0..lb {
                    for k in 0..lc {
                        let x = d.u[r][i] * d.v[r][j] * d.w[r][k];
                        t[(i * lb + j) * lc + k] += x.to_integer() as i64;
                    }
                }
            }
        }
        t.iter()
            .map(|&x| {
                if d.field == Field::Z2 {
                    x.rem_euclid(2) as i32
                } else {
                    x as i32
                }
            })
            .collect()
    }

    #[test]
    fn strassen_through_twenty_bases_maps_back() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let shape = Shape::new(2, 2, 2).unwrap();
        let dims = shape.factor_lens();
        for field in [Field::Z, Field::Z2] {
            let mut strassen = Decomposition::strassen();
            strassen.field = field;
            // Over Z2 the coefficients -1 become 1.
            for rows in [&mut strassen.u, &mut strassen.v, &mut strassen.w] {
                for x in rows.iter_mut().flatten() {
                    *x = field.reduce(x).unwrap();
                }
            }
            for _ in 0..20 {
                let basis = Basis::random(&mut rng, dims, field);
                let t_prime = basis.transform_tensor(dims, &shape.dense_tensor());
                // What a search in the changed basis would find: a decomposition of T'.
                let found = basis.forward(&strassen);
                assert_eq!(
                    reconstruct(&found),
                    t_prime,
                    "{field}: a decomposition of T'"
                );
                assert_ne!(basis.modes[0].m, Unimodular::identity(4).m);
                let back = basis.back(&found);
                verify(&back, field).unwrap();
                assert_eq!(back, strassen);
            }
        }
    }

    #[test]
    fn bases_within_the_set_keep_the_schoolbook_solvable_over_z() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let set = [-1, 0, 1];
        for (n, m, p) in [(2, 2, 2), (3, 3, 3)] {
            let shape = Shape::new(n, m, p).unwrap();
            let d = Decomposition::standard(shape, Field::Z);
            let mut changed = 0;
            for _ in 0..50 {
                let b = Basis::random_within(&mut rng, shape.factor_lens(), Field::Z, &d, &set);
                let image = b.forward(&d);
                for x in image.u.iter().chain(&image.v).chain(&image.w).flatten() {
                    assert!(set.contains(&(x.to_integer() as i32)), "{shape}: {x}");
                }
                // The image decomposes T' exactly: a solved game in this basis.
                let t = b.transform_tensor(shape.factor_lens(), &shape.dense_tensor());
                let game = crate::game::GameConfig::new(shape, Field::Z, 1, 27);
                let mut residual = t.clone();
                for r in 0..image.rank() {
                    let term: Vec<i32> = [&image.u[r], &image.v[r], &image.w[r]]
                        .iter()
                        .flat_map(|f| f.iter().map(|x| x.to_integer() as i32))
                        .collect();
                    game.subtract(&mut residual, &term);
                }
                assert!(residual.iter().all(|&x| x == 0), "{shape}");
                changed += (t != shape.dense_tensor()) as usize;
            }
            assert!(
                changed >= 40,
                "{shape}: only {changed} of 50 bases changed T"
            );
        }
    }
}
