//! Elementwise operations: GELU forward and backward, addition, copy and fill.
//! Kernel: `shaders/elementwise.wgsl`.

use crate::engine::cpu::{CpuBackend, CpuBuf, Word};
use crate::engine::gpu::{offsets, GpuBackend, GpuBuf, Kernel};
use crate::engine::word::ActivationExp;
use num_traits::Float;
use rayon::prelude::*;

pub const WGSL: &str = include_str!("../../../shaders/elementwise.wgsl");

/// The tanh argument is clamped to ±15 (where tanh is ±1 in f32) so that
/// drivers computing tanh through exp never see inf/inf.
const TANH_CLAMP: f64 = 15.0;
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_C: f64 = 0.044715;

#[inline(always)]
fn gelu_inner<F: ActivationExp>(x: F) -> (F, F) {
    let c = F::from(SQRT_2_OVER_PI).unwrap();
    let k = F::from(GELU_C).unwrap();
    let lim = F::from(TANH_CLAMP).unwrap();
    let u = c * (x + k * x * x * x);
    // tanh through one exp: libm's tanh costs several times more, and was
    // a quarter of a small model's training step on the CPU.
    let two = F::from(2.0).unwrap();
    let t = F::one() - two / (F::one() + (two * u.max(-lim).min(lim)).act_exp());
    (u, t)
}

/// gelu(x) = x/2 · (1 + tanh(√(2/π)(x + 0.044715x³))).
#[inline(always)]
pub fn gelu<F: ActivationExp>(x: F) -> F {
    let half = F::from(0.5).unwrap();
    let (_, t) = gelu_inner(x);
    half * x * (F::one() + t)
}

#[inline(always)]
pub fn gelu_grad<F: ActivationExp>(x: F) -> F {
    let half = F::from(0.5).unwrap();
    let c = F::from(SQRT_2_OVER_PI).unwrap();
    let k3 = F::from(3.0 * GELU_C).unwrap();
    let (_, t) = gelu_inner(x);
    half * (F::one() + t) + half * x * (F::one() - t * t) * c * (F::one() + k3 * x * x)
}

/// Words per parallel task of the elementwise loops.
const CHUNK: usize = 1 << 14;

pub fn gelu_cpu<F: ActivationExp>(x: &[F], y: &mut [F]) {
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(y, x)| {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = gelu(x);
            }
        });
}

pub fn gelu_backward_cpu<F: ActivationExp>(x: &[F], dy: &[F], dx: &mut [F]) {
    dx.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK).zip(dy.par_chunks(CHUNK)))
        .for_each(|(dx, (x, dy))| {
            for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
                *dx = dy * gelu_grad(x);
            }
        });
}

/// gelu_backward_cpu with dx the same words as dy: dx ← dx · gelu'(x).
pub fn gelu_backward_in_place_cpu<F: ActivationExp>(x: &[F], dx: &mut [F]) {
    dx.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(dx, x)| {
            for (dx, &x) in dx.iter_mut().zip(x) {
                *dx = *dx * gelu_grad(x);
            }
        });
}

/// add_cpu with out the same words as one operand: out ← out + b.
pub fn add_in_place_cpu<F: Float>(b: &[F], out: &mut [F]) {
    for (o, &b) in out.iter_mut().zip(b) {
        *o = *o + b;
    }
}

pub fn add_cpu<F: Float>(a: &[F], b: &[F], out: &mut [F]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = a + b;
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    value: f32,
    _pad: [u32; 2],
    off: [u32; 4],
}

fn launch_n(gpu: &mut GpuBackend, entry: &'static str, n: usize, value: f32, bufs: &[&GpuBuf]) {
    let off = offsets::<4>(bufs);
    let p = Params {
        n: n as u32,
        value,
        _pad: [0; 2],
        off,
    };
    let kernel = Kernel::new("elementwise", WGSL, entry);
    let groups = gpu.grid(n);
    gpu.launch(kernel, &p, bufs, groups);
}

pub fn launch_gelu_backward(gpu: &mut GpuBackend, n: usize, x: &GpuBuf, dy: &GpuBuf, dx: &GpuBuf) {
    launch_n(gpu, "gelu_backward", n, 0.0, &[x, dy, dx]);
}

pub fn launch_add(gpu: &mut GpuBackend, n: usize, a: &GpuBuf, b: &GpuBuf, out: &GpuBuf) {
    launch_n(gpu, "add", n, 0.0, &[a, b, out]);
}

pub fn launch_fill(gpu: &mut GpuBackend, buf: &GpuBuf, value: f32) {
    launch_n(gpu, "fill", buf.len, value, &[buf]);
}

pub fn launch_copy(gpu: &mut GpuBackend, n: usize, src: &GpuBuf, dst: &GpuBuf) {
    launch_n(gpu, "copy", n, 0.0, &[src, dst]);
}

family! {
    /// Word-by-word operations.
    pub trait ElementwiseOps {
        /// dx = dy · gelu'(x).
        fn gelu_backward(&mut self, n: usize, x: &Self::Buf, dy: &Self::Buf, dx: &Self::Buf)
            as "gelu backward";
        /// out = a + b over `n` words (`out` may be `a` or `b`).
        fn add(&mut self, n: usize, a: &Self::Buf, b: &Self::Buf, out: &Self::Buf)
            as "add";
        /// dst = src over `n` words.
        fn copy(&mut self, n: usize, src: &Self::Buf, dst: &Self::Buf)
            as "copy";
    }
}

impl<F: Word> ElementwiseOps for CpuBackend<F> {
    fn gelu_backward(&mut self, n: usize, x: &CpuBuf<F>, dy: &CpuBuf<F>, dx: &CpuBuf<F>) {
        // The network's backward runs in place (dx is dy): no copies then.
        if dx.same_words(dy) {
            return Self::run([x], [dx], |[x], [dx]| {
                gelu_backward_in_place_cpu(&x[..n], &mut dx[..n])
            });
        }
        Self::run([x, dy], [dx], |[x, dy], [dx]| {
            gelu_backward_cpu(&x[..n], &dy[..n], &mut dx[..n])
        });
    }

    fn add(&mut self, n: usize, a: &CpuBuf<F>, b: &CpuBuf<F>, out: &CpuBuf<F>) {
        let in_place = |other: &CpuBuf<F>| {
            Self::run([other], [out], |[b], [o]| {
                add_in_place_cpu(&b[..n], &mut o[..n])
            })
        };
        if out.same_words(a) && !out.same_words(b) {
            return in_place(b);
        }
        if out.same_words(b) && !out.same_words(a) {
            return in_place(a);
        }
        Self::run([a, b], [out], |[a, b], [o]| {
            add_cpu(&a[..n], &b[..n], &mut o[..n])
        });
    }

    fn copy(&mut self, n: usize, src: &CpuBuf<F>, dst: &CpuBuf<F>) {
        Self::run([src], [dst], |[s], [d]| d[..n].copy_from_slice(&s[..n]));
    }
}

impl ElementwiseOps for GpuBackend {
    fn gelu_backward(&mut self, n: usize, x: &GpuBuf, dy: &GpuBuf, dx: &GpuBuf) {
        launch_gelu_backward(self, n, x, dy, dx);
    }

    fn add(&mut self, n: usize, a: &GpuBuf, b: &GpuBuf, out: &GpuBuf) {
        launch_add(self, n, a, b, out);
    }

    fn copy(&mut self, n: usize, src: &GpuBuf, dst: &GpuBuf) {
        launch_copy(self, n, src, dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_f32_exponential_is_within_three_ten_millionths() {
        let mut worst = 0.0f64;
        for i in -400_000..=400_000 {
            let x = i as f32 * 2.0e-4; // -80 .. 80
            let got = x.act_exp() as f64;
            let want = (x as f64).exp();
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 3e-7, "relative error {worst}");
        // Clamped far out: finite, and 0 or huge as expected.
        assert!((-200.0f32).act_exp() < 1e-37 && (200.0f32).act_exp().is_finite());
    }
}
