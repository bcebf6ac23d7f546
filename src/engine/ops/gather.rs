//! Row gathers: dst[r] = src[index[r]]. The torso builds each pair of grids
//! (grid a beside the transpose of grid b) and splits it back with such
//! permutations of c-channel rows; the backward pass of a permutation is
//! the gather with its inverse. Kernel: `shaders/gather.wgsl`.

use crate::engine::cpu::{u32s, CpuBackend, CpuBuf, Word};
use crate::engine::gpu::{GpuBackend, GpuBuf, Kernel};

pub const WGSL: &str = include_str!("../../../shaders/gather.wgsl");

pub fn cpu<T: Copy>(rows: usize, row_len: usize, index: &[u32], src: &[T], dst: &mut [T]) {
    for r in 0..rows {
        let from = index[r] as usize * row_len;
        dst[r * row_len..(r + 1) * row_len].copy_from_slice(&src[from..from + row_len]);
    }
}

/// The inverse of a permutation of 0..n: `inv[perm[i]] = i`.
pub fn invert_permutation(perm: &[u32]) -> Vec<u32> {
    let mut inv = vec![u32::MAX; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        assert!(
            (p as usize) < perm.len() && inv[p as usize] == u32::MAX,
            "not a permutation"
        );
        inv[p as usize] = i as u32;
    }
    inv
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    row_len: u32,
    index_off: u32,
    src_off: u32,
    dst_off: u32,
    _pad: [u32; 3],
}

pub fn launch(
    gpu: &mut GpuBackend,
    rows: usize,
    row_len: usize,
    index: &GpuBuf,
    src: &GpuBuf,
    dst: &GpuBuf,
) {
    let p = Params {
        rows: rows as u32,
        row_len: row_len as u32,
        index_off: index.off(),
        src_off: src.off(),
        dst_off: dst.off(),
        _pad: [0; 3],
    };
    let kernel = Kernel::new("gather", WGSL, "gather_rows");
    let groups = gpu.grid(rows * row_len);
    gpu.launch(kernel, &p, &[index, src, dst], groups);
}

family! {
    /// Row gathers.
    pub trait GatherOps {
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
        )
            as "gather";
    }
}

impl<F: Word> GatherOps for CpuBackend<F> {
    fn gather_rows(
        &mut self,
        rows: usize,
        row_len: usize,
        index: &CpuBuf<F>,
        src: &CpuBuf<F>,
        dst: &CpuBuf<F>,
    ) {
        Self::run([index, src], [dst], |[i, s], [d]| {
            cpu(rows, row_len, &u32s(i), s, d)
        });
    }
}

impl GatherOps for GpuBackend {
    fn gather_rows(
        &mut self,
        rows: usize,
        row_len: usize,
        index: &GpuBuf,
        src: &GpuBuf,
        dst: &GpuBuf,
    ) {
        launch(self, rows, row_len, index, src, dst);
    }
}
