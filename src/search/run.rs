//! The search run (`tensorsearch search`): actors (batched self-play) and
//! the learner on one device, sharing the network's weights, so actors
//! always play with the newest ones. Every verified improvement is written
//! at once (`best.json`, and a copy under `found/`); checkpoints (weights,
//! optimiser, best games, counters) every minute, at the end and at Ctrl-C;
//! `--resume` continues from them.

use super::selfplay::{SelfPlay, SelfPlayConfig, SelfPlayCounters};
use super::MctsConfig;
use crate::engine::Backend;
use crate::game::{ActionEncoding, GameConfig};
use crate::model::memory::{self, MemoryEstimate};
use crate::model::{ModelConfig, Network, StepStats};
use crate::problem::{reference, Decomposition, Field, Shape};
use crate::run::display::{fit_message, say, spinner};
use crate::run::{Every, Identity, Kind, NonFinite, RunDir, Stop, Stopped};
use crate::train::{mixed_batch, BestGame, Mix, Replay};
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
    /// Learner batch size.
    pub batch: usize,
    pub lr: f32,
    /// AdamW weight decay on linear weights (runs from before it read 0).
    #[serde(default)]
    pub weight_decay: f32,
    pub mix: Mix,
    /// Actor moves per learner step.
    pub moves_per_step: usize,
    /// Flips per polish of a found decomposition (0: no polishing): every
    /// solved game at or below the best rank is walked in the flip graph,
    /// and what it reaches is verified, written and learned from.
    #[serde(default)]
    pub polish_flips: usize,
    /// Learner steps on demonstrations alone before the actors start: a
    /// policy that cannot yet read a rank-one term off a residual plays
    /// games that teach nothing.
    #[serde(default)]
    pub warmup_steps: u32,
    /// Played games kept for training.
    pub replay_games: usize,
    /// Best games kept for training.
    pub best_games: usize,
    pub init: Option<PathBuf>,
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
    fn selfplay(&self) -> SelfPlayConfig {
        SelfPlayConfig {
            games: self.games,
            samples: self.samples,
            simulations: self.simulations,
            leaves_per_game: self.leaves_per_game,
            standard_basis_fraction: self.standard_basis_fraction,
            complete_w: self.complete_w,
            sampled_moves: self.sampled_moves,
            mcts: MctsConfig::default(),
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
    pub skipped_steps: u64,
    pub best_games: Vec<BestGame>,
}

pub const STATE_FILE: &str = "search.json";
pub use crate::run::dir::{BEST_FILE, METRICS_FILE};
pub const PLOT_FILE: &str = "progress.svg";

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
    pub games_per_s: f64,
    pub simulations_per_s: f64,
    /// Solved ranks of the recent games: (rank, count); unsolved separately.
    pub recent_ranks: Vec<(usize, usize)>,
    pub recent_unsolved: usize,
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
    pub standard_rank: usize,
    pub best_published: Option<usize>,
    pub time_to_best_s: Option<f64>,
    pub stopped_by: Stopped,
}

/// Seconds between checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);
/// Seconds between metrics lines.
const LOG_EVERY: Duration = Duration::from_secs(5);
/// Least time between polishes of decompositions of the best rank.
const POLISH_EVERY: Duration = Duration::from_secs(1);
/// Seconds between updates of the progress line.
const MESSAGE_EVERY: Duration = Duration::from_secs(1);
/// Finished games the rank distribution covers.
const RECENT: usize = 200;

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

/// The memory of the run's buffers: the learner and the actors' evaluator.
pub fn memory_estimate(settings: &SearchSettings) -> Result<MemoryEstimate> {
    let (shape, field) = (settings.shape()?, settings.field()?);
    let game = GameConfig::new(shape, field, settings.history, settings.max_steps);
    let encoding = ActionEncoding::default_for(shape, field);
    let cfg = settings.selfplay();
    let actors = (cfg.games * cfg.leaves_per_game, cfg.samples);
    memory::estimate(&settings.model, &game, &encoding, settings.batch, &[actors])
}

/// A run directory from before `run.json`: its identity is its settings'.
fn legacy_identity(dir: &Path) -> Result<Identity> {
    let s = read_state(dir)?
        .settings
        .ok_or_else(|| anyhow!("{}: the checkpoint has no settings", dir.display()))?;
    Ok(Identity::new(Kind::Search, s.shape()?, s.field()?))
}

/// Checks that `out` can take this run (fresh) or holds it (resume),
/// without touching a device.
pub fn check_dir(settings: &SearchSettings, out: &Path, resume: bool) -> Result<()> {
    if resume {
        let dir = RunDir::resume(out, Kind::Search, legacy_identity)?;
        dir.check_state(STATE_FILE, settings.shape, settings.field()?)
    } else {
        crate::run::dir::check_fresh(out, Kind::Search)
    }
}

/// The counters and best games of a resumed run, each checked against
/// what was verified: `best.json` against the run's tensor, the state's
/// best rank against it, every best game replayed exactly.
fn verified_state(dir: &RunDir, game: &GameConfig) -> Result<SearchState> {
    let state = read_state(dir.path())?;
    let file = dir.file(STATE_FILE);
    let best = dir.best()?.map(|d| d.rank());
    if state.best_rank != best {
        let said = state
            .best_rank
            .map_or_else(|| "none".to_string(), |r| r.to_string());
        let held = best.map_or_else(
            || "there is no best.json".to_string(),
            |r| format!("the verified best.json holds rank {r}"),
        );
        bail!(
            "{} says best rank {said}, but {held}: refusing to resume",
            file.display()
        );
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

/// Runs the search in `out` (a fresh run, or the checkpointed one there
/// when `resume`). `quiet` hides the progress bar.
pub fn search<B: Backend>(
    b: &mut B,
    settings: &SearchSettings,
    out: &Path,
    resume: bool,
    stop: Stop,
    quiet: bool,
) -> Result<SearchReport> {
    let shape = settings.shape()?;
    let field = settings.field()?;
    let game = GameConfig::new(shape, field, settings.history, settings.max_steps);
    // A run that does not fit is refused before its directory is touched.
    let memory = memory::guard(
        &memory_estimate(settings)?,
        b.host_memory(),
        "--batch, --games or --samples",
    )?;
    let mut dir = if resume {
        RunDir::resume(out, Kind::Search, legacy_identity)?
    } else {
        crate::run::dir::check_fresh(out, Kind::Search)?;
        RunDir::create(out, Identity::new(Kind::Search, shape, field))?
    };
    dir.check_state(STATE_FILE, settings.shape, field)?;
    let mut state = if resume {
        verified_state(&dir, &game)?
    } else {
        SearchState::default()
    };
    let encoding = ActionEncoding::default_for(shape, field);
    let mut net = Network::new(
        b,
        settings.model.clone(),
        game.clone(),
        encoding.clone(),
        settings.batch,
        settings.seed,
    )?;
    net.weight_decay = settings.weight_decay;
    if resume {
        net.load_checkpoint(b, out)?;
    } else if let Some(init) = &settings.init {
        net.init_from(b, init)?;
    }
    state.settings = Some(settings.clone());
    let mut series: Vec<SearchMetrics> = if resume {
        dir.read_metrics()
    } else {
        Vec::new()
    };

    let mut replay = Replay::new(settings.replay_games, settings.best_games);
    for g in std::mem::take(&mut state.best_games) {
        replay.offer_best(g);
    }
    // A resumed run draws new games: the actors' seed moves on with the
    // games played.
    let actor_seed = settings.seed ^ state.games.wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut actors = SelfPlay::new(b, &net, settings.selfplay(), actor_seed)?;
    let base = SelfPlayCounters {
        simulations: state.simulations,
        evaluations: state.evaluations,
        moves: state.moves,
        games: state.games,
        rejected: 0,
    };

    eprintln!(
        "search {shape} over {field} on {}: preset {}, {} games x {} samples, {} simulations per move, step limit {}, output in {}",
        b.describe(),
        settings.preset,
        settings.games,
        settings.samples,
        settings.simulations,
        settings.max_steps,
        out.display()
    );
    eprintln!("{memory}");
    let bar = spinner(quiet);
    let clock = stop.start();
    let elapsed_before = state.elapsed_s;
    let steps_before = net.step;
    let mut save = Every::new(CHECKPOINT_EVERY);
    let mut log = Every::new(LOG_EVERY);
    let mut last_message: Option<Instant> = None;
    let mut last_polish: Option<Instant> = None;
    let mut last_stats = StepStats::default();
    let mut recent = Recent {
        ranks: VecDeque::new(),
    };
    let mut moves_pending = 0u64;
    let mut moves_seen = 0u64;
    let mut nonfinite = NonFinite::default();
    // Only a rank verified here (best.json read back, or found in this
    // session) is ever reported.
    let mut best_file = state.best_rank.map(|_| out.join(BEST_FILE));
    let mut time_to_best = None;
    let total_elapsed = |clock: &crate::run::Clock| elapsed_before + clock.seconds();
    let mut window = (Instant::now(), 0u64, 0u64);
    let session_steps = |net: &Network<B>| (net.step - steps_before) as u64;

    let warmup_mix = Mix {
        demonstrations: 1.0,
        played: 0.0,
        best: 0.0,
    };
    let stopped_by = loop {
        let stopping = clock.check(state.best_rank, session_steps(&net));
        // Every minute, and once more at the end (Ctrl-C included).
        if stopping.is_some() || save.due() {
            let elapsed = total_elapsed(&clock);
            state.skipped_steps += nonfinite.skipped;
            nonfinite.skipped = 0;
            checkpoint(b, &net, &dir, &mut state, &actors, &base, &replay, elapsed)?;
            super::plot::write(&dir.file(PLOT_FILE), &plot_of(&series, settings))?;
            save.restart();
        }
        if let Some(why) = stopping {
            break why;
        }
        let warming_up = net.step < settings.warmup_steps;
        let finished = if warming_up {
            moves_pending += settings.moves_per_step as u64;
            Vec::new()
        } else {
            actors.round(b)?
        };
        for f in finished {
            let rank = f.found.as_ref().map(|d| d.rank());
            recent.push(rank);
            let games = base.games + actors.counters.games;
            let mut improvements = Vec::new();
            if let Some(d) = &f.found {
                improvements.push((d.clone(), "self-play"));
                // A lower rank is always polished; one equal to the best at
                // most once a second, so polishing never starves the actors.
                let worth = match state.best_rank {
                    None => true,
                    Some(r) => {
                        d.rank() < r
                            || (d.rank() == r
                                && last_polish.is_none_or(|t: Instant| t.elapsed() >= POLISH_EVERY))
                    }
                };
                if settings.polish_flips > 0 && worth {
                    last_polish = Some(Instant::now());
                    if let Some(p) = polish(d, settings, &encoding, games) {
                        replay.offer_best(BestGame {
                            rank: p.rank(),
                            tensor: shape.dense_tensor(),
                            actions: term_actions(&p, &game),
                        });
                        improvements.push((p, "flips from a self-play decomposition"));
                    }
                }
            }
            for (d, how) in improvements {
                if state.best_rank.is_none_or(|r| d.rank() < r) {
                    dir.keep(&d, &format!("rank-{}-game-{games}.json", d.rank()))?;
                    dir.write_best(&d)?;
                    state.best_rank = Some(d.rank());
                    time_to_best = Some(total_elapsed(&clock));
                    say(
                        &bar,
                        format!(
                            "[{:>7.1}s] rank {} found by {how} after {games} games: {}",
                            total_elapsed(&clock),
                            d.rank(),
                            dir.file(BEST_FILE).display()
                        ),
                    );
                    best_file = Some(dir.file(BEST_FILE));
                }
            }
            replay.add(f);
        }
        if actors.counters.rejected > 0 {
            bail!("a solved game did not verify after mapping back to the standard basis (a bug): stopping");
        }
        let moves = actors.counters.moves;
        moves_pending += moves - moves_seen;
        moves_seen = moves;
        let steps_left = |net: &Network<B>| stop.steps.is_none_or(|s| session_steps(net) < s);
        while moves_pending >= settings.moves_per_step as u64 && steps_left(&net) {
            moves_pending -= settings.moves_per_step as u64;
            let mut rng = StdRng::seed_from_u64(
                settings.seed ^ (net.step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let mix = if warming_up {
                &warmup_mix
            } else {
                &settings.mix
            };
            let (batch, _) = mixed_batch(
                &mut rng,
                &game,
                &encoding,
                &replay,
                mix,
                settings.batch,
                settings.max_steps,
            );
            let stats = net.train_step(b, &batch, settings.lr)?;
            let step = net.step as u64 + 1;
            if nonfinite.record(step, stats.policy_loss, stats.value_loss, out, |l| {
                say(&bar, l)
            })? {
                last_stats = stats;
            }
        }
        if last_message.is_none_or(|t| t.elapsed() >= MESSAGE_EVERY) {
            let c = actors.counters;
            let dt = window.0.elapsed().as_secs_f64().max(1e-9);
            let (hist, unsolved) = recent.histogram();
            let line = SearchMetrics {
                elapsed_s: total_elapsed(&clock),
                games: base.games + c.games,
                simulations: base.simulations + c.simulations,
                learner_steps: net.step,
                policy_loss: last_stats.policy_loss,
                value_loss: last_stats.value_loss,
                best_rank: state.best_rank,
                games_per_s: (c.games - window.1) as f64 / dt,
                simulations_per_s: (c.simulations - window.2) as f64 / dt,
                recent_ranks: hist,
                recent_unsolved: unsolved,
            };
            bar.set_message(progress_message(&line, warming_up));
            last_message = Some(Instant::now());
            // Rates cover the time since the last metrics line.
            if log.due() {
                dir.log(&line)?;
                series.push(line);
                window = (Instant::now(), c.games, c.simulations);
            }
        }
        bar.tick();
    };
    bar.finish_and_clear();
    Ok(SearchReport {
        device: b.describe(),
        seconds: total_elapsed(&clock),
        games: state.games,
        simulations: state.simulations,
        learner_steps: net.step,
        best_rank: state.best_rank,
        best_file,
        standard_rank: shape.standard_rank(),
        best_published: reference::best_ranks(shape).map(|r| r.get(field)),
        time_to_best_s: time_to_best,
        stopped_by,
    })
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
    let mut fields = vec![format!("best rank {best}")];
    if warming_up {
        fields.push("warm-up on demonstrations".into());
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

/// Walks `d` in the flip graph (coefficients kept in the game's set); the
/// scheme it reaches when its rank is lower, verified exactly.
fn polish(
    d: &Decomposition,
    settings: &SearchSettings,
    encoding: &ActionEncoding,
    games: u64,
) -> Option<Decomposition> {
    let bound = encoding.coefficients().iter().map(|x| x.abs()).max()?;
    let seed = settings.seed ^ games.wrapping_mul(0xA076_1D64_78BD_642F);
    crate::flip::polish::polish(d, bound as i64, settings.polish_flips as u64, seed)
}

/// The terms of a standard-basis decomposition as game actions u‖v‖w, sign
/// canonical (its coefficients are in the game's set).
fn term_actions(d: &Decomposition, game: &GameConfig) -> Vec<Vec<i32>> {
    let mut actions = super::selfplay::decomposition_actions(d);
    for a in &mut actions {
        crate::game::action::canonicalise(game.field, game.dims, a);
    }
    actions
}

#[allow(clippy::too_many_arguments)]
fn checkpoint<B: Backend>(
    b: &mut B,
    net: &Network<B>,
    dir: &RunDir,
    state: &mut SearchState,
    actors: &SelfPlay<B>,
    base: &SelfPlayCounters,
    replay: &Replay,
    elapsed: f64,
) -> Result<()> {
    let c = actors.counters;
    state.games = base.games + c.games;
    state.moves = base.moves + c.moves;
    state.simulations = base.simulations + c.simulations;
    state.evaluations = base.evaluations + c.evaluations;
    state.elapsed_s = elapsed;
    state.best_games = replay.best.clone();
    let seed = state.settings.as_ref().map_or(0, |s| s.seed);
    net.save(b, dir.path(), seed)?;
    let text = serde_json::to_string(state)?;
    dir.write(STATE_FILE, format!("{text}\n").as_bytes())?;
    state.best_games.clear();
    Ok(())
}
