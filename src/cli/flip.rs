//! `tensorsearch flip`: settings (fresh, or a resumed run's own), the run,
//! and the closing summary.

use super::common::{agree, choose_device, parse_duration, parse_shape, Device, DeviceArg};
use anyhow::{anyhow, bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tensorsearch::flip::gpu::walks_for;
use tensorsearch::flip::pool::PoolSettings;
use tensorsearch::flip::run::{
    lift_found, read_settings, run as run_flips, Arith, Engine, FlipSettings, Stop, LIFT_STEPS,
    STATE_FILE,
};
use tensorsearch::problem::reference;
use tensorsearch::problem::Shape;

/// The command line of `flip`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct FlipArgs {
    /// Shape n x m x p with n·m, m·p, n·p up to 64 (not needed with --resume).
    pub shape: Option<String>,
    /// Walk over z2 (the default) or z.
    #[arg(long)]
    pub field: Option<String>,
    /// Over z: coefficients in {-1,0,1} (ternary, the default) or from -7 to 7 (any).
    #[arg(long)]
    pub coeffs: Option<String>,
    /// Start from `standard` (the default) or from the first decomposition in FILE.
    #[arg(long)]
    pub from: Option<String>,
    /// Stop once a scheme of at most this rank is found.
    #[arg(long)]
    pub target: Option<usize>,
    /// Stop after this long, e.g. 90s, 10m, 2h (default: at --target or Ctrl-C).
    #[arg(long, value_parser = parse_duration)]
    pub time: Option<Duration>,
    /// Walk threads (default: all cores). The walks do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output directory (default runs/flip-SHAPE-z2, or -z-ternary, -z-any).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Continue the run checkpointed in this directory, with its settings.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Schemes kept in the pool at one rank (default 64).
    #[arg(long)]
    pub pool: Option<usize>,
    /// Steps before a walk gives up (default 2000000).
    #[arg(long)]
    pub path_limit: Option<u64>,
    /// Flips without a new low before a plus transition (default 50000).
    #[arg(long)]
    pub plateau: Option<u64>,
    /// At the end, Hensel-lift the best-rank schemes to Z or Q; those that lift go to OUT/lifted/, verified.
    #[arg(long)]
    pub lift: bool,
}

pub fn run(device: DeviceArg, args: FlipArgs) -> Result<ExitCode> {
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    if args.target == Some(0) {
        bail!("--target must be at least 1");
    }
    let (mut settings, resume, out) = match &args.resume {
        Some(dir) => {
            let saved = read_settings(dir)?;
            (resumed(&args, &saved)?, true, dir.clone())
        }
        None => {
            let s = fresh(&args)?;
            let [n, m, p] = s.shape;
            let tag = s.arith()?.tag();
            let out = args
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("runs/flip-{n}x{m}x{p}-{tag}")));
            if out.join(STATE_FILE).exists() {
                bail!(
                    "{} already holds a flip run: continue it with --resume {0}, or choose another --out",
                    out.display()
                );
            }
            (s, false, out)
        }
    };
    let arith = settings.arith()?;
    if args.lift && arith != Arith::Z2 {
        bail!("--lift takes Z2 schemes to Z or Q; this run is already over Z");
    }
    let stop = Stop {
        time: args.time,
        target: args.target,
    };
    let (engine, gpu_walks) = engine(device, arith, settings.shape()?, args.threads)?;
    if let (Some(walks), false) = (gpu_walks, resume) {
        // A fresh GPU run walks many at a time; a resumed one keeps its own.
        settings.pool.walks_per_round = walks;
    }
    let report = run_flips(&settings, resume, &out, stop, engine)?;
    let shape = settings.shape()?;
    let field = arith.field();
    let published = reference::best_ranks(shape)
        .map(|b| format!(" (best published over {field}: {})", b.get(field)))
        .unwrap_or_default();
    println!(
        "best rank {}{published}, verified over {field}, in {}",
        report.best_rank,
        report.best_file.display()
    );
    let per_thread = report
        .threads
        .map(|n| format!(", {:.2} M per thread", report.flips_per_s / 1e6 / n as f64))
        .unwrap_or_default();
    println!(
        "{} flips in {:.1} s on {} ({:.2} M flips/s{per_thread}); stopped by {}",
        report.flips,
        report.seconds,
        report.device,
        report.flips_per_s / 1e6,
        report.stopped_by
    );
    if args.lift {
        let outcomes = lift_found(&out, report.best_rank)?;
        let lifted = outcomes.iter().filter(|o| o.result.is_ok()).count();
        for o in &outcomes {
            match &o.result {
                Ok((to, field)) => println!(
                    "{}: lifted to {} ({}), verified",
                    o.scheme.display(),
                    field.name(),
                    to.display()
                ),
                Err(why) => println!("{}: does not lift: {why}", o.scheme.display()),
            }
        }
        println!(
            "{lifted} of {} rank-{} schemes lift ({LIFT_STEPS} Hensel steps)",
            outcomes.len(),
            report.best_rank
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// CPU threads, or a GPU for Z2 walks (`auto`: a hardware GPU when there
/// is one and the walk is over Z2) with the walks it takes at a time.
fn engine(
    device: DeviceArg,
    arith: Arith,
    shape: Shape,
    threads: Option<usize>,
) -> Result<(Engine, Option<usize>)> {
    let cpu = Ok((Engine::Cpu(threads), None));
    let device = match (device, arith) {
        (DeviceArg::Cpu, _) => return cpu,
        (DeviceArg::Gpu, Arith::Z2) => DeviceArg::Gpu,
        (DeviceArg::Gpu, _) => {
            bail!("the GPU walk is over Z2 only: use --device cpu with --field z")
        }
        (DeviceArg::Auto, Arith::Z2) => DeviceArg::Auto,
        (DeviceArg::Auto, _) => return cpu,
    };
    match choose_device(device)? {
        Device::Cpu => cpu,
        Device::Gpu(gpu) => {
            if threads.is_some() {
                bail!("--threads is for CPU walks; this run walks on the GPU (--device cpu to use threads)");
            }
            // The standard rank bounds the start's (a FILE's larger
            // scheme gets a clear error when its walks do not fit).
            let walks = walks_for(&gpu, shape.standard_rank());
            Ok((Engine::Gpu(gpu), Some(walks)))
        }
    }
}

fn fresh(args: &FlipArgs) -> Result<FlipSettings> {
    let text = args
        .shape
        .as_ref()
        .ok_or_else(|| anyhow!("give a SHAPE such as 3x3x3 (or --resume DIR)"))?;
    // An unsupported shape is refused where the start scheme is made.
    let shape = parse_shape(text)?;
    let defaults = PoolSettings::default();
    let pool = PoolSettings {
        pool_size: args.pool.unwrap_or(defaults.pool_size),
        path_limit: args.path_limit.unwrap_or(defaults.path_limit),
        plateau: args.plateau.unwrap_or(defaults.plateau),
        ..defaults
    };
    pool.check()?;
    let arith = Arith::new(
        args.field.as_deref().unwrap_or("z2"),
        args.coeffs.as_deref(),
    )?;
    let (field, coeffs) = arith.settings();
    Ok(FlipSettings {
        shape: [shape.n, shape.m, shape.p],
        field,
        coeffs,
        from: args.from.clone().unwrap_or_else(|| "standard".into()),
        seed: args.seed.unwrap_or(1),
        pool,
    })
}

fn resumed(args: &FlipArgs, s: &FlipSettings) -> Result<FlipSettings> {
    if let Some(text) = &args.shape {
        let shape = parse_shape(text)?;
        agree("SHAPE", Some([shape.n, shape.m, shape.p]), s.shape)?;
    }
    let saved = s.arith()?;
    let field = args.field.as_deref().unwrap_or(&s.field);
    let coeffs = args.coeffs.as_deref().or(s
        .coeffs
        .as_deref()
        .filter(|_| field.eq_ignore_ascii_case(&s.field)));
    let given = Arith::new(field, coeffs)?;
    if given != saved {
        bail!(
            "--field/--coeffs ({}) conflict with the checkpoint's {} (leave them out to continue the run as it was)",
            given.tag(),
            saved.tag()
        );
    }
    agree("--from", args.from.clone(), s.from.clone())?;
    agree("--seed", args.seed, s.seed)?;
    agree("--pool", args.pool, s.pool.pool_size)?;
    agree("--path-limit", args.path_limit, s.pool.path_limit)?;
    agree("--plateau", args.plateau, s.pool.plateau)?;
    if args.out.is_some() {
        bail!("--out starts a new run; a resumed run writes to its own directory");
    }
    Ok(s.clone())
}
