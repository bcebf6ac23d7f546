//! Token embedding lookup and its gradient. The gradient sums, for each
//! vocabulary word, the output gradients of the positions holding it, in
//! increasing position order: deterministic without float atomics. The
//! positions per word (a CSR index) are built on the host, where training
//! tokens come from. Kernel: `shaders/embedding.wgsl`.

use crate::engine::cpu::{u32s, CpuBackend, CpuBuf, Word};
use crate::engine::gpu::{offsets, GpuBackend, GpuBuf, Kernel};
use crate::engine::Backend;
use anyhow::Result;
use num_traits::Float;

pub const WGSL: &str = include_str!("../../../shaders/embedding.wgsl");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmbeddingSpec {
    pub tokens: usize,
    pub dim: usize,
    pub vocab: usize,
}

/// For each word v, the positions t with tokens[t] = v, ascending:
/// `positions[offsets[v]..offsets[v + 1]]`.
#[derive(Clone, Debug)]
pub struct TokenIndex<B> {
    pub offsets: B,
    pub positions: B,
}

impl TokenIndex<()> {
    /// The CSR index of `tokens` over a vocabulary of `vocab` words.
    pub fn csr(tokens: &[u32], vocab: usize) -> (Vec<u32>, Vec<u32>) {
        let mut offsets = vec![0u32; vocab + 1];
        for &t in tokens {
            offsets[t as usize + 1] += 1;
        }
        for v in 0..vocab {
            offsets[v + 1] += offsets[v];
        }
        let mut next = offsets.clone();
        let mut positions = vec![0u32; tokens.len()];
        for (t, &tok) in tokens.iter().enumerate() {
            positions[next[tok as usize] as usize] = t as u32;
            next[tok as usize] += 1;
        }
        (offsets, positions)
    }
}

impl<B> TokenIndex<B> {
    /// Buffers for the index of `tokens` tokens over `vocab` words.
    pub fn alloc<E: Backend<Buf = B>>(
        backend: &mut E,
        tokens: usize,
        vocab: usize,
    ) -> Result<Self> {
        Ok(TokenIndex {
            offsets: backend.alloc(vocab + 1)?,
            positions: backend.alloc(tokens)?,
        })
    }

    /// Writes the index of `tokens` into these buffers.
    pub fn update<E: Backend<Buf = B>>(&self, backend: &mut E, tokens: &[u32], vocab: usize) {
        let (offsets, positions) = TokenIndex::csr(tokens, vocab);
        backend.write_u32(&self.offsets, &offsets);
        backend.write_u32(&self.positions, &positions);
    }

    /// Allocates and writes the index of `tokens`.
    pub fn build<E: Backend<Buf = B>>(
        backend: &mut E,
        tokens: &[u32],
        vocab: usize,
    ) -> Result<Self> {
        let index = Self::alloc(backend, tokens.len(), vocab)?;
        index.update(backend, tokens, vocab);
        Ok(index)
    }
}

pub fn cpu<F: Float>(s: &EmbeddingSpec, tokens: &[u32], table: &[F], out: &mut [F]) {
    for t in 0..s.tokens {
        let row = tokens[t] as usize * s.dim;
        out[t * s.dim..(t + 1) * s.dim].copy_from_slice(&table[row..row + s.dim]);
    }
}

pub fn backward_cpu<F: Float>(
    s: &EmbeddingSpec,
    offsets: &[u32],
    positions: &[u32],
    dout: &[F],
    dtable: &mut [F],
) {
    for v in 0..s.vocab {
        for c in 0..s.dim {
            let mut acc = F::zero();
            for &t in &positions[offsets[v] as usize..offsets[v + 1] as usize] {
                acc = acc + dout[t as usize * s.dim + c];
            }
            dtable[v * s.dim + c] = dtable[v * s.dim + c] + acc;
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    tokens: u32,
    dim: u32,
    vocab: u32,
    _pad: u32,
    off: [u32; 4],
}

fn params(s: &EmbeddingSpec, bufs: &[&GpuBuf]) -> Params {
    let off = offsets::<4>(bufs);
    Params {
        tokens: s.tokens as u32,
        dim: s.dim as u32,
        vocab: s.vocab as u32,
        _pad: 0,
        off,
    }
}

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new("embedding", WGSL, entry)
}

pub fn launch(
    gpu: &mut GpuBackend,
    s: &EmbeddingSpec,
    tokens: &GpuBuf,
    table: &GpuBuf,
    out: &GpuBuf,
) {
    let bufs = [tokens, table, out];
    let groups = gpu.grid(s.tokens * s.dim);
    gpu.launch(kernel("forward"), &params(s, &bufs), &bufs, groups);
}

pub fn launch_backward(
    gpu: &mut GpuBackend,
    s: &EmbeddingSpec,
    index: &TokenIndex<GpuBuf>,
    dout: &GpuBuf,
    dtable: &GpuBuf,
) {
    let bufs = [&index.offsets, &index.positions, dout, dtable];
    let groups = gpu.grid(s.vocab * s.dim);
    gpu.launch(kernel("backward"), &params(s, &bufs), &bufs, groups);
}

family! {
    /// Embedding lookups.
    pub trait EmbeddingOps {
        /// out[t] = table[tokens[t]].
        fn embedding(
            &mut self,
            spec: &EmbeddingSpec,
            tokens: &Self::Buf,
            table: &Self::Buf,
            out: &Self::Buf,
        )
            as "embedding";
        /// dtable[v] += Σ over positions t with tokens[t] = v of dout[t], in
        /// increasing t (deterministic; `index` comes from [`TokenIndex::build`]).
        fn embedding_backward(
            &mut self,
            spec: &EmbeddingSpec,
            index: &TokenIndex<Self::Buf>,
            dout: &Self::Buf,
            dtable: &Self::Buf,
        )
            as "embedding backward";
    }
}

impl<F: Word> EmbeddingOps for CpuBackend<F> {
    fn embedding(
        &mut self,
        spec: &EmbeddingSpec,
        tokens: &CpuBuf<F>,
        table: &CpuBuf<F>,
        out: &CpuBuf<F>,
    ) {
        Self::run([tokens, table], [out], |[t, w], [o]| {
            cpu(spec, &u32s(t), w, o)
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
            |[o, p, d], [dt]| backward_cpu(spec, &u32s(o), &u32s(p), d, dt),
        );
    }
}

impl EmbeddingOps for GpuBackend {
    fn embedding(&mut self, spec: &EmbeddingSpec, tokens: &GpuBuf, table: &GpuBuf, out: &GpuBuf) {
        launch(self, spec, tokens, table, out);
    }

    fn embedding_backward(
        &mut self,
        spec: &EmbeddingSpec,
        index: &TokenIndex<GpuBuf>,
        dout: &GpuBuf,
        dtable: &GpuBuf,
    ) {
        launch_backward(self, spec, index, dout, dtable);
    }
}
