//! The wgpu backend: adapters, the runtime, and the [`Backend`] operations
//! as kernel launches.
//!
//! [`Backend`]: crate::engine::Backend

pub mod adapters;
mod backend;
mod context;

pub use adapters::{describe_adapters, enumerate_adapters, require_gpu, AdapterReport};
pub(crate) use context::offsets;
pub use context::{GpuBackend, GpuBuf, GpuCounts, Kernel, PRELUDE};
