//! The imitation diagnosis (docs/design.md §5): a network that cannot play
//! back one game it trains on cannot learn from the games search finds.
//! The learner trains on one solved game alone (only best games in the
//! batch); every few steps the network plays greedily from the game's
//! target, and the diagnosis reports the learner step at which it first
//! plays the whole game back.

use super::greedy::GreedyPlayer;
use crate::engine::Backend;
use crate::game::{ActionEncoding, GameConfig};
use crate::model::{ModelConfig, Network};
use crate::train::{mixed_batch, BestGame, Demos, Mix, Replay};
use anyhow::{anyhow, Result};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// How the diagnosis trains.
#[derive(Clone, Debug)]
pub struct Imitation {
    pub model: ModelConfig,
    pub batch: usize,
    pub lr: f32,
    pub seed: u64,
    /// Learner steps before giving up.
    pub max_steps: u32,
    /// Learner steps between greedy plays.
    pub check_every: u32,
    /// The share of positions played back in the game's own order
    /// ([`Replay::best_in_order`]).
    pub in_order: f64,
}

/// What the diagnosis saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Imitated {
    /// The learner step of the first greedy play that solved the target
    /// in the game's rank (`None`: not within `max_steps`).
    pub at_step: Option<u32>,
    /// The last learner step's policy loss.
    pub policy_loss: f32,
}

/// Trains a fresh network on `best` alone until its greedy play solves
/// `best.tensor` in `best.rank` moves.
pub fn steps_to_imitate<B: Backend>(
    b: &mut B,
    game: &GameConfig,
    best: &BestGame,
    cfg: &Imitation,
) -> Result<Imitated> {
    best.check(game)
        .map_err(|e| anyhow!("the game to imitate: {e}"))?;
    let encoding = ActionEncoding::default_for(game.shape, game.field);
    let mut net = Network::new(
        b,
        cfg.model.clone(),
        game.clone(),
        encoding.clone(),
        cfg.batch,
        cfg.seed,
    )?;
    let mut player = GreedyPlayer::new(b, &net)?;
    let mut replay = Replay::new(1, 1);
    replay.best_in_order = cfg.in_order;
    replay.offer_best(best.clone());
    let only_best = Mix {
        demonstrations: 0.0,
        played: 0.0,
        best: 1.0,
    };
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut policy_loss = f32::NAN;
    while net.step < cfg.max_steps {
        let (batch, _) = mixed_batch(
            &mut rng,
            game,
            &encoding,
            &replay,
            &only_best,
            cfg.batch,
            Demos {
                max_rank: game.max_steps,
                orbit: 0.0,
            },
        );
        policy_loss = net.train_step(b, &batch, cfg.lr)?.policy_loss;
        if net.step % cfg.check_every.max(1) == 0
            && player.solves_within(b, &best.tensor, best.rank)?
        {
            return Ok(Imitated {
                at_step: Some(net.step),
                policy_loss,
            });
        }
    }
    Ok(Imitated {
        at_step: None,
        policy_loss,
    })
}
