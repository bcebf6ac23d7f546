//! The native CPU backend: the reference the GPU kernels are tested
//! against, and the fallback without a GPU. Operations run at once.

mod backend;

use std::cell::RefCell;
use std::rc::Rc;

/// A view of host words (f32 storage; integer kernels reinterpret them).
#[derive(Clone)]
pub struct CpuBuf {
    data: Rc<RefCell<Vec<f32>>>,
    offset: usize,
    len: usize,
}

impl std::fmt::Debug for CpuBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CpuBuf[{}..{}]", self.offset, self.offset + self.len)
    }
}

#[derive(Default)]
pub struct CpuBackend;

impl CpuBackend {
    pub fn new() -> Self {
        CpuBackend
    }

    /// Runs `f` on the input and output slices of an operation. Views of
    /// one allocation may appear together, even interleaved (q, k and v
    /// columns of one fused buffer): then the operation works on copies,
    /// and only the words it changed are written back, so interleaved
    /// outputs cannot overwrite each other with stale words.
    fn run<const I: usize, const O: usize>(
        ins: [&CpuBuf; I],
        outs: [&CpuBuf; O],
        f: impl FnOnce([&[f32]; I], [&mut [f32]; O]),
    ) {
        let all: Vec<&CpuBuf> = ins.iter().chain(outs.iter()).copied().collect();
        let shared = all
            .iter()
            .enumerate()
            .any(|(i, a)| all[..i].iter().any(|b| Rc::ptr_eq(&a.data, &b.data)));
        if !shared {
            let in_refs: Vec<_> = ins.iter().map(|b| b.data.borrow()).collect();
            let mut out_refs: Vec<_> = outs.iter().map(|b| b.data.borrow_mut()).collect();
            let in_slices: Vec<&[f32]> = in_refs
                .iter()
                .zip(ins)
                .map(|(r, b)| &r[b.offset..b.offset + b.len])
                .collect();
            let out_slices: Vec<&mut [f32]> = out_refs
                .iter_mut()
                .zip(outs)
                .map(|(r, b)| &mut r[b.offset..b.offset + b.len])
                .collect();
            f(
                in_slices.try_into().expect("I inputs"),
                out_slices.try_into().expect("O outputs"),
            );
            return;
        }
        let in_copies: Vec<Vec<f32>> = ins.iter().map(|b| b.to_vec()).collect();
        let before: Vec<Vec<f32>> = outs.iter().map(|b| b.to_vec()).collect();
        let mut out_copies = before.clone();
        {
            let in_slices: Vec<&[f32]> = in_copies.iter().map(|v| v.as_slice()).collect();
            let out_slices: Vec<&mut [f32]> =
                out_copies.iter_mut().map(|v| v.as_mut_slice()).collect();
            f(
                in_slices.try_into().expect("I inputs"),
                out_slices.try_into().expect("O outputs"),
            );
        }
        for ((b, new), old) in outs.iter().zip(out_copies).zip(before) {
            let mut data = b.data.borrow_mut();
            let dst = &mut data[b.offset..b.offset + b.len];
            for ((d, n), o) in dst.iter_mut().zip(new).zip(old) {
                if n.to_bits() != o.to_bits() {
                    *d = n;
                }
            }
        }
    }
}

impl CpuBuf {
    fn to_vec(&self) -> Vec<f32> {
        self.data.borrow()[self.offset..self.offset + self.len].to_vec()
    }
}

/// Integer views of word slices (tokens, game states).
pub(crate) fn as_u32(x: &[f32]) -> &[u32] {
    bytemuck::cast_slice(x)
}
pub(crate) fn as_u32_mut(x: &mut [f32]) -> &mut [u32] {
    bytemuck::cast_slice_mut(x)
}
pub(crate) fn as_i32(x: &[f32]) -> &[i32] {
    bytemuck::cast_slice(x)
}
pub(crate) fn as_i32_mut(x: &mut [f32]) -> &mut [i32] {
    bytemuck::cast_slice_mut(x)
}
