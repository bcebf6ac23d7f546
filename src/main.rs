//! The command line of tensorsearch: clap definitions and dispatch; each
//! command's body lives under `cli/`.

mod cli;

use clap::{Parser, Subcommand, ValueEnum};
use cli::bench::BenchDevice;
use cli::common::{one_line, parse_duration, DeviceArg};
use cli::pretrain::PretrainArgs;
use cli::search::SearchArgs;
use std::path::PathBuf;
use std::process::ExitCode;
use tensorsearch::problem::export::{Arith, Lang};
use tensorsearch::problem::Field;
use tensorsearch::train::Mix;

#[derive(Parser)]
#[command(
    name = "tensorsearch",
    version,
    about = "Discovers fast matrix-multiplication algorithms with AlphaTensor's method (sampled MCTS and a transformer, on any wgpu GPU) and verifies every algorithm exactly"
)]
struct Cli {
    /// Compute device, before or after the command.
    #[arg(long, value_enum, global = true, default_value = "auto")]
    device: DeviceArg,
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
enum LangArg {
    Python,
    Rust,
    C,
}

#[derive(Clone, Copy, ValueEnum)]
enum ArithArg {
    /// Exact integers; C and Rust state and check a bound on the entries.
    Exact,
    /// Doubles: faster, with rounding error.
    F64,
}

// Parsed once per run: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Search for decompositions of SHAPE with reinforcement learning (the main job).
    Search {
        /// Shape n x m x p, e.g. 2x2x2 or 2,2,2 (not needed with --resume).
        shape: Option<String>,
        /// z (default) or z2.
        #[arg(long, value_enum)]
        field: Option<FieldArg>,
        /// Model size: tiny, small (CPU default) or large (GPU default).
        #[arg(long)]
        preset: Option<String>,
        /// Stop after this long, e.g. 90s, 10m, 2h (default: at --target or Ctrl-C).
        #[arg(long, value_parser = parse_duration)]
        time: Option<std::time::Duration>,
        /// Stop once a verified decomposition of at most this rank is found.
        #[arg(long)]
        target: Option<usize>,
        /// Stop after this many learner steps.
        #[arg(long)]
        steps: Option<u64>,
        /// Output directory (default runs/SHAPE-FIELD).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue the run checkpointed in this directory, with its settings.
        #[arg(long)]
        resume: Option<PathBuf>,
        #[arg(long)]
        seed: Option<u64>,
        /// Start from the weights of a `pretrain` checkpoint directory.
        #[arg(long)]
        init: Option<PathBuf>,
        /// Games played at once (G).
        #[arg(long)]
        games: Option<usize>,
        /// Actions sampled from the policy per tree node (K).
        #[arg(long)]
        samples: Option<usize>,
        /// MCTS simulations per move.
        #[arg(long)]
        simulations: Option<usize>,
        /// Simulations one game may have in flight per round (virtual loss).
        #[arg(long)]
        leaves_per_game: Option<usize>,
        /// The step limit R_limit (default: the standard rank).
        #[arg(long)]
        max_steps: Option<usize>,
        /// Fraction of games played in the standard basis (the rest in random bases).
        #[arg(long)]
        standard_fraction: Option<f64>,
        /// Learner batch size.
        #[arg(long)]
        batch: Option<usize>,
        /// Learner AdamW learning rate.
        #[arg(long)]
        lr: Option<f32>,
        /// AdamW weight decay on the weights of linear maps (none on norms, biases, embeddings).
        #[arg(long)]
        weight_decay: Option<f32>,
        /// Shares of synthetic demonstrations, played games and best games in a batch, e.g. 0.5,0.25,0.25.
        #[arg(long)]
        mix: Option<Mix>,
        /// Actor moves per learner step.
        #[arg(long)]
        moves_per_step: Option<usize>,
        /// Learner steps on synthetic demonstrations alone before self-play starts.
        #[arg(long)]
        warmup_steps: Option<u32>,
        /// Propose only the policy's own samples (pure AlphaTensor), without
        /// the w completed from the residual.
        #[arg(long)]
        no_completion: bool,
        /// Moves of each game drawn from the MCTS policy; later moves take the most visited action.
        #[arg(long)]
        sampled_moves: Option<usize>,
        /// Do not walk the flip graph from the decompositions self-play finds (pure AlphaTensor).
        #[arg(long)]
        no_polish: bool,
    },
    /// Train the network on synthetic demonstrations of SHAPE (supervised), then report held-out accuracy.
    Pretrain {
        /// Shape n x m x p, e.g. 2x2x2 or 2,2,2 (not needed with --resume).
        shape: Option<String>,
        /// z (default) or z2.
        #[arg(long, value_enum)]
        field: Option<FieldArg>,
        /// Model size: tiny, small (CPU default) or large (GPU).
        #[arg(long)]
        preset: Option<String>,
        /// Train for this long, e.g. 90s, 10m, 2h; the held-out evaluation
        /// follows, with its own progress bar.
        #[arg(long, value_parser = parse_duration)]
        time: Option<std::time::Duration>,
        /// Stop after this many optimiser steps.
        #[arg(long)]
        steps: Option<u64>,
        /// Output directory: checkpoint, metrics.jsonl, report.json (default runs/pretrain, or the --resume DIR).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue from the checkpoint in this directory, with its settings.
        #[arg(long)]
        resume: Option<PathBuf>,
        /// Seed (default 0).
        #[arg(long)]
        seed: Option<u64>,
        /// States per batch (default 64).
        #[arg(long)]
        batch: Option<usize>,
        /// AdamW learning rate.
        #[arg(long, default_value_t = 1e-3)]
        lr: f32,
        /// AdamW weight decay on the weights of linear maps (none on norms, biases, embeddings).
        #[arg(long, default_value_t = 0.0)]
        weight_decay: f32,
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
        /// Write here (atomically) instead of standard output. Never the
        /// input; an existing file is replaced only if it is code this
        /// command wrote, or with --force.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an existing --out file that is not exported code.
        #[arg(long)]
        force: bool,
        /// Arithmetic of the generated code.
        #[arg(long, value_enum, default_value = "exact")]
        arith: ArithArg,
        /// In a file of several, the decomposition at this position (from 0).
        #[arg(long, conflicts_with = "shape")]
        index: Option<usize>,
        /// In a file of several, the decomposition of this shape.
        #[arg(long)]
        shape: Option<String>,
    },
    /// Flip-graph walks over Z2 from the standard algorithm (or a scheme): a pool of walks on all CPU threads, every improvement verified and written.
    Flip(cli::flip::FlipArgs),
    /// Show the tensor of SHAPE, its standard and best published ranks, and its action encoding.
    Info {
        /// Shape n x m x p, e.g. 2x2x2 or 2,2,2.
        shape: String,
    },
    /// List wgpu adapters with the limits and features that matter to compute.
    Devices,
    /// Benchmark the compute kernels, training or the search, GPU against CPU (--device auto: both).
    Bench {
        #[arg(value_enum)]
        what: BenchWhat,
        /// Also write the measurements as JSON here (atomically).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Skip the largest shapes.
        #[arg(long)]
        quick: bool,
        /// Seconds of timed calls per kernel (default 0.5), per training configuration (default 6), per search configuration (default 10) or per flip shape (default 4).
        #[arg(long)]
        seconds: Option<f64>,
        /// bench train: one model preset (tiny, small or large) instead of tiny and small.
        #[arg(long)]
        preset: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum BenchWhat {
    /// Every kernel family at the shapes of the network.
    Kernels,
    /// The search's throughput: network evaluations, simulations and games per second, for 2x2x2 and 3x3x3.
    Search,
    /// Training steps/s and leaf evaluations/s for 2x2x2 at batch 64, device work per step, and time per operation.
    Train,
    /// Z2 flip-graph walks: flips per second on one thread and on all, for 3x3x3, 4x4x4 and 5x5x5.
    Flips,
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    match run(cli.device, cli.command) {
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

fn run(device: DeviceArg, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Search {
            shape,
            field,
            preset,
            time,
            target,
            steps,
            out,
            resume,
            seed,
            init,
            games,
            samples,
            simulations,
            leaves_per_game,
            max_steps,
            standard_fraction,
            batch,
            lr,
            weight_decay,
            mix,
            moves_per_step,
            warmup_steps,
            no_completion,
            sampled_moves,
            no_polish,
        } => cli::search::run(
            device,
            SearchArgs {
                shape,
                field: field.map(Field::from),
                preset,
                time,
                target,
                steps,
                out,
                resume,
                seed,
                init,
                games,
                samples,
                simulations,
                leaves_per_game,
                max_steps,
                standard_fraction,
                batch,
                lr,
                weight_decay,
                mix,
                moves_per_step,
                warmup_steps,
                no_completion,
                sampled_moves,
                no_polish,
            },
        ),
        Command::Pretrain {
            shape,
            field,
            preset,
            time,
            steps,
            out,
            resume,
            seed,
            batch,
            lr,
            weight_decay,
            eval_states,
            samples,
        } => cli::pretrain::run(
            device,
            PretrainArgs {
                shape,
                field: field.map(Field::from),
                preset,
                time,
                steps,
                out,
                resume,
                seed,
                batch,
                lr,
                weight_decay,
                eval_states,
                samples,
            },
        ),
        Command::Verify { files, field } => {
            Ok(cli::verify::verify_files(&files, field.map(Field::from)))
        }
        Command::Export {
            file,
            lang,
            out,
            force,
            arith,
            index,
            shape,
        } => {
            let lang = match lang {
                LangArg::Python => Lang::Python,
                LangArg::Rust => Lang::Rust,
                LangArg::C => Lang::C,
            };
            let arith = match arith {
                ArithArg::Exact => Arith::Exact,
                ArithArg::F64 => Arith::F64,
            };
            let target = cli::export::Target { out, force };
            cli::export::run(file, lang, arith, target, index, shape)
        }
        Command::Flip(args) => cli::flip::run(device, args),
        Command::Info { shape } => {
            let shape = cli::common::parse_shape(&shape)?;
            print!("{}", cli::info::info(shape));
            print!("{}", cli::info::memory(shape)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Devices => cli::devices::devices(),
        Command::Bench {
            what,
            json,
            quick,
            seconds,
            preset,
        } => {
            // --device auto times both, GPU against CPU.
            let on = match device {
                DeviceArg::Gpu => BenchDevice::Gpu,
                DeviceArg::Cpu => BenchDevice::Cpu,
                DeviceArg::Auto => BenchDevice::Both,
            };
            if preset.is_some() && !matches!(what, BenchWhat::Train) {
                anyhow::bail!("--preset applies to bench train only");
            }
            match what {
                BenchWhat::Kernels => cli::bench::kernels(on, json.as_deref(), quick, seconds),
                BenchWhat::Search => cli::bench::search(on, json.as_deref(), quick, seconds),
                BenchWhat::Flips => cli::bench::flips(on, json.as_deref(), quick, seconds),
                BenchWhat::Train => {
                    cli::bench::train(on, json.as_deref(), quick, seconds, preset.as_deref())
                }
            }
        }
    }
}
