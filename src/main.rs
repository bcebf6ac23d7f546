//! The command line of tensorsearch.

use anyhow::{anyhow, bail, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tensorsearch::bench;
use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::engine::gpu;
use tensorsearch::game::ActionEncoding;
use tensorsearch::model::ModelConfig;
use tensorsearch::problem::export::{export, Lang};
use tensorsearch::problem::{json, reference, verify, Decomposition, Field, Shape};
use tensorsearch::train::{pretrain, PretrainOptions, Report};

#[derive(Parser)]
#[command(
    name = "tensorsearch",
    version,
    about = "Discovers fast matrix-multiplication algorithms with AlphaTensor's method (sampled MCTS and a transformer, on any wgpu GPU) and verifies every algorithm exactly"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum FieldArg {
    /// Integer coefficients, exact over every ring.
    Z,
    /// Arithmetic modulo 2.
    Z2,
    /// Rational coefficients.
    Q,
}

impl From<FieldArg> for Field {
    fn from(f: FieldArg) -> Field {
        match f {
            FieldArg::Z => Field::Z,
            FieldArg::Z2 => Field::Z2,
            FieldArg::Q => Field::Q,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum DeviceArg {
    /// A hardware GPU when there is one, else the CPU backend.
    Auto,
    /// The best wgpu adapter (a software adapter such as lavapipe is accepted).
    Gpu,
    /// The native CPU backend.
    Cpu,
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    Python,
    Rust,
    C,
}

#[derive(Subcommand)]
enum Command {
    /// Search for decompositions of SHAPE with reinforcement learning (the main job; not implemented yet in this version).
    Search {
        /// Shape n x m x p, e.g. 2x2x2 or 2,2,2.
        shape: String,
        #[arg(long, value_enum, default_value = "z")]
        field: FieldArg,
        #[arg(long, value_enum, default_value = "auto")]
        device: DeviceArg,
        /// Time budget, e.g. 90s, 10m, 2h.
        #[arg(long, default_value = "10m")]
        time: String,
        /// Output directory for decompositions and checkpoints.
        #[arg(long, default_value = "runs")]
        out: PathBuf,
        /// Continue the run checkpointed in --out.
        #[arg(long)]
        resume: bool,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Train the network on synthetic demonstrations of SHAPE (supervised), then report held-out accuracy.
    Pretrain {
        /// Shape n x m x p, e.g. 2x2x2 or 2,2,2.
        shape: String,
        #[arg(long, value_enum, default_value = "z")]
        field: FieldArg,
        #[arg(long, value_enum, default_value = "auto")]
        device: DeviceArg,
        /// Model size: tiny, small (CPU default) or large (GPU).
        #[arg(long)]
        preset: Option<String>,
        /// Stop after this long, e.g. 90s, 10m, 2h.
        #[arg(long, value_parser = parse_duration)]
        time: Option<std::time::Duration>,
        /// Stop after this many optimiser steps.
        #[arg(long)]
        steps: Option<u64>,
        /// Output directory: checkpoint, metrics.jsonl, report.json.
        #[arg(long, default_value = "runs/pretrain")]
        out: PathBuf,
        /// Continue from the checkpoint in this directory.
        #[arg(long)]
        resume: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// States per batch.
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// AdamW learning rate.
        #[arg(long, default_value_t = 1e-3)]
        lr: f32,
        /// Held-out states evaluated at the end.
        #[arg(long, default_value_t = 256)]
        eval_states: usize,
        /// Sampled actions per held-out state for the any-of-N rate.
        #[arg(long, default_value_t = 32)]
        samples: usize,
    },
    /// Verify decomposition files exactly: one line per decomposition; exit 0 only when all hold.
    Verify {
        /// JSON files, each one decomposition or {"decompositions":[…]}.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Verify in this field instead of each decomposition's own.
        #[arg(long, value_enum)]
        field: Option<FieldArg>,
    },
    /// Export a decomposition as straight-line code for C = AB with exactly R multiplications.
    Export {
        file: PathBuf,
        #[arg(long, value_enum)]
        lang: LangArg,
        /// Write here (atomically) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// In a file of several, the decomposition at this position (from 0).
        #[arg(long, conflicts_with = "shape")]
        index: Option<usize>,
        /// In a file of several, the decomposition of this shape.
        #[arg(long)]
        shape: Option<String>,
    },
    /// Show the tensor of SHAPE, its standard and best published ranks, and its action encoding.
    Info {
        /// Shape n x m x p, e.g. 2x2x2 or 2,2,2.
        shape: String,
    },
    /// List wgpu adapters with the limits and features that matter to compute.
    Devices,
    /// Benchmark the compute kernels: time per call, GFLOP/s or GB/s, GPU against CPU.
    Bench {
        #[arg(value_enum)]
        what: BenchWhat,
        #[arg(long, value_enum, default_value = "both")]
        device: BenchDevice,
        /// Also write the measurements as JSON here (atomically).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Skip the largest shapes.
        #[arg(long)]
        quick: bool,
        /// Seconds of timed calls per kernel and device.
        #[arg(long, default_value_t = 0.5)]
        seconds: f64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum BenchWhat {
    /// Every kernel family at the shapes of the network.
    Kernels,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum BenchDevice {
    Gpu,
    Cpu,
    Both,
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`… | head`) would
/// panic; the default action ends the process quietly as other tools do.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first in main, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// An error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Search { shape, .. } => {
            let shape = parse_shape(&shape)?;
            bail!("search {shape}: the search is not implemented yet in this version (verify, export, info and devices are)")
        }
        Command::Pretrain {
            shape,
            field,
            device,
            preset,
            time,
            steps,
            out,
            resume,
            seed,
            batch,
            lr,
            eval_states,
            samples,
        } => {
            let backend = choose_device(device)?;
            let preset = preset.unwrap_or_else(|| match backend {
                Device::Gpu(_) => "large".into(),
                Device::Cpu => "small".into(),
            });
            if batch == 0 || !(lr > 0.0 && lr.is_finite()) {
                bail!("--batch must be at least 1 and --lr positive");
            }
            let opts = PretrainOptions {
                shape: parse_shape(&shape)?,
                field: field.into(),
                model: ModelConfig::preset(&preset)?,
                batch,
                lr,
                steps,
                time,
                out,
                resume,
                seed,
                history: 1,
                eval_states,
                samples,
                quiet: false,
            };
            let report = match backend {
                Device::Gpu(mut g) => pretrain(&mut *g, &opts)?,
                Device::Cpu => pretrain(&mut CpuBackend::new(), &opts)?,
            };
            print_report(&report, &opts);
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { files, field } => Ok(verify_files(&files, field.map(Field::from))),
        Command::Export {
            file,
            lang,
            out,
            index,
            shape,
        } => {
            let d = select(&file, index, shape.as_deref())?;
            let lang = match lang {
                LangArg::Python => Lang::Python,
                LangArg::Rust => Lang::Rust,
                LangArg::C => Lang::C,
            };
            verify(&d, d.field).map_err(|e| {
                anyhow!(
                    "{}: not a decomposition of {} over {}: {e}",
                    file.display(),
                    d.shape,
                    d.field
                )
            })?;
            let code = export(&d, lang);
            match out {
                Some(path) => json::write_atomic(&path, code.as_bytes())?,
                None => print!("{code}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Info { shape } => {
            print!("{}", info(parse_shape(&shape)?));
            Ok(ExitCode::SUCCESS)
        }
        Command::Devices => devices(),
        Command::Bench {
            what: BenchWhat::Kernels,
            device,
            json,
            quick,
            seconds,
        } => bench_kernels(device, json.as_deref(), quick, seconds),
    }
}

enum Device {
    Gpu(Box<gpu::GpuBackend>),
    Cpu,
}

/// `gpu`: the best adapter, software accepted (and said so); `cpu`: the
/// native backend; `auto`: a hardware GPU when there is one, else the CPU.
fn choose_device(arg: DeviceArg) -> Result<Device> {
    let hardware = || {
        gpu::enumerate_adapters()
            .into_iter()
            .find(|a| a.get_info().device_type != wgpu::DeviceType::Cpu)
    };
    let device = match arg {
        DeviceArg::Cpu => Device::Cpu,
        DeviceArg::Gpu => Device::Gpu(Box::new(gpu::GpuBackend::new()?)),
        DeviceArg::Auto => match hardware() {
            Some(adapter) => Device::Gpu(Box::new(gpu::GpuBackend::with_adapter(adapter)?)),
            None => Device::Cpu,
        },
    };
    Ok(device)
}

/// `90s`, `10m`, `2h`, or plain seconds.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 90s, 10m or 2h"))?;
    let scale = match unit {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("'{text}': unknown unit '{unit}' (s, m or h)")),
    };
    if !(value > 0.0 && (value * scale).is_finite()) {
        return Err(format!("'{text}' must be a positive duration"));
    }
    Ok(std::time::Duration::from_secs_f64(value * scale))
}

fn print_report(r: &Report, opts: &PretrainOptions) {
    let e = &r.evaluation;
    println!(
        "trained {} steps in {:.0} s on {} ({:.2} steps/s, batch {}, {} parameters)",
        r.steps, r.seconds, r.device, r.steps_per_second, r.batch, r.parameters
    );
    println!(
        "held-out ({} states): token accuracy {:.3}, top-1 exact factor {:.3}, any of {} sampled {:.3}",
        e.states, e.token_accuracy, e.top1_exact, e.samples, e.any_of_samples_exact
    );
    println!(
        "checkpoint, metrics.jsonl and report.json in {}",
        opts.out.display()
    );
}

fn parse_shape(text: &str) -> Result<Shape> {
    text.parse::<Shape>().map_err(|e| anyhow!(e))
}

fn verify_files(files: &[PathBuf], field: Option<Field>) -> ExitCode {
    let mut all_hold = true;
    for path in files {
        let ds = match json::read_file(path) {
            Ok(ds) => ds,
            Err(e) => {
                eprintln!("error: {}", one_line(&e));
                all_hold = false;
                continue;
            }
        };
        for (i, d) in ds.iter().enumerate() {
            let over = field.unwrap_or(d.field);
            let label = if ds.len() == 1 {
                path.display().to_string()
            } else {
                format!("{}[{i}]", path.display())
            };
            let verdict = match verify(d, over) {
                Ok(()) => "ok".to_string(),
                Err(e) => {
                    all_hold = false;
                    format!("FAILED: {e}")
                }
            };
            let over_text = if over == d.field {
                String::new()
            } else {
                format!(" over {over}")
            };
            println!(
                "{label}: {} {} rank {}{over_text}: {verdict}",
                d.shape,
                d.field,
                d.rank()
            );
        }
    }
    if all_hold {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The one decomposition `export` works on.
fn select(file: &Path, index: Option<usize>, shape: Option<&str>) -> Result<Decomposition> {
    let mut ds = json::read_file(file)?;
    let count = ds.len();
    if let Some(i) = index {
        if i >= count {
            bail!(
                "{}: --index {i} is out of range, the file holds {count}",
                file.display()
            );
        }
        return Ok(ds.swap_remove(i));
    }
    if let Some(s) = shape {
        let s = parse_shape(s)?;
        let mut matching: Vec<Decomposition> = ds.into_iter().filter(|d| d.shape == s).collect();
        return match matching.len() {
            1 => Ok(matching.remove(0)),
            0 => bail!("{}: no decomposition of shape {s}", file.display()),
            k => bail!(
                "{}: {k} decompositions of shape {s}, choose one with --index",
                file.display()
            ),
        };
    }
    match count {
        1 => Ok(ds.remove(0)),
        _ => bail!(
            "{}: holds {count} decompositions, choose one with --index or --shape",
            file.display()
        ),
    }
}

fn info(shape: Shape) -> String {
    let [la, lb, lc] = shape.factor_lens();
    let mut s = format!(
        "shape        {shape}: A is {n}x{m}, B is {m}x{p}, C is {n}x{p}\n\
         tensor       {la} x {lb} x {lc}, {nnz} nonzero entries\n\
         standard     rank {std}\n",
        n = shape.n,
        m = shape.m,
        p = shape.p,
        nnz = shape.standard_rank(),
        std = shape.standard_rank()
    );
    match reference::best_ranks(shape) {
        Some(b) if b.z2 == b.z && b.z == b.q => {
            s += &format!("best known   rank {} (over Z2, Z and Q)\n", b.z)
        }
        Some(b) => {
            s += &format!(
                "best known   rank {} over Z2, {} over Z, {} over Q\n",
                b.z2, b.z, b.q
            )
        }
        None => s += "best known   not in the built-in table (shapes up to 5x5x5)\n",
    }
    for field in [Field::Z, Field::Z2] {
        let enc = ActionEncoding::default_for(shape, field);
        s += &format!(
            "actions {:<4} coefficients {:?}, {} per action, chunk {} -> {} tokens, vocabulary {}\n",
            field.name(),
            enc.coefficients(),
            enc.action_len(),
            enc.chunk(),
            enc.n_tokens(),
            enc.vocab_size()
        );
    }
    s
}

fn bench_kernels(
    device: BenchDevice,
    json: Option<&Path>,
    quick: bool,
    seconds: f64,
) -> Result<ExitCode> {
    if !(seconds > 0.0 && seconds <= 600.0) {
        bail!("--seconds must be in (0, 600], found {seconds}");
    }
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
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&rows)?;
        json::write_atomic(path, format!("{text}\n").as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn devices() -> Result<ExitCode> {
    let reports = gpu::describe_adapters();
    if reports.is_empty() {
        let msg = "no wgpu adapter found (no Vulkan, Metal or DX12 driver); on Linux without a GPU, install Mesa's lavapipe: apt-get install mesa-vulkan-drivers";
        if gpu::require_gpu() {
            bail!("{msg}; {}=1 requires one", gpu::adapters::REQUIRE_GPU_ENV);
        }
        println!("{msg}");
        return Ok(ExitCode::SUCCESS);
    }
    for (i, r) in reports.iter().enumerate() {
        println!("{}", r.render(i));
    }
    Ok(ExitCode::SUCCESS)
}
