//! tensorsearch: discovering fast matrix-multiplication algorithms with
//! AlphaTensor's method on any wgpu GPU, with an exact core that verifies
//! and exports every algorithm it handles.

pub mod bench;
pub mod cluster;
pub mod engine;
pub mod flip;
pub mod game;
pub mod matmul;
pub mod model;
pub mod problem;
pub mod run;
pub mod search;
pub mod train;

/// Every kernel file the program compiles, by family name: the engine's,
/// and those each domain carries with its launcher (the flip walk's).
pub fn all_shaders() -> Vec<(&'static str, &'static str)> {
    let mut all = engine::ops::SHADERS.to_vec();
    all.push(("flip", flip::gpu::WGSL));
    all.push(("blocks", matmul::gpu::WGSL));
    all
}
