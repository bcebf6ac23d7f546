//! `tensorsearch bench train`: training steps and leaf evaluations per
//! second on one device, the device work per step (dispatches, submits,
//! read-backs on a GPU), and where the time goes, operation by operation
//! (from [`Profiled`]: timestamp queries on a GPU, timers on the CPU).

use crate::engine::profile::{OpTime, Profiled};
use crate::engine::Backend;
use crate::game::{ActionEncoding, GameConfig};
use crate::model::{Batch, Evaluator, ModelConfig, Network};
use crate::problem::{Field, Shape};
use crate::train::synthetic_batch;
use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// What to measure.
#[derive(Clone, Debug)]
pub struct TrainBenchCase {
    pub shape: Shape,
    pub field: Field,
    pub preset: String,
    pub batch: usize,
    /// States (G) and samples per state (K) of one leaf evaluation.
    pub states: usize,
    pub samples: usize,
}

impl TrainBenchCase {
    /// `shape` over `field` at batch 64; leaf evaluations of 16 states ×
    /// 32 samples.
    pub fn of(preset: &str, shape: Shape, field: Field) -> Result<Self> {
        Ok(TrainBenchCase {
            shape,
            field,
            preset: preset.to_string(),
            batch: 64,
            states: 16,
            samples: 32,
        })
    }
}

/// One operation's share of a step.
#[derive(Clone, Debug, Serialize)]
pub struct OpShare {
    pub op: String,
    pub calls: f64,
    pub ms: f64,
    pub fraction: f64,
}

/// Device work of one call (a GPU only).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Work {
    pub dispatches: u64,
    pub submits: u64,
    pub reads: u64,
    pub writes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrainThroughput {
    pub device: String,
    pub shape: String,
    pub field: String,
    pub preset: String,
    pub parameters: usize,
    pub batch: usize,
    pub steps_per_s: f64,
    /// Leaf evaluations: states per second, each with K sampled actions.
    pub states: usize,
    pub samples: usize,
    pub evaluations_per_s: f64,
    pub step_work: Option<Work>,
    pub evaluation_work: Option<Work>,
    /// Per operation, per training step, largest first.
    pub step_profile: Vec<OpShare>,
    pub evaluation_profile: Vec<OpShare>,
}

/// Distinct batches the timed steps cycle through (made before timing).
const BATCHES: usize = 4;
/// Steps and evaluations averaged in a profile.
const PROFILED: usize = 3;
const LR: f32 = 1e-4;

struct Setup {
    game: GameConfig,
    encoding: ActionEncoding,
    model: ModelConfig,
    batches: Vec<Batch>,
    states: Vec<f32>,
    uniforms: Vec<f32>,
}

impl Setup {
    fn new(case: &TrainBenchCase) -> Result<Self> {
        let game = GameConfig::new(case.shape, case.field, 1, case.shape.standard_rank());
        let encoding = ActionEncoding::default_for(case.shape, case.field);
        let mut rng = StdRng::seed_from_u64(3);
        let batches = (0..BATCHES)
            .map(|_| synthetic_batch(&mut rng, &game, &encoding, case.batch, game.max_steps))
            .collect();
        let states = (0..case.states * game.state_features())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let uniforms = (0..case.states * case.samples * encoding.n_tokens())
            .map(|_| rng.random())
            .collect();
        Ok(Setup {
            model: ModelConfig::preset(&case.preset)?,
            game,
            encoding,
            batches,
            states,
            uniforms,
        })
    }

    fn network<B: Backend>(&self, b: &mut B, batch: usize) -> Result<Network<B>> {
        Network::new(
            b,
            self.model.clone(),
            self.game.clone(),
            self.encoding.clone(),
            batch,
            7,
        )
    }
}

fn step<B: Backend>(b: &mut B, net: &mut Network<B>, batch: &Batch) -> Result<()> {
    let stats = net.train_step(b, batch, LR)?;
    if !stats.is_finite() {
        bail!("a benchmark step gave non-finite losses");
    }
    Ok(())
}

/// Calls whose device work is averaged.
const COUNTED: u64 = 4;

/// The device work of one call of `f` in a steady run: counted over
/// `COUNTED` calls after a first one, with no flush of ours in between, so
/// work a call leaves recorded (the optimiser step, submitted with the next
/// step's work) is counted once per call, as it runs.
fn work_of<B: Backend>(b: &mut B, mut f: impl FnMut(&mut B) -> Result<()>) -> Result<Option<Work>> {
    f(b)?;
    let before = b.gpu_counts();
    for _ in 0..COUNTED {
        f(b)?;
    }
    Ok(match (before, b.gpu_counts()) {
        (Some(x), Some(y)) => {
            let d = y - x;
            Some(Work {
                dispatches: d.dispatches / COUNTED,
                submits: d.submits / COUNTED,
                reads: d.reads / COUNTED,
                writes: d.writes / COUNTED,
            })
        }
        _ => None,
    })
}

fn shares(ops: BTreeMap<&'static str, OpTime>, calls: usize) -> Vec<OpShare> {
    let total: f64 = ops.values().map(|t| t.time.as_secs_f64()).sum();
    let mut rows: Vec<OpShare> = ops
        .into_iter()
        .map(|(op, t)| OpShare {
            op: op.to_string(),
            calls: t.calls as f64 / calls as f64,
            ms: t.time.as_secs_f64() * 1e3 / calls as f64,
            fraction: if total > 0.0 {
                t.time.as_secs_f64() / total
            } else {
                0.0
            },
        })
        .collect();
    rows.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    rows
}

/// Measures `case` on `b`: half of `seconds` of training steps, half of
/// leaf evaluations, then a profile of a few of each on the same device.
pub fn measure<B: Backend>(
    mut b: B,
    case: &TrainBenchCase,
    seconds: Duration,
) -> Result<TrainThroughput> {
    let setup = Setup::new(case)?;
    let mut net = setup.network(&mut b, case.batch)?;
    // Warm-up: pipelines, caches, the allocator.
    step(&mut b, &mut net, &setup.batches[0])?;
    step(&mut b, &mut net, &setup.batches[1])?;
    let step_work = work_of(&mut b, |b| step(b, &mut net, &setup.batches[2]))?;
    let steps_per_s = crate::bench::calls_per_second(seconds / 2, |i| {
        step(&mut b, &mut net, &setup.batches[i % BATCHES])
    })?;

    let mut ev = Evaluator::new(&mut b, &net, case.states, case.samples)?;
    ev.evaluate(&mut b, &setup.states, &setup.uniforms)?;
    let evaluation_work = work_of(&mut b, |b| {
        ev.evaluate(b, &setup.states, &setup.uniforms).map(drop)
    })?;
    let calls_per_s = crate::bench::calls_per_second(seconds / 2, |_| {
        ev.evaluate(&mut b, &setup.states, &setup.uniforms)
            .map(drop)
    })?;
    let device = b.describe();
    let parameters = net.parameter_count();
    drop((ev, net));

    let mut p = Profiled::new(b);
    let mut net = setup.network(&mut p, case.batch)?;
    step(&mut p, &mut net, &setup.batches[0])?;
    p.take();
    for i in 0..PROFILED {
        step(&mut p, &mut net, &setup.batches[i % BATCHES])?;
    }
    let step_profile = shares(p.take(), PROFILED);
    let mut ev = Evaluator::new(&mut p, &net, case.states, case.samples)?;
    ev.evaluate(&mut p, &setup.states, &setup.uniforms)?;
    p.take();
    for _ in 0..PROFILED {
        ev.evaluate(&mut p, &setup.states, &setup.uniforms)?;
    }
    let evaluation_profile = shares(p.take(), PROFILED);

    Ok(TrainThroughput {
        device,
        shape: case.shape.to_string(),
        field: case.field.name().to_string(),
        preset: case.preset.clone(),
        parameters,
        batch: case.batch,
        steps_per_s,
        states: case.states,
        samples: case.samples,
        evaluations_per_s: calls_per_s * case.states as f64,
        step_work,
        evaluation_work,
        step_profile,
        evaluation_profile,
    })
}

fn work_cell(w: Option<Work>) -> String {
    w.map_or("-".into(), |w| {
        format!("{}/{}/{}/{}", w.dispatches, w.submits, w.reads, w.writes)
    })
}

/// The summary table, then each profile.
pub fn table(rows: &[TrainThroughput]) -> String {
    let mut s = format!(
        "{:<24} {:<10} {:<6} {:>9} {:>5} {:>9} {:>12} {:>18} {:>18}\n",
        "device",
        "game",
        "preset",
        "params",
        "batch",
        "steps/s",
        "evals/s",
        "work/step",
        "work/eval"
    );
    for r in rows {
        let device: String = r.device.chars().take(24).collect();
        s += &format!(
            "{:<24} {:<10} {:<6} {:>9} {:>5} {:>9.2} {:>12.1} {:>18} {:>18}\n",
            device,
            format!("{} {}", r.shape, r.field),
            r.preset,
            r.parameters,
            r.batch,
            r.steps_per_s,
            r.evaluations_per_s,
            work_cell(r.step_work),
            work_cell(r.evaluation_work),
        );
    }
    s += &format!(
        "evals/s: states per second, {} samples each; work: dispatches/submits/read-backs/host writes (GPU)\n",
        rows.first().map_or(0, |r| r.samples)
    );
    for r in rows {
        for (what, profile) in [
            ("training step", &r.step_profile),
            ("leaf evaluation", &r.evaluation_profile),
        ] {
            let total: f64 = profile.iter().map(|o| o.ms).sum();
            s += &format!(
                "\n{}, {} {}, {}: one {what}, operation by operation ({total:.2} ms with each run alone)\n",
                r.device, r.shape, r.field, r.preset
            );
            s += &format!(
                "  {:<22} {:>7} {:>10} {:>7}\n",
                "op", "calls", "ms", "share"
            );
            for o in profile {
                s += &format!(
                    "  {:<22} {:>7.0} {:>10.3} {:>6.1}%\n",
                    o.op,
                    o.calls,
                    o.ms,
                    100.0 * o.fraction
                );
            }
        }
    }
    s
}
