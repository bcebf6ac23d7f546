//! The search run (`tensorsearch search`): actors (batched self-play) and
//! the learner on one device, sharing the network's weights, so actors
//! always play with the newest ones; on the CPU, one actor per core, each
//! with a copy of the weights one round old ([`super::actor_pool`]). Every verified improvement is written
//! at once (`best.json`, and a copy under `found/`); checkpoints (weights,
//! optimiser, best games, counters) every minute, at the end and at Ctrl-C;
//! `--resume` continues from them. In a cluster (`role`), a process is
//! only an actor (games out, weights in) or only the learner (games in,
//! weights out).

use super::actor_pool::{actor_seed as actor_seed_of, compute_serially, split, ActorPool};
use super::expert::FlipWorker;
use super::greedy::GreedyPlayer;
use super::role::{Part, Role};
use super::selfplay::{LeafUpdates, SelfPlay, SelfPlayConfig, SelfPlayCounters};
use super::MctsConfig;
use crate::engine::Backend;
use crate::game::{ActionEncoding, GameConfig};
use crate::model::memory::{self, MemoryEstimate};
use crate::model::{ModelConfig, Network, StepStats};
use crate::problem::{reference, Decomposition, Field, Shape};
use crate::run::dir::Checked;
use crate::run::display::{fit_message, say, spinner};
use crate::run::{Every, Identity, Kind, NonFinite, RunDir, Stop, Stopped};
use crate::train::{mixed_batch, BestGame, Demos, Mix, Replay, StandardShare};
use anyhow::{anyhow, bail, Context, Result};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Everything that defines a run; saved with its checkpoints, so that
/// `--resume` continues with the same settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchSettings {
    pub shape: [usize; 3],
    /// Z or Z2.
    pub field: Field,
    pub preset: String,
    pub model: ModelConfig,
    pub seed: u64,
    /// Games in flight (G).
    pub games: usize,
    /// Actions sampled per node (K).
    pub samples: usize,
    /// Simulations per move.
    pub simulations: usize,
    pub leaves_per_game: usize,
    /// The step limit R_limit.
    pub max_steps: usize,
    pub history: usize,
    pub standard_basis_fraction: f64,
    /// Propose each sampled action also with its w completed from the
    /// residual (a search heuristic beside the network; off is pure
    /// AlphaTensor).
    #[serde(default)]
    pub complete_w: bool,
    /// Moves drawn from the improved policy at the start of each game;
    /// the most visited action after.
    #[serde(default)]
    pub sampled_moves: usize,
    /// Fraction ε of each new root's priors replaced by Dirichlet noise
    /// (0: none; runs from before it read 0).
    #[serde(default)]
    pub root_noise: f64,
    /// The Dirichlet's α.
    #[serde(default)]
    pub root_noise_alpha: f64,
    /// The charge at the step limit (runs from before it read the upper
    /// bound).
    #[serde(default)]
    pub penalty: super::rank_bound::Penalty,
    /// Softmax temperature of the candidates' draws (runs from before it
    /// drew at 1).
    #[serde(default = "one")]
    pub sample_temperature: f32,
    /// Exploration candidates per expanded node: random sparse (u, v)
    /// with w completed from the residual (0: none).
    #[serde(default)]
    pub explore: usize,
    /// Images of each solved self-play game under random symmetries of T,
    /// taught as best games (0: none; runs from before them read 0).
    #[serde(default)]
    pub symmetry_views: usize,
    /// Images of each new root's candidates under random symmetries of T,
    /// scored by value, the best joining the root (0: none; runs from
    /// before them read 0).
    #[serde(default)]
    pub explore_symmetric: usize,
    /// Fraction of the synthetic demonstrations made of terms of the
    /// standard algorithm's orbit under T's symmetries (runs from before
    /// it read 0).
    #[serde(default)]
    pub orbit_demos: f64,
    /// Share of best-game positions played back in the game's own order
    /// instead of a random one ([`Replay::best_in_order`]; runs from
    /// before it read 0).
    #[serde(default)]
    pub best_in_order: f64,
    /// Share of new games started from a promising prefix of an earlier
    /// one ([`super::archive`]; runs from before it read 0).
    #[serde(default)]
    pub restarts: f64,
    /// Learner batch size.
    pub batch: usize,
    pub lr: f32,
    /// AdamW weight decay on linear weights (runs from before it read 0).
    #[serde(default)]
    pub weight_decay: f32,
    pub mix: Mix,
    /// Actor moves per learner step.
    pub moves_per_step: usize,
    /// Nonzero: flip walks run beside the actors ([`super::expert`]); 0 is
    /// pure AlphaTensor. (The name and the number are those of the runs
    /// that polished each found scheme with that many flips.)
    #[serde(default)]
    pub polish_flips: usize,
    /// Threads of the flip walks (runs from before them read 1).
    #[serde(default = "one_thread")]
    pub flip_threads: usize,
    /// Actors, each on its own thread with its share of the games, where
    /// the backend computes on the CPU ([`super::actor_pool`]; runs from
    /// before them read 1).
    #[serde(default = "one_thread")]
    pub actor_threads: usize,
    /// Learner steps before the actors start, on demonstrations and best
    /// games (see `warmup_mix`): a policy that cannot yet read a rank-one
    /// term off a residual plays games that teach nothing.
    #[serde(default)]
    pub warmup_steps: u32,
    /// Played games kept for training.
    pub replay_games: usize,
    /// Best games kept for training.
    pub best_games: usize,
    pub init: Option<PathBuf>,
}

fn one() -> f32 {
    1.0
}

fn one_thread() -> usize {
    1
}

impl SearchSettings {
    pub fn shape(&self) -> Result<Shape> {
        let [n, m, p] = self.shape;
        Shape::new(n, m, p).map_err(|e| anyhow!(e))
    }
    pub fn field(&self) -> Result<Field> {
        match self.field {
            Field::Z | Field::Z2 => Ok(self.field),
            other => bail!("the search plays over Z or Z2, not {other}"),
        }
    }

    /// The game these settings play.
    pub fn game(&self) -> Result<GameConfig> {
        Ok(GameConfig::new(
            self.shape()?,
            self.field()?,
            self.history,
            self.max_steps,
        ))
    }
    /// The actors' configuration; `leaf_updates` is the device's, not the run's.
    fn selfplay(&self, leaf_updates: LeafUpdates) -> SelfPlayConfig {
        SelfPlayConfig {
            games: self.games,
            samples: self.samples,
            simulations: self.simulations,
            leaves_per_game: self.leaves_per_game,
            standard_basis_fraction: self.standard_basis_fraction,
            complete_w: self.complete_w,
            sampled_moves: self.sampled_moves,
            sample_temperature: self.sample_temperature,
            explore: self.explore,
            explore_symmetric: self.explore_symmetric,
            restarts: self.restarts,
            leaf_updates,
            root_noise: super::selfplay::RootNoise {
                alpha: self.root_noise_alpha,
                fraction: self.root_noise,
            },
            mcts: MctsConfig {
                penalty: self.penalty,
                ..MctsConfig::default()
            },
        }
    }
}

/// Counters and the best games: what a checkpoint keeps besides the network.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SearchState {
    pub settings: Option<SearchSettings>,
    pub elapsed_s: f64,
    pub games: u64,
    pub moves: u64,
    pub simulations: u64,
    pub evaluations: u64,
    pub best_rank: Option<usize>,
    /// The lowest rank self-play's own games reached (without flips);
    /// `self-play-best.json` holds one such game's scheme.
    #[serde(default)]
    pub self_play_best_rank: Option<usize>,
    pub skipped_steps: u64,
    pub best_games: Vec<BestGame>,
    /// The learner step at which the warm-up ended before `--warmup-steps`,
    /// because the network played the best rank from T greedily.
    #[serde(default)]
    pub warmup_ended_at: Option<u32>,
}

pub const STATE_FILE: &str = "search.json";
pub use crate::run::dir::{BEST_FILE, METRICS_FILE};
pub const PLOT_FILE: &str = "progress.svg";
/// The best scheme self-play's own games reached (the network and MCTS
/// alone), beside `best.json`, which also holds what flips reach.
pub const SELF_PLAY_BEST_FILE: &str = "self-play-best.json";

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchMetrics {
    pub elapsed_s: f64,
    pub games: u64,
    pub simulations: u64,
    pub learner_steps: u32,
    pub policy_loss: f32,
    pub value_loss: f32,
    pub best_rank: Option<usize>,
    /// The best rank of self-play's own games.
    #[serde(default)]
    pub self_play_best_rank: Option<usize>,
    pub games_per_s: f64,
    pub simulations_per_s: f64,
    /// Solved ranks of the recent games: (rank, count); unsolved separately.
    pub recent_ranks: Vec<(usize, usize)>,
    pub recent_unsolved: usize,
    /// Games of this session started from an archived prefix
    /// (`--restarts`; lines from before it read 0).
    #[serde(default)]
    pub restarts: u64,
}

/// What the run ends with.
#[derive(Clone, Debug, Serialize)]
pub struct SearchReport {
    pub device: String,
    pub seconds: f64,
    pub games: u64,
    pub simulations: u64,
    pub learner_steps: u32,
    pub best_rank: Option<usize>,
    pub best_file: Option<PathBuf>,
    pub self_play_best_rank: Option<usize>,
    pub time_to_self_play_best_s: Option<f64>,
    pub standard_rank: usize,
    pub best_published: Option<usize>,
    pub time_to_best_s: Option<f64>,
    pub stopped_by: Stopped,
}

/// Seconds between checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);
/// Seconds between metrics lines.
const LOG_EVERY: Duration = Duration::from_secs(5);
/// Seconds between updates of the progress line.
const MESSAGE_EVERY: Duration = Duration::from_secs(1);
/// Finished games the rank distribution covers.
const RECENT: usize = 200;
/// Games a learner takes from the cluster per turn, at most.
const INTAKE: usize = 256;
/// A pause while a cluster worker has nothing to do.
const IDLE_WAIT: Duration = Duration::from_millis(20);
/// Learner steps between the warm-up's checks whether the network plays
/// the best rank by itself (a greedy game: one evaluation per move).
const WARMUP_CHECK_EVERY: u32 = 50;

/// Reads a run's settings and state from its directory.
pub fn read_state(dir: &Path) -> Result<SearchState> {
    crate::run::dir::expect_kind(dir, Kind::Search)?;
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{} holds no search checkpoint", dir.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
}

struct Recent {
    ranks: VecDeque<Option<usize>>,
}

impl Recent {
    fn push(&mut self, r: Option<usize>) {
        if self.ranks.len() == RECENT {
            self.ranks.pop_front();
        }
        self.ranks.push_back(r);
    }
    fn histogram(&self) -> (Vec<(usize, usize)>, usize) {
        let mut h: Vec<(usize, usize)> = Vec::new();
        let mut unsolved = 0;
        for r in &self.ranks {
            match r {
                Some(r) => match h.iter_mut().find(|(x, _)| x == r) {
                    Some(e) => e.1 += 1,
                    None => h.push((*r, 1)),
                },
                None => unsolved += 1,
            }
        }
        h.sort();
        (h, unsolved)
    }
}

/// The memory of the run's buffers: the learner, and the evaluators of
/// `actors` actors (with a copy of the network each when more than one).
pub fn memory_estimate(settings: &SearchSettings, actors: usize) -> Result<MemoryEstimate> {
    let (shape, field) = (settings.shape()?, settings.field()?);
    let game = settings.game()?;
    let encoding = ActionEncoding::default_for(shape, field);
    let shares = split(&settings.selfplay(LeafUpdates::Host), actors);
    let actors: Vec<_> = shares
        .iter()
        .map(|c| (c.games * c.leaves_per_game, c.samples))
        .collect();
    let mut total = memory::estimate(&settings.model, &game, &encoding, settings.batch, &actors)?;
    // Actors on threads hold a copy of the network each.
    if shares.len() > 1 {
        let copy = memory::estimate(&settings.model, &game, &encoding, 1, &[])?;
        total.buffers += shares.len() as u64 * copy.buffers;
    }
    Ok(total)
}

/// A run directory from before `run.json`: its identity is its settings'.
fn legacy_identity(dir: &Path) -> Result<Identity> {
    let s = read_state(dir)?
        .settings
        .ok_or_else(|| anyhow!("{}: the checkpoint has no settings", dir.display()))?;
    Ok(Identity::new(Kind::Search, s.shape()?, s.field()?))
}

/// Where a search runs, opened and checked before any device is touched.
pub enum SearchDir {
    /// A directory that holds no run; it is made once the network stands,
    /// so a bad `--init` leaves nothing behind.
    Fresh(PathBuf),
    /// A run to continue, with its state verified.
    Resumed(RunDir, Box<SearchState>),
}

/// Checks that `out` can take this run (fresh), or opens the run it holds
/// and verifies its state (resume).
pub fn open_dir(settings: &SearchSettings, out: &Path, resume: bool) -> Result<SearchDir> {
    if !resume {
        crate::run::dir::check_fresh(out, Kind::Search)?;
        return Ok(SearchDir::Fresh(out.to_path_buf()));
    }
    // Shape and field are checked before the directory is read.
    let (_, field) = (settings.shape()?, settings.field()?);
    let dir = RunDir::resume(out, Kind::Search, legacy_identity)?;
    dir.check_state(STATE_FILE, settings.shape, field)?;
    let game = settings.game()?;
    let state = verified_state(&dir, &game)?;
    Ok(SearchDir::Resumed(dir, Box::new(state)))
}

/// The counters and best games of a resumed run, each checked against
/// what was verified: `best.json` against the run's tensor, the state's
/// best rank against it, every best game replayed exactly.
fn verified_state(dir: &RunDir, game: &GameConfig) -> Result<SearchState> {
    let state = read_state(dir.path())?;
    let file = dir.file(STATE_FILE);
    for (key, claimed, scheme) in [
        ("best rank", state.best_rank, BEST_FILE),
        (
            "self-play best rank",
            state.self_play_best_rank,
            SELF_PLAY_BEST_FILE,
        ),
    ] {
        let held = dir.scheme(scheme)?.map(|d| d.rank());
        if claimed != held {
            let said = claimed.map_or_else(|| "none".to_string(), |r| r.to_string());
            let held = held.map_or_else(
                || format!("there is no {scheme}"),
                |r| format!("the verified {scheme} holds rank {r}"),
            );
            bail!(
                "{} says {key} {said}, but {held}: refusing to resume",
                file.display()
            );
        }
    }
    for (i, g) in state.best_games.iter().enumerate() {
        g.check(game)
            .map_err(|e| anyhow!("{}: best game {i}: {e}: refusing to resume", file.display()))?;
    }
    if !(state.elapsed_s.is_finite() && state.elapsed_s >= 0.0) {
        bail!("{}: elapsed_s is not a time", file.display());
    }
    Ok(state)
}

/// Runs the search in `dir` (a fresh run, or the checkpointed one there).
/// `quiet` hides the progress bar.
pub fn search<B: Backend + 'static>(
    b: &mut B,
    settings: &SearchSettings,
    dir: SearchDir,
    stop: Stop,
    quiet: bool,
    role: Role,
) -> Result<SearchReport> {
    let shape = settings.shape()?;
    let field = settings.field()?;
    let game = settings.game()?;
    // More actors where each thread is a core, for a run alone (a cluster
    // spreads its actors over processes).
    let cpu_alone = matches!((&role, b.sibling()), (Role::Alone, Some(_)));
    let threads = if cpu_alone { settings.actor_threads } else { 1 };
    // A run that does not fit is refused before its directory is touched.
    let memory = memory::guard(
        &memory_estimate(settings, threads)?,
        b.host_memory(),
        "--batch, --games or --samples",
    )?;
    let encoding = ActionEncoding::default_for(shape, field);
    let mut net = Network::new(
        b,
        settings.model.clone(),
        game.clone(),
        encoding.clone(),
        settings.batch,
        settings.seed,
    )?;
    net.optimiser.weight_decay = settings.weight_decay;
    let resume = matches!(dir, SearchDir::Resumed(..));
    let (dir, mut state) = match dir {
        SearchDir::Resumed(dir, state) => {
            net.load_checkpoint(b, dir.path())?;
            (dir, *state)
        }
        SearchDir::Fresh(out) => {
            if let Some(init) = &settings.init {
                net.init_from(b, init)?;
            }
            let dir = RunDir::create(&out, Identity::new(Kind::Search, shape, field))?;
            (dir, SearchState::default())
        }
    };
    state.settings = Some(settings.clone());
    let mut replay = Replay::new(settings.replay_games, settings.best_games);
    replay.best_in_order = settings.best_in_order;
    for g in std::mem::take(&mut state.best_games) {
        replay.offer_best(g);
    }
    // A resumed run draws new games: the actors' seed moves on with the
    // games played.
    let actor_seed = settings.seed ^ state.games.wrapping_mul(0xD1B5_4A32_D192_ED03);
    let shares = split(&settings.selfplay(LeafUpdates::for_backend(b)), threads);
    if cpu_alone {
        // On the CPU, a run uses its cores with more actors and flip
        // walks, each thread computing alone: a lone actor splitting its
        // small operations over the cores only takes them from the walks.
        compute_serially();
    }
    let mut actors = match b.sibling() {
        Some(make) if shares.len() > 1 => {
            let seeded = (0..)
                .zip(shares)
                .map(|(i, c)| (c, actor_seed_of(actor_seed, i)));
            Actors::Pool(ActorPool::start(make, &net, seeded.collect())?)
        }
        _ => {
            let cfg = shares.into_iter().next().expect("one share at least");
            Actors::Here(Box::new(SelfPlay::new(b, &net, cfg, actor_seed)?))
        }
    };
    let on_threads = match &actors {
        Actors::Pool(p) => format!(", {} actor threads", p.len()),
        Actors::Here(_) => String::new(),
    };
    eprintln!(
        "search {shape} over {field} on {}: preset {}, {} games x {} samples, {} simulations per move, step limit {}{on_threads}, output in {}",
        b.describe(),
        settings.preset,
        settings.games,
        settings.samples,
        settings.simulations,
        settings.max_steps,
        dir.path().display()
    );
    eprintln!("{memory}");
    let series = if resume {
        dir.read_metrics()
    } else {
        Vec::new()
    };
    let mut run = SearchLoop::new(settings, dir, state, replay, series, stop, quiet, net.step);
    run.flips = flip_worker(settings, &run.dir)?;
    if run.flips.is_some() {
        // The walks' schemes are taught in T's basis and in three changed
        // ones; the actors mostly play T, so its view gets their share.
        run.replay.standard_share = Some(StandardShare {
            target: shape.dense_tensor(),
            share: settings.standard_basis_fraction,
        });
    }
    run.part = Some(Part::new(role, net.step));
    if matches!(run.role(), Role::Actor(_)) {
        eprintln!("actor: waiting for the learner's weights");
    }
    let stopped_by = loop {
        if let Some(why) = run.turn(b, &mut net, &mut actors)? {
            break why;
        }
    };
    run.bar.finish_and_clear();
    let state = &run.state;
    Ok(SearchReport {
        device: b.describe(),
        seconds: run.total_elapsed(),
        games: state.games,
        simulations: state.simulations,
        learner_steps: net.step,
        best_rank: state.best_rank,
        best_file: state.best_rank.map(|_| run.dir.file(BEST_FILE)),
        standard_rank: shape.standard_rank(),
        best_published: reference::best_ranks(shape).and_then(|r| r.get(field)),
        time_to_best_s: run.time_to_best,
        self_play_best_rank: state.self_play_best_rank,
        time_to_self_play_best_s: run.time_to_self_play_best,
        stopped_by,
    })
}

/// The flip walks beside the actors, unless the run is pure AlphaTensor.
/// They stop at the best published rank; a resumed run's best scheme
/// joins their pool.
fn flip_worker(settings: &SearchSettings, dir: &RunDir) -> Result<Option<FlipWorker>> {
    if settings.polish_flips == 0 || settings.flip_threads == 0 {
        return Ok(None);
    }
    let (shape, field) = (settings.shape()?, settings.field()?);
    let stop_at = reference::best_ranks(shape).and_then(|r| r.get(field));
    // A shape the flip engine cannot hold is searched without flips.
    let worker =
        match FlipWorker::start(shape, field, settings.flip_threads, stop_at, settings.seed) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("note: no flip walks beside the actors: {e}");
                return Ok(None);
            }
        };
    if let Some(best) = dir.best()? {
        worker.offer(&best);
    }
    Ok(Some(worker))
}

/// The bookkeeping of a search run between its rounds: what it keeps, when
/// it saves, logs and polishes, and what it has seen.
struct SearchLoop<'s> {
    settings: &'s SearchSettings,
    game: GameConfig,
    encoding: ActionEncoding,
    dir: RunDir,
    /// Counters and best rank; the best rank is only ever one verified in
    /// this session (best.json read back, or found here).
    state: SearchState,
    replay: Replay,
    /// The counters of earlier sessions.
    base: SelfPlayCounters,
    series: Vec<SearchMetrics>,
    clock: crate::run::Clock,
    bar: indicatif::ProgressBar,
    save: Every,
    log: Every,
    last_message: Option<Instant>,
    /// The flip walks beside the actors (none: pure AlphaTensor).
    flips: Option<FlipWorker>,
    /// Flip schemes taught so far (seeds their changes of basis).
    taught: u64,
    /// Self-play games seen through symmetries so far (seeds the views).
    viewed: u64,
    last_stats: StepStats,
    recent: Recent,
    moves_pending: u64,
    moves_seen: u64,
    nonfinite: NonFinite,
    time_to_best: Option<f64>,
    time_to_self_play_best: Option<f64>,
    /// Learner steps at the start of this session.
    steps_before: u32,
    /// Start of the rate window: time, games, simulations.
    window: (Instant, u64, u64),
    /// The part this process plays in a cluster (set once the loop runs).
    part: Option<Part>,
    /// Games and moves a learner took from the cluster's actors.
    received: SelfPlayCounters,
    /// The learner step of the next check whether the warm-up can end.
    next_warmup_check: u32,
}

impl<'s> SearchLoop<'s> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        settings: &'s SearchSettings,
        dir: RunDir,
        state: SearchState,
        replay: Replay,
        series: Vec<SearchMetrics>,
        stop: Stop,
        quiet: bool,
        steps_before: u32,
    ) -> Self {
        let shape = dir.shape();
        let field = dir.identity().field;
        let base = SelfPlayCounters {
            simulations: state.simulations,
            evaluations: state.evaluations,
            moves: state.moves,
            games: state.games,
            rejected: 0,
            restarts: 0,
        };
        SearchLoop {
            settings,
            game: GameConfig::new(shape, field, settings.history, settings.max_steps),
            encoding: ActionEncoding::default_for(shape, field),
            dir,
            state,
            replay,
            base,
            series,
            clock: stop.start(),
            bar: spinner(quiet),
            save: Every::new(CHECKPOINT_EVERY),
            log: Every::new(LOG_EVERY),
            last_message: None,
            flips: None,
            taught: 0,
            viewed: 0,
            last_stats: StepStats::default(),
            recent: Recent {
                ranks: VecDeque::new(),
            },
            moves_pending: 0,
            moves_seen: 0,
            nonfinite: NonFinite::default(),
            time_to_best: None,
            time_to_self_play_best: None,
            steps_before,
            window: (Instant::now(), 0, 0),
            part: None,
            received: SelfPlayCounters::default(),
            next_warmup_check: 0,
        }
    }

    fn role(&self) -> &Role {
        self.part.as_ref().map_or(&Role::Alone, |p| &p.role)
    }

    /// This session's games and moves: the actors' here, or those a
    /// learner took from the cluster.
    fn counters<B: Backend>(&self, actors: &Actors<B>) -> SelfPlayCounters {
        match self.role() {
            Role::Learner(..) => self.received,
            _ => actors.counters(),
        }
    }

    fn total_elapsed(&self) -> f64 {
        self.state.elapsed_s + self.clock.seconds()
    }

    fn session_steps<B: Backend>(&self, net: &Network<B>) -> u64 {
        (net.step - self.steps_before) as u64
    }

    /// One turn: checkpoint when due (and at the end), one actor round,
    /// the learner steps it pays for, and the progress line. `Some` when
    /// the run stops.
    fn turn<B: Backend>(
        &mut self,
        b: &mut B,
        net: &mut Network<B>,
        actors: &mut Actors<B>,
    ) -> Result<Option<Stopped>> {
        let stopping = self
            .clock
            .check(self.state.best_rank, self.session_steps(net));
        if stopping.is_some() {
            // The run's last figures, however short it was, then the
            // checkpoint that plots them.
            let warming_up = self.warming_up(net);
            self.report(net, self.counters(actors), warming_up, true)?;
        }
        // Every minute, and once more at the end (Ctrl-C included).
        if stopping.is_some() || self.save.due() {
            self.checkpoint(b, net, actors)?;
            self.save.restart();
        }
        if stopping.is_some() {
            return Ok(stopping);
        }
        let games = self.base.games + self.counters(actors).games;
        self.absorb_flips(games, net.step)?;
        let (actor, learner) = match self.role() {
            Role::Alone => (true, true),
            Role::Actor(_) => (true, false),
            Role::Learner(..) => (false, true),
        };
        // An actor plays once it has the learner's weights; it never warms up.
        let warming_up = learner && self.warming_up(net);
        let mut idle = false;
        let mut learned = false;
        if !learner {
            if let Some(line) = self.part.as_mut().and_then(|p| p.take_weights(b, net)) {
                say(
                    &self.bar,
                    format!("[{:>7.1}s] {line}", self.total_elapsed()),
                );
            }
            idle = self.part.as_ref().is_some_and(|p| p.weights_step == 0);
        }
        if warming_up {
            self.moves_pending += self.settings.moves_per_step as u64;
        } else if actor && !idle {
            let finished = match actors {
                Actors::Here(a) => a.round(b)?,
                Actors::Pool(pool) => {
                    // The pool plays a round with the newest weights while
                    // this thread takes the learner steps that earlier
                    // rounds paid for: the cores stay busy, and the run
                    // stays a function of its seed.
                    pool.order(b, net)?;
                    if learner {
                        self.learn(b, net, warming_up)?;
                        learned = true;
                    }
                    pool.collect()?
                }
            };
            if let Some(Role::Actor(x)) = self.part.as_mut().map(|p| &mut p.role) {
                x.push_games(&finished);
            }
            let games = self.base.games + self.counters(actors).games;
            for f in finished {
                self.absorb(f, games, net.step)?;
            }
        } else if !actor {
            idle = self.take_games(net.step)? == 0;
        }
        if self.counters(actors).rejected > 0 {
            bail!("a solved game did not verify after mapping back to the standard basis (a bug): stopping");
        }
        let moves = self.counters(actors).moves;
        self.moves_pending += moves - self.moves_seen;
        self.moves_seen = moves;
        if learner && !learned {
            self.learn(b, net, warming_up)?;
        }
        if warming_up {
            self.end_warmup_when_learned(b, net)?;
        }
        self.share(b, net, actors)?;
        if self
            .last_message
            .is_none_or(|t| t.elapsed() >= MESSAGE_EVERY)
        {
            self.report(net, self.counters(actors), warming_up, false)?;
        }
        self.bar.tick();
        if idle && self.moves_pending < self.settings.moves_per_step as u64 {
            // Nothing to play or learn yet: wait for the cluster.
            std::thread::sleep(IDLE_WAIT);
        }
        Ok(None)
    }

    /// A learner's intake: the games the cluster's actors sent, each
    /// checked, absorbed as if played here. Returns how many.
    fn take_games(&mut self, step: u32) -> Result<usize> {
        let Some(Role::Learner(x, _)) = self.part.as_mut().map(|p| &mut p.role) else {
            return Ok(0);
        };
        let games = x.pull_games(&self.game, INTAKE);
        let n = games.len();
        for f in games {
            self.received.games += 1;
            self.received.moves += f.actions.len() as u64;
            let total = self.base.games + self.received.games;
            self.absorb(f, total, step)?;
        }
        Ok(n)
    }

    /// The learner's weights out when due; the heartbeat; and what the
    /// exchange has to say.
    fn share<B: Backend>(&mut self, b: &mut B, net: &Network<B>, actors: &Actors<B>) -> Result<()> {
        let counters = self.counters(actors);
        let elapsed = self.clock.seconds().max(1e-9);
        let (shape, field, best) = (self.game.shape, self.game.field, self.state.best_rank);
        let seed = self.settings.seed;
        let Some(part) = self.part.as_mut() else {
            return Ok(());
        };
        part.send_weights(b, net, seed)?;
        let step = match part.role {
            Role::Actor(_) => part.weights_step,
            _ => net.step as u64,
        };
        part.heartbeat(
            shape.to_string(),
            field,
            best,
            counters.games as f64 / elapsed,
            step,
        );
        for line in part.news() {
            say(
                &self.bar,
                format!("[{:>7.1}s] {line}", self.total_elapsed()),
            );
        }
        Ok(())
    }

    /// A finished game: its rank into the recent distribution, its
    /// decomposition written when it is a new best (overall or self-play's
    /// own) and offered to the flip walks, the game into the replay buffer.
    fn absorb(&mut self, f: crate::game::FinishedGame, games: u64, step: u32) -> Result<()> {
        self.recent.push(f.found.as_ref().map(|d| d.rank()));
        if let Some(d) = &f.found {
            let lower = |best: Option<usize>| best.is_none_or(|r| d.rank() < r);
            // Verified once, and only when it is to be written.
            if lower(self.state.self_play_best_rank) || lower(self.state.best_rank) {
                let d = self
                    .dir
                    .check(d.clone())
                    .context("internal error: a self-play scheme does not verify")?;
                self.self_play_improvement(&d, games, step)?;
                self.improvement(&d, Source::SelfPlay, games, step)?;
            }
            if let Some(w) = &self.flips {
                w.offer(d);
            }
            if self.settings.symmetry_views > 0 {
                self.viewed += 1;
                let seed = self.settings.seed ^ self.viewed.wrapping_mul(0xA24B_AED4_963E_E407);
                for g in symmetry_views(d, &self.game, self.settings.symmetry_views, seed) {
                    self.replay.offer_best(g);
                }
            }
        }
        self.replay.add(f);
        Ok(())
    }

    /// The schemes the flip walks sent since the last turn: each verified,
    /// taught to the network as best games (in the standard basis and in
    /// changed ones) when it is at the best rank, and written when lower.
    fn absorb_flips(&mut self, games: u64, step: u32) -> Result<()> {
        let sent = self.flips.as_ref().map(|w| w.drain()).unwrap_or_default();
        for d in sent {
            let d = self
                .dir
                .check(d)
                .context("internal error: the flip walks sent a scheme that does not verify")?;
            if self.state.best_rank.is_none_or(|r| d.rank() <= r) {
                self.taught += 1;
                let seed = self.settings.seed ^ self.taught.wrapping_mul(0x8EBC_6AF0_9C88_C6E3);
                for g in best_games_of(&d, &self.game, seed) {
                    self.replay.offer_best(g);
                }
            }
            self.improvement(&d, Source::Flips, games, step)?;
        }
        Ok(())
    }

    /// Writes `d` as the new best (and under `found/`) when its rank is
    /// lower than the best's.
    fn improvement(&mut self, d: &Checked, source: Source, games: u64, step: u32) -> Result<()> {
        if self.state.best_rank.is_some_and(|r| d.rank() >= r) {
            return Ok(());
        }
        let tag = source.tag();
        self.dir
            .keep(d, &format!("rank-{}-{tag}-game-{games}.json", d.rank()))?;
        self.dir.write_best(d)?;
        self.state.best_rank = Some(d.rank());
        self.time_to_best = Some(self.total_elapsed());
        if let Some(part) = self.part.as_mut() {
            part.publish(d);
        }
        say(
            &self.bar,
            format!(
                "[{:>7.1}s] rank {} found by {tag} after {games} games, learner step {step}: {}",
                self.total_elapsed(),
                d.rank(),
                self.dir.file(BEST_FILE).display()
            ),
        );
        Ok(())
    }

    /// A self-play game's scheme that beats self-play's own best: written
    /// as `self-play-best.json`, whatever flips have reached.
    fn self_play_improvement(&mut self, d: &Checked, games: u64, step: u32) -> Result<()> {
        if self
            .state
            .self_play_best_rank
            .is_some_and(|r| d.rank() >= r)
        {
            return Ok(());
        }
        self.dir.write_scheme(SELF_PLAY_BEST_FILE, d)?;
        self.state.self_play_best_rank = Some(d.rank());
        self.time_to_self_play_best = Some(self.total_elapsed());
        // Said when flips are ahead; otherwise the overall best's line says it.
        if self.state.best_rank.is_some_and(|r| r <= d.rank()) {
            say(
                &self.bar,
                format!(
                    "[{:>7.1}s] self-play itself plays rank {} after {games} games, learner step {step}",
                    self.total_elapsed(),
                    d.rank()
                ),
            );
        }
        Ok(())
    }

    /// Whether the learner is still in its warm-up: before `--warmup-steps`
    /// and before the network has learned the best games.
    fn warming_up<B: Backend>(&self, net: &Network<B>) -> bool {
        net.step < self.settings.warmup_steps && self.state.warmup_ended_at.is_none()
    }

    /// Ends the warm-up once the network plays the best rank from T by
    /// itself (greedily, checked every [`WARMUP_CHECK_EVERY`] steps): then
    /// MCTS, which samples from the same policy, can play it too, and
    /// every further warm-up step is time the actors could have played.
    /// Beside the flips the warm-up already teaches their schemes; in pure
    /// AlphaTensor there is no best game yet and the warm-up runs its
    /// course.
    fn end_warmup_when_learned<B: Backend>(&mut self, b: &mut B, net: &Network<B>) -> Result<()> {
        let Some(best) = self.state.best_rank else {
            return Ok(());
        };
        if net.step < self.next_warmup_check {
            return Ok(());
        }
        self.next_warmup_check = net.step + WARMUP_CHECK_EVERY;
        let target = self.game.shape.dense_tensor();
        if !GreedyPlayer::new(b, net)?.solves_within(b, &target, best)? {
            return Ok(());
        }
        self.state.warmup_ended_at = Some(net.step);
        say(
            &self.bar,
            format!(
                "[{:>7.1}s] the network plays rank {best} from T by itself at learner step {}: the warm-up ends",
                self.total_elapsed(),
                net.step
            ),
        );
        Ok(())
    }

    /// The learner steps the actors' moves pay for (one per
    /// `--moves-per-step`), within `--steps`.
    fn learn<B: Backend>(
        &mut self,
        b: &mut B,
        net: &mut Network<B>,
        warming_up: bool,
    ) -> Result<()> {
        let per_step = self.settings.moves_per_step as u64;
        let steps_left = |run: &Self, net: &Network<B>| {
            run.clock
                .stop()
                .steps
                .is_none_or(|s| run.session_steps(net) < s)
        };
        while self.moves_pending >= per_step && steps_left(self, net) {
            self.moves_pending -= per_step;
            let s = self.settings;
            let mut rng = StdRng::seed_from_u64(
                s.seed ^ (net.step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let mix = if warming_up {
                warmup_mix(&s.mix)
            } else {
                s.mix
            };
            let (batch, _) = mixed_batch(
                &mut rng,
                &self.game,
                &self.encoding,
                &self.replay,
                &mix,
                s.batch,
                Demos {
                    max_rank: s.max_steps,
                    orbit: s.orbit_demos,
                },
            );
            let stats = net.train_step(b, &batch, s.lr)?;
            let step = net.step as u64 + 1;
            let bar = &self.bar;
            let finite = self.nonfinite.record(
                step,
                stats.policy_loss,
                stats.value_loss,
                self.dir.path(),
                |l| say(bar, l),
            )?;
            if finite {
                self.last_stats = stats;
            }
        }
        Ok(())
    }

    /// The progress line, and a metrics line every few seconds (or now,
    /// when `log_now`).
    fn report<B: Backend>(
        &mut self,
        net: &Network<B>,
        c: SelfPlayCounters,
        warming_up: bool,
        log_now: bool,
    ) -> Result<()> {
        let dt = self.window.0.elapsed().as_secs_f64().max(1e-9);
        let (hist, unsolved) = self.recent.histogram();
        let line = SearchMetrics {
            elapsed_s: self.total_elapsed(),
            games: self.base.games + c.games,
            simulations: self.base.simulations + c.simulations,
            learner_steps: net.step,
            policy_loss: self.last_stats.policy_loss,
            value_loss: self.last_stats.value_loss,
            best_rank: self.state.best_rank,
            self_play_best_rank: self.state.self_play_best_rank,
            games_per_s: (c.games - self.window.1) as f64 / dt,
            simulations_per_s: (c.simulations - self.window.2) as f64 / dt,
            recent_ranks: hist,
            recent_unsolved: unsolved,
            restarts: c.restarts,
        };
        self.bar.set_message(progress_message(&line, warming_up));
        self.last_message = Some(Instant::now());
        // Rates cover the time since the last metrics line.
        if self.log.due() || log_now {
            self.log.restart();
            self.dir.log(&line)?;
            self.series.push(line);
            self.window = (Instant::now(), c.games, c.simulations);
        }
        Ok(())
    }

    /// Weights, optimiser, counters and best games, then the plot.
    fn checkpoint<B: Backend>(
        &mut self,
        b: &mut B,
        net: &Network<B>,
        actors: &Actors<B>,
    ) -> Result<()> {
        let c = self.counters(actors);
        let elapsed = self.total_elapsed();
        let state = &mut self.state;
        state.games = self.base.games + c.games;
        state.moves = self.base.moves + c.moves;
        state.simulations = self.base.simulations + c.simulations;
        state.evaluations = self.base.evaluations + c.evaluations;
        state.skipped_steps += std::mem::take(&mut self.nonfinite.skipped);
        net.save(b, self.dir.path(), self.settings.seed)?;
        // The state file's elapsed time includes this session's.
        let saved = SearchState {
            elapsed_s: elapsed,
            best_games: self.replay.best.clone(),
            ..state.clone()
        };
        let text = serde_json::to_string(&saved)?;
        self.dir.write(STATE_FILE, format!("{text}\n").as_bytes())?;
        super::plot::write(
            &self.dir.file(PLOT_FILE),
            &plot_of(&self.series, self.settings),
        )
    }
}

/// Who plays: the run's own thread, or a pool of actor threads while the
/// run's thread learns.
enum Actors<B: Backend> {
    Here(Box<SelfPlay<B>>),
    Pool(ActorPool),
}

impl<B: Backend> Actors<B> {
    fn counters(&self) -> SelfPlayCounters {
        match self {
            Actors::Here(a) => a.counters,
            Actors::Pool(p) => p.counters(),
        }
    }
}

/// Who found a scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    SelfPlay,
    Flips,
}

impl Source {
    /// As it appears in messages and under `found/`.
    fn tag(self) -> &'static str {
        match self {
            Source::SelfPlay => "self-play",
            Source::Flips => "flips",
        }
    }
}

/// The learner's batches during the warm-up: no games are played yet, and
/// the warm-up's job is to learn the best games, so a run that trains on
/// best games (the flips hand them in within seconds) warms up on them
/// alone: it ends once the network plays them (`end_warmup_when_learned`),
/// and demonstrations beside them kept 4x4x4's network from learning its
/// 49-move game within 1,000 steps. Until a best game exists, and in pure
/// AlphaTensor, the share falls back to demonstrations.
fn warmup_mix(mix: &Mix) -> Mix {
    let best = if mix.best > 0.0 { 1.0 } else { 0.0 };
    Mix {
        demonstrations: 1.0 - best,
        played: 0.0,
        best,
    }
}

/// What `progress.svg` draws, from the metrics lines.
fn plot_of(series: &[SearchMetrics], settings: &SearchSettings) -> super::plot::Plot {
    super::plot::Plot {
        shape: settings.shape,
        field: settings.field.name().to_string(),
        points: series
            .iter()
            .map(|m| super::plot::Point {
                elapsed_s: m.elapsed_s,
                best_rank: m.best_rank,
                self_play_best_rank: m.self_play_best_rank,
                trained: m.learner_steps > 0,
                policy_loss: m.policy_loss,
                value_loss: m.value_loss,
            })
            .collect(),
    }
}

/// The progress line's fields, most important first, as many as fit.
fn progress_message(m: &SearchMetrics, warming_up: bool) -> String {
    let best = m
        .best_rank
        .map_or_else(|| "-".to_string(), |r| r.to_string());
    let ranks: Vec<String> = m
        .recent_ranks
        .iter()
        .map(|(r, n)| format!("{r}:{n}"))
        .collect();
    let own = m
        .self_play_best_rank
        .map_or_else(|| "-".to_string(), |r| r.to_string());
    let mut fields = vec![format!("best rank {best} (self-play {own})")];
    if warming_up {
        fields.push("warm-up".into());
    }
    fields.extend([
        format!("{:.1} games/s", m.games_per_s),
        format!("policy {:.3} value {:.3}", m.policy_loss, m.value_loss),
        format!("recent {} unsolved:{}", ranks.join(" "), m.recent_unsolved),
        format!("{} learner steps", m.learner_steps),
        format!("{:.0} sims/s", m.simulations_per_s),
        format!("{} games", m.games),
    ]);
    fit_message(&fields)
}

/// A solved game's decomposition seen through `views` random symmetries of
/// T ([`crate::game::symmetry`]): games of the same target whose terms
/// leave the standard basis's, kept when their coefficients stay in the
/// game's set.
fn symmetry_views(d: &Decomposition, game: &GameConfig, views: usize, seed: u64) -> Vec<BestGame> {
    let mut rng = StdRng::seed_from_u64(seed);
    let set = crate::game::action::coefficient_set(game.field);
    let standard = game.shape.dense_tensor();
    (0..views)
        .filter_map(|_| crate::game::symmetry::random_symmetry_within(&mut rng, d, set))
        .map(|s| BestGame {
            rank: d.rank(),
            tensor: standard.clone(),
            actions: super::selfplay::game_actions(&s.forward(d), game),
        })
        .filter(|g| g.check(game).is_ok())
        .collect()
}

/// Random changes of basis a flip-found scheme is also taught in.
const BASIS_VIEWS: usize = 3;

/// A standard-basis scheme as best games: in the standard basis and in
/// up to [`BASIS_VIEWS`] random changes of basis in which it keeps its
/// coefficients in the game's set, so that the network learns its
/// structure rather than one basis.
fn best_games_of(d: &Decomposition, game: &GameConfig, seed: u64) -> Vec<BestGame> {
    let mut rng = StdRng::seed_from_u64(seed);
    let standard = game.shape.dense_tensor();
    let mut out = vec![BestGame {
        rank: d.rank(),
        tensor: standard.clone(),
        actions: super::selfplay::game_actions(d, game),
    }];
    let set = crate::game::action::coefficient_set(game.field);
    for _ in 0..BASIS_VIEWS {
        let basis = crate::game::Basis::random_within(&mut rng, game.dims, game.field, d, set);
        let view = BestGame {
            rank: d.rank(),
            tensor: basis.transform_tensor(game.dims, &standard),
            actions: super::selfplay::game_actions(&basis.forward(d), game),
        };
        // A view seen already (the identity, when no basis fitted) adds nothing.
        if !out.contains(&view) && view.check(game).is_ok() {
            out.push(view);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The warm-up's batches are the flips' best games alone, with no
    /// played games; before a best game exists, and for a run whose mix
    /// has no best share, they are demonstrations alone.
    #[test]
    fn the_warm_up_learns_the_best_games_alone() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let game = GameConfig::new(shape, Field::Z2, 1, 8);
        let encoding = ActionEncoding::default_for(shape, Field::Z2);
        let mix = warmup_mix(&Mix {
            demonstrations: 0.2,
            played: 0.2,
            best: 0.6,
        });
        let demos = Demos {
            max_rank: 8,
            orbit: 0.0,
        };
        let mut rng = StdRng::seed_from_u64(3);
        let mut replay = Replay::new(16, 4);
        // A played game in the buffer (a resumed run keeps them) is still
        // left out. Unsolved, so that it is not a best game as well.
        let standard = Decomposition::standard(shape, Field::Z2);
        let actions = super::super::selfplay::game_actions(&standard, &game);
        replay.add(crate::game::FinishedGame {
            tensor: shape.dense_tensor(),
            moves: (0..actions.len())
                .map(|t| crate::game::Move {
                    residual: shape.dense_tensor(),
                    history: vec![],
                    step: t,
                    policy: vec![(actions[t].clone(), 1.0)],
                })
                .collect(),
            actions: actions.clone(),
            final_value: -1.0,
            found: None,
        });
        let (_, before) = mixed_batch(&mut rng, &game, &encoding, &replay, &mix, 200, demos);
        assert_eq!(before.demonstrations, 200);
        replay.offer_best(BestGame {
            rank: 8,
            tensor: shape.dense_tensor(),
            actions,
        });
        let (_, after) = mixed_batch(&mut rng, &game, &encoding, &replay, &mix, 200, demos);
        assert_eq!((after.played, after.best), (0, 200));
        // A mix without best games warms up on demonstrations alone.
        let no_best = warmup_mix(&Mix {
            demonstrations: 0.5,
            played: 0.5,
            best: 0.0,
        });
        let (_, none) = mixed_batch(&mut rng, &game, &encoding, &replay, &no_best, 200, demos);
        assert_eq!(none.demonstrations, 200);
    }

    #[test]
    fn symmetry_views_are_games_of_t_itself_with_other_terms() {
        let shape = Shape::new(2, 2, 2).unwrap();
        for field in [Field::Z2, Field::Z] {
            let game = GameConfig::new(shape, field, 1, 8);
            let d = Decomposition::standard(shape, field);
            let standard = super::super::selfplay::game_actions(&d, &game);
            let views = symmetry_views(&d, &game, 8, 11);
            assert!(views.len() >= 6, "{field}: {} of 8 views kept", views.len());
            for g in &views {
                assert_eq!(g.tensor, shape.dense_tensor());
                assert_eq!(g.rank, 8);
                g.check(&game).unwrap();
            }
            assert!(
                views
                    .iter()
                    .any(|g| g.actions.iter().any(|a| !standard.contains(a))),
                "{field}: every view replays the schoolbook's own terms"
            );
        }
    }

    #[test]
    fn a_flip_scheme_is_taught_in_the_standard_basis_and_in_changed_ones() {
        let shape = Shape::new(2, 2, 2).unwrap();
        for field in [Field::Z2, Field::Z] {
            let game = GameConfig::new(shape, field, 1, 8);
            let mut strassen = Decomposition::strassen();
            strassen.field = field;
            if field == Field::Z2 {
                for rows in [&mut strassen.u, &mut strassen.v, &mut strassen.w] {
                    for x in rows.iter_mut().flatten() {
                        *x = field.reduce(x).unwrap();
                    }
                }
            }
            let games = best_games_of(&strassen, &game, 7);
            assert_eq!(games[0].tensor, shape.dense_tensor());
            assert!(games.len() > 1, "{field}: no changed basis kept");
            for g in &games {
                assert_eq!(g.rank, 7);
                g.check(&game).unwrap();
            }
            assert!(games[1..].iter().any(|g| g.tensor != games[0].tensor));
        }
    }
}
