//! `tensorsearch pretrain`: options (a resumed run takes its settings from
//! its checkpoint), the training, and the report printed after it.

use super::common::{
    agree, choose_device, field_named, game_field, parse_shape, Device, DeviceArg,
};
use anyhow::{anyhow, bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::model::checkpoint::read_meta;
use tensorsearch::model::ModelConfig;
use tensorsearch::problem::{Field, Shape};
use tensorsearch::train::{pretrain, PretrainOptions, Report};

/// The command line of `pretrain`, as parsed.
pub struct PretrainArgs {
    pub shape: Option<String>,
    pub field: Option<Field>,
    pub preset: Option<String>,
    pub time: Option<std::time::Duration>,
    pub steps: Option<u64>,
    pub out: Option<PathBuf>,
    pub resume: Option<PathBuf>,
    pub seed: Option<u64>,
    pub batch: Option<usize>,
    pub lr: f32,
    pub weight_decay: f32,
    pub eval_states: usize,
    pub samples: usize,
}

pub fn run(device: DeviceArg, args: PretrainArgs) -> Result<ExitCode> {
    if args.steps == Some(0) {
        bail!("--steps must be at least 1");
    }
    if args.steps.is_none() && args.time.is_none() {
        bail!("give --steps or --time");
    }
    if args.samples == 0 || args.eval_states == 0 {
        bail!("--samples and --eval-states must be at least 1");
    }
    if !(args.lr > 0.0 && args.lr.is_finite()) {
        bail!("--lr must be positive");
    }
    if !(args.weight_decay >= 0.0 && args.weight_decay.is_finite()) {
        bail!("--weight-decay must be zero or positive");
    }
    let backend = choose_device(device)?;
    let opts = match &args.resume {
        Some(dir) => {
            let meta = read_meta(dir)?;
            let shape = match &args.shape {
                Some(s) => agree("SHAPE", Some(shape_dims(parse_shape(s)?)), meta.shape)?,
                None => meta.shape,
            };
            let shape = Shape::new(shape[0], shape[1], shape[2]).map_err(|e| anyhow!(e))?;
            let field = agree("--field", args.field, field_named(&meta.field)?)?;
            if let Some(p) = &args.preset {
                if ModelConfig::preset(p)? != meta.model {
                    bail!("--preset {p} conflicts with the checkpoint's model");
                }
            }
            PretrainOptions {
                shape,
                field,
                model: meta.model.clone(),
                batch: agree("--batch", args.batch, meta.batch)?,
                lr: args.lr,
                weight_decay: args.weight_decay,
                steps: args.steps,
                time: args.time,
                out: args.out.clone().unwrap_or_else(|| dir.clone()),
                resume: Some(dir.clone()),
                seed: agree("--seed", args.seed, meta.seed)?,
                history: meta.history,
                eval_states: args.eval_states,
                samples: args.samples,
                quiet: false,
            }
        }
        None => {
            let shape = args
                .shape
                .as_deref()
                .ok_or_else(|| anyhow!("give SHAPE (e.g. 2x2x2), or --resume DIR"))?;
            let preset = args.preset.clone().unwrap_or_else(|| match backend {
                Device::Gpu(_) => "large".into(),
                Device::Cpu => "small".into(),
            });
            PretrainOptions {
                shape: parse_shape(shape)?,
                field: game_field(args.field.unwrap_or(Field::Z))?,
                model: ModelConfig::preset(&preset)?,
                batch: args.batch.unwrap_or(64),
                lr: args.lr,
                weight_decay: args.weight_decay,
                steps: args.steps,
                time: args.time,
                out: args.out.clone().unwrap_or_else(|| "runs/pretrain".into()),
                resume: None,
                seed: args.seed.unwrap_or(0),
                history: 1,
                eval_states: args.eval_states,
                samples: args.samples,
                quiet: false,
            }
        }
    };
    if opts.batch == 0 {
        bail!("--batch must be at least 1");
    }
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
