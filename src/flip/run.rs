//! The `flip` run: the pool search (over Z2, or Z with bounded
//! coefficients) on CPU threads, or over Z2 on a GPU, in a run directory
//! (`crate::run`). Every improvement is verified exactly and written at
//! once (`best.json`, and each distinct scheme of each rank reached under
//! `found/`, up to a limit per rank); the pool is checkpointed
//! (`state.json`) every few seconds, at each improvement, at the end and at
//! Ctrl-C, and `--resume` continues it after checking every saved scheme;
//! a line of `metrics.jsonl` every few seconds. With `--lift`, the schemes
//! of the best rank are Hensel-lifted at the end, and those that lift are
//! written, verified over Z or Q, under `lifted/`. With a cluster
//! ([`crate::cluster`]), the run publishes each improvement, and adopts
//! the others' lower schemes, verified, within a second or so.

use super::factor::{Factor, Small, Ternary, Wide};
use super::gpu::GpuRounds;
use super::lift::{lift, Lift};
use super::pool::{PoolSearch, PoolSettings, PoolState, Round};
use super::scheme::{Scheme, Z2Scheme};
use super::symmetric::{cube_start, parse_cubes};
use crate::cluster::{host_name, Exchange, Heartbeat};
use crate::engine::gpu::GpuBackend;
use crate::problem::formats::{self, Format};
use crate::problem::{json, meta, verify, Decomposition, Field, Shape};
use crate::run::dir::Checked;
use crate::run::display::{fit_message, say, spinner};
use crate::run::{Clock, Every, Identity, Kind, RunDir, Stop, Stopped};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const STATE_FILE: &str = "state.json";
pub use crate::run::dir::{BEST_FILE, METRICS_FILE};
/// Distinct schemes of one rank kept under `found/`.
pub const FOUND_PER_RANK: usize = 16;
const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);
const LOG_EVERY: Duration = Duration::from_secs(5);
/// How often a run looks at the cluster's schemes, and says it is alive.
const SYNC_EVERY: Duration = Duration::from_secs(1);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(3);

/// The coefficient set of a walk over Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Coeffs {
    /// {−1, 0, 1}.
    Ternary,
    /// −7 to 7 (the walker's word).
    Any,
}

impl std::str::FromStr for Coeffs {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "ternary" => Ok(Coeffs::Ternary),
            "any" => Ok(Coeffs::Any),
            _ => Err(format!("unknown --coeffs '{s}': expected ternary or any")),
        }
    }
}

impl std::fmt::Display for Coeffs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Coeffs::Ternary => "ternary",
            Coeffs::Any => "any",
        })
    }
}

/// What defines a run; saved with its state, so that `--resume` continues
/// with the same settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlipSettings {
    pub shape: [usize; 3],
    /// Z2 or Z.
    pub field: Field,
    /// Over Z: the coefficient set (see [`Arith`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coeffs: Option<Coeffs>,
    /// `standard`, or the file the start scheme came from.
    pub from: String,
    /// The format of the `--from` files, when not the one their content
    /// and extension show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_format: Option<Format>,
    pub seed: u64,
    pub pool: PoolSettings,
}

impl FlipSettings {
    pub fn shape(&self) -> Result<Shape> {
        let [n, m, p] = self.shape;
        Shape::new(n, m, p).map_err(|e| anyhow!(e))
    }

    pub fn arith(&self) -> Result<Arith> {
        Arith::new(self.field, self.coeffs)
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
    pub fn new(field: Field, coeffs: Option<Coeffs>) -> Result<Self> {
        match (field, coeffs) {
            (Field::Z2, None) => Ok(Arith::Z2),
            (Field::Z2, Some(c)) => {
                bail!("--coeffs {c} is for --field z; over Z2 every coefficient is 0 or 1")
            }
            (Field::Z, None | Some(Coeffs::Ternary)) => Ok(Arith::Ternary),
            (Field::Z, Some(Coeffs::Any)) => Ok(Arith::Small),
            (Field::Q, _) => bail!("flips walk over z2 or z, not q"),
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
    pub fn settings(self) -> (Field, Option<Coeffs>) {
        match self {
            Arith::Z2 => (Field::Z2, None),
            Arith::Ternary => (Field::Z, Some(Coeffs::Ternary)),
            Arith::Small => (Field::Z, Some(Coeffs::Any)),
        }
    }
}

/// The settings of the run checkpointed in `dir`.
pub fn read_settings(dir: &Path) -> Result<FlipSettings> {
    crate::run::dir::expect_kind(dir, Kind::Flip)?;
    #[derive(Deserialize)]
    struct Head {
        settings: FlipSettings,
    }
    let head: Head = read_checkpoint(dir)?;
    Ok(head.settings)
}

/// A run directory from before `run.json`: its identity is its settings'.
fn legacy_identity(dir: &Path) -> Result<Identity> {
    let s = read_settings(dir)?;
    Ok(Identity::new(Kind::Flip, s.shape()?, s.field))
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
    /// The rank of `best.json`, verified in this session.
    pub best_rank: usize,
    pub best_file: PathBuf,
    pub flips: u64,
    pub seconds: f64,
    pub flips_per_s: f64,
    /// CPU threads, or None on a GPU.
    pub threads: Option<usize>,
    /// Where the walks ran, in words.
    pub device: String,
    pub stopped_by: Stopped,
    /// When the best rank was first reached (seconds since the run began,
    /// flips), or the start's when no walk went below it.
    pub reached_s: f64,
    pub reached_flips: u64,
}

/// The start scheme: the standard algorithm; `cubes:…`, the standard
/// algorithm with its diagonal products grouped into cubes
/// ([`cube_start`]); a file's decomposition of SHAPE, or else its first;
/// or
/// `product:A,B`, the tensor product of the first decompositions of two
/// files. A scheme of another shape is projected and extended by
/// standard terms to this one (`problem::meta`). Every part read and the
/// start itself must hold in F's field (within its coefficient bound).
pub fn start_scheme<F: Factor>(
    from: &str,
    format: Option<Format>,
    shape: Shape,
) -> Result<Scheme<F>> {
    if from == "standard" {
        return Scheme::standard(shape);
    }
    if let Some(spec) = from.strip_prefix("cubes:") {
        if !shape.is_square() {
            bail!("--from cubes: is for square shapes, not {shape}");
        }
        return cube_start(shape.n, &parse_cubes(spec, shape.n)?);
    }
    // A file of several (a catalogue) gives its scheme of the run's shape,
    // else its first.
    let read = |file: &str| -> Result<Decomposition> {
        let mut all = formats::read_file(Path::new(file), format)?;
        let at = all.iter().position(|d| d.shape == shape).unwrap_or(0);
        if all.is_empty() {
            bail!("{file} holds no decomposition");
        }
        let d = all.swap_remove(at);
        verify(&d, F::FIELD).map_err(|e| {
            let hint = formats::convention_note(&d);
            anyhow!("{file} does not hold over {}: {e}{hint}", F::FIELD)
        })?;
        Ok(d)
    };
    let made = match from.strip_prefix("product:") {
        Some(parts) => {
            let [a, b] = parts.split(',').collect::<Vec<_>>()[..] else {
                bail!("--from product:A,B takes two scheme files, not '{parts}'");
            };
            let (a, b) = (read(a)?, read(b)?);
            let product = meta::tensor_product(&a, &b)?;
            eprintln!(
                "start: the product of a {} and a {} scheme, a {} scheme of rank {}",
                a.shape,
                b.shape,
                product.shape,
                product.rank()
            );
            product
        }
        None => read(from)?,
    };
    let start = if made.shape == shape {
        made
    } else {
        let fitted = meta::fit(&made, shape);
        eprintln!(
            "start: the {} scheme of rank {} made a {shape} scheme of rank {} (projected and extended by standard terms)",
            made.shape,
            made.rank(),
            fitted.rank()
        );
        fitted
    };
    verify(&start, F::FIELD).map_err(|e| {
        anyhow!(
            "the start made from {from} does not hold over {}: {e}",
            F::FIELD
        )
    })?;
    Scheme::from_decomposition(&start).map_err(|e| anyhow!("{from}: {e}"))
}

fn read_checkpoint<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<T> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow!("{} is not a flip checkpoint: {e}", path.display()))
}

fn checkpoint<F: Factor>(
    dir: &RunDir,
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
    dir.write(STATE_FILE, format!("{text}\n").as_bytes())
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

/// Where a run's best and kept schemes go: every scheme passes the run
/// directory's exact check before it is written.
struct Keeper {
    dir: RunDir,
    /// The rank of `best.json` (verified when read).
    best_written: Option<usize>,
}

impl Keeper {
    /// Writes `s` under `found/` (unless it is there, or FOUND_PER_RANK of
    /// its rank are), and as `best.json` when it is lower than that;
    /// returns it, verified.
    fn offer<F: Factor>(&mut self, s: &Scheme<F>) -> Result<Checked> {
        // Every scheme a walk reports is checked, written or not: one that
        // left the tensor is a bug, and stops the run.
        let d = self
            .dir
            .check(s.to_decomposition())
            .context("internal error: a walk left the tensor")?;
        let prefix = format!("rank-{}-", d.rank());
        if self.dir.found_with_prefix(&prefix)?.len() < FOUND_PER_RANK {
            self.dir
                .keep(&d, &format!("{prefix}{:016x}.json", fingerprint(&d)))?;
        }
        if self.best_written.is_none_or(|r| d.rank() < r) {
            self.dir.write_best(&d)?;
            self.best_written = Some(d.rank());
        }
        Ok(d)
    }
}

/// Takes the cluster's schemes below the search's rank (verified by the
/// exchange, and again by the keeper, which writes the best at once):
/// the search goes on from them. Returns the rank adopted.
fn adopt_from_cluster<F: Factor>(
    exchange: &mut dyn Exchange,
    search: &mut PoolSearch<F>,
    keeper: &mut Keeper,
) -> Result<Option<usize>> {
    let theirs: Vec<Scheme<F>> = exchange
        .below(search.best_rank(), search.settings.pool_size)
        .iter()
        // A scheme outside this walk's coefficients is not for it.
        .filter_map(|d| Scheme::<F>::from_decomposition(d).ok())
        .collect();
    let Some(first) = theirs.first().cloned() else {
        return Ok(None);
    };
    if !search.adopt(theirs) {
        return Ok(None);
    }
    keeper.offer(&first)?;
    Ok(Some(search.best_rank()))
}

/// Where the walks run.
pub enum Engine {
    /// CPU threads (all when None).
    Cpu(Option<usize>),
    /// Z2 walks on a GPU, with the walks it takes at a time (for a fresh
    /// run; a resumed one keeps its own).
    Gpu(Box<GpuBackend>, usize),
}

/// One round of the pool search, wherever it runs.
type Rounds<'a, F> =
    dyn FnMut(&mut PoolSearch<F>, &(dyn Fn() -> bool + Sync)) -> Result<Round<F>> + 'a;

/// Runs (or, with `resume`, continues the run checkpointed in `out`) the
/// search in the settings' arithmetic until a stop condition or Ctrl-C.
/// Everything read from `out` or `--from` is checked first; only then is
/// `engine` asked where the walks run (so bad input never touches a GPU).
pub fn run(
    settings: FlipSettings,
    resume: bool,
    out: &Path,
    stop: Stop,
    exchange: Box<dyn Exchange>,
    engine: impl FnOnce(Arith) -> Result<Engine>,
) -> Result<FlipReport> {
    settings.pool.check()?;
    let arith = settings.arith()?;
    let shape = settings.shape()?;
    let z_on_gpu = "the GPU walk is over Z2 only: use --device cpu with --field z";
    let wide_on_gpu = format!(
        "the GPU walk holds factors of up to 64 coefficients: use --device cpu for {shape}"
    );
    match arith {
        // Factors longer than one word: two words to 128 coefficients,
        // four to 256 (16x16x16).
        Arith::Z2 if !Scheme::<u64>::supports(shape) && Scheme::<Wide<2>>::supports(shape) => {
            let prepared = Prepared::<Wide<2>>::open(settings, resume, out, stop, exchange)?;
            cpu_only(engine(arith)?, || Ok(prepared), &wide_on_gpu)
        }
        Arith::Z2 if !Scheme::<u64>::supports(shape) => {
            let prepared = Prepared::<Wide<4>>::open(settings, resume, out, stop, exchange)?;
            cpu_only(engine(arith)?, || Ok(prepared), &wide_on_gpu)
        }
        Arith::Z2 => {
            let prepared = Prepared::<u64>::open(settings, resume, out, stop, exchange)?;
            match engine(arith)? {
                Engine::Cpu(threads) => prepared.on_cpu(threads),
                Engine::Gpu(gpu, walks) => prepared.on_gpu(gpu, walks),
            }
        }
        Arith::Ternary => cpu_only(
            engine(arith)?,
            || Prepared::<Ternary>::open(settings, resume, out, stop, exchange),
            z_on_gpu,
        ),
        Arith::Small => cpu_only(
            engine(arith)?,
            || Prepared::<Small>::open(settings, resume, out, stop, exchange),
            z_on_gpu,
        ),
    }
}

/// A walk in an arithmetic the GPU walk does not have: on CPU threads,
/// or refused with `refusal`.
fn cpu_only<F: Factor>(
    engine: Engine,
    prepared: impl FnOnce() -> Result<Prepared<F>>,
    refusal: &str,
) -> Result<FlipReport> {
    match engine {
        Engine::Cpu(threads) => prepared()?.on_cpu(threads),
        Engine::Gpu(..) => bail!("{refusal}"),
    }
}

/// A run whose directory, state and stop conditions have been checked.
struct Prepared<F> {
    settings: FlipSettings,
    resume: bool,
    keeper: Keeper,
    search: PoolSearch<F>,
    before_s: f64,
    stop: Stop,
    exchange: Box<dyn Exchange>,
}

impl<F: Factor> Prepared<F> {
    fn open(
        settings: FlipSettings,
        resume: bool,
        out: &Path,
        stop: Stop,
        mut exchange: Box<dyn Exchange>,
    ) -> Result<Self> {
        let shape = settings.shape()?;
        let check_target = |search: &PoolSearch<F>| -> Result<()> {
            match stop.target {
                Some(t) if t >= search.best_rank() => bail!(
                    "--target {t} is not below the start rank {}",
                    search.best_rank()
                ),
                _ => Ok(()),
            }
        };
        let (dir, search, before_s) = if resume {
            let dir = RunDir::resume(out, Kind::Flip, legacy_identity)?;
            dir.check_state(STATE_FILE, settings.shape, settings.field)?;
            let saved: Saved<F> = read_checkpoint(out)?;
            if saved.settings != settings {
                bail!(
                    "{} changed while it was read",
                    dir.file(STATE_FILE).display()
                );
            }
            let search = PoolSearch::resume(shape, settings.pool, saved.state).map_err(|e| {
                anyhow!(
                    "{}: {e}: refusing to resume",
                    dir.file(STATE_FILE).display()
                )
            })?;
            check_target(&search)?;
            let elapsed = saved.elapsed_s;
            let before_s = if elapsed.is_finite() {
                elapsed.max(0.0)
            } else {
                0.0
            };
            (dir, search, before_s)
        } else {
            // The start and the target are checked before the directory
            // is made, so a refused run leaves nothing behind.
            let start = start_scheme(&settings.from, settings.from_format, shape)?;
            let search = PoolSearch::new(&start, settings.pool, settings.seed)?;
            check_target(&search)?;
            let dir = RunDir::create(out, Identity::new(Kind::Flip, shape, F::FIELD))?;
            (dir, search, 0.0)
        };
        // best.json is checked against the run's tensor before it is
        // believed; a checkpoint older than it (killed between the two)
        // must not overwrite it with a worse scheme.
        let best_written = dir.best()?.map(|d| d.rank());
        let mut keeper = Keeper { dir, best_written };
        let mut search = search;
        let start = keeper.offer(&search.best())?;
        // A worker joining a cluster starts from its pool when it is lower.
        if let Some(rank) = adopt_from_cluster(exchange.as_mut(), &mut search, &mut keeper)? {
            eprintln!("joined the cluster's pool at rank {rank} (verified)");
        }
        for line in exchange.news() {
            eprintln!("{line}");
        }
        if search.best_rank() == start.rank() {
            exchange.publish(&start);
        }
        Ok(Prepared {
            settings,
            resume,
            keeper,
            search,
            before_s,
            stop,
            exchange,
        })
    }

    fn on_cpu(self, threads: Option<usize>) -> Result<FlipReport> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.unwrap_or(0))
            .build()
            .context("cannot start the walk threads")?;
        let n = pool.current_num_threads();
        let device = format!("{n} CPU thread{}", if n == 1 { "" } else { "s" });
        self.walk(Some(n), device, &mut |search, halt| {
            Ok(pool.install(|| search.round(halt)))
        })
    }

    fn walk(
        mut self,
        threads: Option<usize>,
        device: String,
        rounds: &mut Rounds<F>,
    ) -> Result<FlipReport> {
        let (settings, before_s) = (self.settings.clone(), self.before_s);
        let search = &mut self.search;
        let dir = &self.keeper.dir;
        // A run killed before its first periodic checkpoint can still resume.
        checkpoint(dir, &settings, search, before_s)?;
        let shape = search.shape;
        eprintln!(
            "flip {shape} over {}{} on {device}: pool {}, {} walks per round, path limit {}{}, plateau {}{}, {} reduction, output in {}",
            F::FIELD,
            if F::SIGNED { format!(" (coefficients up to {} in size)", F::BOUND) } else { String::new() },
            settings.pool.pool_size,
            settings.pool.walks_per_round,
            settings.pool.path_limit,
            if settings.pool.adaptive { " (adaptive: from 1/16 to 16 times)" } else { "" },
            settings.pool.plateau,
            match settings.pool.slack {
                usize::MAX => String::new(),
                s => format!(", slack {s}"),
            } + &match settings.pool.draws {
                1 => String::new(),
                d => format!(", {d} draws per flip"),
            },
            if settings.pool.general_reduction { "general" } else { "merge" },
            dir.path().display()
        );
        let bar = spinner(false);
        let clock = self.stop.start();
        let (mut log, mut save) = (Every::new(LOG_EVERY), Every::new(CHECKPOINT_EVERY));
        let (mut sync, mut beat) = (Every::new(SYNC_EVERY), Every::new(HEARTBEAT_EVERY));
        let where_ = self.exchange.describe();
        let (mut logged_flips, flips_at_start) = (search.state.flips, search.state.flips);
        let elapsed = |clock: &Clock| before_s + clock.seconds();
        let mut reached = (before_s, search.state.flips);
        let stopped_by = loop {
            if let Some(why) = clock.check(Some(search.best_rank()), 0) {
                break why;
            }
            let halt = || clock.halted();
            let round = rounds(search, &halt)?;
            let mut lowest: Option<Checked> = None;
            for s in &round.best {
                let d = self.keeper.offer(s)?;
                lowest.get_or_insert(d);
            }
            if let Some(d) = lowest.filter(|_| round.improved) {
                self.exchange.publish(&d);
            }
            if let Some(s) = round.best.first().filter(|_| round.improved) {
                reached = (elapsed(&clock), search.state.flips);
                say(
                    &bar,
                    format!(
                        "[{:>7.1}s] rank {} (verified), {} flips",
                        elapsed(&clock),
                        s.rank(),
                        search.state.flips
                    ),
                );
            }
            let mut adopted_now = false;
            if sync.due() {
                let adopted = adopt_from_cluster(self.exchange.as_mut(), search, &mut self.keeper)?;
                if let Some(rank) = adopted {
                    reached = (elapsed(&clock), search.state.flips);
                    say(
                        &bar,
                        format!(
                            "[{:>7.1}s] rank {rank} from the cluster (verified)",
                            elapsed(&clock)
                        ),
                    );
                    adopted_now = true;
                }
            }
            for line in self.exchange.news() {
                say(&bar, format!("[{:>7.1}s] {line}", elapsed(&clock)));
            }
            let rate = (search.state.flips - flips_at_start) as f64 / clock.seconds().max(1e-9);
            if beat.due() {
                self.exchange.heartbeat(&Heartbeat {
                    role: "flip".into(),
                    shape: shape.to_string(),
                    field: F::FIELD,
                    best: search.best_rank(),
                    flips_per_s: rate,
                    games_per_s: 0.0,
                    learner_step: 0,
                    host: host_name(),
                    pid: std::process::id(),
                });
            }
            let mut fields = vec![
                format!("best {}", search.best_rank()),
                format!("{:.2} M flips/s", rate / 1e6),
                format!(
                    "rank {} (pool {})",
                    search.state.rank,
                    search.state.pool.len()
                ),
                format!("{} walks", search.state.walks),
            ];
            fields.extend(where_.clone());
            bar.set_message(fit_message(&fields));
            bar.tick();
            let since = log.elapsed();
            if log.due() {
                let line = metrics_line(search, elapsed(&clock), logged_flips, since);
                self.keeper.dir.log(&line)?;
                logged_flips = search.state.flips;
            }
            // At each improvement too: a SIGKILL then loses at most the walks
            // since.
            if save.due() || round.improved || adopted_now {
                save.restart();
                checkpoint(&self.keeper.dir, &settings, search, elapsed(&clock))?;
            }
        };
        bar.finish_and_clear();
        let seconds = clock.seconds();
        let line = metrics_line(search, before_s + seconds, logged_flips, log.elapsed());
        self.keeper.dir.log(&line)?;
        checkpoint(&self.keeper.dir, &settings, search, before_s + seconds)?;
        let flips = search.state.flips - flips_at_start;
        // The summary's rank is the one just verified and written.
        let best_rank = self
            .keeper
            .best_written
            .ok_or_else(|| anyhow!("internal error: no best.json written"))?;
        Ok(FlipReport {
            best_rank,
            best_file: self.keeper.dir.file(BEST_FILE),
            flips,
            seconds,
            flips_per_s: flips as f64 / seconds.max(1e-9),
            threads,
            device,
            stopped_by,
            reached_s: reached.0,
            reached_flips: reached.1,
        })
    }
}

impl Prepared<u64> {
    fn on_gpu(mut self, mut gpu: Box<GpuBackend>, walks: usize) -> Result<FlipReport> {
        if !self.resume {
            // A fresh GPU run walks many at a time; a resumed one keeps its own.
            self.settings.pool.walks_per_round = walks;
            self.search.settings.walks_per_round = walks;
        }
        let device = gpu.adapter_name().to_string();
        let mut rounds: Option<GpuRounds> = None;
        self.walk(None, device, &mut |search, halt| {
            if rounds.is_none() {
                let rank = search.state.rank;
                rounds = Some(GpuRounds::new(&mut gpu, &search.settings, rank)?);
            }
            let rounds = rounds.as_mut().expect("made above");
            Ok(rounds.round(&mut gpu, search, halt))
        })
    }
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
    let files = crate::run::dir::found_with_prefix(out, &format!("rank-{rank}-"))?;
    std::fs::create_dir_all(out.join("lifted"))
        .with_context(|| format!("cannot create {}", out.join("lifted").display()))?;
    let mut outcomes = vec![];
    for file in files {
        let ds = json::read_file(&file)?;
        let d = ds
            .first()
            .ok_or_else(|| anyhow!("{} holds no decomposition", file.display()))?;
        // A file under found/ may have changed since it was written.
        if verify(d, Field::Z2).is_err() {
            outcomes.push(LiftOutcome {
                scheme: file.clone(),
                result: Err("it does not verify over Z2".into()),
            });
            continue;
        }
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

/// A line of `metrics.jsonl`: the rate is over the flips since
/// `flips_before`, made in `over`.
fn metrics_line<F: Factor>(
    search: &PoolSearch<F>,
    elapsed_s: f64,
    flips_before: u64,
    over: Duration,
) -> FlipMetrics {
    FlipMetrics {
        elapsed_s,
        pool_rank: search.state.rank,
        best_rank: search.best_rank(),
        flips: search.state.flips,
        flips_per_s: (search.state.flips - flips_before) as f64 / over.as_secs_f64().max(1e-9),
        walks: search.state.walks,
        pool: search.state.pool.len(),
    }
}
