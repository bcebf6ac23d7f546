//! matrixmultiply's sgemm against the `gemm` crate's, on one thread, at
//! the products the CPU backend makes (a linear layer's block of rows for
//! each preset, as `engine::ops::matmul::cpu` splits them for two
//! threads) and at the square blocks `matmul` multiplies. Calls alternate
//! between the two in rounds and each figure is the median of its rounds,
//! so a noisy machine moves both alike.
//!
//! cargo run --release --example gemm_compare [ROUNDS]

use std::time::Instant;

/// A's (row, column) strides: m×k row-major, or stored k×m (Aᵀ).
fn a_strides(m: usize, k: usize, trans_a: bool) -> (isize, isize) {
    if trans_a {
        (1, m as isize)
    } else {
        (k as isize, 1)
    }
}

fn matrixmultiply_sgemm(
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) {
    let (ars, acs) = a_strides(m, k, ta);
    // SAFETY: a holds m·k words, b is k×n, c m×n, all in bounds.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            ars,
            acs,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

fn gemm_crate_sgemm(m: usize, k: usize, n: usize, ta: bool, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (ars, acs) = a_strides(m, k, ta);
    // SAFETY: as above. gemm's alpha scales the destination (unread here)
    // and beta the product.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            acs,
            ars,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

fn median(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    x[x.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    // (what, m, k, n, Aᵀ): a linear layer's block is 768 rows (2x2x2,
    // batch 64, three grids of 16 cells, four blocks for two threads); a
    // weight gradient xᵀ·dy sums over those rows.
    let shapes = [
        ("tiny qkv", 768, 16, 48, false),
        ("tiny mlp up", 768, 16, 64, false),
        ("tiny mlp down", 768, 64, 16, false),
        ("tiny dW mlp", 16, 768, 64, true),
        ("small qkv", 768, 64, 192, false),
        ("small mlp up", 768, 64, 256, false),
        ("small mlp down", 768, 256, 64, false),
        ("small dW qkv", 64, 768, 192, true),
        ("small dW mlp dn", 256, 768, 64, true),
        ("large qkv", 768, 256, 768, false),
        ("large mlp up", 768, 256, 1024, false),
        ("large mlp down", 768, 1024, 256, false),
        ("large dW mlp", 256, 768, 1024, true),
        ("square 256", 256, 256, 256, false),
        ("square 1024", 1024, 1024, 1024, false),
        ("square 2048", 2048, 2048, 2048, false),
    ];
    println!(
        "{:<16} {:>16} {:>14} {:>14} {:>8} {:>10}",
        "product", "m x k x n", "mm GFLOP/s", "gemm GFLOP/s", "gemm/mm", "max |diff|"
    );
    for (what, m, k, n, ta) in shapes {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104729) % 89) as f32 / 89.0 - 0.5)
            .collect();
        let (mut c1, mut c2) = (vec![0.0f32; m * n], vec![0.0f32; m * n]);
        let flops = 2.0 * (m * k * n) as f64;
        // Enough calls per round for about 20 ms of work at 50 GFLOP/s.
        let calls = ((1e9 * 0.02 / flops) as usize).max(1);
        let (mut t1, mut t2) = (Vec::new(), Vec::new());
        for round in 0..=rounds {
            let start = Instant::now();
            for _ in 0..calls {
                matrixmultiply_sgemm(m, k, n, ta, &a, &b, &mut c1);
            }
            let d1 = start.elapsed().as_secs_f64() / calls as f64;
            let start = Instant::now();
            for _ in 0..calls {
                gemm_crate_sgemm(m, k, n, ta, &a, &b, &mut c2);
            }
            let d2 = start.elapsed().as_secs_f64() / calls as f64;
            if round > 0 {
                // Round 0 warms caches and the gemm crate's dispatch.
                t1.push(d1);
                t2.push(d2);
            }
        }
        let diff = c1
            .iter()
            .zip(&c2)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        let (g1, g2) = (flops / median(t1) / 1e9, flops / median(t2) / 1e9);
        println!(
            "{what:<16} {:>16} {g1:>14.1} {g2:>14.1} {:>8.2} {diff:>10.2e}",
            format!("{m}x{k}x{n}"),
            g2 / g1
        );
    }
}
