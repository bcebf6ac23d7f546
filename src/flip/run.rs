//! The `flip` run: the pool search (over Z2, or Z with bounded
//! coefficients) on CPU threads, or over Z2 on a GPU, with what
//! a long run needs. Every improvement is verified exactly and written at
//! once (`best.json`, and each distinct scheme of the best rank under
//! `found/`, up to a limit); the pool is checkpointed (`state.json`) every
//! few seconds, at the end and at Ctrl-C, and `--resume` continues it; a
//! line of `metrics.jsonl` every few seconds. With `--lift`, the schemes
//! of the best rank are Hensel-lifted at the end, and those that lift are
//! written, verified over Z or Q, under `lifted/`.

use super::factor::{Factor, Small, Ternary};
use super::gpu::GpuRounds;
use super::lift::{lift, Lift};
use super::pool::{PoolSearch, PoolSettings, PoolState, Round};
use super::scheme::{Scheme, Z2Scheme};
use crate::engine::gpu::GpuBackend;
use crate::interrupt;
use crate::problem::{json, verify, Decomposition, Field, Shape};
use crate::progress::say;
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const STATE_FILE: &str = "state.json";
pub const BEST_FILE: &str = "best.json";
pub const METRICS_FILE: &str = "metrics.jsonl";
/// Distinct schemes of one rank kept under `found/`.
pub const FOUND_PER_RANK: usize = 16;
const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);
const LOG_EVERY: Duration = Duration::from_secs(5);

/// What defines a run; saved with its state, so that `--resume` continues
/// with the same settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlipSettings {
    pub shape: [usize; 3],
    /// `Z2` or `Z`.
    pub field: String,
    /// Over Z: `ternary` or `any` (see [`Arith`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coeffs: Option<String>,
    /// `standard`, or the file the start scheme came from.
    pub from: String,
    pub seed: u64,
    pub pool: PoolSettings,
}

impl FlipSettings {
    pub fn shape(&self) -> Result<Shape> {
        let [n, m, p] = self.shape;
        Shape::new(n, m, p).map_err(|e| anyhow!(e))
    }

    pub fn arith(&self) -> Result<Arith> {
        Arith::new(&self.field, self.coeffs.as_deref())
    }
}

/// The arithmetic a run walks in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Z2,
    /// Over Z, coefficients in {−1, 0, 1}.
    Ternary,
    /// Over Z, coefficients from −7 to 7 (the walker's word).
    Small,
}

impl Arith {
    /// From `--field` and `--coeffs` (ternary by default over Z).
    pub fn new(field: &str, coeffs: Option<&str>) -> Result<Self> {
        match (field.to_ascii_lowercase().as_str(), coeffs) {
            ("z2", None) => Ok(Arith::Z2),
            ("z2", Some(c)) => {
                bail!("--coeffs {c} is for --field z; over Z2 every coefficient is 0 or 1")
            }
            ("z", None | Some("ternary")) => Ok(Arith::Ternary),
            ("z", Some("any")) => Ok(Arith::Small),
            ("z", Some(c)) => bail!("unknown --coeffs '{c}': expected ternary or any"),
            (f, _) => bail!("unknown --field '{f}': expected z2 or z"),
        }
    }

    pub fn field(self) -> Field {
        match self {
            Arith::Z2 => Field::Z2,
            _ => Field::Z,
        }
    }

    /// For file names and messages: `z2`, `z-ternary`, `z-any`.
    pub fn tag(self) -> &'static str {
        match self {
            Arith::Z2 => "z2",
            Arith::Ternary => "z-ternary",
            Arith::Small => "z-any",
        }
    }

    /// What `FlipSettings` records.
    pub fn settings(self) -> (String, Option<String>) {
        match self {
            Arith::Z2 => ("Z2".into(), None),
            Arith::Ternary => ("Z".into(), Some("ternary".into())),
            Arith::Small => ("Z".into(), Some("any".into())),
        }
    }
}

/// The settings of the run checkpointed in `dir`.
pub fn read_settings(dir: &Path) -> Result<FlipSettings> {
    #[derive(Deserialize)]
    struct Head {
        settings: FlipSettings,
    }
    let head: Head = read_checkpoint(dir)?;
    Ok(head.settings)
}

/// The checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "F: Factor")]
pub struct Saved<F> {
    pub settings: FlipSettings,
    pub state: PoolState<F>,
    /// Seconds run in earlier sessions.
    pub elapsed_s: f64,
}

/// When a run stops (any that is met; else at Ctrl-C).
#[derive(Clone, Copy, Debug, Default)]
pub struct Stop {
    pub time: Option<Duration>,
    pub target: Option<usize>,
}

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FlipMetrics {
    pub elapsed_s: f64,
    pub pool_rank: usize,
    pub best_rank: usize,
    pub flips: u64,
    pub flips_per_s: f64,
    pub walks: u64,
    pub pool: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct FlipReport {
    pub best_rank: usize,
    pub best_file: PathBuf,
    pub flips: u64,
    pub seconds: f64,
    pub flips_per_s: f64,
    /// CPU threads, or None on a GPU.
    pub threads: Option<usize>,
    /// Where the walks ran, in words.
    pub device: String,
    pub stopped_by: &'static str,
}

/// The start scheme: the standard algorithm, or the first decomposition
/// of a file, which must have this shape and hold in F's field (within its
/// coefficient bound).
pub fn start_scheme<F: Factor>(from: &str, shape: Shape) -> Result<Scheme<F>> {
    if from == "standard" {
        return Scheme::standard(shape);
    }
    let ds = json::read_file(Path::new(from))?;
    let d = ds
        .first()
        .ok_or_else(|| anyhow!("{from} holds no decomposition"))?;
    if d.shape != shape {
        bail!("{from} is a {} scheme, not {shape}", d.shape);
    }
    verify(d, F::FIELD).map_err(|e| anyhow!("{from} does not hold over {}: {e}", F::FIELD))?;
    Scheme::from_decomposition(d).map_err(|e| anyhow!("{from}: {e}"))
}

fn read_checkpoint<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<T> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a flip checkpoint", path.display()))
}

fn checkpoint<F: Factor>(
    out: &Path,
    settings: &FlipSettings,
    search: &PoolSearch<F>,
    elapsed_s: f64,
) -> Result<()> {
    let saved = Saved {
        settings: settings.clone(),
        state: search.state.clone(),
        elapsed_s,
    };
    let text = serde_json::to_string(&saved)?;
    json::write_atomic(&out.join(STATE_FILE), format!("{text}\n").as_bytes())
}

/// A name for a scheme that does not depend on its terms' order (FNV-1a
/// over the sorted coefficients), so a resumed run writes a scheme it
/// wrote before to the same file.
fn fingerprint(d: &Decomposition) -> u64 {
    let mut terms: Vec<Vec<i128>> = (0..d.rank())
        .map(|r| {
            let [u, v, w] = d.factors();
            [&u[r], &v[r], &w[r]]
                .into_iter()
                .flatten()
                .map(|x| x.to_integer())
                .collect()
        })
        .collect();
    terms.sort_unstable();
    terms.iter().flatten().fold(0xCBF2_9CE4_8422_2325, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x100_0000_01B3)
    })
}

/// `s` in the standard basis, verified exactly over its field (and
/// within its coefficient bound, by construction): nothing is written
/// that has not passed through here.
fn verified<F: Factor>(s: &Scheme<F>) -> Result<Decomposition> {
    let d = s.to_decomposition();
    verify(&d, F::FIELD).map_err(|e| anyhow!("internal error: a walk left the tensor: {e}"))?;
    Ok(d)
}

/// Writes `d` (verified) under `found/`, unless it is there or
/// FOUND_PER_RANK of its rank are.
fn keep(out: &Path, d: &Decomposition) -> Result<()> {
    let prefix = format!("rank-{}-", d.rank());
    let found = out.join("found");
    let path = found.join(format!("{prefix}{:016x}.json", fingerprint(d)));
    let of_rank = std::fs::read_dir(&found)
        .with_context(|| format!("cannot read {}", found.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .count();
    if of_rank < FOUND_PER_RANK && !path.exists() {
        json::write_file(&path, std::slice::from_ref(d))?;
    }
    Ok(())
}

/// Writes `d` (verified) as `best.json`.
fn write_best(out: &Path, d: &Decomposition) -> Result<()> {
    json::write_file(&out.join(BEST_FILE), std::slice::from_ref(d))
}

/// Where the walks run.
pub enum Engine {
    /// CPU threads (all when None).
    Cpu(Option<usize>),
    /// Z2 walks on a GPU, the pool's walks per round at a time.
    Gpu(Box<GpuBackend>),
}

/// One round of the pool search, wherever it runs.
type Rounds<'a, F> =
    dyn FnMut(&mut PoolSearch<F>, &(dyn Fn() -> bool + Sync)) -> Result<Round<F>> + 'a;

/// Runs (or, with `resume`, continues the run checkpointed in `out`) the
/// search in the settings' arithmetic until a stop condition or Ctrl-C.
pub fn run(
    settings: &FlipSettings,
    resume: bool,
    out: &Path,
    stop: Stop,
    engine: Engine,
) -> Result<FlipReport> {
    settings.pool.check()?;
    let arith = settings.arith()?;
    let threads = match engine {
        Engine::Cpu(threads) => threads,
        Engine::Gpu(mut gpu) => {
            if arith != Arith::Z2 {
                bail!("the GPU walk is over Z2 only: use --device cpu with --field z");
            }
            let device = gpu.adapter_name().to_string();
            let mut rounds: Option<GpuRounds> = None;
            return run_in::<u64>(
                settings,
                resume,
                out,
                stop,
                None,
                device,
                &mut |search, halt| {
                    if rounds.is_none() {
                        let rank = search.state.rank;
                        rounds = Some(GpuRounds::new(&mut gpu, &search.settings, rank)?);
                    }
                    let rounds = rounds.as_ref().expect("made above");
                    Ok(rounds.round(&mut gpu, search, halt))
                },
            );
        }
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .context("cannot start the walk threads")?;
    match arith {
        Arith::Z2 => on_cpu::<u64>(settings, resume, out, stop, &pool),
        Arith::Ternary => on_cpu::<Ternary>(settings, resume, out, stop, &pool),
        Arith::Small => on_cpu::<Small>(settings, resume, out, stop, &pool),
    }
}

fn on_cpu<F: Factor>(
    settings: &FlipSettings,
    resume: bool,
    out: &Path,
    stop: Stop,
    pool: &rayon::ThreadPool,
) -> Result<FlipReport> {
    let n = pool.current_num_threads();
    let device = format!("{n} CPU thread{}", if n == 1 { "" } else { "s" });
    run_in::<F>(
        settings,
        resume,
        out,
        stop,
        Some(n),
        device,
        &mut |search, halt| Ok(pool.install(|| search.round(halt))),
    )
}

fn run_in<F: Factor>(
    settings: &FlipSettings,
    resume: bool,
    out: &Path,
    stop: Stop,
    threads: Option<usize>,
    device: String,
    rounds: &mut Rounds<F>,
) -> Result<FlipReport> {
    let shape = settings.shape()?;
    let saved: Option<Saved<F>> = resume.then(|| read_checkpoint(out)).transpose()?;
    let (mut search, before_s) = match saved {
        Some(s) => (
            PoolSearch::resume(shape, settings.pool, s.state)?,
            s.elapsed_s,
        ),
        None => {
            let start = start_scheme(&settings.from, shape)?;
            (PoolSearch::new(&start, settings.pool, settings.seed), 0.0)
        }
    };
    if let Some(t) = stop.target {
        if t >= search.best_rank() {
            bail!(
                "--target {t} is not below the start rank {}",
                search.best_rank()
            );
        }
    }
    let mut metrics = crate::progress::open_outputs(out, METRICS_FILE)?;
    // The rank in best.json: a resumed run whose checkpoint is older than
    // its best file (killed between the two) must not overwrite it with
    // a worse scheme.
    let mut best_written = json::read_file(&out.join(BEST_FILE))
        .ok()
        .and_then(|ds| ds.first().map(|d| d.rank()));
    if best_written.is_none_or(|r| search.best_rank() < r) {
        let d = verified(&search.best())?;
        write_best(out, &d)?;
        keep(out, &d)?;
        best_written = Some(d.rank());
    }
    // A run killed before its first periodic checkpoint can still resume.
    checkpoint(out, settings, &search, before_s)?;
    let flag = interrupt::stop_flag();
    eprintln!(
        "flip {shape} over {}{} on {device}: pool {}, {} walks per round, path limit {}, plateau {}, output in {}",
        F::FIELD,
        if F::SIGNED { format!(" (coefficients up to {} in size)", F::BOUND) } else { String::new() },
        settings.pool.pool_size,
        settings.pool.walks_per_round,
        settings.pool.path_limit,
        settings.pool.plateau,
        out.display()
    );
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .expect("a valid template"),
    );
    let start = Instant::now();
    let (mut last_log, mut last_save) = (start, start);
    let (mut logged_flips, flips_at_start) = (search.state.flips, search.state.flips);
    let deadline = stop.time.map(|t| start + t);
    let stopped_by = loop {
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            break "interrupt";
        }
        if stop.target.is_some_and(|t| search.best_rank() <= t) {
            break "target";
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break "time";
        }
        let halt = || interrupt::stop_requested() || deadline.is_some_and(|d| Instant::now() >= d);
        let round = rounds(&mut search, &halt)?;
        for s in &round.best {
            let d = verified(s)?;
            keep(out, &d)?;
            if best_written.is_none_or(|r| d.rank() < r) {
                write_best(out, &d)?;
                best_written = Some(d.rank());
            }
        }
        if let Some(s) = round.best.first().filter(|_| round.improved) {
            say(
                &bar,
                format!(
                    "[{:>7.1}s] rank {} (verified), {} flips",
                    before_s + start.elapsed().as_secs_f64(),
                    s.rank(),
                    search.state.flips
                ),
            );
        }
        let now = Instant::now();
        let rate =
            (search.state.flips - flips_at_start) as f64 / start.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!(
            "rank {} (pool {}), best {}, {:.2} M flips/s, {} walks",
            search.state.rank,
            search.state.pool.len(),
            search.best_rank(),
            rate / 1e6,
            search.state.walks
        ));
        bar.tick();
        if now - last_log >= LOG_EVERY {
            let line = metrics_line(
                &search,
                before_s + start.elapsed().as_secs_f64(),
                search.state.flips - logged_flips,
                now - last_log,
            );
            writeln!(metrics, "{}", serde_json::to_string(&line)?)?;
            (last_log, logged_flips) = (now, search.state.flips);
        }
        // At each improvement too: a SIGKILL then loses at most the walks
        // since.
        if round.improved || now - last_save >= CHECKPOINT_EVERY {
            checkpoint(
                out,
                settings,
                &search,
                before_s + start.elapsed().as_secs_f64(),
            )?;
            last_save = now;
        }
    };
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let line = metrics_line(
        &search,
        before_s + seconds,
        search.state.flips - logged_flips,
        Instant::now() - last_log,
    );
    writeln!(metrics, "{}", serde_json::to_string(&line)?)?;
    checkpoint(out, settings, &search, before_s + seconds)?;
    let flips = search.state.flips - flips_at_start;
    Ok(FlipReport {
        best_rank: search.best_rank(),
        best_file: out.join(BEST_FILE),
        flips,
        seconds,
        flips_per_s: flips as f64 / seconds.max(1e-9),
        threads,
        device,
        stopped_by,
    })
}

/// Hensel steps of `--lift`: coefficients mod 2^21, fractions with
/// numerator and denominator up to 1024.
pub const LIFT_STEPS: u32 = 20;

/// What lifting one kept scheme gave: the file written, or why not.
pub struct LiftOutcome {
    pub scheme: PathBuf,
    pub result: std::result::Result<(PathBuf, Field), String>,
}

/// Lifts every scheme of `rank` under `found/`; those that lift (verified
/// inside [`lift`]) are written under `lifted/` with the same name.
pub fn lift_found(out: &Path, rank: usize) -> Result<Vec<LiftOutcome>> {
    let found = out.join("found");
    let prefix = format!("rank-{rank}-");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&found)
        .with_context(|| format!("cannot read {}", found.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    files.sort();
    std::fs::create_dir_all(out.join("lifted"))
        .with_context(|| format!("cannot create {}", out.join("lifted").display()))?;
    let mut outcomes = vec![];
    for file in files {
        let ds = json::read_file(&file)?;
        let d = ds
            .first()
            .ok_or_else(|| anyhow!("{} holds no decomposition", file.display()))?;
        let result = match lift(&Z2Scheme::from_decomposition(d)?, LIFT_STEPS) {
            Lift::Lifted(lifted) => {
                let name = file.file_name().expect("a file name");
                let to = out.join("lifted").join(name);
                json::write_file(&to, std::slice::from_ref(&lifted))?;
                Ok((to, lifted.field))
            }
            Lift::NoLift(why) => Err(why),
        };
        outcomes.push(LiftOutcome {
            scheme: file,
            result,
        });
    }
    Ok(outcomes)
}

fn metrics_line<F: Factor>(
    search: &PoolSearch<F>,
    elapsed_s: f64,
    flips: u64,
    over: Duration,
) -> FlipMetrics {
    FlipMetrics {
        elapsed_s,
        pool_rank: search.state.rank,
        best_rank: search.best_rank(),
        flips: search.state.flips,
        flips_per_s: flips as f64 / over.as_secs_f64().max(1e-9),
        walks: search.state.walks,
        pool: search.state.pool.len(),
    }
}
