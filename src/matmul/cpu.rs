//! C = A·B on the CPU with a scheme applied recursively: at each level A
//! is cut into n×m blocks and B into m×p blocks; for each term the block
//! combinations Σu·A and Σv·B are formed (rows in parallel, with rayon)
//! and multiplied (by the next level, or by the engine's f32 GEMM at the
//! last); then each block of C is formed in one pass from the products
//! that feed it, with w. A term whose combination is a single block
//! reads that block in place (a strided view) and carries its
//! coefficient into w, so it costs no pass over memory. A size that does
//! not divide is padded with zeros to the next multiple, and the result
//! cropped: zero rows and columns add nothing to the products.

use super::scheme::RealScheme;
use crate::engine::word::Gemm;
use rayon::prelude::*;

/// Row-major matrix dimensions: `rows` × `cols`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    /// Rows of A and C.
    pub n: usize,
    /// Columns of A, rows of B.
    pub k: usize,
    /// Columns of B and C.
    pub m: usize,
}

/// C = A·B by the engine's GEMM (one thread), in f32 or f64.
pub fn gemm<F: Gemm + Default>(a: &[F], b: &[F], d: Dims) -> Vec<F> {
    assert!(a.len() == d.n * d.k && b.len() == d.k * d.m);
    let mut c = vec![F::default(); d.n * d.m];
    gemm_views(View::whole(a, d.n, d.k), View::whole(b, d.k, d.m), &mut c);
    c
}

/// C = A·B in f32: the baseline, and the block products at the last level.
pub fn sgemm(a: &[f32], b: &[f32], d: Dims) -> Vec<f32> {
    gemm(a, b, d)
}

/// C = A·B in f64: the reference errors are measured against.
pub fn dgemm(a: &[f64], b: &[f64], d: Dims) -> Vec<f64> {
    gemm(a, b, d)
}

/// C = A·B in f64 from f32 matrices: what errors are measured against.
pub fn reference(a: &[f32], b: &[f32], d: Dims) -> Vec<f64> {
    let wide = |x: &[f32]| x.iter().map(|&v| v as f64).collect::<Vec<f64>>();
    dgemm(&wide(a), &wide(b), d)
}

/// A row-major matrix inside a larger one: `rows` × `cols`, its rows
/// `stride` elements apart, starting at `data[0]`.
#[derive(Clone, Copy)]
struct View<'a, F> {
    data: &'a [F],
    rows: usize,
    cols: usize,
    stride: usize,
}

impl<'a, F> View<'a, F> {
    fn whole(data: &'a [F], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols);
        View {
            data,
            rows,
            cols,
            stride: cols,
        }
    }

    /// Block `at` of a grid with `per_row` blocks to a block row, each
    /// `rows` × `cols`.
    fn block(self, at: usize, per_row: usize, rows: usize, cols: usize) -> Self {
        let (bi, bj) = (at / per_row, at % per_row);
        View {
            data: &self.data[bi * rows * self.stride + bj * cols..],
            rows,
            cols,
            stride: self.stride,
        }
    }

    fn row(&self, r: usize) -> &'a [F] {
        &self.data[r * self.stride..r * self.stride + self.cols]
    }

    /// Whether every element the view names lies in `data`.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.stride + self.cols <= self.data.len()
    }
}

/// c (contiguous, a.rows × b.cols) = A·B by the engine's GEMM.
fn gemm_views<F: Gemm + Default>(a: View<F>, b: View<F>, c: &mut [F]) {
    assert!(a.cols == b.rows && c.len() == a.rows * b.cols);
    assert!(a.in_bounds() && b.in_bounds());
    if a.rows == 0 || b.cols == 0 {
        return;
    }
    // SAFETY: both views are in bounds (checked above), and c holds
    // a.rows · b.cols elements, rows b.cols apart.
    unsafe {
        F::gemm(
            a.rows,
            a.cols,
            b.cols,
            a.data.as_ptr(),
            (a.stride as isize, 1),
            b.data.as_ptr(),
            (b.stride as isize, 1),
            F::default(),
            c.as_mut_ptr(),
            b.cols as isize,
        );
    }
}

/// C = A·B with `levels` levels of the scheme, then sgemm.
pub fn multiply(s: &RealScheme, levels: usize, a: &[f32], b: &[f32], d: Dims) -> Vec<f32> {
    Multiplier::new(s, levels).multiply(a, b, d)
}

/// A scheme applied `levels` deep, with the scratch of every level kept
/// between products: a caller multiplying many times pays for the
/// buffers (and the page faults of their first touch) once.
pub struct Multiplier<'s> {
    scheme: &'s RealScheme,
    work: Vec<Buffers>,
}

impl<'s> Multiplier<'s> {
    pub fn new(scheme: &'s RealScheme, levels: usize) -> Self {
        Multiplier {
            scheme,
            work: (0..levels).map(|_| Buffers::default()).collect(),
        }
    }

    /// C = A·B.
    pub fn multiply(&mut self, a: &[f32], b: &[f32], d: Dims) -> Vec<f32> {
        let mut c = vec![0.0f32; d.n * d.m];
        multiply_into(
            self.scheme,
            View::whole(a, d.n, d.k),
            View::whole(b, d.k, d.m),
            &mut c,
            &mut self.work,
        );
        c
    }
}

/// Elements a parallel task of a combination takes at least: below this
/// waking the other threads costs more than the additions.
const MIN_TASK: usize = 1 << 15;

/// One level's scratch, kept across the calls of that level (a deeper
/// level runs once per term of the one above): the combined operands
/// and every term's product.
#[derive(Default)]
struct Buffers {
    a: Vec<f32>,
    b: Vec<f32>,
    products: Vec<f32>,
}

/// Resizes `v` to `len` elements (keeping its allocation) and returns it.
fn sized(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    v.resize(len, 0.0);
    &mut v[..len]
}

/// c (contiguous, overwritten) = A·B with one level of the scheme per
/// entry of `work`, then sgemm.
fn multiply_into(s: &RealScheme, a: View<f32>, b: View<f32>, c: &mut [f32], work: &mut [Buffers]) {
    let d = Dims {
        n: a.rows,
        k: a.cols,
        m: b.cols,
    };
    let (bn, bk, bm) = (s.shape.n, s.shape.m, s.shape.p);
    let Some((here, deeper)) = work.split_first_mut() else {
        return gemm_views(a, b, c);
    };
    if d.n < bn || d.k < bk || d.m < bm {
        return gemm_views(a, b, c);
    }
    let padded = Dims {
        n: d.n.div_ceil(bn) * bn,
        k: d.k.div_ceil(bk) * bk,
        m: d.m.div_ceil(bm) * bm,
    };
    if padded != d {
        let a = pad_view(a, padded.n, padded.k);
        let b = pad_view(b, padded.k, padded.m);
        let mut full = vec![0.0f32; padded.n * padded.m];
        multiply_into(
            s,
            View::whole(&a, padded.n, padded.k),
            View::whole(&b, padded.k, padded.m),
            &mut full,
            work,
        );
        c.copy_from_slice(&crop(&full, padded.m, d.n, d.m));
        return;
    }
    let block = Dims {
        n: d.n / bn,
        k: d.k / bk,
        m: d.m / bm,
    };
    let size = block.n * block.m;
    let rank = s.terms.len();
    let products = sized(&mut here.products, rank * size);
    // The scale each product carries from single-block operands.
    let mut scales = vec![1.0f32; rank];
    for ((term, product), scale) in s
        .terms
        .iter()
        .zip(products.chunks_mut(size))
        .zip(&mut scales)
    {
        // A's block (i, j) is index i·m + j; B's (j, k) is j·p + k.
        let (sa, ca) = operand(a, bk, block.n, block.k, &term.a, &mut here.a);
        let (tb, cb) = operand(b, bm, block.k, block.m, &term.b, &mut here.b);
        *scale = ca * cb;
        multiply_into(s, sa, tb, product, deeper);
    }
    // feeds[i·p + k]: the (term, coefficient) pairs that C's block (i, k) sums.
    let mut feeds: Vec<Vec<(usize, f32)>> = vec![Vec::new(); bn * bm];
    for (r, term) in s.terms.iter().enumerate() {
        for &(at, coef) in &term.c {
            feeds[at].push((r, coef as f32 * scales[r]));
        }
    }
    let products = &here.products[..rank * size];
    c.par_chunks_mut(d.m)
        .enumerate()
        .with_min_len(MIN_TASK / d.m + 1)
        .for_each(|(row, out)| {
            let (i, r) = (row / block.n, row % block.n);
            for (k, out) in out.chunks_mut(block.m).enumerate() {
                let feed = &feeds[i * bm + k];
                if feed.is_empty() {
                    out.fill(0.0);
                }
                for (n, &(term, coef)) in feed.iter().enumerate() {
                    let start = term * size + r * block.m;
                    let src = &products[start..start + block.m];
                    if n == 0 {
                        for (o, &v) in out.iter_mut().zip(src) {
                            *o = coef * v;
                        }
                    } else {
                        for (o, &v) in out.iter_mut().zip(src) {
                            *o += coef * v;
                        }
                    }
                }
            }
        });
}

/// A term's operand: the block itself when the combination names one
/// block (with its coefficient, which the product carries), else
/// Σ coef · block formed in `buffer` (rows in parallel), with scale 1.
fn operand<'a>(
    x: View<'a, f32>,
    per_row: usize,
    rows: usize,
    cols: usize,
    blocks: &[(usize, f64)],
    buffer: &'a mut Vec<f32>,
) -> (View<'a, f32>, f32) {
    if let [(at, coef)] = blocks {
        return (x.block(*at, per_row, rows, cols), *coef as f32);
    }
    let out = sized(buffer, rows * cols);
    out.par_chunks_mut(cols.max(1))
        .enumerate()
        .with_min_len(MIN_TASK / cols.max(1) + 1)
        .for_each(|(r, row)| {
            for (n, &(at, coef)) in blocks.iter().enumerate() {
                let (coef, src) = (coef as f32, x.block(at, per_row, rows, cols).row(r));
                if n == 0 {
                    for (o, &v) in row.iter_mut().zip(src) {
                        *o = coef * v;
                    }
                } else {
                    for (o, &v) in row.iter_mut().zip(src) {
                        *o += coef * v;
                    }
                }
            }
        });
    (View::whole(out, rows, cols), 1.0)
}

/// The view copied into a contiguous `to_rows` × `to_cols` matrix, zeros
/// beyond it.
fn pad_view(x: View<f32>, to_rows: usize, to_cols: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; to_rows * to_cols];
    for r in 0..x.rows {
        out[r * to_cols..r * to_cols + x.cols].copy_from_slice(x.row(r));
    }
    out
}

/// A contiguous `rows` × `cols` matrix padded with zeros to `to_rows` ×
/// `to_cols`.
pub(super) fn pad(x: &[f32], rows: usize, cols: usize, to_rows: usize, to_cols: usize) -> Vec<f32> {
    pad_view(View::whole(x, rows, cols), to_rows, to_cols)
}

pub(super) fn crop(x: &[f32], cols: usize, rows: usize, to_cols: usize) -> Vec<f32> {
    (0..rows)
        .flat_map(|r| x[r * cols..r * cols + to_cols].iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{Decomposition, Shape};
    use rand::{Rng, SeedableRng};

    fn random(rng: &mut impl Rng, len: usize) -> Vec<f32> {
        (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    /// Strassen at one and two levels, and the standard 2x3x4 algorithm,
    /// on sizes that divide and sizes that must be padded, agree with
    /// sgemm to rounding.
    #[test]
    fn schemes_multiply_like_sgemm_on_sizes_that_divide_and_that_do_not() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let strassen = RealScheme::new(&Decomposition::strassen()).unwrap();
        let other = RealScheme::standard(Shape::new(2, 3, 4).unwrap());
        for (s, levels) in [(&strassen, 1), (&strassen, 2), (&other, 1), (&other, 2)] {
            for d in [
                Dims {
                    n: 16,
                    k: 24,
                    m: 32,
                },
                Dims { n: 17, k: 13, m: 9 },
                Dims { n: 1, k: 5, m: 3 },
            ] {
                let (a, b) = (random(&mut rng, d.n * d.k), random(&mut rng, d.k * d.m));
                let want = sgemm(&a, &b, d);
                let got = multiply(s, levels, &a, &b, d);
                assert_eq!(got.len(), want.len());
                let worst = got
                    .iter()
                    .zip(&want)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0f32, f32::max);
                assert!(worst < 1e-4, "{} levels {levels} {d:?}: {worst}", s.shape);
            }
        }
        // Single-block operands are read in place and their coefficient
        // travels with the product: scale one term's lone A block by 2
        // and another's lone B block by −1, with w compensating.
        let mut scaled = strassen.clone();
        let lone_a = scaled.terms.iter().position(|t| t.a.len() == 1).unwrap();
        let lone_b = scaled.terms.iter().position(|t| t.b.len() == 1).unwrap();
        scaled.terms[lone_a].a[0].1 *= 2.0;
        scaled.terms[lone_a].c.iter_mut().for_each(|c| c.1 *= 0.5);
        scaled.terms[lone_b].b[0].1 *= -1.0;
        scaled.terms[lone_b].c.iter_mut().for_each(|c| c.1 *= -1.0);
        let d = Dims { n: 12, k: 8, m: 20 };
        let (a, b) = (random(&mut rng, 96), random(&mut rng, 160));
        let want = sgemm(&a, &b, d);
        for levels in [1, 2] {
            let got = multiply(&scaled, levels, &a, &b, d);
            let worst = got
                .iter()
                .zip(&want)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "scaled Strassen, {levels} levels: {worst}");
        }
        // Without the compensation in w the product is wrong.
        scaled.terms[lone_a].c.iter_mut().for_each(|c| c.1 *= 2.0);
        let got = multiply(&scaled, 1, &a, &b, d);
        assert!(got.iter().zip(&want).any(|(x, y)| (x - y).abs() > 1e-2));
        // A scheme with a wrong sign is caught by the same comparison.
        let mut wrong = strassen.clone();
        wrong.terms[0].c[0].1 = -1.0;
        let d = Dims { n: 4, k: 4, m: 4 };
        let (a, b) = (random(&mut rng, 16), random(&mut rng, 16));
        let (want, got) = (sgemm(&a, &b, d), multiply(&wrong, 1, &a, &b, d));
        assert!(got.iter().zip(&want).any(|(x, y)| (x - y).abs() > 1e-2));
    }
}
