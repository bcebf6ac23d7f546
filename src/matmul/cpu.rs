//! C = A·B on the CPU with a scheme applied recursively: at each level A
//! is cut into n×m blocks and B into m×p blocks; for each term the block
//! combinations Σu·A and Σv·B are formed (rows in parallel, with rayon),
//! multiplied (by the next level, or by the engine's f32 GEMM at the
//! last), and the product is added into C's blocks with w. A size that
//! does not divide is padded with zeros to the next multiple, and the
//! result cropped: zero rows and columns add nothing to the products.

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
    if d.n == 0 || d.m == 0 {
        return c;
    }
    // SAFETY: the slices hold n·k, k·m and n·m elements, row-major with
    // the strides given.
    unsafe {
        F::gemm(
            d.n,
            d.k,
            d.m,
            a.as_ptr(),
            (d.k as isize, 1),
            b.as_ptr(),
            (d.m as isize, 1),
            F::default(),
            c.as_mut_ptr(),
            d.m as isize,
        );
    }
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

/// C = A·B with `levels` levels of the scheme, then sgemm.
pub fn multiply(s: &RealScheme, levels: usize, a: &[f32], b: &[f32], d: Dims) -> Vec<f32> {
    let mut c = vec![0.0f32; d.n * d.m];
    multiply_into(s, levels, a, b, d, &mut c);
    c
}

/// Elements a parallel task of a combination takes at least: below this
/// waking the other threads costs more than the additions.
const MIN_TASK: usize = 1 << 15;

/// C = A·B into `c` (overwritten).
fn multiply_into(s: &RealScheme, levels: usize, a: &[f32], b: &[f32], d: Dims, c: &mut [f32]) {
    let (bn, bk, bm) = (s.shape.n, s.shape.m, s.shape.p);
    if levels == 0 || d.n < bn || d.k < bk || d.m < bm {
        c.copy_from_slice(&sgemm(a, b, d));
        return;
    }
    let padded = Dims {
        n: d.n.div_ceil(bn) * bn,
        k: d.k.div_ceil(bk) * bk,
        m: d.m.div_ceil(bm) * bm,
    };
    if padded != d {
        let a = pad(a, d.n, d.k, padded.n, padded.k);
        let b = pad(b, d.k, d.m, padded.k, padded.m);
        let full = multiply(s, levels, &a, &b, padded);
        c.copy_from_slice(&crop(&full, padded.m, d.n, d.m));
        return;
    }
    let block = Dims {
        n: d.n / bn,
        k: d.k / bk,
        m: d.m / bm,
    };
    // One set of buffers for all the terms of this level.
    let mut sa = vec![0.0f32; block.n * block.k];
    let mut tb = vec![0.0f32; block.k * block.m];
    let mut product = vec![0.0f32; block.n * block.m];
    c.fill(0.0);
    for term in &s.terms {
        // A's block (i, j) is index i·m + j; B's (j, k) is j·p + k.
        combine(a, d.k, block.k, bk, &term.a, &mut sa);
        combine(b, d.m, block.m, bm, &term.b, &mut tb);
        multiply_into(s, levels - 1, &sa, &tb, block, &mut product);
        for &(at, coef) in &term.c {
            let (i, k) = (at / bm, at % bm);
            let coef = coef as f32;
            c.par_chunks_mut(d.m)
                .skip(i * block.n)
                .take(block.n)
                .zip(product.par_chunks(block.m))
                .with_min_len(MIN_TASK / d.m + 1)
                .for_each(|(row, p)| {
                    for (x, &y) in row[k * block.m..(k + 1) * block.m].iter_mut().zip(p) {
                        *x += coef * y;
                    }
                });
        }
    }
}

/// out = Σ coef · block(at) of a row-major matrix with `cols` columns cut
/// into blocks `width` wide (and out.len() / width rows), `per_row`
/// blocks to a block row.
fn combine(
    x: &[f32],
    cols: usize,
    width: usize,
    per_row: usize,
    blocks: &[(usize, f64)],
    out: &mut [f32],
) {
    let rows = out.len() / width;
    out.par_chunks_mut(width)
        .enumerate()
        .with_min_len(MIN_TASK / width + 1)
        .for_each(|(r, row)| {
            for (n, &(at, coef)) in blocks.iter().enumerate() {
                let (bi, bj) = (at / per_row, at % per_row);
                let start = (bi * rows + r) * cols + bj * width;
                let (coef, src) = (coef as f32, &x[start..start + width]);
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
}

pub(super) fn pad(x: &[f32], rows: usize, cols: usize, to_rows: usize, to_cols: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; to_rows * to_cols];
    for r in 0..rows {
        out[r * to_cols..r * to_cols + cols].copy_from_slice(&x[r * cols..(r + 1) * cols]);
    }
    out
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
        // A scheme with a wrong sign is caught by the same comparison.
        let mut wrong = strassen.clone();
        wrong.terms[0].c[0].1 = -1.0;
        let d = Dims { n: 4, k: 4, m: 4 };
        let (a, b) = (random(&mut rng, 16), random(&mut rng, 16));
        let (want, got) = (sgemm(&a, &b, d), multiply(&wrong, 1, &a, &b, d));
        assert!(got.iter().zip(&want).any(|(x, y)| (x - y).abs() > 1e-2));
    }
}
