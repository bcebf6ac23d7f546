//! Game records: what acting produces and learning consumes, as plain
//! values (the seam between actors and the learner). They live below both
//! `search` and `train`.

use crate::problem::Decomposition;

/// One move of a played game: the state, and the improved policy over the
/// root's candidate actions.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Move {
    pub residual: Vec<i32>,
    pub history: Vec<Vec<i32>>,
    pub step: usize,
    pub policy: Vec<(Vec<i32>, f32)>,
}

/// A finished game, in the basis it was played in.
#[derive(Clone, Debug)]
pub struct FinishedGame {
    /// The game's target: T in its basis.
    pub tensor: Vec<i32>,
    pub moves: Vec<Move>,
    /// The actions played, in order.
    pub actions: Vec<Vec<i32>>,
    /// Value of the final state: 0 when solved, −γ(S) otherwise.
    pub final_value: f64,
    /// When solved: the decomposition mapped back to the standard basis,
    /// verified exactly in the game's field.
    pub found: Option<Decomposition>,
}

impl FinishedGame {
    /// The return observed from move `t` on: −1 per remaining step plus
    /// the final value.
    pub fn return_from(&self, t: usize) -> f32 {
        (self.final_value - (self.actions.len() - t) as f64) as f32
    }

    /// The return of the whole game (−rank when solved).
    pub fn total_return(&self) -> f32 {
        self.return_from(0)
    }
}
