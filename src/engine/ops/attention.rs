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
    /// The keys query i sees, in order: all, or j ≤ i under the causal mask.
    fn visible_keys(&self, i: usize) -> std::ops::Range<usize> {
        0..if self.causal { i + 1 } else { self.kv_len }
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

/// Inlined: called out of line, the head-sized dot products were 16 % of
/// a training step (perf, 4x4x4, tiny).
#[inline(always)]
fn dot<F: Float>(x: &[F], y: &[F]) -> F {
    x.iter().zip(y).fold(F::zero(), |a, (&p, &q)| a + p * q)
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

/// One batch and head's key (or value) rows, dimension-major: word dd
/// of row j at dd·rows + j. A query's dot products with every row then run
/// as d passes over contiguous rows, which vectorise across the rows while
/// each row's sum keeps the order of [`dot`], bit for bit.
struct ByDimension<F> {
    words: Vec<F>,
    rows: usize,
}

impl<F: Float> ByDimension<F> {
    fn new() -> Self {
        ByDimension {
            words: Vec::new(),
            rows: 0,
        }
    }

    /// Loads rows 0..rows of `x`, row j starting at `at(j)`.
    fn load(&mut self, x: &[F], rows: usize, d: usize, at: impl Fn(usize) -> usize) {
        self.rows = rows;
        self.words.resize(rows * d, F::zero());
        for j in 0..rows {
            let start = at(j);
            for (dd, &w) in x[start..start + d].iter().enumerate() {
                self.words[dd * rows + j] = w;
            }
        }
    }

    /// `out[j] = dot(query, row j)` for the first `out.len()` rows.
    fn dots(&self, query: &[F], out: &mut [F]) {
        out.fill(F::zero());
        for (dd, &x) in query.iter().enumerate() {
            let column = &self.words[dd * self.rows..dd * self.rows + out.len()];
            for (o, &y) in out.iter_mut().zip(column) {
                *o = *o + x * y;
            }
        }
    }
}

/// Queries per batch and head from which the keys are laid out by
/// dimension: below it, the copy would cost what it saves.
const BY_DIMENSION_QUERIES: usize = 12;

/// `out[j]` = query · row j of `x` for j < out.len(), through `by_dim` when
/// it is loaded (the same sums in the same order either way).
fn dots_with<F: Float>(
    query: &[F],
    x: &[F],
    at: impl Fn(usize) -> usize,
    by_dim: Option<&ByDimension<F>>,
    out: &mut [F],
) {
    match by_dim {
        Some(t) => t.dots(query, out),
        None => {
            let d = query.len();
            for (j, o) in out.iter_mut().enumerate() {
                let start = at(j);
                *o = dot(query, &x[start..start + d]);
            }
        }
    }
}

/// Batch b of the forward: q, k and v whole, `out` and `lse` this batch's
/// rows alone (so batches may run on separate threads). Each query's
/// scores, softmax and weighted sum run over its visible keys in order, so
/// a query's output does not depend on the other queries of its call (the
/// incremental decoder relies on it, bit for bit).
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
    let scale = F::from(s.scale).unwrap();
    // Reused across queries rather than allocated per query.
    let mut weights = vec![F::zero(); s.kv_len];
    let mut acc = vec![F::zero(); d];
    let mut keys = ByDimension::new();
    let by_dim = s.q_len >= BY_DIMENSION_QUERIES;
    for h in 0..s.heads {
        let key_at = |j| s.k_at(b, j, h);
        if by_dim {
            keys.load(k, s.kv_len, d, key_at);
        }
        for i in 0..s.q_len {
            let qi = s.q_at(b, i, h);
            let weights = &mut weights[s.visible_keys(i)];
            dots_with(&q[qi..qi + d], k, key_at, by_dim.then_some(&keys), weights);
            for w in weights.iter_mut() {
                *w = *w * scale;
            }
            let m = weights.iter().fold(F::neg_infinity(), |a, &x| a.max(x));
            for w in weights.iter_mut() {
                *w = (*w - m).exp();
            }
            let total = weights.iter().fold(F::zero(), |a, &w| a + w);
            acc.fill(F::zero());
            for (j, &w) in weights.iter().enumerate() {
                let vj = s.v_at(b, j, h);
                for (a, &x) in acc.iter_mut().zip(&v[vj..vj + d]) {
                    *a = *a + w * x;
                }
            }
            let o = s.o_at(0, i, h);
            for (o, &a) in out[o..o + d].iter_mut().zip(&acc) {
                *o = a / total;
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

/// The backward of `cpu`, writing the gradients through `g`. Per batch
/// and head, dK and dV accumulate in contiguous scratch rows (written
/// through `g` once at the end) in the same order as a direct sum over the
/// queries, so the result does not depend on the scratch.
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
    let mut dk = vec![F::zero(); s.kv_len * d];
    let mut dv = vec![F::zero(); s.kv_len * d];
    let mut dqi = vec![F::zero(); d];
    // Per query: the probabilities, then dout · v per key.
    let mut p = vec![F::zero(); s.kv_len];
    let mut dp = vec![F::zero(); s.kv_len];
    let (mut keys, mut values) = (ByDimension::new(), ByDimension::new());
    let by_dim = s.q_len >= BY_DIMENSION_QUERIES;
    for b in 0..s.batch {
        for h in 0..s.heads {
            let (key_at, value_at) = (|j| s.k_at(b, j, h), |j| s.v_at(b, j, h));
            if by_dim {
                keys.load(k, s.kv_len, d, key_at);
                values.load(v, s.kv_len, d, value_at);
            }
            dk.fill(F::zero());
            dv.fill(F::zero());
            for i in 0..s.q_len {
                let (qi, oi) = (s.q_at(b, i, h), s.o_at(b, i, h));
                let (query, dout_i) = (&q[qi..qi + d], &dout[oi..oi + d]);
                let delta = dot(dout_i, &out[oi..oi + d]);
                let l = lse[s.lse_at(b, h, i)];
                let visible = s.visible_keys(i);
                let (p, dp) = (&mut p[visible.clone()], &mut dp[visible]);
                dots_with(query, k, key_at, by_dim.then_some(&keys), p);
                for x in p.iter_mut() {
                    *x = (*x * scale - l).exp();
                }
                dots_with(dout_i, v, value_at, by_dim.then_some(&values), dp);
                dqi.fill(F::zero());
                for (j, (&p, &dp)) in p.iter().zip(dp.iter()).enumerate() {
                    let kj = key_at(j);
                    let key = &k[kj..kj + d];
                    let ds = p * (dp - delta) * scale;
                    let (dk_j, dv_j) = (&mut dk[j * d..(j + 1) * d], &mut dv[j * d..(j + 1) * d]);
                    for dd in 0..d {
                        dv_j[dd] = dv_j[dd] + p * dout_i[dd];
                        dk_j[dd] = dk_j[dd] + ds * query[dd];
                        dqi[dd] = dqi[dd] + ds * key[dd];
                    }
                }
                for (dd, &x) in dqi.iter().enumerate() {
                    *g.at(0, qi + dd) = x;
                }
            }
            for j in 0..s.kv_len {
                let (kj, vj) = (key_at(j), value_at(j));
                for dd in 0..d {
                    *g.at(1, kj + dd) = dk[j * d + dd];
                    *g.at(2, vj + dd) = dv[j * d + dd];
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

    /// Keys laid out by dimension give each dot product bit for bit.
    #[test]
    fn dots_by_dimension_equal_direct_dots() {
        let (rows, d) = (37, 8);
        let x = values(rows * d, 3);
        let query = values(d, 4);
        let mut t = ByDimension::new();
        t.load(&x, rows, d, |j| j * d);
        let mut by_dim = vec![0.0; rows - 5];
        t.dots(&query, &mut by_dim);
        for (j, &y) in by_dim.iter().enumerate() {
            assert_eq!(y.to_bits(), dot(&query, &x[j * d..(j + 1) * d]).to_bits());
        }
    }

    /// Many queries at once (keys by dimension) give each query what it
    /// gets alone (direct dot products), bit for bit: a query's output
    /// must not depend on the others in its call.
    #[test]
    fn a_query_gets_the_same_words_alone_as_among_many() {
        let (heads, q_len, kv_len, dim) = (2, 2 * BY_DIMENSION_QUERIES, 40, 8);
        let c = heads * dim;
        let s = AttentionSpec::new(1, heads, q_len, kv_len, dim);
        let (q, k, v) = (
            values(q_len * c, 5),
            values(kv_len * c, 6),
            values(kv_len * c, 7),
        );
        let (mut out, mut lse) = (vec![0.0; q_len * c], vec![0.0; s.lse_len()]);
        cpu(&s, &q, &k, &v, &mut out, &mut lse);
        let one = AttentionSpec::new(1, heads, 1, kv_len, dim);
        for i in 0..q_len {
            let (mut o, mut l) = (vec![0.0; c], vec![0.0; heads]);
            cpu(&one, &q[i * c..(i + 1) * c], &k, &v, &mut o, &mut l);
            assert_eq!(o, out[i * c..(i + 1) * c], "query {i}");
            for h in 0..heads {
                assert_eq!(l[h], lse[s.lse_at(0, h, i)], "query {i}, head {h}");
            }
        }
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
