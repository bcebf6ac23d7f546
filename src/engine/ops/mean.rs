//! Mean over positions, forward and backward (the value head's pooling).
//! Kernel: `shaders/mean.wgsl`.

use crate::engine::cpu::{CpuBackend, CpuBuf, Word};
use crate::engine::gpu::{GpuBackend, GpuBuf, Kernel};
use num_traits::Float;

pub const WGSL: &str = include_str!("../../../shaders/mean.wgsl");

/// x is batch × positions × channels; y is batch × channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeanSpec {
    pub batch: usize,
    pub positions: usize,
    pub channels: usize,
    /// The backward pass adds into dx.
    pub accumulate: bool,
}

pub fn cpu<F: Float>(s: &MeanSpec, x: &[F], y: &mut [F]) {
    let n = F::from(s.positions).unwrap();
    for b in 0..s.batch {
        for c in 0..s.channels {
            let mut acc = F::zero();
            for p in 0..s.positions {
                acc = acc + x[(b * s.positions + p) * s.channels + c];
            }
            y[b * s.channels + c] = acc / n;
        }
    }
}

pub fn backward_cpu<F: Float>(s: &MeanSpec, dy: &[F], dx: &mut [F]) {
    let n = F::from(s.positions).unwrap();
    for b in 0..s.batch {
        for p in 0..s.positions {
            for c in 0..s.channels {
                let at = (b * s.positions + p) * s.channels + c;
                let g = dy[b * s.channels + c] / n;
                dx[at] = if s.accumulate { dx[at] + g } else { g };
            }
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    batch: u32,
    positions: u32,
    channels: u32,
    accumulate: u32,
    x_off: u32,
    y_off: u32,
    _pad: [u32; 2],
}

fn launch_entry(
    gpu: &mut GpuBackend,
    entry: &'static str,
    s: &MeanSpec,
    x: &GpuBuf,
    y: &GpuBuf,
    threads: usize,
) {
    let p = Params {
        batch: s.batch as u32,
        positions: s.positions as u32,
        channels: s.channels as u32,
        accumulate: s.accumulate as u32,
        x_off: x.off(),
        y_off: y.off(),
        _pad: [0; 2],
    };
    let kernel = Kernel::new("mean", WGSL, entry);
    let groups = gpu.grid(threads);
    gpu.launch(kernel, &p, &[x, y], groups);
}

pub fn launch(gpu: &mut GpuBackend, s: &MeanSpec, x: &GpuBuf, y: &GpuBuf) {
    launch_entry(gpu, "forward", s, x, y, s.batch * s.channels);
}

pub fn launch_backward(gpu: &mut GpuBackend, s: &MeanSpec, dy: &GpuBuf, dx: &GpuBuf) {
    launch_entry(
        gpu,
        "backward",
        s,
        dx,
        dy,
        s.batch * s.positions * s.channels,
    );
}

family! {
    /// Means over positions.
    pub trait MeanOps {
        /// y[b][c] = mean over p of x[b][p][c].
        fn mean(&mut self, spec: &MeanSpec, x: &Self::Buf, y: &Self::Buf)
            as "mean";
        /// dx[b][p][c] (+)= dy[b][c] / positions.
        fn mean_backward(&mut self, spec: &MeanSpec, dy: &Self::Buf, dx: &Self::Buf)
            as "mean backward";
    }
}

impl<F: Word> MeanOps for CpuBackend<F> {
    fn mean(&mut self, spec: &MeanSpec, x: &CpuBuf<F>, y: &CpuBuf<F>) {
        Self::run([x], [y], |[x], [y]| cpu(spec, x, y));
    }

    fn mean_backward(&mut self, spec: &MeanSpec, dy: &CpuBuf<F>, dx: &CpuBuf<F>) {
        Self::run([dy], [dx], |[dy], [dx]| backward_cpu(spec, dy, dx));
    }
}

impl MeanOps for GpuBackend {
    fn mean(&mut self, spec: &MeanSpec, x: &GpuBuf, y: &GpuBuf) {
        launch(self, spec, x, y);
    }

    fn mean_backward(&mut self, spec: &MeanSpec, dy: &GpuBuf, dx: &GpuBuf) {
        launch_backward(self, spec, dy, dx);
    }
}
