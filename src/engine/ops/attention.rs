//! Multi-head scaled dot-product attention, forward and backward, with an
//! optional causal mask. One kernel serves the three uses of the network:
//! axial self-attention along grid rows (batch = rows), causal
//! self-attention in the policy decoder, and cross-attention to the torso
//! output (kv_len ≠ q_len). Kernel: `shaders/attention.wgsl`.

use crate::engine::cpu::{CpuBackend, CpuBuf, Word};
use crate::engine::gpu::{offsets, GpuBackend, GpuBuf, Kernel};
use num_traits::Float;
use rayon::prelude::*;

pub const WGSL: &str = include_str!("../../../shaders/attention.wgsl");

/// Largest head dimension the kernels hold in registers.
pub const MAX_HEAD_DIM: usize = 64;

/// Q is batch × q_len rows, K and V batch × kv_len rows; head h of a row
/// is the words [h·head_dim, (h+1)·head_dim) of it. Row strides let Q, K
/// and V be column slices of one fused projection. The output has the
/// layout of Q with stride `o_stride`; `lse` is batch × heads × q_len.
/// `kv_batch` lets the key rows of one batch interleave with the others'
/// (a position-major cache: key j of batch b at b·kv_batch + j·k_stride);
/// the backward needs the default, consecutive batches.
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
    /// Words from one batch's first K (and V) row to the next batch's;
    /// None: kv_len rows of their own stride.
    pub kv_batch: Option<usize>,
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
            kv_batch: None,
        }
    }
    pub fn causal(mut self) -> Self {
        self.causal = true;
        self
    }
    pub fn lse_len(&self) -> usize {
        self.batch * self.heads * self.q_len
    }
    /// Words spanned by Q, K, V and the output.
    pub fn extents(&self) -> [usize; 4] {
        let width = self.heads * self.head_dim;
        let span = |rows: usize, stride: usize| (self.batch * rows - 1) * stride + width;
        let kv_span = |stride: usize| {
            (self.batch - 1) * self.kv_batch_stride(stride) + (self.kv_len - 1) * stride + width
        };
        [
            span(self.q_len, self.q_stride),
            kv_span(self.k_stride),
            kv_span(self.v_stride),
            span(self.q_len, self.o_stride),
        ]
    }
    /// Words between batches of the K or V operand of row stride `stride`.
    fn kv_batch_stride(&self, stride: usize) -> usize {
        self.kv_batch.unwrap_or(self.kv_len * stride)
    }
    /// Whether each batch's K and V rows are consecutive (the default).
    fn consecutive_batches(&self) -> bool {
        self.kv_batch.is_none()
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
        b * self.kv_batch_stride(self.k_stride) + j * self.k_stride + h * self.head_dim
    }
    fn v_at(&self, b: usize, j: usize, h: usize) -> usize {
        b * self.kv_batch_stride(self.v_stride) + j * self.v_stride + h * self.head_dim
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

/// One batch's spec (batch 1) and where its rows of Q-like and K-like
/// operands start; each batch reads and writes only its own rows.
fn one_batch(s: &AttentionSpec) -> AttentionSpec {
    AttentionSpec { batch: 1, ..*s }
}

fn rows<'a, F>(x: &'a [F], b: usize, len: usize, stride: usize, s: &AttentionSpec) -> &'a [F] {
    let start = b * len * stride;
    &x[start..start + (len - 1) * stride + s.heads * s.head_dim]
}

/// Batches below this many score entries run on the calling thread.
const PARALLEL_SCORES: usize = 1 << 12;

fn parallel(s: &AttentionSpec) -> bool {
    s.batch > 1 && s.batch * s.heads * s.q_len * s.kv_len >= PARALLEL_SCORES
}

/// Attention forward; batches in parallel.
pub fn cpu<F: Float + Send + Sync>(
    s: &AttentionSpec,
    q: &[F],
    k: &[F],
    v: &[F],
    out: &mut [F],
    lse: &mut [F],
) {
    s.check();
    if !parallel(s) {
        return cpu_serial(s, q, k, v, out, lse);
    }
    out.par_chunks_mut(s.q_len * s.o_stride)
        .zip(lse.par_chunks_mut(s.heads * s.q_len))
        .take(s.batch)
        .enumerate()
        .for_each(|(b, (out, lse))| forward_batch(s, q, k, v, b, out, lse));
}

fn cpu_serial<F: Float>(
    s: &AttentionSpec,
    q: &[F],
    k: &[F],
    v: &[F],
    out: &mut [F],
    lse: &mut [F],
) {
    out.chunks_mut(s.q_len * s.o_stride)
        .zip(lse.chunks_mut(s.heads * s.q_len))
        .take(s.batch)
        .enumerate()
        .for_each(|(b, (out, lse))| forward_batch(s, q, k, v, b, out, lse));
}

/// Batch b of the forward: q, k and v whole, `out` and `lse` this batch's
/// rows alone (so batches may run on separate threads).
fn forward_batch<F: Float>(
    s: &AttentionSpec,
    q: &[F],
    k: &[F],
    v: &[F],
    b: usize,
    out: &mut [F],
    lse: &mut [F],
) {
    let d = s.head_dim;
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
            let o = s.o_at(0, i, h);
            for dd in 0..d {
                let mut acc = F::zero();
                for (j, &w) in weights.iter().enumerate() {
                    acc = acc + w * v[s.v_at(b, j, h) + dd];
                }
                out[o + dd] = acc / total;
            }
            lse[s.lse_at(0, h, i)] = m + total.ln();
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn backward_cpu<F: Float + Send + Sync>(
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
    if !parallel(s) || !s.consecutive_batches() {
        return backward_into(s, q, k, v, out, lse, dout, &mut SeparateGrads([dq, dk, dv]));
    }
    let grads = dq
        .par_chunks_mut(s.q_len * s.q_stride)
        .zip(dk.par_chunks_mut(s.kv_len * s.k_stride))
        .zip(dv.par_chunks_mut(s.kv_len * s.v_stride))
        .map(|((dq, dk), dv)| SeparateGrads([dq, dk, dv]));
    backward_batches(s, [q, k, v, out, lse, dout], grads);
}

/// The backward into fused gradients (see `FusedGrads`); batches in
/// parallel when every operand has rows of one length and stride.
#[allow(clippy::too_many_arguments)]
pub fn backward_fused<F: Float + Send + Sync>(
    s: &AttentionSpec,
    q: &[F],
    k: &[F],
    v: &[F],
    out: &[F],
    lse: &[F],
    dout: &[F],
    words: &mut [F],
    base: [usize; 3],
) {
    s.check();
    let uniform = s.q_len == s.kv_len
        && s.q_stride == s.k_stride
        && s.k_stride == s.v_stride
        && s.consecutive_batches();
    if !parallel(s) || !uniform {
        return backward_into(s, q, k, v, out, lse, dout, &mut FusedGrads { words, base });
    }
    let grads = words
        .par_chunks_mut(s.q_len * s.q_stride)
        .map(|words| FusedGrads { words, base });
    backward_batches(s, [q, k, v, out, lse, dout], grads);
}

/// The backward batch by batch in parallel: batch b reads its own rows of
/// the inputs (q, k, v, out, lse, dout) and writes the b-th gradients.
fn backward_batches<F: Float + Send + Sync, G: QkvGrads<F> + Send>(
    s: &AttentionSpec,
    [q, k, v, out, lse, dout]: [&[F]; 6],
    grads: impl IndexedParallelIterator<Item = G>,
) {
    let one = one_batch(s);
    let per = s.heads * s.q_len;
    grads.take(s.batch).enumerate().for_each(|(b, mut g)| {
        backward_into(
            &one,
            rows(q, b, s.q_len, s.q_stride, s),
            rows(k, b, s.kv_len, s.k_stride, s),
            rows(v, b, s.kv_len, s.v_stride, s),
            rows(out, b, s.q_len, s.o_stride, s),
            &lse[b * per..(b + 1) * per],
            rows(dout, b, s.q_len, s.o_stride, s),
            &mut g,
        )
    });
}

/// Where the backward writes dq (0), dk (1) and dv (2), by their own index.
pub trait QkvGrads<F> {
    fn at(&mut self, which: usize, index: usize) -> &mut F;
}

/// Three buffers.
pub struct SeparateGrads<'a, F>(pub [&'a mut [F]; 3]);

impl<F> QkvGrads<F> for SeparateGrads<'_, F> {
    fn at(&mut self, which: usize, index: usize) -> &mut F {
        &mut self.0[which][index]
    }
}

/// Column blocks of one fused buffer: dq, dk and dv start at `base`.
pub struct FusedGrads<'a, F> {
    pub words: &'a mut [F],
    pub base: [usize; 3],
}

impl<F> QkvGrads<F> for FusedGrads<'_, F> {
    fn at(&mut self, which: usize, index: usize) -> &mut F {
        &mut self.words[self.base[which] + index]
    }
}

/// The backward of `cpu`, writing the gradients through `g`.
#[allow(clippy::too_many_arguments)]
pub fn backward_into<F: Float>(
    s: &AttentionSpec,
    q: &[F],
    k: &[F],
    v: &[F],
    out: &[F],
    lse: &[F],
    dout: &[F],
    g: &mut impl QkvGrads<F>,
) {
    s.check();
    let d = s.head_dim;
    let scale = F::from(s.scale).unwrap();
    for b in 0..s.batch {
        for h in 0..s.heads {
            for j in 0..s.kv_len {
                for dd in 0..d {
                    *g.at(1, s.k_at(b, j, h) + dd) = F::zero();
                    *g.at(2, s.v_at(b, j, h) + dd) = F::zero();
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
                        let w = g.at(2, vj + dd);
                        *w = *w + p * dout[oi + dd];
                        let w = g.at(1, kj + dd);
                        *w = *w + ds * scale * q[qi + dd];
                        dqi[dd] = dqi[dd] + ds * scale * k[kj + dd];
                    }
                }
                for (dd, &x) in dqi.iter().enumerate() {
                    *g.at(0, qi + dd) = x;
                }
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
    k_batch: u32,
    v_batch: u32,
    _pad2: [u32; 2],
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
        k_batch: s.kv_batch_stride(s.k_stride) as u32,
        v_batch: s.kv_batch_stride(s.v_stride) as u32,
        _pad2: [0; 2],
        off,
    }
}

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new("attention", WGSL, entry)
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

family! {
    /// Scaled dot-product attention.
    pub trait AttentionOps {
        /// Multi-head scaled dot-product attention; saves the log-sum-exp of
        /// each query row for the backward pass.
        #[allow(clippy::too_many_arguments)]
        fn attention(
            &mut self,
            spec: &AttentionSpec,
            q: &Self::Buf,
            k: &Self::Buf,
            v: &Self::Buf,
            out: &Self::Buf,
            lse: &Self::Buf,
        )
            as "attention";
        /// dq, dk, dv from dout; `delta` is scratch of the size of `lse`.
        #[allow(clippy::too_many_arguments)]
        fn attention_backward(
            &mut self,
            spec: &AttentionSpec,
            q: &Self::Buf,
            k: &Self::Buf,
            v: &Self::Buf,
            out: &Self::Buf,
            lse: &Self::Buf,
            dout: &Self::Buf,
            delta: &Self::Buf,
            dq: &Self::Buf,
            dk: &Self::Buf,
            dv: &Self::Buf,
        )
            as "attention backward";
    }
}

impl<F: Word> AttentionOps for CpuBackend<F> {
    fn attention(
        &mut self,
        spec: &AttentionSpec,
        q: &CpuBuf<F>,
        k: &CpuBuf<F>,
        v: &CpuBuf<F>,
        out: &CpuBuf<F>,
        lse: &CpuBuf<F>,
    ) {
        Self::run([q, k, v], [out, lse], |[q, k, v], [o, l]| {
            cpu(spec, q, k, v, o, l)
        });
    }

    fn attention_backward(
        &mut self,
        spec: &AttentionSpec,
        q: &CpuBuf<F>,
        k: &CpuBuf<F>,
        v: &CpuBuf<F>,
        out: &CpuBuf<F>,
        lse: &CpuBuf<F>,
        dout: &CpuBuf<F>,
        _delta: &CpuBuf<F>,
        dq: &CpuBuf<F>,
        dk: &CpuBuf<F>,
        dv: &CpuBuf<F>,
    ) {
        // Fused q, k, v gradients are column blocks of one buffer, views
        // whose ranges overlap: write them through one view of the span.
        if let Some((span, base)) = CpuBuf::span_of([dq, dk, dv]) {
            return Self::run(
                [q, k, v, out, lse, dout],
                [&span],
                |[q, k, v, o, l, d], [words]| backward_fused(spec, q, k, v, o, l, d, words, base),
            );
        }
        Self::run(
            [q, k, v, out, lse, dout],
            [dq, dk, dv],
            |[q, k, v, o, l, d], [dq, dk, dv]| backward_cpu(spec, q, k, v, o, l, d, dq, dk, dv),
        );
    }
}

impl AttentionOps for GpuBackend {
    fn attention(
        &mut self,
        spec: &AttentionSpec,
        q: &GpuBuf,
        k: &GpuBuf,
        v: &GpuBuf,
        out: &GpuBuf,
        lse: &GpuBuf,
    ) {
        launch(self, spec, q, k, v, out, lse);
    }

    fn attention_backward(
        &mut self,
        spec: &AttentionSpec,
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
        launch_backward(self, spec, q, k, v, out, lse, dout, delta, dq, dk, dv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: usize) -> Vec<f64> {
        (0..n)
            .map(|i| (((i * 7919 + seed * 104729) % 997) as f64) / 498.5 - 1.0)
            .collect()
    }

    /// Batches in parallel give exactly the serial words, forward and
    /// backward, into separate and fused gradients.
    #[test]
    fn parallel_batches_equal_the_serial_loop() {
        for causal in [false, true] {
            let (batch, heads, len, dim) = (8, 2, 16, 4);
            let c = heads * dim;
            let mut s = AttentionSpec::new(batch, heads, len, len, dim);
            s.causal = causal;
            (s.q_stride, s.k_stride, s.v_stride) = (3 * c, 3 * c, 3 * c);
            assert!(parallel(&s));
            let qkv = values(batch * len * 3 * c, 1);
            let (q, k, v) = (&qkv[..], &qkv[c..], &qkv[2 * c..]);
            let n = batch * len * c;
            let (mut out, mut lse) = (vec![0.0; n], vec![0.0; s.lse_len()]);
            let (mut out1, mut lse1) = (vec![0.0; n], vec![0.0; s.lse_len()]);
            cpu(&s, q, k, v, &mut out, &mut lse);
            cpu_serial(&s, q, k, v, &mut out1, &mut lse1);
            assert_eq!((&out, &lse), (&out1, &lse1));
            let dout = values(n, 2);
            let fused_len = batch * len * 3 * c;
            let mut serial = vec![0.0; fused_len];
            let mut grads = FusedGrads {
                words: &mut serial[..],
                base: [0, c, 2 * c],
            };
            backward_into(&s, q, k, v, &out, &lse, &dout, &mut grads);
            let mut fused = vec![0.0; fused_len];
            backward_fused(&s, q, k, v, &out, &lse, &dout, &mut fused, [0, c, 2 * c]);
            assert_eq!(fused, serial);
            // Separate buffers of the same layout.
            let mut sep = [
                vec![0.0; fused_len],
                vec![0.0; fused_len],
                vec![0.0; fused_len],
            ];
            let [a, b2, d] = &mut sep;
            backward_cpu(
                &s,
                q,
                k,
                v,
                &out,
                &lse,
                &dout,
                a,
                &mut b2[c..],
                &mut d[2 * c..],
            );
            for (i, g) in sep.iter().enumerate() {
                for r in 0..batch * len {
                    let cols = r * 3 * c + i * c..r * 3 * c + (i + 1) * c;
                    assert_eq!(g[cols.clone()], serial[cols]);
                }
            }
        }
    }

    /// A position-major key/value cache (key j of batch b at
    /// b·kv_batch + j·k_stride) attends exactly as the same keys laid out
    /// batch after batch, so a decoder may keep its cache that way.
    #[test]
    fn interleaved_keys_attend_as_consecutive_ones() {
        let (batch, heads, kv_len, dim) = (6, 2, 4, 3);
        let c = heads * dim;
        let consecutive = AttentionSpec::new(batch, heads, 1, kv_len, dim);
        let q = values(batch * c, 3);
        let k = values(batch * kv_len * c, 4);
        let v = values(batch * kv_len * c, 5);
        // The same keys, position-major: row (j, b) = row b·kv_len + j.
        let mut k_cache = vec![0.0; batch * kv_len * c];
        let mut v_cache = vec![0.0; batch * kv_len * c];
        for b in 0..batch {
            for j in 0..kv_len {
                let (from, to) = ((b * kv_len + j) * c, (j * batch + b) * c);
                k_cache[to..to + c].copy_from_slice(&k[from..from + c]);
                v_cache[to..to + c].copy_from_slice(&v[from..from + c]);
            }
        }
        let interleaved = AttentionSpec {
            k_stride: batch * c,
            v_stride: batch * c,
            kv_batch: Some(c),
            ..consecutive
        };
        let run = |s: &AttentionSpec, k: &[f64], v: &[f64]| {
            let (mut out, mut lse) = (vec![0.0; batch * c], vec![0.0; s.lse_len()]);
            cpu(s, &q, k, v, &mut out, &mut lse);
            (out, lse)
        };
        assert_eq!(
            run(&consecutive, &k, &v),
            run(&interleaved, &k_cache, &v_cache)
        );
        assert_eq!(interleaved.extents()[1], k_cache.len());
    }
}
