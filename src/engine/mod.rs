//! Compute engines: the native CPU reference and the wgpu GPU backend.

pub mod gpu;
