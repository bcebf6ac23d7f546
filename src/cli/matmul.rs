//! `tensorsearch matmul`: a found scheme multiplies random fp32 matrices,
//! timed and checked against plain GEMM on the same device.

use super::common::{choose_device, select_decomposition, Device, DeviceArg, SchemeChoice};
use super::output;
use anyhow::{anyhow, bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use tensorsearch::matmul::measure::{measure_cpu, measure_gpu, MatmulReport};
use tensorsearch::matmul::{Dims, RealScheme};
use tensorsearch::problem::{formats, Decomposition};

/// The largest matrix dimension `matmul` takes: three 16384² fp32
/// matrices and their f64 reference need about 9 GiB.
pub const MAX_DIM: usize = 16_384;
/// The deepest recursion: each level divides the blocks again.
pub const MAX_LEVELS: usize = 8;

/// What a matmul JSON file starts with (see `output::check`).
pub const SIGNATURE: &str = "\"tensorsearch\": \"matmul";

/// The command line of `matmul`.
#[derive(Clone, Debug, clap::Args)]
pub struct MatmulArgs {
    /// A decomposition file (any format `verify` reads), over Z or Q.
    file: PathBuf,
    #[command(flatten)]
    choice: SchemeChoice,
    /// Matrix sizes: N (square) or NxKxM (A is N×K, B is K×M), each 1 to 16384.
    #[arg(long)]
    size: String,
    /// Levels of the scheme before plain GEMM takes the blocks, 0 to 8 (default 1).
    #[arg(long, default_value_t = 1)]
    levels: usize,
    /// Timed runs of each, interleaved; the median is reported (1 to 1000, default 5).
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Seed of the random matrices (default 0).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also write the measurement as JSON here (atomically). An existing
    /// file is replaced only if it is matmul's JSON, or with --force.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Replace an existing --json file that is not matmul's JSON.
    #[arg(long)]
    force: bool,
}

/// N, or NxKxM, each within 1..=MAX_DIM.
pub fn parse_size(text: &str) -> Result<Dims> {
    let parts: Vec<&str> = text.split(['x', 'X', ',']).collect();
    let nums = parts
        .iter()
        .map(|p| {
            p.trim()
                .parse::<usize>()
                .ok()
                .filter(|&v| (1..=MAX_DIM).contains(&v))
        })
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| {
            anyhow!("--size '{text}': give N or NxKxM, each a whole number from 1 to {MAX_DIM}")
        })?;
    match nums[..] {
        [n] => Ok(Dims { n, k: n, m: n }),
        [n, k, m] => Ok(Dims { n, k, m }),
        _ => bail!("--size '{text}': give N or NxKxM, each a whole number from 1 to {MAX_DIM}"),
    }
}

pub fn run(device: DeviceArg, args: MatmulArgs) -> Result<ExitCode> {
    let dims = parse_size(&args.size)?;
    if args.levels > MAX_LEVELS {
        bail!(
            "--levels must be from 0 to {MAX_LEVELS}, found {}",
            args.levels
        );
    }
    if !(1..=1000).contains(&args.repeat) {
        bail!("--repeat must be from 1 to 1000, found {}", args.repeat);
    }
    if let Some(path) = &args.json {
        output::check(path, SIGNATURE, args.force, Some(&args.file))?;
    }
    let d = select_decomposition(&args.file, &args.choice)?;
    let scheme = RealScheme::new(&d).map_err(|e| {
        anyhow!(
            "{}: {e}{}",
            args.file.display(),
            formats::convention_note(&d)
        )
    })?;
    if device == DeviceArg::Gpu {
        check_power(&d, args.levels)?;
    }
    let report = match choose_device(device)? {
        Device::Cpu => measure_cpu(&scheme, args.levels, dims, args.repeat, args.seed),
        Device::Gpu(mut gpu) => {
            check_power(&d, args.levels)?;
            if gpu.is_software() {
                eprintln!("note: {} is a software (CPU) adapter", gpu.adapter_name());
            }
            let power = RealScheme::power(&d, args.levels)?;
            measure_gpu(
                &mut gpu,
                &scheme,
                &power,
                args.levels,
                dims,
                args.repeat,
                args.seed,
            )?
        }
    };
    print_report(&report);
    if let Some(path) = &args.json {
        // The mark first, where `output::check` looks for it.
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            tensorsearch: &'a str,
            result: &'a MatmulReport,
        }
        let doc = Doc {
            tensorsearch: "matmul",
            result: &report,
        };
        let text = serde_json::to_string_pretty(&doc)?;
        output::write(path, format!("{text}\n").as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Coefficients the GPU's one-level scheme (the `levels`-th tensor power,
/// exact rationals while it is built and verified) may hold: 4 M, about
/// 128 MB. Strassen at 4 levels holds 1.8 M, at 5 levels 52 M.
pub const MAX_POWER_COEFFS: u128 = 4_000_000;

/// Refuses `levels` whose tensor power would not fit: its terms times the
/// lengths of its three factors.
fn check_power(d: &Decomposition, levels: usize) -> Result<()> {
    let l = levels as u32;
    let coeffs = (d.rank() as u128).checked_pow(l).and_then(|terms| {
        let lens = d.shape.factor_lens().map(|x| (x as u128).checked_pow(l));
        let sum = lens
            .into_iter()
            .try_fold(0u128, |acc, x| acc.checked_add(x?))?;
        terms.checked_mul(sum)
    });
    if coeffs.is_none_or(|c| c > MAX_POWER_COEFFS) {
        bail!(
            "--levels {levels} on the GPU runs one scheme of rank {}^{levels}, too large to build: use fewer levels, or --device cpu (which recurses)",
            d.rank()
        );
    }
    Ok(())
}

fn print_report(r: &MatmulReport) {
    let [n, k, m] = r.size;
    println!(
        "{} scheme of rank {}, {} level(s), A {n}x{k} times B {k}x{m} on {}",
        r.shape, r.rank, r.levels, r.device
    );
    println!(
        "scheme:     {:9.4} s  {:8.2} GFLOP/s effective  rel. error {:.2e}",
        r.seconds, r.gflops_effective, r.rel_error
    );
    println!(
        "plain GEMM: {:9.4} s  {:8.2} GFLOP/s            rel. error {:.2e}",
        r.baseline_seconds, r.baseline_gflops, r.baseline_rel_error
    );
    println!(
        "speedup {:.3}x (median of {}); error max|C'-C| / (max|A| max|B|) against f64",
        r.speedup, r.repeat
    );
}
