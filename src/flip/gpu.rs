//! Flip walks over Z2 on the GPU: `shaders/flip.wgsl` runs one walk per
//! invocation, its launcher ([`GpuWalks`]) and the CPU reference it must
//! match bit for bit ([`Walk::run`]) are here.
//!
//! The kernel cannot keep the CPU walker's hash index, so it draws flips
//! by scanning: a term and a role, then one of the other terms with the
//! same factor there (a step with none is a miss). A walk's whole state
//! (terms, rank, counters, xorshift128 generator) lives in two buffers, so
//! running S steps and then S more is the same as running 2S.

use super::pool::{PoolSearch, PoolSettings, Round};
use super::scheme::Z2Scheme;
use super::walker::others;
use crate::engine::gpu::{GpuBackend, GpuBuf, Kernel};
use anyhow::Result;

pub const WGSL: &str = include_str!("../../shaders/flip.wgsl");

/// Words of state per walk.
const STATE: usize = 16;
/// "No role" for `settle`: check all three.
const ANY_ROLE: usize = 3;
/// Loop iterations after which llvmpipe ends an invocation's loops.
const SOFTWARE_LOOP_LIMIT: usize = 65_535;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    /// Its rank went below its target.
    Dropped,
    /// It made its path limit of steps.
    Exhausted,
}

impl Status {
    fn word(self) -> u32 {
        match self {
            Status::Running => 0,
            Status::Dropped => 1,
            Status::Exhausted => 2,
        }
    }
    fn from_word(w: u32) -> Status {
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
        // Four nonzero words from splitmix64.
        let mut z = seed;
        let mut word = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((x ^ (x >> 31)) as u32) | 1
        };
        let rng = [word(), word(), word(), word()];
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
        let [x, y, z, w] = self.rng;
        let t = x ^ (x << 11);
        let n = w ^ (w >> 19) ^ t ^ (t >> 8);
        self.rng = [y, z, w, n];
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

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    walks: u32,
    capacity: u32,
    steps: u32,
    plateau: u32,
    path_limit: u32,
    terms_off: u32,
    walks_off: u32,
    _pad: u32,
}

/// Walks resident on a GPU: uploaded once, stepped by dispatches, read
/// back when the host needs to look.
pub struct GpuWalks {
    limits: Limits,
    count: usize,
    terms: GpuBuf,
    state: GpuBuf,
}

impl GpuWalks {
    pub fn new(gpu: &mut GpuBackend, limits: Limits, count: usize) -> Result<Self> {
        Ok(GpuWalks {
            limits,
            count,
            terms: gpu.alloc_words(count * limits.capacity * 6)?,
            state: gpu.alloc_words(count * STATE)?,
        })
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Where the low word of factor r of term t of walk w lies (its high
    /// word is `count` further): walk-minor, as the kernel reads it.
    fn word(&self, t: usize, r: usize, w: usize) -> usize {
        (t * 3 + r) * 2 * self.count + w
    }

    /// Replaces every walk (`walks.len()` must be the count).
    pub fn upload(&self, gpu: &mut GpuBackend, walks: &[Walk]) {
        assert_eq!(walks.len(), self.count, "one walk per slot");
        let cap = self.limits.capacity;
        let mut terms = vec![0u32; self.count * cap * 6];
        let mut state = vec![0u32; self.count * STATE];
        for (w, walk) in walks.iter().enumerate() {
            assert!(
                walk.rank() <= cap,
                "a walk of rank {} over capacity {cap}",
                walk.rank()
            );
            for (t, term) in walk.terms.iter().enumerate() {
                for (r, &f) in term.iter().enumerate() {
                    let k = self.word(t, r, w);
                    terms[k] = f as u32;
                    terms[k + self.count] = (f >> 32) as u32;
                }
            }
            let st = &mut state[w * STATE..(w + 1) * STATE];
            st[..7].copy_from_slice(&[
                walk.rank() as u32,
                walk.target as u32,
                walk.status.word(),
                walk.low as u32,
                walk.since,
                walk.steps,
                walk.flips,
            ]);
            st[8..12].copy_from_slice(&walk.rng);
        }
        gpu.write_words(&self.terms, bytemuck::cast_slice(&terms));
        gpu.write_words(&self.state, bytemuck::cast_slice(&state));
    }

    /// Steps one dispatch may take on `gpu`. llvmpipe (lavapipe) ends an
    /// invocation's loops after 65535 iterations in all, silently; a step
    /// takes about 6 scans of the terms (two to draw, two settles), so a
    /// software adapter gets short dispatches.
    fn steps_per_dispatch(&self, gpu: &GpuBackend) -> u32 {
        if gpu.is_software() {
            (SOFTWARE_LOOP_LIMIT / (16 * self.limits.capacity)).max(1) as u32
        } else {
            u32::MAX
        }
    }

    /// Records dispatches that take every walk up to `steps` steps on.
    pub fn dispatch(&self, gpu: &mut GpuBackend, steps: u32) {
        let chunk = self.steps_per_dispatch(gpu);
        let mut left = steps;
        while left > 0 {
            let now = left.min(chunk);
            self.dispatch_once(gpu, now);
            left -= now;
        }
    }

    fn dispatch_once(&self, gpu: &mut GpuBackend, steps: u32) {
        let p = Params {
            walks: self.count as u32,
            capacity: self.limits.capacity as u32,
            steps,
            plateau: self.limits.plateau,
            path_limit: self.limits.path_limit,
            terms_off: self.terms.off(),
            walks_off: self.state.off(),
            _pad: 0,
        };
        let kernel = Kernel {
            family: "flip",
            source: WGSL,
            entry: "walk",
        };
        let groups = gpu.grid(self.count);
        gpu.launch(kernel, &p, &[&self.terms, &self.state], groups);
    }

    /// Runs what was recorded and reads every walk back.
    pub fn read(&self, gpu: &mut GpuBackend) -> Vec<Walk> {
        let bytes = gpu.read_many(&[&self.terms, &self.state]);
        let terms: &[u32] = bytemuck::cast_slice(&bytes[0]);
        let state: &[u32] = bytemuck::cast_slice(&bytes[1]);
        (0..self.count)
            .map(|w| {
                let st = &state[w * STATE..(w + 1) * STATE];
                let rank = st[0] as usize;
                let word = |t: usize, r: usize| {
                    let k = self.word(t, r, w);
                    terms[k] as u64 | (terms[k + self.count] as u64) << 32
                };
                Walk {
                    terms: (0..rank)
                        .map(|t| [word(t, 0), word(t, 1), word(t, 2)])
                        .collect(),
                    target: st[1] as usize,
                    status: Status::from_word(st[2]),
                    low: st[3] as usize,
                    since: st[4],
                    steps: st[5],
                    flips: st[6],
                    rng: [st[8], st[9], st[10], st[11]],
                }
            })
            .collect()
    }
}

/// Steps between looks at the walks in a GPU round.
const LOOK_EVERY: u32 = 8_192;
/// Terms a GPU walk may hold beyond its start rank (plus transitions).
const SLACK: usize = 8;
/// Walks at a time: enough to fill a large GPU, or a few workgroups on a
/// software adapter.
const HARDWARE_WALKS: usize = 16_384;
const SOFTWARE_WALKS: usize = 128;

/// Walks at a time on `gpu` for schemes of up to `rank` terms: the
/// adapter's default, fewer when their terms would not fit one binding.
pub fn walks_for(gpu: &GpuBackend, rank: usize) -> usize {
    let wanted = if gpu.is_software() {
        SOFTWARE_WALKS
    } else {
        HARDWARE_WALKS
    };
    let fit = gpu.max_binding_words() / ((rank + SLACK) * 6);
    wanted.min(fit).max(1)
}

/// A pool search's rounds on a GPU: a fixed number of walks at a time,
/// each from a pool member, until every walk dropped below the pool's
/// rank or made its path limit. Seeds and results go through the pool as
/// on the CPU, so a run is the same for a given seed and walk count.
pub struct GpuRounds {
    resident: GpuWalks,
}

impl GpuRounds {
    /// The settings' walks per round, from pool members of up to `rank`
    /// terms.
    pub fn new(gpu: &mut GpuBackend, settings: &PoolSettings, rank: usize) -> Result<Self> {
        let limits = Limits {
            capacity: rank + SLACK,
            plateau: settings.plateau.min(u32::MAX as u64) as u32,
            path_limit: settings.path_limit.min(u32::MAX as u64) as u32,
        };
        Ok(GpuRounds {
            resident: GpuWalks::new(gpu, limits, settings.walks_per_round)?,
        })
    }

    pub fn walks(&self) -> usize {
        self.resident.count()
    }

    /// One round; unfinished walks count as not found when `halt` says so
    /// (looked at every LOOK_EVERY steps).
    pub fn round(
        &self,
        gpu: &mut GpuBackend,
        search: &mut PoolSearch<u64>,
        halt: &dyn Fn() -> bool,
    ) -> Round<u64> {
        let starts = search.plan(self.walks());
        let rank = search.state.rank;
        let walks: Vec<Walk> = starts
            .iter()
            .map(|&(k, seed)| {
                let terms = &search.state.pool[k];
                assert!(
                    terms.len() <= self.resident.limits.capacity,
                    "a pool member over capacity"
                );
                Walk::new(
                    &Z2Scheme {
                        shape: search.shape,
                        terms: terms.clone(),
                    },
                    rank,
                    seed,
                )
            })
            .collect();
        self.resident.upload(gpu, &walks);
        let walks = loop {
            self.resident.dispatch(gpu, LOOK_EVERY);
            let back = self.resident.read(gpu);
            if back.iter().all(|w| w.status != Status::Running) || halt() {
                break back;
            }
        };
        let results = walks
            .into_iter()
            .map(|w| {
                (
                    (w.status == Status::Dropped).then_some(w.terms),
                    w.flips as u64,
                )
            })
            .collect();
        search.absorb(results)
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
