//! Layer normalisation over the last dimension, forward and backward.
//! Kernel: `shaders/layernorm.wgsl`.

use crate::engine::gpu::{offsets, GpuBackend, GpuBuf, Kernel};
use num_traits::Float;

pub const WGSL: &str = include_str!("../../../shaders/layernorm.wgsl");

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerNormSpec {
    pub rows: usize,
    pub cols: usize,
    pub eps: f32,
    /// The backward pass adds into dx instead of writing it (a pre-norm
    /// block's input also feeds the residual path).
    pub accumulate_dx: bool,
}

impl LayerNormSpec {
    pub fn new(rows: usize, cols: usize) -> Self {
        LayerNormSpec {
            rows,
            cols,
            eps: 1e-5,
            accumulate_dx: false,
        }
    }
}

/// y = (x − mean)·rstd·gain + bias, rstd = 1/sqrt(var + eps) (biased var).
pub fn cpu<F: Float>(
    s: &LayerNormSpec,
    x: &[F],
    gain: &[F],
    bias: &[F],
    y: &mut [F],
    mean: &mut [F],
    rstd: &mut [F],
) {
    let n = F::from(s.cols).unwrap();
    for r in 0..s.rows {
        let row = &x[r * s.cols..(r + 1) * s.cols];
        let mu = row.iter().fold(F::zero(), |a, &v| a + v) / n;
        let var = row.iter().fold(F::zero(), |a, &v| a + (v - mu) * (v - mu)) / n;
        let rs = F::one() / (var + F::from(s.eps).unwrap()).sqrt();
        for c in 0..s.cols {
            y[r * s.cols + c] = (row[c] - mu) * rs * gain[c] + bias[c];
        }
        mean[r] = mu;
        rstd[r] = rs;
    }
}

/// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·gain;
/// dgain += Σ_r dy·x̂, dbias += Σ_r dy.
#[allow(clippy::too_many_arguments)]
pub fn backward_cpu<F: Float>(
    s: &LayerNormSpec,
    x: &[F],
    gain: &[F],
    mean: &[F],
    rstd: &[F],
    dy: &[F],
    dx: &mut [F],
    dgain: &mut [F],
    dbias: &mut [F],
) {
    let n = F::from(s.cols).unwrap();
    for r in 0..s.rows {
        let at = |c: usize| r * s.cols + c;
        let xhat = |c: usize| (x[at(c)] - mean[r]) * rstd[r];
        let (mut mg, mut mgx) = (F::zero(), F::zero());
        for c in 0..s.cols {
            let g = dy[at(c)] * gain[c];
            mg = mg + g;
            mgx = mgx + g * xhat(c);
        }
        mg = mg / n;
        mgx = mgx / n;
        for c in 0..s.cols {
            let g = dy[at(c)] * gain[c];
            let v = rstd[r] * (g - mg - xhat(c) * mgx);
            dx[at(c)] = if s.accumulate_dx { dx[at(c)] + v } else { v };
        }
    }
    // Row by row, so the reads are contiguous; each column still sums in
    // increasing r, as the kernel does.
    let mut dg = vec![F::zero(); s.cols];
    let mut db = vec![F::zero(); s.cols];
    for r in 0..s.rows {
        for c in 0..s.cols {
            let xh = (x[r * s.cols + c] - mean[r]) * rstd[r];
            dg[c] = dg[c] + dy[r * s.cols + c] * xh;
            db[c] = db[c] + dy[r * s.cols + c];
        }
    }
    for c in 0..s.cols {
        dgain[c] = dgain[c] + dg[c];
        dbias[c] = dbias[c] + db[c];
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    eps: f32,
    accumulate: u32,
    // Offsets of the bindings, in binding order.
    off: [u32; 8],
}

fn params(s: &LayerNormSpec, bufs: &[&GpuBuf]) -> Params {
    let off = offsets::<8>(bufs);
    Params {
        rows: s.rows as u32,
        cols: s.cols as u32,
        eps: s.eps,
        accumulate: s.accumulate_dx as u32,
        off,
    }
}

fn kernel(entry: &'static str) -> Kernel {
    Kernel {
        family: "layernorm",
        source: WGSL,
        entry,
    }
}

#[allow(clippy::too_many_arguments)]
pub fn launch(
    gpu: &mut GpuBackend,
    s: &LayerNormSpec,
    x: &GpuBuf,
    gain: &GpuBuf,
    bias: &GpuBuf,
    y: &GpuBuf,
    mean: &GpuBuf,
    rstd: &GpuBuf,
) {
    let bufs = [x, gain, bias, y, mean, rstd];
    let groups = gpu.grid(s.rows);
    gpu.launch(kernel("forward"), &params(s, &bufs), &bufs, groups);
}

#[allow(clippy::too_many_arguments)]
pub fn launch_backward(
    gpu: &mut GpuBackend,
    s: &LayerNormSpec,
    x: &GpuBuf,
    gain: &GpuBuf,
    mean: &GpuBuf,
    rstd: &GpuBuf,
    dy: &GpuBuf,
    dx: &GpuBuf,
    dgain: &GpuBuf,
    dbias: &GpuBuf,
) {
    let bufs = [x, gain, mean, rstd, dy, dx, dgain, dbias];
    let p = params(s, &bufs);
    let rows = gpu.grid(s.rows);
    gpu.launch(kernel("backward_input"), &p, &bufs, rows);
    let cols = gpu.grid(s.cols);
    gpu.launch(kernel("backward_params"), &p, &bufs, cols);
}
