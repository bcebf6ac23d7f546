//! The network's building blocks, written once against [`Backend`]. Each
//! layer owns the activation and gradient buffers it needs for a fixed
//! number of rows, allocated once; parameters are views of the flat
//! parameter and gradient buffers ([`Weights`]).

use super::params::{Init, ParamLayout};
use crate::engine::*;
use anyhow::Result;

/// The flat parameter buffer and its gradient.
pub struct Weights<B: Backend> {
    pub params: B::Buf,
    pub grads: B::Buf,
}

/// A parameter tensor's place in the flat buffers.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub offset: usize,
    pub len: usize,
}

impl Param {
    pub fn new(layout: &mut ParamLayout, name: &str, shape: &[usize], init: Init) -> Self {
        let (offset, len) = layout.add(name, shape, init);
        Param { offset, len }
    }
    pub fn value<B: Backend>(&self, b: &B, w: &Weights<B>) -> B::Buf {
        b.view(&w.params, self.offset, self.len)
    }
    pub fn grad<B: Backend>(&self, b: &B, w: &Weights<B>) -> B::Buf {
        b.view(&w.grads, self.offset, self.len)
    }
}

/// y = x·W + bias for `rows` rows.
pub struct Linear {
    pub w: Param,
    pub bias: Param,
    pub rows: usize,
    pub inp: usize,
    pub out: usize,
}

impl Linear {
    pub fn new(layout: &mut ParamLayout, name: &str, rows: usize, inp: usize, out: usize) -> Self {
        Linear {
            w: Param::new(
                layout,
                &format!("{name}.weight"),
                &[inp, out],
                Init::FanIn(inp),
            ),
            bias: Param::new(layout, &format!("{name}.bias"), &[out], Init::Zeros),
            rows,
            inp,
            out,
        }
    }

    pub fn forward<B: Backend>(&self, b: &mut B, w: &Weights<B>, x: &B::Buf, y: &B::Buf) {
        self.forward_with(b, w, x, Epilogue::Bias, y, y);
    }

    /// The forward with an epilogue in the same kernel: `extra` is the
    /// residual added to y, or where the GELU's pre-activation is kept.
    pub fn forward_with<B: Backend>(
        &self,
        b: &mut B,
        w: &Weights<B>,
        x: &B::Buf,
        epilogue: Epilogue,
        extra: &B::Buf,
        y: &B::Buf,
    ) {
        let (wv, bv) = (self.w.value(b, w), self.bias.value(b, w));
        let spec = LinearSpec::new(self.rows, self.inp, self.out, epilogue);
        b.linear(&spec, x, &wv, &bv, extra, y);
    }

    /// dW += xᵀ·dy, dbias += Σ dy; dx (+)= dy·Wᵀ when asked.
    pub fn backward<B: Backend>(
        &self,
        b: &mut B,
        w: &Weights<B>,
        x: &B::Buf,
        dy: &B::Buf,
        dx: Option<(&B::Buf, bool)>,
    ) {
        let (wv, dw, db) = (self.w.value(b, w), self.w.grad(b, w), self.bias.grad(b, w));
        b.matmul(
            &MatmulSpec::new(self.inp, self.out, self.rows)
                .trans_a()
                .accumulate(),
            x,
            dy,
            &dw,
        );
        b.bias_backward(self.rows, self.out, dy, &db);
        if let Some((dx, accumulate)) = dx {
            let mut spec = MatmulSpec::new(self.rows, self.inp, self.out).trans_b();
            spec.accumulate = accumulate;
            b.matmul(&spec, dy, &wv, dx);
        }
    }
}

/// Layer normalisation with its saved statistics and output.
pub struct Norm<B: Backend> {
    pub gain: Param,
    pub bias: Param,
    pub spec: LayerNormSpec,
    pub y: B::Buf,
    mean: B::Buf,
    rstd: B::Buf,
}

impl<B: Backend> Norm<B> {
    pub fn new(
        b: &mut B,
        layout: &mut ParamLayout,
        name: &str,
        rows: usize,
        cols: usize,
    ) -> Result<Self> {
        Ok(Norm {
            gain: Param::new(layout, &format!("{name}.gain"), &[cols], Init::Ones),
            bias: Param::new(layout, &format!("{name}.bias"), &[cols], Init::Zeros),
            spec: LayerNormSpec::new(rows, cols),
            y: b.alloc(rows * cols)?,
            mean: b.alloc(rows)?,
            rstd: b.alloc(rows)?,
        })
    }

    pub fn forward(&self, b: &mut B, w: &Weights<B>, x: &B::Buf) {
        let (g, bias) = (self.gain.value(b, w), self.bias.value(b, w));
        b.layer_norm(&self.spec, x, &g, &bias, &self.y, &self.mean, &self.rstd);
    }

    /// dx += the gradient through the norm (dx already holds the residual path).
    pub fn backward_into(&self, b: &mut B, w: &Weights<B>, x: &B::Buf, dy: &B::Buf, dx: &B::Buf) {
        let g = self.gain.value(b, w);
        let (dg, db) = (self.gain.grad(b, w), self.bias.grad(b, w));
        let mut spec = self.spec;
        spec.accumulate_dx = true;
        b.layer_norm_backward(&spec, x, &g, &self.mean, &self.rstd, dy, dx, &dg, &db);
    }
}

/// Multi-head attention: queries from `rows` rows of x, keys and values
/// from x itself (self-attention) or from a memory (cross-attention).
pub struct Attention<B: Backend> {
    /// Self: one fused x → q‖k‖v projection. Cross: x → q.
    pub q_proj: Linear,
    /// Cross only: memory → k‖v.
    pub kv_proj: Option<Linear>,
    pub out_proj: Linear,
    pub spec: AttentionSpec,
    c: usize,
    q: B::Buf,
    kv: Option<B::Buf>,
    attn: B::Buf,
    lse: B::Buf,
    delta: B::Buf,
    dq: B::Buf,
    dkv: Option<B::Buf>,
    dattn: B::Buf,
}

impl<B: Backend> Attention<B> {
    /// Self-attention within each sequence of `seq`.
    pub fn new_self(
        b: &mut B,
        layout: &mut ParamLayout,
        name: &str,
        seq: Sequences,
    ) -> Result<Self> {
        let Sequences {
            rows,
            len,
            channels: c,
            heads,
            causal,
        } = seq;
        let mut spec = AttentionSpec::new(rows / len, heads, len, len, c / heads);
        spec.causal = causal;
        spec.q_stride = 3 * c;
        spec.k_stride = 3 * c;
        spec.v_stride = 3 * c;
        Ok(Attention {
            q_proj: Linear::new(layout, &format!("{name}.qkv"), rows, c, 3 * c),
            kv_proj: None,
            out_proj: Linear::new(layout, &format!("{name}.out"), rows, c, c),
            spec,
            c,
            q: b.alloc(rows * 3 * c)?,
            kv: None,
            attn: b.alloc(rows * c)?,
            lse: b.alloc(spec.lse_len())?,
            delta: b.alloc(spec.lse_len())?,
            dq: b.alloc(rows * 3 * c)?,
            dkv: None,
            dattn: b.alloc(rows * c)?,
        })
    }

    /// Cross-attention: `batch` sequences of `q_len` query rows against
    /// `kv_len` memory rows each.
    #[allow(clippy::too_many_arguments)]
    pub fn new_cross(
        b: &mut B,
        layout: &mut ParamLayout,
        name: &str,
        batch: usize,
        q_len: usize,
        kv_len: usize,
        c: usize,
        heads: usize,
    ) -> Result<Self> {
        let mut spec = AttentionSpec::new(batch, heads, q_len, kv_len, c / heads);
        spec.k_stride = 2 * c;
        spec.v_stride = 2 * c;
        let (rows, mem_rows) = (batch * q_len, batch * kv_len);
        Ok(Attention {
            q_proj: Linear::new(layout, &format!("{name}.q"), rows, c, c),
            kv_proj: Some(Linear::new(
                layout,
                &format!("{name}.kv"),
                mem_rows,
                c,
                2 * c,
            )),
            out_proj: Linear::new(layout, &format!("{name}.out"), rows, c, c),
            spec,
            c,
            q: b.alloc(rows * c)?,
            kv: Some(b.alloc(mem_rows * 2 * c)?),
            attn: b.alloc(rows * c)?,
            lse: b.alloc(spec.lse_len())?,
            delta: b.alloc(spec.lse_len())?,
            dq: b.alloc(rows * c)?,
            dkv: Some(b.alloc(mem_rows * 2 * c)?),
            dattn: b.alloc(rows * c)?,
        })
    }

    /// The (q, k, v) operands: views of the fused buffers.
    fn qkv(&self, b: &B, q: &B::Buf, kv: Option<&B::Buf>) -> [B::Buf; 3] {
        let c = self.c;
        match kv {
            None => {
                let n = b.len(q);
                [
                    b.view(q, 0, n - 2 * c),
                    b.view(q, c, n - 2 * c),
                    b.view(q, 2 * c, n - 2 * c),
                ]
            }
            Some(kv) => {
                let n = b.len(kv);
                [q.clone(), b.view(kv, 0, n - c), b.view(kv, c, n - c)]
            }
        }
    }

    /// out = residual + attention(x, memory); the residual add is the
    /// output projection's epilogue.
    pub fn forward(
        &self,
        b: &mut B,
        w: &Weights<B>,
        x: &B::Buf,
        memory: Option<&B::Buf>,
        residual: &B::Buf,
        out: &B::Buf,
    ) {
        self.q_proj.forward(b, w, x, &self.q);
        if let (Some(kv_proj), Some(kv), Some(mem)) = (&self.kv_proj, &self.kv, memory) {
            kv_proj.forward(b, w, mem, kv);
        }
        let [q, k, v] = self.qkv(b, &self.q, self.kv.as_ref());
        b.attention(&self.spec, &q, &k, &v, &self.attn, &self.lse);
        self.out_proj
            .forward_with(b, w, &self.attn, Epilogue::BiasResidual, residual, out);
    }

    /// dx = gradient w.r.t. x (written); dmemory += gradient w.r.t. memory.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        b: &mut B,
        w: &Weights<B>,
        x: &B::Buf,
        memory: Option<&B::Buf>,
        dout: &B::Buf,
        dx: &B::Buf,
        dmemory: Option<&B::Buf>,
    ) {
        self.out_proj
            .backward(b, w, &self.attn, dout, Some((&self.dattn, false)));
        let [q, k, v] = self.qkv(b, &self.q, self.kv.as_ref());
        let [dq, dk, dv] = self.qkv(b, &self.dq, self.dkv.as_ref());
        b.attention_backward(
            &self.spec,
            &q,
            &k,
            &v,
            &self.attn,
            &self.lse,
            &self.dattn,
            &self.delta,
            &dq,
            &dk,
            &dv,
        );
        self.q_proj.backward(b, w, x, &self.dq, Some((dx, false)));
        if let (Some(kv_proj), Some(dkv), Some(mem), Some(dmem)) =
            (&self.kv_proj, &self.dkv, memory, dmemory)
        {
            kv_proj.backward(b, w, mem, dkv, Some((dmem, true)));
        }
        // Key biases are frozen: softmax ignores a constant per query, so
        // q·b_k has exactly zero gradient, and the rounding noise in its
        // place would make them drift. Zero gradients keep them at their
        // initial value (Adam's moments stay zero).
        let key_bias = self.key_bias_grad(b, w);
        b.fill(&key_bias, 0.0);
    }

    /// The gradient words of the key bias: the middle third of the fused
    /// q‖k‖v bias, or the first half of the cross-attention's k‖v bias.
    pub fn key_bias_grad(&self, b: &B, w: &Weights<B>) -> B::Buf {
        match &self.kv_proj {
            None => b.view(&self.q_proj.bias.grad(b, w), self.c, self.c),
            Some(kv) => b.view(&kv.bias.grad(b, w), 0, self.c),
        }
    }
}

/// Linear → GELU → Linear, 4× wide. The GELU is the first layer's
/// epilogue; the pre-activation is kept for the backward pass.
pub struct Mlp<B: Backend> {
    pub up: Linear,
    pub down: Linear,
    hidden: B::Buf,
    act: B::Buf,
    dact: B::Buf,
}

impl<B: Backend> Mlp<B> {
    pub fn new(
        b: &mut B,
        layout: &mut ParamLayout,
        name: &str,
        rows: usize,
        c: usize,
        hidden: usize,
        out: usize,
    ) -> Result<Self> {
        Ok(Mlp {
            up: Linear::new(layout, &format!("{name}.up"), rows, c, hidden),
            down: Linear::new(layout, &format!("{name}.down"), rows, hidden, out),
            hidden: b.alloc(rows * hidden)?,
            act: b.alloc(rows * hidden)?,
            dact: b.alloc(rows * hidden)?,
        })
    }

    /// out = mlp(x), plus `residual` when given (the second layer's epilogue).
    pub fn forward(
        &self,
        b: &mut B,
        w: &Weights<B>,
        x: &B::Buf,
        residual: Option<&B::Buf>,
        out: &B::Buf,
    ) {
        self.up
            .forward_with(b, w, x, Epilogue::BiasGelu, &self.hidden, &self.act);
        match residual {
            Some(r) => self
                .down
                .forward_with(b, w, &self.act, Epilogue::BiasResidual, r, out),
            None => self.down.forward(b, w, &self.act, out),
        }
    }

    /// dx (written, or added when `accumulate`).
    pub fn backward(
        &self,
        b: &mut B,
        w: &Weights<B>,
        x: &B::Buf,
        dout: &B::Buf,
        dx: Option<(&B::Buf, bool)>,
    ) {
        self.down
            .backward(b, w, &self.act, dout, Some((&self.dact, false)));
        let n = self.up.rows * self.up.out;
        // The pre-activation gradient overwrites dact in place.
        b.gelu_backward(n, &self.hidden, &self.dact, &self.dact);
        self.up.backward(b, w, x, &self.dact, dx);
    }
}

/// What a pre-norm residual sub-layer wraps.
pub enum Inner<B: Backend> {
    Attention(Attention<B>),
    Mlp(Mlp<B>),
}

/// x_out = x + f(LN(x)).
pub struct Residual<B: Backend> {
    pub norm: Norm<B>,
    pub inner: Inner<B>,
    dnorm: B::Buf,
    pub out: B::Buf,
}

impl<B: Backend> Residual<B> {
    pub fn new(b: &mut B, norm: Norm<B>, inner: Inner<B>) -> Result<Self> {
        let (rows, c) = (norm.spec.rows, norm.spec.cols);
        Ok(Residual {
            norm,
            inner,
            dnorm: b.alloc(rows * c)?,
            out: b.alloc(rows * c)?,
        })
    }

    pub fn forward(&self, b: &mut B, w: &Weights<B>, x: &B::Buf, memory: Option<&B::Buf>) {
        self.norm.forward(b, w, x);
        let y = &self.norm.y;
        match &self.inner {
            Inner::Attention(a) => a.forward(b, w, y, memory, x, &self.out),
            Inner::Mlp(m) => m.forward(b, w, y, Some(x), &self.out),
        }
    }

    /// `dstream` holds the gradient w.r.t. the output on entry and w.r.t.
    /// x on return: the residual path passes it through unchanged, so the
    /// branch's gradient is added in place (no copy); dmemory accumulates.
    pub fn backward(
        &self,
        b: &mut B,
        w: &Weights<B>,
        x: &B::Buf,
        memory: Option<&B::Buf>,
        dstream: &B::Buf,
        dmemory: Option<&B::Buf>,
    ) {
        let y = &self.norm.y;
        match &self.inner {
            Inner::Attention(a) => a.backward(b, w, y, memory, dstream, &self.dnorm, dmemory),
            Inner::Mlp(m) => m.backward(b, w, y, dstream, Some((&self.dnorm, false))),
        }
        // Every read of dstream above precedes this update of it.
        self.norm.backward_into(b, w, x, &self.dnorm, dstream);
    }
}

/// A stack of residual sub-layers applied in order.
pub struct Stack<B: Backend> {
    pub layers: Vec<Residual<B>>,
}

impl<B: Backend> Stack<B> {
    pub fn new(layers: Vec<Residual<B>>) -> Self {
        Stack { layers }
    }

    pub fn out(&self) -> &B::Buf {
        &self.layers.last().expect("a non-empty stack").out
    }

    pub fn forward(&self, b: &mut B, w: &Weights<B>, x: &B::Buf, memory: Option<&B::Buf>) {
        let mut input = x;
        for l in &self.layers {
            l.forward(b, w, input, memory);
            input = &l.out;
        }
    }

    /// `dstream`: the gradient w.r.t. the stack's output on entry, w.r.t.
    /// its input x on return (updated in place, layer by layer).
    pub fn backward(
        &self,
        b: &mut B,
        w: &Weights<B>,
        x: &B::Buf,
        memory: Option<&B::Buf>,
        dstream: &B::Buf,
        dmemory: Option<&B::Buf>,
    ) {
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let input = if i == 0 { x } else { &self.layers[i - 1].out };
            layer.backward(b, w, input, memory, dstream, dmemory);
        }
    }
}

/// Rows that attend within sequences: `rows` rows in sequences of `len`,
/// `channels` wide, in `heads` heads; `causal` lets a row see only those
/// before it.
#[derive(Clone, Copy, Debug)]
pub struct Sequences {
    pub rows: usize,
    pub len: usize,
    pub channels: usize,
    pub heads: usize,
    pub causal: bool,
}

/// A pre-norm transformer block: self-attention then MLP.
pub fn encoder_block<B: Backend>(
    b: &mut B,
    layout: &mut ParamLayout,
    name: &str,
    seq: Sequences,
) -> Result<Vec<Residual<B>>> {
    let (rows, c) = (seq.rows, seq.channels);
    let n1 = Norm::new(b, layout, &format!("{name}.norm1"), rows, c)?;
    let attn = Attention::new_self(b, layout, &format!("{name}.attn"), seq)?;
    let n2 = Norm::new(b, layout, &format!("{name}.norm2"), rows, c)?;
    let mlp = Mlp::new(b, layout, &format!("{name}.mlp"), rows, c, 4 * c, c)?;
    Ok(vec![
        Residual::new(b, n1, Inner::Attention(attn))?,
        Residual::new(b, n2, Inner::Mlp(mlp))?,
    ])
}
