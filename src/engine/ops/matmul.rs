//! Batched matrix multiplication with transposes and accumulation (the
//! linear layers' forward, input gradient and weight gradient), and the
//! bias add and bias gradient. Kernels: `shaders/matmul.wgsl`,
//! `shaders/bias.wgsl`.

use crate::engine::gpu::{GpuBackend, GpuBuf, Kernel};
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

/// Rows of C in parallel; each entry sums over k in increasing order.
/// op(B) is made contiguous first, so the inner loop runs over adjacent
/// words and vectorises.
pub fn cpu<F: Float + Send + Sync>(s: &MatmulSpec, a: &[F], b: &[F], c: &mut [F]) {
    let [(ars, acs), (brs, bcs)] = s.strides();
    for bt in 0..s.batch {
        let (ao, bo, co) = (bt * s.stride_a, bt * s.stride_b, bt * s.stride_c);
        let op_b: Vec<F> = if bcs == 1 && brs == s.n {
            b[bo..bo + s.k * s.n].to_vec()
        } else {
            (0..s.k * s.n)
                .map(|x| b[bo + (x / s.n) * brs + (x % s.n) * bcs])
                .collect()
        };
        // Blocks of rows per task keep rayon's overhead small for the
        // model's thin products.
        let rows_per_task = (16384 / (s.n * s.k).max(1)).clamp(1, 64);
        c[co..co + s.m * s.n]
            .par_chunks_mut((s.n * rows_per_task).max(1))
            .enumerate()
            .for_each(|(block, out)| {
                let mut acc = vec![F::zero(); s.n];
                for (r, out_row) in out.chunks_mut(s.n.max(1)).enumerate() {
                    let i = block * rows_per_task + r;
                    acc.fill(F::zero());
                    for (kk, b_row) in op_b.chunks(s.n.max(1)).enumerate().take(s.k) {
                        let x = a[ao + i * ars + kk * acs];
                        for (acc, &y) in acc.iter_mut().zip(b_row) {
                            *acc = *acc + x * y;
                        }
                    }
                    for (o, &acc) in out_row.iter_mut().zip(&acc) {
                        *o = if s.accumulate { *o + acc } else { acc };
                    }
                }
            });
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
    accumulate: u32,
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
    _pad: [u32; 2],
}

/// Rows and columns of C per thread (TM, TN in `matmul.wgsl`); a
/// workgroup of `gpu.workgroup` lanes covers TM × (lanes·TN) of C.
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
    let [(ars, acs), (brs, bcs)] = s.strides();
    let p = MatmulParams {
        m: s.m as u32,
        n: s.n as u32,
        k: s.k as u32,
        accumulate: s.accumulate as u32,
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
        _pad: [0; 2],
    };
    let lanes = gpu.workgroup as usize;
    let (entry, [rows, cols]) = if vec4_aligned(s, &p) {
        ("matmul_vec4", VEC4_TILE)
    } else {
        ("matmul", TILE)
    };
    let groups = [
        s.n.div_ceil(cols * lanes) as u32,
        s.m.div_ceil(rows) as u32,
        s.batch as u32,
    ];
    let kernel = Kernel {
        family: "matmul",
        source: MATMUL_WGSL,
        entry,
    };
    gpu.launch(kernel, &p, &[a, b, c], groups);
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BiasParams {
    rows: u32,
    cols: u32,
    x_off: u32,
    bias_off: u32,
}

pub fn launch_bias_add(gpu: &mut GpuBackend, rows: usize, cols: usize, y: &GpuBuf, bias: &GpuBuf) {
    let p = BiasParams {
        rows: rows as u32,
        cols: cols as u32,
        x_off: y.off(),
        bias_off: bias.off(),
    };
    let kernel = Kernel {
        family: "bias",
        source: BIAS_WGSL,
        entry: "bias_add",
    };
    let groups = gpu.grid(rows * cols);
    gpu.launch(kernel, &p, &[y, bias], groups);
}

pub fn launch_bias_backward(
    gpu: &mut GpuBackend,
    rows: usize,
    cols: usize,
    dy: &GpuBuf,
    dbias: &GpuBuf,
) {
    let p = BiasParams {
        rows: rows as u32,
        cols: cols as u32,
        x_off: dy.off(),
        bias_off: dbias.off(),
    };
    let kernel = Kernel {
        family: "bias",
        source: BIAS_WGSL,
        entry: "bias_backward",
    };
    let groups = gpu.grid(cols);
    gpu.launch(kernel, &p, &[dy, dbias], groups);
}
