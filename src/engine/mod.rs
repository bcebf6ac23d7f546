//! Compute engines. [`Backend`] is the set of operations the network and the
//! game run on: [`Memory`] plus one trait per family of operations, each
//! declared in `ops/` beside its kernels' specification, CPU reference and
//! GPU launcher, with its two implementations. [`cpu::CpuBackend`] computes
//! them in plain Rust (the reference) and [`gpu::GpuBackend`] with
//! hand-written WGSL kernels.
//!
//! Conventions shared by every operation:
//! - A buffer is a view of 32-bit words (f32, or u32/i32 for tokens and game
//!   states); views of one allocation may be passed together.
//! - Parameter gradients (dW, bias, gain and embedding gradients)
//!   accumulate into their outputs, so one zeroing serves a whole step.
//!   Input gradients are written unless a spec says `accumulate`.
//! - On the GPU, operations are recorded and run at the next `flush` or
//!   read; on the CPU they run at once. Results are the same either way.

/// Declares a family of operations once: the trait (every method takes
/// `&mut self` and views of `Self::Buf`) and its timed forwarding on
/// [`profile::Profiled`], which records each call under the name after
/// `as` (an expression of the arguments, for operations whose variants
/// have their own rows in a profile).
macro_rules! family {
    (
        $(#[$meta:meta])*
        pub trait $name:ident {
            $(
                $(#[$fmeta:meta])*
                fn $f:ident(&mut self $(, $arg:ident : $ty:ty)* $(,)?) as $label:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        pub trait $name: $crate::engine::Memory {
            $(
                $(#[$fmeta])*
                #[allow(clippy::too_many_arguments)]
                fn $f(&mut self $(, $arg: $ty)*);
            )*
        }

        impl<B: $crate::engine::Backend> $name for $crate::engine::profile::Profiled<B> {
            $(
                #[allow(clippy::too_many_arguments)]
                fn $f(&mut self $(, $arg: $ty)*) {
                    let op: &'static str = $label;
                    self.timed(op, |inner| inner.$f($($arg),*))
                }
            )*
        }
    };
}

pub mod cpu;
pub mod gpu;
pub mod ops;
pub mod profile;
pub mod word;

use anyhow::Result;
pub use gpu::GpuCounts;
pub use ops::adam::AdamOps;
pub use ops::adam::AdamSpec;
pub use ops::attention::AttentionOps;
pub use ops::attention::AttentionSpec;
pub use ops::elementwise::ElementwiseOps;
pub use ops::embedding::EmbeddingOps;
pub use ops::embedding::{EmbeddingSpec, TokenIndex};
pub use ops::game::GameOps;
pub use ops::game::{EncodeSpec, GameSpec, SampleSpec};
pub use ops::gather::GatherOps;
pub use ops::layernorm::LayerNormSpec;
pub use ops::layernorm::NormOps;
pub use ops::losses::LossOps;
pub use ops::losses::{QuantileSpec, XentSpec};
pub use ops::matmul::LinearOps;
pub use ops::matmul::{Epilogue, LinearSpec, MatmulSpec};
pub use ops::mean::MeanOps;
pub use ops::mean::MeanSpec;

/// Buffers on one device: allocation, views, transfers, and the
/// submission of recorded work. Every family of operations builds on it.
pub trait Memory {
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
    /// How to make another backend of this kind on another thread, where
    /// more threads mean more compute (the CPU backend: each thread is a
    /// core); `None` where one batched backend is the better use (a GPU).
    fn sibling(&self) -> Option<fn() -> Self>
    where
        Self: Sized,
    {
        None
    }
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
}

/// The operations of the network and the game, on one device: its memory
/// and every family of operations, each declared beside its kernels in
/// `ops/` (as `ops::matmul::LinearOps`).
pub trait Backend:
    Memory
    + LinearOps
    + NormOps
    + ElementwiseOps
    + MeanOps
    + AttentionOps
    + GatherOps
    + EmbeddingOps
    + LossOps
    + AdamOps
    + GameOps
{
}
