//! Layer normalisation over the last dimension, forward and backward.
//! Kernel: `shaders/layernorm.wgsl`.

use crate::engine::cpu::{CpuBackend, CpuBuf, Word};
use crate::engine::gpu::{offsets, GpuBackend, GpuBuf, Kernel};
use num_traits::Float;
use rayon::prelude::*;

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

/// Rows per parallel task; the parameter gradients are summed per block of
/// this many rows, then block by block in order, so the result does not
/// depend on the thread count.
const ROWS_PER_TASK: usize = 64;

/// y = (x − mean)·rstd·gain + bias, rstd = 1/sqrt(var + eps) (biased var).
pub fn cpu<F: Float + Send + Sync>(
    s: &LayerNormSpec,
    x: &[F],
    gain: &[F],
    bias: &[F],
    y: &mut [F],
    mean: &mut [F],
    rstd: &mut [F],
) {
    let cols = s.cols.max(1);
    let n = F::from(s.cols).unwrap();
    let words = s.rows * s.cols;
    y[..words]
        .par_chunks_mut(cols)
        .zip(x[..words].par_chunks(cols))
        .zip(mean[..s.rows].par_iter_mut().zip(&mut rstd[..s.rows]))
        .with_min_len(ROWS_PER_TASK)
        .for_each(|((y, row), (mean, rstd))| {
            let mu = row.iter().fold(F::zero(), |a, &v| a + v) / n;
            let var = row.iter().fold(F::zero(), |a, &v| a + (v - mu) * (v - mu)) / n;
            let rs = F::one() / (var + F::from(s.eps).unwrap()).sqrt();
            for c in 0..s.cols {
                y[c] = (row[c] - mu) * rs * gain[c] + bias[c];
            }
            *mean = mu;
            *rstd = rs;
        });
}

/// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·gain;
/// dgain += Σ_r dy·x̂, dbias += Σ_r dy.
#[allow(clippy::too_many_arguments)]
pub fn backward_cpu<F: Float + Send + Sync>(
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
    let cols = s.cols.max(1);
    let n = F::from(s.cols).unwrap();
    let words = s.rows * s.cols;
    let block = ROWS_PER_TASK * cols;
    // Each task: its rows of dx, and its rows' sums for dgain and dbias.
    let partials: Vec<(Vec<F>, Vec<F>)> = dx[..words]
        .par_chunks_mut(block)
        .enumerate()
        .map(|(b, dx)| {
            let mut dg = vec![F::zero(); s.cols];
            let mut db = vec![F::zero(); s.cols];
            for (i, dx) in dx.chunks_mut(cols).enumerate() {
                let r = b * ROWS_PER_TASK + i;
                let row = r * s.cols..(r + 1) * s.cols;
                let (x, dy) = (&x[row.clone()], &dy[row]);
                let xhat = |c: usize| (x[c] - mean[r]) * rstd[r];
                let (mut mg, mut mgx) = (F::zero(), F::zero());
                for c in 0..s.cols {
                    let g = dy[c] * gain[c];
                    mg = mg + g;
                    mgx = mgx + g * xhat(c);
                }
                mg = mg / n;
                mgx = mgx / n;
                for c in 0..s.cols {
                    let v = rstd[r] * (dy[c] * gain[c] - mg - xhat(c) * mgx);
                    dx[c] = if s.accumulate_dx { dx[c] + v } else { v };
                    dg[c] = dg[c] + dy[c] * xhat(c);
                    db[c] = db[c] + dy[c];
                }
            }
            (dg, db)
        })
        .collect();
    for (dg, db) in partials {
        for c in 0..s.cols {
            dgain[c] = dgain[c] + dg[c];
            dbias[c] = dbias[c] + db[c];
        }
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
    Kernel::new("layernorm", WGSL, entry)
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

family! {
    /// Layer normalisation.
    pub trait NormOps {
        /// y = (x − mean) · rstd · gain + bias per row; saves mean and rstd.
        #[allow(clippy::too_many_arguments)]
        fn layer_norm(
            &mut self,
            spec: &LayerNormSpec,
            x: &Self::Buf,
            gain: &Self::Buf,
            bias: &Self::Buf,
            y: &Self::Buf,
            mean: &Self::Buf,
            rstd: &Self::Buf,
        )
            as "layer norm";
        /// dx (or dx +=, per spec), dgain +=, dbias +=.
        #[allow(clippy::too_many_arguments)]
        fn layer_norm_backward(
            &mut self,
            spec: &LayerNormSpec,
            x: &Self::Buf,
            gain: &Self::Buf,
            mean: &Self::Buf,
            rstd: &Self::Buf,
            dy: &Self::Buf,
            dx: &Self::Buf,
            dgain: &Self::Buf,
            dbias: &Self::Buf,
        )
            as "layer norm backward";
    }
}

impl<F: Word> NormOps for CpuBackend<F> {
    fn layer_norm(
        &mut self,
        spec: &LayerNormSpec,
        x: &CpuBuf<F>,
        gain: &CpuBuf<F>,
        bias: &CpuBuf<F>,
        y: &CpuBuf<F>,
        mean: &CpuBuf<F>,
        rstd: &CpuBuf<F>,
    ) {
        Self::run([x, gain, bias], [y, mean, rstd], |[x, g, b], [y, m, r]| {
            cpu(spec, x, g, b, y, m, r)
        });
    }

    fn layer_norm_backward(
        &mut self,
        spec: &LayerNormSpec,
        x: &CpuBuf<F>,
        gain: &CpuBuf<F>,
        mean: &CpuBuf<F>,
        rstd: &CpuBuf<F>,
        dy: &CpuBuf<F>,
        dx: &CpuBuf<F>,
        dgain: &CpuBuf<F>,
        dbias: &CpuBuf<F>,
    ) {
        Self::run(
            [x, gain, mean, rstd, dy],
            [dx, dgain, dbias],
            |[x, g, m, r, dy], [dx, dg, db]| backward_cpu(spec, x, g, m, r, dy, dx, dg, db),
        );
    }
}

impl NormOps for GpuBackend {
    fn layer_norm(
        &mut self,
        spec: &LayerNormSpec,
        x: &GpuBuf,
        gain: &GpuBuf,
        bias: &GpuBuf,
        y: &GpuBuf,
        mean: &GpuBuf,
        rstd: &GpuBuf,
    ) {
        launch(self, spec, x, gain, bias, y, mean, rstd);
    }

    fn layer_norm_backward(
        &mut self,
        spec: &LayerNormSpec,
        x: &GpuBuf,
        gain: &GpuBuf,
        mean: &GpuBuf,
        rstd: &GpuBuf,
        dy: &GpuBuf,
        dx: &GpuBuf,
        dgain: &GpuBuf,
        dbias: &GpuBuf,
    ) {
        launch_backward(self, spec, x, gain, mean, rstd, dy, dx, dgain, dbias);
    }
}
