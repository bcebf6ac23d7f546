//! Flip walks over Z2 on bit-packed factors: a term u⊗v⊗w is three u64
//! masks (bit i of u is u's i-th coefficient), so a flip is two XORs and a
//! comparison of factors is one. Supports every shape whose factors fit in
//! 64 bits (n·m, m·p and n·p ≤ 64: up to 8x8x8).
//!
//! Flips are drawn through [`FactorIndex`]: per role, the terms carrying
//! each factor value and the values two or more terms share, kept up to
//! date as factors change, so a draw never fails and never scans.

use super::index::FactorIndex;
use crate::problem::{Coeff, Decomposition, Field, Shape};
use anyhow::{bail, Result};

/// A scheme over Z2: its terms as bit masks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Z2Scheme {
    pub shape: Shape,
    pub terms: Vec<[u64; 3]>,
}

impl Z2Scheme {
    /// Whether every factor of `shape` fits in one u64.
    pub fn supports(shape: Shape) -> bool {
        shape.factor_lens().iter().all(|&l| l <= 64)
    }

    /// The decomposition's coefficients mod 2. Over Q, a coefficient with
    /// an even denominator has no value mod 2 and is refused.
    pub fn from_decomposition(d: &Decomposition) -> Result<Self> {
        if !Self::supports(d.shape) {
            bail!(
                "{} is not supported: the Z2 flip engine needs n·m, m·p and n·p up to 64",
                d.shape
            );
        }
        let mask = |row: &[Coeff]| -> Result<u64> {
            let mut bits = 0u64;
            for (i, x) in row.iter().enumerate() {
                if x.denom() % 2 == 0 {
                    bail!("the coefficient {x} has no value mod 2");
                }
                if x.numer() % 2 != 0 {
                    bits |= 1 << i;
                }
            }
            Ok(bits)
        };
        let [u, v, w] = d.factors();
        let terms = (0..d.rank())
            .map(|r| Ok([mask(&u[r])?, mask(&v[r])?, mask(&w[r])?]))
            .collect::<Result<Vec<_>>>()?;
        Ok(Z2Scheme {
            shape: d.shape,
            terms,
        })
    }

    pub fn standard(shape: Shape) -> Result<Self> {
        Self::from_decomposition(&Decomposition::standard(shape, Field::Z2))
    }

    pub fn rank(&self) -> usize {
        self.terms.len()
    }

    pub fn to_decomposition(&self) -> Decomposition {
        let lens = self.shape.factor_lens();
        let rows = |role: usize| -> Vec<Vec<i64>> {
            self.terms
                .iter()
                .map(|t| (0..lens[role]).map(|i| (t[role] >> i & 1) as i64).collect())
                .collect()
        };
        Decomposition::from_integers(self.shape, Field::Z2, &rows(0), &rows(1), &rows(2))
            .expect("a scheme's masks have the shape's lengths")
    }
}

/// xorshift64*: eight bytes of state and a few instructions per number,
/// simple enough to run the same stream in a kernel.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        // Any nonzero state; splitmix the seed so nearby seeds diverge.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        XorShift((z ^ (z >> 31)) | 1)
    }

    /// The generator's state, to save and continue a stream.
    pub fn state(&self) -> u64 {
        self.0
    }

    pub fn from_state(state: u64) -> Self {
        XorShift(state.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in 0..n (n ≥ 1), by the high half of a 64×64 product.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// One random walk on a scheme: flips, the reductions they enable, and
/// plus transitions.
pub struct Walker {
    shape: Shape,
    terms: Vec<[u64; 3]>,
    /// Per role: factor value → the terms that have it in that role.
    index: [FactorIndex; 3],
    rng: XorShift,
    pub flips: u64,
}

/// The two roles other than `r`.
fn others(r: usize) -> (usize, usize) {
    ((r + 1) % 3, (r + 2) % 3)
}

impl Walker {
    pub fn new(scheme: &Z2Scheme, seed: u64) -> Self {
        let mut w = Walker {
            shape: scheme.shape,
            terms: Vec::with_capacity(scheme.rank() + 8),
            index: Default::default(),
            rng: XorShift::new(seed),
            flips: 0,
        };
        for &t in &scheme.terms {
            if t.iter().all(|&f| f != 0) {
                w.push(t);
            }
        }
        // The start may hold terms that merge.
        let mut i = 0;
        while i < w.terms.len() {
            if !w.settle(i) {
                i += 1;
            }
        }
        w
    }

    pub fn rank(&self) -> usize {
        self.terms.len()
    }

    pub fn scheme(&self) -> Z2Scheme {
        Z2Scheme {
            shape: self.shape,
            terms: self.terms.clone(),
        }
    }

    fn link(&mut self, t: usize, role: usize) {
        self.index[role].insert(self.terms[t][role], t as u32);
    }

    fn unlink(&mut self, t: usize, role: usize) {
        self.index[role].remove(self.terms[t][role], t as u32);
    }

    fn push(&mut self, t: [u64; 3]) {
        self.terms.push(t);
        let i = self.terms.len() - 1;
        for role in 0..3 {
            self.link(i, role);
        }
    }

    /// Removes term i; the last term takes its place.
    fn remove(&mut self, i: usize) {
        for role in 0..3 {
            self.unlink(i, role);
        }
        let last = self.terms.len() - 1;
        if i != last {
            for role in 0..3 {
                self.index[role].rename(self.terms[last][role], last as u32, i as u32);
            }
        }
        self.terms.swap_remove(i);
    }

    /// Sets factor `role` of term i.
    fn set(&mut self, i: usize, role: usize, value: u64) {
        self.unlink(i, role);
        self.terms[i][role] = value;
        self.link(i, role);
    }

    /// Reduces around term i after a change: drops it when a factor is
    /// zero, or merges it into a term sharing two of its factors (and so
    /// on while merges enable more). Returns whether term i went away
    /// (its slot now holds another term, or none).
    fn settle(&mut self, i: usize) -> bool {
        self.settle_changed(i, None)
    }

    /// `settle` after only factor `changed` of term i changed. No two
    /// terms share two factors between moves, so a new partner must share
    /// the changed factor: the search for a partner equal in the other two
    /// (the third of the work in a flip's profile) is skipped.
    fn settle_changed(&mut self, i: usize, changed: Option<usize>) -> bool {
        let t = self.terms[i];
        if t.contains(&0) {
            self.remove(i);
            return true;
        }
        for role in 0..3 {
            if changed == Some(role) {
                continue;
            }
            let (s, u) = others(role);
            // A partner equal in s and u: the terms differ only in `role`.
            let partner = self.index[s]
                .terms(t[s])
                .iter()
                .map(|&k| k as usize)
                .find(|&k| k != i && self.terms[k][u] == t[u]);
            if let Some(k) = partner {
                // x⊗y⊗z₁ + x⊗y⊗z₂ = x⊗y⊗(z₁+z₂), kept in k.
                let merged = self.terms[k][role] ^ t[role];
                self.remove(i);
                // k moved if it was the last term.
                let k = if k == self.terms.len() { i } else { k };
                self.set(k, role, merged);
                self.settle(k);
                return true;
            }
        }
        false
    }

    /// One random flip with the reductions it enables: a value two terms
    /// share, drawn uniformly over the three roles' shared values, then two
    /// of its terms. False when no two terms share a factor.
    pub fn flip(&mut self) -> bool {
        let counts = [0, 1, 2].map(|r| self.index[r].flippable());
        let total: usize = counts.iter().sum();
        if total == 0 {
            return false;
        }
        let mut k = self.rng.below(total);
        let mut role = 0;
        while k >= counts[role] {
            k -= counts[role];
            role += 1;
        }
        let terms = self.index[role].flippable_terms(k);
        let a = self.rng.below(terms.len());
        let mut b = self.rng.below(terms.len() - 1);
        if b >= a {
            b += 1;
        }
        let (i, j) = (terms[a] as usize, terms[b] as usize);
        let (mut s, mut u) = others(role);
        if self.rng.next_u64() & 1 == 1 {
            std::mem::swap(&mut s, &mut u);
        }
        // a⊗b₁⊗c₁ + a⊗b₂⊗c₂ = a⊗(b₁+b₂)⊗c₁ + a⊗b₂⊗(c₂+c₁), b in role s.
        let bi = self.terms[i][s] ^ self.terms[j][s];
        let cj = self.terms[j][u] ^ self.terms[i][u];
        self.set(i, s, bi);
        self.set(j, u, cj);
        self.flips += 1;
        // Settle the higher index first so the other keeps its slot.
        let ((hi, hi_role), (lo, lo_role)) = if i > j {
            ((i, s), (j, u))
        } else {
            ((j, u), (i, s))
        };
        self.settle_changed(hi, Some(hi_role));
        if lo < self.terms.len() {
            self.settle_changed(lo, Some(lo_role));
        }
        true
    }

    /// The plus transition (rank + 1), for leaving a plateau: two terms
    /// x, y become three, with a the role drawn and b, c the others,
    /// (x_a+y_a)⊗x_b⊗x_c + y_a⊗y_b⊗(y_c+x_c) + y_a⊗(y_b+x_b)⊗x_c,
    /// whose sum is x + y and no two of which share two factors in
    /// general (the two-term split would merge straight back).
    pub fn plus(&mut self) -> bool {
        let n = self.terms.len();
        if n < 2 {
            return false;
        }
        let i = self.rng.below(n);
        let mut j = self.rng.below(n - 1);
        if j >= i {
            j += 1;
        }
        let a = self.rng.below(3);
        let (b, c) = others(a);
        let (x, y) = (self.terms[i], self.terms[j]);
        let mut t3 = y;
        t3[b] ^= x[b];
        t3[c] = x[c];
        self.set(i, a, x[a] ^ y[a]);
        self.set(j, c, y[c] ^ x[c]);
        self.push(t3);
        // Settle from the highest slot down, so lower ones keep theirs.
        let new = self.terms.len() - 1;
        for t in [new, i.max(j), i.min(j)] {
            if t < self.terms.len() {
                self.settle(t);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::verify;

    fn holds(s: &Z2Scheme) -> bool {
        verify(&s.to_decomposition(), Field::Z2).is_ok()
    }

    #[test]
    fn thousands_of_flips_reductions_and_plus_transitions_keep_the_tensor() {
        for (n, m, p) in [(2, 2, 2), (3, 3, 3), (2, 3, 4), (4, 4, 4)] {
            let shape = Shape::new(n, m, p).unwrap();
            let mut w = Walker::new(&Z2Scheme::standard(shape).unwrap(), 11);
            let mut moves = 0;
            for step in 0..20_000 {
                if step % 50 == 49 {
                    w.plus();
                } else if w.flip() {
                    moves += 1;
                }
                if step % 1000 == 0 {
                    assert!(holds(&w.scheme()), "{shape} after {step} steps");
                }
            }
            assert!(moves > 1000, "{shape}: only {moves} flips happened");
            assert!(holds(&w.scheme()), "{shape} at the end");
        }
    }

    #[test]
    fn the_index_matches_the_terms_and_no_two_terms_share_two_factors() {
        let shape = Shape::new(3, 3, 3).unwrap();
        let mut w = Walker::new(&Z2Scheme::standard(shape).unwrap(), 5);
        for step in 0..30_000 {
            if step % 97 == 0 {
                w.plus();
            }
            w.flip();
        }
        for role in 0..3 {
            assert!(w.index[role].consistent(), "role {role}");
            let mut from_index = w.index[role].entries();
            from_index.sort();
            let mut direct: Vec<(u64, u32)> = w
                .terms
                .iter()
                .enumerate()
                .map(|(t, f)| (f[role], t as u32))
                .collect();
            direct.sort();
            assert_eq!(from_index, direct, "role {role}");
        }
        // The rule flips rely on to skip a search: no two terms share two
        // factors between moves.
        let t = &w.terms;
        for a in 0..t.len() {
            for b in a + 1..t.len() {
                let shared = (0..3).filter(|&r| t[a][r] == t[b][r]).count();
                assert!(shared < 2, "terms {a} and {b} share {shared} factors");
            }
        }
    }

    #[test]
    fn terms_sharing_two_factors_merge_and_zero_terms_drop() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let s = Z2Scheme {
            shape,
            terms: vec![[1, 2, 4], [1, 2, 8], [3, 5, 0], [7, 7, 7], [7, 7, 7]],
        };
        let w = Walker::new(&s, 1);
        // The first two merge into [1, 2, 12]; the zero term drops; the
        // equal pair merges into a zero factor and both vanish.
        assert_eq!(w.scheme().terms, vec![[1, 2, 12]]);
    }

    /// `steps` moves, a plus transition every 500th.
    fn walked(shape: Shape, seed: u64, steps: usize) -> Z2Scheme {
        let mut w = Walker::new(&Z2Scheme::standard(shape).unwrap(), seed);
        for step in 0..steps {
            if step % 500 == 499 {
                w.plus();
            } else {
                w.flip();
            }
        }
        w.scheme()
    }

    #[test]
    fn the_same_seed_walks_the_same_way() {
        let shape = Shape::new(3, 3, 3).unwrap();
        assert_eq!(walked(shape, 3, 50_000), walked(shape, 3, 50_000));
        assert_ne!(walked(shape, 3, 50_000), walked(shape, 4, 50_000));
    }

    #[test]
    fn flips_alone_take_the_standard_2x2x2_to_rank_seven() {
        let shape = Shape::new(2, 2, 2).unwrap();
        for seed in 0..5 {
            let mut w = Walker::new(&Z2Scheme::standard(shape).unwrap(), seed);
            let mut steps = 0;
            while w.rank() > 7 && steps < 1_000_000 {
                w.flip();
                steps += 1;
            }
            assert_eq!(w.rank(), 7, "seed {seed}");
            assert!(holds(&w.scheme()));
        }
    }
}
