//! The whole network for a fixed game and batch size: torso with
//! attentive-modes axial attention, autoregressive policy decoder, quantile
//! value head, their losses, and one training step (forward, backward,
//! AdamW) recorded for the device in one go.

use super::config::ModelConfig;
use super::layers::*;
use super::params::{Init, ParamLayout};
use crate::engine::*;
use crate::game::{ActionEncoding, GameConfig};
use anyhow::{bail, Result};

/// One training batch, as the host prepares it.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Encoded states, grid-major: [3][batch][S][S][cell features].
    pub states: Vec<f32>,
    /// Target action tokens, [batch][tokens].
    pub targets: Vec<u32>,
    /// Value targets (returns), [batch].
    pub values: Vec<f32>,
}

/// Losses and accuracy of one step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepStats {
    pub policy_loss: f32,
    pub value_loss: f32,
    /// Fraction of target tokens that are the policy's top-1.
    pub token_accuracy: f32,
}

impl StepStats {
    pub fn is_finite(&self) -> bool {
        self.policy_loss.is_finite() && self.value_loss.is_finite()
    }
}

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

pub struct Network<B: Backend> {
    pub model: ModelConfig,
    pub game: GameConfig,
    pub encoding: ActionEncoding,
    pub batch: usize,
    /// Decoder sequences per state: 1 for training, K for sampling actions.
    pub samples: usize,
    pub layout: ParamLayout,
    pub weights: Weights<B>,
    /// AdamW's decoupled weight decay, on linear weights only (docs/design.md §3:
    /// none on norms, biases and embeddings). 0 by default.
    pub weight_decay: f32,
    /// 1 for each parameter word the decay applies to, else 0.
    decay_mask: B::Buf,
    pub(crate) adam_m: B::Buf,
    pub(crate) adam_v: B::Buf,
    pub step: u32,
    // Torso.
    states: B::Buf,
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
    memory: B::Buf,
    dmemory: B::Buf,
    // Policy.
    tok_emb: Param,
    pos_emb: Param,
    tokens_in: B::Buf,
    positions: B::Buf,
    pos_index: TokenIndex<B::Buf>,
    token_index: TokenIndex<B::Buf>,
    emb_tok: B::Buf,
    emb_pos: B::Buf,
    x_dec: B::Buf,
    decoder: Stack<B>,
    dec_norm: Norm<B>,
    ddec_norm: B::Buf,
    ddec_out: B::Buf,
    logits_proj: Linear,
    pub logits: B::Buf,
    targets: B::Buf,
    token_weights: B::Buf,
    xent_loss: B::Buf,
    dlogits: B::Buf,
    correct: B::Buf,
    /// Mean policy loss, mean value loss and token accuracy: one read.
    stats: B::Buf,
    // Value.
    pooled: B::Buf,
    dpooled: B::Buf,
    value_mlp: Mlp<B>,
    quantiles: B::Buf,
    value_targets: B::Buf,
    value_loss: B::Buf,
    dquantiles: B::Buf,
}

impl<B: Backend> Network<B> {
    /// Builds the network and its buffers for training on `batch` states;
    /// parameters start from `seed`.
    pub fn new(
        b: &mut B,
        model: ModelConfig,
        game: GameConfig,
        encoding: ActionEncoding,
        batch: usize,
        seed: u64,
    ) -> Result<Self> {
        Self::build(b, model, game, encoding, batch, 1, seed)
    }

    /// Builds the network for `batch` states whose decoder carries `samples`
    /// sequences per state (the cross-attention memory is shared by them).
    /// The parameter layout does not depend on `batch` or `samples`.
    pub fn build(
        b: &mut B,
        model: ModelConfig,
        game: GameConfig,
        encoding: ActionEncoding,
        batch: usize,
        samples: usize,
        seed: u64,
    ) -> Result<Self> {
        model.check()?;
        if batch == 0 || samples == 0 {
            bail!("the batch size and the samples per state must be at least 1");
        }
        let c = model.channels;
        let s = game.grid();
        let g = s * s;
        let torso_rows = 3 * batch * g;
        let pair_rows = batch * s * 2 * s;
        let t = encoding.n_tokens();
        let vocab = encoding.vocab_size();
        let dec_rows = batch * samples * t;
        let mut layout = ParamLayout::default();
        let features = game.cell_features();

        let input_proj = [0, 1, 2].map(|i| {
            Linear::new(
                &mut layout,
                &format!("torso.input{i}"),
                batch * g,
                features,
                c,
            )
        });
        let cell_emb = Param::new(
            &mut layout,
            "torso.cell_embedding",
            &[3, g, c],
            Init::Normal(0.1),
        );
        let mut pairs = Vec::new();
        for l in 0..model.torso_layers {
            for (p, &(ga, gb)) in PAIRS.iter().enumerate() {
                let name = format!("torso.layer{l}.pair{p}");
                let layers = encoder_block(
                    b,
                    &mut layout,
                    &name,
                    pair_rows,
                    2 * s,
                    c,
                    model.heads,
                    false,
                )?;
                let block = Stack::new(layers);
                let [to_pair, from_a, from_b] = pair_indices(b, batch, s, ga, gb)?;
                pairs.push(PairStep {
                    a: ga,
                    b: gb,
                    third: 3 - ga - gb,
                    to_pair,
                    from_pair: [from_a, from_b],
                    pair: b.alloc(pair_rows * c)?,
                    dpair: b.alloc(pair_rows * c)?,
                    block,
                    out: b.alloc(torso_rows * c)?,
                    dout: b.alloc(torso_rows * c)?,
                });
            }
        }
        let final_norm = Norm::new(b, &mut layout, "torso.norm", torso_rows, c)?;
        let [to_memory, from_memory] = memory_indices(b, batch, s)?;

        let tok_emb = Param::new(
            &mut layout,
            "policy.token_embedding",
            &[vocab + 1, c],
            Init::Normal(0.02),
        );
        let pos_emb = Param::new(
            &mut layout,
            "policy.position_embedding",
            &[t, c],
            Init::Normal(0.02),
        );
        let mut dec_layers = Vec::new();
        for l in 0..model.decoder_layers {
            let name = format!("policy.layer{l}");
            let n1 = Norm::new(b, &mut layout, &format!("{name}.norm1"), dec_rows, c)?;
            let self_attn = Attention::new_self(
                b,
                &mut layout,
                &format!("{name}.self"),
                dec_rows,
                t,
                c,
                model.heads,
                true,
            )?;
            dec_layers.push(Residual::new(b, n1, Inner::Attention(self_attn))?);
            let n2 = Norm::new(b, &mut layout, &format!("{name}.norm2"), dec_rows, c)?;
            let cross = Attention::new_cross(
                b,
                &mut layout,
                &format!("{name}.cross"),
                batch,
                samples * t,
                3 * g,
                c,
                model.heads,
            )?;
            dec_layers.push(Residual::new(b, n2, Inner::Attention(cross))?);
            let n3 = Norm::new(b, &mut layout, &format!("{name}.norm3"), dec_rows, c)?;
            let mlp = Mlp::new(
                b,
                &mut layout,
                &format!("{name}.mlp"),
                dec_rows,
                c,
                model.mlp(),
                c,
            )?;
            dec_layers.push(Residual::new(b, n3, Inner::Mlp(mlp))?);
        }
        if dec_layers.is_empty() {
            bail!("the policy needs at least one decoder layer");
        }
        let decoder = Stack::new(dec_layers);
        let dec_norm = Norm::new(b, &mut layout, "policy.norm", dec_rows, c)?;
        let logits_proj = Linear::new(&mut layout, "policy.logits", dec_rows, c, vocab);
        let value_mlp = Mlp::new(
            b,
            &mut layout,
            "value.mlp",
            batch,
            c,
            model.value_hidden,
            model.quantiles,
        )?;

        let weights = Weights {
            params: b.alloc(layout.total)?,
            grads: b.alloc(layout.total)?,
        };
        if !b.counts_only() {
            b.write_f32(&weights.params, &layout.initial_values(seed));
        }
        let positions: Vec<u32> = (0..dec_rows).map(|r| (r % t) as u32).collect();
        let positions_buf = b.alloc(dec_rows)?;
        b.write_u32(&positions_buf, &positions);
        let pos_index = TokenIndex::build(b, &positions, t)?;
        let token_weights = b.alloc(dec_rows)?;
        b.fill(&token_weights, 1.0 / dec_rows as f32);

        Ok(Network {
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
            tok_emb,
            pos_emb,
            tokens_in: b.alloc(dec_rows)?,
            positions: positions_buf,
            pos_index,
            token_index: TokenIndex::alloc(b, dec_rows, vocab + 1)?,
            emb_tok: b.alloc(dec_rows * c)?,
            emb_pos: b.alloc(dec_rows * c)?,
            x_dec: b.alloc(dec_rows * c)?,
            decoder,
            dec_norm,
            ddec_norm: b.alloc(dec_rows * c)?,
            ddec_out: b.alloc(dec_rows * c)?,
            logits_proj,
            logits: b.alloc(dec_rows * vocab)?,
            targets: b.alloc(dec_rows)?,
            token_weights,
            xent_loss: b.alloc(dec_rows)?,
            dlogits: b.alloc(dec_rows * vocab)?,
            correct: b.alloc(dec_rows)?,
            stats: b.alloc(3)?,
            pooled: b.alloc(batch * c)?,
            dpooled: b.alloc(batch * c)?,
            value_mlp,
            quantiles: b.alloc(batch * model.quantiles)?,
            value_targets: b.alloc(batch)?,
            value_loss: b.alloc(batch)?,
            dquantiles: b.alloc(batch * model.quantiles)?,
            weight_decay: 0.0,
            decay_mask: {
                let mask = b.alloc(layout.total)?;
                if !b.counts_only() {
                    b.write_f32(&mask, &layout.decay_mask());
                }
                mask
            },
            adam_m: b.alloc(layout.total)?,
            adam_v: b.alloc(layout.total)?,
            step: 0,
            model,
            game,
            encoding,
            batch,
            samples,
            layout,
            weights,
        })
    }

    /// Makes this network read (and train) the parameters of `other`, built
    /// with the same configuration: an inference network follows the
    /// learner's newest weights without copies.
    pub fn share_weights(&mut self, other: &Network<B>) -> Result<()> {
        if self.model != other.model || self.game != other.game || self.encoding != other.encoding {
            bail!("cannot share weights between networks of different configurations");
        }
        self.weights = Weights {
            params: other.weights.params.clone(),
            grads: other.weights.grads.clone(),
        };
        Ok(())
    }

    pub fn parameter_count(&self) -> usize {
        self.layout.entries.iter().map(|e| e.len()).sum()
    }

    fn torso_rows(&self) -> usize {
        3 * self.batch * self.game.grid() * self.game.grid()
    }

    /// The token and position embeddings of the decoder input.
    fn embedding_specs(&self) -> [EmbeddingSpec; 2] {
        let t = self.encoding.n_tokens();
        let tokens = self.batch * self.samples * t;
        let dim = self.model.channels;
        [
            EmbeddingSpec {
                tokens,
                dim,
                vocab: self.encoding.vocab_size() + 1,
            },
            EmbeddingSpec {
                tokens,
                dim,
                vocab: t,
            },
        ]
    }

    /// The value head's mean over the torso cells (its gradient adds into
    /// the memory gradient the policy also feeds).
    fn pool_spec(&self) -> MeanSpec {
        MeanSpec {
            batch: self.batch,
            positions: self.torso_rows() / self.batch,
            channels: self.model.channels,
            accumulate: true,
        }
    }

    fn value_loss_spec(&self) -> QuantileSpec {
        QuantileSpec {
            batch: self.batch,
            quantiles: self.model.quantiles,
            delta: 1.0,
            scale: 1.0 / self.batch as f32,
        }
    }

    fn grid_view(&self, b: &B, buf: &B::Buf, grid: usize) -> B::Buf {
        let rows = self.torso_rows() / 3;
        let c = self.model.channels;
        b.view(buf, grid * rows * c, rows * c)
    }

    /// Uploads a batch: states, and the teacher-forced decoder input
    /// (START, then each target token but the last).
    pub fn load(&mut self, b: &mut B, batch: &Batch) -> Result<()> {
        if self.samples != 1 {
            bail!(
                "a sampling network ({} sequences per state) does not train",
                self.samples
            );
        }
        let t = self.encoding.n_tokens();
        let expect = [b.len(&self.states), self.batch * t, self.batch];
        let got = [batch.states.len(), batch.targets.len(), batch.values.len()];
        if expect != got {
            bail!("batch sizes {got:?} do not match the network's {expect:?}");
        }
        let start = self.encoding.vocab_size() as u32;
        let tokens_in: Vec<u32> = batch
            .targets
            .chunks(t)
            .flat_map(|row| std::iter::once(start).chain(row[..t - 1].iter().copied()))
            .collect();
        b.write_f32(&self.states, &batch.states);
        b.write_u32(&self.targets, &batch.targets);
        b.write_u32(&self.tokens_in, &tokens_in);
        self.token_index
            .update(b, &tokens_in, self.encoding.vocab_size() + 1);
        b.write_f32(&self.value_targets, &batch.values);
        Ok(())
    }

    /// The torso, then the policy logits and the value quantiles; losses
    /// and their gradients w.r.t. logits and quantiles.
    pub fn forward(&self, b: &mut B) {
        self.forward_torso(b);
        self.forward_decoder(b, true);
        let w = &self.weights;
        let dec_rows = self.batch * self.samples * self.encoding.n_tokens();
        self.logits_proj
            .forward(b, w, &self.dec_norm.y, &self.logits);
        let xent = XentSpec {
            rows: dec_rows,
            vocab: self.encoding.vocab_size(),
        };
        b.softmax_xent(
            &xent,
            &self.logits,
            &self.targets,
            &self.token_weights,
            &self.xent_loss,
            &self.dlogits,
            &self.correct,
        );
        self.forward_value(b);
        let q = self.value_loss_spec();
        b.quantile_huber(
            &q,
            &self.quantiles,
            &self.value_targets,
            &self.value_loss,
            &self.dquantiles,
        );
    }

    /// The torso on the loaded states, into the cross-attention memory
    /// (batch-major rows).
    pub(crate) fn forward_torso(&self, b: &mut B) {
        let w = &self.weights;
        let c = self.model.channels;
        let features = self.game.cell_features();
        let per_grid = self.batch * self.game.grid() * self.game.grid();
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
            self.torso_rows(),
            c,
            &self.to_memory,
            &self.final_norm.y,
            &self.memory,
        );
    }

    /// The decoder on the tokens in `tokens_in`, up to its final norm
    /// ([`Network::decoder_output`]). With `project_memory` false the
    /// cross-attention keys and values of the last projection are reused:
    /// the memory is projected once per batch of states, not per token.
    pub(crate) fn forward_decoder(&self, b: &mut B, project_memory: bool) {
        let w = &self.weights;
        let c = self.model.channels;
        let dec_rows = self.batch * self.samples * self.encoding.n_tokens();
        let [tok, pos] = self.embedding_specs();
        b.embedding(
            &tok,
            &self.tokens_in,
            &self.tok_emb.value(b, w),
            &self.emb_tok,
        );
        b.embedding(
            &pos,
            &self.positions,
            &self.pos_emb.value(b, w),
            &self.emb_pos,
        );
        b.add(dec_rows * c, &self.emb_tok, &self.emb_pos, &self.x_dec);
        let memory = project_memory.then_some(&self.memory);
        self.decoder.forward(b, w, &self.x_dec, memory);
        self.dec_norm.forward(b, w, self.decoder.out());
    }

    /// The value head: mean of the torso cells, then the MLP, into
    /// [`Network::quantiles`].
    pub(crate) fn forward_value(&self, b: &mut B) {
        let mean = self.pool_spec();
        b.mean(&mean, &self.memory, &self.pooled);
        self.value_mlp
            .forward(b, &self.weights, &self.pooled, None, &self.quantiles);
    }

    /// The encoded states the torso reads.
    pub(crate) fn states(&self) -> &B::Buf {
        &self.states
    }

    /// Decoder input tokens, [batch · samples][tokens].
    pub(crate) fn tokens_in(&self) -> &B::Buf {
        &self.tokens_in
    }

    /// The decoder's normalised output rows, [batch · samples][tokens][c].
    pub(crate) fn decoder_output(&self) -> &B::Buf {
        &self.dec_norm.y
    }

    /// The map from decoder rows to vocabulary logits.
    pub(crate) fn logits_layer(&self) -> &Linear {
        &self.logits_proj
    }

    /// The value quantiles of the last forward pass, [batch][quantiles].
    pub fn quantiles(&self) -> &B::Buf {
        &self.quantiles
    }

    /// Gradients of (policy loss + value loss) into the gradient buffer,
    /// which is zeroed first.
    pub fn backward(&self, b: &mut B) {
        let w = &self.weights;
        let c = self.model.channels;
        b.fill(&w.grads, 0.0);
        b.fill(&self.dmemory, 0.0);

        // Value head into dmemory.
        self.value_mlp.backward(
            b,
            w,
            &self.pooled,
            &self.dquantiles,
            Some((&self.dpooled, false)),
        );
        let mean = self.pool_spec();
        b.mean_backward(&mean, &self.dpooled, &self.dmemory);

        // Policy head into dmemory and the embeddings.
        self.logits_proj.backward(
            b,
            w,
            &self.dec_norm.y,
            &self.dlogits,
            Some((&self.ddec_norm, false)),
        );
        // ddec_out carries the gradient down the decoder's residual stream.
        b.fill(&self.ddec_out, 0.0);
        self.dec_norm
            .backward_into(b, w, self.decoder.out(), &self.ddec_norm, &self.ddec_out);
        self.decoder.backward(
            b,
            w,
            &self.x_dec,
            Some(&self.memory),
            &self.ddec_out,
            Some(&self.dmemory),
        );
        let [tok, pos] = self.embedding_specs();
        b.embedding_backward(
            &tok,
            &self.token_index,
            &self.ddec_out,
            &self.tok_emb.grad(b, w),
        );
        b.embedding_backward(
            &pos,
            &self.pos_index,
            &self.ddec_out,
            &self.pos_emb.grad(b, w),
        );

        // Torso: back through the final norm, then the pair steps in reverse.
        let per_grid = self.torso_rows() / 3;
        b.gather_rows(
            self.torso_rows(),
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
        let features = self.game.cell_features();
        let cell_block = per_grid / self.batch * c;
        for (g, proj) in self.input_proj.iter().enumerate() {
            let x = b.view(&self.states, g * per_grid * features, per_grid * features);
            let dy = self.grid_view(b, &self.dx0, g);
            proj.backward(b, w, &x, &dy, None);
            let demb = b.view(&self.cell_emb.grad(b, w), g * cell_block, cell_block);
            b.bias_backward(self.batch, cell_block, &dy, &demb);
        }
    }

    /// The per-row policy losses and per-sample value losses of the last
    /// forward pass (their sum is the training loss).
    pub fn loss_buffers(&self) -> [&B::Buf; 2] {
        [&self.xent_loss, &self.value_loss]
    }

    /// The losses and accuracy of the last forward pass, reduced on the
    /// device and read back as three words.
    pub fn stats(&self, b: &mut B) -> StepStats {
        let sources = [&self.xent_loss, &self.value_loss, &self.correct];
        for (i, src) in sources.into_iter().enumerate() {
            let spec = MeanSpec {
                batch: 1,
                positions: b.len(src),
                channels: 1,
                accumulate: false,
            };
            let dst = b.view(&self.stats, i, 1);
            b.mean(&spec, src, &dst);
        }
        let means = b.read_f32(&self.stats);
        let rows = b.len(&self.xent_loss) as f32;
        StepStats {
            policy_loss: means[0] * rows,
            value_loss: means[1] * self.batch as f32,
            token_accuracy: means[2],
        }
    }

    /// One AdamW step on (policy loss + value loss) over `batch`. When a
    /// loss is not finite the update is skipped (the step count stays), so
    /// the weights stay those of the last good step; the caller sees it in
    /// [`StepStats::is_finite`].
    pub fn train_step(&mut self, b: &mut B, batch: &Batch, lr: f32) -> Result<StepStats> {
        self.load(b, batch)?;
        self.forward(b);
        self.backward(b);
        let stats = self.stats(b);
        if !stats.is_finite() {
            return Ok(stats);
        }
        self.step += 1;
        let mut spec = AdamSpec::new(self.layout.total, lr, self.step);
        spec.weight_decay = self.weight_decay;
        b.adam(
            &spec,
            &self.weights.params,
            &self.weights.grads,
            &self.adam_m,
            &self.adam_v,
            &self.decay_mask,
        );
        Ok(stats)
    }

    /// Losses and accuracy on `batch` without training.
    pub fn evaluate(&mut self, b: &mut B, batch: &Batch) -> Result<StepStats> {
        self.load(b, batch)?;
        self.forward(b);
        Ok(self.stats(b))
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
