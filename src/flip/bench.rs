//! `tensorsearch bench flips`: flips per second of the Z2 walker, on one
//! thread (a plain walk from the standard algorithm, with a plus
//! transition after each plateau) and on all threads (pool rounds, as
//! `flip` runs them), and of the GPU walk (pool rounds on the adapter),
//! for a few shapes.

use super::gpu::GpuRounds;
use super::pool::{PoolSearch, PoolSettings};
use super::scheme::Z2Scheme;
use super::walker::{Walk, Walker};
use crate::engine::gpu::GpuBackend;
use crate::problem::Shape;
use anyhow::Result;
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize)]
pub struct FlipThroughput {
    pub shape: String,
    /// `cpu`, or the GPU adapter's name.
    pub device: String,
    /// CPU threads, or walks at a time on the GPU.
    pub parallel: usize,
    /// One walk on one thread (CPU only).
    pub flips_per_s_one_thread: Option<f64>,
    /// Pool rounds on all threads, or on the GPU.
    pub flips_per_s: f64,
    /// The rank the pool rounds reached in their time.
    pub pool_rank: usize,
}

/// The GPU walks' path limit: short paths so that rounds end within the
/// measurement.
const GPU_PATH_LIMIT: u64 = 100_000;

/// Pool rounds on `gpu` for `seconds`, as many walks at a time as `flip`
/// takes.
pub fn measure_gpu(
    gpu: &mut GpuBackend,
    shape: Shape,
    seconds: Duration,
) -> Result<FlipThroughput> {
    let start = Z2Scheme::standard(shape)?;
    let walks = super::gpu::walks_for(gpu, start.rank());
    let settings = PoolSettings {
        walks_per_round: walks,
        path_limit: GPU_PATH_LIMIT,
        plateau: PLATEAU,
        ..PoolSettings::default()
    };
    let mut search = PoolSearch::new(&start, settings, 1)?;
    let mut rounds = GpuRounds::new(gpu, &settings, start.rank())?;
    // The first round compiles the kernel: not timed.
    let warm = Instant::now() + Duration::from_millis(1);
    rounds.round(gpu, &mut search, &|| Instant::now() >= warm);
    let before = search.state.flips;
    let t = Instant::now();
    let deadline = t + seconds;
    while Instant::now() < deadline {
        rounds.round(gpu, &mut search, &|| Instant::now() >= deadline);
    }
    Ok(FlipThroughput {
        shape: shape.to_string(),
        device: gpu.adapter_name().to_string(),
        parallel: walks,
        flips_per_s_one_thread: None,
        flips_per_s: (search.state.flips - before) as f64 / t.elapsed().as_secs_f64(),
        pool_rank: search.best_rank(),
    })
}

/// Flips without a new low before a plus transition in the one-thread walk.
const PLATEAU: u64 = 50_000;

pub fn measure(shape: Shape, seconds: Duration) -> Result<FlipThroughput> {
    let start = Z2Scheme::standard(shape)?;
    let mut w = Walker::new(&start, 1);
    let t = Instant::now();
    // The clock is read every 4096 steps.
    w.wander(u64::MAX, PLATEAU, usize::MAX, |_, step| {
        step % 4096 != 0 || t.elapsed() < seconds / 2
    });
    let one = w.flips as f64 / t.elapsed().as_secs_f64();

    let mut search = PoolSearch::new(&start, PoolSettings::default(), 1)?;
    let t = Instant::now();
    let deadline = t + seconds / 2;
    while Instant::now() < deadline {
        search.round(&|| Instant::now() >= deadline);
    }
    Ok(FlipThroughput {
        shape: shape.to_string(),
        device: "cpu".into(),
        parallel: rayon::current_num_threads(),
        flips_per_s_one_thread: Some(one),
        flips_per_s: search.state.flips as f64 / t.elapsed().as_secs_f64(),
        pool_rank: search.best_rank(),
    })
}

pub fn table(rows: &[FlipThroughput]) -> String {
    let mut s = format!(
        "{:<7} {:<28} {:>9} {:>16} {:>12} {:>12} {:>10}\n",
        "shape", "device", "parallel", "M flips/s, 1 thr", "M flips/s", "per lane", "pool rank"
    );
    for r in rows {
        let one = r
            .flips_per_s_one_thread
            .map_or_else(|| "-".to_string(), |f| format!("{:.2}", f / 1e6));
        let mut device = r.device.clone();
        device.truncate(28);
        s += &format!(
            "{:<7} {:<28} {:>9} {:>16} {:>12.2} {:>12.4} {:>10}\n",
            r.shape,
            device,
            r.parallel,
            one,
            r.flips_per_s / 1e6,
            r.flips_per_s / 1e6 / r.parallel as f64,
            r.pool_rank
        );
    }
    s + "Z2, from the standard algorithm; parallel: CPU threads, or GPU walks at a time\n"
}
