//! The command line of tensorsearch: parsing and dispatch; each command's
//! options and body live in its own file under `cli/`.

mod cli;

use clap::{Parser, Subcommand};
use cli::common::{one_line, DeviceArg};
use std::process::ExitCode;

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

// Parsed once per run: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Search for decompositions of SHAPE with reinforcement learning (the main job).
    Search(cli::search::SearchArgs),
    /// Train the network on synthetic demonstrations of SHAPE (supervised), then report held-out accuracy.
    Pretrain(cli::pretrain::PretrainArgs),
    /// Verify decomposition files exactly: one line per decomposition; exit 0 only when all hold.
    Verify(cli::verify::VerifyArgs),
    /// Convert scheme files between formats (json, fmm-json, maple, exp, tfg, cpd-txt, cpd-npy, npz), each scheme verified first.
    Convert(cli::convert::ConvertArgs),
    /// Export a decomposition as straight-line code for C = AB with exactly R multiplications.
    Export(cli::export::ExportArgs),
    /// Flip-graph walks over Z2 or Z from the standard algorithm (or a scheme): a pool of walks on all CPU threads or a GPU, every improvement verified and written.
    Flip(cli::flip::FlipArgs),
    /// Multiply random fp32 matrices with a scheme (recursively, --levels deep) and with plain GEMM on the same device: times, effective GFLOP/s, speedup and error against f64.
    Matmul(cli::matmul::MatmulArgs),
    /// Show the tensor of SHAPE, its standard and best known ranks (with their sources), and its action encoding.
    Info(cli::info::InfoArgs),
    /// Flips on each of several shapes for a fixed time: verified schemes, and table.md, table.json and table.svg beside the best known ranks.
    Table(cli::table::TableArgs),
    /// List wgpu adapters with the limits and features that matter to compute.
    Devices,
    /// What a Redis cluster of flip workers holds (status), or its best scheme of a shape (pull).
    #[command(subcommand)]
    Cluster(cli::cluster::ClusterCommand),
    /// Benchmark the compute kernels, training, the search or flips, GPU against CPU (--device auto: both).
    Bench(cli::bench::BenchArgs),
}

/// Exit status of a command line clap refuses (its own convention).
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: printed whole, as clap prints them.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message on one line: what is wrong, and the values
            // it takes; the usage lines after it are for --help.
            let text = e.render().to_string();
            let said: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("{}", said.join(" "));
            return ExitCode::from(EXIT_USAGE);
        }
    };
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
        Command::Search(args) => cli::search::run(device, args),
        Command::Pretrain(args) => cli::pretrain::run(device, args),
        Command::Verify(args) => Ok(cli::verify::run(args)),
        Command::Export(args) => cli::export::run(args),
        Command::Convert(args) => cli::convert::run(args),
        Command::Flip(args) => cli::flip::run(device, args),
        Command::Info(args) => cli::info::run(args),
        Command::Matmul(args) => cli::matmul::run(device, args),
        Command::Table(args) => cli::table::run(args),
        Command::Devices => cli::devices::devices(),
        Command::Cluster(command) => cli::cluster::run(command),
        Command::Bench(args) => cli::bench::run(device, args),
    }
}
