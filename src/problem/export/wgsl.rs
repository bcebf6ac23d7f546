//! `export --lang wgsl`: a scheme as the block stages of C = A·B on a GPU,
//! to serve with any GEMM. Three entry points, each with the scheme's
//! coefficients written in:
//!
//! 1. `combine_a`: S_t = Σ u_t · (blocks of A), for each term t;
//! 2. `combine_b`: T_t = Σ v_t · (blocks of B);
//! 3. (the caller's GEMM: P_t = S_t · T_t for every t, contiguous blocks);
//! 4. `accumulate_c`: each block of C = Σ_t w_t · P_t.

use super::SIGNATURE;
use crate::problem::field::Coeff;
use crate::problem::{Decomposition, Field};
use anyhow::{bail, Result};
use num_traits::Zero;
use std::fmt::Write;

/// The WGSL of the scheme's stages. Z2 schemes are refused: they
/// multiply only mod 2.
pub fn export_wgsl(d: &Decomposition) -> Result<String> {
    if d.field == Field::Z2 {
        bail!("a scheme over Z2 multiplies only mod 2: WGSL export needs one over Z or Q");
    }
    let s = d.shape;
    let (n, m, p) = (s.n, s.m, s.p);
    let rank = d.rank();
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "// {SIGNATURE}. C = A B with the {s} scheme of rank {rank} over {} (the schoolbook uses {}).", d.field, s.standard_rank());
    let _ = writeln!(
        w,
        "// A is N x K, B is K x M, C is N x M, row-major f32, with N, K, M multiples of {n}, {m}, {p}:"
    );
    let _ = writeln!(
        w,
        "// A's blocks are (N/{n}) x (K/{m}), B's (K/{m}) x (M/{p}), C's (N/{n}) x (M/{p})."
    );
    let _ = writeln!(w, "// 1. combine_a (src = A, dst = S, {rank} blocks back to back) and 2. combine_b (src = B, dst = T):");
    let _ = writeln!(
        w,
        "//    dispatch (ceil(block columns / 64), block rows, {rank})."
    );
    let _ = writeln!(
        w,
        "// 3. Any GEMM: P[t] = S[t] T[t] for t < {rank}, blocks back to back."
    );
    let _ = writeln!(
        w,
        "// 4. accumulate_c (src = P, dst = C): dispatch (ceil(M/{p} / 64), N/{n}, {}).",
        n * p
    );
    let _ = writeln!(
        w,
        "// Coefficients are f32 literals; a fraction is written as a quotient.\n"
    );
    let _ = writeln!(
        w,
        "struct Sizes {{ n: u32, k: u32, m: u32, unused: u32 }}\n"
    );
    let _ = writeln!(w, "@group(0) @binding(0) var<uniform> sizes: Sizes;");
    let _ = writeln!(
        w,
        "@group(0) @binding(1) var<storage, read_write> src: array<f32>;"
    );
    let _ = writeln!(
        w,
        "@group(0) @binding(2) var<storage, read_write> dst: array<f32>;\n"
    );
    let [u, v, wv] = d.factors();
    // A's block (i, j) is u index i·m + j; B's (j, k) is j·p + k.
    stage(w, "combine_a", "sizes.n", n, "sizes.k", m, rank, |t| {
        terms(&u[t])
    });
    stage(w, "combine_b", "sizes.k", m, "sizes.m", p, rank, |t| {
        terms(&v[t])
    });
    // C's block q = i·p + k sums w_t[q] · P_t.
    let _ = writeln!(w, "@compute @workgroup_size(64)");
    let _ = writeln!(
        w,
        "fn accumulate_c(@builtin(global_invocation_id) id: vec3<u32>) {{"
    );
    let _ = writeln!(w, "    let rows = sizes.n / {n}u;");
    let _ = writeln!(w, "    let width = sizes.m / {p}u;");
    let _ = writeln!(w, "    if (id.x >= width || id.y >= rows) {{ return; }}");
    let _ = writeln!(w, "    let at = id.y * width + id.x;");
    let _ = writeln!(w, "    let per = rows * width;");
    let _ = writeln!(w, "    var acc = 0.0;");
    let _ = writeln!(w, "    switch id.z {{");
    for q in 0..n * p {
        let sum: Vec<String> = wv
            .iter()
            .enumerate()
            .filter(|(_, row)| !row[q].is_zero())
            .map(|(t, row)| format!("{} * src[{t}u * per + at]", literal(&row[q])))
            .collect();
        let sum = if sum.is_empty() {
            "0.0".into()
        } else {
            sum.join(" + ")
        };
        let _ = writeln!(w, "        case {q}u: {{ acc = {sum}; }}");
    }
    let _ = writeln!(w, "        default: {{ return; }}");
    let _ = writeln!(w, "    }}");
    let _ = writeln!(
        w,
        "    dst[((id.z / {p}u) * rows + id.y) * sizes.m + (id.z % {p}u) * width + id.x] = acc;"
    );
    let _ = writeln!(w, "}}");
    Ok(out)
}

/// The nonzero (block, coefficient) pairs of one factor.
fn terms(row: &[Coeff]) -> Vec<(usize, Coeff)> {
    row.iter()
        .enumerate()
        .filter(|(_, x)| !x.is_zero())
        .map(|(i, x)| (i, *x))
        .collect()
}

/// An f32 literal: `2.0`, `-1.0`, or a quotient `(1.0 / 3.0)`.
fn literal(x: &Coeff) -> String {
    if x.is_integer() {
        format!("{}.0", x.numer())
    } else {
        format!("({}.0 / {}.0)", x.numer(), x.denom())
    }
}

/// A combination stage: a matrix of `rows_of` × `cols_of` cut into
/// `bn` × `bk` blocks; term t's block of dst is Σ coef · block.
#[allow(clippy::too_many_arguments)]
fn stage(
    w: &mut String,
    name: &str,
    rows_of: &str,
    bn: usize,
    cols_of: &str,
    bk: usize,
    rank: usize,
    coefs: impl Fn(usize) -> Vec<(usize, Coeff)>,
) {
    let _ = writeln!(w, "@compute @workgroup_size(64)");
    let _ = writeln!(
        w,
        "fn {name}(@builtin(global_invocation_id) id: vec3<u32>) {{"
    );
    let _ = writeln!(w, "    let rows = {rows_of} / {bn}u;");
    let _ = writeln!(w, "    let width = {cols_of} / {bk}u;");
    let _ = writeln!(w, "    if (id.x >= width || id.y >= rows) {{ return; }}");
    let _ = writeln!(w, "    let ld = {cols_of};");
    let _ = writeln!(w, "    var acc = 0.0;");
    let _ = writeln!(w, "    switch id.z {{");
    for t in 0..rank {
        let sum: Vec<String> = coefs(t)
            .iter()
            .map(|(at, x)| {
                let (bi, bj) = (at / bk, at % bk);
                format!(
                    "{} * src[({bi}u * rows + id.y) * ld + {bj}u * width + id.x]",
                    literal(x)
                )
            })
            .collect();
        let _ = writeln!(w, "        case {t}u: {{ acc = {}; }}", sum.join(" + "));
    }
    let _ = writeln!(w, "        default: {{ return; }}");
    let _ = writeln!(w, "    }}");
    let _ = writeln!(w, "    dst[(id.z * rows + id.y) * width + id.x] = acc;");
    let _ = writeln!(w, "}}\n");
}
