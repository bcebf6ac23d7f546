//! Compute engines. [`Backend`] is the set of operations the network and the
//! game run on; [`cpu::CpuBackend`] computes them in plain Rust (the
//! reference) and [`gpu::GpuBackend`] with hand-written WGSL kernels.
//!
//! Conventions shared by every operation:
//! - A buffer is a view of 32-bit words (f32, or u32/i32 for tokens and game
//!   states); views of one allocation may be passed together.
//! - Parameter gradients (dW, bias, gain and embedding gradients)
//!   accumulate into their outputs, so one zeroing serves a whole step.
//!   Input gradients are written unless a spec says `accumulate`.
//! - On the GPU, operations are recorded and run at the next `flush` or
//!   read; on the CPU they run at once. Results are the same either way.

pub mod cpu;
pub mod gpu;
pub mod ops;
pub mod profile;

use anyhow::Result;
pub use gpu::GpuCounts;
pub use ops::adam::AdamSpec;
pub use ops::attention::AttentionSpec;
pub use ops::embedding::{EmbeddingSpec, TokenIndex};
pub use ops::game::{DecodeSpec, GameSpec, SampleSpec};
pub use ops::layernorm::LayerNormSpec;
pub use ops::losses::{QuantileSpec, XentSpec};
pub use ops::matmul::{Epilogue, LinearSpec, MatmulSpec};
pub use ops::mean::MeanSpec;

/// The operations of the network and the game, on one device.
pub trait Backend {
    /// A view of device words: an allocation plus an offset and a length.
    type Buf: Clone + std::fmt::Debug + 'static;

    /// A short description of the device ("cpu", or the adapter's name).
    fn describe(&self) -> String;
    /// Whether buffers live in the host's memory (the CPU backend, software
    /// adapters), which bounds what a run may allocate.
    fn host_memory(&self) -> bool;
    /// Whether this backend only counts what is allocated on it (sizing):
    /// callers then skip making data that would be written to it.
    fn counts_only(&self) -> bool {
        false
    }
    /// Dispatches, submissions and transfers so far, on a GPU.
    fn gpu_counts(&self) -> Option<GpuCounts> {
        None
    }

    // ---- memory -------------------------------------------------------
    /// A new zeroed buffer of `words` 32-bit words.
    fn alloc(&mut self, words: usize) -> Result<Self::Buf>;
    /// The sub-view `[offset, offset + len)` of `buf`.
    fn view(&self, buf: &Self::Buf, offset: usize, len: usize) -> Self::Buf;
    /// Number of words in a view.
    fn len(&self, buf: &Self::Buf) -> usize;
    fn write_f32(&mut self, buf: &Self::Buf, data: &[f32]);
    fn write_u32(&mut self, buf: &Self::Buf, data: &[u32]);
    fn write_i32(&mut self, buf: &Self::Buf, data: &[i32]) {
        self.write_u32(buf, bytemuck::cast_slice(data));
    }
    fn read_f32(&mut self, buf: &Self::Buf) -> Vec<f32>;
    fn read_u32(&mut self, buf: &Self::Buf) -> Vec<u32>;
    fn read_i32(&mut self, buf: &Self::Buf) -> Vec<i32> {
        bytemuck::cast_slice(&self.read_u32(buf)).to_vec()
    }
    /// Reads several views as u32 words; on a GPU in one round trip.
    fn read_many_u32(&mut self, bufs: &[&Self::Buf]) -> Vec<Vec<u32>> {
        bufs.iter().map(|b| self.read_u32(b)).collect()
    }
    /// Sets every word of `buf` to the f32 `value`.
    fn fill(&mut self, buf: &Self::Buf, value: f32);
    /// Runs all recorded work and waits for it.
    fn flush(&mut self);
    /// Runs all recorded work and returns its device time when the device
    /// can measure it (GPU timestamp queries); `None` otherwise.
    fn flush_timed(&mut self) -> Option<std::time::Duration> {
        self.flush();
        None
    }

    // ---- linear layers ------------------------------------------------
    /// C (+)= op(A) op(B), batched (see [`MatmulSpec`]).
    fn matmul(&mut self, spec: &MatmulSpec, a: &Self::Buf, b: &Self::Buf, c: &Self::Buf);
    /// A linear layer, y = x·W + bias, with its epilogue (residual or
    /// GELU, see [`Epilogue`]) in the same kernel. `extra` is read for
    /// the residual and written for the GELU's pre-activation; with
    /// [`Epilogue::Bias`] it is unused (pass `y`).
    fn linear(
        &mut self,
        spec: &LinearSpec,
        x: &Self::Buf,
        w: &Self::Buf,
        bias: &Self::Buf,
        extra: &Self::Buf,
        y: &Self::Buf,
    );
    /// y[r][c] += bias[c] for a rows × cols matrix.
    fn bias_add(&mut self, rows: usize, cols: usize, y: &Self::Buf, bias: &Self::Buf);
    /// dbias[c] += Σ_r dy[r][c] (the bias gradient).
    fn bias_backward(&mut self, rows: usize, cols: usize, dy: &Self::Buf, dbias: &Self::Buf);

    // ---- normalisation and activations -------------------------------
    /// y = (x − mean) · rstd · gain + bias per row; saves mean and rstd.
    #[allow(clippy::too_many_arguments)]
    fn layer_norm(
        &mut self,
        spec: &LayerNormSpec,
        x: &Self::Buf,
        gain: &Self::Buf,
        bias: &Self::Buf,
        y: &Self::Buf,
        mean: &Self::Buf,
        rstd: &Self::Buf,
    );
    /// dx (or dx +=, per spec), dgain +=, dbias +=.
    #[allow(clippy::too_many_arguments)]
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
    );
    /// y = gelu(x) (tanh form) over `n` words.
    fn gelu(&mut self, n: usize, x: &Self::Buf, y: &Self::Buf);
    /// dx = dy · gelu'(x).
    fn gelu_backward(&mut self, n: usize, x: &Self::Buf, dy: &Self::Buf, dx: &Self::Buf);
    /// out = a + b over `n` words (`out` may be `a` or `b`).
    fn add(&mut self, n: usize, a: &Self::Buf, b: &Self::Buf, out: &Self::Buf);
    /// dst = src over `n` words.
    fn copy(&mut self, n: usize, src: &Self::Buf, dst: &Self::Buf);
    /// y[b][c] = mean over p of x[b][p][c].
    fn mean(&mut self, spec: &MeanSpec, x: &Self::Buf, y: &Self::Buf);
    /// dx[b][p][c] (+)= dy[b][c] / positions.
    fn mean_backward(&mut self, spec: &MeanSpec, dy: &Self::Buf, dx: &Self::Buf);

    // ---- attention ----------------------------------------------------
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
    );
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
    );

    // ---- data movement ------------------------------------------------
    /// dst[r] = src[index[r]] for rows of `row_len` words. With a
    /// permutation, the backward pass is the same gather with the inverse
    /// permutation ([`ops::gather::invert_permutation`]).
    fn gather_rows(
        &mut self,
        rows: usize,
        row_len: usize,
        index: &Self::Buf,
        src: &Self::Buf,
        dst: &Self::Buf,
    );
    /// out[t] = table[tokens[t]].
    fn embedding(
        &mut self,
        spec: &EmbeddingSpec,
        tokens: &Self::Buf,
        table: &Self::Buf,
        out: &Self::Buf,
    );
    /// dtable[v] += Σ over positions t with tokens[t] = v of dout[t], in
    /// increasing t (deterministic; `index` comes from [`TokenIndex::build`]).
    fn embedding_backward(
        &mut self,
        spec: &EmbeddingSpec,
        index: &TokenIndex<Self::Buf>,
        dout: &Self::Buf,
        dtable: &Self::Buf,
    );

    // ---- losses and optimiser ----------------------------------------
    /// Fused softmax cross-entropy: per row, loss = w·(lse − logit[target]),
    /// dlogits = w·(softmax − onehot), correct = 1.0 when argmax = target
    /// (else 0.0).
    #[allow(clippy::too_many_arguments)]
    fn softmax_xent(
        &mut self,
        spec: &XentSpec,
        logits: &Self::Buf,
        targets: &Self::Buf,
        weights: &Self::Buf,
        loss: &Self::Buf,
        dlogits: &Self::Buf,
        correct: &Self::Buf,
    );
    /// Quantile Huber loss of docs/design.md §3 per sample, and its gradient.
    fn quantile_huber(
        &mut self,
        spec: &QuantileSpec,
        quantiles: &Self::Buf,
        targets: &Self::Buf,
        loss: &Self::Buf,
        dquantiles: &Self::Buf,
    );
    /// One AdamW step over a flat parameter buffer, in one dispatch.
    fn adam(
        &mut self,
        spec: &AdamSpec,
        params: &Self::Buf,
        grads: &Self::Buf,
        m: &Self::Buf,
        v: &Self::Buf,
        decay: &Self::Buf,
    );

    // ---- TensorGame ---------------------------------------------------
    /// S_b ← S_b − u_b ⊗ v_b ⊗ w_b (i32; mod 2 when the spec says so).
    fn residual_update(&mut self, spec: &GameSpec, states: &Self::Buf, factors: &Self::Buf);
    /// counts[b] = number of nonzero entries of S_b (0 means solved).
    fn count_nonzeros(&mut self, spec: &GameSpec, states: &Self::Buf, counts: &Self::Buf);
    /// Token ids → factor coefficients u‖v‖w (i32), via the coefficient table.
    fn decode_tokens(
        &mut self,
        spec: &DecodeSpec,
        values: &Self::Buf,
        tokens: &Self::Buf,
        factors: &Self::Buf,
    );
    /// tokens[r] = inverse CDF of softmax(logits[r] · inv_temperature) at uniforms[r].
    fn sample_tokens(
        &mut self,
        spec: &SampleSpec,
        logits: &Self::Buf,
        uniforms: &Self::Buf,
        tokens: &Self::Buf,
    );
}
