//! Batches of synthetic demonstrations for supervised training (docs/design.md §4).

use crate::game::{random_demonstration, ActionEncoding, Example, GameConfig};
use crate::model::Batch;
use rand::Rng;

/// Probability that a demonstration factor's coefficient is zero.
pub const P_ZERO: f64 = 0.7;

/// `size` positions, each from a fresh random demonstration of a random
/// rank in 1..=max_rank, at a random step of it.
pub fn synthetic_batch<R: Rng>(
    rng: &mut R,
    game: &GameConfig,
    encoding: &ActionEncoding,
    size: usize,
    max_rank: usize,
) -> Batch {
    let examples: Vec<Example> = (0..size)
        .map(|_| demonstration_example(rng, game, max_rank))
        .collect();
    batch_of(game, encoding, &examples)
}

/// One position of a fresh random demonstration of a random rank in
/// 1..=max_rank, at a random step of it.
pub fn demonstration_example<R: Rng>(rng: &mut R, game: &GameConfig, max_rank: usize) -> Example {
    let rank = rng.random_range(1..=max_rank.max(1));
    random_demonstration(rng, game, rank, P_ZERO).random_example(rng, game)
}

/// The synthetic demonstrations a training batch draws: ranks
/// 1..=max_rank, a fraction `orbit` of them sums of terms of the standard
/// algorithm's orbit under T's symmetries
/// ([`crate::game::symmetry::orbit_demonstration`]), the rest random
/// sparse factors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Demos {
    pub max_rank: usize,
    pub orbit: f64,
}

impl Demos {
    pub fn example<R: Rng>(&self, rng: &mut R, game: &GameConfig) -> Example {
        if self.orbit > 0.0 && rng.random_bool(self.orbit.min(1.0)) {
            let rank = rng.random_range(1..=self.max_rank.max(1));
            crate::game::symmetry::orbit_demonstration(rng, game, rank).random_example(rng, game)
        } else {
            demonstration_example(rng, game, self.max_rank)
        }
    }
}

/// Encodes examples into a batch: states grid-major across the batch.
pub fn batch_of(game: &GameConfig, encoding: &ActionEncoding, examples: &[Example]) -> Batch {
    let n = examples.len();
    let per_state = game.state_features();
    let mut one = vec![0.0f32; per_state];
    let mut states = vec![0.0f32; n * per_state];
    let mut targets = Vec::with_capacity(n * encoding.n_tokens());
    let mut values = Vec::with_capacity(n);
    for (i, e) in examples.iter().enumerate() {
        game.encode_into_batch(&e.residual, &e.history, e.step, i, n, &mut one, &mut states);
        targets.extend(
            encoding
                .encode(&e.action)
                .expect("demonstration factors are in the coefficient set"),
        );
        values.push(e.value);
    }
    Batch {
        states,
        targets,
        values,
    }
}
