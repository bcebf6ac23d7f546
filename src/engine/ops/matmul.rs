//! Batched matrix multiplication with transposes and accumulation (the
//! linear layers' forward, input gradient and weight gradient), and the
//! bias add and bias gradient. Kernels: `shaders/matmul.wgsl`,
//! `shaders/bias.wgsl`.

use crate::engine::gpu::{GpuBackend, GpuBuf, Kernel};
use num_traits::Float;

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

pub fn cpu<F: Float>(s: &MatmulSpec, a: &[F], b: &[F], c: &mut [F]) {
    let [(ars, acs), (brs, bcs)] = s.strides();
    for bt in 0..s.batch {
        let (ao, bo, co) = (bt * s.stride_a, bt * s.stride_b, bt * s.stride_c);
        for i in 0..s.m {
            for j in 0..s.n {
                let mut acc = F::zero();
                for kk in 0..s.k {
                    acc = acc + a[ao + i * ars + kk * acs] * b[bo + kk * brs + j * bcs];
                }
                let out = &mut c[co + i * s.n + j];
                *out = if s.accumulate { *out + acc } else { acc };
            }
        }
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

/// dbias[c] += Σ_r dy[r][c], summed in increasing r.
pub fn bias_backward_cpu<F: Float>(rows: usize, cols: usize, dy: &[F], dbias: &mut [F]) {
    for c in 0..cols {
        let mut s = F::zero();
        for r in 0..rows {
            s = s + dy[r * cols + c];
        }
        dbias[c] = dbias[c] + s;
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

/// Outputs per thread along m and n, and threads per workgroup along m and
/// n (as in `matmul.wgsl`): a workgroup covers a 32×64 tile of C.
const TILE: [usize; 2] = [4, 4];
const THREADS: [usize; 2] = [8, 16];

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
    let groups = [
        s.n.div_ceil(TILE[1] * THREADS[1]) as u32,
        s.m.div_ceil(TILE[0] * THREADS[0]) as u32,
        s.batch as u32,
    ];
    let kernel = Kernel {
        family: "matmul",
        source: MATMUL_WGSL,
        entry: "matmul",
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
