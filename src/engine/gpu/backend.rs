//! [`Backend`] for [`GpuBackend`]: every operation records kernel launches.

use super::context::{GpuBackend, GpuBuf};
use crate::engine::ops::{
    adam, attention, elementwise, embedding, game, gather, layernorm, losses, matmul, mean,
};
use crate::engine::*;
use anyhow::Result;

impl Backend for GpuBackend {
    type Buf = GpuBuf;

    fn host_memory(&self) -> bool {
        self.is_software()
    }

    fn gpu_counts(&self) -> Option<GpuCounts> {
        Some(self.counts())
    }

    fn describe(&self) -> String {
        let kind = if self.is_software() {
            ", software adapter"
        } else {
            ""
        };
        format!(
            "gpu ({}, {:?}{kind})",
            self.adapter_name(),
            self.report.info.backend
        )
    }

    fn alloc(&mut self, words: usize) -> Result<GpuBuf> {
        let buf = self.alloc_words(words)?;
        // Buffers are zeroed on creation by wgpu.
        Ok(buf)
    }

    fn view(&self, buf: &GpuBuf, offset: usize, len: usize) -> GpuBuf {
        assert!(
            offset + len <= buf.len,
            "view [{offset}, {}) outside {buf:?}",
            offset + len
        );
        GpuBuf {
            offset: buf.offset + offset,
            len,
            ..buf.clone()
        }
    }

    fn len(&self, buf: &GpuBuf) -> usize {
        buf.len
    }

    fn write_f32(&mut self, buf: &GpuBuf, data: &[f32]) {
        self.write_words(buf, bytemuck::cast_slice(data));
    }

    fn write_u32(&mut self, buf: &GpuBuf, data: &[u32]) {
        self.write_words(buf, bytemuck::cast_slice(data));
    }

    fn read_f32(&mut self, buf: &GpuBuf) -> Vec<f32> {
        bytemuck::pod_collect_to_vec(&self.read_words(buf))
    }

    fn read_u32(&mut self, buf: &GpuBuf) -> Vec<u32> {
        bytemuck::pod_collect_to_vec(&self.read_words(buf))
    }

    fn read_many_u32(&mut self, bufs: &[&GpuBuf]) -> Vec<Vec<u32>> {
        self.read_many(bufs)
            .iter()
            .map(|bytes| bytemuck::pod_collect_to_vec(bytes))
            .collect()
    }

    fn fill(&mut self, buf: &GpuBuf, value: f32) {
        elementwise::launch_fill(self, buf, value);
    }

    fn flush(&mut self) {
        self.flush_all();
    }

    fn flush_timed(&mut self) -> Option<std::time::Duration> {
        GpuBackend::flush_timed(self)
    }

    fn matmul(&mut self, spec: &MatmulSpec, a: &GpuBuf, b: &GpuBuf, c: &GpuBuf) {
        matmul::launch(self, spec, a, b, c);
    }

    fn linear(
        &mut self,
        spec: &LinearSpec,
        x: &GpuBuf,
        w: &GpuBuf,
        bias: &GpuBuf,
        extra: &GpuBuf,
        y: &GpuBuf,
    ) {
        matmul::launch_linear(self, spec, x, w, bias, extra, y);
    }

    fn bias_add(&mut self, rows: usize, cols: usize, y: &GpuBuf, bias: &GpuBuf) {
        matmul::launch_bias_add(self, rows, cols, y, bias);
    }

    fn bias_backward(&mut self, rows: usize, cols: usize, dy: &GpuBuf, dbias: &GpuBuf) {
        matmul::launch_bias_backward(self, rows, cols, dy, dbias);
    }

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
        layernorm::launch(self, spec, x, gain, bias, y, mean, rstd);
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
        layernorm::launch_backward(self, spec, x, gain, mean, rstd, dy, dx, dgain, dbias);
    }

    fn gelu(&mut self, n: usize, x: &GpuBuf, y: &GpuBuf) {
        elementwise::launch_gelu(self, n, x, y);
    }

    fn gelu_backward(&mut self, n: usize, x: &GpuBuf, dy: &GpuBuf, dx: &GpuBuf) {
        elementwise::launch_gelu_backward(self, n, x, dy, dx);
    }

    fn add(&mut self, n: usize, a: &GpuBuf, b: &GpuBuf, out: &GpuBuf) {
        elementwise::launch_add(self, n, a, b, out);
    }

    fn copy(&mut self, n: usize, src: &GpuBuf, dst: &GpuBuf) {
        elementwise::launch_copy(self, n, src, dst);
    }

    fn mean(&mut self, spec: &MeanSpec, x: &GpuBuf, y: &GpuBuf) {
        mean::launch(self, spec, x, y);
    }

    fn mean_backward(&mut self, spec: &MeanSpec, dy: &GpuBuf, dx: &GpuBuf) {
        mean::launch_backward(self, spec, dy, dx);
    }

    fn attention(
        &mut self,
        spec: &AttentionSpec,
        q: &GpuBuf,
        k: &GpuBuf,
        v: &GpuBuf,
        out: &GpuBuf,
        lse: &GpuBuf,
    ) {
        attention::launch(self, spec, q, k, v, out, lse);
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
        attention::launch_backward(self, spec, q, k, v, out, lse, dout, delta, dq, dk, dv);
    }

    fn gather_rows(
        &mut self,
        rows: usize,
        row_len: usize,
        index: &GpuBuf,
        src: &GpuBuf,
        dst: &GpuBuf,
    ) {
        gather::launch(self, rows, row_len, index, src, dst);
    }

    fn embedding(&mut self, spec: &EmbeddingSpec, tokens: &GpuBuf, table: &GpuBuf, out: &GpuBuf) {
        embedding::launch(self, spec, tokens, table, out);
    }

    fn embedding_backward(
        &mut self,
        spec: &EmbeddingSpec,
        index: &TokenIndex<GpuBuf>,
        dout: &GpuBuf,
        dtable: &GpuBuf,
    ) {
        embedding::launch_backward(self, spec, index, dout, dtable);
    }

    fn softmax_xent(
        &mut self,
        spec: &XentSpec,
        logits: &GpuBuf,
        targets: &GpuBuf,
        weights: &GpuBuf,
        loss: &GpuBuf,
        dlogits: &GpuBuf,
        correct: &GpuBuf,
    ) {
        losses::launch_xent(self, spec, logits, targets, weights, loss, dlogits, correct);
    }

    fn quantile_huber(
        &mut self,
        spec: &QuantileSpec,
        quantiles: &GpuBuf,
        targets: &GpuBuf,
        loss: &GpuBuf,
        dquantiles: &GpuBuf,
    ) {
        losses::launch_quantile(self, spec, quantiles, targets, loss, dquantiles);
    }

    fn adam(
        &mut self,
        spec: &AdamSpec,
        params: &GpuBuf,
        grads: &GpuBuf,
        m: &GpuBuf,
        v: &GpuBuf,
        decay: &GpuBuf,
    ) {
        adam::launch(self, spec, params, grads, m, v, decay);
    }

    fn residual_update(&mut self, spec: &GameSpec, states: &GpuBuf, factors: &GpuBuf) {
        game::launch_residual_update(self, spec, states, factors);
    }

    fn count_nonzeros(&mut self, spec: &GameSpec, states: &GpuBuf, counts: &GpuBuf) {
        game::launch_count_nonzeros(self, spec, states, counts);
    }

    fn decode_tokens(
        &mut self,
        spec: &DecodeSpec,
        values: &GpuBuf,
        tokens: &GpuBuf,
        factors: &GpuBuf,
    ) {
        game::launch_decode(self, spec, values, tokens, factors);
    }

    fn sample_tokens(
        &mut self,
        spec: &SampleSpec,
        logits: &GpuBuf,
        uniforms: &GpuBuf,
        tokens: &GpuBuf,
    ) {
        game::launch_sample(self, spec, logits, uniforms, tokens);
    }
}
