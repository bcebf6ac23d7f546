//! The wgpu backend.

pub mod adapters;

pub use adapters::{describe_adapters, enumerate_adapters, require_gpu, AdapterReport};
