//! The small network and self-play settings the search's tests play with.
#![allow(dead_code)]

use tensorsearch::engine::Backend;
use tensorsearch::game::{ActionEncoding, GameConfig};
use tensorsearch::model::{ModelConfig, Network};
use tensorsearch::problem::{Field, Shape};
use tensorsearch::search::selfplay::{LeafUpdates, SelfPlayConfig};
use tensorsearch::search::tree::MctsConfig;

/// A 2x2x2 network of `preset` over `field`, learner batch `batch`, seed 3.
pub fn network<B: Backend>(b: &mut B, preset: &str, field: Field, batch: usize) -> Network<B> {
    let shape = Shape::new(2, 2, 2).unwrap();
    let game = GameConfig::new(shape, field, 1, 8);
    let enc = ActionEncoding::default_for(shape, field);
    Network::new(b, ModelConfig::preset(preset).unwrap(), game, enc, batch, 3).unwrap()
}

/// `games` games with few samples and simulations, every lever of the
/// actors on (completion, exploration, root widening, `restarts`), so
/// that a few dozen rounds finish games that exercise them.
pub fn small_config(games: usize, restarts: f64, leaf_updates: LeafUpdates) -> SelfPlayConfig {
    SelfPlayConfig {
        games,
        samples: 4,
        simulations: 4,
        leaves_per_game: 2,
        standard_basis_fraction: 0.5,
        complete_w: true,
        sampled_moves: 2,
        root_noise: Default::default(),
        sample_temperature: 1.0,
        explore: 2,
        explore_symmetric: 6,
        restarts,
        leaf_updates,
        mcts: MctsConfig::default(),
    }
}
