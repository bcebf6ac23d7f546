//! Batched matrix multiplication with transposes and accumulation (the
//! linear layers' input and weight gradients), the linear layer's forward
//! with its bias, residual or GELU fused into the store, and the bias add
//! and bias gradient. Kernels: `shaders/matmul.wgsl`, `shaders/bias.wgsl`.

use super::elementwise::gelu;
use crate::engine::cpu::{CpuBackend, CpuBuf, Word};
use crate::engine::gpu::{GpuBackend, GpuBuf, Kernel};
use crate::engine::word::{ActivationExp, Gemm};
use num_traits::Float;
use rayon::prelude::*;

pub const MATMUL_WGSL: &str = include_str!("../../../shaders/matmul.wgsl");
pub const BIAS_WGSL: &str = include_str!("../../../shaders/bias.wgsl");

/// C[b] (+)= op(A[b]) · op(B[b]) for b < batch, with C[b] an m×n row-major
/// matrix. A[b] is stored m×k (k×m when `trans_a`), B[b] k×n (n×k when
/// `trans_b`), both row-major. Batch strides are in words; a stride of 0
/// shares one matrix across the batch (a weight).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulSpec {
    pub batch: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub accumulate: bool,
    pub stride_a: usize,
    pub stride_b: usize,
    pub stride_c: usize,
}

impl MatmulSpec {
    /// C = A·B for one m×k by k×n product.
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        MatmulSpec {
            batch: 1,
            m,
            n,
            k,
            trans_a: false,
            trans_b: false,
            accumulate: false,
            stride_a: m * k,
            stride_b: k * n,
            stride_c: m * n,
        }
    }
    pub fn trans_a(mut self) -> Self {
        self.trans_a = true;
        self
    }
    pub fn trans_b(mut self) -> Self {
        self.trans_b = true;
        self
    }
    pub fn accumulate(mut self) -> Self {
        self.accumulate = true;
        self
    }
    /// `batch` products with contiguous matrices; `share_b` uses one B for all.
    pub fn batched(mut self, batch: usize, share_b: bool) -> Self {
        self.batch = batch;
        if share_b {
            self.stride_b = 0;
        }
        self
    }
    /// Words of A, B and C the product reads or writes.
    pub fn extents(&self) -> [usize; 3] {
        let last = |stride: usize, size: usize| stride * (self.batch - 1) + size;
        [
            last(self.stride_a, self.m * self.k),
            last(self.stride_b, self.k * self.n),
            last(self.stride_c, self.m * self.n),
        ]
    }
    pub fn flops(&self) -> f64 {
        2.0 * (self.batch * self.m * self.n * self.k) as f64
    }
    /// (row stride, column stride) of op(A) and op(B).
    fn strides(&self) -> [(usize, usize); 2] {
        let a = if self.trans_a {
            (1, self.m)
        } else {
            (self.k, 1)
        };
        let b = if self.trans_b {
            (1, self.k)
        } else {
            (self.n, 1)
        };
        [a, b]
    }
}

/// What a linear layer's kernel does to x·W before storing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Epilogue {
    /// y = x·W + bias.
    Bias,
    /// y = x·W + bias + extra: a sub-layer's output plus its residual input.
    BiasResidual,
    /// extra = x·W + bias (the pre-activation, kept for the backward
    /// pass), y = gelu(extra).
    BiasGelu,
}

/// A linear layer's forward on `rows` rows: x is rows × inp, W inp × out,
/// bias out, y and extra rows × out, all row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearSpec {
    pub rows: usize,
    pub inp: usize,
    pub out: usize,
    pub epilogue: Epilogue,
}

impl LinearSpec {
    pub fn new(rows: usize, inp: usize, out: usize, epilogue: Epilogue) -> Self {
        LinearSpec {
            rows,
            inp,
            out,
            epilogue,
        }
    }
    pub fn product(&self) -> MatmulSpec {
        MatmulSpec::new(self.rows, self.out, self.inp)
    }
}

/// Products below this many multiply-adds run on the calling thread:
/// rayon's hand-off costs more than they do.
const PARALLEL_WORK: usize = 1 << 16;

/// C = op(A)·op(B) (+ C when accumulating), batch by batch, through the
/// GEMM; batches and blocks of rows of C run in parallel.
pub fn cpu<F: Float + Send + Sync + Gemm>(s: &MatmulSpec, a: &[F], b: &[F], c: &mut [F]) {
    let [(ars, acs), (brs, bcs)] = s.strides();
    let [ea, eb, ec] = s.extents();
    assert!(
        a.len() >= ea && b.len() >= eb && c.len() >= ec,
        "matmul {s:?} needs {ea}, {eb}, {ec} words, got {}, {}, {}",
        a.len(),
        b.len(),
        c.len()
    );
    if s.m == 0 || s.n == 0 {
        return;
    }
    let beta = if s.accumulate { F::one() } else { F::zero() };
    let (m, n, k) = (s.m, s.n, s.k);
    // One block of rows of one batch: its rows of A, and its C rows.
    let block = |bt: usize, row: usize, rows: usize, out: &mut [F]| {
        let ao = bt * s.stride_a + row * ars;
        let bo = bt * s.stride_b;
        if k == 0 {
            // An empty sum: C = 0, or C unchanged when accumulating.
            if !s.accumulate {
                out.fill(F::zero());
            }
            return;
        }
        // SAFETY: the extents checked above bound every index the strides
        // reach: row < m, column < n, kk < k within each batch.
        unsafe {
            F::gemm(
                rows,
                k,
                n,
                a.as_ptr().add(ao),
                (ars as isize, acs as isize),
                b.as_ptr().add(bo),
                (brs as isize, bcs as isize),
                beta,
                out.as_mut_ptr(),
                n as isize,
            );
        }
    };
    let work = s.batch * m * n * k;
    let threads = rayon::current_num_threads();
    let contiguous = s.batch == 1 || s.stride_c == m * n;
    if work < PARALLEL_WORK || !contiguous {
        for bt in 0..s.batch {
            let co = bt * s.stride_c;
            block(bt, 0, m, &mut c[co..co + m * n]);
        }
        return;
    }
    // Enough tasks for every thread, in whole rows.
    let blocks_per_batch = (2 * threads).div_ceil(s.batch).max(1);
    let rows_per_block = m.div_ceil(blocks_per_batch);
    c[..s.batch * m * n]
        .par_chunks_mut(m * n)
        .enumerate()
        .for_each(|(bt, out)| {
            out.par_chunks_mut(rows_per_block * n)
                .enumerate()
                .for_each(|(i, rows)| block(bt, i * rows_per_block, rows.len() / n, rows));
        });
}

/// The linear layer: the product through the GEMM, then the epilogue row
/// by row. `residual` is read for [`Epilogue::BiasResidual`]; `pre` is
/// written for [`Epilogue::BiasGelu`].
pub fn linear_cpu<F: ActivationExp + Gemm>(
    s: &LinearSpec,
    x: &[F],
    w: &[F],
    bias: &[F],
    residual: Option<&[F]>,
    pre: Option<&mut [F]>,
    y: &mut [F],
) {
    cpu(&s.product(), x, w, y);
    let cols = s.out.max(1);
    let y = &mut y[..s.rows * s.out];
    let bias = &bias[..s.out];
    match (s.epilogue, residual, pre) {
        (Epilogue::Bias, ..) => y.par_chunks_mut(cols).for_each(|row| {
            for (v, &b) in row.iter_mut().zip(bias) {
                *v = *v + b;
            }
        }),
        (Epilogue::BiasResidual, Some(res), _) => y
            .par_chunks_mut(cols)
            .zip(res.par_chunks(cols))
            .for_each(|(row, res)| {
                for ((v, &b), &r) in row.iter_mut().zip(bias).zip(res) {
                    *v = *v + b + r;
                }
            }),
        (Epilogue::BiasGelu, _, Some(pre)) => y
            .par_chunks_mut(cols)
            .zip(pre.par_chunks_mut(cols))
            .for_each(|(row, pre)| {
                for ((v, p), &b) in row.iter_mut().zip(pre.iter_mut()).zip(bias) {
                    *p = *v + b;
                    *v = gelu(*p);
                }
            }),
        (e, ..) => panic!("linear epilogue {e:?} without its extra buffer"),
    }
}

/// y[r][c] += bias[c].
pub fn bias_add_cpu<F: Float>(rows: usize, cols: usize, y: &mut [F], bias: &[F]) {
    for r in 0..rows {
        for c in 0..cols {
            y[r * cols + c] = y[r * cols + c] + bias[c];
        }
    }
}

/// dbias[c] += Σ_r dy[r][c], summed in increasing r (row by row, so the
/// reads are contiguous; each column's order is the kernel's).
pub fn bias_backward_cpu<F: Float>(rows: usize, cols: usize, dy: &[F], dbias: &mut [F]) {
    let mut sums = vec![F::zero(); cols];
    for row in dy.chunks(cols.max(1)).take(rows) {
        for (s, &x) in sums.iter_mut().zip(row) {
            *s = *s + x;
        }
    }
    for (d, s) in dbias.iter_mut().zip(sums) {
        *d = *d + s;
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    /// Bit 0: accumulate; bits 1–2: the epilogue (see `matmul.wgsl`).
    mode: u32,
    a_off: u32,
    a_rs: u32,
    a_cs: u32,
    a_bs: u32,
    b_off: u32,
    b_rs: u32,
    b_cs: u32,
    b_bs: u32,
    c_off: u32,
    c_bs: u32,
    bias_off: u32,
    extra_off: u32,
}

/// Rows and columns of C per thread (TM, TN in `matmul.wgsl`); a
/// workgroup of `gpu.workgroup` lanes covers TM × (lanes·TN) of C in
/// `matmul`, and lanes blocks of TM × TN in `matmul_flat`.
const TILE: [usize; 2] = [4, 4];
/// The same for `matmul_vec4`.
const VEC4_TILE: [usize; 2] = [8, 8];

/// Whether the vec4 fast path applies: A and B untransposed, k a multiple
/// of 4, n of 8, and every offset and batch stride a multiple of 4.
fn vec4_aligned(s: &MatmulSpec, p: &MatmulParams) -> bool {
    !s.trans_a
        && !s.trans_b
        && s.k.is_multiple_of(4)
        && s.n.is_multiple_of(8)
        && [p.a_off, p.a_bs, p.b_off, p.b_bs, p.c_off, p.c_bs]
            .iter()
            .all(|x| x.is_multiple_of(4))
}

pub fn launch(gpu: &mut GpuBackend, s: &MatmulSpec, a: &GpuBuf, b: &GpuBuf, c: &GpuBuf) {
    launch_with(gpu, s, s.accumulate as u32, [a, b, c, c, c]);
}

pub fn launch_linear(
    gpu: &mut GpuBackend,
    s: &LinearSpec,
    x: &GpuBuf,
    w: &GpuBuf,
    bias: &GpuBuf,
    extra: &GpuBuf,
    y: &GpuBuf,
) {
    let epilogue = match s.epilogue {
        Epilogue::Bias => 1,
        Epilogue::BiasResidual => 2,
        Epilogue::BiasGelu => 3,
    };
    launch_with(gpu, &s.product(), epilogue << 1, [x, w, y, bias, extra]);
}

/// The parameter block of a product on A, B, C, bias and extra.
fn params(s: &MatmulSpec, mode: u32, bufs: [&GpuBuf; 5]) -> MatmulParams {
    let [a, b, c, bias, extra] = bufs;
    let [(ars, acs), (brs, bcs)] = s.strides();
    MatmulParams {
        m: s.m as u32,
        n: s.n as u32,
        k: s.k as u32,
        mode,
        a_off: a.off(),
        a_rs: ars as u32,
        a_cs: acs as u32,
        a_bs: s.stride_a as u32,
        b_off: b.off(),
        b_rs: brs as u32,
        b_cs: bcs as u32,
        b_bs: s.stride_b as u32,
        c_off: c.off(),
        c_bs: s.stride_c as u32,
        bias_off: bias.off(),
        extra_off: extra.off(),
    }
}

/// Binds A, B, C, bias and extra (the last two are C when unused).
fn launch_with(gpu: &mut GpuBackend, s: &MatmulSpec, mode: u32, bufs: [&GpuBuf; 5]) {
    let p = params(s, mode, bufs);
    let kernel = choose(gpu, s, &p, vec4_aligned(s, &p));
    dispatch(gpu, kernel, s, &p, bufs);
}

/// The GEMM kernels of `matmul.wgsl`. Each sums every entry of C in
/// increasing k with one fma per step, so all give the same bits (a test
/// holds it): which one runs is a matter of speed alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GemmKernel {
    /// A workgroup covers TM rows by lanes·TN columns of C.
    Wide,
    /// One lane per TM × TN block of C, over a flat grid.
    Flat,
    /// Aligned operands only: 8 × 8 blocks loaded as vec4s.
    Vec4,
}

impl GemmKernel {
    /// Those that can run a product, the rule's choice first.
    fn candidates(s: &MatmulSpec, aligned: bool, lanes: usize) -> Vec<GemmKernel> {
        let narrow = s.n < TILE[1] * lanes;
        let mut c = if narrow {
            vec![GemmKernel::Flat, GemmKernel::Wide]
        } else {
            vec![GemmKernel::Wide, GemmKernel::Flat]
        };
        if aligned {
            c.insert(0, GemmKernel::Vec4);
        }
        c
    }

    /// The entry point; `fused` ones apply an epilogue (the plain ones
    /// leave it out entirely, which is what makes them fast).
    fn entry(self, fused: bool) -> &'static str {
        match (self, fused) {
            (GemmKernel::Wide, false) => "matmul",
            (GemmKernel::Flat, false) => "matmul_flat",
            (GemmKernel::Vec4, false) => "matmul_vec4",
            (GemmKernel::Wide, true) => "matmul_fused",
            (GemmKernel::Flat, true) => "matmul_flat_fused",
            (GemmKernel::Vec4, true) => "matmul_vec4_fused",
        }
    }

    fn groups(self, gpu: &GpuBackend, s: &MatmulSpec) -> [u32; 3] {
        let lanes = gpu.workgroup as usize;
        let [rows, cols] = if self == GemmKernel::Vec4 {
            VEC4_TILE
        } else {
            TILE
        };
        match self {
            GemmKernel::Flat => {
                let blocks = s.m.div_ceil(rows) * s.n.div_ceil(cols);
                let [x, y, _] = gpu.grid(blocks);
                [x, y, s.batch as u32]
            }
            _ => [s.n.div_ceil(cols * lanes), s.m.div_ceil(rows), s.batch].map(|g| g as u32),
        }
    }
}

/// Products with fewer multiply-adds keep the rule's kernel: their
/// dispatch overhead hides the difference, and tuning them would cost more
/// than it saves.
const TUNED_WORK: usize = 1 << 15;

/// The kernel for a product: the rule's for small products or with tuning
/// off; otherwise the fastest of the candidates, measured once per shape on
/// this adapter (scratch operands, the recorded work flushed first).
fn choose(gpu: &mut GpuBackend, s: &MatmulSpec, p: &MatmulParams, aligned: bool) -> GemmKernel {
    let candidates = GemmKernel::candidates(s, aligned, gpu.workgroup as usize);
    if !gpu.tuning || candidates.len() < 2 || s.batch * s.m * s.n * s.k < TUNED_WORK {
        return candidates[0];
    }
    // One choice per shape, layout and epilogue.
    let key = (
        "matmul",
        [
            s.batch,
            s.m,
            s.n,
            s.k,
            s.trans_a as usize,
            s.trans_b as usize,
            aligned as usize,
            p.mode as usize,
        ]
        .map(|x| x as u32),
    );
    let pick = match gpu.tuned.get(&key) {
        Some(&i) => i,
        None => {
            let i = fastest(gpu, s, p.mode, &candidates).unwrap_or(0);
            gpu.tuned.insert(key, i);
            i
        }
    };
    candidates[pick]
}

/// The index of the fastest candidate on scratch operands shaped like the
/// product, with its epilogue (bias and extra read from C's scratch): the
/// best of two timings of three dispatches each, after one dispatch that
/// builds the pipeline. Another kernel replaces the rule's only when it is
/// [`TUNED_MARGIN`] faster, so noise cannot flip a choice. `None` when the
/// scratch cannot be allocated.
fn fastest(
    gpu: &mut GpuBackend,
    s: &MatmulSpec,
    mode: u32,
    candidates: &[GemmKernel],
) -> Option<usize> {
    let [ea, eb, ec] = s.extents();
    let (a, b, c) = (
        gpu.alloc_words(ea).ok()?,
        gpu.alloc_words(eb).ok()?,
        gpu.alloc_words(ec).ok()?,
    );
    let p = params(s, mode, [&a, &b, &c, &c, &c]);
    gpu.flush_all();
    let times: Vec<std::time::Duration> = candidates
        .iter()
        .map(|&kernel| {
            dispatch(gpu, kernel, s, &p, [&a, &b, &c, &c, &c]);
            gpu.flush_all();
            (0..2)
                .map(|_| {
                    for _ in 0..3 {
                        dispatch(gpu, kernel, s, &p, [&a, &b, &c, &c, &c]);
                    }
                    gpu.time_work()
                })
                .min()
                .expect("two timings")
        })
        .collect();
    gpu.forget_buffers(&[&a, &b, &c]);
    let (best, t) = times
        .iter()
        .enumerate()
        .min_by_key(|(_, t)| **t)
        .expect("candidates");
    Some(if t.as_secs_f64() * TUNED_MARGIN < times[0].as_secs_f64() {
        best
    } else {
        0
    })
}

/// How much faster than the rule's kernel another must measure to be chosen.
const TUNED_MARGIN: f64 = 1.15;

fn dispatch(
    gpu: &mut GpuBackend,
    kernel: GemmKernel,
    s: &MatmulSpec,
    p: &MatmulParams,
    bufs: [&GpuBuf; 5],
) {
    let groups = kernel.groups(gpu, s);
    let fused = p.mode >> 1 != 0;
    let k = Kernel::new("matmul", MATMUL_WGSL, kernel.entry(fused));
    gpu.launch(k, p, &bufs, groups);
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BiasParams {
    rows: u32,
    cols: u32,
    x_off: u32,
    bias_off: u32,
}

/// A bias kernel over a rows × cols matrix `x` and its bias row:
/// `bias_add` (one thread per element) or `bias_backward` (one per column).
fn launch_bias(
    gpu: &mut GpuBackend,
    entry: &'static str,
    [rows, cols]: [usize; 2],
    x: &GpuBuf,
    bias: &GpuBuf,
    threads: usize,
) {
    let p = BiasParams {
        rows: rows as u32,
        cols: cols as u32,
        x_off: x.off(),
        bias_off: bias.off(),
    };
    let groups = gpu.grid(threads);
    gpu.launch(
        Kernel::new("bias", BIAS_WGSL, entry),
        &p,
        &[x, bias],
        groups,
    );
}

family! {
    /// Products and linear layers.
    pub trait LinearOps {
        /// C (+)= op(A) op(B), batched (see [`MatmulSpec`]).
        fn matmul(&mut self, spec: &MatmulSpec, a: &Self::Buf, b: &Self::Buf, c: &Self::Buf)
            as match (spec.trans_a, spec.trans_b) {
                // The weight gradient (Aᵀ·B) and the input gradient (A·Bᵀ)
                // have their own memory patterns, so their own rows.
                (false, false) => "matmul",
                (true, false) => "matmul Aᵀ·B",
                (false, true) => "matmul A·Bᵀ",
                (true, true) => "matmul Aᵀ·Bᵀ",
            };
        /// A linear layer, y = x·W + bias, with its epilogue (residual or
        /// GELU, see [`Epilogue`]) in the same kernel. `extra` is read for
        /// the residual and written for the GELU's pre-activation; with
        /// [`Epilogue::Bias`] it is unused (pass `y`).
        fn linear(
            &mut self,
            spec: &LinearSpec,
            x: &Self::Buf,
            w: &Self::Buf,
            bias: &Self::Buf,
            extra: &Self::Buf,
            y: &Self::Buf,
        )
            as match spec.epilogue {
                Epilogue::Bias => "linear",
                Epilogue::BiasResidual => "linear + residual",
                Epilogue::BiasGelu => "linear + gelu",
            };
        /// y[r][c] += bias[c] for a rows × cols matrix.
        fn bias_add(&mut self, rows: usize, cols: usize, y: &Self::Buf, bias: &Self::Buf)
            as "bias add";
        /// dbias[c] += Σ_r dy[r][c] (the bias gradient).
        fn bias_backward(&mut self, rows: usize, cols: usize, dy: &Self::Buf, dbias: &Self::Buf)
            as "bias backward";
    }
}

impl<F: Word> LinearOps for CpuBackend<F> {
    fn matmul(&mut self, spec: &MatmulSpec, a: &CpuBuf<F>, b: &CpuBuf<F>, c: &CpuBuf<F>) {
        Self::run([a, b], [c], |[a, b], [c]| cpu(spec, a, b, c));
    }

    fn linear(
        &mut self,
        spec: &LinearSpec,
        x: &CpuBuf<F>,
        w: &CpuBuf<F>,
        bias: &CpuBuf<F>,
        extra: &CpuBuf<F>,
        y: &CpuBuf<F>,
    ) {
        match spec.epilogue {
            Epilogue::Bias => Self::run([x, w, bias], [y], |[x, w, bias], [y]| {
                linear_cpu(spec, x, w, bias, None, None, y)
            }),
            Epilogue::BiasResidual => {
                Self::run([x, w, bias, extra], [y], |[x, w, bias, res], [y]| {
                    linear_cpu(spec, x, w, bias, Some(res), None, y)
                })
            }
            Epilogue::BiasGelu => Self::run([x, w, bias], [extra, y], |[x, w, bias], [pre, y]| {
                linear_cpu(spec, x, w, bias, None, Some(pre), y)
            }),
        }
    }

    fn bias_add(&mut self, rows: usize, cols: usize, y: &CpuBuf<F>, bias: &CpuBuf<F>) {
        Self::run([bias], [y], |[bias], [y]| bias_add_cpu(rows, cols, y, bias));
    }

    fn bias_backward(&mut self, rows: usize, cols: usize, dy: &CpuBuf<F>, dbias: &CpuBuf<F>) {
        Self::run([dy], [dbias], |[dy], [db]| {
            bias_backward_cpu(rows, cols, dy, db)
        });
    }
}

impl LinearOps for GpuBackend {
    fn matmul(&mut self, spec: &MatmulSpec, a: &GpuBuf, b: &GpuBuf, c: &GpuBuf) {
        launch(self, spec, a, b, c);
    }

    fn linear(
        &mut self,
        spec: &LinearSpec,
        x: &GpuBuf,
        w: &GpuBuf,
        bias: &GpuBuf,
        extra: &GpuBuf,
        y: &GpuBuf,
    ) {
        launch_linear(self, spec, x, w, bias, extra, y);
    }

    fn bias_add(&mut self, rows: usize, cols: usize, y: &GpuBuf, bias: &GpuBuf) {
        launch_bias(self, "bias_add", [rows, cols], y, bias, rows * cols);
    }

    fn bias_backward(&mut self, rows: usize, cols: usize, dy: &GpuBuf, dbias: &GpuBuf) {
        launch_bias(self, "bias_backward", [rows, cols], dy, dbias, cols);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// C = op(A)·op(B) (+ C) by the definition, in f64.
    fn naive(s: &MatmulSpec, a: &[f64], b: &[f64], c: &mut [f64]) {
        let [(ars, acs), (brs, bcs)] = s.strides();
        for bt in 0..s.batch {
            for i in 0..s.m {
                for j in 0..s.n {
                    let mut sum = 0.0;
                    for kk in 0..s.k {
                        sum += a[bt * s.stride_a + i * ars + kk * acs]
                            * b[bt * s.stride_b + kk * brs + j * bcs];
                    }
                    let out = &mut c[bt * s.stride_c + i * s.n + j];
                    *out = if s.accumulate { *out + sum } else { sum };
                }
            }
        }
    }

    #[test]
    fn gemm_agrees_with_the_definition_on_ragged_shapes_and_transposes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let shapes = [
            (1, 1, 1),
            (3, 5, 7),
            (17, 1, 9),
            (65, 33, 19),
            (128, 96, 40),
            (5, 130, 1),
        ];
        for &(m, n, k) in &shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for (batch, share_b, accumulate) in
                    [(1, false, false), (3, false, true), (4, true, false)]
                {
                    let mut s = MatmulSpec::new(m, n, k).batched(batch, share_b);
                    s.trans_a = ta;
                    s.trans_b = tb;
                    s.accumulate = accumulate;
                    let [ea, eb, ec] = s.extents();
                    let mut draw = |len: usize| -> Vec<f64> {
                        (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
                    };
                    let (a, b, c0) = (draw(ea), draw(eb), draw(ec));
                    let mut want = c0.clone();
                    naive(&s, &a, &b, &mut want);
                    let mut got = c0.clone();
                    cpu(&s, &a, &b, &mut got);
                    for (g, w) in got.iter().zip(&want) {
                        assert!(
                            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                            "{s:?}: {g} vs {w}"
                        );
                    }
                    let narrow = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
                    let mut got32 = narrow(&c0);
                    cpu(&s, &narrow(&a), &narrow(&b), &mut got32);
                    for (g, w) in got32.iter().zip(&want) {
                        let tol = 1e-5 * (1.0 + k as f64).sqrt() * (1.0 + w.abs());
                        assert!((*g as f64 - w).abs() <= tol, "f32 {s:?}: {g} vs {w}");
                    }
                }
            }
        }
    }

    /// Every kernel that can run a product gives the same bits, so tuning
    /// cannot change a result; a shape is tuned once and its pick kept.
    #[test]
    fn every_gemm_kernel_gives_the_same_bits_and_a_shape_is_tuned_once() {
        use crate::engine::Memory;
        let Some(mut gpu) = crate::engine::gpu::adapters::gpu_or_skip() else {
            return;
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let cases = [
            (1, 33, 72, 20, false, false, false),
            (2, 64, 64, 64, false, false, true),
            (1, 40, 24, 48, true, false, false),
            (3, 17, 130, 9, false, true, false),
        ];
        for (batch, m, n, k, ta, tb, accumulate) in cases {
            let mut s = MatmulSpec::new(m, n, k).batched(batch, false);
            s.trans_a = ta;
            s.trans_b = tb;
            s.accumulate = accumulate;
            let [ea, eb, ec] = s.extents();
            let mut draw = |len: usize| -> Vec<f32> {
                (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
            };
            let (a0, b0, c0) = (draw(ea), draw(eb), draw(ec));
            let (a, b, c) = (
                gpu.alloc(ea).unwrap(),
                gpu.alloc(eb).unwrap(),
                gpu.alloc(ec).unwrap(),
            );
            gpu.write_f32(&a, &a0);
            gpu.write_f32(&b, &b0);
            let p = params(&s, accumulate as u32, [&a, &b, &c, &c, &c]);
            let aligned = vec4_aligned(&s, &p);
            let candidates = GemmKernel::candidates(&s, aligned, gpu.workgroup as usize);
            assert!(candidates.len() >= 2, "{s:?}");
            let mut results = Vec::new();
            for &kernel in &candidates {
                gpu.write_f32(&c, &c0);
                dispatch(&mut gpu, kernel, &s, &p, [&a, &b, &c, &c, &c]);
                results.push(gpu.read_u32(&c));
            }
            for (kernel, r) in candidates.iter().zip(&results) {
                assert_eq!(
                    r, &results[0],
                    "{kernel:?} against {:?}, {s:?}",
                    candidates[0]
                );
            }
            gpu.tuned.clear();
            gpu.write_f32(&c, &c0);
            launch(&mut gpu, &s, &a, &b, &c);
            assert_eq!(gpu.read_u32(&c), results[0], "tuned {s:?}");
            assert_eq!(gpu.tuned.len(), 1, "{s:?}");
            assert!(*gpu.tuned.values().next().unwrap() < candidates.len());
            let before = gpu.counts();
            launch(&mut gpu, &s, &a, &b, &c);
            gpu.flush();
            let ran = gpu.counts() - before;
            assert_eq!((ran.dispatches, ran.submits), (1, 1), "no second tuning");
        }
    }
}
