//! [`Backend`] for [`CpuBackend`]: every operation runs its reference at once.

use super::{i32s, put_i32s, put_u32s, u32s, CpuBackend, CpuBuf, Word};
use crate::engine::ops::{
    adam, attention, elementwise, embedding, game, gather, layernorm, losses, matmul, mean,
};
use crate::engine::*;
use anyhow::Result;
use std::cell::RefCell;
use std::rc::Rc;

impl<F: Word> Backend for CpuBackend<F> {
    type Buf = CpuBuf<F>;

    fn host_memory(&self) -> bool {
        true
    }

    fn counts_only(&self) -> bool {
        self.sizing
    }

    fn describe(&self) -> String {
        format!("cpu ({})", std::any::type_name::<F>())
    }

    fn alloc(&mut self, words: usize) -> Result<CpuBuf<F>> {
        self.allocated += words;
        let storage = if self.sizing {
            vec![]
        } else {
            vec![F::zero(); words]
        };
        Ok(CpuBuf {
            data: Rc::new(RefCell::new(storage)),
            offset: 0,
            len: words,
        })
    }

    fn view(&self, buf: &CpuBuf<F>, offset: usize, len: usize) -> CpuBuf<F> {
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

    fn len(&self, buf: &CpuBuf<F>) -> usize {
        buf.len
    }

    fn write_f32(&mut self, buf: &CpuBuf<F>, data: &[f32]) {
        if self.sizing {
            return;
        }
        Self::run([], [buf], |[], [out]| {
            for (o, &x) in out.iter_mut().zip(data) {
                *o = F::widen(x);
            }
        });
    }

    fn write_u32(&mut self, buf: &CpuBuf<F>, data: &[u32]) {
        if self.sizing {
            return;
        }
        Self::run([], [buf], |[], [out]| put_u32s(out, data));
    }

    fn read_f32(&mut self, buf: &CpuBuf<F>) -> Vec<f32> {
        buf.to_vec().into_iter().map(F::narrow).collect()
    }

    fn read_u32(&mut self, buf: &CpuBuf<F>) -> Vec<u32> {
        u32s(&buf.to_vec())
    }

    fn fill(&mut self, buf: &CpuBuf<F>, value: f32) {
        if self.sizing {
            return;
        }
        Self::run([], [buf], |[], [out]| out.fill(F::widen(value)));
    }

    fn flush(&mut self) {}

    fn matmul(&mut self, spec: &MatmulSpec, a: &CpuBuf<F>, b: &CpuBuf<F>, c: &CpuBuf<F>) {
        Self::run([a, b], [c], |[a, b], [c]| matmul::cpu(spec, a, b, c));
    }

    fn linear(
        &mut self,
        spec: &LinearSpec,
        x: &CpuBuf<F>,
        w: &CpuBuf<F>,
        bias: &CpuBuf<F>,
        extra: &CpuBuf<F>,
        y: &CpuBuf<F>,
    ) {
        match spec.epilogue {
            Epilogue::Bias => Self::run([x, w, bias], [y], |[x, w, bias], [y]| {
                matmul::linear_cpu(spec, x, w, bias, None, None, y)
            }),
            Epilogue::BiasResidual => {
                Self::run([x, w, bias, extra], [y], |[x, w, bias, res], [y]| {
                    matmul::linear_cpu(spec, x, w, bias, Some(res), None, y)
                })
            }
            Epilogue::BiasGelu => Self::run([x, w, bias], [extra, y], |[x, w, bias], [pre, y]| {
                matmul::linear_cpu(spec, x, w, bias, None, Some(pre), y)
            }),
        }
    }

    fn bias_add(&mut self, rows: usize, cols: usize, y: &CpuBuf<F>, bias: &CpuBuf<F>) {
        Self::run([bias], [y], |[bias], [y]| {
            matmul::bias_add_cpu(rows, cols, y, bias)
        });
    }

    fn bias_backward(&mut self, rows: usize, cols: usize, dy: &CpuBuf<F>, dbias: &CpuBuf<F>) {
        Self::run([dy], [dbias], |[dy], [db]| {
            matmul::bias_backward_cpu(rows, cols, dy, db)
        });
    }

    fn layer_norm(
        &mut self,
        spec: &LayerNormSpec,
        x: &CpuBuf<F>,
        gain: &CpuBuf<F>,
        bias: &CpuBuf<F>,
        y: &CpuBuf<F>,
        mean: &CpuBuf<F>,
        rstd: &CpuBuf<F>,
    ) {
        Self::run([x, gain, bias], [y, mean, rstd], |[x, g, b], [y, m, r]| {
            layernorm::cpu(spec, x, g, b, y, m, r)
        });
    }

    fn layer_norm_backward(
        &mut self,
        spec: &LayerNormSpec,
        x: &CpuBuf<F>,
        gain: &CpuBuf<F>,
        mean: &CpuBuf<F>,
        rstd: &CpuBuf<F>,
        dy: &CpuBuf<F>,
        dx: &CpuBuf<F>,
        dgain: &CpuBuf<F>,
        dbias: &CpuBuf<F>,
    ) {
        Self::run(
            [x, gain, mean, rstd, dy],
            [dx, dgain, dbias],
            |[x, g, m, r, dy], [dx, dg, db]| {
                layernorm::backward_cpu(spec, x, g, m, r, dy, dx, dg, db)
            },
        );
    }

    fn gelu(&mut self, n: usize, x: &CpuBuf<F>, y: &CpuBuf<F>) {
        Self::run([x], [y], |[x], [y]| {
            elementwise::gelu_cpu(&x[..n], &mut y[..n])
        });
    }

    fn gelu_backward(&mut self, n: usize, x: &CpuBuf<F>, dy: &CpuBuf<F>, dx: &CpuBuf<F>) {
        // The network's backward runs in place (dx is dy): no copies then.
        if dx.same_words(dy) {
            return Self::run([x], [dx], |[x], [dx]| {
                elementwise::gelu_backward_in_place_cpu(&x[..n], &mut dx[..n])
            });
        }
        Self::run([x, dy], [dx], |[x, dy], [dx]| {
            elementwise::gelu_backward_cpu(&x[..n], &dy[..n], &mut dx[..n])
        });
    }

    fn add(&mut self, n: usize, a: &CpuBuf<F>, b: &CpuBuf<F>, out: &CpuBuf<F>) {
        let in_place = |other: &CpuBuf<F>| {
            Self::run([other], [out], |[b], [o]| {
                elementwise::add_in_place_cpu(&b[..n], &mut o[..n])
            })
        };
        if out.same_words(a) && !out.same_words(b) {
            return in_place(b);
        }
        if out.same_words(b) && !out.same_words(a) {
            return in_place(a);
        }
        Self::run([a, b], [out], |[a, b], [o]| {
            elementwise::add_cpu(&a[..n], &b[..n], &mut o[..n])
        });
    }

    fn copy(&mut self, n: usize, src: &CpuBuf<F>, dst: &CpuBuf<F>) {
        Self::run([src], [dst], |[s], [d]| d[..n].copy_from_slice(&s[..n]));
    }

    fn mean(&mut self, spec: &MeanSpec, x: &CpuBuf<F>, y: &CpuBuf<F>) {
        Self::run([x], [y], |[x], [y]| mean::cpu(spec, x, y));
    }

    fn mean_backward(&mut self, spec: &MeanSpec, dy: &CpuBuf<F>, dx: &CpuBuf<F>) {
        Self::run([dy], [dx], |[dy], [dx]| mean::backward_cpu(spec, dy, dx));
    }

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
            attention::cpu(spec, q, k, v, o, l)
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
                |[q, k, v, o, l, d], [words]| {
                    attention::backward_fused(spec, q, k, v, o, l, d, words, base)
                },
            );
        }
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
        index: &CpuBuf<F>,
        src: &CpuBuf<F>,
        dst: &CpuBuf<F>,
    ) {
        Self::run([index, src], [dst], |[i, s], [d]| {
            gather::cpu(rows, row_len, &u32s(i), s, d)
        });
    }

    fn embedding(
        &mut self,
        spec: &EmbeddingSpec,
        tokens: &CpuBuf<F>,
        table: &CpuBuf<F>,
        out: &CpuBuf<F>,
    ) {
        Self::run([tokens, table], [out], |[t, w], [o]| {
            embedding::cpu(spec, &u32s(t), w, o)
        });
    }

    fn embedding_backward(
        &mut self,
        spec: &EmbeddingSpec,
        index: &TokenIndex<CpuBuf<F>>,
        dout: &CpuBuf<F>,
        dtable: &CpuBuf<F>,
    ) {
        Self::run(
            [&index.offsets, &index.positions, dout],
            [dtable],
            |[o, p, d], [dt]| embedding::backward_cpu(spec, &u32s(o), &u32s(p), d, dt),
        );
    }

    fn softmax_xent(
        &mut self,
        spec: &XentSpec,
        logits: &CpuBuf<F>,
        targets: &CpuBuf<F>,
        weights: &CpuBuf<F>,
        loss: &CpuBuf<F>,
        dlogits: &CpuBuf<F>,
        correct: &CpuBuf<F>,
    ) {
        Self::run(
            [logits, targets, weights],
            [loss, dlogits, correct],
            |[x, t, w], [l, d, c]| losses::xent_cpu(spec, x, &u32s(t), w, l, d, c),
        );
    }

    fn quantile_huber(
        &mut self,
        spec: &QuantileSpec,
        quantiles: &CpuBuf<F>,
        targets: &CpuBuf<F>,
        loss: &CpuBuf<F>,
        dquantiles: &CpuBuf<F>,
    ) {
        Self::run(
            [quantiles, targets],
            [loss, dquantiles],
            |[q, t], [l, d]| losses::quantile_cpu(spec, q, t, l, d),
        );
    }

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
            adam::cpu(spec, p, g, m, v, d)
        });
    }

    fn residual_update(&mut self, spec: &GameSpec, states: &CpuBuf<F>, factors: &CpuBuf<F>) {
        Self::run([factors], [states], |[f], [s]| {
            let mut states = i32s(s);
            game::residual_update_cpu(spec, &mut states, &i32s(f));
            put_i32s(s, &states);
        });
    }

    fn count_nonzeros(&mut self, spec: &GameSpec, states: &CpuBuf<F>, counts: &CpuBuf<F>) {
        Self::run([states], [counts], |[s], [c]| {
            let mut counts = vec![0u32; spec.batch];
            game::count_nonzeros_cpu(spec, &i32s(s), &mut counts);
            put_u32s(c, &counts);
        });
    }

    fn decode_tokens(
        &mut self,
        spec: &DecodeSpec,
        values: &CpuBuf<F>,
        tokens: &CpuBuf<F>,
        factors: &CpuBuf<F>,
    ) {
        Self::run([values, tokens], [factors], |[v, t], [f]| {
            let mut factors = vec![0i32; spec.batch * spec.len];
            game::decode_cpu(spec, &i32s(v), &u32s(t), &mut factors);
            put_i32s(f, &factors);
        });
    }

    fn sample_tokens(
        &mut self,
        spec: &SampleSpec,
        logits: &CpuBuf<F>,
        uniforms: &CpuBuf<F>,
        tokens: &CpuBuf<F>,
    ) {
        Self::run([logits, uniforms], [tokens], |[x, u], [t]| {
            let logits: Vec<f32> = x.iter().map(|w| w.narrow()).collect();
            let uniforms: Vec<f32> = u.iter().map(|w| w.narrow()).collect();
            let mut tokens = vec![0u32; spec.rows];
            game::sample_cpu(spec, &logits, &uniforms, &mut tokens);
            put_u32s(t, &tokens);
        });
    }
}
