//! A pool search's rounds on a GPU, and how many walks an adapter takes
//! at a time.

use super::reference::{Limits, Status, Walk};
use super::walks::GpuWalks;
use crate::engine::gpu::GpuBackend;
use crate::flip::pool::{PoolSearch, PoolSettings, Round, WalkResult};
use crate::flip::scheme::Z2Scheme;
use anyhow::Result;

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
        &mut self,
        gpu: &mut GpuBackend,
        search: &mut PoolSearch<u64>,
        halt: &dyn Fn() -> bool,
    ) -> Round<u64> {
        self.resident
            .set_path_limit(search.path_limit().min(u32::MAX as u64) as u32);
        let starts = search.plan(self.walks());
        let rank = search.state.rank;
        let walks: Vec<Walk> = starts
            .iter()
            .map(|&(k, seed)| {
                let terms = &search.state.pool[k];
                assert!(
                    terms.len() <= self.resident.limits().capacity,
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
                let (found, wandered) = match w.status {
                    Status::Dropped => (Some(w.terms), None),
                    Status::Exhausted => (None, Some(w.terms)),
                    Status::Running => (None, None),
                };
                WalkResult {
                    found,
                    flips: w.flips as u64,
                    wandered,
                }
            })
            .collect();
        search.absorb(results)
    }
}
