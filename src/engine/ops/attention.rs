//! Multi-head scaled dot-product attention, forward and backward, with an
//! optional causal mask. One kernel serves the three uses of the network:
//! axial self-attention along grid rows (batch = rows), causal
//! self-attention in the policy decoder, and cross-attention to the torso
//! output (kv_len ≠ q_len). Kernel: `shaders/attention.wgsl`.

use crate::engine::gpu::{offsets, GpuBackend, GpuBuf, Kernel};
use num_traits::Float;

pub const WGSL: &str = include_str!("../../../shaders/attention.wgsl");

/// Largest head dimension the kernels hold in registers.
pub const MAX_HEAD_DIM: usize = 64;

/// Q is batch × q_len rows, K and V batch × kv_len rows; head h of a row
/// is the words [h·head_dim, (h+1)·head_dim) of it. Row strides let Q, K
/// and V be column slices of one fused projection. The output has the
/// layout of Q with stride `o_stride`; `lse` is batch × heads × q_len.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionSpec {
    pub batch: usize,
    pub heads: usize,
    pub q_len: usize,
    pub kv_len: usize,
    pub head_dim: usize,
    /// Query i sees keys j ≤ i (needs q_len == kv_len).
    pub causal: bool,
    pub scale: f32,
    pub q_stride: usize,
    pub k_stride: usize,
    pub v_stride: usize,
    pub o_stride: usize,
}

impl AttentionSpec {
    /// Contiguous Q, K, V and output of width heads·head_dim.
    pub fn new(batch: usize, heads: usize, q_len: usize, kv_len: usize, head_dim: usize) -> Self {
        let width = heads * head_dim;
        AttentionSpec {
            batch,
            heads,
            q_len,
            kv_len,
            head_dim,
            causal: false,
            scale: 1.0 / (head_dim as f32).sqrt(),
            q_stride: width,
            k_stride: width,
            v_stride: width,
            o_stride: width,
        }
    }
    pub fn causal(mut self) -> Self {
        self.causal = true;
        self
    }
    pub fn lse_len(&self) -> usize {
        self.batch * self.heads * self.q_len
    }
    /// Words spanned by a Q-like (q_len rows) and a K-like (kv_len rows) operand.
    pub fn extents(&self) -> [usize; 4] {
        let span = |rows: usize, stride: usize| {
            (self.batch * rows - 1) * stride + self.heads * self.head_dim
        };
        [
            span(self.q_len, self.q_stride),
            span(self.kv_len, self.k_stride),
            span(self.kv_len, self.v_stride),
            span(self.q_len, self.o_stride),
        ]
    }
    fn check(&self) {
        assert!(
            self.head_dim <= MAX_HEAD_DIM,
            "head dimension {} exceeds {MAX_HEAD_DIM}",
            self.head_dim
        );
        assert!(self.kv_len >= 1, "attention needs at least one key");
        assert!(
            !self.causal || self.q_len == self.kv_len,
            "causal attention needs q_len == kv_len"
        );
    }
    fn visible(&self, i: usize, j: usize) -> bool {
        !self.causal || j <= i
    }
    fn q_at(&self, b: usize, i: usize, h: usize) -> usize {
        (b * self.q_len + i) * self.q_stride + h * self.head_dim
    }
    fn k_at(&self, b: usize, j: usize, h: usize) -> usize {
        (b * self.kv_len + j) * self.k_stride + h * self.head_dim
    }
    fn v_at(&self, b: usize, j: usize, h: usize) -> usize {
        (b * self.kv_len + j) * self.v_stride + h * self.head_dim
    }
    fn o_at(&self, b: usize, i: usize, h: usize) -> usize {
        (b * self.q_len + i) * self.o_stride + h * self.head_dim
    }
    fn lse_at(&self, b: usize, h: usize, i: usize) -> usize {
        (b * self.heads + h) * self.q_len + i
    }
}

fn dot<F: Float>(x: &[F], y: &[F]) -> F {
    x.iter().zip(y).fold(F::zero(), |a, (&p, &q)| a + p * q)
}

/// The scaled score of query i against key j.
fn score<F: Float>(
    s: &AttentionSpec,
    q: &[F],
    k: &[F],
    b: usize,
    h: usize,
    i: usize,
    j: usize,
) -> F {
    let d = s.head_dim;
    let (qi, kj) = (s.q_at(b, i, h), s.k_at(b, j, h));
    dot(&q[qi..qi + d], &k[kj..kj + d]) * F::from(s.scale).unwrap()
}

pub fn cpu<F: Float>(s: &AttentionSpec, q: &[F], k: &[F], v: &[F], out: &mut [F], lse: &mut [F]) {
    s.check();
    let d = s.head_dim;
    for b in 0..s.batch {
        for h in 0..s.heads {
            for i in 0..s.q_len {
                let scores: Vec<Option<F>> = (0..s.kv_len)
                    .map(|j| s.visible(i, j).then(|| score(s, q, k, b, h, i, j)))
                    .collect();
                let m = scores
                    .iter()
                    .flatten()
                    .fold(F::neg_infinity(), |a, &x| a.max(x));
                let weights: Vec<F> = scores
                    .iter()
                    .map(|x| x.map_or(F::zero(), |x| (x - m).exp()))
                    .collect();
                let total = weights.iter().fold(F::zero(), |a, &w| a + w);
                let o = s.o_at(b, i, h);
                for dd in 0..d {
                    let mut acc = F::zero();
                    for (j, &w) in weights.iter().enumerate() {
                        acc = acc + w * v[s.v_at(b, j, h) + dd];
                    }
                    out[o + dd] = acc / total;
                }
                lse[s.lse_at(b, h, i)] = m + total.ln();
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn backward_cpu<F: Float>(
    s: &AttentionSpec,
    q: &[F],
    k: &[F],
    v: &[F],
    out: &[F],
    lse: &[F],
    dout: &[F],
    dq: &mut [F],
    dk: &mut [F],
    dv: &mut [F],
) {
    s.check();
    let d = s.head_dim;
    let scale = F::from(s.scale).unwrap();
    for b in 0..s.batch {
        for h in 0..s.heads {
            for j in 0..s.kv_len {
                for dd in 0..d {
                    dk[s.k_at(b, j, h) + dd] = F::zero();
                    dv[s.v_at(b, j, h) + dd] = F::zero();
                }
            }
            for i in 0..s.q_len {
                let (qi, oi) = (s.q_at(b, i, h), s.o_at(b, i, h));
                let delta = dot(&dout[oi..oi + d], &out[oi..oi + d]);
                let l = lse[s.lse_at(b, h, i)];
                let mut dqi = vec![F::zero(); d];
                for j in (0..s.kv_len).filter(|&j| s.visible(i, j)) {
                    let (kj, vj) = (s.k_at(b, j, h), s.v_at(b, j, h));
                    let p = (score(s, q, k, b, h, i, j) - l).exp();
                    let dp = dot(&dout[oi..oi + d], &v[vj..vj + d]);
                    let ds = p * (dp - delta);
                    for dd in 0..d {
                        dv[vj + dd] = dv[vj + dd] + p * dout[oi + dd];
                        dk[kj + dd] = dk[kj + dd] + ds * scale * q[qi + dd];
                        dqi[dd] = dqi[dd] + ds * scale * k[kj + dd];
                    }
                }
                dq[qi..qi + d].copy_from_slice(&dqi);
            }
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    batch: u32,
    heads: u32,
    q_len: u32,
    kv_len: u32,
    head_dim: u32,
    causal: u32,
    scale: f32,
    _pad: u32,
    q_stride: u32,
    k_stride: u32,
    v_stride: u32,
    o_stride: u32,
    // Offsets of the bindings, in binding order.
    off: [u32; 12],
}

fn params(s: &AttentionSpec, bufs: &[&GpuBuf]) -> Params {
    s.check();
    let off = offsets::<12>(bufs);
    Params {
        batch: s.batch as u32,
        heads: s.heads as u32,
        q_len: s.q_len as u32,
        kv_len: s.kv_len as u32,
        head_dim: s.head_dim as u32,
        causal: s.causal as u32,
        scale: s.scale,
        _pad: 0,
        q_stride: s.q_stride as u32,
        k_stride: s.k_stride as u32,
        v_stride: s.v_stride as u32,
        o_stride: s.o_stride as u32,
        off,
    }
}

fn kernel(entry: &'static str) -> Kernel {
    Kernel {
        family: "attention",
        source: WGSL,
        entry,
    }
}

pub fn launch(
    gpu: &mut GpuBackend,
    s: &AttentionSpec,
    q: &GpuBuf,
    k: &GpuBuf,
    v: &GpuBuf,
    out: &GpuBuf,
    lse: &GpuBuf,
) {
    let bufs = [q, k, v, out, lse];
    let groups = gpu.grid(s.lse_len());
    gpu.launch(kernel("forward"), &params(s, &bufs), &bufs, groups);
}

#[allow(clippy::too_many_arguments)]
pub fn launch_backward(
    gpu: &mut GpuBackend,
    s: &AttentionSpec,
    q: &GpuBuf,
    k: &GpuBuf,
    v: &GpuBuf,
    out: &GpuBuf,
    lse: &GpuBuf,
    dout: &GpuBuf,
    delta: &GpuBuf,
    dq: &GpuBuf,
    dk: &GpuBuf,
    dv: &GpuBuf,
) {
    let bufs = [q, k, v, out, lse, dout, delta, dq, dk, dv];
    let p = params(s, &bufs);
    let rows = gpu.grid(s.lse_len());
    gpu.launch(kernel("backward_delta"), &p, &bufs, rows);
    gpu.launch(kernel("backward_dq"), &p, &bufs, rows);
    let keys = gpu.grid(s.batch * s.heads * s.kv_len);
    gpu.launch(kernel("backward_dkv"), &p, &bufs, keys);
}
