//! `tensorsearch search`: settings (per-device defaults, or a resumed run's
//! own), the run, and the closing summary.

use super::common::{agree, choose_device, game_field, parse_shape, Device, DeviceArg};
use anyhow::{anyhow, bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::model::ModelConfig;
use tensorsearch::problem::Field;
use tensorsearch::search::run::{read_state, search, SearchReport, SearchSettings, StopConditions};
use tensorsearch::train::Mix;

/// The command line of `search`, as parsed. Every setting is optional so
/// that a resumed run can tell what was given again.
#[derive(Clone, Debug, Default)]
pub struct SearchArgs {
    pub shape: Option<String>,
    pub field: Option<Field>,
    pub preset: Option<String>,
    pub time: Option<Duration>,
    pub target: Option<usize>,
    pub steps: Option<u64>,
    pub out: Option<PathBuf>,
    pub resume: Option<PathBuf>,
    pub seed: Option<u64>,
    pub init: Option<PathBuf>,
    pub games: Option<usize>,
    pub samples: Option<usize>,
    pub simulations: Option<usize>,
    pub leaves_per_game: Option<usize>,
    pub max_steps: Option<usize>,
    pub standard_fraction: Option<f64>,
    pub batch: Option<usize>,
    pub lr: Option<f32>,
    pub weight_decay: Option<f32>,
    pub mix: Option<Mix>,
    pub moves_per_step: Option<usize>,
    pub warmup_steps: Option<u32>,
    pub no_completion: bool,
    pub sampled_moves: Option<usize>,
    pub no_polish: bool,
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
}

const CPU_DEFAULTS: Defaults = Defaults {
    preset: "tiny",
    games: 16,
    samples: 8,
    simulations: 32,
    batch: 64,
    moves_per_step: 2,
    warmup_steps: 1000,
};

const GPU_DEFAULTS: Defaults = Defaults {
    preset: "large",
    games: 64,
    samples: 32,
    simulations: 100,
    batch: 128,
    moves_per_step: 8,
    warmup_steps: 2000,
};

pub fn run(device: DeviceArg, args: SearchArgs) -> Result<ExitCode> {
    if args.target == Some(0) {
        bail!("--target must be at least 1");
    }
    if args.steps == Some(0) {
        bail!("--steps must be at least 1");
    }
    let backend = choose_device(device)?;
    let defaults = match backend {
        Device::Gpu(_) => &GPU_DEFAULTS,
        Device::Cpu => &CPU_DEFAULTS,
    };
    let (settings, out, resume) = match &args.resume {
        Some(dir) => (resumed(&args, dir)?, dir.clone(), true),
        None => {
            let s = fresh(&args, defaults)?;
            let out = args.out.clone().unwrap_or_else(|| {
                let [n, m, p] = s.shape;
                PathBuf::from(format!("runs/{n}x{m}x{p}-{}", s.field.to_lowercase()))
            });
            if out.join(tensorsearch::search::run::STATE_FILE).exists() {
                bail!(
                    "{} already holds a search run: continue it with --resume {0}, or choose another --out",
                    out.display()
                );
            }
            (s, out, false)
        }
    };
    check(&settings)?;
    let stop = StopConditions {
        time: args.time,
        target: args.target,
        steps: args.steps,
    };
    let report = match backend {
        Device::Gpu(mut g) => {
            if g.is_software() {
                eprintln!("note: {} is a software (CPU) adapter", g.adapter_name());
            }
            search(&mut *g, &settings, &out, resume, stop, false)?
        }
        Device::Cpu => search(&mut CpuBackend::new(), &settings, &out, resume, stop, false)?,
    };
    print_summary(&report, &settings);
    Ok(ExitCode::SUCCESS)
}

/// Flips per polish: for 2x2x2 a walk from the standard algorithm reaches
/// rank 7 within some tens of thousands (about 100 ms).
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

fn fresh(args: &SearchArgs, d: &Defaults) -> Result<SearchSettings> {
    let shape = args
        .shape
        .as_deref()
        .ok_or_else(|| anyhow!("give SHAPE (e.g. 2x2x2), or --resume DIR"))?;
    let shape = parse_shape(shape)?;
    let field = game_field(args.field.unwrap_or(Field::Z))?;
    let preset = args.preset.clone().unwrap_or_else(|| d.preset.into());
    let lr = default_lr(&preset);
    Ok(SearchSettings {
        shape: [shape.n, shape.m, shape.p],
        field: field.name().to_string(),
        model: ModelConfig::preset(&preset)?,
        preset,
        seed: args.seed.unwrap_or(0),
        games: args.games.unwrap_or(d.games),
        samples: args.samples.unwrap_or(d.samples),
        simulations: args.simulations.unwrap_or(d.simulations),
        leaves_per_game: args.leaves_per_game.unwrap_or(1),
        max_steps: args.max_steps.unwrap_or(shape.standard_rank()),
        history: 1,
        standard_basis_fraction: args.standard_fraction.unwrap_or(0.75),
        complete_w: !args.no_completion,
        sampled_moves: args.sampled_moves.unwrap_or(2),
        polish_flips: if args.no_polish { 0 } else { POLISH_FLIPS },
        batch: args.batch.unwrap_or(d.batch),
        lr: args.lr.unwrap_or(lr),
        weight_decay: args.weight_decay.unwrap_or(0.0),
        mix: args.mix.unwrap_or(Mix {
            demonstrations: 0.5,
            played: 0.25,
            best: 0.25,
        }),
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

/// The settings of the run checkpointed in `dir`; options given again must
/// agree with them.
fn resumed(args: &SearchArgs, dir: &std::path::Path) -> Result<SearchSettings> {
    let state = read_state(dir)?;
    let s = state
        .settings
        .ok_or_else(|| anyhow!("{}: the checkpoint has no settings", dir.display()))?;
    if let Some(text) = &args.shape {
        let shape = parse_shape(text)?;
        agree("SHAPE", Some([shape.n, shape.m, shape.p]), s.shape)?;
    }
    agree(
        "--field",
        args.field.map(|f| f.name().to_string()),
        s.field.clone(),
    )?;
    agree("--preset", args.preset.clone(), s.preset.clone())?;
    agree("--seed", args.seed, s.seed)?;
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
    if args.no_polish && s.polish_flips > 0 {
        bail!("--no-polish conflicts with the checkpoint, which polishes");
    }
    if args.no_completion && s.complete_w {
        bail!("--no-completion conflicts with the checkpoint, which completes w");
    }
    if args.init.is_some() {
        bail!("--init starts a new run; a resumed run continues from its own checkpoint");
    }
    if args.out.as_ref().is_some_and(|o| o != dir) {
        bail!("a resumed run writes where it was: leave out --out, or give the same DIR");
    }
    Ok(s)
}

fn check(s: &SearchSettings) -> Result<()> {
    let positive = [
        ("--games", s.games),
        ("--samples", s.samples),
        ("--simulations", s.simulations),
        ("--leaves-per-game", s.leaves_per_game),
        ("--max-steps", s.max_steps),
        ("--batch", s.batch),
        ("--moves-per-step", s.moves_per_step),
    ];
    for (flag, v) in positive {
        if v == 0 {
            bail!("{flag} must be at least 1");
        }
    }
    if !(0.0..=1.0).contains(&s.standard_basis_fraction) {
        bail!("--standard-fraction must be in [0, 1]");
    }
    if !(s.lr > 0.0 && s.lr.is_finite()) {
        bail!("--lr must be positive");
    }
    if !(s.weight_decay >= 0.0 && s.weight_decay.is_finite()) {
        bail!("--weight-decay must be zero or positive");
    }
    Ok(())
}

fn print_summary(r: &SearchReport, s: &SearchSettings) {
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
}
