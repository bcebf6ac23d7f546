//! The error table of found schemes, and the most accurate rank-7 scheme
//! among the changes of basis of Strassen's (`matmul::accuracy`): the
//! mean error max|Ĉ−C| / (max|A|·max|B|) against f64 on random matrices
//! with entries uniform in [−1, 1), at 1, 2 and 3 levels.
//!
//!     cargo run --release --example accuracy -- [N] [SAMPLES]

use tensorsearch::matmul::accuracy::{mean_error, search, winograd};
use tensorsearch::matmul::RealScheme;
use tensorsearch::problem::json::parse_str;
use tensorsearch::problem::Decomposition;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(512), |a| a.parse())?;
    let samples: u64 = args.next().map_or(Ok(4), |a| a.parse())?;
    let shipped = parse_str(include_str!("../data/schemes/alphatensor_bench.json"))?;
    let rank49 = shipped
        .into_iter()
        .find(|d| d.shape.n == 4)
        .expect("4x4x4 shipped");
    // The search scores at 2 levels on smaller matrices, then the winner
    // is measured like the others.
    let found = search(&Decomposition::strassen(), 2, 128, 2)?;
    let best = &found[0];
    let worst = &found[found.len() - 1];
    println!(
        "searched {} changes of basis of Strassen's scheme: best {:?} ({:.2e}), worst {:?} ({:.2e}) at 2 levels, 128x128",
        found.len(),
        best.bases,
        best.error,
        worst.bases,
        worst.error
    );
    for c in found.iter().take(5) {
        println!("  {:?}: {:.3e}", c.bases, c.error);
    }
    let plain = RealScheme::standard(Decomposition::strassen().shape);
    println!(
        "\nmean error over {samples} pairs of {n}x{n} matrices (f32 entries uniform in [-1, 1))"
    );
    println!("| scheme | 1 level | 2 levels | 3 levels |");
    println!("|---|---|---|---|");
    let gemm = mean_error(&plain, 0, n, samples);
    println!("| plain GEMM | {gemm:.2e} | | |");
    let winograd = winograd();
    let strassen = Decomposition::strassen();
    for (name, d) in [
        ("Strassen", &strassen),
        ("Winograd", &winograd),
        ("most accurate change of basis", &best.scheme),
        ("least accurate change of basis", &worst.scheme),
    ] {
        let s = RealScheme::new(d)?;
        let e: Vec<String> = (1..=3)
            .map(|l| format!("{:.2e}", mean_error(&s, l, n, samples)))
            .collect();
        println!("| {name} | {} |", e.join(" | "));
    }
    let s = RealScheme::new(&rank49)?;
    println!(
        "| AlphaTensor 4x4x4 rank 49 | {:.2e} | | |",
        mean_error(&s, 1, n, samples)
    );
    println!("\nthe most accurate scheme (u, v, w; w indexes C):");
    tensorsearch::problem::json::write_file(
        std::path::Path::new("/dev/stdout"),
        std::slice::from_ref(&best.scheme),
    )?;
    Ok(())
}
