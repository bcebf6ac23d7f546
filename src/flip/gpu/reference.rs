//! The CPU reference of the GPU walk: the same steps, draws and state
//! as `shaders/flip.wgsl`, one walk at a time. Tests hold the kernel to
//! it bit for bit.

use crate::flip::rng::XorShift128;
use crate::flip::scheme::Z2Scheme;
use crate::flip::walker::others;

/// "No role" for `settle`: check all three.
const ANY_ROLE: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    /// Its rank went below its target.
    Dropped,
    /// It made its path limit of steps.
    Exhausted,
}

impl Status {
    pub(super) fn word(self) -> u32 {
        match self {
            Status::Running => 0,
            Status::Dropped => 1,
            Status::Exhausted => 2,
        }
    }
    pub(super) fn from_word(w: u32) -> Status {
        match w {
            0 => Status::Running,
            1 => Status::Dropped,
            _ => Status::Exhausted,
        }
    }
}

/// What all walks of a launch share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Terms a walk can hold (plus transitions stop there).
    pub capacity: usize,
    /// Steps without a new low before a plus transition.
    pub plateau: u32,
    /// Steps after which a walk stops.
    pub path_limit: u32,
}

/// One walk's state, as the kernel keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walk {
    pub terms: Vec<[u64; 3]>,
    /// The walk stops once its rank is below this.
    pub target: usize,
    pub status: Status,
    /// The lowest rank so far and the steps since it.
    pub low: usize,
    pub since: u32,
    pub steps: u32,
    pub flips: u32,
    pub rng: [u32; 4],
}

impl Walk {
    /// A walk from `scheme` (reduced, as pool members are) that stops
    /// below `target`.
    pub fn new(scheme: &Z2Scheme, target: usize, seed: u64) -> Self {
        let rng = XorShift128::seeded(seed).state();
        Walk {
            terms: scheme.terms.clone(),
            target,
            status: Status::Running,
            low: scheme.rank(),
            since: 0,
            steps: 0,
            flips: 0,
            rng,
        }
    }

    pub fn rank(&self) -> usize {
        self.terms.len()
    }

    fn next(&mut self) -> u32 {
        let mut rng = XorShift128::from_state(self.rng);
        let n = rng.next_u32();
        self.rng = rng.state();
        n
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u32) as usize
    }

    fn remove(&mut self, t: usize) {
        self.terms.swap_remove(t);
    }

    fn settle(&mut self, t: usize, changed: usize) {
        let (mut t, mut changed) = (t, changed);
        'cascade: loop {
            if self.terms[t].contains(&0) {
                self.remove(t);
                return;
            }
            for role in 0..3 {
                if role == changed {
                    continue;
                }
                let (s, u) = others(role);
                let (ts, tu) = (self.terms[t][s], self.terms[t][u]);
                let partner = (0..self.rank())
                    .find(|&k| k != t && self.terms[k][s] == ts && self.terms[k][u] == tu);
                if let Some(k) = partner {
                    self.terms[k][role] ^= self.terms[t][role];
                    self.remove(t);
                    t = if k == self.rank() { t } else { k };
                    changed = role;
                    continue 'cascade;
                }
            }
            return;
        }
    }

    fn flip_step(&mut self) {
        let i = self.below(self.rank());
        let role = self.below(3);
        let f = self.terms[i][role];
        let partners: Vec<usize> = (0..self.rank())
            .filter(|&k| k != i && self.terms[k][role] == f)
            .collect();
        if partners.is_empty() {
            return;
        }
        let j = partners[self.below(partners.len())];
        let (mut s, mut u) = others(role);
        if self.next() & 1 == 1 {
            std::mem::swap(&mut s, &mut u);
        }
        self.terms[i][s] ^= self.terms[j][s];
        self.terms[j][u] ^= self.terms[i][u];
        self.flips += 1;
        if i > j {
            self.settle(i, s);
            if j < self.rank() {
                self.settle(j, u);
            }
        } else {
            self.settle(j, u);
            if i < self.rank() {
                self.settle(i, s);
            }
        }
    }

    fn plus(&mut self, capacity: usize) {
        let n = self.rank();
        if n < 2 || n >= capacity {
            return;
        }
        let i = self.below(n);
        let mut j = self.below(n - 1);
        if j >= i {
            j += 1;
        }
        let a = self.below(3);
        let (b, c) = others(a);
        let (x, y) = (self.terms[i], self.terms[j]);
        self.terms[i][a] = x[a] ^ y[a];
        self.terms[j][c] = y[c] ^ x[c];
        let mut t3 = [0; 3];
        t3[a] = y[a];
        t3[b] = y[b] ^ x[b];
        t3[c] = x[c];
        self.terms.push(t3);
        self.settle(n, ANY_ROLE);
        let (hi, lo) = (i.max(j), i.min(j));
        if hi < self.rank() {
            self.settle(hi, ANY_ROLE);
        }
        if lo < self.rank() {
            self.settle(lo, ANY_ROLE);
        }
    }

    /// The CPU reference of one dispatch: up to `steps` steps, exactly as
    /// the kernel takes them.
    pub fn run(&mut self, limits: &Limits, steps: u32) {
        if self.status != Status::Running {
            return;
        }
        for _ in 0..steps {
            if self.rank() < self.target {
                self.status = Status::Dropped;
                break;
            }
            if self.steps >= limits.path_limit {
                self.status = Status::Exhausted;
                break;
            }
            self.flip_step();
            self.steps += 1;
            if self.rank() < self.low {
                self.low = self.rank();
                self.since = 0;
            } else {
                self.since += 1;
                if self.since >= limits.plateau {
                    self.plus(limits.capacity);
                    self.since = 0;
                }
            }
        }
        if self.status == Status::Running {
            if self.rank() < self.target {
                self.status = Status::Dropped;
            } else if self.steps >= limits.path_limit {
                self.status = Status::Exhausted;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{verify, Field, Shape};

    #[test]
    fn the_reference_walk_keeps_the_tensor_and_drops_rank() {
        let shape = Shape::new(3, 3, 3).unwrap();
        let start = Z2Scheme::standard(shape).unwrap();
        let limits = Limits {
            capacity: 40,
            plateau: 2_000,
            path_limit: 200_000,
        };
        let mut walk = Walk::new(&start, 24, 7);
        // In pieces, as dispatches take it.
        while walk.status == Status::Running {
            walk.run(&limits, 5_000);
            let s = Z2Scheme {
                shape,
                terms: walk.terms.clone(),
            };
            assert!(
                verify(&s.to_decomposition(), Field::Z2).is_ok(),
                "after {} steps",
                walk.steps
            );
        }
        assert_eq!(walk.status, Status::Dropped, "{walk:?}");
        assert!(walk.rank() < 24 && walk.flips > 0);
    }
}
