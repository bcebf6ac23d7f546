//! The native CPU backend: the reference the GPU kernels are tested
//! against, and the fallback without a GPU. Operations run at once.
//!
//! It computes in f32 like the GPU ([`CpuBackend::new`]), or in f64
//! ([`CpuBackend::new_f64`]) so that whole-model gradients can be checked
//! against finite differences without f32 rounding in the way.

mod backend;

pub use super::word::Word;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;

/// A view of host words.
pub struct CpuBuf<F = f32> {
    data: Rc<RefCell<Vec<F>>>,
    offset: usize,
    len: usize,
}

impl<F> Clone for CpuBuf<F> {
    fn clone(&self) -> Self {
        CpuBuf {
            data: self.data.clone(),
            offset: self.offset,
            len: self.len,
        }
    }
}

impl<F> std::fmt::Debug for CpuBuf<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CpuBuf[{}..{}]", self.offset, self.offset + self.len)
    }
}

#[derive(Default)]
pub struct CpuBackend<F = f32> {
    word: PhantomData<F>,
    /// Words allocated so far (views not counted).
    allocated: usize,
    /// Sizing only: buffers have lengths but no storage, and writes are
    /// dropped, so that building a model measures its memory without
    /// taking it. Running an operation in this mode is a bug.
    sizing: bool,
}

impl CpuBackend<f32> {
    /// The f32 backend, computing as the GPU does.
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend that only counts what is allocated on it (see `sizing`).
    pub fn sizing() -> Self {
        CpuBackend {
            sizing: true,
            ..Self::new()
        }
    }
}

impl CpuBackend<f64> {
    /// The f64 backend, for gradient checks.
    pub fn new_f64() -> Self {
        Self::default()
    }
}

impl<F> CpuBackend<F> {
    /// Bytes of f32 words allocated on this backend so far.
    pub fn allocated_bytes(&self) -> u64 {
        self.allocated as u64 * 4
    }
}

impl<F: Word> CpuBackend<F> {
    /// Writes words at full precision.
    pub fn write_words(&mut self, buf: &CpuBuf<F>, data: &[F]) {
        Self::run([], [buf], |[], [out]| {
            out[..data.len()].copy_from_slice(data)
        });
    }

    /// Reads words at full precision.
    pub fn read_words(&self, buf: &CpuBuf<F>) -> Vec<F> {
        buf.to_vec()
    }

    /// Runs `f` on the input and output slices of an operation.
    ///
    /// Views of one allocation are common (layer-norm gain and bias in the
    /// one parameter buffer, gradients written into the one gradient
    /// buffer): when no output's range overlaps another view's, the slices
    /// are carved out of one borrow, with no copy. Otherwise (an in-place
    /// update, or the interleaved q, k and v columns of a fused buffer)
    /// the operation works on copies, and only the words it changed are
    /// written back, so interleaved outputs cannot overwrite each other
    /// with stale words.
    pub(crate) fn run<const I: usize, const O: usize>(
        ins: [&CpuBuf<F>; I],
        outs: [&CpuBuf<F>; O],
        f: impl FnOnce([&[F]; I], [&mut [F]; O]),
    ) {
        let all: Vec<&CpuBuf<F>> = ins.iter().chain(outs.iter()).copied().collect();
        // The allocation of each view, as the index of its first view.
        let group: Vec<usize> = (0..all.len())
            .map(|i| {
                (0..i)
                    .find(|&j| Rc::ptr_eq(&all[i].data, &all[j].data))
                    .unwrap_or(i)
            })
            .collect();
        let overlaps = |i: usize, j: usize| {
            let (a, b) = (all[i], all[j]);
            a.offset < b.offset + b.len && b.offset < a.offset + a.len
        };
        let conflict = (0..all.len())
            .any(|i| (0..i).any(|j| group[i] == group[j] && (i >= I || j >= I) && overlaps(i, j)));
        if conflict {
            return Self::run_on_copies(ins, outs, f);
        }
        // One borrow per allocation: shared when only inputs use it.
        let written = |g: usize| (I..all.len()).any(|o| group[o] == g);
        let mut shared = vec![];
        let mut exclusive = vec![];
        for g in (0..all.len()).filter(|&i| group[i] == i) {
            if written(g) {
                exclusive.push((g, all[g].data.borrow_mut()));
            } else {
                shared.push((g, all[g].data.borrow()));
            }
        }
        let mut in_slices: [Option<&[F]>; I] = [None; I];
        let mut out_slices: [Option<&mut [F]>; O] = std::array::from_fn(|_| None);
        for (g, data) in &shared {
            for i in (0..I).filter(|&i| group[i] == *g) {
                in_slices[i] = Some(&data[all[i].offset..all[i].offset + all[i].len]);
            }
        }
        for (g, data) in exclusive.iter_mut() {
            // Inputs of a written allocation may overlap one another
            // (read twice), never an output: share their own borrow of
            // the parts before, between and after the outputs.
            let mut members: Vec<usize> = (0..all.len()).filter(|&i| group[i] == *g).collect();
            members.sort_by_key(|&i| all[i].offset);
            let mut rest: &mut [F] = &mut data[..];
            let mut base = 0;
            let mut pending_inputs: Vec<usize> = vec![];
            let mut input_spans: Vec<(usize, &[F])> = vec![];
            for &i in &members {
                if i < I {
                    pending_inputs.push(i);
                    continue;
                }
                if all[i].len == 0 {
                    out_slices[i - I] = Some(&mut []);
                    continue;
                }
                // Everything before this output goes to the inputs seen so far.
                let (before, tail) = std::mem::take(&mut rest).split_at_mut(all[i].offset - base);
                input_spans.push((base, &*before));
                let (mine, tail) = tail.split_at_mut(all[i].len);
                out_slices[i - I] = Some(mine);
                rest = tail;
                base = all[i].offset + all[i].len;
            }
            input_spans.push((base, &*rest));
            for i in pending_inputs {
                let (start, end) = (all[i].offset, all[i].offset + all[i].len);
                let (span_base, span) = input_spans
                    .iter()
                    .find(|(b, s)| *b <= start && end <= b + s.len())
                    .expect("an input overlapping no output lies between outputs");
                in_slices[i] = Some(&span[start - span_base..end - span_base]);
            }
        }
        f(
            in_slices.map(|s| s.expect("every input is carved")),
            out_slices.map(|s| s.expect("every output is carved")),
        );
    }

    /// The exact path for overlapping views: copies in, changed words back.
    pub(crate) fn run_on_copies<const I: usize, const O: usize>(
        ins: [&CpuBuf<F>; I],
        outs: [&CpuBuf<F>; O],
        f: impl FnOnce([&[F]; I], [&mut [F]; O]),
    ) {
        let in_copies: Vec<Vec<F>> = ins.iter().map(|b| b.to_vec()).collect();
        let before: Vec<Vec<F>> = outs.iter().map(|b| b.to_vec()).collect();
        let mut out_copies = before.clone();
        {
            let in_slices: Vec<&[F]> = in_copies.iter().map(|v| v.as_slice()).collect();
            let out_slices: Vec<&mut [F]> =
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
                if n.bits64() != o.bits64() {
                    *d = n;
                }
            }
        }
    }
}

impl<F: Word> CpuBuf<F> {
    /// Whether both views are exactly the same words.
    pub(crate) fn same_words(&self, other: &CpuBuf<F>) -> bool {
        Rc::ptr_eq(&self.data, &other.data) && self.offset == other.offset && self.len == other.len
    }

    /// When all views share one allocation: one view spanning them, and
    /// each view's offset inside it.
    pub(crate) fn span_of<const N: usize>(
        views: [&CpuBuf<F>; N],
    ) -> Option<(CpuBuf<F>, [usize; N])> {
        let first = views.first()?;
        if views.iter().any(|v| !Rc::ptr_eq(&v.data, &first.data)) {
            return None;
        }
        let start = views.iter().map(|v| v.offset).min()?;
        let end = views.iter().map(|v| v.offset + v.len).max()?;
        let span = CpuBuf {
            data: first.data.clone(),
            offset: start,
            len: end - start,
        };
        Some((span, views.map(|v| v.offset - start)))
    }

    fn to_vec(&self) -> Vec<F> {
        self.data.borrow()[self.offset..self.offset + self.len].to_vec()
    }
}

/// The 32-bit patterns of integer words.
pub(crate) fn u32s<F: Word>(x: &[F]) -> Vec<u32> {
    x.iter().map(|w| w.bits32()).collect()
}
pub(crate) fn i32s<F: Word>(x: &[F]) -> Vec<i32> {
    x.iter().map(|w| w.bits32() as i32).collect()
}
/// Stores integers as words.
pub(crate) fn put_u32s<F: Word>(out: &mut [F], values: &[u32]) {
    for (o, &v) in out.iter_mut().zip(values) {
        *o = F::from_bits32(v);
    }
}
pub(crate) fn put_i32s<F: Word>(out: &mut [F], values: &[i32]) {
    for (o, &v) in out.iter_mut().zip(values) {
        *o = F::from_bits32(v as u32);
    }
}
