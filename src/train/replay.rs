//! What the learner trains on besides synthetic demonstrations (docs/design.md §4):
//! recently played games (targets: an action drawn from the MCTS improved
//! policy, and the observed return) and the best games found so far
//! (played back like demonstrations, in a random factor order).
//!
//! Why one drawn action per state rather than the sampled actions weighted
//! by the improved policy: the policy is an autoregressive decoder, so the
//! cross-entropy against a distribution over whole actions is a sum of
//! teacher-forced sequences, one per action. Drawing one action per state
//! per batch is an unbiased estimate of that sum at the cost of one
//! sequence, and it uses the training step as it is.

use super::batch::{batch_of, Demos};
use crate::game::record::FinishedGame;
use crate::game::{ActionEncoding, Demonstration, Example, GameConfig};
use crate::model::Batch;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// A solved game kept for training: its target in the basis it was played
/// in, and the factors played.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestGame {
    pub rank: usize,
    pub tensor: Vec<i32>,
    pub actions: Vec<Vec<i32>>,
}

impl BestGame {
    /// Whether this record is a solved game of `game`: a tensor of the
    /// game's size, `rank` actions of the right length with coefficients
    /// in the game's set, nonzero, whose rank-one terms sum to the tensor
    /// exactly. What a checkpoint hands back is checked by this before the
    /// learner trains on it.
    pub fn check(&self, game: &GameConfig) -> Result<(), String> {
        let [a, b, c] = game.dims;
        if self.tensor.len() != a * b * c {
            return Err(format!(
                "its tensor has {} entries, not {}",
                self.tensor.len(),
                a * b * c
            ));
        }
        if self.tensor.iter().any(|x| x.abs() > 1 << 16) {
            return Err("its tensor has entries out of range".into());
        }
        if self.actions.len() != self.rank || self.rank == 0 || self.rank > game.max_steps {
            return Err(format!(
                "it claims rank {} with {} actions",
                self.rank,
                self.actions.len()
            ));
        }
        let set = crate::game::action::coefficient_set(game.field);
        let mut residual: Vec<i32> = self.tensor.iter().map(|&x| game.reduce(x)).collect();
        for (i, action) in self.actions.iter().enumerate() {
            if action.len() != game.action_len() || action.iter().any(|x| !set.contains(x)) {
                return Err(format!("action {i} is not an action of this game"));
            }
            if crate::game::action::is_null(game.dims, action) {
                return Err(format!("action {i} has a zero factor"));
            }
            game.subtract(&mut residual, action);
        }
        if residual.iter().any(|&x| x != 0) {
            return Err("its actions do not sum to its tensor".into());
        }
        Ok(())
    }
}

/// Shares of a training batch: synthetic demonstrations, played games,
/// best games. A share whose buffer is empty goes to demonstrations.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mix {
    pub demonstrations: f64,
    pub played: f64,
    pub best: f64,
}

impl std::str::FromStr for Mix {
    type Err = String;
    /// `D,P,B`, e.g. `0.5,0.3,0.2` (normalised).
    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<f64> = text
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("'{text}' is not three shares like 0.5,0.3,0.2"))?;
        let sum: f64 = parts.iter().sum();
        if parts.len() != 3 || parts.iter().any(|x| !(*x >= 0.0 && x.is_finite())) || sum <= 0.0 {
            return Err(format!(
                "'{text}': give three non-negative shares (demonstrations, played, best) with a positive sum"
            ));
        }
        Ok(Mix {
            demonstrations: parts[0] / sum,
            played: parts[1] / sum,
            best: parts[2] / sum,
        })
    }
}

pub struct Replay {
    played: VecDeque<FinishedGame>,
    played_capacity: usize,
    pub best: Vec<BestGame>,
    best_capacity: usize,
    /// The share of best-game positions played back in the game's own
    /// order rather than a random one: a game of rank R then shows R
    /// positions to learn, where random orders show up to 2^R residuals.
    pub best_in_order: f64,
    /// When set, the share of best-game draws that go to games of the
    /// standard target T (the rest to games in changed bases) whenever
    /// both kinds are kept. None: every kept game of the lowest rank alike.
    pub standard_share: Option<StandardShare>,
}

/// The games of one target (T in the standard basis) and the share of
/// best-game draws they take: the actors' own share of games from T, so
/// the learner sees a scheme's standard view as often as the actors play
/// it.
#[derive(Clone, Debug, PartialEq)]
pub struct StandardShare {
    pub target: Vec<i32>,
    pub share: f64,
}

impl Replay {
    pub fn new(played_capacity: usize, best_capacity: usize) -> Self {
        Replay {
            played: VecDeque::new(),
            played_capacity: played_capacity.max(1),
            best: Vec::new(),
            best_capacity: best_capacity.max(1),
            best_in_order: 0.0,
            standard_share: None,
        }
    }

    pub fn played_len(&self) -> usize {
        self.played.len()
    }

    /// Keeps a finished game (the oldest leaves when full); a solved one is
    /// also offered to the best games.
    pub fn add(&mut self, game: FinishedGame) {
        if game.found.is_some() {
            self.offer_best(BestGame {
                rank: game.actions.len(),
                tensor: game.tensor.clone(),
                actions: game.actions.clone(),
            });
        }
        if game.moves.is_empty() {
            return;
        }
        if self.played.len() == self.played_capacity {
            self.played.pop_front();
        }
        self.played.push_back(game);
    }

    /// Keeps the lowest-rank games; among equal ranks the newest win.
    pub fn offer_best(&mut self, game: BestGame) {
        if self.best.len() == self.best_capacity {
            let worst = (0..self.best.len())
                .max_by_key(|&i| (self.best[i].rank, std::cmp::Reverse(i)))
                .expect("a full buffer");
            if self.best[worst].rank < game.rank {
                return;
            }
            self.best.remove(worst);
        }
        self.best.push(game);
    }

    /// A position of a played game. Half the time the game's own state
    /// with an action drawn from its improved policy; else its factors in
    /// a random order (docs/design.md §4), the next factor as the target. The value
    /// target is the observed return from there.
    pub fn played_example<R: Rng>(&self, rng: &mut R, cfg: &GameConfig) -> Option<Example> {
        if self.played.is_empty() {
            return None;
        }
        let g = &self.played[rng.random_range(0..self.played.len())];
        let t = rng.random_range(0..g.moves.len());
        if rng.random_bool(0.5) {
            let m = &g.moves[t];
            let mut u: f32 = rng.random();
            let mut action = &m.policy.last()?.0;
            for (a, p) in &m.policy {
                if u < *p {
                    action = a;
                    break;
                }
                u -= p;
            }
            return Some(Example {
                residual: m.residual.clone(),
                history: m.history.clone(),
                step: m.step,
                action: action.clone(),
                value: g.return_from(t),
            });
        }
        let mut order: Vec<&Vec<i32>> = g.actions.iter().collect();
        order.shuffle(rng);
        let mut residual = g.tensor.clone();
        for a in &order[..t] {
            cfg.subtract(&mut residual, a);
        }
        let history = (1..=cfg.history)
            .map(|back| {
                t.checked_sub(back)
                    .map_or_else(|| vec![0; cfg.action_len()], |s| order[s].clone())
            })
            .collect();
        Some(Example {
            residual,
            history,
            step: t,
            action: order[t].clone(),
            value: g.return_from(t),
        })
    }

    /// A position of one of the games of the lowest rank kept, played back
    /// in a random order. Only the lowest rank: a first rank-7 game among
    /// 63 of rank 8 would otherwise be one draw in 64, and the learner
    /// would go on imitating rank 8.
    pub fn best_example<R: Rng>(&self, rng: &mut R, cfg: &GameConfig) -> Option<Example> {
        let lowest = self.best.iter().map(|g| g.rank).min()?;
        let mut games: Vec<&BestGame> = self.best.iter().filter(|g| g.rank == lowest).collect();
        if let Some(standard) = &self.standard_share {
            let (of_t, changed): (Vec<&BestGame>, Vec<&BestGame>) =
                games.iter().partition(|g| g.tensor == standard.target);
            if !of_t.is_empty() && !changed.is_empty() {
                games = if rng.random_bool(standard.share.clamp(0.0, 1.0)) {
                    of_t
                } else {
                    changed
                };
            }
        }
        let g = games[rng.random_range(0..games.len())];
        let demo = Demonstration {
            tensor: g.tensor.clone(),
            factors: g.actions.clone(),
        };
        if self.best_in_order > 0.0 && rng.random_bool(self.best_in_order.min(1.0)) {
            return Some(demo.example_in_order(rng, cfg));
        }
        let mut all = demo.examples(rng, cfg);
        let pick = rng.random_range(0..all.len());
        Some(all.swap_remove(pick))
    }
}

/// Which source each position of a batch came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MixCounts {
    pub demonstrations: usize,
    pub played: usize,
    pub best: usize,
}

/// A training batch drawn by `mix` (empty sources fall back to synthetic
/// demonstrations).
pub fn mixed_batch<R: Rng>(
    rng: &mut R,
    cfg: &GameConfig,
    encoding: &ActionEncoding,
    replay: &Replay,
    mix: &Mix,
    size: usize,
    demos: Demos,
) -> (Batch, MixCounts) {
    let mut counts = MixCounts::default();
    let examples: Vec<Example> = (0..size)
        .map(|_| {
            let u: f64 = rng.random();
            let drawn = if u < mix.played {
                replay
                    .played_example(rng, cfg)
                    .inspect(|_| counts.played += 1)
            } else if u < mix.played + mix.best {
                replay.best_example(rng, cfg).inspect(|_| counts.best += 1)
            } else {
                None
            };
            drawn.unwrap_or_else(|| {
                counts.demonstrations += 1;
                demos.example(rng, cfg)
            })
        })
        .collect();
    (batch_of(cfg, encoding, &examples), counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::random_demonstration;
    use crate::problem::{Field, Shape};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// In-order play-back shows a game's own positions: after t moves the
    /// residual is the tensor less its first t actions, the last action is
    /// in the history and action t is the target. Random orders show
    /// others.
    #[test]
    fn best_games_in_order_show_the_games_own_positions() {
        let game = GameConfig::new(Shape::new(2, 3, 2).unwrap(), Field::Z, 1, 9);
        let mut rng = StdRng::seed_from_u64(5);
        let demo = random_demonstration(&mut rng, &game, 9, 0.5);
        let best = BestGame {
            rank: 9,
            tensor: demo.tensor.clone(),
            actions: demo.factors.clone(),
        };
        best.check(&game).unwrap();
        let mut replay = Replay::new(1, 1);
        replay.offer_best(best.clone());
        let own_position = |e: &Example| {
            let mut residual = best.tensor.clone();
            for a in &best.actions[..e.step] {
                game.subtract(&mut residual, a);
            }
            let last = match e.step {
                0 => vec![0; game.action_len()],
                t => best.actions[t - 1].clone(),
            };
            e.residual == residual && e.history[0] == last && e.action == best.actions[e.step]
        };
        for share in [1.0, 0.0] {
            replay.best_in_order = share;
            let drawn: Vec<Example> = (0..300)
                .map(|_| replay.best_example(&mut rng, &game).unwrap())
                .collect();
            let own = drawn.iter().filter(|e| own_position(e)).count();
            if share == 1.0 {
                assert_eq!(own, drawn.len());
                let steps: std::collections::HashSet<usize> =
                    drawn.iter().map(|e| e.step).collect();
                assert_eq!(steps.len(), 9, "every position is drawn");
            } else {
                assert!(
                    own < drawn.len() / 2,
                    "random orders: {own} of 300 in order"
                );
            }
        }
    }

    /// With a standard share, the games of T take that share of the draws
    /// whatever the number of changed-basis views beside them; without,
    /// every game alike. With no changed view, T's games take every draw.
    #[test]
    fn the_standard_target_takes_its_share_of_best_games() {
        let game = GameConfig::new(Shape::new(2, 2, 2).unwrap(), Field::Z2, 1, 8);
        let mut rng = StdRng::seed_from_u64(3);
        // Rank-one games: a drawn position's residual is its game's tensor.
        let games: Vec<BestGame> = (0..4)
            .map(|_| {
                let d = random_demonstration(&mut rng, &game, 1, 0.5);
                BestGame {
                    rank: 1,
                    tensor: d.tensor,
                    actions: d.factors,
                }
            })
            .collect();
        let t = games[0].tensor.clone();
        assert!(games[1..].iter().all(|g| g.tensor != t));
        let share_of_t = |replay: &Replay, rng: &mut StdRng| {
            let n = 4000;
            let of_t = (0..n)
                .filter(|_| replay.best_example(rng, &game).unwrap().residual == t)
                .count();
            of_t as f64 / n as f64
        };
        let mut replay = Replay::new(1, 8);
        for g in &games {
            replay.offer_best(g.clone());
        }
        let uniform = share_of_t(&replay, &mut rng);
        assert!((uniform - 0.25).abs() < 0.03, "{uniform}");
        replay.standard_share = Some(StandardShare {
            target: t.clone(),
            share: 0.75,
        });
        let weighted = share_of_t(&replay, &mut rng);
        assert!((weighted - 0.75).abs() < 0.03, "{weighted}");
        let mut only_t = Replay::new(1, 8);
        only_t.offer_best(games[0].clone());
        only_t.standard_share = Some(StandardShare {
            target: t.clone(),
            share: 0.1,
        });
        assert_eq!(share_of_t(&only_t, &mut rng), 1.0);
    }
}
