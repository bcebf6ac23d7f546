//! `tensorsearch bench search`: the search's throughput on one device —
//! network evaluations per second (states, each with K sampled actions),
//! MCTS simulations per second and games per second of batched self-play,
//! for a shape and model preset, with the leaves' states made on the host
//! or on the device ([`LeafUpdates`]). The learner does not run.

use super::selfplay::{LeafUpdates, SelfPlay, SelfPlayConfig};
use super::MctsConfig;
use crate::engine::Backend;
use crate::game::{ActionEncoding, GameConfig};
use crate::model::{Evaluator, LeafUpdates as ModelLeafUpdates, ModelConfig, Network};
use crate::problem::{Field, Shape};
use anyhow::Result;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::{Duration, Instant};

/// One measured configuration.
#[derive(Clone, Debug, Serialize)]
pub struct SearchThroughput {
    pub device: String,
    pub shape: String,
    pub field: String,
    pub preset: String,
    /// Where the leaves' states were made: "host" or "device".
    pub leaf_updates: String,
    /// States per network call (G) and samples per state (K).
    pub states: usize,
    pub samples: usize,
    pub simulations_per_move: usize,
    pub evaluations_per_s: f64,
    pub simulations_per_s: f64,
    pub moves_per_s: f64,
    /// Games finished per second (None when none finished in the window).
    pub games_per_s: Option<f64>,
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct SearchBenchCase {
    pub shape: Shape,
    pub field: Field,
    pub preset: String,
    pub games: usize,
    pub samples: usize,
    pub simulations: usize,
    pub leaf_updates: LeafUpdates,
}

pub fn measure<B: Backend>(
    b: &mut B,
    case: &SearchBenchCase,
    seconds: Duration,
) -> Result<SearchThroughput> {
    let game = GameConfig::new(case.shape, case.field, 1, case.shape.standard_rank());
    let encoding = ActionEncoding::default_for(case.shape, case.field);
    let net = Network::new(
        b,
        ModelConfig::preset(&case.preset)?,
        game.clone(),
        encoding,
        1,
        7,
    )?;

    // Network evaluations alone, of fixed random leaves (a parent, an
    // action, a history of one action), made as the case says: each call
    // pays for its updates and encoding, as in self-play.
    let mut ev = Evaluator::new(b, &net, case.games, case.samples)?;
    let mut rng = StdRng::seed_from_u64(11);
    let spec = ev.encode_spec();
    let (n, a, h) = (spec.state_len(), spec.action_len(), spec.history_len());
    let mut draw =
        |len: usize| -> Vec<i32> { (0..len).map(|_| rng.random_range(-1..=1)).collect() };
    let (parents, actions) = (draw(case.games * n), draw(case.games * a));
    let mut histories = vec![0; case.games * h];
    for s in 0..case.games {
        let action = vec![actions[s * a..(s + 1) * a].to_vec()];
        game.history_words(&action, 1, &mut histories[s * h..(s + 1) * h]);
    }
    let uniforms: Vec<f32> = (0..ev.uniforms_len()).map(|_| rng.random()).collect();
    let (mut states, mut scratch) = (
        vec![0.0; case.games * game.state_features()],
        vec![0.0; game.state_features()],
    );
    let mut evaluate = |b: &mut B| -> Result<()> {
        match case.leaf_updates {
            LeafUpdates::Host => {
                for s in 0..case.games {
                    let mut residual = parents[s * n..(s + 1) * n].to_vec();
                    let action = actions[s * a..(s + 1) * a].to_vec();
                    game.subtract(&mut residual, &action);
                    let history = [action];
                    game.encode_into_batch(
                        &residual,
                        &history,
                        1,
                        s,
                        case.games,
                        &mut scratch,
                        &mut states,
                    );
                }
                ev.evaluate(b, &states, &uniforms)?;
            }
            LeafUpdates::Device => {
                let leaves = ModelLeafUpdates {
                    parents: &parents,
                    actions: &actions,
                    histories: &histories,
                };
                ev.evaluate_updates(b, &leaves, &uniforms)?;
            }
        }
        Ok(())
    };
    evaluate(b)?; // warm-up: pipelines, caches
    let evaluations_per_s =
        case.games as f64 * crate::bench::calls_per_second(seconds / 2, |_| evaluate(b))?;

    // Self-play rounds.
    let cfg = SelfPlayConfig {
        games: case.games,
        samples: case.samples,
        simulations: case.simulations,
        leaves_per_game: 1,
        standard_basis_fraction: 0.5,
        complete_w: true,
        sampled_moves: 2,
        root_noise: Default::default(),
        sample_temperature: 1.0,
        explore: 0,
        explore_symmetric: 0,
        restarts: 0.0,
        leaf_updates: case.leaf_updates,
        mcts: MctsConfig::default(),
    };
    let mut actors = SelfPlay::new(b, &net, cfg, 5)?;
    actors.round(b)?;
    let before = actors.counters;
    let start = Instant::now();
    while start.elapsed() < seconds / 2 {
        actors.round(b)?;
    }
    let dt = start.elapsed().as_secs_f64();
    let c = actors.counters;
    let games = c.games - before.games;
    Ok(SearchThroughput {
        device: b.describe(),
        shape: case.shape.to_string(),
        field: case.field.name().to_string(),
        preset: case.preset.clone(),
        leaf_updates: case.leaf_updates.name().to_string(),
        states: case.games,
        samples: case.samples,
        simulations_per_move: case.simulations,
        evaluations_per_s,
        simulations_per_s: (c.simulations - before.simulations) as f64 / dt,
        moves_per_s: (c.moves - before.moves) as f64 / dt,
        games_per_s: (games > 0).then(|| games as f64 / dt),
    })
}

pub fn table(rows: &[SearchThroughput]) -> String {
    let mut s = format!(
        "{:<22} {:<6} {:<4} {:<6} {:<6} {:>4} {:>4} {:>5} {:>10} {:>10} {:>9} {:>9}\n",
        "device",
        "shape",
        "F",
        "preset",
        "leaves",
        "G",
        "K",
        "sims",
        "evals/s",
        "sims/s",
        "moves/s",
        "games/s"
    );
    for r in rows {
        let games = r.games_per_s.map_or("-".into(), |g| format!("{g:.2}"));
        let device: String = r.device.chars().take(22).collect();
        s += &format!(
            "{:<22} {:<6} {:<4} {:<6} {:<6} {:>4} {:>4} {:>5} {:>10.1} {:>10.1} {:>9.2} {:>9}\n",
            device,
            r.shape,
            r.field,
            r.preset,
            r.leaf_updates,
            r.states,
            r.samples,
            r.simulations_per_move,
            r.evaluations_per_s,
            r.simulations_per_s,
            r.moves_per_s,
            games
        );
    }
    s
}
