//! Model sizes. All sizes are configuration, not code (docs/design.md §3).

use anyhow::{bail, Result};

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelConfig {
    /// Channels c of every token.
    pub channels: usize,
    /// Attention heads; head dimension = channels / heads.
    pub heads: usize,
    /// Attentive-modes layers in the torso (each runs the three grid pairs).
    pub torso_layers: usize,
    /// Layers of the policy decoder.
    pub decoder_layers: usize,
    /// Hidden width of the value MLP.
    pub value_hidden: usize,
    /// Quantiles predicted by the value head.
    pub quantiles: usize,
}

impl ModelConfig {
    /// `tiny` (tests), `small` (CPU default), `large` (GPU).
    pub fn preset(name: &str) -> Result<Self> {
        let (channels, heads, torso_layers, decoder_layers, value_hidden) = match name {
            "tiny" => (16, 2, 1, 1, 16),
            "small" => (64, 4, 2, 2, 64),
            "large" => (256, 8, 6, 4, 512),
            other => bail!("unknown preset '{other}': expected tiny, small or large"),
        };
        let cfg = ModelConfig {
            channels,
            heads,
            torso_layers,
            decoder_layers,
            value_hidden,
            quantiles: 8,
        };
        cfg.check()?;
        Ok(cfg)
    }

    pub fn head_dim(&self) -> usize {
        self.channels / self.heads
    }

    /// MLP width (4×).
    pub fn mlp(&self) -> usize {
        4 * self.channels
    }

    pub fn check(&self) -> Result<()> {
        if self.heads == 0 || !self.channels.is_multiple_of(self.heads) {
            bail!(
                "channels ({}) must be a multiple of heads ({})",
                self.channels,
                self.heads
            );
        }
        if self.head_dim() > crate::engine::ops::attention::MAX_HEAD_DIM {
            bail!(
                "head dimension {} exceeds {}",
                self.head_dim(),
                crate::engine::ops::attention::MAX_HEAD_DIM
            );
        }
        if self.quantiles == 0 {
            bail!("the value head needs at least one quantile");
        }
        Ok(())
    }
}
