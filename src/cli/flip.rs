//! `tensorsearch flip`: options, settings (fresh, or a resumed run's own),
//! the run, and the closing summary.

use super::common::{
    agree, bounds, check_threads, choose_device, duration_arg, format_arg, parse_shape, ranged,
    Device, DeviceArg,
};
use anyhow::{anyhow, bail, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tensorsearch::cluster::redis_store::RedisExchange;
use tensorsearch::cluster::{Alone, ClusterUrl, Exchange};
use tensorsearch::flip::gpu::walks_for;
use tensorsearch::flip::pool::PoolSettings;
use tensorsearch::flip::run::{
    lift_found, read_settings, run as run_flips, Arith, Coeffs, Engine, FlipSettings, LIFT_STEPS,
};
use tensorsearch::flip::scheme::Z2Scheme;
use tensorsearch::flip::symmetric::Symmetry;
use tensorsearch::problem::formats::Format;
use tensorsearch::problem::{reference, Field};
use tensorsearch::run::Stop;

/// The most schemes a pool may keep at one rank.
const MAX_POOL: usize = 100_000;

/// The command line of `flip`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct FlipArgs {
    /// Shape n x m x p with n·m, m·p, n·p up to 256 over Z2, 64 over Z (not needed with --resume).
    pub shape: Option<String>,
    /// Walk over z2 (the default) or z.
    #[arg(long, value_parser = PossibleValuesParser::new(["z2", "z"]).map(|s| s.parse::<Field>().expect("listed")))]
    pub field: Option<Field>,
    /// Over z: coefficients in {-1,0,1} (ternary, the default) or from -7 to 7 (any).
    #[arg(long, value_parser = PossibleValuesParser::new(["ternary", "any"]).map(|s| s.parse::<Coeffs>().expect("listed")))]
    pub coeffs: Option<Coeffs>,
    /// Start from `standard` (the default), from FILE (its decomposition of SHAPE, else its first; any of the formats verify reads), from `product:A,B`, the tensor product of the schemes in files A and B, or from `cubes:10001,01010,00100`, the standard algorithm of a square shape with its diagonal products grouped into cubes (one 0/1 string per cube); a scheme of another shape is projected and extended by standard terms to SHAPE.
    #[arg(long)]
    pub from: Option<String>,
    /// Stop once a scheme of at most this rank is found (exit 3 if the run ends first).
    #[arg(long, value_parser = ranged::<usize>(bounds::TARGET))]
    pub target: Option<usize>,
    /// Stop after this long, e.g. 90s, 10m, 2h, at most a year (default: at --target or Ctrl-C).
    #[arg(long, value_parser = duration_arg)]
    pub time: Option<Duration>,
    /// Walk threads, 1 to 4 per core (default: all cores). The walks do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output directory (default runs/flip-SHAPE-z2, or -z-ternary, -z-any).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed of the walks (default 1): the same seed walks the same way.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Continue the run checkpointed in this directory, with its settings.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Schemes kept in the pool at one rank, 1 to 100000 (default 64).
    #[arg(long, value_parser = ranged::<usize>([1, MAX_POOL as u64]))]
    pub pool: Option<usize>,
    /// Steps before a walk gives up, at least 1 (default 2000000).
    #[arg(long, value_parser = ranged::<u64>([1, u64::MAX]))]
    pub path_limit: Option<u64>,
    /// Flips without a new low before a plus transition, at least 1 (default 50000; 16000 with --symmetry).
    #[arg(long, value_parser = ranged::<u64>([1, u64::MAX]))]
    pub plateau: Option<u64>,
    /// Plus transitions only while the walk's rank is less than this many above its own low, 1 to 1000 (default: no bound).
    #[arg(long, value_parser = ranged::<usize>([1, 1000]))]
    pub slack: Option<usize>,
    /// Flips drawn per move, 1 to 64: the first that a merge or a zero factor follows is made, else the last (default 1: every flip random).
    #[arg(long, value_parser = ranged::<usize>([1, 64]))]
    pub prefer_reductions: Option<usize>,
    /// Path limits: adaptive (the default without --symmetry: walks start at a sixteenth of --path-limit and take twice as long after every 256 walks without a lower rank, up to 16 times it; short again once the rank drops) or fixed (every walk --path-limit; the default with --symmetry).
    #[arg(long, value_enum)]
    pub limits: Option<Limits>,
    /// After each flip, merges only (merge, the default: more flips per
    /// second) or also the general reduction (general: a term whose factor
    /// depends on those of terms sharing another factor is folded away).
    #[arg(long, value_enum)]
    pub reduction: Option<Reduction>,
    /// At the end, Hensel-lift the best-rank schemes to Z or Q; those that lift go to OUT/lifted/, verified.
    #[arg(long)]
    pub lift: bool,
    /// The format of the --from files (json, fmm-json, maple, exp, tfg, npz, cpd-txt, cpd-npy); by default their content and extension tell.
    #[arg(long, value_parser = format_arg())]
    pub format: Option<Format>,
    /// Walk only schemes invariant under a group, moving whole orbits of terms (square shapes over z2, CPU): c3, the cyclic shift of the three factors, or c6, the shift and the 180-degree turn of every matrix. The diagonal products are fixed cubes; `--from cubes:…` groups them (for c6, into groups that the turn i -> n+1-i maps onto groups).
    #[arg(long)]
    pub symmetry: Option<Symmetry>,
    /// Share the pool with workers on any machine through Redis: redis://HOST:PORT/NAME (NAME keeps runs apart). Improvements go out at once; the others' lower schemes are verified and taken within a second or so.
    #[arg(long)]
    pub cluster: Option<String>,
}

/// How long walks may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Limits {
    /// From a sixteenth of --path-limit to 16 times it, longer while no
    /// walk finds a lower rank.
    Adaptive,
    /// Every walk --path-limit.
    Fixed,
}

/// What a walk reduces after each flip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Reduction {
    /// Terms sharing two factors merge; a zero term drops.
    Merge,
    /// Merges, and the general reduction by linear dependence.
    General,
}

pub fn run(device: DeviceArg, args: FlipArgs) -> Result<ExitCode> {
    check_threads(args.threads)?;
    let cluster = args.cluster.as_deref().map(ClusterUrl::parse).transpose()?;
    let (settings, resume, out) = match &args.resume {
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
        steps: None,
    };
    let shape = settings.shape()?;
    let general = settings.pool.general_reduction;
    if general && device == DeviceArg::Gpu {
        bail!("the GPU walk makes merges only: use --device cpu with --reduction general");
    }
    let bounded = settings.pool.slack != usize::MAX;
    if bounded && device == DeviceArg::Gpu {
        bail!("the GPU walk has no --slack: use --device cpu with --slack");
    }
    if settings.pool.draws > 1 && device == DeviceArg::Gpu {
        bail!("the GPU walk draws its flips at random: use --device cpu with --prefer-reductions");
    }
    let symmetric = !settings.pool.symmetry.is_none();
    if symmetric && device == DeviceArg::Gpu {
        bail!("the GPU walk keeps no symmetry: use --device cpu with --symmetry");
    }
    // Factors longer than one word are walked on the CPU.
    let one_word = Z2Scheme::supports(shape);
    if !one_word && device == DeviceArg::Gpu {
        bail!("the GPU walk holds factors of up to 64 coefficients: use --device cpu for {shape}");
    }
    if !one_word && args.lift {
        bail!("--lift takes factors of up to 64 coefficients; {shape} has longer ones");
    }
    // The general reduction, symmetry, a slack, preferred reductions and
    // long factors run in CPU walks (auto picks them).
    let device = if general || symmetric || bounded || settings.pool.draws > 1 || !one_word {
        DeviceArg::Cpu
    } else {
        device
    };
    // The server is reached before the run directory is made or a GPU
    // touched: an unreachable one is one line and nothing written.
    let exchange: Box<dyn Exchange> = match &cluster {
        Some(url) => Box::new(RedisExchange::join(url, shape, arith.field())?),
        None => Box::new(Alone),
    };
    let report = run_flips(settings, resume, &out, stop, exchange, |arith| {
        engine(device, arith, shape.standard_rank(), args.threads)
    })?;
    let field = arith.field();
    let published = reference::best_ranks(shape)
        .and_then(|b| b.get(field))
        .map(|r| format!(" (best known over {field}: {r})"))
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
        report.stopped_by.words()
    );
    if let (Some(target), false) = (
        stop.target,
        report.stopped_by == tensorsearch::run::Stopped::Target,
    ) {
        println!("--target {target} not reached");
    }
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
    Ok(stop.exit_code(report.stopped_by))
}

/// CPU threads, or a GPU for Z2 walks (`auto`: a hardware GPU when there
/// is one and the walk is over Z2) with the walks it takes at a time.
fn engine(
    device: DeviceArg,
    arith: Arith,
    standard_rank: usize,
    threads: Option<usize>,
) -> Result<Engine> {
    let cpu = Ok(Engine::Cpu(threads));
    let device = match (device, arith) {
        (DeviceArg::Cpu, _) => return cpu,
        (DeviceArg::Gpu, Arith::Z2) => DeviceArg::Gpu,
        (DeviceArg::Gpu, _) => {
            bail!("the GPU walk is over Z2 only: use --device cpu with --field z")
        }
        // Threads asked for: the walks run on the CPU.
        (DeviceArg::Auto, Arith::Z2) if threads.is_none() => DeviceArg::Auto,
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
            let walks = walks_for(&gpu, standard_rank);
            Ok(Engine::Gpu(gpu, walks))
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
    // Symmetric walks have defaults of their own (measured at 5x5x5).
    let defaults = PoolSettings::for_symmetry(args.symmetry.unwrap_or_default());
    let pool = PoolSettings {
        pool_size: args.pool.unwrap_or(defaults.pool_size),
        path_limit: args.path_limit.unwrap_or(defaults.path_limit),
        plateau: args.plateau.unwrap_or(defaults.plateau),
        general_reduction: args
            .reduction
            .map_or(defaults.general_reduction, |r| r == Reduction::General),
        slack: args.slack.unwrap_or(defaults.slack),
        draws: args.prefer_reductions.unwrap_or(defaults.draws),
        adaptive: args
            .limits
            .map_or(defaults.adaptive, |limits| limits == Limits::Adaptive),
        ..defaults
    };
    pool.check()?;
    let arith = Arith::new(args.field.unwrap_or(Field::Z2), args.coeffs)?;
    pool.symmetry.check(shape, arith.field())?;
    let (field, coeffs) = arith.settings();
    Ok(FlipSettings {
        shape: [shape.n, shape.m, shape.p],
        field,
        coeffs,
        from: args.from.clone().unwrap_or_else(|| "standard".into()),
        from_format: args.format,
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
    let field = args.field.unwrap_or(s.field);
    let coeffs = args.coeffs.or(s.coeffs.filter(|_| field == s.field));
    let given = Arith::new(field, coeffs)?;
    if given != saved {
        bail!(
            "--field/--coeffs ({}) conflict with the checkpoint's {} (leave them out to continue the run as it was)",
            given.tag(),
            saved.tag()
        );
    }
    agree("--from", args.from.clone(), s.from.clone())?;
    if args.format.is_some() {
        agree(
            "--format",
            args.format,
            s.from_format.unwrap_or(Format::Json),
        )?;
    }
    agree("--seed", args.seed, s.seed)?;
    agree("--pool", args.pool, s.pool.pool_size)?;
    agree("--path-limit", args.path_limit, s.pool.path_limit)?;
    agree("--plateau", args.plateau, s.pool.plateau)?;
    let saved = if s.pool.general_reduction {
        Reduction::General
    } else {
        Reduction::Merge
    };
    agree("--reduction", args.reduction, saved)?;
    agree("--symmetry", args.symmetry, s.pool.symmetry)?;
    agree("--slack", args.slack, s.pool.slack)?;
    agree("--prefer-reductions", args.prefer_reductions, s.pool.draws)?;
    let saved = if s.pool.adaptive {
        Limits::Adaptive
    } else {
        Limits::Fixed
    };
    agree("--limits", args.limits, saved)?;
    if args.out.is_some() {
        bail!("--out starts a new run; a resumed run writes to its own directory");
    }
    Ok(s.clone())
}
