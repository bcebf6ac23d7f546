//! [`Backend`] for [`CpuBackend`]: every operation runs its reference at once.

use super::{as_i32, as_i32_mut, as_u32, as_u32_mut, CpuBackend, CpuBuf};
use crate::engine::ops::{
    adam, attention, elementwise, embedding, game, gather, layernorm, losses, matmul, mean,
};
use crate::engine::*;
use anyhow::Result;
use std::cell::RefCell;
use std::rc::Rc;

impl Backend for CpuBackend {
    type Buf = CpuBuf;

    fn describe(&self) -> String {
        "cpu".into()
    }

    fn alloc(&mut self, words: usize) -> Result<CpuBuf> {
        Ok(CpuBuf {
            data: Rc::new(RefCell::new(vec![0.0; words])),
            offset: 0,
            len: words,
        })
    }

    fn view(&self, buf: &CpuBuf, offset: usize, len: usize) -> CpuBuf {
        assert!(
            offset + len <= buf.len,
            "view [{offset}, {}) outside {buf:?}",
            offset + len
        );
        CpuBuf {
            data: buf.data.clone(),
            offset: buf.offset + offset,
            len,
        }
    }

    fn len(&self, buf: &CpuBuf) -> usize {
        buf.len
    }

    fn write_f32(&mut self, buf: &CpuBuf, data: &[f32]) {
        Self::run([], [buf], |[], [out]| {
            out[..data.len()].copy_from_slice(data)
        });
    }

    fn write_u32(&mut self, buf: &CpuBuf, data: &[u32]) {
        Self::run([], [buf], |[], [out]| {
            as_u32_mut(out)[..data.len()].copy_from_slice(data)
        });
    }

    fn read_f32(&mut self, buf: &CpuBuf) -> Vec<f32> {
        buf.to_vec()
    }

    fn read_u32(&mut self, buf: &CpuBuf) -> Vec<u32> {
        as_u32(&buf.to_vec()).to_vec()
    }

    fn fill(&mut self, buf: &CpuBuf, value: f32) {
        Self::run([], [buf], |[], [out]| out.fill(value));
    }

    fn flush(&mut self) {}

    fn matmul(&mut self, spec: &MatmulSpec, a: &CpuBuf, b: &CpuBuf, c: &CpuBuf) {
        Self::run([a, b], [c], |[a, b], [c]| matmul::cpu(spec, a, b, c));
    }

    fn bias_add(&mut self, rows: usize, cols: usize, y: &CpuBuf, bias: &CpuBuf) {
        Self::run([bias], [y], |[bias], [y]| {
            matmul::bias_add_cpu(rows, cols, y, bias)
        });
    }

    fn bias_backward(&mut self, rows: usize, cols: usize, dy: &CpuBuf, dbias: &CpuBuf) {
        Self::run([dy], [dbias], |[dy], [db]| {
            matmul::bias_backward_cpu(rows, cols, dy, db)
        });
    }

    fn layer_norm(
        &mut self,
        spec: &LayerNormSpec,
        x: &CpuBuf,
        gain: &CpuBuf,
        bias: &CpuBuf,
        y: &CpuBuf,
        mean: &CpuBuf,
        rstd: &CpuBuf,
    ) {
        Self::run([x, gain, bias], [y, mean, rstd], |[x, g, b], [y, m, r]| {
            layernorm::cpu(spec, x, g, b, y, m, r)
        });
    }

    fn layer_norm_backward(
        &mut self,
        spec: &LayerNormSpec,
        x: &CpuBuf,
        gain: &CpuBuf,
        mean: &CpuBuf,
        rstd: &CpuBuf,
        dy: &CpuBuf,
        dx: &CpuBuf,
        dgain: &CpuBuf,
        dbias: &CpuBuf,
    ) {
        Self::run(
            [x, gain, mean, rstd, dy],
            [dx, dgain, dbias],
            |[x, g, m, r, dy], [dx, dg, db]| {
                layernorm::backward_cpu(spec, x, g, m, r, dy, dx, dg, db)
            },
        );
    }

    fn gelu(&mut self, n: usize, x: &CpuBuf, y: &CpuBuf) {
        Self::run([x], [y], |[x], [y]| {
            elementwise::gelu_cpu(&x[..n], &mut y[..n])
        });
    }

    fn gelu_backward(&mut self, n: usize, x: &CpuBuf, dy: &CpuBuf, dx: &CpuBuf) {
        Self::run([x, dy], [dx], |[x, dy], [dx]| {
            elementwise::gelu_backward_cpu(&x[..n], &dy[..n], &mut dx[..n])
        });
    }

    fn add(&mut self, n: usize, a: &CpuBuf, b: &CpuBuf, out: &CpuBuf) {
        Self::run([a, b], [out], |[a, b], [o]| {
            elementwise::add_cpu(&a[..n], &b[..n], &mut o[..n])
        });
    }

    fn copy(&mut self, n: usize, src: &CpuBuf, dst: &CpuBuf) {
        Self::run([src], [dst], |[s], [d]| d[..n].copy_from_slice(&s[..n]));
    }

    fn mean(&mut self, spec: &MeanSpec, x: &CpuBuf, y: &CpuBuf) {
        Self::run([x], [y], |[x], [y]| mean::cpu(spec, x, y));
    }

    fn mean_backward(&mut self, spec: &MeanSpec, dy: &CpuBuf, dx: &CpuBuf) {
        Self::run([dy], [dx], |[dy], [dx]| mean::backward_cpu(spec, dy, dx));
    }

    fn attention(
        &mut self,
        spec: &AttentionSpec,
        q: &CpuBuf,
        k: &CpuBuf,
        v: &CpuBuf,
        out: &CpuBuf,
        lse: &CpuBuf,
    ) {
        Self::run([q, k, v], [out, lse], |[q, k, v], [o, l]| {
            attention::cpu(spec, q, k, v, o, l)
        });
    }

    fn attention_backward(
        &mut self,
        spec: &AttentionSpec,
        q: &CpuBuf,
        k: &CpuBuf,
        v: &CpuBuf,
        out: &CpuBuf,
        lse: &CpuBuf,
        dout: &CpuBuf,
        _delta: &CpuBuf,
        dq: &CpuBuf,
        dk: &CpuBuf,
        dv: &CpuBuf,
    ) {
        Self::run(
            [q, k, v, out, lse, dout],
            [dq, dk, dv],
            |[q, k, v, o, l, d], [dq, dk, dv]| {
                attention::backward_cpu(spec, q, k, v, o, l, d, dq, dk, dv)
            },
        );
    }

    fn gather_rows(
        &mut self,
        rows: usize,
        row_len: usize,
        index: &CpuBuf,
        src: &CpuBuf,
        dst: &CpuBuf,
    ) {
        Self::run([index, src], [dst], |[i, s], [d]| {
            gather::cpu(rows, row_len, as_u32(i), s, d)
        });
    }

    fn embedding(&mut self, spec: &EmbeddingSpec, tokens: &CpuBuf, table: &CpuBuf, out: &CpuBuf) {
        Self::run([tokens, table], [out], |[t, w], [o]| {
            embedding::cpu(spec, as_u32(t), w, o)
        });
    }

    fn embedding_backward(
        &mut self,
        spec: &EmbeddingSpec,
        index: &TokenIndex<CpuBuf>,
        dout: &CpuBuf,
        dtable: &CpuBuf,
    ) {
        Self::run(
            [&index.offsets, &index.positions, dout],
            [dtable],
            |[o, p, d], [dt]| embedding::backward_cpu(spec, as_u32(o), as_u32(p), d, dt),
        );
    }

    fn softmax_xent(
        &mut self,
        spec: &XentSpec,
        logits: &CpuBuf,
        targets: &CpuBuf,
        weights: &CpuBuf,
        loss: &CpuBuf,
        dlogits: &CpuBuf,
        correct: &CpuBuf,
    ) {
        Self::run(
            [logits, targets, weights],
            [loss, dlogits, correct],
            |[x, t, w], [l, d, c]| losses::xent_cpu(spec, x, as_u32(t), w, l, d, as_u32_mut(c)),
        );
    }

    fn quantile_huber(
        &mut self,
        spec: &QuantileSpec,
        quantiles: &CpuBuf,
        targets: &CpuBuf,
        loss: &CpuBuf,
        dquantiles: &CpuBuf,
    ) {
        Self::run(
            [quantiles, targets],
            [loss, dquantiles],
            |[q, t], [l, d]| losses::quantile_cpu(spec, q, t, l, d),
        );
    }

    fn adam(&mut self, spec: &AdamSpec, params: &CpuBuf, grads: &CpuBuf, m: &CpuBuf, v: &CpuBuf) {
        Self::run([grads], [params, m, v], |[g], [p, m, v]| {
            adam::cpu(spec, p, g, m, v)
        });
    }

    fn residual_update(&mut self, spec: &GameSpec, states: &CpuBuf, factors: &CpuBuf) {
        Self::run([factors], [states], |[f], [s]| {
            game::residual_update_cpu(spec, as_i32_mut(s), as_i32(f))
        });
    }

    fn count_nonzeros(&mut self, spec: &GameSpec, states: &CpuBuf, counts: &CpuBuf) {
        Self::run([states], [counts], |[s], [c]| {
            game::count_nonzeros_cpu(spec, as_i32(s), as_u32_mut(c))
        });
    }

    fn decode_tokens(
        &mut self,
        spec: &DecodeSpec,
        values: &CpuBuf,
        tokens: &CpuBuf,
        factors: &CpuBuf,
    ) {
        Self::run([values, tokens], [factors], |[v, t], [f]| {
            game::decode_cpu(spec, as_i32(v), as_u32(t), as_i32_mut(f))
        });
    }

    fn sample_tokens(
        &mut self,
        spec: &SampleSpec,
        logits: &CpuBuf,
        uniforms: &CpuBuf,
        tokens: &CpuBuf,
    ) {
        Self::run([logits, uniforms], [tokens], |[x, u], [t]| {
            game::sample_cpu(spec, x, u, as_u32_mut(t))
        });
    }
}
