//! The policy decoder one position at a time, for sampling actions
//! (docs/design.md §3). Teacher-forced training runs the whole decoder on
//! every position at once ([`super::policy::PolicyHead`]); a sampler that
//! did the same would recompute every earlier position for each new
//! token. This twin of the decoder shares the policy's parameters and
//! computes only the new token's row: each layer keeps the fused
//! q‖k‖v projections of the positions drawn so far in a position-major
//! cache, [position][row][3c], so that the projection of the new row is
//! written straight into its slot and attention reads the cache in place.
//! The cross-attention keys and values of the torso's memory are projected
//! once per batch of states.

use super::config::ModelConfig;
use super::layers::*;
use super::params::{Init, ParamLayout};
use crate::engine::*;
use crate::game::ActionEncoding;
use anyhow::{bail, Result};

/// The name of the policy's first parameter: where the decoder's part of
/// the layout starts.
const FIRST_POLICY_PARAM: &str = "policy.token_embedding";

pub struct IncrementalDecoder<B: Backend> {
    /// Sequences decoded together: states × samples per state.
    rows: usize,
    tokens: usize,
    channels: usize,
    vocab: usize,
    tok_emb: Param,
    pos_emb: Param,
    /// [position][row]: the position's index, for its embedding lookup.
    positions: B::Buf,
    emb_tok: B::Buf,
    emb_pos: B::Buf,
    x: B::Buf,
    layers: Vec<StepLayer<B>>,
    norm: Norm<B>,
    logits_proj: Linear,
    /// The new position's logits, [row][vocab].
    pub logits: B::Buf,
}

/// One decoder layer: cached causal self-attention, cross-attention to the
/// memory, and the MLP, each a pre-norm residual.
struct StepLayer<B: Backend> {
    heads: usize,
    norm1: Norm<B>,
    qkv: Linear,
    self_out: Linear,
    /// [position][row][q‖k‖v].
    cache: B::Buf,
    attn: B::Buf,
    lse: B::Buf,
    after_self: B::Buf,
    cross: Residual<B>,
    mlp: Residual<B>,
}

impl<B: Backend> IncrementalDecoder<B> {
    /// The decoder for `states` states with `samples` sequences each,
    /// reading the parameters of a network whose layout is `net_layout`
    /// (its memory holds `memory_cells` rows per state).
    pub fn new(
        b: &mut B,
        net_layout: &ParamLayout,
        model: &ModelConfig,
        encoding: &ActionEncoding,
        states: usize,
        samples: usize,
        memory_cells: usize,
    ) -> Result<Self> {
        let Some(start) = net_layout
            .entries
            .iter()
            .position(|e| e.name == FIRST_POLICY_PARAM)
        else {
            bail!("the network has no policy decoder");
        };
        // The layout as it stood before the policy: adding the same
        // tensors in the same order gives them the policy's offsets.
        let mut layout = ParamLayout {
            entries: net_layout.entries[..start].to_vec(),
            total: net_layout.entries[start].offset,
        };
        let (c, t, vocab) = (model.channels, encoding.n_tokens(), encoding.vocab_size());
        let rows = states * samples;
        // The same names, shapes and order as PolicyHead::new.
        let tok_emb = Param::new(
            &mut layout,
            FIRST_POLICY_PARAM,
            &[vocab + 1, c],
            Init::Zeros,
        );
        let pos_emb = Param::new(
            &mut layout,
            "policy.position_embedding",
            &[t, c],
            Init::Zeros,
        );
        let mut layers = Vec::new();
        for l in 0..model.decoder_layers {
            let name = format!("policy.layer{l}");
            let norm1 = Norm::new(b, &mut layout, &format!("{name}.norm1"), rows, c)?;
            let qkv = Linear::new(&mut layout, &format!("{name}.self.qkv"), rows, c, 3 * c);
            let self_out = Linear::new(&mut layout, &format!("{name}.self.out"), rows, c, c);
            let norm2 = Norm::new(b, &mut layout, &format!("{name}.norm2"), rows, c)?;
            let cross = Attention::new_cross(
                b,
                &mut layout,
                &format!("{name}.cross"),
                states,
                samples,
                memory_cells,
                c,
                model.heads,
            )?;
            let norm3 = Norm::new(b, &mut layout, &format!("{name}.norm3"), rows, c)?;
            let mlp = Mlp::new(
                b,
                &mut layout,
                &format!("{name}.mlp"),
                rows,
                c,
                model.mlp(),
                c,
            )?;
            layers.push(StepLayer {
                heads: model.heads,
                norm1,
                qkv,
                self_out,
                cache: b.alloc(t * rows * 3 * c)?,
                attn: b.alloc(rows * c)?,
                lse: b.alloc(rows * model.heads)?,
                after_self: b.alloc(rows * c)?,
                cross: Residual::new(b, norm2, Inner::Attention(cross))?,
                mlp: Residual::new(b, norm3, Inner::Mlp(mlp))?,
            });
        }
        let norm = Norm::new(b, &mut layout, "policy.norm", rows, c)?;
        let logits_proj = Linear::new(&mut layout, "policy.logits", rows, c, vocab);
        let policy = &net_layout.entries[start..];
        let same = layout.entries[start..]
            .iter()
            .zip(policy)
            .all(|(a, p)| a.name == p.name && a.offset == p.offset && a.shape == p.shape);
        if !same || layout.entries.len() - start > policy.len() {
            bail!("the incremental decoder's parameters do not line up with the policy's");
        }
        let positions: Vec<u32> = (0..t * rows).map(|i| (i / rows) as u32).collect();
        let positions_buf = b.alloc(t * rows)?;
        if !b.counts_only() {
            b.write_u32(&positions_buf, &positions);
        }
        Ok(IncrementalDecoder {
            rows,
            tokens: t,
            channels: c,
            vocab,
            tok_emb,
            pos_emb,
            positions: positions_buf,
            emb_tok: b.alloc(rows * c)?,
            emb_pos: b.alloc(rows * c)?,
            x: b.alloc(rows * c)?,
            layers,
            norm,
            logits_proj,
            logits: b.alloc(rows * vocab)?,
        })
    }

    /// Sequences decoded together.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The logits of position `pos` for every row, given the token each
    /// row reads there (`tokens_in`: START, or the token drawn at pos − 1),
    /// after positions 0..pos have been stepped in order. `memory` (the
    /// torso's output) is projected when given, at position 0; later
    /// positions pass None and reuse its keys and values.
    pub fn step(
        &self,
        b: &mut B,
        w: &Weights<B>,
        pos: usize,
        tokens_in: &B::Buf,
        memory: Option<&B::Buf>,
    ) {
        assert!(pos < self.tokens, "position {pos} of {}", self.tokens);
        let (rows, c) = (self.rows, self.channels);
        let embedding = |vocab| EmbeddingSpec {
            tokens: rows,
            dim: c,
            vocab,
        };
        let tok_table = self.tok_emb.value(b, w);
        b.embedding(
            &embedding(self.vocab + 1),
            tokens_in,
            &tok_table,
            &self.emb_tok,
        );
        let positions = b.view(&self.positions, pos * rows, rows);
        let pos_table = self.pos_emb.value(b, w);
        b.embedding(
            &embedding(self.tokens),
            &positions,
            &pos_table,
            &self.emb_pos,
        );
        b.add(rows * c, &self.emb_tok, &self.emb_pos, &self.x);
        let mut input = &self.x;
        for layer in &self.layers {
            layer.step(b, w, pos, rows, input, memory);
            input = &layer.mlp.out;
        }
        self.norm.forward(b, w, input);
        self.logits_proj.forward(b, w, &self.norm.y, &self.logits);
    }
}

impl<B: Backend> StepLayer<B> {
    fn step(
        &self,
        b: &mut B,
        w: &Weights<B>,
        pos: usize,
        rows: usize,
        x: &B::Buf,
        memory: Option<&B::Buf>,
    ) {
        let (c, heads) = (self.qkv.inp, self.heads);
        let fused = 3 * c;
        self.norm1.forward(b, w, x);
        let slot = b.view(&self.cache, pos * rows * fused, rows * fused);
        self.qkv.forward(b, w, &self.norm1.y, &slot);
        // The new row's query against the keys of positions 0..=pos: key j
        // of row r is at j·rows·3c + r·3c in the cache.
        let spec = AttentionSpec {
            q_stride: fused,
            k_stride: rows * fused,
            v_stride: rows * fused,
            kv_batch: Some(fused),
            ..AttentionSpec::new(rows, heads, 1, pos + 1, c / heads)
        };
        let [_, k_len, v_len, _] = spec.extents();
        let q = b.view(&slot, 0, (rows - 1) * fused + c);
        let k = b.view(&self.cache, c, k_len);
        let v = b.view(&self.cache, 2 * c, v_len);
        b.attention(&spec, &q, &k, &v, &self.attn, &self.lse);
        self.self_out.forward_with(
            b,
            w,
            &self.attn,
            Epilogue::BiasResidual,
            x,
            &self.after_self,
        );
        self.cross.forward(b, w, &self.after_self, memory);
        self.mlp.forward(b, w, &self.cross.out, None);
    }
}
