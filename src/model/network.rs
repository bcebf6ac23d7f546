//! The whole network for a fixed game and batch size: the torso, the
//! policy and value heads that read its memory, their losses, and one
//! training step (forward, backward, AdamW) recorded for the device in one
//! go. Each part is its own module; this one wires them.

use super::adamw::AdamW;
use super::config::ModelConfig;
use super::layers::*;
use super::params::ParamLayout;
use super::policy::PolicyHead;
use super::torso::Torso;
use super::value::ValueHead;
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

pub struct Network<B: Backend> {
    pub model: ModelConfig,
    pub game: GameConfig,
    pub encoding: ActionEncoding,
    pub batch: usize,
    pub layout: ParamLayout,
    pub weights: Weights<B>,
    pub optimiser: AdamW<B>,
    /// Optimiser steps taken.
    pub step: u32,
    pub torso: Torso<B>,
    pub policy: PolicyHead<B>,
    pub value: ValueHead<B>,
    /// Mean policy loss, mean value loss and token accuracy: one read.
    stats: B::Buf,
}

impl<B: Backend> Network<B> {
    /// Builds the network and its buffers for `batch` states; parameters
    /// start from `seed`. The parameter layout does not depend on `batch`;
    /// its order (torso, policy, value) is the checkpoints' and the
    /// initial values'.
    pub fn new(
        b: &mut B,
        model: ModelConfig,
        game: GameConfig,
        encoding: ActionEncoding,
        batch: usize,
        seed: u64,
    ) -> Result<Self> {
        model.check()?;
        if batch == 0 {
            bail!("the batch size must be at least 1");
        }
        let cells = 3 * game.grid() * game.grid();
        let mut layout = ParamLayout::default();
        let torso = Torso::new(b, &mut layout, &model, &game, batch)?;
        let policy = PolicyHead::new(b, &mut layout, &model, &encoding, batch, cells)?;
        let value = ValueHead::new(b, &mut layout, &model, batch, cells)?;
        let weights = Weights {
            params: b.alloc(layout.total)?,
            grads: b.alloc(layout.total)?,
        };
        if !b.counts_only() {
            b.write_f32(&weights.params, &layout.initial_values(seed));
        }
        Ok(Network {
            optimiser: AdamW::new(b, &layout)?,
            stats: b.alloc(3)?,
            step: 0,
            torso,
            policy,
            value,
            model,
            game,
            encoding,
            batch,
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

    /// The parameters, read to the host (what another thread's copy of
    /// this network is given by [`Self::set_parameters`]).
    pub fn parameters(&self, b: &mut B) -> Vec<f32> {
        b.read_f32(&self.weights.params)
    }

    /// Overwrites the parameters with `values` from [`Self::parameters`]
    /// of a network of the same configuration.
    pub fn set_parameters(&mut self, b: &mut B, values: &[f32]) -> Result<()> {
        let words = b.len(&self.weights.params);
        if values.len() != words {
            bail!("{} parameters given to a network of {words}", values.len());
        }
        b.write_f32(&self.weights.params, values);
        Ok(())
    }

    pub fn parameter_count(&self) -> usize {
        self.layout.entries.iter().map(|e| e.len()).sum()
    }

    /// Uploads a batch: states, and the teacher-forced decoder input
    /// (START, then each target token but the last).
    pub fn load(&mut self, b: &mut B, batch: &Batch) -> Result<()> {
        let t = self.encoding.n_tokens();
        let expect = [b.len(&self.torso.states), self.batch * t, self.batch];
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
        b.write_f32(&self.torso.states, &batch.states);
        b.write_u32(&self.policy.targets, &batch.targets);
        b.write_u32(&self.policy.tokens_in, &tokens_in);
        self.policy
            .token_index
            .update(b, &tokens_in, self.encoding.vocab_size() + 1);
        b.write_f32(&self.value.targets, &batch.values);
        Ok(())
    }

    /// The torso, then the policy logits and the value quantiles; losses
    /// and their gradients w.r.t. logits and quantiles.
    pub fn forward(&self, b: &mut B) {
        let w = &self.weights;
        self.torso.forward(b, w);
        self.policy.forward(b, w, &self.torso.memory);
        self.value.forward(b, w, &self.torso.memory);
        self.value.loss(b);
    }

    /// The policy logits of the last forward pass, [rows][vocabulary].
    pub fn logits(&self) -> &B::Buf {
        &self.policy.logits
    }

    /// The value quantiles of the last forward pass, [batch][quantiles].
    pub fn quantiles(&self) -> &B::Buf {
        &self.value.quantiles
    }

    /// Gradients of (policy loss + value loss) into the gradient buffer,
    /// which is zeroed first: both heads add into the memory's gradient,
    /// which the torso then takes down.
    pub fn backward(&self, b: &mut B) {
        let w = &self.weights;
        b.fill(&w.grads, 0.0);
        b.fill(&self.torso.dmemory, 0.0);
        self.value.backward(b, w, &self.torso.dmemory);
        self.policy
            .backward(b, w, &self.torso.memory, &self.torso.dmemory);
        self.torso.backward(b, w);
    }

    /// The per-row policy losses and per-sample value losses of the last
    /// forward pass (their sum is the training loss).
    pub fn loss_buffers(&self) -> [&B::Buf; 2] {
        [&self.policy.xent_loss, &self.value.loss]
    }

    /// The losses and accuracy of the last forward pass, reduced on the
    /// device and read back as three words.
    pub fn stats(&self, b: &mut B) -> StepStats {
        let sources = [
            &self.policy.xent_loss,
            &self.value.loss,
            &self.policy.correct,
        ];
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
        let rows = b.len(&self.policy.xent_loss) as f32;
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
        self.optimiser.update(b, &self.weights, lr, self.step);
        Ok(stats)
    }

    /// Losses and accuracy on `batch` without training.
    pub fn evaluate(&mut self, b: &mut B, batch: &Batch) -> Result<StepStats> {
        self.load(b, batch)?;
        self.forward(b);
        Ok(self.stats(b))
    }
}
