//! The game's dimensions and the state encoding fed to the network: the
//! residual and the rank-one tensors of the last h actions (h + 1
//! channels), padded to S = max dimension per mode, seen as three grids
//! (docs/design.md §3), plus the scalar step / R_limit.

use crate::problem::{Field, Shape};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GameConfig {
    pub shape: Shape,
    pub field: Field,
    /// Tensor dimensions (nm, mp, np).
    pub dims: [usize; 3],
    /// Actions of history fed to the network (h).
    pub history: usize,
    /// The step limit R_limit.
    pub max_steps: usize,
}

impl GameConfig {
    pub fn new(shape: Shape, field: Field, history: usize, max_steps: usize) -> Self {
        GameConfig {
            shape,
            field,
            dims: shape.factor_lens(),
            history,
            max_steps,
        }
    }

    /// S: the padded size of every mode.
    pub fn grid(&self) -> usize {
        *self.dims.iter().max().expect("three dims")
    }

    pub fn action_len(&self) -> usize {
        self.dims.iter().sum()
    }

    /// Features of one grid cell: S per channel, then the scalar.
    pub fn cell_features(&self) -> usize {
        self.grid() * (self.history + 1) + 1
    }

    /// Words of one encoded state: three S×S grids of cell features.
    pub fn state_features(&self) -> usize {
        3 * self.grid() * self.grid() * self.cell_features()
    }

    pub fn reduce(&self, x: i32) -> i32 {
        if self.field == Field::Z2 {
            x.rem_euclid(2)
        } else {
            x
        }
    }

    /// One move: the residual less the action's term, and the action first
    /// in the history (the oldest action leaves it).
    pub fn play(&self, residual: &mut [i32], history: &mut Vec<Vec<i32>>, action: &[i32]) {
        self.subtract(residual, action);
        if !history.is_empty() {
            history.pop();
            history.insert(0, action.to_vec());
        }
    }

    /// tensor ← tensor − u⊗v⊗w for an action u‖v‖w.
    pub fn subtract(&self, tensor: &mut [i32], action: &[i32]) {
        let [la, lb, lc] = self.dims;
        let (u, rest) = action.split_at(la);
        let (v, w) = rest.split_at(lb);
        for i in 0..la {
            for j in 0..lb {
                for k in 0..lc {
                    let x = &mut tensor[(i * lb + j) * lc + k];
                    *x = self.reduce(*x - u[i] * v[j] * w[k]);
                }
            }
        }
    }

    /// The encoding's scalar feature: step / R_limit.
    pub fn step_scalar(&self, step: usize) -> f32 {
        step as f32 / self.max_steps as f32
    }

    /// Words of [`GameConfig::history_words`]: h actions and the scalar.
    pub fn history_words_len(&self) -> usize {
        self.history * self.action_len() + 1
    }

    /// A state's history as the device encoding reads it
    /// (`engine::EncodeSpec`): the last h actions, most recent first, zero
    /// where the game is younger, then the step scalar's f32 bits.
    pub fn history_words(&self, history: &[Vec<i32>], step: usize, out: &mut [i32]) {
        let a = self.action_len();
        out[..self.history * a].fill(0);
        for (t, action) in history.iter().take(self.history).enumerate() {
            out[t * a..(t + 1) * a].copy_from_slice(action);
        }
        out[self.history * a] = self.step_scalar(step).to_bits() as i32;
    }

    /// Encodes one state into slot `slot` of a batch of `batch` states laid
    /// out grid-major across the batch ([3][batch][S][S][F], as the network
    /// reads them); `scratch` holds one state.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_into_batch(
        &self,
        residual: &[i32],
        history: &[Vec<i32>],
        step: usize,
        slot: usize,
        batch: usize,
        scratch: &mut [f32],
        out: &mut [f32],
    ) {
        self.encode(residual, history, step, scratch);
        let per_grid = self.state_features() / 3;
        for g in 0..3 {
            let dst = (g * batch + slot) * per_grid;
            out[dst..dst + per_grid].copy_from_slice(&scratch[g * per_grid..(g + 1) * per_grid]);
        }
    }

    /// The three grids of one state, grid-major: grid g, cell (x, y),
    /// feature f at `((g·S + x)·S + y)·F + f`. Grid 1 is indexed by (i, j)
    /// with features along k, grid 2 by (j, k) along i, grid 3 by (k, i)
    /// along j; channel c of a cell occupies features [c·S, (c+1)·S).
    /// Channel 0 is the residual, channel t the t-th most recent action.
    pub fn encode(&self, residual: &[i32], history: &[Vec<i32>], step: usize, out: &mut [f32]) {
        let s = self.grid();
        let f = self.cell_features();
        let [la, lb, lc] = self.dims;
        out[..self.state_features()].fill(0.0);
        let mut put = |channel: usize, i: usize, j: usize, k: usize, x: f32| {
            // (grid, cell x, cell y, position along the feature axis)
            for (g, cx, cy, pos) in [(0, i, j, k), (1, j, k, i), (2, k, i, j)] {
                out[((g * s + cx) * s + cy) * f + channel * s + pos] = x;
            }
        };
        for i in 0..la {
            for j in 0..lb {
                for k in 0..lc {
                    let r = residual[(i * lb + j) * lc + k];
                    if r != 0 {
                        put(0, i, j, k, r as f32);
                    }
                }
            }
        }
        for (t, action) in history.iter().take(self.history).enumerate() {
            let (u, rest) = action.split_at(la);
            let (v, w) = rest.split_at(lb);
            for (i, &ui) in u.iter().enumerate() {
                for (j, &vj) in v.iter().enumerate() {
                    for (k, &wk) in w.iter().enumerate() {
                        if ui * vj * wk != 0 {
                            put(t + 1, i, j, k, (ui * vj * wk) as f32);
                        }
                    }
                }
            }
        }
        let scalar = self.step_scalar(step);
        for cell in 0..3 * s * s {
            out[cell * f + f - 1] = scalar;
        }
    }
}
