//! [`Backend`] for [`CpuBackend`]: every operation runs its reference at once.

use super::{put_u32s, u32s, CpuBackend, CpuBuf, Word};
use crate::engine::*;
use anyhow::Result;
use std::cell::RefCell;
use std::rc::Rc;

impl<F: Word> Backend for CpuBackend<F> {}

impl<F: Word> Memory for CpuBackend<F> {
    type Buf = CpuBuf<F>;

    fn describe(&self) -> String {
        format!("cpu ({})", std::any::type_name::<F>())
    }

    fn host_memory(&self) -> bool {
        true
    }

    fn counts_only(&self) -> bool {
        self.sizing
    }

    fn sibling(&self) -> Option<fn() -> Self> {
        Some(|| CpuBackend {
            word: std::marker::PhantomData,
            allocated: 0,
            sizing: false,
        })
    }

    fn alloc(&mut self, words: usize) -> Result<CpuBuf<F>> {
        self.allocated += words;
        let storage = if self.sizing {
            vec![]
        } else {
            vec![F::zero(); words]
        };
        Ok(CpuBuf {
            data: Rc::new(RefCell::new(storage)),
            offset: 0,
            len: words,
        })
    }

    fn view(&self, buf: &CpuBuf<F>, offset: usize, len: usize) -> CpuBuf<F> {
        assert!(
            offset + len <= buf.len,
            "view [{offset}, {}) outside {buf:?}",
            offset + len
        );
        CpuBuf {
            data: buf.data.clone(),
            offset: buf.offset + offset,
            len,
        }
    }

    fn len(&self, buf: &CpuBuf<F>) -> usize {
        buf.len
    }

    fn write_f32(&mut self, buf: &CpuBuf<F>, data: &[f32]) {
        if self.sizing {
            return;
        }
        Self::run([], [buf], |[], [out]| {
            for (o, &x) in out.iter_mut().zip(data) {
                *o = F::widen(x);
            }
        });
    }

    fn write_u32(&mut self, buf: &CpuBuf<F>, data: &[u32]) {
        if self.sizing {
            return;
        }
        Self::run([], [buf], |[], [out]| put_u32s(out, data));
    }

    fn read_f32(&mut self, buf: &CpuBuf<F>) -> Vec<f32> {
        buf.to_vec().into_iter().map(F::narrow).collect()
    }

    fn read_u32(&mut self, buf: &CpuBuf<F>) -> Vec<u32> {
        u32s(&buf.to_vec())
    }

    fn fill(&mut self, buf: &CpuBuf<F>, value: f32) {
        if self.sizing {
            return;
        }
        Self::run([], [buf], |[], [out]| out.fill(F::widen(value)));
    }

    fn flush(&mut self) {}
}
