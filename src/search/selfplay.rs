//! Batched self-play (docs/design.md §5): G games in flight, each with its own tree.
//! Every round selects leaves in all trees (several per tree under virtual
//! loss), evaluates them in one network call, expands and backs them up;
//! a game moves once its root has had n_sim simulations since its last
//! move. Games start from the target tensor in a random change of basis,
//! or in the standard basis for a configurable fraction. A solved game's
//! factors are mapped back to the standard basis and verified exactly
//! before the game reports a decomposition.
//!
//! The trees keep every node's residual on the host (a subtraction of a
//! rank-one tensor of at most a few thousand words). What the network
//! reads is made one of two ways ([`LeafUpdates`]): the host encodes the
//! leaves' grids and uploads them, or it uploads each leaf's parent
//! residual and action, and the residual update and the encoding run on
//! the device. Both give the same evaluation to the bit; which is faster
//! depends on the device (docs/design.md §5).

use super::actions::{candidates, exploration_actions, with_exploration};
use super::archive::{Archive, Prefix};
use super::tree::{MctsConfig, NodeState, Selection, Tree};
use crate::engine::Backend;
pub use crate::game::action::decomposition_actions;
use crate::game::record::{FinishedGame, Move};
use crate::game::{symmetry, Basis, GameConfig};
use crate::model::{Evaluation, Evaluator, LeafUpdates as ModelLeafUpdates, Network};
use crate::problem::{verify, Decomposition, Field};
use anyhow::{anyhow, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Clone, Debug, PartialEq)]
pub struct SelfPlayConfig {
    /// Games in flight (G).
    pub games: usize,
    /// Actions sampled per expanded node (K).
    pub samples: usize,
    /// Simulations per move (n_sim).
    pub simulations: usize,
    /// Simulations one game may have in flight per round (virtual loss).
    pub leaves_per_game: usize,
    /// Fraction of games played in the standard basis.
    pub standard_basis_fraction: f64,
    /// Also propose each draw with its w completed from the residual
    /// ([`super::actions::complete_w`]).
    pub complete_w: bool,
    /// Moves drawn from the improved policy at the start of a game (for
    /// diversity, as AlphaZero does); later moves take the most visited
    /// action, so the search's work is not thrown away by a random draw.
    pub sampled_moves: usize,
    /// Dirichlet noise mixed into each new root's priors.
    pub root_noise: RootNoise,
    /// Softmax temperature of the candidates' draws: above 1 the policy's
    /// unlikely actions are proposed more often (exploration).
    pub sample_temperature: f32,
    /// Exploration candidates per expanded node
    /// ([`super::actions::exploration_actions`]); 0 is none.
    pub explore: usize,
    /// Images of each new root's candidates under random symmetries of T,
    /// scored by value; the best [`WIDENED`] join the root
    /// ([`SelfPlay::widen_new_roots`]; 0: none).
    pub explore_symmetric: usize,
    /// Share of new games started from a promising prefix of an earlier
    /// game ([`super::archive`]; 0: every game starts from T).
    pub restarts: f64,
    /// Where the leaves' states are made for the network.
    pub leaf_updates: LeafUpdates,
    pub mcts: MctsConfig,
}

/// Where a leaf's residual is updated and encoded for the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafUpdates {
    /// The host encodes the grids and uploads them.
    Host,
    /// The host uploads parents and actions; the device updates and encodes.
    Device,
}

impl LeafUpdates {
    /// The faster for a backend, as measured (docs/design.md §5): the host
    /// where the device's memory is the host's (the CPU backend, software
    /// adapters), the device elsewhere.
    pub fn for_backend<B: Backend>(b: &B) -> Self {
        if b.host_memory() {
            LeafUpdates::Host
        } else {
            LeafUpdates::Device
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LeafUpdates::Host => "host",
            LeafUpdates::Device => "device",
        }
    }
}

/// Exploration noise at the root ([`super::noise`]): fraction ε of the
/// priors replaced by a Dirichlet(α) draw; ε = 0 is none.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RootNoise {
    pub alpha: f64,
    pub fraction: f64,
}

struct Game {
    basis: Option<Basis>,
    tensor: Vec<i32>,
    tree: Tree,
    moves: Vec<Move>,
    actions: Vec<Vec<i32>>,
    /// Simulations since the last move.
    simulations: usize,
    /// The root node that has had its noise (a root gets it once).
    noised: Option<usize>,
    /// The root node that has been widened by symmetric images.
    widened: Option<usize>,
}

/// Counters of the actors' work.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SelfPlayCounters {
    pub simulations: u64,
    pub evaluations: u64,
    pub moves: u64,
    pub games: u64,
    /// Solved games whose mapped-back factors failed verification (a bug
    /// if ever nonzero; such games never count).
    pub rejected: u64,
    /// Games started from a promising prefix ([`super::archive`]).
    pub restarts: u64,
}

impl std::ops::AddAssign for SelfPlayCounters {
    fn add_assign(&mut self, o: Self) {
        self.simulations += o.simulations;
        self.evaluations += o.evaluations;
        self.moves += o.moves;
        self.games += o.games;
        self.rejected += o.rejected;
        self.restarts += o.restarts;
    }
}

pub struct SelfPlay<B: Backend> {
    pub cfg: SelfPlayConfig,
    pub game: GameConfig,
    pub counters: SelfPlayCounters,
    evaluator: Evaluator<B>,
    games: Vec<Game>,
    rng: StdRng,
    batch: StateBatch,
    /// The standard algorithm, whose coefficients a game's basis keeps in
    /// the game's set.
    schoolbook: Decomposition,
    /// Promising prefixes to restart from (empty without restarts).
    archive: Archive,
}

/// Prefixes the archive keeps.
const ARCHIVE: usize = 64;

/// The prior mass the exploration candidates of a node share.
pub const EXPLORATION_SHARE: f32 = 0.25;

/// Scored symmetric images that join a root ([`SelfPlay::widen_new_roots`]).
pub const WIDENED: usize = 4;

/// One state to evaluate: its residual, and the parent residual and
/// action it was made from (none for a root, evaluated as it is).
struct Leaf<'a> {
    residual: &'a [i32],
    parent: Option<(&'a [i32], &'a [i32])>,
    history: &'a [Vec<i32>],
    step: usize,
}

/// The network's input for one batched evaluation: encoded grids and the
/// scratch row each state is encoded through, or the words of updates.
struct StateBatch {
    updates: LeafUpdates,
    states: Vec<f32>,
    scratch: Vec<f32>,
    parents: Vec<i32>,
    actions: Vec<i32>,
    histories: Vec<i32>,
}

impl StateBatch {
    fn new(updates: LeafUpdates, game: &GameConfig, slots: usize) -> Self {
        let (host, device) = match updates {
            LeafUpdates::Host => (slots, 0),
            LeafUpdates::Device => (0, slots),
        };
        let state_len: usize = game.dims.iter().product();
        StateBatch {
            updates,
            states: vec![0.0; host * game.state_features()],
            scratch: vec![0.0; game.state_features()],
            parents: vec![0; device * state_len],
            actions: vec![0; device * game.action_len()],
            histories: vec![0; device * game.history_words_len()],
        }
    }

    /// Puts `leaves` into the evaluator's slots (the rest zero) and
    /// evaluates them in one call.
    fn evaluate<'a, B: Backend>(
        &mut self,
        b: &mut B,
        evaluator: &mut Evaluator<B>,
        game: &GameConfig,
        rng: &mut StdRng,
        leaves: impl Iterator<Item = Leaf<'a>>,
    ) -> Result<Evaluation> {
        self.fill(game, evaluator.states(), leaves);
        let uniforms: Vec<f32> = (0..evaluator.uniforms_len())
            .map(|_| rng.random())
            .collect();
        match self.updates {
            LeafUpdates::Host => evaluator.evaluate(b, &self.states, &uniforms),
            LeafUpdates::Device => evaluator.evaluate_updates(b, &self.update_words(), &uniforms),
        }
    }

    /// The value quantiles of `leaves`, [slot][quantile], without the
    /// policy's draws (no random numbers are taken).
    fn values<'a, B: Backend>(
        &mut self,
        b: &mut B,
        evaluator: &mut Evaluator<B>,
        game: &GameConfig,
        leaves: impl Iterator<Item = Leaf<'a>>,
    ) -> Result<Vec<f32>> {
        self.fill(game, evaluator.states(), leaves);
        match self.updates {
            LeafUpdates::Host => evaluator.values(b, &self.states),
            LeafUpdates::Device => evaluator.values_updates(b, &self.update_words()),
        }
    }

    /// Writes `leaves` into the host's grids or the update words, the
    /// slots past them zero.
    fn fill<'a>(
        &mut self,
        game: &GameConfig,
        slots: usize,
        leaves: impl Iterator<Item = Leaf<'a>>,
    ) {
        if self.updates == LeafUpdates::Host {
            self.states.fill(0.0);
            for (slot, leaf) in leaves.enumerate() {
                game.encode_into_batch(
                    leaf.residual,
                    leaf.history,
                    leaf.step,
                    slot,
                    slots,
                    &mut self.scratch,
                    &mut self.states,
                );
            }
            return;
        }
        let (n, a) = (self.parents.len() / slots, game.action_len());
        let h = self.histories.len() / slots;
        self.parents.fill(0);
        self.actions.fill(0);
        self.histories.fill(0);
        for (slot, leaf) in leaves.enumerate() {
            let (parent, action) = leaf.parent.unwrap_or((leaf.residual, &[]));
            self.parents[slot * n..(slot + 1) * n].copy_from_slice(parent);
            self.actions[slot * a..slot * a + action.len()].copy_from_slice(action);
            game.history_words(
                leaf.history,
                leaf.step,
                &mut self.histories[slot * h..(slot + 1) * h],
            );
        }
    }

    fn update_words(&self) -> ModelLeafUpdates<'_> {
        ModelLeafUpdates {
            parents: &self.parents,
            actions: &self.actions,
            histories: &self.histories,
        }
    }
}

/// `n` images of a node's edges' actions under random symmetries of T,
/// conjugated by the game's basis: terms of the same orbits as the
/// policy's proposals, which the policy itself makes unlikely (it learns
/// the terms of the games it saw, not their images).
fn symmetric_images(
    rng: &mut StdRng,
    game: &GameConfig,
    basis: Option<&Basis>,
    n: usize,
    edges: &[super::tree::Edge],
) -> Vec<Vec<i32>> {
    let (field, dims) = (game.field, game.dims);
    let set = crate::game::action::coefficient_set(field);
    let ops = symmetry::exploration_ops(game.shape, field);
    (0..n)
        .filter_map(|_| {
            let source = &edges[rng.random_range(0..edges.len())].action;
            let s = symmetry::random_symmetry(rng, game.shape, field, ops);
            let mut image = symmetry::map_action(&s, basis, dims, set, source)?;
            (!crate::game::action::is_null(dims, &image)).then(|| {
                crate::game::action::canonicalise(field, dims, &mut image);
                image
            })
        })
        .collect()
}

/// The search's value of a state: the mean of the quantiles with τ ≥ 0.75
/// (risk seeking, docs/design.md §3).
pub fn risk_seeking_value(quantiles: &[f32]) -> f64 {
    let n = quantiles.len();
    let high: Vec<f64> = (0..n)
        .filter(|&i| (i as f64 + 0.5) / n as f64 >= 0.75)
        .map(|i| quantiles[i] as f64)
        .collect();
    high.iter().sum::<f64>() / high.len().max(1) as f64
}

impl<B: Backend> SelfPlay<B> {
    /// Actors evaluating with the parameters of `learner` (always its
    /// newest weights: the buffers are shared).
    pub fn new(b: &mut B, learner: &Network<B>, cfg: SelfPlayConfig, seed: u64) -> Result<Self> {
        if cfg.games == 0 || cfg.samples == 0 || cfg.simulations == 0 || cfg.leaves_per_game == 0 {
            return Err(anyhow!(
                "games, samples, simulations and leaves per game must be at least 1"
            ));
        }
        let slots = cfg.games * cfg.leaves_per_game;
        let mut evaluator = Evaluator::new(b, learner, slots, cfg.samples)?;
        evaluator.temperature = cfg.sample_temperature;
        let game = learner.game.clone();
        let mut rng = StdRng::seed_from_u64(seed);
        let schoolbook = Decomposition::standard(game.shape, Field::Z);
        let games = (0..cfg.games)
            .map(|_| new_game(&mut rng, &game, &cfg, &schoolbook))
            .collect();
        Ok(SelfPlay {
            batch: StateBatch::new(cfg.leaf_updates, &game, slots),
            cfg,
            game,
            counters: SelfPlayCounters::default(),
            evaluator,
            games,
            rng,
            schoolbook,
            archive: Archive::new(ARCHIVE),
        })
    }

    /// One round: selections in every tree, one batched evaluation,
    /// expansions and backups, then the moves that are due. Returns the
    /// games that ended in this round.
    pub fn round(&mut self, b: &mut B) -> Result<Vec<FinishedGame>> {
        let mut pending = Vec::new();
        for (g, game) in self.games.iter_mut().enumerate() {
            for _ in 0..self.cfg.leaves_per_game {
                match game.tree.select() {
                    Selection::Evaluate(path) => pending.push((g, path)),
                    Selection::Terminal => {
                        game.simulations += 1;
                        self.counters.simulations += 1;
                    }
                    Selection::Busy => break,
                }
            }
        }
        if !pending.is_empty() {
            self.evaluate(b, pending)?;
        }
        if self.cfg.root_noise.fraction > 0.0 {
            self.noise_new_roots();
        }
        if self.cfg.explore_symmetric > 0 {
            self.widen_new_roots(b)?;
        }
        let mut finished = Vec::new();
        for g in 0..self.games.len() {
            let game = &self.games[g];
            let due = game.tree.root().state == NodeState::Expanded
                && game.simulations >= self.cfg.simulations;
            if due {
                self.play_move(g);
            }
            if let NodeState::Terminal(value) = self.games[g].tree.root().state {
                let fresh = self.next_game();
                let done = std::mem::replace(&mut self.games[g], fresh);
                if let Some(f) = self.finish(done, value) {
                    finished.push(f);
                }
            }
        }
        Ok(finished)
    }

    /// Root noise for every expanded root that has not had it yet.
    fn noise_new_roots(&mut self) {
        let RootNoise { alpha, fraction } = self.cfg.root_noise;
        for game in &mut self.games {
            let root = game.tree.root;
            if game.noised == Some(root) || game.tree.root().state != NodeState::Expanded {
                continue;
            }
            let eta = super::noise::dirichlet(&mut self.rng, alpha, game.tree.root().edges.len());
            game.tree.add_root_noise(&eta, fraction);
            game.noised = Some(root);
        }
    }

    /// Root widening: each new root gets `explore_symmetric` images of its
    /// candidates under random symmetries of T, scored by the network's
    /// value of the states they lead to (batched, the value head alone);
    /// the best [`WIDENED`] join the root. The policy learns the terms of
    /// the games it saw, not their images, so it rarely proposes a term of
    /// a better scheme; the value head can still tell that the state it
    /// leads to is nearer a solution.
    fn widen_new_roots(&mut self, b: &mut B) -> Result<()> {
        struct Job {
            game: usize,
            action: Vec<i32>,
            residual: Vec<i32>,
            history: Vec<Vec<i32>>,
            step: usize,
        }
        let mut jobs = Vec::new();
        for g in 0..self.games.len() {
            let tree = &self.games[g].tree;
            let root = tree.root;
            if self.games[g].widened == Some(root) || tree.root().state != NodeState::Expanded {
                continue;
            }
            let edges = &tree.root().edges;
            let images = symmetric_images(
                &mut self.rng,
                &self.game,
                self.games[g].basis.as_ref(),
                self.cfg.explore_symmetric,
                edges,
            );
            let mut seen: Vec<&Vec<i32>> = edges.iter().map(|e| &e.action).collect();
            for action in &images {
                if seen.contains(&action) {
                    continue;
                }
                seen.push(action);
                let (residual, history, step) = tree.successor(root, action);
                jobs.push(Job {
                    game: g,
                    action: action.clone(),
                    residual,
                    history,
                    step,
                });
            }
            self.games[g].widened = Some(root);
        }
        let slots = self.evaluator.states();
        let q = self.evaluator.net.model.quantiles;
        let mut scored: Vec<Vec<(Vec<i32>, f64)>> = vec![Vec::new(); self.games.len()];
        for chunk in jobs.chunks(slots) {
            let games = &self.games;
            let states = chunk.iter().map(|j| Leaf {
                residual: &j.residual,
                parent: Some((&games[j.game].tree.root().residual, &j.action)),
                history: &j.history,
                step: j.step,
            });
            let quantiles = self
                .batch
                .values(b, &mut self.evaluator, &self.game, states)?;
            self.counters.evaluations += chunk.len() as u64;
            for (slot, j) in chunk.iter().enumerate() {
                // A solved residual is worth 0, whatever the network says.
                let value = if j.residual.iter().all(|&x| x == 0) {
                    0.0
                } else {
                    risk_seeking_value(&quantiles[slot * q..(slot + 1) * q])
                };
                scored[j.game].push((j.action.clone(), value));
            }
        }
        for (g, mut extra) in scored.into_iter().enumerate() {
            extra.sort_by(|a, b| b.1.total_cmp(&a.1));
            extra.truncate(WIDENED);
            self.games[g].tree.widen_root(extra, EXPLORATION_SHARE);
        }
        Ok(())
    }

    fn evaluate(&mut self, b: &mut B, pending: Vec<(usize, super::tree::Path)>) -> Result<()> {
        let games = &self.games;
        let states = pending.iter().map(|(g, path)| {
            let nodes = &games[*g].tree.nodes;
            let node = &nodes[path.leaf];
            Leaf {
                residual: &node.residual,
                parent: path.steps.last().map(|&(p, e)| {
                    (
                        nodes[p].residual.as_slice(),
                        nodes[p].edges[e].action.as_slice(),
                    )
                }),
                history: &node.history,
                step: node.step,
            }
        });
        let out = self
            .batch
            .evaluate(b, &mut self.evaluator, &self.game, &mut self.rng, states)?;
        self.counters.evaluations += pending.len() as u64;
        let k = self.cfg.samples;
        let encoding = &self.evaluator.net.encoding;
        let t = encoding.n_tokens();
        let q = self.evaluator.net.model.quantiles;
        for (slot, (g, path)) in pending.into_iter().enumerate() {
            let rows = &out.tokens[slot * k * t..(slot + 1) * k * t];
            let residual = &self.games[g].tree.nodes[path.leaf].residual;
            let completion = self.cfg.complete_w.then_some(residual.as_slice());
            let mut cands = candidates(encoding, self.game.field, self.game.dims, rows, completion);
            if self.cfg.explore > 0 {
                let explored = exploration_actions(
                    &mut self.rng,
                    self.game.field,
                    encoding.coefficients(),
                    self.game.dims,
                    residual,
                    self.cfg.explore,
                );
                cands = with_exploration(cands, explored, EXPLORATION_SHARE);
            }
            let value = risk_seeking_value(&out.quantiles[slot * q..(slot + 1) * q]);
            let counted = !path.steps.is_empty();
            let game = &mut self.games[g];
            game.tree.expand(&path, cands, value);
            if counted {
                game.simulations += 1;
                self.counters.simulations += 1;
            }
        }
        Ok(())
    }

    /// Records the root's improved policy and plays an action: drawn from
    /// it during the first `sampled_moves` moves, the most visited after.
    fn play_move(&mut self, g: usize) {
        let game = &mut self.games[g];
        let policy = game.tree.root_policy();
        let root = game.tree.root();
        game.moves.push(Move {
            residual: root.residual.clone(),
            history: root.history.clone(),
            step: root.step,
            policy: root
                .edges
                .iter()
                .zip(&policy)
                .map(|(e, &p)| (e.action.clone(), p as f32))
                .collect(),
        });
        let pick = if game.actions.len() < self.cfg.sampled_moves {
            let mut u: f64 = self.rng.random();
            let mut pick = policy.len() - 1;
            for (i, p) in policy.iter().enumerate() {
                if u < *p {
                    pick = i;
                    break;
                }
                u -= p;
            }
            pick
        } else {
            game.tree
                .most_visited()
                .expect("an expanded root has edges")
        };
        let action = game.tree.play(pick);
        game.actions.push(action);
        game.simulations = 0;
        self.counters.moves += 1;
        if self.cfg.restarts > 0.0 {
            self.offer_prefix(g);
        }
    }

    /// Offers game `g`'s state to the archive once the network has valued
    /// it (its root is expanded) and moves are left to play from it.
    fn offer_prefix(&mut self, g: usize) {
        let game = &self.games[g];
        let root = game.tree.root();
        if root.state != NodeState::Expanded || root.step + 1 >= self.game.max_steps {
            return;
        }
        let predicted = root.step as f64 - root.value;
        if !self.archive.would_take(predicted) {
            return;
        }
        self.archive.offer(Prefix {
            basis: game.basis.clone(),
            tensor: game.tensor.clone(),
            moves: game.moves.clone(),
            actions: game.actions.clone(),
            residual: root.residual.clone(),
            history: root.history.clone(),
            step: root.step,
            predicted,
        });
    }

    /// The next game: from a promising prefix for a `restarts` share of
    /// games once the archive holds one, else from T.
    fn next_game(&mut self) -> Game {
        if self.cfg.restarts > 0.0 && self.rng.random_bool(self.cfg.restarts.min(1.0)) {
            if let Some(p) = self.archive.draw() {
                self.counters.restarts += 1;
                return Game {
                    tree: Tree::at(
                        self.game.clone(),
                        self.cfg.mcts,
                        p.residual.clone(),
                        p.step,
                        p.history.clone(),
                    ),
                    basis: p.basis.clone(),
                    tensor: p.tensor.clone(),
                    moves: p.moves.clone(),
                    actions: p.actions.clone(),
                    simulations: 0,
                    noised: None,
                    widened: None,
                };
            }
        }
        new_game(&mut self.rng, &self.game, &self.cfg, &self.schoolbook)
    }

    fn finish(&mut self, game: Game, final_value: f64) -> Option<FinishedGame> {
        self.counters.games += 1;
        let solved = game.tree.root().residual.iter().all(|&x| x == 0);
        let found = if solved {
            match standard_basis_decomposition(&self.game, game.basis.as_ref(), &game.actions) {
                Ok(d) => Some(d),
                Err(_) => {
                    self.counters.rejected += 1;
                    None
                }
            }
        } else {
            None
        };
        if solved && found.is_none() {
            return None;
        }
        Some(FinishedGame {
            tensor: game.tensor,
            moves: game.moves,
            actions: game.actions,
            final_value,
            found,
        })
    }
}

/// Factors u‖v‖w played in `basis` (None: the standard one), mapped back
/// and verified exactly in the game's field.
pub fn standard_basis_decomposition(
    game: &GameConfig,
    basis: Option<&Basis>,
    actions: &[Vec<i32>],
) -> Result<Decomposition> {
    let [la, lb, _] = game.dims;
    let part = |from: usize, to: Option<usize>| -> Vec<Vec<i64>> {
        actions
            .iter()
            .map(|a| {
                let end = to.unwrap_or(a.len());
                a[from..end].iter().map(|&x| x as i64).collect()
            })
            .collect()
    };
    let d = Decomposition::from_integers(
        game.shape,
        game.field,
        &part(0, Some(la)),
        &part(la, Some(la + lb)),
        &part(la + lb, None),
    )
    .map_err(|e| anyhow!(e))?;
    let d = match basis {
        Some(basis) => basis.back(&d),
        None => d,
    };
    verify(&d, game.field).map_err(|e| anyhow!("a found decomposition does not verify: {e}"))?;
    Ok(d)
}

/// The terms of `d` as actions of `game`: coefficients reduced into the
/// game's field, each action sign-canonical (what a game records).
pub fn game_actions(d: &Decomposition, game: &GameConfig) -> Vec<Vec<i32>> {
    let mut actions = decomposition_actions(d);
    for a in &mut actions {
        a.iter_mut().for_each(|x| *x = game.reduce(*x));
        crate::game::action::canonicalise(game.field, game.dims, a);
    }
    actions
}

/// A new game: T in the standard basis, or in a random one in which the
/// schoolbook algorithm keeps its coefficients in the game's set (so the
/// game has a known solution; [`Basis::random_within`]).
fn new_game(
    rng: &mut StdRng,
    game: &GameConfig,
    cfg: &SelfPlayConfig,
    schoolbook: &Decomposition,
) -> Game {
    let standard = game.shape.dense_tensor();
    let set = crate::game::action::coefficient_set(game.field);
    let basis = (!rng.random_bool(cfg.standard_basis_fraction.clamp(0.0, 1.0)))
        .then(|| Basis::random_within(rng, game.dims, game.field, schoolbook, set));
    let tensor = match &basis {
        Some(b) => b.transform_tensor(game.dims, &standard),
        None => standard,
    };
    Game {
        tree: Tree::new(game.clone(), cfg.mcts, tensor.clone()),
        basis,
        tensor,
        moves: Vec::new(),
        actions: Vec::new(),
        simulations: 0,
        noised: None,
        widened: None,
    }
}
