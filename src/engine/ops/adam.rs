//! AdamW over one flat parameter buffer, in one dispatch.
//! Kernel: `shaders/adam.wgsl`.

use crate::engine::cpu::{CpuBackend, CpuBuf, Word};
use crate::engine::gpu::{GpuBackend, GpuBuf, Kernel};
use num_traits::Float;

pub const WGSL: &str = include_str!("../../../shaders/adam.wgsl");

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamSpec {
    pub len: usize,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Decoupled weight decay (AdamW): p −= lr·wd·p.
    pub weight_decay: f32,
    /// The step being taken, from 1 (for bias correction).
    pub step: u32,
}

impl AdamSpec {
    pub fn new(len: usize, lr: f32, step: u32) -> Self {
        AdamSpec {
            len,
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            step,
        }
    }
    /// 1 − β1^t and 1 − β2^t, computed on the host in f64.
    fn corrections(&self) -> (f64, f64) {
        let t = self.step.max(1) as i32;
        (
            1.0 - (self.beta1 as f64).powi(t),
            1.0 - (self.beta2 as f64).powi(t),
        )
    }
}

/// One AdamW step; `decay[i]` (1 or 0) says whether parameter i takes the
/// weight decay.
pub fn cpu<F: Float>(
    s: &AdamSpec,
    params: &mut [F],
    grads: &[F],
    m: &mut [F],
    v: &mut [F],
    decay: &[F],
) {
    let f = |x: f64| F::from(x).unwrap();
    let (c1, c2) = s.corrections();
    let (b1, b2) = (f(s.beta1 as f64), f(s.beta2 as f64));
    for i in 0..s.len {
        let g = grads[i];
        m[i] = b1 * m[i] + (F::one() - b1) * g;
        v[i] = b2 * v[i] + (F::one() - b2) * g * g;
        let mhat = m[i] / f(c1);
        let vhat = v[i] / f(c2);
        let wd = f(s.weight_decay as f64) * decay[i];
        let update = mhat / (vhat.sqrt() + f(s.eps as f64)) + wd * params[i];
        params[i] = params[i] - f(s.lr as f64) * update;
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    len: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    correction1: f32,
    correction2: f32,
    off: [u32; 4],
    off_decay: [u32; 4],
}

pub fn launch(
    gpu: &mut GpuBackend,
    s: &AdamSpec,
    params: &GpuBuf,
    grads: &GpuBuf,
    m: &GpuBuf,
    v: &GpuBuf,
    decay: &GpuBuf,
) {
    let (c1, c2) = s.corrections();
    let p = Params {
        len: s.len as u32,
        lr: s.lr,
        beta1: s.beta1,
        beta2: s.beta2,
        eps: s.eps,
        weight_decay: s.weight_decay,
        correction1: c1 as f32,
        correction2: c2 as f32,
        off: [params.off(), grads.off(), m.off(), v.off()],
        off_decay: [decay.off(), 0, 0, 0],
    };
    let kernel = Kernel::new("adam", WGSL, "adamw");
    let groups = gpu.grid(s.len);
    gpu.launch(kernel, &p, &[params, grads, m, v, decay], groups);
}

family! {
    /// The optimiser update.
    pub trait AdamOps {
        /// One AdamW step over a flat parameter buffer, in one dispatch.
        fn adam(
            &mut self,
            spec: &AdamSpec,
            params: &Self::Buf,
            grads: &Self::Buf,
            m: &Self::Buf,
            v: &Self::Buf,
            decay: &Self::Buf,
        )
            as "adamw";
    }
}

impl<F: Word> AdamOps for CpuBackend<F> {
    fn adam(
        &mut self,
        spec: &AdamSpec,
        params: &CpuBuf<F>,
        grads: &CpuBuf<F>,
        m: &CpuBuf<F>,
        v: &CpuBuf<F>,
        decay: &CpuBuf<F>,
    ) {
        Self::run([grads, decay], [params, m, v], |[g, d], [p, m, v]| {
            cpu(spec, p, g, m, v, d)
        });
    }
}

impl AdamOps for GpuBackend {
    fn adam(
        &mut self,
        spec: &AdamSpec,
        params: &GpuBuf,
        grads: &GpuBuf,
        m: &GpuBuf,
        v: &GpuBuf,
        decay: &GpuBuf,
    ) {
        launch(self, spec, params, grads, m, v, decay);
    }
}
