//! The optimiser: AdamW over the flat parameter buffer in one dispatch,
//! with decoupled weight decay on the weights of linear maps only
//! (docs/design.md §3: none on norms, biases and embeddings).

use super::layers::Weights;
use super::params::ParamLayout;
use crate::engine::*;
use anyhow::Result;

pub struct AdamW<B: Backend> {
    /// Decoupled weight decay (0 by default).
    pub weight_decay: f32,
    /// 1 for each parameter word the decay applies to, else 0.
    decay_mask: B::Buf,
    /// First and second moments, one word per parameter word.
    pub(crate) m: B::Buf,
    pub(crate) v: B::Buf,
    words: usize,
}

impl<B: Backend> AdamW<B> {
    pub fn new(b: &mut B, layout: &ParamLayout) -> Result<Self> {
        let decay_mask = b.alloc(layout.total)?;
        if !b.counts_only() {
            b.write_f32(&decay_mask, &layout.decay_mask());
        }
        Ok(AdamW {
            weight_decay: 0.0,
            decay_mask,
            m: b.alloc(layout.total)?,
            v: b.alloc(layout.total)?,
            words: layout.total,
        })
    }

    /// Step number `step` (from 1: the bias correction) at rate `lr`.
    pub fn update(&self, b: &mut B, weights: &Weights<B>, lr: f32, step: u32) {
        let mut spec = AdamSpec::new(self.words, lr, step);
        spec.weight_decay = self.weight_decay;
        b.adam(
            &spec,
            &weights.params,
            &weights.grads,
            &self.m,
            &self.v,
            &self.decay_mask,
        );
    }
}
