//! The torso (docs/design.md §3): three grids of cell features, each
//! projected to c channels with a learned embedding per cell, then
//! attentive-modes layers (each pair of grids side by side, one
//! transformer block along every row of 2S cells), a final layer norm, and
//! the cells laid out batch-major as the memory the heads read.

use super::config::ModelConfig;
use super::layers::*;
use super::params::{Init, ParamLayout};
use crate::engine::Backend;
use crate::game::GameConfig;
use anyhow::Result;

/// The pairs of grids the attentive-modes layers join, in order (docs/design.md §3).
const PAIRS: [(usize, usize); 3] = [(0, 1), (2, 0), (1, 2)];

/// One attentive-modes step: grid a beside the transpose of grid b, a
/// transformer block along every row of 2S cells, and the split back.
struct PairStep<B: Backend> {
    a: usize,
    b: usize,
    third: usize,
    /// Pair row → torso row (the gather that builds the pair).
    to_pair: B::Buf,
    /// Grid a / grid b row → pair row (the gathers that split it back).
    from_pair: [B::Buf; 2],
    pair: B::Buf,
    /// The pair block's output gradient, then (in place) its input's.
    dpair: B::Buf,
    block: Stack<B>,
    /// The torso after this step, and its gradient.
    out: B::Buf,
    dout: B::Buf,
}

pub struct Torso<B: Backend> {
    batch: usize,
    /// Cells per side of a grid (S).
    side: usize,
    channels: usize,
    features: usize,
    /// Encoded states, grid-major: [3][batch][S][S][cell features].
    pub(crate) states: B::Buf,
    input_proj: [Linear; 3],
    /// A learned embedding per grid cell: attention alone cannot tell cells
    /// apart, and the policy must know which cell a memory row is. It also
    /// keeps empty cells (all-zero inputs) off layer norm's zero-variance
    /// point, where gradients blow up.
    cell_emb: Param,
    x0: B::Buf,
    dx0: B::Buf,
    pairs: Vec<PairStep<B>>,
    final_norm: Norm<B>,
    dtorso: B::Buf,
    to_memory: B::Buf,
    from_memory: B::Buf,
    /// The torso's output, batch-major: [batch][3·S²][c].
    pub(crate) memory: B::Buf,
    /// The heads' gradient of the memory (both add into it).
    pub(crate) dmemory: B::Buf,
}

impl<B: Backend> Torso<B> {
    pub fn new(
        b: &mut B,
        layout: &mut ParamLayout,
        model: &ModelConfig,
        game: &GameConfig,
        batch: usize,
    ) -> Result<Self> {
        let c = model.channels;
        let s = game.grid();
        let g = s * s;
        let torso_rows = 3 * batch * g;
        let pair_rows = batch * s * 2 * s;
        let features = game.cell_features();
        let input_proj = [0, 1, 2]
            .map(|i| Linear::new(layout, &format!("torso.input{i}"), batch * g, features, c));
        let cell_emb = Param::new(
            layout,
            "torso.cell_embedding",
            &[3, g, c],
            Init::Normal(0.1),
        );
        let mut pairs = Vec::new();
        for l in 0..model.torso_layers {
            for (p, &(ga, gb)) in PAIRS.iter().enumerate() {
                let name = format!("torso.layer{l}.pair{p}");
                let rows_of_pairs = Sequences {
                    rows: pair_rows,
                    len: 2 * s,
                    channels: c,
                    heads: model.heads,
                    causal: false,
                };
                let layers = encoder_block(b, layout, &name, rows_of_pairs)?;
                let [to_pair, from_a, from_b] = pair_indices(b, batch, s, ga, gb)?;
                pairs.push(PairStep {
                    a: ga,
                    b: gb,
                    third: 3 - ga - gb,
                    to_pair,
                    from_pair: [from_a, from_b],
                    pair: b.alloc(pair_rows * c)?,
                    dpair: b.alloc(pair_rows * c)?,
                    block: Stack::new(layers),
                    out: b.alloc(torso_rows * c)?,
                    dout: b.alloc(torso_rows * c)?,
                });
            }
        }
        let final_norm = Norm::new(b, layout, "torso.norm", torso_rows, c)?;
        let [to_memory, from_memory] = memory_indices(b, batch, s)?;
        Ok(Torso {
            batch,
            side: s,
            channels: c,
            features,
            states: b.alloc(3 * batch * g * features)?,
            input_proj,
            cell_emb,
            x0: b.alloc(torso_rows * c)?,
            dx0: b.alloc(torso_rows * c)?,
            pairs,
            final_norm,
            dtorso: b.alloc(torso_rows * c)?,
            to_memory,
            from_memory,
            memory: b.alloc(torso_rows * c)?,
            dmemory: b.alloc(torso_rows * c)?,
        })
    }

    /// Rows of the torso: every cell of the three grids of every state.
    pub fn rows(&self) -> usize {
        3 * self.batch * self.side * self.side
    }

    fn grid_view(&self, b: &B, buf: &B::Buf, grid: usize) -> B::Buf {
        let rows = self.rows() / 3;
        b.view(buf, grid * rows * self.channels, rows * self.channels)
    }

    /// The torso on the loaded states, into the memory (batch-major rows).
    pub fn forward(&self, b: &mut B, w: &Weights<B>) {
        let c = self.channels;
        let features = self.features;
        let per_grid = self.rows() / 3;
        let cell_block = per_grid / self.batch * c;
        for (g, proj) in self.input_proj.iter().enumerate() {
            let x = b.view(&self.states, g * per_grid * features, per_grid * features);
            let y = self.grid_view(b, &self.x0, g);
            proj.forward(b, w, &x, &y);
            let emb = b.view(&self.cell_emb.value(b, w), g * cell_block, cell_block);
            b.bias_add(self.batch, cell_block, &y, &emb);
        }
        let mut torso = &self.x0;
        for p in &self.pairs {
            let pair_rows = b.len(&p.pair) / c;
            b.gather_rows(pair_rows, c, &p.to_pair, torso, &p.pair);
            p.block.forward(b, w, &p.pair, None);
            for (k, grid) in [p.a, p.b].into_iter().enumerate() {
                let dst = self.grid_view(b, &p.out, grid);
                b.gather_rows(per_grid, c, &p.from_pair[k], p.block.out(), &dst);
            }
            let (src, dst) = (
                self.grid_view(b, torso, p.third),
                self.grid_view(b, &p.out, p.third),
            );
            b.copy(per_grid * c, &src, &dst);
            torso = &p.out;
        }
        self.final_norm.forward(b, w, torso);
        b.gather_rows(
            self.rows(),
            c,
            &self.to_memory,
            &self.final_norm.y,
            &self.memory,
        );
    }

    /// From the memory's gradient (which the heads filled) down to the
    /// parameters: back through the final norm, the pair steps in reverse,
    /// and the input projections.
    pub fn backward(&self, b: &mut B, w: &Weights<B>) {
        let c = self.channels;
        let per_grid = self.rows() / 3;
        b.gather_rows(
            self.rows(),
            c,
            &self.from_memory,
            &self.dmemory,
            &self.dtorso,
        );
        let (last, dlast) = match self.pairs.last() {
            Some(p) => (&p.out, &p.dout),
            None => (&self.x0, &self.dx0),
        };
        b.fill(dlast, 0.0);
        self.final_norm
            .backward_into(b, w, last, &self.dtorso, dlast);
        for (i, p) in self.pairs.iter().enumerate().rev() {
            let dinput = match i {
                0 => &self.dx0,
                _ => &self.pairs[i - 1].dout,
            };
            let (src, dst) = (
                self.grid_view(b, &p.dout, p.third),
                self.grid_view(b, dinput, p.third),
            );
            b.copy(per_grid * c, &src, &dst);
            let pair_rows = b.len(&p.pair) / c;
            b.gather_rows(pair_rows, c, &p.to_pair, &p.dout, &p.dpair);
            p.block.backward(b, w, &p.pair, None, &p.dpair, None);
            for (k, grid) in [p.a, p.b].into_iter().enumerate() {
                let dst = self.grid_view(b, dinput, grid);
                b.gather_rows(per_grid, c, &p.from_pair[k], &p.dpair, &dst);
            }
        }
        let features = self.features;
        let cell_block = per_grid / self.batch * c;
        for (g, proj) in self.input_proj.iter().enumerate() {
            let x = b.view(&self.states, g * per_grid * features, per_grid * features);
            let dy = self.grid_view(b, &self.dx0, g);
            proj.backward(b, w, &x, &dy, None);
            let demb = b.view(&self.cell_emb.grad(b, w), g * cell_block, cell_block);
            b.bias_backward(self.batch, cell_block, &dy, &demb);
        }
    }
}

/// A buffer of `len` words holding `data()`; on a backend that only
/// counts, the data is never made (its tables grow with S², and sizing a
/// configuration must answer at once, whatever it would take).
fn upload_u32<B: Backend>(
    b: &mut B,
    len: usize,
    data: impl FnOnce() -> Vec<u32>,
) -> Result<B::Buf> {
    let buf = b.alloc(len)?;
    if !b.counts_only() {
        let values = data();
        debug_assert_eq!(values.len(), len);
        b.write_u32(&buf, &values);
    }
    Ok(buf)
}

/// Index maps of one pair step over the grid-major torso rows
/// ((g·batch + n)·S + x)·S + y: into the S×2S pair grid, and back out of
/// it to grids a and b.
fn pair_indices<B: Backend>(
    b: &mut B,
    batch: usize,
    s: usize,
    ga: usize,
    gb: usize,
) -> Result<[B::Buf; 3]> {
    let row =
        move |g: usize, n: usize, x: usize, y: usize| (((g * batch + n) * s + x) * s + y) as u32;
    let pair_row = move |n: usize, i: usize, j: usize| ((n * s + i) * 2 * s + j) as u32;
    let to_pair = upload_u32(b, batch * s * 2 * s, || {
        let mut to_pair = Vec::with_capacity(batch * s * 2 * s);
        for n in 0..batch {
            for i in 0..s {
                for j in 0..2 * s {
                    to_pair.push(if j < s {
                        row(ga, n, i, j)
                    } else {
                        row(gb, n, j - s, i)
                    });
                }
            }
        }
        to_pair
    })?;
    let from = |swap: bool| {
        move || {
            let mut from = Vec::with_capacity(batch * s * s);
            for n in 0..batch {
                for x in 0..s {
                    for y in 0..s {
                        from.push(if swap {
                            pair_row(n, y, s + x)
                        } else {
                            pair_row(n, x, y)
                        });
                    }
                }
            }
            from
        }
    };
    let from_a = upload_u32(b, batch * s * s, from(false))?;
    let from_b = upload_u32(b, batch * s * s, from(true))?;
    Ok([to_pair, from_a, from_b])
}

/// Torso rows (grid-major) to memory rows (batch-major: n, then g·S² + x·S + y), and back.
fn memory_indices<B: Backend>(b: &mut B, batch: usize, s: usize) -> Result<[B::Buf; 2]> {
    let g2 = s * s;
    let pairs = move || {
        (0..3).flat_map(move |g| {
            (0..batch).flat_map(move |n| {
                (0..g2).map(move |cell| ((g * batch + n) * g2 + cell, n * 3 * g2 + g * g2 + cell))
            })
        })
    };
    let to_mem = upload_u32(b, 3 * batch * g2, || {
        let mut to_mem = vec![0u32; 3 * batch * g2];
        for (torso, mem) in pairs() {
            to_mem[mem] = torso as u32;
        }
        to_mem
    })?;
    let from_mem = upload_u32(b, 3 * batch * g2, || {
        let mut from_mem = vec![0u32; 3 * batch * g2];
        for (torso, mem) in pairs() {
            from_mem[torso] = mem as u32;
        }
        from_mem
    })?;
    Ok([to_mem, from_mem])
}
