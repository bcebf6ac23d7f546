//! `tensorsearch bench flips`: flips per second of the Z2 walker, on one
//! thread (a plain walk from the standard algorithm, with a plus
//! transition after each plateau) and on all threads (pool rounds, as
//! `flip` runs them), for a few shapes.

use super::pool::{PoolSearch, PoolSettings};
use super::scheme::Z2Scheme;
use super::walker::Walker;
use crate::problem::Shape;
use anyhow::Result;
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize)]
pub struct FlipThroughput {
    pub shape: String,
    pub threads: usize,
    /// One walk on one thread.
    pub flips_per_s_one_thread: f64,
    /// Pool rounds on all threads.
    pub flips_per_s_all_threads: f64,
    /// The rank the pool rounds reached in their time.
    pub pool_rank: usize,
}

/// Flips without a new low before a plus transition in the one-thread walk.
const PLATEAU: u64 = 50_000;

pub fn measure(shape: Shape, seconds: Duration) -> Result<FlipThroughput> {
    let start = Z2Scheme::standard(shape)?;
    let mut w = Walker::new(&start, 1);
    let (mut low, mut since) = (w.rank(), 0u64);
    let t = Instant::now();
    while t.elapsed() < seconds / 2 {
        for _ in 0..4096 {
            if !w.flip() {
                w.plus();
            }
            if w.rank() < low {
                (low, since) = (w.rank(), 0);
            } else {
                since += 1;
                if since >= PLATEAU {
                    w.plus();
                    since = 0;
                }
            }
        }
    }
    let one = w.flips as f64 / t.elapsed().as_secs_f64();

    let mut search = PoolSearch::new(&start, PoolSettings::default(), 1);
    let t = Instant::now();
    let deadline = t + seconds / 2;
    while Instant::now() < deadline {
        search.round(&|| Instant::now() >= deadline);
    }
    Ok(FlipThroughput {
        shape: shape.to_string(),
        threads: rayon::current_num_threads(),
        flips_per_s_one_thread: one,
        flips_per_s_all_threads: search.state.flips as f64 / t.elapsed().as_secs_f64(),
        pool_rank: search.best_rank(),
    })
}

pub fn table(rows: &[FlipThroughput]) -> String {
    let mut s = format!(
        "{:<7} {:>16} {:>8} {:>16} {:>16} {:>10}\n",
        "shape", "M flips/s, 1 thr", "threads", "M flips/s, all", "per thread", "pool rank"
    );
    for r in rows {
        s += &format!(
            "{:<7} {:>16.2} {:>8} {:>16.2} {:>16.2} {:>10}\n",
            r.shape,
            r.flips_per_s_one_thread / 1e6,
            r.threads,
            r.flips_per_s_all_threads / 1e6,
            r.flips_per_s_all_threads / 1e6 / r.threads as f64,
            r.pool_rank
        );
    }
    s + "Z2, from the standard algorithm; the GPU has no flip walk yet\n"
}
