//! One flip walk on bit-packed factors, in the arithmetic of [`Factor`]
//! (Z2, or Z with bounded coefficients). A flip is a few word operations,
//! and flips are drawn through [`FactorIndex`]: per role, the terms
//! carrying each factor value and the values two or more terms share, kept
//! up to date as factors change, so a draw never fails and never scans.
//!
//! Over Z, factors are kept canonical (first nonzero coefficient positive)
//! and each term carries a sign, so "equal up to sign" is equality.

use super::factor::Factor;
use super::index::FactorIndex;
pub use super::rng::XorShift;
use super::scheme::Scheme;

/// One random walk on a scheme: flips, the reductions they enable, and
/// plus transitions.
pub struct Walker<F: Factor> {
    shape: crate::problem::Shape,
    /// Canonical factors.
    terms: Vec<[F; 3]>,
    /// Whether term i is −u⊗v⊗w of its factors (always false over Z2).
    negated: Vec<bool>,
    /// Per role: factor value → the terms that have it in that role.
    index: [FactorIndex<F>; 3],
    rng: XorShift,
    pub flips: u64,
    /// Whether flips are followed by the general reduction.
    general: bool,
    /// Flips drawn per move: the first whose result a merge or a zero
    /// factor shortens is made, else the last drawn (1: every flip random).
    draws: usize,
}

/// One drawn flip: with a the factor terms i and j share (in `role`),
/// a⊗b_i⊗c_i + a⊗b_j⊗c_j becomes a⊗b'_i⊗c_i + a⊗b_j⊗c'_j, b in role s and c
/// in role u, with b'_i = b_i + e·b_j and c'_j = c_j − e·c_i (signs folded
/// into b'_i).
struct Draw<F> {
    role: usize,
    i: usize,
    j: usize,
    s: usize,
    u: usize,
    bi: F,
    cj: F,
}

/// The two roles other than `r`.
pub(super) fn others(r: usize) -> (usize, usize) {
    ((r + 1) % 3, (r + 2) % 3)
}

/// What a walk strategy drives: a walk's rank, its scheme, and its two
/// moves. [`Walker`] walks a whole scheme; the symmetric walker
/// (`super::symmetric`) walks the orbits of a group.
pub trait Walk<F: Factor> {
    fn rank(&self) -> usize;
    /// The scheme, in the standard convention of `problem`.
    fn scheme(&self) -> Scheme<F>;
    /// Flips made so far.
    fn flips(&self) -> u64;
    /// One random flip with the reductions it enables; false when none
    /// is possible.
    fn flip(&mut self) -> bool;
    /// One plus transition; false when none is possible.
    fn plus(&mut self) -> bool;

    /// Walks up to `steps` steps while `go_on(self, step)` says so before
    /// each: a flip, or a plus transition when no flip is possible, and a
    /// plus transition after `plateau` steps without a new low, unless
    /// the rank is already `slack` or more above the walk's low (then the
    /// walk flips on where it is). Steps, not flips, bound the walk: a
    /// scheme with no shared factor only takes plus transitions.
    fn wander(
        &mut self,
        steps: u64,
        plateau: u64,
        slack: usize,
        mut go_on: impl FnMut(&Self, u64) -> bool,
    ) where
        Self: Sized,
    {
        let (mut low, mut since) = (self.rank(), 0u64);
        for step in 0..steps {
            if !go_on(self, step) {
                break;
            }
            if !self.flip() && !self.plus() {
                break;
            }
            if self.rank() < low {
                low = self.rank();
                since = 0;
            } else {
                since += 1;
                if since >= plateau {
                    if self.rank() < low.saturating_add(slack) {
                        self.plus();
                    }
                    since = 0;
                }
            }
        }
    }
}

/// Tries of a plus transition whose terms leave the coefficient bound.
const PLUS_TRIES: usize = 16;

/// Terms of one group the general reduction looks at (a group larger
/// than this is searched in its first terms).
const MAX_GROUP: usize = super::factor::MAX_DEPENDENCE;

impl<F: Factor> Walker<F> {
    pub fn new(scheme: &Scheme<F>, seed: u64) -> Self {
        let mut w = Walker {
            shape: scheme.shape,
            terms: Vec::with_capacity(scheme.rank() + 8),
            negated: Vec::with_capacity(scheme.rank() + 8),
            index: scheme.shape.factor_lens().map(FactorIndex::new),
            rng: XorShift::new(seed),
            flips: 0,
            general: false,
            draws: 1,
        };
        for t in &scheme.terms {
            if t.iter().all(|f| !f.is_zero()) {
                let [(a, na), (b, nb), (c, nc)] = t.map(F::canonical);
                w.push([a, b, c], na ^ nb ^ nc);
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

    /// From now on each flip is followed by the general reduction in the
    /// groups it changed (about 30 % fewer flips per second); it is made
    /// at once wherever the scheme allows it.
    pub fn enable_general_reduction(&mut self) {
        self.general = true;
        while self.reduce_anywhere() {}
    }

    /// From now on each move draws up to `draws` flips and makes the first
    /// that a merge or a zero factor follows (Kauers and Moosbauer's
    /// preference for reducing flips), else the last drawn.
    pub fn prefer_reductions(&mut self, draws: usize) {
        self.draws = draws.max(1);
    }

    pub fn rank(&self) -> usize {
        self.terms.len()
    }

    /// The scheme, each term's sign on its first factor.
    pub fn scheme(&self) -> Scheme<F> {
        let terms = self
            .terms
            .iter()
            .zip(&self.negated)
            .map(|(&[a, b, c], &n)| [a.signed(n), b, c])
            .collect();
        Scheme {
            shape: self.shape,
            terms,
        }
    }

    fn link(&mut self, t: usize, role: usize) {
        self.index[role].insert(self.terms[t][role], t as u32);
    }

    fn unlink(&mut self, t: usize, role: usize) {
        self.index[role].remove(self.terms[t][role], t as u32);
    }

    fn push(&mut self, t: [F; 3], negated: bool) {
        self.terms.push(t);
        self.negated.push(negated);
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
        self.negated.swap_remove(i);
    }

    /// Sets factor `role` of term i to the canonical form of `value`,
    /// whose sign goes to the term.
    fn set(&mut self, i: usize, role: usize, value: F) {
        let (value, negated) = value.canonical();
        self.unlink(i, role);
        self.terms[i][role] = value;
        self.negated[i] ^= negated;
        self.link(i, role);
    }

    /// Factor `role` of term i with the term's sign.
    fn signed(&self, i: usize, role: usize) -> F {
        self.terms[i][role].signed(self.negated[i])
    }

    /// Reduces around term i after a change: drops it when a factor is
    /// zero, or merges it into a term sharing two of its factors (and so
    /// on while merges enable more). Returns whether term i went away
    /// (its slot now holds another term, or none).
    fn settle(&mut self, i: usize) -> bool {
        self.settle_changed(i, None)
    }

    /// `settle` after only factor `changed` of term i changed. No two
    /// terms share two factors between moves (over Z, unless their sum
    /// leaves the coefficient bound), so a new partner must share the
    /// changed factor: the search for a partner equal in the other two
    /// (the third of the work in a flip's profile) is skipped.
    fn settle_changed(&mut self, i: usize, changed: Option<usize>) -> bool {
        let t = self.terms[i];
        if t.iter().any(|f| f.is_zero()) {
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
                .filter(|&k| k != i && self.terms[k][u] == t[u])
                .find_map(|k| Some((k, self.signed(k, role).add(self.signed(i, role))?)));
            if let Some((k, merged)) = partner {
                // x⊗y⊗z₁ + x⊗y⊗z₂ = x⊗y⊗(z₁+z₂), kept in k; the term's
                // sign moved into the factor, so it starts positive.
                self.remove(i);
                // k moved if it was the last term.
                let k = if k == self.terms.len() { i } else { k };
                self.negated[k] = false;
                self.set(k, role, merged);
                self.settle(k);
                return true;
            }
        }
        false
    }

    /// One random flip with the reductions it enables: a value two terms
    /// share, drawn uniformly over the three roles' shared values, then two
    /// of its terms. False when no two terms share a factor; over Z a flip
    /// whose result leaves the coefficient bound is drawn but not made.
    /// With [`Walker::prefer_reductions`], up to that many are drawn and
    /// the first that reduces is made.
    pub fn flip(&mut self) -> bool {
        let counts = [0, 1, 2].map(|r| self.index[r].flippable());
        let total: usize = counts.iter().sum();
        if total == 0 {
            return false;
        }
        let mut chosen = None;
        for _ in 0..self.draws {
            chosen = self.draw(counts, total);
            if chosen.as_ref().is_some_and(|d| self.reduces(d)) {
                break;
            }
        }
        if let Some(d) = chosen {
            self.make(d);
        }
        true
    }

    /// Makes a drawn flip and the reductions it enables.
    fn make(&mut self, d: Draw<F>) {
        let Draw {
            role,
            i,
            j,
            s,
            u,
            bi,
            cj,
        } = d;
        // Term i's sign is now in bi.
        self.negated[i] = false;
        self.set(i, s, bi);
        self.set(j, u, cj);
        self.flips += 1;
        // Settle the higher index first so the other keeps its slot.
        let ((hi, hi_role), (lo, lo_role)) = if i > j {
            ((i, s), (j, u))
        } else {
            ((j, u), (i, s))
        };
        // The groups where a dependence can have appeared, and the roles
        // whose vectors changed in each: i's b (role s) changed and it
        // joined a b group; j's c (role u) changed and it joined a c group.
        let (ti, tj) = (self.terms[i], self.terms[j]);
        let bit = |r: usize| 1u8 << r;
        let groups = [
            (role, ti[role], bit(s) | bit(u)),
            (u, ti[u], bit(s)),
            (s, ti[s], bit(role) | bit(u)),
            (s, tj[s], bit(u)),
            (u, tj[u], bit(role) | bit(s)),
        ];
        self.settle_changed(hi, Some(hi_role));
        if lo < self.terms.len() {
            self.settle_changed(lo, Some(lo_role));
        }
        if self.general {
            self.reduce_groups(&groups);
        }
    }

    /// A random flip (see [`Walker::flip`]); None when over Z its result
    /// leaves the coefficient bound.
    fn draw(&mut self, counts: [usize; 3], total: usize) -> Option<Draw<F>> {
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
        // e = ±1 (over Z2 only +1).
        let e = F::SIGNED && self.rng.next_u64() & 1 == 1;
        let bj = self.signed(j, s).signed(e);
        let bi = self.signed(i, s).add(bj)?;
        let cj = self.terms[j][u].sub(self.terms[i][u].signed(e))?;
        Some(Draw {
            role,
            i,
            j,
            s,
            u,
            bi,
            cj,
        })
    }

    /// Whether a merge or a zero factor follows `d`: a new factor is zero,
    /// or a changed term will share two factors with another term. No two
    /// terms share two factors before the flip, so a partner shares the
    /// changed factor (term i's new b, term j's new c) and one more; the
    /// two flipped terms always share a, so they merge when they also
    /// share b or c.
    fn reduces(&self, d: &Draw<F>) -> bool {
        if d.bi.is_zero() || d.cj.is_zero() {
            return true;
        }
        let (mut new_i, mut new_j) = (self.terms[d.i], self.terms[d.j]);
        new_i[d.s] = d.bi.canonical().0;
        new_j[d.u] = d.cj.canonical().0;
        let meets_a_third = |t: &[F; 3], changed: usize| {
            let (x, y) = others(changed);
            self.index[changed]
                .terms(t[changed])
                .iter()
                .map(|&k| k as usize)
                .filter(|&k| k != d.i && k != d.j)
                .any(|k| self.terms[k][x] == t[x] || self.terms[k][y] == t[y])
        };
        meets_a_third(&new_i, d.s)
            || meets_a_third(&new_j, d.u)
            || new_i[d.s] == new_j[d.s]
            || new_i[d.u] == new_j[d.u]
    }

    /// The general reduction in each of `groups` (role, value, the roles
    /// whose vectors to test), again while one removes a term.
    fn reduce_groups(&mut self, groups: &[(usize, F, u8)]) {
        while groups
            .iter()
            .any(|&(role, value, tested)| self.reduce_dependent(role, value, tested))
        {}
    }

    /// The general reduction anywhere in the scheme; whether a term went.
    fn reduce_anywhere(&mut self) -> bool {
        let groups: Vec<(usize, F)> = (0..self.terms.len())
            .flat_map(|t| (0..3).map(move |role| (role, t)))
            .map(|(role, t)| (role, self.terms[t][role]))
            .collect();
        groups
            .iter()
            .any(|&(role, value)| self.reduce_dependent(role, value, 0b111))
    }

    /// Terms sharing `value` in `role` are a⊗(Σ b_i⊗c_i). When their b
    /// factors are dependent, b_k = Σ λ_i b_i, term k is Σ λ_i a⊗b_i⊗c_k
    /// and folds into the others: c_i ← c_i + λ_i c_k, one term fewer.
    /// (Two terms equal in b are a merge; this finds three or more.)
    /// Over Z a fold that would leave the coefficient bound is not made.
    /// Only the factors in the roles of `tested` (a bit per role) are
    /// tested for dependence. Returns whether a term went.
    fn reduce_dependent(&mut self, role: usize, value: F, tested: u8) -> bool {
        let terms = self.index[role].terms(value);
        if terms.len() < 3 {
            return false;
        }
        // On the stack: this runs after every flip.
        let n = terms.len().min(MAX_GROUP);
        let mut group = [0usize; MAX_GROUP];
        for (g, &t) in group.iter_mut().zip(&terms[..n]) {
            *g = t as usize;
        }
        let group = &group[..n];
        let (s0, u0) = others(role);
        for (s, u) in [(s0, u0), (u0, s0)] {
            if tested >> s & 1 == 0 {
                continue;
            }
            let mut bs = [F::zero(); MAX_GROUP];
            for (b, &t) in bs.iter_mut().zip(group) {
                *b = self.terms[t][s];
            }
            let Some((k, members, negated)) = F::dependence(&bs[..n]) else {
                continue;
            };
            // Signs are folded into the c factors: term t is a⊗b_t⊗c'_t.
            let ck = self.signed(group[k], u);
            let mut folded = [(0usize, F::zero()); MAX_GROUP];
            let mut count = 0;
            for i in (0..n).filter(|i| members >> i & 1 == 1) {
                let t = group[i];
                let Some(c) = self.signed(t, u).add(ck.signed(negated >> i & 1 == 1)) else {
                    break;
                };
                folded[count] = (t, c);
                count += 1;
            }
            if count != members.count_ones() as usize {
                continue;
            }
            let folded = &mut folded[..count];
            for &(t, c) in folded.iter() {
                self.negated[t] = false;
                self.set(t, u, c);
            }
            let last = self.terms.len() - 1;
            self.remove(group[k]);
            // The last term took the removed one's slot.
            for (t, _) in folded.iter_mut() {
                if *t == last {
                    *t = group[k];
                }
            }
            // Folded terms may now be zero or merge; highest slot first.
            folded.sort_unstable_by_key(|t| std::cmp::Reverse(t.0));
            for &(t, _) in folded.iter() {
                if t < self.terms.len() {
                    self.settle(t);
                }
            }
            return true;
        }
        false
    }

    /// The plus transition (rank + 1), for leaving a plateau: two terms
    /// x, y become three, with a the role drawn, b, c the others and signs
    /// folded into the a factors,
    /// (x_a+y_a)⊗x_b⊗x_c + y_a⊗y_b⊗(y_c−x_c) + y_a⊗(y_b−x_b)⊗x_c,
    /// whose sum is x + y and no two of which share two factors in
    /// general (the two-term split would merge straight back). Over Z a
    /// draw whose terms leave the bound is redrawn a few times.
    pub fn plus(&mut self) -> bool {
        let n = self.terms.len();
        if n < 2 {
            return false;
        }
        for _ in 0..PLUS_TRIES {
            let i = self.rng.below(n);
            let mut j = self.rng.below(n - 1);
            if j >= i {
                j += 1;
            }
            let a = self.rng.below(3);
            let (b, c) = others(a);
            let (x, y) = (self.terms[i], self.terms[j]);
            let (xa, ya) = (self.signed(i, a), self.signed(j, a));
            let (Some(sum_a), Some(yc_xc), Some(yb_xb)) =
                (xa.add(ya), y[c].sub(x[c]), y[b].sub(x[b]))
            else {
                continue;
            };
            let mut t3 = [F::zero(); 3];
            let mut t3_negated = false;
            for (role, f) in [(a, ya), (b, yb_xb), (c, x[c])] {
                let (canonical, negated) = f.canonical();
                t3[role] = canonical;
                t3_negated ^= negated;
            }
            self.negated[i] = false;
            self.set(i, a, sum_a);
            self.set(j, c, yc_xc);
            self.push(t3, t3_negated);
            // Settle from the highest slot down, so lower ones keep theirs.
            // (No general reduction here: it could fold the new terms
            // straight back; the flips after it look.)
            let new = self.terms.len() - 1;
            for t in [new, i.max(j), i.min(j)] {
                if t < self.terms.len() {
                    self.settle(t);
                }
            }
            return true;
        }
        false
    }
}

impl<F: Factor> Walk<F> for Walker<F> {
    fn rank(&self) -> usize {
        Walker::rank(self)
    }
    fn scheme(&self) -> Scheme<F> {
        Walker::scheme(self)
    }
    fn flips(&self) -> u64 {
        self.flips
    }
    fn flip(&mut self) -> bool {
        Walker::flip(self)
    }
    fn plus(&mut self) -> bool {
        Walker::plus(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flip::factor::{Small, Ternary};
    use crate::flip::scheme::Z2Scheme;
    use crate::problem::{verify, Shape};

    /// The most a walk's rank stood above its own low so far.
    fn highest_above_low(slack: usize) -> usize {
        let shape = Shape::new(3, 3, 3).unwrap();
        let mut w = Walker::new(&Z2Scheme::standard(shape).unwrap(), 5);
        let (mut low, mut most) = (w.rank(), 0);
        // Plus transitions every 20 flips without a new low: the rank
        // climbs unless the slack holds it.
        w.wander(20_000, 20, slack, |w, _| {
            low = low.min(w.rank());
            most = most.max(w.rank() - low);
            true
        });
        most
    }

    #[test]
    fn a_slack_bounds_how_far_plus_transitions_climb() {
        assert!(highest_above_low(2) <= 2);
        assert!(highest_above_low(usize::MAX) > 2);
    }

    fn holds<F: Factor>(s: &Scheme<F>) -> bool {
        let d = s.to_decomposition();
        let within = d.factors().iter().all(|rows| {
            rows.iter()
                .flatten()
                .all(|x| x.to_integer().abs() <= F::BOUND as i128)
        });
        within && verify(&d, F::FIELD).is_ok()
    }

    fn moves_keep_the_tensor<F: Factor>() {
        for (n, m, p) in [(2, 2, 2), (3, 3, 3), (2, 3, 4), (4, 4, 4)] {
            let shape = Shape::new(n, m, p).unwrap();
            let mut w = Walker::new(&Scheme::<F>::standard(shape).unwrap(), 11);
            if n % 2 == 0 {
                w.enable_general_reduction();
            }
            if m == 3 {
                w.prefer_reductions(4);
            }
            for step in 0..20_000 {
                if step % 50 == 49 {
                    w.plus();
                } else {
                    w.flip();
                }
                if step % 1000 == 0 {
                    assert!(holds(&w.scheme()), "{shape} after {step} steps");
                }
            }
            assert!(w.flips > 1000, "{shape}: only {} flips happened", w.flips);
            assert!(holds(&w.scheme()), "{shape} at the end");
        }
    }

    /// `reduces` says exactly which flips a merge or a zero factor follows:
    /// the rank drops after a drawn flip if and only if it said so.
    #[test]
    fn a_reducing_flip_is_recognised_before_it_is_made() {
        for (n, m, p) in [(2, 2, 2), (3, 3, 3), (3, 4, 5)] {
            let shape = Shape::new(n, m, p).unwrap();
            let mut w = Walker::new(&Scheme::<u64>::standard(shape).unwrap(), 3);
            let (mut reducing, mut other) = (0, 0);
            for step in 0..20_000 {
                if step % 40 == 39 {
                    w.plus();
                    continue;
                }
                let counts = [0, 1, 2].map(|r| w.index[r].flippable());
                let total = counts.iter().sum();
                if total == 0 {
                    w.plus();
                    continue;
                }
                let d = w.draw(counts, total).expect("Z2 flips stay in the field");
                let (predicted, before) = (w.reduces(&d), w.rank());
                w.make(d);
                assert_eq!(w.rank() < before, predicted, "{shape}, step {step}");
                if predicted {
                    reducing += 1;
                } else {
                    other += 1;
                }
            }
            assert!(
                reducing > 10 && other > 1000,
                "{shape}: {reducing} and {other}"
            );
            assert!(holds(&w.scheme()), "{shape}");
        }
    }

    /// Preferring reducing flips makes more of them: over the same walks
    /// of the standard 3x3x3, more flips are followed by a reduction.
    #[test]
    fn preferring_reductions_makes_more_of_them() {
        let shape = Shape::new(3, 3, 3).unwrap();
        let reductions = |draws: usize| -> u64 {
            let mut total = 0;
            for seed in 0..20 {
                let mut w = Walker::new(&Z2Scheme::standard(shape).unwrap(), seed);
                w.prefer_reductions(draws);
                for step in 0..2_000 {
                    if step % 100 == 99 {
                        w.plus();
                    } else {
                        let before = w.rank();
                        w.flip();
                        total += (w.rank() < before) as u64;
                    }
                }
            }
            total
        };
        let (random, preferred) = (reductions(1), reductions(8));
        assert!(preferred > random, "{preferred} against {random}");
    }

    #[test]
    fn thousands_of_flips_reductions_and_plus_transitions_keep_the_tensor_over_z2() {
        moves_keep_the_tensor::<u64>();
    }

    #[test]
    fn over_z_moves_keep_the_tensor_and_the_ternary_bound() {
        moves_keep_the_tensor::<Ternary>();
    }

    #[test]
    fn over_z_moves_keep_the_tensor_and_the_bound_of_seven() {
        moves_keep_the_tensor::<Small>();
    }

    fn index_matches_the_terms<F: Factor>(shape: Shape) {
        let mut w = Walker::new(&Scheme::<F>::standard(shape).unwrap(), 5);
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
            let mut direct: Vec<(F, u32)> = w
                .terms
                .iter()
                .enumerate()
                .map(|(t, f)| (f[role], t as u32))
                .collect();
            direct.sort();
            assert_eq!(from_index, direct, "role {role}");
            assert!(w
                .terms
                .iter()
                .all(|t| t[role].canonical() == (t[role], false)));
        }
        // The rule flips rely on to skip a search: no two terms share two
        // factors between moves (over Z, unless they cannot merge).
        let t = &w.terms;
        for a in 0..t.len() {
            for b in a + 1..t.len() {
                let shared: Vec<usize> = (0..3).filter(|&r| t[a][r] == t[b][r]).collect();
                if shared.len() >= 2 {
                    let free = (0..3).find(|r| !shared.contains(r)).unwrap_or(0);
                    let sum = w.signed(a, free).add(w.signed(b, free));
                    assert!(
                        sum.is_none(),
                        "terms {a} and {b} share {shared:?} and merge"
                    );
                }
            }
        }
    }

    #[test]
    fn the_index_matches_the_terms_and_no_two_terms_share_two_factors() {
        let shape = |n, m, p| Shape::new(n, m, p).unwrap();
        // Direct tables for every role; then a shape whose ternary factors
        // are direct in one role and hashed in two.
        index_matches_the_terms::<u64>(shape(3, 3, 3));
        index_matches_the_terms::<Ternary>(shape(3, 3, 3));
        index_matches_the_terms::<Ternary>(shape(3, 3, 4));
        index_matches_the_terms::<u64>(shape(5, 5, 5));
    }

    /// Two standard terms sharing a, a⊗b₁⊗c₁ + a⊗b₂⊗c₂, written as three,
    /// a⊗b₁⊗(c₁−c₃) + a⊗b₂⊗(c₂−c₃) + a⊗(b₁+b₂)⊗c₃: no two terms of the
    /// scheme share two factors, so no merge applies, but b₁, b₂, b₁+b₂
    /// are dependent and the general reduction takes the scheme back to
    /// the standard rank, keeping the tensor.
    fn dependence_removes_what_merges_miss<F: Factor>() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let mut s = Scheme::<F>::standard(shape).unwrap();
        let rank = s.rank();
        let (i, j) = (0..rank)
            .flat_map(|i| (i + 1..rank).map(move |j| (i, j)))
            .find(|&(i, j)| s.terms[i][0] == s.terms[j][0])
            .expect("two standard terms share an A factor");
        let [a, b1, c1] = s.terms[i];
        let [_, b2, c2] = s.terms[j];
        let c3 = (0..rank)
            .map(|t| s.terms[t][2])
            .find(|&c| c != c1 && c != c2)
            .unwrap();
        let three = [
            [a, b1, c1.sub(c3).unwrap()],
            [a, b2, c2.sub(c3).unwrap()],
            [a, b1.add(b2).unwrap(), c3],
        ];
        s.terms.remove(j);
        s.terms.remove(i);
        s.terms.extend(three);
        assert!(holds(&s), "the constructed scheme is a decomposition");
        for x in 0..s.rank() {
            for y in x + 1..s.rank() {
                let shared = (0..3).filter(|&r| s.terms[x][r] == s.terms[y][r]).count();
                assert!(shared < 2, "terms {x} and {y} would merge");
            }
        }
        let mut w = Walker::new(&s, 1);
        assert_eq!(w.rank(), rank + 1, "merges alone leave the scheme");
        w.enable_general_reduction();
        assert_eq!(w.rank(), rank, "the dependent term is folded away");
        assert!(holds(&w.scheme()));
    }

    #[test]
    fn the_general_reduction_removes_a_term_that_merges_miss() {
        dependence_removes_what_merges_miss::<u64>();
        dependence_removes_what_merges_miss::<Ternary>();
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

    #[test]
    fn over_z_terms_equal_up_to_sign_merge_with_their_signs() {
        let shape = Shape::new(1, 1, 2).unwrap();
        let f = |xs: &[i64]| Ternary::from_ints(xs).unwrap();
        // (1)⊗(1,0)⊗(1,0) + (1)⊗(−1,0)⊗(0,1) = (1)⊗(1,0)⊗(1,−1).
        let s = Scheme {
            shape,
            terms: vec![
                [f(&[1]), f(&[1, 0]), f(&[1, 0])],
                [f(&[1]), f(&[-1, 0]), f(&[0, 1])],
            ],
        };
        let merged = Walker::new(&s, 1).scheme();
        assert_eq!(merged.terms, vec![[f(&[1]), f(&[1, 0]), f(&[1, -1])]]);
        // A term and its negative cancel.
        let s = Scheme {
            shape,
            terms: vec![
                [f(&[1]), f(&[1, 0]), f(&[0, 1])],
                [f(&[-1]), f(&[1, 0]), f(&[0, 1])],
            ],
        };
        assert!(Walker::new(&s, 1).scheme().terms.is_empty());
        // (1)⊗(1,0)⊗(1,1) + (1)⊗(1,0)⊗(1,0) would need a 2: both stay.
        let s = Scheme {
            shape,
            terms: vec![
                [f(&[1]), f(&[1, 0]), f(&[1, 1])],
                [f(&[1]), f(&[1, 0]), f(&[1, 0])],
            ],
        };
        assert_eq!(Walker::new(&s, 1).rank(), 2);
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

    /// Factors of several words walk exactly as one-word factors do on a
    /// shape both hold, and keep the tensor on one only they hold.
    #[test]
    fn multiword_factors_walk_as_one_word_factors() {
        use crate::flip::factor::Wide;
        for n in [2, 3, 4] {
            let shape = Shape::new(n, n, n).unwrap();
            let mut one = Walker::new(&Z2Scheme::standard(shape).unwrap(), 9);
            let mut four = Walker::new(&Scheme::<Wide<4>>::standard(shape).unwrap(), 9);
            one.enable_general_reduction();
            four.enable_general_reduction();
            for step in 0..200_000 {
                if step % 5_000 == 4_999 {
                    one.plus();
                    four.plus();
                } else {
                    one.flip();
                    four.flip();
                }
            }
            assert!(one.flips > 10_000);
            assert_eq!(
                one.scheme().to_decomposition(),
                four.scheme().to_decomposition(),
                "{shape}"
            );
        }
        let shape = Shape::new(9, 9, 2).unwrap();
        assert!(!Z2Scheme::supports(shape));
        let mut w = Walker::new(&Scheme::<Wide<2>>::standard(shape).unwrap(), 4);
        w.enable_general_reduction();
        for step in 0..100_000 {
            if step % 2_000 == 1_999 {
                w.plus();
            } else {
                w.flip();
            }
        }
        assert!(w.flips > 10_000);
        assert!(holds(&w.scheme()));
    }

    #[test]
    fn the_same_seed_walks_the_same_way() {
        let shape = Shape::new(3, 3, 3).unwrap();
        assert_eq!(walked(shape, 3, 50_000), walked(shape, 3, 50_000));
        assert_ne!(walked(shape, 3, 50_000), walked(shape, 4, 50_000));
    }

    fn flips_reach_rank_seven<F: Factor>() {
        let shape = Shape::new(2, 2, 2).unwrap();
        for seed in 0..5 {
            let mut w = Walker::new(&Scheme::<F>::standard(shape).unwrap(), seed);
            let mut steps = 0;
            while w.rank() > 7 && steps < 1_000_000 {
                w.flip();
                steps += 1;
            }
            assert_eq!(w.rank(), 7, "seed {seed}");
            assert!(holds(&w.scheme()));
        }
    }

    #[test]
    fn flips_alone_take_the_standard_2x2x2_to_rank_seven_over_z2_and_z() {
        flips_reach_rank_seven::<u64>();
        flips_reach_rank_seven::<Ternary>();
    }
}
