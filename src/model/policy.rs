//! The policy head (docs/design.md §3): an autoregressive decoder over the
//! action's tokens (token and position embeddings; causal self-attention,
//! cross-attention to the torso's memory and an MLP per layer; a final
//! norm) and the map to vocabulary logits, trained teacher-forced with
//! cross-entropy.

use super::config::ModelConfig;
use super::layers::*;
use super::params::{Init, ParamLayout};
use crate::engine::*;
use crate::game::ActionEncoding;
use anyhow::{bail, Result};

pub struct PolicyHead<B: Backend> {
    /// Decoder rows: states × tokens.
    rows: usize,
    tokens: usize,
    vocab: usize,
    channels: usize,
    tok_emb: Param,
    pos_emb: Param,
    /// Decoder input tokens, [batch][tokens].
    pub(crate) tokens_in: B::Buf,
    positions: B::Buf,
    pos_index: TokenIndex<B::Buf>,
    pub(crate) token_index: TokenIndex<B::Buf>,
    emb_tok: B::Buf,
    emb_pos: B::Buf,
    x_dec: B::Buf,
    decoder: Stack<B>,
    dec_norm: Norm<B>,
    ddec_norm: B::Buf,
    ddec_out: B::Buf,
    logits_proj: Linear,
    pub logits: B::Buf,
    pub(crate) targets: B::Buf,
    token_weights: B::Buf,
    pub(crate) xent_loss: B::Buf,
    dlogits: B::Buf,
    pub(crate) correct: B::Buf,
}

impl<B: Backend> PolicyHead<B> {
    /// For `batch` states, whose memory holds `memory_cells` rows per state.
    pub fn new(
        b: &mut B,
        layout: &mut ParamLayout,
        model: &ModelConfig,
        encoding: &ActionEncoding,
        batch: usize,
        memory_cells: usize,
    ) -> Result<Self> {
        let c = model.channels;
        let t = encoding.n_tokens();
        let vocab = encoding.vocab_size();
        let rows = batch * t;
        let tok_emb = Param::new(
            layout,
            "policy.token_embedding",
            &[vocab + 1, c],
            Init::Normal(0.02),
        );
        let pos_emb = Param::new(
            layout,
            "policy.position_embedding",
            &[t, c],
            Init::Normal(0.02),
        );
        let mut layers = Vec::new();
        for l in 0..model.decoder_layers {
            let name = format!("policy.layer{l}");
            let n1 = Norm::new(b, layout, &format!("{name}.norm1"), rows, c)?;
            let tokens = Sequences {
                rows,
                len: t,
                channels: c,
                heads: model.heads,
                causal: true,
            };
            let self_attn = Attention::new_self(b, layout, &format!("{name}.self"), tokens)?;
            layers.push(Residual::new(b, n1, Inner::Attention(self_attn))?);
            let n2 = Norm::new(b, layout, &format!("{name}.norm2"), rows, c)?;
            let cross = Attention::new_cross(
                b,
                layout,
                &format!("{name}.cross"),
                batch,
                t,
                memory_cells,
                c,
                model.heads,
            )?;
            layers.push(Residual::new(b, n2, Inner::Attention(cross))?);
            let n3 = Norm::new(b, layout, &format!("{name}.norm3"), rows, c)?;
            let mlp = Mlp::new(b, layout, &format!("{name}.mlp"), rows, c, model.mlp(), c)?;
            layers.push(Residual::new(b, n3, Inner::Mlp(mlp))?);
        }
        if layers.is_empty() {
            bail!("the policy needs at least one decoder layer");
        }
        let decoder = Stack::new(layers);
        let dec_norm = Norm::new(b, layout, "policy.norm", rows, c)?;
        let logits_proj = Linear::new(layout, "policy.logits", rows, c, vocab);
        let positions: Vec<u32> = (0..rows).map(|r| (r % t) as u32).collect();
        let positions_buf = b.alloc(rows)?;
        b.write_u32(&positions_buf, &positions);
        let pos_index = TokenIndex::build(b, &positions, t)?;
        let token_weights = b.alloc(rows)?;
        b.fill(&token_weights, 1.0 / rows as f32);
        Ok(PolicyHead {
            rows,
            tokens: t,
            vocab,
            channels: c,
            tok_emb,
            pos_emb,
            tokens_in: b.alloc(rows)?,
            positions: positions_buf,
            pos_index,
            token_index: TokenIndex::alloc(b, rows, vocab + 1)?,
            emb_tok: b.alloc(rows * c)?,
            emb_pos: b.alloc(rows * c)?,
            x_dec: b.alloc(rows * c)?,
            decoder,
            dec_norm,
            ddec_norm: b.alloc(rows * c)?,
            ddec_out: b.alloc(rows * c)?,
            logits_proj,
            logits: b.alloc(rows * vocab)?,
            targets: b.alloc(rows)?,
            token_weights,
            xent_loss: b.alloc(rows)?,
            dlogits: b.alloc(rows * vocab)?,
            correct: b.alloc(rows)?,
        })
    }

    /// The token and position embeddings of the decoder input.
    fn embedding_specs(&self) -> [EmbeddingSpec; 2] {
        let (tokens, dim) = (self.rows, self.channels);
        [
            EmbeddingSpec {
                tokens,
                dim,
                vocab: self.vocab + 1,
            },
            EmbeddingSpec {
                tokens,
                dim,
                vocab: self.tokens,
            },
        ]
    }

    /// Teacher-forced: the decoder, the logits, and the cross-entropy with
    /// its gradient w.r.t. the logits.
    pub fn forward(&self, b: &mut B, w: &Weights<B>, memory: &B::Buf) {
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
        b.add(
            self.rows * self.channels,
            &self.emb_tok,
            &self.emb_pos,
            &self.x_dec,
        );
        self.decoder.forward(b, w, &self.x_dec, Some(memory));
        self.dec_norm.forward(b, w, self.decoder.out());
        self.logits_proj
            .forward(b, w, &self.dec_norm.y, &self.logits);
        let xent = XentSpec {
            rows: self.rows,
            vocab: self.vocab,
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
    }

    /// Gradients of the policy loss into the parameters and into `dmemory`.
    pub fn backward(&self, b: &mut B, w: &Weights<B>, memory: &B::Buf, dmemory: &B::Buf) {
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
            Some(memory),
            &self.ddec_out,
            Some(dmemory),
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
    }
}
