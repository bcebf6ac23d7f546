//! GPU test helpers: open the adapter or skip, upload at an offset, compare.
#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tensorsearch::engine::gpu::{require_gpu, GpuBackend};
use tensorsearch::engine::*;

/// The GPU backend, or `None` (with the reason printed) when there is no
/// adapter; with TENSORSEARCH_REQUIRE_GPU=1 a missing adapter fails.
pub fn gpu() -> Option<GpuBackend> {
    match GpuBackend::new() {
        Ok(g) => Some(g),
        Err(e) if require_gpu() => panic!("TENSORSEARCH_REQUIRE_GPU=1 but {e}"),
        Err(e) => {
            println!("skipping GPU test: {e}");
            None
        }
    }
}

/// Whether a wgpu adapter exists (for tests that run the binary on it);
/// with TENSORSEARCH_REQUIRE_GPU=1 a missing adapter fails.
pub fn available() -> bool {
    let found = !tensorsearch::engine::gpu::enumerate_adapters().is_empty();
    assert!(
        found || !require_gpu(),
        "TENSORSEARCH_REQUIRE_GPU=1 but no adapter"
    );
    found
}

/// A fresh random generator; the seed is printed so a failure can be replayed.
pub fn fresh_rng(test: &str) -> StdRng {
    let seed: u64 = std::env::var("TENSORSEARCH_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("{test}: seed {seed} (replay with TENSORSEARCH_TEST_SEED={seed})");
    StdRng::seed_from_u64(seed)
}

pub fn uniform(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Words before each view, so kernels must honour offsets.
pub const PAD: usize = 3;

/// A view of `data.len()` words at offset PAD of a larger allocation whose
/// other words hold a sentinel.
pub fn upload<B: Backend>(b: &mut B, data: &[f32]) -> B::Buf {
    upload_at(b, data, PAD)
}

/// As [`upload`], at offset `pad`.
pub fn upload_at<B: Backend>(b: &mut B, data: &[f32], pad: usize) -> B::Buf {
    let whole = b.alloc(data.len() + 2 * pad).unwrap();
    b.fill(&whole, -7.0);
    let v = b.view(&whole, pad, data.len());
    b.write_f32(&v, data);
    v
}

pub fn upload_u32<B: Backend>(b: &mut B, data: &[u32]) -> B::Buf {
    let whole = b.alloc(data.len() + 2 * PAD).unwrap();
    let v = b.view(&whole, PAD, data.len());
    b.write_u32(&v, data);
    v
}

pub fn upload_i32<B: Backend>(b: &mut B, data: &[i32]) -> B::Buf {
    upload_u32(b, bytemuck::cast_slice(data))
}

/// An output view filled with NaN, so an unwritten word cannot pass.
pub fn nan_output<B: Backend>(b: &mut B, n: usize) -> B::Buf {
    upload(b, &vec![f32::NAN; n])
}

/// |gpu − cpu| ≤ atol + rtol·|cpu| for every word; NaN never passes.
pub fn assert_close(what: &str, gpu: &[f32], cpu: &[f32], atol: f32, rtol: f32) {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths differ");
    for (i, (&g, &c)) in gpu.iter().zip(cpu).enumerate() {
        let ok = (g - c).abs() <= atol + rtol * c.abs();
        assert!(
            ok,
            "{what}[{i}]: gpu {g} vs cpu {c} (atol {atol}, rtol {rtol})"
        );
    }
}
