//! `tensorsearch bench kernels`, `bench search`, `bench train`, `bench flips` and `bench matmul`.

use super::common::DeviceArg;
use super::output;
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use tensorsearch::bench;
use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::engine::gpu;
use tensorsearch::problem::{Field, Shape};
use tensorsearch::search::bench::{measure, table, SearchBenchCase};
use tensorsearch::search::selfplay::LeafUpdates;
use tensorsearch::train::bench::{self as train_bench, TrainBenchCase};

#[derive(Clone, Copy, PartialEq)]
pub enum BenchDevice {
    Gpu,
    Cpu,
    Both,
}

/// --seconds within (0, 600], or the default.
fn seconds_or(seconds: Option<f64>, default: f64) -> Result<f64> {
    let s = seconds.unwrap_or(default);
    if !(s > 0.0 && s <= 600.0) {
        bail!("--seconds must be in (0, 600], found {s}");
    }
    Ok(s)
}

/// What a benchmark's JSON file starts with: the mark by which a later
/// `--json` knows the file is one it may replace.
const SIGNATURE: &str = "\"tensorsearch\": \"bench";

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum BenchWhat {
    /// Every kernel family at the shapes of the network.
    Kernels,
    /// The search's throughput: network evaluations, simulations and games per second, for 2x2x2 and 3x3x3.
    Search,
    /// Training steps/s and leaf evaluations/s at batch 64 (2x2x2 over Z unless --shape, --field), device work per step, and time per operation.
    Train,
    /// Z2 flip-graph walks: flips per second on one thread and on all, for 3x3x3, 4x4x4 and 5x5x5.
    Flips,
    /// Found schemes multiplying matrices against plain GEMM (Strassen at 1 and 2 levels, AlphaTensor's 3x3x3 rank 23 and 4x4x4 rank 49), 1024 to 4096 on the CPU and to 8192 on a GPU; draws matmul.svg beside --json (or in the current directory).
    Matmul,
}

impl BenchWhat {
    fn name(self) -> &'static str {
        match self {
            BenchWhat::Kernels => "kernels",
            BenchWhat::Search => "search",
            BenchWhat::Train => "train",
            BenchWhat::Flips => "flips",
            BenchWhat::Matmul => "matmul",
        }
    }
}

/// The command line of `bench`.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    #[arg(value_enum)]
    what: BenchWhat,
    /// Also write the measurements as JSON here (atomically). An existing
    /// file is replaced only if it is a benchmark's JSON, or with --force.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Replace an existing --json file that is not a benchmark's JSON.
    #[arg(long)]
    force: bool,
    /// Skip the largest shapes.
    #[arg(long)]
    quick: bool,
    /// Seconds of timed calls per kernel (default 0.5), per training configuration (default 6), per search configuration (default 10) or per flip shape (default 4); at most 600.
    #[arg(long)]
    seconds: Option<f64>,
    /// bench train: one model preset (tiny, small or large) instead of tiny and small.
    #[arg(long, value_parser = super::common::preset())]
    preset: Option<String>,
    /// bench train: the game's shape (default 2x2x2): the learner's cost
    /// grows with the grids, and the search's learner at 3x3x3 and 4x4x4
    /// pays it.
    #[arg(long, value_parser = super::common::parse_shape)]
    shape: Option<Shape>,
    /// bench train: the game's field, z (default) or z2.
    #[arg(long, value_parser = super::common::game_field())]
    field: Option<Field>,
}

/// Checks every option and the JSON path, then runs the benchmark;
/// `--device auto` times both devices, GPU against CPU.
pub fn run(device: DeviceArg, args: BenchArgs) -> Result<ExitCode> {
    let on = match device {
        DeviceArg::Gpu => BenchDevice::Gpu,
        DeviceArg::Cpu => BenchDevice::Cpu,
        DeviceArg::Auto => BenchDevice::Both,
    };
    if !matches!(args.what, BenchWhat::Train) {
        for (given, flag) in [
            (args.preset.is_some(), "--preset"),
            (args.shape.is_some(), "--shape"),
            (args.field.is_some(), "--field"),
        ] {
            if given {
                bail!("{flag} applies to bench train only");
            }
        }
    }
    if let Some(s) = args.seconds {
        seconds_or(Some(s), 1.0)?;
    }
    if let Some(path) = &args.json {
        output::check(path, SIGNATURE, args.force, None)?;
    }
    let json = args.json.as_deref();
    let (quick, seconds) = (args.quick, args.seconds);
    let rows = match args.what {
        BenchWhat::Kernels => kernels(on, quick, seconds)?,
        BenchWhat::Search => search(on, quick, seconds)?,
        BenchWhat::Flips => flips(on, quick, seconds)?,
        BenchWhat::Train => {
            let game = (
                args.shape.unwrap_or(Shape::new(2, 2, 2)?),
                args.field.unwrap_or(Field::Z),
            );
            train(on, quick, seconds, args.preset.as_deref(), game)?
        }
        BenchWhat::Matmul => {
            if seconds.is_some() {
                bail!("bench matmul times a fixed number of runs: --seconds does not apply");
            }
            let svg = json
                .and_then(|j| j.parent())
                .unwrap_or(std::path::Path::new(""))
                .join("matmul.svg");
            output::check(
                &svg,
                tensorsearch::matmul::bench::SVG_CAPTION,
                args.force,
                None,
            )?;
            matmul(on, quick, &svg)?
        }
    };
    if let Some(path) = json {
        output::write(path, document(args.what.name(), rows)?.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON file of a benchmark: its mark first, so that a file of many
/// rows still shows it in the head `output::check` reads.
fn document(what: &str, rows: serde_json::Value) -> Result<String> {
    #[derive(serde::Serialize)]
    struct Doc {
        tensorsearch: String,
        rows: serde_json::Value,
    }
    let doc = Doc {
        tensorsearch: format!("bench {what}"),
        rows,
    };
    Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?))
}

/// A benchmark's rows as JSON values.
fn rows_of<T: serde::Serialize>(rows: &[T]) -> Result<serde_json::Value> {
    Ok(serde_json::to_value(rows)?)
}

fn kernels(device: BenchDevice, quick: bool, seconds: Option<f64>) -> Result<serde_json::Value> {
    let seconds = seconds_or(seconds, 0.5)?;
    let mut gpu = match device {
        BenchDevice::Cpu => None,
        _ => Some(gpu::GpuBackend::new()?),
    };
    if let Some(g) = &gpu {
        let timer = if g.has_timestamps() {
            "timestamp queries"
        } else {
            "wall clock after synchronising"
        };
        let kind = if g.is_software() {
            " (software adapter)"
        } else {
            ""
        };
        println!("gpu: {}{kind}; timing by {timer}", g.adapter_name());
    }
    let cases = bench::default_cases(quick);
    let budget = std::time::Duration::from_secs_f64(seconds);
    let rows = bench::run(&cases, gpu.as_mut(), device != BenchDevice::Gpu, budget)?;
    print!("{}", bench::table(&rows));
    rows_of(&rows)
}

/// `bench search`: 2x2x2 (and 3x3x3 unless --quick) over Z with the tiny
/// and small presets, G = 16 games, K = 16 samples, 24 simulations per
/// move, with the leaves' states made on the host and on the device.
fn search(device: BenchDevice, quick: bool, seconds: Option<f64>) -> Result<serde_json::Value> {
    let seconds = std::time::Duration::from_secs_f64(seconds_or(seconds, 10.0)?);
    let mut shapes = vec![Shape::new(2, 2, 2)?];
    if !quick {
        shapes.push(Shape::new(3, 3, 3)?);
    }
    let mut cases = Vec::new();
    for &shape in &shapes {
        for preset in ["tiny", "small"] {
            for leaf_updates in [LeafUpdates::Host, LeafUpdates::Device] {
                cases.push(SearchBenchCase {
                    shape,
                    field: Field::Z,
                    preset: preset.into(),
                    games: 16,
                    samples: 16,
                    simulations: 24,
                    leaf_updates,
                });
            }
        }
    }
    let mut gpu = match device {
        BenchDevice::Cpu => None,
        _ => Some(gpu::GpuBackend::new()?),
    };
    let mut rows = Vec::new();
    for case in &cases {
        if device != BenchDevice::Gpu {
            rows.push(measure(&mut CpuBackend::new(), case, seconds)?);
        }
        if let Some(g) = gpu.as_mut() {
            rows.push(measure(g, case, seconds)?);
        }
        eprint!(".");
    }
    eprintln!();
    print!("{}", table(&rows));
    rows_of(&rows)
}

/// `bench train`: training steps/s and leaf evaluations/s, with the device
/// work per call and the time per operation, for each preset (tiny and
/// small by default; tiny only with --quick).
fn train(
    device: BenchDevice,
    quick: bool,
    seconds: Option<f64>,
    preset: Option<&str>,
    (shape, field): (Shape, Field),
) -> Result<serde_json::Value> {
    let seconds = std::time::Duration::from_secs_f64(seconds_or(seconds, 6.0)?);
    let presets: Vec<&str> = match preset {
        Some(p) => vec![p],
        None if quick => vec!["tiny"],
        None => vec!["tiny", "small"],
    };
    let cases = presets
        .iter()
        .map(|p| TrainBenchCase::of(p, shape, field))
        .collect::<Result<Vec<_>>>()?;
    let mut rows = Vec::new();
    for case in &cases {
        if device != BenchDevice::Gpu {
            rows.push(train_bench::measure(CpuBackend::new(), case, seconds)?);
            eprint!(".");
        }
        if device != BenchDevice::Cpu {
            rows.push(train_bench::measure(
                gpu::GpuBackend::new()?,
                case,
                seconds,
            )?);
            eprint!(".");
        }
    }
    eprintln!();
    print!("{}", train_bench::table(&rows));
    rows_of(&rows)
}

/// `bench flips`: Z2 flips per second on one CPU thread and on all, and
/// on the GPU adapter, for 3x3x3, 4x4x4 and 5x5x5 (3x3x3 only with
/// --quick).
fn flips(device: BenchDevice, quick: bool, seconds: Option<f64>) -> Result<serde_json::Value> {
    let seconds = std::time::Duration::from_secs_f64(seconds_or(seconds, 4.0)?);
    let mut gpu = match device {
        BenchDevice::Cpu => None,
        _ => Some(gpu::GpuBackend::new()?),
    };
    let sizes: &[usize] = if quick { &[3] } else { &[3, 4, 5] };
    let mut rows = Vec::new();
    for &n in sizes {
        let shape = Shape::new(n, n, n)?;
        if device != BenchDevice::Gpu {
            rows.push(tensorsearch::flip::bench::measure(shape, seconds)?);
            eprint!(".");
        }
        if let Some(g) = gpu.as_mut() {
            rows.push(tensorsearch::flip::bench::measure_gpu(g, shape, seconds)?);
            eprint!(".");
        }
    }
    eprintln!();
    print!("{}", tensorsearch::flip::bench::table(&rows));
    rows_of(&rows)
}

/// Schemes multiplying matrices against plain GEMM, on the CPU, the GPU
/// or both; the rows as a table and `svg`.
fn matmul(device: BenchDevice, quick: bool, svg: &std::path::Path) -> Result<serde_json::Value> {
    use tensorsearch::matmul::bench::{run, svg as draw, Row};
    const REPEAT: usize = 3;
    let say = |r: &Row| {
        let [n, ..] = r.report.size;
        println!(
            "{:34} {:5} {:>7.3} s {:>7.3} s  {:>6.3}x  {:>8.2e} {:>8.2e}  {}",
            r.scheme,
            n,
            r.report.seconds,
            r.report.baseline_seconds,
            r.report.speedup,
            r.report.rel_error,
            r.report.baseline_rel_error,
            r.report.device
        );
    };
    println!(
        "{:34} {:>5} {:>9} {:>9}  {:>7}  {:>8} {:>8}  device",
        "scheme", "N", "scheme", "GEMM", "speedup", "error", "GEMM err"
    );
    let mut rows = vec![];
    if device != BenchDevice::Gpu {
        rows.extend(run(None, quick, REPEAT, say)?);
    }
    if device != BenchDevice::Cpu {
        let mut g = gpu::GpuBackend::new()?;
        rows.extend(run(Some(&mut g), quick, REPEAT, say)?);
    }
    output::write(svg, draw(&rows)?.as_bytes())?;
    println!("speedup against size: {}", svg.display());
    rows_of(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A benchmark file of many rows (bench matmul writes 28) is one a
    /// later run may replace.
    #[test]
    fn a_long_benchmark_file_is_recognised_as_one() {
        let rows = serde_json::Value::Array(
            (0..200)
                .map(|i| serde_json::json!({ "scheme": "Strassen", "size": i, "seconds": 0.5 }))
                .collect(),
        );
        let text = document("matmul", rows).unwrap();
        assert!(text.len() > 8192);
        let path = std::env::temp_dir().join(format!("bench-doc-{}.json", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let verdict = output::check(&path, SIGNATURE, false, None);
        std::fs::remove_file(&path).unwrap();
        verdict.unwrap();
    }
}
