//! The value head (docs/design.md §3): the mean of the torso's cells, an
//! MLP, and 8 quantiles of the return, trained with the quantile Huber
//! loss.

use super::config::ModelConfig;
use super::layers::*;
use super::params::ParamLayout;
use crate::engine::*;
use anyhow::Result;

pub struct ValueHead<B: Backend> {
    batch: usize,
    /// Memory rows per state.
    cells: usize,
    channels: usize,
    quantile_count: usize,
    pooled: B::Buf,
    dpooled: B::Buf,
    mlp: Mlp<B>,
    /// The quantiles of the last forward pass, [batch][quantiles].
    pub(crate) quantiles: B::Buf,
    pub(crate) targets: B::Buf,
    pub(crate) loss: B::Buf,
    dquantiles: B::Buf,
}

impl<B: Backend> ValueHead<B> {
    pub fn new(
        b: &mut B,
        layout: &mut ParamLayout,
        model: &ModelConfig,
        batch: usize,
        cells: usize,
    ) -> Result<Self> {
        let c = model.channels;
        let mlp = Mlp::new(
            b,
            layout,
            "value.mlp",
            batch,
            c,
            model.value_hidden,
            model.quantiles,
        )?;
        Ok(ValueHead {
            batch,
            cells,
            channels: c,
            quantile_count: model.quantiles,
            pooled: b.alloc(batch * c)?,
            dpooled: b.alloc(batch * c)?,
            mlp,
            quantiles: b.alloc(batch * model.quantiles)?,
            targets: b.alloc(batch)?,
            loss: b.alloc(batch)?,
            dquantiles: b.alloc(batch * model.quantiles)?,
        })
    }

    /// The mean over the memory's cells (its gradient adds into the memory
    /// gradient the policy also feeds).
    fn pool_spec(&self) -> MeanSpec {
        MeanSpec {
            batch: self.batch,
            positions: self.cells,
            channels: self.channels,
            accumulate: true,
        }
    }

    /// The quantiles of the states whose memory is `memory`.
    pub fn forward(&self, b: &mut B, w: &Weights<B>, memory: &B::Buf) {
        b.mean(&self.pool_spec(), memory, &self.pooled);
        self.mlp.forward(b, w, &self.pooled, None, &self.quantiles);
    }

    /// The quantile Huber loss against the loaded targets, and its
    /// gradient w.r.t. the quantiles.
    pub fn loss(&self, b: &mut B) {
        let spec = QuantileSpec {
            batch: self.batch,
            quantiles: self.quantile_count,
            delta: 1.0,
            scale: 1.0 / self.batch as f32,
        };
        b.quantile_huber(
            &spec,
            &self.quantiles,
            &self.targets,
            &self.loss,
            &self.dquantiles,
        );
    }

    /// Gradients of the value loss into the parameters and into `dmemory`.
    pub fn backward(&self, b: &mut B, w: &Weights<B>, dmemory: &B::Buf) {
        self.mlp.backward(
            b,
            w,
            &self.pooled,
            &self.dquantiles,
            Some((&self.dpooled, false)),
        );
        b.mean_backward(&self.pool_spec(), &self.dpooled, dmemory);
    }
}
