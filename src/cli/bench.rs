//! `tensorsearch bench kernels`, `bench search`, `bench train` and `bench flips`.

use anyhow::{bail, Result};
use std::path::Path;
use std::process::ExitCode;
use tensorsearch::bench;
use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::engine::gpu;
use tensorsearch::problem::json;
use tensorsearch::problem::{Field, Shape};
use tensorsearch::search::bench::{measure, table, SearchBenchCase};
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

/// Checks, before a long benchmark runs, that a file can be created beside
/// `path` (an existing file there is left as it is until the results come).
fn check_writable(path: Option<&Path>) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    let probe =
        json::directory_of(path).join(format!(".tensorsearch-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes a benchmark's rows as JSON (atomically) when asked.
fn write_rows<T: serde::Serialize>(json: Option<&Path>, rows: &[T]) -> Result<ExitCode> {
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(rows)?;
        json::write_atomic(path, format!("{text}\n").as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn kernels(
    device: BenchDevice,
    json: Option<&Path>,
    quick: bool,
    seconds: Option<f64>,
) -> Result<ExitCode> {
    let seconds = seconds_or(seconds, 0.5)?;
    check_writable(json)?;
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
    write_rows(json, &rows)
}

/// `bench search`: 2x2x2 (and 3x3x3 unless --quick) over Z with the tiny
/// and small presets, G = 16 games, K = 16 samples, 24 simulations per move.
pub fn search(
    device: BenchDevice,
    json: Option<&Path>,
    quick: bool,
    seconds: Option<f64>,
) -> Result<ExitCode> {
    let seconds = std::time::Duration::from_secs_f64(seconds_or(seconds, 10.0)?);
    check_writable(json)?;
    let mut shapes = vec![Shape::new(2, 2, 2)?];
    if !quick {
        shapes.push(Shape::new(3, 3, 3)?);
    }
    let mut cases = Vec::new();
    for &shape in &shapes {
        for preset in ["tiny", "small"] {
            cases.push(SearchBenchCase {
                shape,
                field: Field::Z,
                preset: preset.into(),
                games: 16,
                samples: 16,
                simulations: 24,
            });
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
    write_rows(json, &rows)
}

/// `bench train`: training steps/s and leaf evaluations/s, with the device
/// work per call and the time per operation, for each preset (tiny and
/// small by default; tiny only with --quick).
pub fn train(
    device: BenchDevice,
    json: Option<&Path>,
    quick: bool,
    seconds: Option<f64>,
    preset: Option<&str>,
) -> Result<ExitCode> {
    let seconds = std::time::Duration::from_secs_f64(seconds_or(seconds, 6.0)?);
    check_writable(json)?;
    let presets: Vec<&str> = match preset {
        Some(p) => vec![p],
        None if quick => vec!["tiny"],
        None => vec!["tiny", "small"],
    };
    let cases = presets
        .iter()
        .map(|p| TrainBenchCase::standard(p))
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
    write_rows(json, &rows)
}

/// `bench flips`: Z2 flips per second on one CPU thread and on all, and
/// on the GPU adapter, for 3x3x3, 4x4x4 and 5x5x5 (3x3x3 only with
/// --quick).
pub fn flips(
    device: BenchDevice,
    json: Option<&Path>,
    quick: bool,
    seconds: Option<f64>,
) -> Result<ExitCode> {
    let seconds = std::time::Duration::from_secs_f64(seconds_or(seconds, 4.0)?);
    check_writable(json)?;
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
    write_rows(json, &rows)
}
