//! `tensorsearch search`: settings (per-device defaults, or a resumed run's
//! own), the run, and the closing summary.

use super::common::{
    agree, bounds, choose_device, parse_shape, ranged, within, Device, DeviceArg, LearningRun,
};
use anyhow::{anyhow, bail, Result};
use clap::builder::PossibleValuesParser;
use std::path::PathBuf;
use std::process::ExitCode;
use tensorsearch::cluster::search_store::RedisGames;
use tensorsearch::cluster::ClusterUrl;
use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::model::ModelConfig;
use tensorsearch::problem::Field;
use tensorsearch::run::Stop;
use tensorsearch::search::rank_bound::Penalty;
use tensorsearch::search::role::Role;
use tensorsearch::search::run::{open_dir, read_state, search, SearchReport, SearchSettings};
use tensorsearch::train::Mix;

/// The command line of `search`. Every setting is optional so that a
/// resumed run can tell what was given again.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub run: LearningRun,
    /// Stop once a verified decomposition of at most this rank is found (exit 3 if the run ends first).
    #[arg(long, value_parser = ranged::<usize>(bounds::TARGET))]
    pub target: Option<usize>,
    /// Start from the weights of a `pretrain` checkpoint directory.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Act or learn for a cluster on a Redis server: redis://HOST:PORT/NAME (with --role).
    #[arg(long)]
    pub cluster: Option<String>,
    /// In a --cluster: actor (self-play; games out, weights in) or learner (one per cluster: games in, weights out).
    #[arg(long, value_parser = PossibleValuesParser::new(["actor", "learner"]))]
    pub role: Option<String>,
    /// A learner sends its weights every this many steps, 1 to 1000000 (default 50).
    #[arg(long, value_parser = ranged::<u32>([1, 1_000_000]))]
    pub publish_every: Option<u32>,
    /// Games played at once (G), 1 to 4096.
    #[arg(long, value_parser = ranged::<usize>(bounds::GAMES))]
    pub games: Option<usize>,
    /// Actions sampled from the policy per tree node (K), 1 to 1024.
    #[arg(long, value_parser = ranged::<usize>(bounds::SAMPLES))]
    pub samples: Option<usize>,
    /// MCTS simulations per move, 1 to 100000 (default: 32 on the CPU, 100 on a GPU; 64 on the CPU with --no-polish).
    #[arg(long, value_parser = ranged::<usize>(bounds::SIMULATIONS))]
    pub simulations: Option<usize>,
    /// Simulations one game may have in flight per round (virtual loss), 1 to 256.
    #[arg(long, value_parser = ranged::<usize>(bounds::LEAVES_PER_GAME))]
    pub leaves_per_game: Option<usize>,
    /// The step limit R_limit, 1 to 4096 (default: the standard rank).
    #[arg(long, value_parser = ranged::<usize>(bounds::MAX_STEPS))]
    pub max_steps: Option<usize>,
    /// Fraction of games played in the standard basis (the rest in random bases).
    #[arg(long)]
    pub standard_fraction: Option<f64>,
    /// Learner batch size, 1 to 65536.
    #[arg(long, value_parser = ranged::<usize>(bounds::BATCH))]
    pub batch: Option<usize>,
    /// Learner AdamW learning rate.
    #[arg(long)]
    pub lr: Option<f32>,
    /// AdamW weight decay on the weights of linear maps (none on norms, biases, embeddings).
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// Shares of synthetic demonstrations, played games and best games in a batch (default 0.2,0,0.8 beside flip walks, 0.5,0.25,0.25 with --no-polish).
    #[arg(long)]
    pub mix: Option<Mix>,
    /// Actor moves per learner step, 1 to 100000.
    #[arg(long, value_parser = ranged::<usize>(bounds::MOVES_PER_STEP))]
    pub moves_per_step: Option<usize>,
    /// Learner steps before self-play starts, on the flips' best games alone once there is one (before that, and with --no-polish, on synthetic demonstrations), up to 10000000; the warm-up ends sooner once the network plays the flips' best rank from T by itself.
    #[arg(long, value_parser = ranged::<u32>(bounds::WARMUP_STEPS))]
    pub warmup_steps: Option<u32>,
    /// Propose only the policy's own samples, without the w completed from the residual (the default beside flip walks).
    #[arg(long, conflicts_with = "completion")]
    pub no_completion: bool,
    /// Also propose each sample with its w completed from the residual (the default with --no-polish).
    #[arg(long)]
    pub completion: bool,
    /// Moves of each game drawn from the MCTS policy, up to 4096; later moves take the most visited action.
    #[arg(long, value_parser = ranged::<usize>(bounds::SAMPLED_MOVES))]
    pub sampled_moves: Option<usize>,
    /// Fraction of each new root's priors replaced by Dirichlet noise (AlphaZero's exploration), 0 to 1.
    #[arg(long)]
    pub root_noise: Option<f64>,
    /// The α of the root noise's Dirichlet draw, above 0 up to 100.
    #[arg(long)]
    pub root_noise_alpha: Option<f64>,
    /// Softmax temperature at which candidate actions are drawn from the policy, 0.1 to 100 (above 1 proposes its unlikely actions more often; default 0.5 beside flip walks, 1 with --no-polish).
    #[arg(long)]
    pub sample_temperature: Option<f32>,
    /// Exploration candidates per tree node, up to 1024: random sparse (u, v) pairs with w completed from the residual, sharing a quarter of the prior.
    #[arg(long, value_parser = ranged::<usize>(bounds::EXPLORE))]
    pub explore: Option<usize>,
    /// Images of each solved self-play game under random symmetries of T (P·A·Q⁻¹, Q·B·R⁻¹, P·C·R⁻¹), taught as best games, 0 to 64 (default: 8 with --no-polish, else 0).
    #[arg(long, value_parser = ranged::<usize>(bounds::SYMMETRY_VIEWS))]
    pub symmetry_views: Option<usize>,
    /// Images of each new root's candidates under random symmetries of T, up to 1024, each scored by the value of the state it leads to; the best four join the root with a quarter of the prior (default: 256 with --no-polish, else 0).
    #[arg(long, value_parser = ranged::<usize>(bounds::EXPLORE))]
    pub explore_symmetric: Option<usize>,
    /// Fraction of the synthetic demonstrations whose factors are images of the standard algorithm's terms under random symmetries of T, 0 to 1.
    #[arg(long)]
    pub orbit_demos: Option<f64>,
    /// Share of the best games' positions played back in the game's own order, 0 to 1, the rest in random orders (default 1 beside flip walks, 0 with --no-polish): a game of rank R then shows R positions, which the network learns in hundreds of steps at 3x3x3 where random orders take thousands.
    #[arg(long)]
    pub best_in_order: Option<f64>,
    /// Share of new self-play games started from a promising prefix of an earlier game (the states the value head rates best, Go-Explore's restarts), 0 to 1 (default 0).
    #[arg(long)]
    pub restarts: Option<f64>,
    /// What a game unsolved at the step limit is charged: `upper`, a rank upper bound (the slices'), or `lower`, a rank lower bound (the flattenings').
    #[arg(long)]
    pub penalty: Option<Penalty>,
    /// No flip walks beside the actors (pure AlphaTensor: network and MCTS alone).
    #[arg(long)]
    pub no_polish: bool,
    /// Threads of the flip walks beside the actors, 1 to 256 (the rest of the CPU plays and learns).
    #[arg(long, value_parser = ranged::<usize>(bounds::FLIP_THREADS))]
    pub flip_threads: Option<usize>,
    /// Actors on their own threads, each with a share of the games, 1 to 256, on the CPU backend (default: the cores the flip walks leave, at least 1; a GPU batches all games in one actor). A resumed run may take another number.
    #[arg(long, value_parser = ranged::<usize>(bounds::ACTOR_THREADS))]
    pub actor_threads: Option<usize>,
}

/// Defaults chosen per device: the CPU plays few, cheap simulations with a
/// small model; a GPU batches many games and samples through a large one.
struct Defaults {
    preset: &'static str,
    games: usize,
    samples: usize,
    simulations: usize,
    batch: usize,
    moves_per_step: usize,
    warmup_steps: u32,
    /// Simulations per move of pure AlphaTensor (`--no-polish`), which
    /// needs more than a search beside flips (see [`PURE`]).
    pure_simulations: usize,
}

const CPU_DEFAULTS: Defaults = Defaults {
    preset: "tiny",
    games: 16,
    samples: 8,
    simulations: 32,
    batch: 64,
    moves_per_step: 2,
    warmup_steps: 1000,
    pure_simulations: 64,
};

const GPU_DEFAULTS: Defaults = Defaults {
    preset: "large",
    games: 64,
    samples: 32,
    simulations: 100,
    batch: 128,
    moves_per_step: 8,
    warmup_steps: 2000,
    pure_simulations: 100,
};

pub fn run(device: DeviceArg, args: SearchArgs) -> Result<ExitCode> {
    // Everything the command line and the run directory say is checked
    // before a GPU is touched: with the CPU's defaults first, then again
    // with the chosen device's.
    let (settings, out, resume) = match &args.run.resume {
        Some(dir) => (resumed(&args, dir)?, dir.clone(), true),
        None => {
            let s = fresh(&args, &CPU_DEFAULTS)?;
            let out = args.run.out.clone().unwrap_or_else(|| {
                let [n, m, p] = s.shape;
                PathBuf::from(format!(
                    "runs/{n}x{m}x{p}-{}",
                    s.field.name().to_lowercase()
                ))
            });
            (s, out, false)
        }
    };
    check(&settings)?;
    let cluster = match (&args.cluster, args.role.as_deref()) {
        (Some(url), Some(role)) => Some((ClusterUrl::parse(url)?, role == "learner")),
        (None, None) if args.publish_every.is_none() => None,
        (None, _) => bail!("--role and --publish-every are for a --cluster"),
        (Some(_), None) => bail!("--cluster needs --role actor or --role learner"),
    };
    if args.publish_every.is_some() && !cluster.as_ref().is_some_and(|c| c.1) {
        bail!("--publish-every is for the learner (--role learner)");
    }
    let dir = open_dir(&settings, &out, resume)?;
    // The server is reached before a GPU is touched or the directory made.
    let role = match cluster {
        None => Role::Alone,
        Some((url, learner)) => {
            let exchange = Box::new(RedisGames::join(&url, &settings.game()?)?);
            match learner {
                true => Role::Learner(exchange, args.publish_every.unwrap_or(PUBLISH_EVERY)),
                false => Role::Actor(exchange),
            }
        }
    };
    if let Some(init) = settings.init.as_ref().filter(|_| !resume) {
        tensorsearch::model::checkpoint::read_meta(init)?;
    }
    let backend = choose_device(device)?;
    let settings = match (&backend, resume) {
        (Device::Gpu(_), false) => {
            let s = fresh(&args, &GPU_DEFAULTS)?;
            check(&s)?;
            s
        }
        _ => settings,
    };
    let stop = Stop {
        time: args.run.time,
        target: args.target,
        steps: args.run.steps,
    };
    let report = match backend {
        Device::Gpu(mut g) => {
            if g.is_software() {
                eprintln!("note: {} is a software (CPU) adapter", g.adapter_name());
            }
            search(&mut *g, &settings, dir, stop, false, role)?
        }
        Device::Cpu => search(&mut CpuBackend::new(), &settings, dir, stop, false, role)?,
    };
    print_summary(&report, &settings, &stop);
    Ok(stop.exit_code(report.stopped_by))
}

/// Learner steps between two sendings of its weights to the actors.
const PUBLISH_EVERY: u32 = 50;

/// The saved marker of a run with flips beside the actors (the number
/// is that of the runs that polished each found scheme with as many).
const POLISH_FLIPS: usize = 60_000;

/// The tiny model learns fastest per second at 3e-3 (rank-one read-off in
/// about 750 steps, against 1,500 at 1e-3); larger models keep 1e-3.
fn default_lr(preset: &str) -> f32 {
    if preset == "tiny" {
        3e-3
    } else {
        1e-3
    }
}

/// The batch of pure AlphaTensor (`--no-polish`): half synthetic
/// demonstrations, a quarter each of played and best games.
const PURE_MIX: Mix = Mix {
    demonstrations: 0.5,
    played: 0.25,
    best: 0.25,
};

/// The batch beside flip walks, which lean on the walks' schemes, with
/// no played games, whose unsolved positions crowd the schemes out. At
/// 4x4x4 over Z2 (30 minutes, seed 1) self-play played the flips' rank
/// 49 itself at 1,165 s with it and [`BESIDE_FLIPS`]'s sampling, and
/// solved no game with 0.2,0.2,0.6, w completion and samples at
/// temperature 1 (docs/design.md §5). At 3x3x3 over Z2, best games in
/// their own order matter most: in random orders, or with the pure mix,
/// self-play solved no game in 10 minutes.
const EXPERT_MIX: Mix = Mix {
    demonstrations: 0.2,
    played: 0.0,
    best: 0.8,
};

/// The defaults that differ between pure AlphaTensor (`--no-polish`) and
/// a search beside flip walks.
struct ModeDefaults {
    mix: Mix,
    /// The share of best-game positions played in the game's own order.
    best_in_order: f64,
    /// Images of each solved game under T's symmetries, taught as well.
    symmetry_views: usize,
    /// Scored images of its candidates that widen each new root.
    root_images: usize,
    /// Each sample also proposed with its w completed from the residual.
    complete_w: bool,
    /// The softmax temperature of the policy's samples.
    sample_temperature: f32,
}

/// Pure AlphaTensor takes T's symmetries: with them and 64 simulations,
/// 2x2x2 over Z2 on two cores reached rank 7 by itself within 10 minutes
/// for four seeds of five (50 to 358 s); without them no seed left rank 8.
const PURE: ModeDefaults = ModeDefaults {
    mix: PURE_MIX,
    best_in_order: 0.0,
    symmetry_views: 8,
    root_images: 256,
    complete_w: true,
    sample_temperature: 1.0,
};

/// Beside flip walks, the network learns the walks' schemes (see
/// [`EXPERT_MIX`]) and MCTS must keep to them: samples at temperature 0.5
/// and no w completion, which at a dense residual halves a scheme term's
/// prior for a greedy variant that belongs to no short scheme. At 4x4x4
/// over Z2 these three made self-play play the flips' rank 49 (16 of 16
/// MCTS games of one network, docs/design.md §5).
const BESIDE_FLIPS: ModeDefaults = ModeDefaults {
    mix: EXPERT_MIX,
    best_in_order: 1.0,
    symmetry_views: 0,
    root_images: 0,
    complete_w: false,
    sample_temperature: 0.5,
};

fn fresh(args: &SearchArgs, d: &Defaults) -> Result<SearchSettings> {
    let shape = args
        .run
        .shape
        .as_deref()
        .ok_or_else(|| anyhow!("give SHAPE (e.g. 2x2x2), or --resume DIR"))?;
    let shape = parse_shape(shape)?;
    let field = args.run.field.unwrap_or(Field::Z);
    let preset = args.run.preset.clone().unwrap_or_else(|| d.preset.into());
    let lr = default_lr(&preset);
    let mode = if args.no_polish { &PURE } else { &BESIDE_FLIPS };
    Ok(SearchSettings {
        shape: [shape.n, shape.m, shape.p],
        field,
        model: ModelConfig::preset(&preset)?,
        preset,
        seed: args.run.seed.unwrap_or(0),
        games: args.games.unwrap_or(d.games),
        samples: args.samples.unwrap_or(d.samples),
        simulations: args.simulations.unwrap_or(if args.no_polish {
            d.pure_simulations
        } else {
            d.simulations
        }),
        leaves_per_game: args.leaves_per_game.unwrap_or(1),
        max_steps: args.max_steps.unwrap_or(shape.standard_rank()),
        history: 1,
        standard_basis_fraction: args.standard_fraction.unwrap_or(0.75),
        complete_w: match (args.completion, args.no_completion) {
            (true, _) => true,
            (_, true) => false,
            _ => mode.complete_w,
        },
        sampled_moves: args.sampled_moves.unwrap_or(2),
        root_noise: args.root_noise.unwrap_or(0.0),
        root_noise_alpha: args.root_noise_alpha.unwrap_or(0.3),
        penalty: args.penalty.unwrap_or_default(),
        sample_temperature: args.sample_temperature.unwrap_or(mode.sample_temperature),
        explore: args.explore.unwrap_or(0),
        symmetry_views: args.symmetry_views.unwrap_or(mode.symmetry_views),
        explore_symmetric: args.explore_symmetric.unwrap_or(mode.root_images),
        orbit_demos: args.orbit_demos.unwrap_or(0.0),
        best_in_order: args.best_in_order.unwrap_or(mode.best_in_order),
        restarts: args.restarts.unwrap_or(0.0),
        polish_flips: if args.no_polish { 0 } else { POLISH_FLIPS },
        flip_threads: args.flip_threads.unwrap_or(1),
        actor_threads: args
            .actor_threads
            .unwrap_or_else(|| default_actor_threads(args)),
        batch: args.batch.unwrap_or(d.batch),
        lr: args.lr.unwrap_or(lr),
        weight_decay: args.weight_decay.unwrap_or(0.0),
        mix: args.mix.unwrap_or(mode.mix),
        moves_per_step: args.moves_per_step.unwrap_or(d.moves_per_step),
        // A network from --init has been trained already.
        warmup_steps: args.warmup_steps.unwrap_or(if args.init.is_some() {
            0
        } else {
            d.warmup_steps
        }),
        replay_games: 512,
        best_games: 64,
        init: args.init.clone(),
    })
}

/// The cores the flip walks leave to the actors (one per core; the
/// learner shares the first actor's thread), at least one.
fn default_actor_threads(args: &SearchArgs) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let flips = if args.no_polish {
        0
    } else {
        args.flip_threads.unwrap_or(1)
    };
    cores
        .saturating_sub(flips)
        .clamp(1, bounds::ACTOR_THREADS[1] as usize)
}

/// The settings of the run checkpointed in `dir`; options given again must
/// agree with them.
fn resumed(args: &SearchArgs, dir: &std::path::Path) -> Result<SearchSettings> {
    let state = read_state(dir)?;
    let mut s = state
        .settings
        .ok_or_else(|| anyhow!("{}: the checkpoint has no settings", dir.display()))?;
    if let Some(text) = &args.run.shape {
        let shape = parse_shape(text)?;
        agree("SHAPE", Some([shape.n, shape.m, shape.p]), s.shape)?;
    }
    agree("--field", args.run.field, s.field)?;
    agree("--preset", args.run.preset.clone(), s.preset.clone())?;
    agree("--seed", args.run.seed, s.seed)?;
    agree("--games", args.games, s.games)?;
    agree("--samples", args.samples, s.samples)?;
    agree("--simulations", args.simulations, s.simulations)?;
    agree("--leaves-per-game", args.leaves_per_game, s.leaves_per_game)?;
    agree("--max-steps", args.max_steps, s.max_steps)?;
    agree(
        "--standard-fraction",
        args.standard_fraction,
        s.standard_basis_fraction,
    )?;
    agree("--batch", args.batch, s.batch)?;
    agree("--lr", args.lr, s.lr)?;
    agree("--weight-decay", args.weight_decay, s.weight_decay)?;
    agree("--mix", args.mix, s.mix)?;
    agree("--moves-per-step", args.moves_per_step, s.moves_per_step)?;
    agree("--warmup-steps", args.warmup_steps, s.warmup_steps)?;
    agree("--sampled-moves", args.sampled_moves, s.sampled_moves)?;
    agree("--root-noise", args.root_noise, s.root_noise)?;
    agree(
        "--root-noise-alpha",
        args.root_noise_alpha,
        s.root_noise_alpha,
    )?;
    agree("--penalty", args.penalty, s.penalty)?;
    agree("--explore", args.explore, s.explore)?;
    agree("--symmetry-views", args.symmetry_views, s.symmetry_views)?;
    agree("--orbit-demos", args.orbit_demos, s.orbit_demos)?;
    agree("--best-in-order", args.best_in_order, s.best_in_order)?;
    agree("--restarts", args.restarts, s.restarts)?;
    agree(
        "--explore-symmetric",
        args.explore_symmetric,
        s.explore_symmetric,
    )?;
    agree("--flip-threads", args.flip_threads, s.flip_threads)?;
    agree(
        "--sample-temperature",
        args.sample_temperature,
        s.sample_temperature,
    )?;
    // The actors may change with the machine: what they play depends on
    // their number, not what they learn from.
    if let Some(threads) = args.actor_threads {
        s.actor_threads = threads;
    }
    if args.no_polish && s.polish_flips > 0 {
        bail!("--no-polish conflicts with the checkpoint, which runs flips");
    }
    if args.no_completion && s.complete_w {
        bail!("--no-completion conflicts with the checkpoint, which completes w");
    }
    if args.completion && !s.complete_w {
        bail!("--completion conflicts with the checkpoint, which does not complete w");
    }
    if args.init.is_some() {
        bail!("--init starts a new run; a resumed run continues from its own checkpoint");
    }
    if args.run.out.as_ref().is_some_and(|o| o != dir) {
        bail!("a resumed run writes where it was: leave out --out, or give the same DIR");
    }
    Ok(s)
}

/// The most network evaluations (states × samples) one round may ask for.
const MAX_ROUND_DRAWS: usize = 1 << 20;

/// The ranges of the command line, applied also to a resumed run's saved
/// settings (a state file edited by hand gets the same answer).
fn check(s: &SearchSettings) -> Result<()> {
    let ranges = [
        ("--games", s.games, bounds::GAMES),
        ("--samples", s.samples, bounds::SAMPLES),
        ("--simulations", s.simulations, bounds::SIMULATIONS),
        (
            "--leaves-per-game",
            s.leaves_per_game,
            bounds::LEAVES_PER_GAME,
        ),
        ("--max-steps", s.max_steps, bounds::MAX_STEPS),
        ("--batch", s.batch, bounds::BATCH),
        ("--moves-per-step", s.moves_per_step, bounds::MOVES_PER_STEP),
        ("--sampled-moves", s.sampled_moves, bounds::SAMPLED_MOVES),
        (
            "--warmup-steps",
            s.warmup_steps as usize,
            bounds::WARMUP_STEPS,
        ),
        ("history", s.history, bounds::HISTORY),
        ("--explore", s.explore, bounds::EXPLORE),
        ("--symmetry-views", s.symmetry_views, bounds::SYMMETRY_VIEWS),
        ("--explore-symmetric", s.explore_symmetric, bounds::EXPLORE),
        ("--flip-threads", s.flip_threads, bounds::FLIP_THREADS),
        ("--actor-threads", s.actor_threads, bounds::ACTOR_THREADS),
        ("replay games", s.replay_games, [1, 1 << 20]),
        ("best games", s.best_games, [1, 1 << 16]),
    ];
    for (what, value, range) in ranges {
        within(what, value, range)?;
    }
    if s.games * s.leaves_per_game * s.samples > MAX_ROUND_DRAWS {
        bail!(
            "--games × --leaves-per-game × --samples is {}, more than {MAX_ROUND_DRAWS} draws a round",
            s.games * s.leaves_per_game * s.samples
        );
    }
    // The saved model must be its preset's: its sizes decide what is
    // allocated.
    if ModelConfig::preset(&s.preset)? != s.model {
        bail!("the model does not match preset {}", s.preset);
    }
    if !(0.0..=1.0).contains(&s.standard_basis_fraction) {
        bail!("--standard-fraction must be in [0, 1]");
    }
    if !(0.0..=1.0).contains(&s.root_noise) {
        bail!("--root-noise must be in [0, 1]");
    }
    // A run from before root noise reads α 0 with ε 0: no noise.
    if s.root_noise > 0.0 && !(s.root_noise_alpha > 0.0 && s.root_noise_alpha <= 100.0) {
        bail!("--root-noise-alpha must be above 0 and at most 100");
    }
    if !(0.0..=1.0).contains(&s.orbit_demos) {
        bail!(
            "--orbit-demos must be a fraction from 0 to 1, not {}",
            s.orbit_demos
        );
    }
    if !(0.0..=1.0).contains(&s.best_in_order) {
        bail!(
            "--best-in-order must be a fraction from 0 to 1, not {}",
            s.best_in_order
        );
    }
    if !(0.0..=1.0).contains(&s.restarts) {
        bail!(
            "--restarts must be a fraction from 0 to 1, not {}",
            s.restarts
        );
    }
    if !(0.1..=100.0).contains(&s.sample_temperature) {
        bail!("--sample-temperature must be from 0.1 to 100");
    }
    if !(s.lr > 0.0 && s.lr.is_finite()) {
        bail!("--lr must be positive");
    }
    if !(s.weight_decay >= 0.0 && s.weight_decay.is_finite()) {
        bail!("--weight-decay must be zero or positive");
    }
    Ok(())
}

fn print_summary(r: &SearchReport, s: &SearchSettings, stop: &Stop) {
    let [n, m, p] = s.shape;
    println!(
        "searched {n}x{m}x{p} over {} for {:.0} s on {}: {} games, {} simulations, {} learner steps",
        s.field, r.seconds, r.device, r.games, r.simulations, r.learner_steps
    );
    let published = r
        .best_published
        .map_or_else(|| "not in the table".to_string(), |b| b.to_string());
    match (&r.best_rank, &r.best_file) {
        (Some(rank), Some(file)) => {
            let when = r
                .time_to_best_s
                .map(|t| format!(" (found at {t:.1} s)"))
                .unwrap_or_default();
            println!(
                "best rank found: {rank}{when}; standard rank {}, best published {published}",
                r.standard_rank
            );
            println!("verified decomposition: {}", file.display());
            println!(
                "turn it into code: tensorsearch export {} --lang python",
                file.display()
            );
        }
        _ => println!(
            "no decomposition found yet (standard rank {}, best published {published}); continue with --resume",
            r.standard_rank
        ),
    }
    // What the network and MCTS reached alone, apart from flips.
    match r.self_play_best_rank {
        Some(rank) => {
            let when = r
                .time_to_self_play_best_s
                .map(|t| format!(" (at {t:.1} s)"))
                .unwrap_or_default();
            println!("self-play's own best: rank {rank}{when}");
        }
        None => println!("self-play's own best: no game solved yet"),
    }
    if let (Some(target), true) = (
        stop.target,
        r.stopped_by != tensorsearch::run::Stopped::Target,
    ) {
        println!(
            "--target {target} not reached: stopped by {}",
            r.stopped_by.words()
        );
    }
}
