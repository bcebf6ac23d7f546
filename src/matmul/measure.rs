//! One measurement: random fp32 matrices multiplied by a scheme and by
//! plain GEMM on the same device, interleaved `repeat` times; the median
//! times, the effective GFLOP/s (2·N·K·M / t, the standard algorithm's
//! count, so a faster scheme shows as more), and the max-norm relative
//! error max|Ĉ − C| / (max|A| · max|B|) of each against C computed in
//! f64.

use super::cpu::{crop, pad, reference, sgemm, Dims, Multiplier};
use super::gpu::{timed, GpuPlan};
use super::scheme::RealScheme;
use crate::engine::gpu::{GpuBackend, GpuBuf};
use crate::engine::ops::matmul::{launch as launch_gemm, MatmulSpec};
use crate::engine::Memory;
use anyhow::Result;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::Instant;

/// What `matmul` reports (and writes with `--json`).
#[derive(Clone, Debug, Serialize)]
pub struct MatmulReport {
    /// The scheme's shape and rank.
    pub shape: String,
    pub rank: usize,
    pub levels: usize,
    /// N, K, M: A is N×K, B is K×M.
    pub size: [usize; 3],
    pub device: String,
    pub repeat: usize,
    /// Median seconds of the scheme and of plain GEMM.
    pub seconds: f64,
    pub baseline_seconds: f64,
    /// baseline_seconds / seconds.
    pub speedup: f64,
    pub rel_error: f64,
    pub baseline_rel_error: f64,
    pub gflops_effective: f64,
    pub baseline_gflops: f64,
}

/// Random entries uniform in [−1, 1).
pub fn random_matrix(rng: &mut impl Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn max_abs<T: Copy + Into<f64>>(x: &[T]) -> f64 {
    x.iter().map(|&v| v.into().abs()).fold(0.0, f64::max)
}

/// max|got − want| / (max|A| · max|B|).
pub fn relative_error(got: &[f32], want: &[f64], a: &[f32], b: &[f32]) -> f64 {
    let worst = got
        .iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).abs())
        .fold(0.0, f64::max);
    worst / (max_abs(a) * max_abs(b)).max(f64::MIN_POSITIVE)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Times the scheme (`levels` deep) and sgemm on the CPU, `repeat` times
/// each, interleaved, on matrices drawn from `seed`.
pub fn measure_cpu(
    s: &RealScheme,
    levels: usize,
    d: Dims,
    repeat: usize,
    seed: u64,
) -> MatmulReport {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let a = random_matrix(&mut rng, d.n * d.k);
    let b = random_matrix(&mut rng, d.k * d.m);
    let (mut times, mut base_times) = (vec![], vec![]);
    let (mut got, mut base) = (vec![], vec![]);
    let mut multiplier = Multiplier::new(s, levels);
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        got = multiplier.multiply(&a, &b, d);
        times.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        base = sgemm(&a, &b, d);
        base_times.push(t.elapsed().as_secs_f64());
    }
    let want = reference(&a, &b, d);
    report(
        s,
        levels,
        d,
        "cpu (engine GEMM, one thread; combinations on rayon)".into(),
        repeat,
        times,
        base_times,
        relative_error(&got, &want, &a, &b),
        relative_error(&base, &want, &a, &b),
    )
}

/// The same measurement on a GPU: `base`'s `levels`-th Kronecker power
/// (`power`, run as one level) against the engine's WGSL GEMM.
pub fn measure_gpu(
    gpu: &mut GpuBackend,
    base: &RealScheme,
    power: &RealScheme,
    levels: usize,
    d: Dims,
    repeat: usize,
    seed: u64,
) -> Result<MatmulReport> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let a = random_matrix(&mut rng, d.n * d.k);
    let b = random_matrix(&mut rng, d.k * d.m);
    let plan = GpuPlan::new(gpu, power, d)?;
    let p = plan.padded;
    let upload = |gpu: &mut GpuBackend, x: &[f32]| -> Result<GpuBuf> {
        let buf = gpu.alloc(x.len())?;
        gpu.write_f32(&buf, x);
        Ok(buf)
    };
    let (a_pad, b_pad) = (
        upload(gpu, &pad(&a, d.n, d.k, p.n, p.k))?,
        upload(gpu, &pad(&b, d.k, d.m, p.k, p.m))?,
    );
    let c_pad = gpu.alloc(p.n * p.m)?;
    let (a_buf, b_buf) = (upload(gpu, &a)?, upload(gpu, &b)?);
    let c_buf = gpu.alloc(d.n * d.m)?;
    let gemm = MatmulSpec::new(d.n, d.m, d.k);
    // The first run of each compiles its kernels: not timed.
    plan.record(gpu, &a_pad, &b_pad, &c_pad);
    launch_gemm(gpu, &gemm, &a_buf, &b_buf, &c_buf);
    gpu.flush();
    let (mut times, mut base_times) = (vec![], vec![]);
    for _ in 0..repeat.max(1) {
        times.push(timed(gpu, &c_pad, |g| plan.record(g, &a_pad, &b_pad, &c_pad)).as_secs_f64());
        base_times.push(
            timed(gpu, &c_buf, |g| {
                launch_gemm(g, &gemm, &a_buf, &b_buf, &c_buf)
            })
            .as_secs_f64(),
        );
    }
    let got = crop(&gpu.read_f32(&c_pad), p.m, d.n, d.m);
    let plain = gpu.read_f32(&c_buf);
    let want = reference(&a, &b, d);
    let device = format!("gpu ({})", gpu.adapter_name());
    Ok(report(
        base,
        levels,
        d,
        device,
        repeat,
        times,
        base_times,
        relative_error(&got, &want, &a, &b),
        relative_error(&plain[..d.n * d.m], &want, &a, &b),
    ))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn report(
    s: &RealScheme,
    levels: usize,
    d: Dims,
    device: String,
    repeat: usize,
    times: Vec<f64>,
    base_times: Vec<f64>,
    rel_error: f64,
    baseline_rel_error: f64,
) -> MatmulReport {
    let flops = 2.0 * d.n as f64 * d.k as f64 * d.m as f64;
    let (seconds, baseline_seconds) = (median(times), median(base_times));
    MatmulReport {
        shape: s.shape.to_string(),
        rank: s.rank(),
        levels,
        size: [d.n, d.k, d.m],
        device,
        repeat,
        seconds,
        baseline_seconds,
        speedup: baseline_seconds / seconds,
        rel_error,
        baseline_rel_error,
        gflops_effective: flops / seconds / 1e9,
        baseline_gflops: flops / baseline_seconds / 1e9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Decomposition;

    #[test]
    fn a_measurement_reports_small_errors_for_strassen_and_a_large_one_for_a_wrong_scheme() {
        let s = RealScheme::new(&Decomposition::strassen()).unwrap();
        let d = Dims {
            n: 64,
            k: 64,
            m: 64,
        };
        let r = measure_cpu(&s, 2, d, 3, 7);
        assert!(r.rel_error < 1e-5 && r.baseline_rel_error < 1e-5, "{r:?}");
        assert!(r.rel_error > 0.0, "f32 rounding shows in the error");
        assert!(r.seconds > 0.0 && r.speedup > 0.0 && r.gflops_effective > 0.0);
        let mut wrong = s.clone();
        wrong.terms[3].b[0].1 *= -1.0;
        let r = measure_cpu(&wrong, 1, d, 1, 7);
        assert!(r.rel_error > 0.1, "{r:?}");
    }
}
