//! Elementwise operations: GELU forward and backward, addition, copy and fill.
//! Kernel: `shaders/elementwise.wgsl`.

use crate::engine::gpu::{offsets, GpuBackend, GpuBuf, Kernel};
use num_traits::Float;

pub const WGSL: &str = include_str!("../../../shaders/elementwise.wgsl");

/// The tanh argument is clamped to ±15 (where tanh is ±1 in f32) so that
/// drivers computing tanh through exp never see inf/inf.
const TANH_CLAMP: f64 = 15.0;
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_C: f64 = 0.044715;

fn gelu_inner<F: Float>(x: F) -> (F, F) {
    let c = F::from(SQRT_2_OVER_PI).unwrap();
    let k = F::from(GELU_C).unwrap();
    let lim = F::from(TANH_CLAMP).unwrap();
    let u = c * (x + k * x * x * x);
    // tanh through one exp: libm's tanh costs several times more, and was
    // a quarter of a small model's training step on the CPU.
    let two = F::from(2.0).unwrap();
    let t = F::one() - two / (F::one() + (two * u.max(-lim).min(lim)).exp());
    (u, t)
}

/// gelu(x) = x/2 · (1 + tanh(√(2/π)(x + 0.044715x³))).
pub fn gelu<F: Float>(x: F) -> F {
    let half = F::from(0.5).unwrap();
    let (_, t) = gelu_inner(x);
    half * x * (F::one() + t)
}

pub fn gelu_grad<F: Float>(x: F) -> F {
    let half = F::from(0.5).unwrap();
    let c = F::from(SQRT_2_OVER_PI).unwrap();
    let k3 = F::from(3.0 * GELU_C).unwrap();
    let (_, t) = gelu_inner(x);
    half * (F::one() + t) + half * x * (F::one() - t * t) * c * (F::one() + k3 * x * x)
}

pub fn gelu_cpu<F: Float>(x: &[F], y: &mut [F]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = gelu(x);
    }
}

pub fn gelu_backward_cpu<F: Float>(x: &[F], dy: &[F], dx: &mut [F]) {
    for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
        *dx = dy * gelu_grad(x);
    }
}

/// gelu_backward_cpu with dx the same words as dy: dx ← dx · gelu'(x).
pub fn gelu_backward_in_place_cpu<F: Float>(x: &[F], dx: &mut [F]) {
    for (dx, &x) in dx.iter_mut().zip(x) {
        *dx = *dx * gelu_grad(x);
    }
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
    let kernel = Kernel {
        family: "elementwise",
        source: WGSL,
        entry,
    };
    let groups = gpu.grid(n);
    gpu.launch(kernel, &p, bufs, groups);
}

pub fn launch_gelu(gpu: &mut GpuBackend, n: usize, x: &GpuBuf, y: &GpuBuf) {
    launch_n(gpu, "gelu_forward", n, 0.0, &[x, y]);
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
