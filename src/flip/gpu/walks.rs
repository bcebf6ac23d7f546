//! Walks resident on a GPU: their layout in two device buffers (terms
//! walk-minor, so neighbouring invocations read neighbouring words; a
//! state block per walk), and the launcher that uploads, steps and reads
//! them back.

use super::reference::{Limits, Status, Walk};
use super::WGSL;
use crate::engine::gpu::{GpuBackend, GpuBuf, Kernel};
use anyhow::Result;

/// Words of state per walk.
const STATE: usize = 16;
/// Loop iterations after which llvmpipe ends an invocation's loops.
const SOFTWARE_LOOP_LIMIT: usize = 65_535;

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

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The path limit of the next dispatches (adaptive limits change it
    /// between rounds).
    pub fn set_path_limit(&mut self, path_limit: u32) {
        self.limits.path_limit = path_limit;
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
        let kernel = Kernel::new("flip", WGSL, "walk");
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
