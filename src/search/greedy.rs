//! The network playing alone: from a target, each move is the policy's
//! most likely action (greedy decoding, no tree search), until the residual
//! is zero, the step limit is reached, or the policy proposes a null or
//! undecodable action. It measures what the network itself has learned:
//! the imitation diagnosis (docs/design.md §5) holds it against one game.

use crate::engine::Backend;
use crate::game::action::{canonicalise, is_null};
use crate::game::GameConfig;
use crate::model::inference::GREEDY_TEMPERATURE;
use crate::model::{Evaluator, Network};
use anyhow::Result;

/// How a greedy game ended.
#[derive(Clone, Debug, PartialEq)]
pub struct GreedyGame {
    pub actions: Vec<Vec<i32>>,
    /// The residual reached zero.
    pub solved: bool,
}

pub struct GreedyPlayer<B: Backend> {
    evaluator: Evaluator<B>,
    game: GameConfig,
    states: Vec<f32>,
    scratch: Vec<f32>,
}

impl<B: Backend> GreedyPlayer<B> {
    /// A player reading the newest weights of `learner`.
    pub fn new(b: &mut B, learner: &Network<B>) -> Result<Self> {
        let mut evaluator = Evaluator::new(b, learner, 1, 1)?;
        evaluator.temperature = GREEDY_TEMPERATURE;
        let game = learner.game.clone();
        Ok(GreedyPlayer {
            states: vec![0.0; game.state_features()],
            scratch: vec![0.0; game.state_features()],
            evaluator,
            game,
        })
    }

    /// Plays from `tensor` until solved, stuck or at the step limit.
    pub fn play(&mut self, b: &mut B, tensor: &[i32]) -> Result<GreedyGame> {
        let mut residual = tensor.to_vec();
        let mut history = vec![vec![0; self.game.action_len()]; self.game.history];
        let mut actions = Vec::new();
        while residual.iter().any(|&x| x != 0) && actions.len() < self.game.max_steps {
            let Some(action) = self.choose(b, &residual, &history, actions.len())? else {
                break;
            };
            self.game.play(&mut residual, &mut history, &action);
            actions.push(action);
        }
        Ok(GreedyGame {
            solved: residual.iter().all(|&x| x == 0),
            actions,
        })
    }

    /// Whether a greedy game from `tensor` solves it in at most `rank` moves.
    pub fn solves_within(&mut self, b: &mut B, tensor: &[i32], rank: usize) -> Result<bool> {
        let played = self.play(b, tensor)?;
        Ok(played.solved && played.actions.len() <= rank)
    }

    /// The policy's most likely action at one state, canonicalised; none
    /// when it proposes a null or undecodable action.
    pub fn choose(
        &mut self,
        b: &mut B,
        residual: &[i32],
        history: &[Vec<i32>],
        step: usize,
    ) -> Result<Option<Vec<i32>>> {
        let game = &self.game;
        game.encode_into_batch(
            residual,
            history,
            step,
            0,
            1,
            &mut self.scratch,
            &mut self.states,
        );
        // The uniforms do not matter at this temperature; one half keeps the
        // draw away from the CDF's edges.
        let uniforms = vec![0.5; self.evaluator.uniforms_len()];
        let out = self.evaluator.evaluate(b, &self.states, &uniforms)?;
        let Ok(mut action) = self.evaluator.net.encoding.decode(&out.tokens) else {
            return Ok(None);
        };
        if is_null(game.dims, &action) {
            return Ok(None);
        }
        canonicalise(game.field, game.dims, &mut action);
        Ok(Some(action))
    }
}
