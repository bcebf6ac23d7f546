//! tensorsearch: discovering fast matrix-multiplication algorithms with
//! AlphaTensor's method on any wgpu GPU, with an exact core that verifies
//! and exports every algorithm it handles.

pub mod bench;
pub mod engine;
pub mod flip;
pub mod game;
pub mod interrupt;
pub mod model;
pub mod problem;
pub mod progress;
pub mod search;
pub mod train;
