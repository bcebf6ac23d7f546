//! Supervised training on synthetic demonstrations (`tensorsearch
//! pretrain`): a progress bar, metrics as JSON lines, checkpoints every
//! minute, at the end and at Ctrl-C, and a held-out evaluation.

use super::batch::{batch_of, demonstration_example, synthetic_batch};
use crate::engine::Backend;
use crate::game::{ActionEncoding, Example, GameConfig};
use crate::model::memory::{self, MemoryEstimate};
use crate::model::{Batch, Evaluator, ModelConfig, Network};
use crate::problem::{Field, Shape};
use crate::run::display::{fit_message, say};
use crate::run::{Every, Identity, Kind, NonFinite, RunDir, Stop};
use anyhow::{anyhow, bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct PretrainOptions {
    pub shape: Shape,
    pub field: Field,
    pub model: ModelConfig,
    pub batch: usize,
    pub lr: f32,
    /// AdamW weight decay on linear weights.
    pub weight_decay: f32,
    pub steps: Option<u64>,
    pub time: Option<Duration>,
    /// The run directory: a fresh one, or the run to continue.
    pub out: PathBuf,
    pub resume: bool,
    pub seed: u64,
    /// Actions of history the network sees.
    pub history: usize,
    /// Held-out states for the final evaluation (rounded to whole batches).
    pub eval_states: usize,
    /// Draws per state for the any-of-k exact-factor rate.
    pub samples: usize,
    /// Hide the progress bar (tests, logs).
    pub quiet: bool,
}

/// The held-out evaluation.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Evaluation {
    pub states: usize,
    pub token_accuracy: f64,
    pub policy_loss: f64,
    pub value_loss: f64,
    /// Fraction of states whose next factor is the greedy (top-1) action.
    pub top1_exact: f64,
    /// Fraction of states whose next factor is among `samples` draws.
    pub any_of_samples_exact: f64,
    pub samples: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub device: String,
    pub steps: u32,
    pub seconds: f64,
    pub steps_per_second: f64,
    pub batch: usize,
    pub parameters: usize,
    pub evaluation: Evaluation,
}

#[derive(Serialize)]
struct MetricsLine {
    step: u32,
    elapsed_s: f64,
    steps_per_second: f64,
    policy_loss: f32,
    value_loss: f32,
    token_accuracy: f32,
}

/// Seconds between checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);
/// Steps between metrics lines.
const LOG_EVERY: u32 = 10;

/// The memory of the run's buffers: the learner and the held-out
/// evaluation's two evaluators.
pub fn memory_estimate(opts: &PretrainOptions) -> Result<MemoryEstimate> {
    let game = GameConfig::new(
        opts.shape,
        opts.field,
        opts.history,
        opts.shape.standard_rank(),
    );
    let encoding = ActionEncoding::default_for(opts.shape, opts.field);
    let evaluators = [(opts.batch, 1), (opts.batch, opts.samples)];
    memory::estimate(&opts.model, &game, &encoding, opts.batch, &evaluators)
}

/// A pretrain directory from before `run.json`: its identity is its
/// checkpoint's.
fn legacy_identity(dir: &Path) -> Result<Identity> {
    let meta = crate::model::checkpoint::read_meta(dir)?;
    let [n, m, p] = meta.shape;
    let shape = Shape::new(n, m, p).map_err(|e| anyhow!(e))?;
    Ok(Identity::new(Kind::Pretrain, shape, meta.field))
}

/// Opens the run directory of `opts` (fresh, or the run to continue),
/// checking it holds what the options say; touches no device.
pub fn open_dir(opts: &PretrainOptions) -> Result<RunDir> {
    let dir = if opts.resume {
        RunDir::resume(&opts.out, Kind::Pretrain, legacy_identity)?
    } else {
        RunDir::create(
            &opts.out,
            Identity::new(Kind::Pretrain, opts.shape, opts.field),
        )?
    };
    let s = opts.shape;
    dir.check_state(
        crate::model::checkpoint::META_FILE,
        [s.n, s.m, s.p],
        opts.field,
    )?;
    Ok(dir)
}

/// Trains in the run directory of `opts` (opened after the memory check,
/// so a run that does not fit leaves nothing behind).
pub fn pretrain<B: Backend>(b: &mut B, opts: &PretrainOptions) -> Result<Report> {
    if opts.steps.is_none() && opts.time.is_none() {
        bail!("give --steps or --time");
    }
    let memory = memory::guard(&memory_estimate(opts)?, b.host_memory(), "--batch")?;
    let mut dir = open_dir(opts)?;
    let max_rank = opts.shape.standard_rank();
    let game = GameConfig::new(opts.shape, opts.field, opts.history, max_rank);
    let encoding = ActionEncoding::default_for(opts.shape, opts.field);
    let mut net = Network::new(
        b,
        opts.model.clone(),
        game.clone(),
        encoding.clone(),
        opts.batch,
        opts.seed,
    )?;
    net.optimiser.weight_decay = opts.weight_decay;
    if opts.resume {
        let meta = net.load_checkpoint(b, dir.path())?;
        if meta.seed != opts.seed {
            bail!(
                "{} was trained with --seed {}, not {}",
                dir.path().display(),
                meta.seed,
                opts.seed
            );
        }
    }
    if !opts.quiet {
        eprintln!("{memory}");
    }
    let bar = if opts.quiet {
        ProgressBar::hidden()
    } else {
        let bar = match opts.steps {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos} steps {msg}")
                .expect("a valid template"),
        );
        bar
    };

    let clock = Stop {
        time: opts.time,
        target: None,
        steps: opts.steps,
    }
    .start();
    let first_step = net.step;
    let mut save = Every::new(CHECKPOINT_EVERY);
    let mut window = (Instant::now(), net.step);
    let mut nonfinite = NonFinite::default();
    while clock.check(None, (net.step - first_step) as u64).is_none() {
        // Each step's data comes from (seed, step), so a resumed run
        // continues the same stream.
        let mut rng = StdRng::seed_from_u64(
            opts.seed ^ (net.step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let data = synthetic_batch(&mut rng, &game, &encoding, opts.batch, max_rank);
        let stats = net.train_step(b, &data, opts.lr)?;
        let step = net.step as u64 + 1;
        if !nonfinite.record(step, stats.policy_loss, stats.value_loss, dir.path(), |l| {
            say(&bar, l)
        })? {
            continue;
        }
        bar.inc(1);
        if net.step % LOG_EVERY == 0 {
            let rate = (net.step - window.1) as f64 / window.0.elapsed().as_secs_f64();
            window = (Instant::now(), net.step);
            bar.set_message(fit_message(&[
                format!("{rate:.2} steps/s"),
                format!("policy {:.3}", stats.policy_loss),
                format!("value {:.3}", stats.value_loss),
                format!("token acc {:.3}", stats.token_accuracy),
            ]));
            dir.log(&MetricsLine {
                step: net.step,
                elapsed_s: clock.seconds(),
                steps_per_second: rate,
                policy_loss: stats.policy_loss,
                value_loss: stats.value_loss,
                token_accuracy: stats.token_accuracy,
            })?;
        }
        if save.due() {
            net.save(b, dir.path(), opts.seed)?;
        }
    }
    let seconds = clock.seconds();
    let steps = net.step - first_step;
    net.save(b, dir.path(), opts.seed)?;
    bar.finish_and_clear();

    let evaluation = evaluate(b, &mut net, opts)?;
    let report = Report {
        device: b.describe(),
        steps,
        seconds,
        steps_per_second: steps as f64 / seconds.max(1e-9),
        batch: opts.batch,
        parameters: net.parameter_count(),
        evaluation,
    };
    let text = serde_json::to_string_pretty(&report)?;
    dir.write("report.json", format!("{text}\n").as_bytes())?;
    Ok(report)
}

/// Held-out demonstrations, drawn from a stream the training never uses.
fn held_out(opts: &PretrainOptions, game: &GameConfig) -> Vec<Example> {
    let mut rng = StdRng::seed_from_u64(!opts.seed ^ 0x5EED_0F4E_1D00_0017);
    let batches = opts.eval_states.div_ceil(opts.batch).max(1);
    (0..batches * opts.batch)
        .map(|_| demonstration_example(&mut rng, game, game.max_steps))
        .collect()
}

/// Token accuracy (teacher-forced), and the fractions of states whose next
/// factor is exactly the greedy action and among `samples` draws.
pub fn evaluate<B: Backend>(
    b: &mut B,
    net: &mut Network<B>,
    opts: &PretrainOptions,
) -> Result<Evaluation> {
    let game = net.game.clone();
    let encoding = net.encoding.clone();
    let bar = if opts.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(opts.eval_states.div_ceil(opts.batch).max(1) as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] held-out evaluation: {pos}/{len} batches",
            )
            .expect("a valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    };
    let examples = held_out(opts, &game);
    let mut rng = StdRng::seed_from_u64(opts.seed.wrapping_add(17));
    let mut e = Evaluation {
        samples: opts.samples,
        ..Default::default()
    };
    let batches: Vec<Batch> = examples
        .chunks(opts.batch)
        .map(|c| batch_of(&game, &encoding, c))
        .collect();
    let t = encoding.n_tokens();
    // Greedy decoding is a draw at a temperature low enough that only the
    // top token of each position has any mass.
    let mut greedy = Evaluator::new(b, net, opts.batch, 1)?;
    greedy.temperature = crate::model::inference::GREEDY_TEMPERATURE;
    let mut sampler = Evaluator::new(b, net, opts.batch, opts.samples)?;
    for data in &batches {
        let s = net.evaluate(b, data)?;
        e.token_accuracy += s.token_accuracy as f64;
        e.policy_loss += s.policy_loss as f64;
        e.value_loss += s.value_loss as f64;
        let targets: Vec<&[u32]> = data.targets.chunks(t).collect();
        let uniforms: Vec<f32> = (0..greedy.uniforms_len()).map(|_| rng.random()).collect();
        let top = greedy.evaluate(b, &data.states, &uniforms)?;
        let mut found: Vec<bool> = top
            .tokens
            .chunks(t)
            .zip(&targets)
            .map(|(g, t)| g == *t)
            .collect();
        e.top1_exact += found.iter().filter(|&&x| x).count() as f64;
        let uniforms: Vec<f32> = (0..sampler.uniforms_len()).map(|_| rng.random()).collect();
        let drawn = sampler.evaluate(b, &data.states, &uniforms)?;
        for (n, rows) in drawn.tokens.chunks(t * opts.samples).enumerate() {
            found[n] |= rows.chunks(t).any(|d| d == targets[n]);
        }
        e.any_of_samples_exact += found.iter().filter(|&&x| x).count() as f64;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let n = batches.len() as f64;
    e.states = examples.len();
    e.token_accuracy /= n;
    e.policy_loss /= n;
    e.value_loss /= n;
    e.top1_exact /= e.states as f64;
    e.any_of_samples_exact /= e.states as f64;
    Ok(e)
}
