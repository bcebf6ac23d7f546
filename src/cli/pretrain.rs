//! `tensorsearch pretrain`: options (a resumed run takes its settings from
//! its checkpoint), the training, and the report printed after it.

use super::common::{
    agree, bounds, choose_device, parse_shape, ranged, within, Device, DeviceArg, LearningRun,
};
use anyhow::{anyhow, bail, Result};
use std::process::ExitCode;
use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::model::checkpoint::read_meta;
use tensorsearch::model::ModelConfig;
use tensorsearch::problem::{Field, Shape};
use tensorsearch::run::dir::expect_kind;
use tensorsearch::run::Kind;
use tensorsearch::train::{pretrain, PretrainOptions, Report};

/// The command line of `pretrain`.
#[derive(Clone, Debug, clap::Args)]
pub struct PretrainArgs {
    #[command(flatten)]
    pub run: LearningRun,
    /// States per batch, 1 to 65536 (default 64).
    #[arg(long, value_parser = ranged::<usize>(bounds::BATCH))]
    pub batch: Option<usize>,
    /// AdamW learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// AdamW weight decay on the weights of linear maps (none on norms, biases, embeddings).
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    /// Held-out states evaluated at the end, 1 to 1000000.
    #[arg(long, default_value_t = 256, value_parser = ranged::<usize>(bounds::EVAL_STATES))]
    pub eval_states: usize,
    /// Sampled actions per held-out state for the any-of-N rate, 1 to 1024.
    #[arg(long, default_value_t = 32, value_parser = ranged::<usize>(bounds::SAMPLES))]
    pub samples: usize,
}

pub fn run(device: DeviceArg, args: PretrainArgs) -> Result<ExitCode> {
    if args.run.steps.is_none() && args.run.time.is_none() {
        bail!("give --steps or --time");
    }
    if !(args.lr > 0.0 && args.lr.is_finite()) {
        bail!("--lr must be positive");
    }
    if !(args.weight_decay >= 0.0 && args.weight_decay.is_finite()) {
        bail!("--weight-decay must be zero or positive");
    }
    // The options and the run directory are checked before any device is
    // chosen; a fresh run's default preset is the CPU's until then.
    let resumed = args
        .run
        .resume
        .as_ref()
        .map(|dir| resumed(&args, dir))
        .transpose()?;
    let fresh_opts = |preset: &str| -> Result<PretrainOptions> {
        let shape = args
            .run
            .shape
            .as_deref()
            .ok_or_else(|| anyhow!("give SHAPE (e.g. 2x2x2), or --resume DIR"))?;
        Ok(PretrainOptions {
            shape: parse_shape(shape)?,
            field: args.run.field.unwrap_or(Field::Z),
            model: ModelConfig::preset(args.run.preset.as_deref().unwrap_or(preset))?,
            batch: args.batch.unwrap_or(64),
            lr: args.lr,
            weight_decay: args.weight_decay,
            steps: args.run.steps,
            time: args.run.time,
            out: args
                .run
                .out
                .clone()
                .unwrap_or_else(|| "runs/pretrain".into()),
            resume: false,
            seed: args.run.seed.unwrap_or(0),
            history: 1,
            eval_states: args.eval_states,
            samples: args.samples,
            quiet: false,
        })
    };
    let opts = match resumed {
        Some(opts) => opts,
        None => {
            let opts = fresh_opts("small")?;
            tensorsearch::run::dir::check_fresh(&opts.out, Kind::Pretrain)?;
            opts
        }
    };
    let backend = choose_device(device)?;
    let opts = match (&backend, opts.resume) {
        (Device::Gpu(_), false) => fresh_opts("large")?,
        _ => opts,
    };
    if opts.eval_states % opts.batch != 0 {
        eprintln!(
            "note: the held-out evaluation runs in whole batches: {} states for --eval-states {}",
            opts.eval_states.div_ceil(opts.batch) * opts.batch,
            opts.eval_states
        );
    }
    let report = match backend {
        Device::Gpu(mut g) => pretrain(&mut *g, &opts)?,
        Device::Cpu => pretrain(&mut CpuBackend::new(), &opts)?,
    };
    print_report(&report, &opts);
    Ok(ExitCode::SUCCESS)
}

/// The options of the run checkpointed in `dir`; options given again
/// must agree with its checkpoint.
fn resumed(args: &PretrainArgs, dir: &std::path::Path) -> Result<PretrainOptions> {
    expect_kind(dir, Kind::Pretrain)?;
    if args.run.out.as_ref().is_some_and(|o| o != dir) {
        bail!("a resumed run writes where it was: leave out --out, or give the same DIR");
    }
    let meta = read_meta(dir)?;
    let shape = match &args.run.shape {
        Some(s) => agree("SHAPE", Some(shape_dims(parse_shape(s)?)), meta.shape)?,
        None => meta.shape,
    };
    let shape = Shape::new(shape[0], shape[1], shape[2]).map_err(|e| anyhow!(e))?;
    let field = agree("--field", args.run.field, meta.field)?;
    if !matches!(field, Field::Z | Field::Z2) {
        bail!(
            "{}: the checkpoint names field {field}, not z or z2",
            dir.display()
        );
    }
    if let Some(p) = &args.run.preset {
        if ModelConfig::preset(p)? != meta.model {
            bail!("--preset {p} conflicts with the checkpoint's model");
        }
    }
    // A checkpoint's model must be one of the presets: its sizes decide
    // what is allocated.
    if !["tiny", "small", "large"]
        .iter()
        .any(|p| ModelConfig::preset(p).is_ok_and(|m| m == meta.model))
    {
        bail!(
            "{}: the checkpoint's model is not one of the presets",
            dir.display()
        );
    }
    let saved = |what: &str| format!("{}: the checkpoint's {what}", dir.display());
    within(&saved("history"), meta.history, bounds::HISTORY)?;
    let batch = agree("--batch", args.batch, meta.batch)?;
    within(&saved("batch"), batch, bounds::BATCH)?;
    Ok(PretrainOptions {
        shape,
        field,
        model: meta.model.clone(),
        batch,
        lr: args.lr,
        weight_decay: args.weight_decay,
        steps: args.run.steps,
        time: args.run.time,
        out: dir.to_path_buf(),
        resume: true,
        seed: agree("--seed", args.run.seed, meta.seed)?,
        history: meta.history,
        eval_states: args.eval_states,
        samples: args.samples,
        quiet: false,
    })
}

fn shape_dims(s: Shape) -> [usize; 3] {
    [s.n, s.m, s.p]
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
