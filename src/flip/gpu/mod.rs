//! Flip walks over Z2 on the GPU: `shaders/flip.wgsl` runs one walk per
//! invocation. Three parts, one file each: the CPU reference the kernel
//! must match bit for bit ([`reference::Walk::run`]), the walks' layout in
//! device memory with their launcher ([`walks::GpuWalks`]), and a pool
//! search's rounds on the adapter ([`rounds::GpuRounds`]).
//!
//! The kernel cannot keep the CPU walker's hash index, so it draws flips
//! by scanning: a term and a role, then one of the other terms with the
//! same factor there (a step with none is a miss). A walk's whole state
//! (terms, rank, counters, xorshift128 generator) lives in two buffers, so
//! running S steps and then S more is the same as running 2S.

pub mod reference;
pub mod rounds;
pub mod walks;

pub use reference::{Limits, Status, Walk};
pub use rounds::{walks_for, GpuRounds};
pub use walks::GpuWalks;

pub const WGSL: &str = include_str!("../../../shaders/flip.wgsl");
