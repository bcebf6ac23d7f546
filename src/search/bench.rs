//! `tensorsearch bench search`: the search's throughput on one device —
//! network evaluations per second (states, each with K sampled actions),
//! MCTS simulations per second and games per second of batched self-play,
//! for a shape and model preset. The learner does not run.

use super::selfplay::{SelfPlay, SelfPlayConfig};
use super::MctsConfig;
use crate::engine::Backend;
use crate::game::{ActionEncoding, GameConfig};
use crate::model::{Evaluator, ModelConfig, Network};
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

    // Network evaluations alone, on fixed random states.
    let mut ev = Evaluator::new(b, &net, case.games, case.samples)?;
    let mut rng = StdRng::seed_from_u64(11);
    let states: Vec<f32> = (0..case.games * game.state_features())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let uniforms: Vec<f32> = (0..ev.uniforms_len()).map(|_| rng.random()).collect();
    ev.evaluate(b, &states, &uniforms)?; // warm-up: pipelines, caches
    let evaluations_per_s = case.games as f64
        * crate::bench::calls_per_second(seconds / 2, |_| {
            ev.evaluate(b, &states, &uniforms).map(|_| ())
        })?;

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
        "{:<22} {:<6} {:<4} {:<6} {:>4} {:>4} {:>5} {:>10} {:>10} {:>9} {:>9}\n",
        "device",
        "shape",
        "F",
        "preset",
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
            "{:<22} {:<6} {:<4} {:<6} {:>4} {:>4} {:>5} {:>10.1} {:>10.1} {:>9.2} {:>9}\n",
            device,
            r.shape,
            r.field,
            r.preset,
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
