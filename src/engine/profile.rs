//! [`Profiled`]: a [`Backend`] that runs every operation of another one
//! alone and records its time under the operation's name, so `bench train`
//! can say where a training step or a leaf evaluation spends its time
//! without an external profiler.
//!
//! Each operation is flushed on its own: on a GPU with timestamp queries
//! the time is the device's (the pass of that operation's dispatches); on
//! the CPU, and on adapters without timestamps, it is the wall time of the
//! call and its flush. Running operations one at a time removes the
//! overlap the plain backend has, so a profile explains where time goes;
//! the plain backend's steps/s say how much there is.

use super::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Calls and time of one operation.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpTime {
    pub calls: u64,
    pub time: Duration,
}

/// A backend whose operations are timed one by one.
pub struct Profiled<B: Backend> {
    inner: B,
    ops: BTreeMap<&'static str, OpTime>,
}

impl<B: Backend> Profiled<B> {
    pub fn new(inner: B) -> Self {
        Profiled {
            inner,
            ops: BTreeMap::new(),
        }
    }

    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// The times recorded since the last call, by operation name.
    pub fn take(&mut self) -> BTreeMap<&'static str, OpTime> {
        std::mem::take(&mut self.ops)
    }

    fn timed<R>(&mut self, op: &'static str, f: impl FnOnce(&mut B) -> R) -> R {
        // Work recorded before (uploads) is not this operation's.
        self.inner.flush();
        let start = Instant::now();
        let out = f(&mut self.inner);
        let device = self.inner.flush_timed();
        let elapsed = device.unwrap_or_else(|| start.elapsed());
        let entry = self.ops.entry(op).or_default();
        entry.calls += 1;
        entry.time += elapsed;
        out
    }
}

impl<B: Backend> Memory for Profiled<B> {
    type Buf = B::Buf;

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn host_memory(&self) -> bool {
        self.inner.host_memory()
    }

    fn counts_only(&self) -> bool {
        self.inner.counts_only()
    }

    fn gpu_counts(&self) -> Option<GpuCounts> {
        self.inner.gpu_counts()
    }

    fn alloc(&mut self, words: usize) -> Result<Self::Buf> {
        self.inner.alloc(words)
    }

    fn view(&self, buf: &Self::Buf, offset: usize, len: usize) -> Self::Buf {
        self.inner.view(buf, offset, len)
    }

    fn len(&self, buf: &Self::Buf) -> usize {
        self.inner.len(buf)
    }

    fn write_f32(&mut self, buf: &Self::Buf, data: &[f32]) {
        self.timed("upload", |b| b.write_f32(buf, data))
    }

    fn write_u32(&mut self, buf: &Self::Buf, data: &[u32]) {
        self.timed("upload", |b| b.write_u32(buf, data))
    }

    fn read_f32(&mut self, buf: &Self::Buf) -> Vec<f32> {
        self.timed("read back", |b| b.read_f32(buf))
    }

    fn read_u32(&mut self, buf: &Self::Buf) -> Vec<u32> {
        self.timed("read back", |b| b.read_u32(buf))
    }

    fn read_many_u32(&mut self, bufs: &[&Self::Buf]) -> Vec<Vec<u32>> {
        self.timed("read back", |b| b.read_many_u32(bufs))
    }

    fn fill(&mut self, buf: &Self::Buf, value: f32) {
        self.timed("fill", |b| b.fill(buf, value))
    }

    fn flush(&mut self) {
        self.inner.flush()
    }

    fn flush_timed(&mut self) -> Option<Duration> {
        self.inner.flush_timed()
    }
}

impl<B: Backend> LinearOps for Profiled<B> {
    fn matmul(&mut self, spec: &MatmulSpec, a: &Self::Buf, b: &Self::Buf, c: &Self::Buf) {
        // The weight gradient (Aᵀ·B) and the input gradient (A·Bᵀ) have
        // their own memory patterns, so their own rows.
        let op = match (spec.trans_a, spec.trans_b) {
            (false, false) => "matmul",
            (true, false) => "matmul Aᵀ·B",
            (false, true) => "matmul A·Bᵀ",
            (true, true) => "matmul Aᵀ·Bᵀ",
        };
        self.timed(op, |be| be.matmul(spec, a, b, c))
    }

    fn linear(
        &mut self,
        spec: &LinearSpec,
        x: &Self::Buf,
        w: &Self::Buf,
        bias: &Self::Buf,
        extra: &Self::Buf,
        y: &Self::Buf,
    ) {
        let op = match spec.epilogue {
            Epilogue::Bias => "linear",
            Epilogue::BiasResidual => "linear + residual",
            Epilogue::BiasGelu => "linear + gelu",
        };
        self.timed(op, |b| b.linear(spec, x, w, bias, extra, y))
    }

    fn bias_add(&mut self, rows: usize, cols: usize, y: &Self::Buf, bias: &Self::Buf) {
        self.timed("bias add", |b| b.bias_add(rows, cols, y, bias))
    }

    fn bias_backward(&mut self, rows: usize, cols: usize, dy: &Self::Buf, dbias: &Self::Buf) {
        self.timed("bias backward", |b| b.bias_backward(rows, cols, dy, dbias))
    }
}

impl<B: Backend> NormOps for Profiled<B> {
    fn layer_norm(
        &mut self,
        spec: &LayerNormSpec,
        x: &Self::Buf,
        gain: &Self::Buf,
        bias: &Self::Buf,
        y: &Self::Buf,
        mean: &Self::Buf,
        rstd: &Self::Buf,
    ) {
        self.timed("layer norm", |b| {
            b.layer_norm(spec, x, gain, bias, y, mean, rstd)
        })
    }

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
    ) {
        self.timed("layer norm backward", |b| {
            b.layer_norm_backward(spec, x, gain, mean, rstd, dy, dx, dgain, dbias)
        })
    }
}

impl<B: Backend> ElementwiseOps for Profiled<B> {
    fn gelu_backward(&mut self, n: usize, x: &Self::Buf, dy: &Self::Buf, dx: &Self::Buf) {
        self.timed("gelu backward", |b| b.gelu_backward(n, x, dy, dx))
    }

    fn add(&mut self, n: usize, a: &Self::Buf, b: &Self::Buf, out: &Self::Buf) {
        self.timed("add", |be| be.add(n, a, b, out))
    }

    fn copy(&mut self, n: usize, src: &Self::Buf, dst: &Self::Buf) {
        self.timed("copy", |b| b.copy(n, src, dst))
    }
}

impl<B: Backend> MeanOps for Profiled<B> {
    fn mean(&mut self, spec: &MeanSpec, x: &Self::Buf, y: &Self::Buf) {
        self.timed("mean", |b| b.mean(spec, x, y))
    }

    fn mean_backward(&mut self, spec: &MeanSpec, dy: &Self::Buf, dx: &Self::Buf) {
        self.timed("mean backward", |b| b.mean_backward(spec, dy, dx))
    }
}

impl<B: Backend> AttentionOps for Profiled<B> {
    fn attention(
        &mut self,
        spec: &AttentionSpec,
        q: &Self::Buf,
        k: &Self::Buf,
        v: &Self::Buf,
        out: &Self::Buf,
        lse: &Self::Buf,
    ) {
        self.timed("attention", |b| b.attention(spec, q, k, v, out, lse))
    }

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
    ) {
        self.timed("attention backward", |b| {
            b.attention_backward(spec, q, k, v, out, lse, dout, delta, dq, dk, dv)
        })
    }
}

impl<B: Backend> GatherOps for Profiled<B> {
    fn gather_rows(
        &mut self,
        rows: usize,
        row_len: usize,
        index: &Self::Buf,
        src: &Self::Buf,
        dst: &Self::Buf,
    ) {
        self.timed("gather", |b| b.gather_rows(rows, row_len, index, src, dst))
    }
}

impl<B: Backend> EmbeddingOps for Profiled<B> {
    fn embedding(
        &mut self,
        spec: &EmbeddingSpec,
        tokens: &Self::Buf,
        table: &Self::Buf,
        out: &Self::Buf,
    ) {
        self.timed("embedding", |b| b.embedding(spec, tokens, table, out))
    }

    fn embedding_backward(
        &mut self,
        spec: &EmbeddingSpec,
        index: &TokenIndex<Self::Buf>,
        dout: &Self::Buf,
        dtable: &Self::Buf,
    ) {
        self.timed("embedding backward", |b| {
            b.embedding_backward(spec, index, dout, dtable)
        })
    }
}

impl<B: Backend> LossOps for Profiled<B> {
    fn softmax_xent(
        &mut self,
        spec: &XentSpec,
        logits: &Self::Buf,
        targets: &Self::Buf,
        weights: &Self::Buf,
        loss: &Self::Buf,
        dlogits: &Self::Buf,
        correct: &Self::Buf,
    ) {
        self.timed("softmax xent", |b| {
            b.softmax_xent(spec, logits, targets, weights, loss, dlogits, correct)
        })
    }

    fn quantile_huber(
        &mut self,
        spec: &QuantileSpec,
        quantiles: &Self::Buf,
        targets: &Self::Buf,
        loss: &Self::Buf,
        dquantiles: &Self::Buf,
    ) {
        self.timed("quantile huber", |b| {
            b.quantile_huber(spec, quantiles, targets, loss, dquantiles)
        })
    }
}

impl<B: Backend> AdamOps for Profiled<B> {
    fn adam(
        &mut self,
        spec: &AdamSpec,
        params: &Self::Buf,
        grads: &Self::Buf,
        m: &Self::Buf,
        v: &Self::Buf,
        decay: &Self::Buf,
    ) {
        self.timed("adamw", |b| b.adam(spec, params, grads, m, v, decay))
    }
}

impl<B: Backend> GameOps for Profiled<B> {
    fn residual_update(&mut self, spec: &GameSpec, states: &Self::Buf, factors: &Self::Buf) {
        self.timed("residual update", |b| {
            b.residual_update(spec, states, factors)
        })
    }

    fn sample_tokens(
        &mut self,
        spec: &SampleSpec,
        logits: &Self::Buf,
        uniforms: &Self::Buf,
        tokens: &Self::Buf,
    ) {
        self.timed("sample tokens", |b| {
            b.sample_tokens(spec, logits, uniforms, tokens)
        })
    }
}
