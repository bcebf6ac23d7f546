//! The words the CPU backend computes in, f32 or f64, and what its
//! references need of them: a GEMM and a fast exponential. They sit below
//! both the backend and the kernel families.

use num_traits::Float;

/// A storage word: f32 or f64. Integer buffers (tokens, game states) keep
/// their 32-bit patterns in words and are converted at each operation.
pub trait Word:
    Float + Send + Sync + Default + std::fmt::Debug + Gemm + ActivationExp + 'static
{
    fn widen(x: f32) -> Self;
    fn narrow(self) -> f32;
    fn from_bits32(x: u32) -> Self;
    fn bits32(self) -> u32;
    /// The full bit pattern, to tell whether an operation changed a word.
    fn bits64(self) -> u64;
}

impl Word for f32 {
    fn widen(x: f32) -> Self {
        x
    }
    fn narrow(self) -> f32 {
        self
    }
    fn from_bits32(x: u32) -> Self {
        f32::from_bits(x)
    }
    fn bits32(self) -> u32 {
        self.to_bits()
    }
    fn bits64(self) -> u64 {
        self.to_bits() as u64
    }
}

impl Word for f64 {
    fn widen(x: f32) -> Self {
        x as f64
    }
    fn narrow(self) -> f32 {
        self as f32
    }
    fn from_bits32(x: u32) -> Self {
        f64::from_bits(x as u64)
    }
    fn bits32(self) -> u32 {
        self.to_bits() as u32
    }
    fn bits64(self) -> u64 {
        self.to_bits()
    }
}

/// Products of at most this many columns go through the gemm crate in f32;
/// wider ones through matrixmultiply. Measured on one core of an AVX-512
/// EPYC (`examples/gemm_compare.rs`, docs/design.md §7): gemm is 1.1–2.3×
/// faster at the network's narrow products (16 to 64 columns) and
/// matrixmultiply up to 1.25× faster at 192 to 256 columns.
pub const NARROW_GEMM: usize = 64;

/// A float type with a GEMM: C = A·B + beta·C on strided matrices, with
/// packed, register-blocked kernels chosen at run time for what the CPU
/// has (AVX2/FMA or AVX-512), so one binary uses it: matrixmultiply, and
/// in f32 the gemm crate for narrow products ([`NARROW_GEMM`]).
pub trait Gemm: Copy {
    /// # Safety
    /// Every element the strides reach in `a`, `b` and `c` must be in bounds.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        a_strides: (isize, isize),
        b: *const Self,
        b_strides: (isize, isize),
        beta: Self,
        c: *mut Self,
        c_row_stride: isize,
    );
}

impl Gemm for f32 {
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: *const f32,
        (ars, acs): (isize, isize),
        b: *const f32,
        (brs, bcs): (isize, isize),
        beta: f32,
        c: *mut f32,
        crs: isize,
    ) {
        if n <= NARROW_GEMM {
            // The gemm crate's kernels, whose alpha scales C (read only
            // when accumulating) and whose beta scales the product.
            gemm::gemm(
                m,
                n,
                k,
                c,
                1,
                crs,
                beta != 0.0,
                a,
                acs,
                ars,
                b,
                bcs,
                brs,
                beta,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        } else {
            matrixmultiply::sgemm(m, k, n, 1.0, a, ars, acs, b, brs, bcs, beta, c, crs, 1);
        }
    }
}

impl Gemm for f64 {
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: *const f64,
        (ars, acs): (isize, isize),
        b: *const f64,
        (brs, bcs): (isize, isize),
        beta: f64,
        c: *mut f64,
        crs: isize,
    ) {
        matrixmultiply::dgemm(m, k, n, 1.0, a, ars, acs, b, brs, bcs, beta, c, crs, 1);
    }
}

/// The exponential of the activations. f32 uses a branch-free polynomial
/// that the compiler vectorises (libm's expf is a call per element, and
/// was most of the GELU's time); f64 keeps the exact one, for the
/// gradient checks.
pub trait ActivationExp: Float + Send + Sync {
    fn act_exp(self) -> Self;
}

impl ActivationExp for f64 {
    #[inline(always)]
    fn act_exp(self) -> f64 {
        self.exp()
    }
}

impl ActivationExp for f32 {
    /// e^x = 2^n · e^r with n = round(x / ln 2) and |r| ≤ ln 2 / 2; e^r by
    /// its Taylor polynomial to degree 7 (truncation below 1e-8 relative),
    /// 2^n built in the exponent bits. Relative error under 3e-7.
    #[inline(always)]
    fn act_exp(self) -> f32 {
        const LOG2E: f32 = std::f32::consts::LOG2_E;
        const LN2_HI: f32 = 0.693_145_75;
        const LN2_LO: f32 = 1.428_606_8e-6;
        // Adding and subtracting 1.5·2^23 rounds to the nearest integer
        // in plain SSE2 arithmetic (no call to a rounding function).
        const ROUND: f32 = 12_582_912.0;
        let x = self.clamp(-87.0, 88.0);
        let n = (x * LOG2E + ROUND) - ROUND;
        let r = (x - n * LN2_HI) - n * LN2_LO;
        let p = 1.0
            + r * (1.0
                + r * (0.5
                    + r * (1.0 / 6.0
                        + r * (1.0 / 24.0
                            + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
        let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
        p * scale
    }
}
