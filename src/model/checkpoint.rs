//! Checkpoints: weights and AdamW state in a safetensors file (one tensor
//! per named parameter, `adam_m.NAME` and `adam_v.NAME` beside it, so
//! Python tools can read them), and a small JSON file of configuration and
//! step. Both are written atomically, the tensors first.

use super::network::Network;
use super::ModelConfig;
use crate::engine::Backend;
use crate::problem::json::write_atomic;
use anyhow::{anyhow, bail, Context, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const TENSORS_FILE: &str = "model.safetensors";
pub const META_FILE: &str = "checkpoint.json";

/// What a checkpoint was trained on and how far it got.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub model: ModelConfig,
    pub shape: [usize; 3],
    pub field: crate::problem::Field,
    /// The action encoding: coefficient set and chunk size (absent in
    /// checkpoints of the first versions, which no longer load).
    #[serde(default)]
    pub coefficients: Vec<i32>,
    #[serde(default)]
    pub chunk: usize,
    pub history: usize,
    pub max_steps: usize,
    pub batch: usize,
    /// Optimiser steps taken.
    pub step: u32,
    /// Seed of the run (its data stream continues from `step`).
    pub seed: u64,
}

impl CheckpointMeta {
    /// Whether weights of `other`'s network fit this one's: same model,
    /// shape, field, action encoding and history (batch, step and seed
    /// may differ).
    pub fn same_network(&self, other: &CheckpointMeta) -> bool {
        let key = |m: &CheckpointMeta| {
            (
                m.model.clone(),
                m.shape,
                m.field,
                m.coefficients.clone(),
                m.chunk,
                m.history,
            )
        };
        key(self) == key(other)
    }
}

impl<B: Backend> Network<B> {
    pub fn meta(&self, seed: u64) -> CheckpointMeta {
        let s = self.game.shape;
        CheckpointMeta {
            model: self.model.clone(),
            shape: [s.n, s.m, s.p],
            field: self.game.field,
            coefficients: self.encoding.coefficients().to_vec(),
            chunk: self.encoding.chunk(),
            history: self.game.history,
            max_steps: self.game.max_steps,
            batch: self.batch,
            step: self.step,
            seed,
        }
    }

    /// Writes `dir/model.safetensors` and `dir/checkpoint.json`.
    pub fn save(&self, b: &mut B, dir: &Path, seed: u64) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let buffers = [
            ("", b.read_f32(&self.weights.params)),
            ("adam_m.", b.read_f32(&self.optimiser.m)),
            ("adam_v.", b.read_f32(&self.optimiser.v)),
        ];
        let mut views = Vec::new();
        for (prefix, values) in &buffers {
            for e in &self.layout.entries {
                let bytes: &[u8] = bytemuck::cast_slice(&values[e.offset..e.offset + e.len()]);
                let view = TensorView::new(Dtype::F32, e.shape.clone(), bytes)
                    .map_err(|err| anyhow!("tensor {}: {err}", e.name))?;
                views.push((format!("{prefix}{}", e.name), view));
            }
        }
        let bytes = safetensors::serialize(views, None).map_err(|e| anyhow!("safetensors: {e}"))?;
        write_atomic(&dir.join(TENSORS_FILE), &bytes)?;
        let meta = serde_json::to_string_pretty(&self.meta(seed))?;
        write_atomic(&dir.join(META_FILE), format!("{meta}\n").as_bytes())
    }

    /// Restores weights, optimiser state and step from `dir`; the network
    /// must have been built with the checkpoint's configuration.
    pub fn load_checkpoint(&mut self, b: &mut B, dir: &Path) -> Result<CheckpointMeta> {
        let meta = read_meta(dir)?;
        let mut mine = self.meta(meta.seed);
        mine.step = meta.step;
        if mine != meta {
            bail!(
                "{} was written by a different configuration ({})",
                dir.display(),
                differences(&meta, &mine)
            );
        }
        self.load_tensors(b, dir, true)?;
        self.step = meta.step;
        Ok(meta)
    }

    /// Starts from the weights of another run's checkpoint (a `pretrain`
    /// run for `search --init`): same model, shape, field and history; the
    /// optimiser starts afresh.
    pub fn init_from(&mut self, b: &mut B, dir: &Path) -> Result<CheckpointMeta> {
        let meta = read_meta(dir)?;
        let mine = self.meta(meta.seed);
        if !meta.same_network(&mine) {
            bail!(
                "{} cannot initialise this network ({})",
                dir.display(),
                differences(&meta, &mine)
            );
        }
        self.load_tensors(b, dir, false)?;
        Ok(meta)
    }

    /// The weights alone, as a safetensors file's bytes (what a learner
    /// sends its actors).
    pub fn weights_bytes(&self, b: &mut B) -> Result<Vec<u8>> {
        let values = b.read_f32(&self.weights.params);
        let mut views = Vec::new();
        for e in &self.layout.entries {
            let bytes: &[u8] = bytemuck::cast_slice(&values[e.offset..e.offset + e.len()]);
            let view = TensorView::new(Dtype::F32, e.shape.clone(), bytes)
                .map_err(|err| anyhow!("tensor {}: {err}", e.name))?;
            views.push((e.name.clone(), view));
        }
        safetensors::serialize(views, None).map_err(|e| anyhow!("safetensors: {e}"))
    }

    /// Takes weights sent by [`Self::weights_bytes`] of a network whose
    /// configuration `meta` must match this one's (the optimiser is
    /// untouched); every tensor is checked for name, shape and finite
    /// values before any is written.
    pub fn load_weights_bytes(
        &mut self,
        b: &mut B,
        meta: &CheckpointMeta,
        bytes: &[u8],
    ) -> Result<()> {
        let mine = self.meta(meta.seed);
        if !meta.same_network(&mine) {
            bail!("weights of another network ({})", differences(meta, &mine));
        }
        self.load_tensor_bytes(b, bytes, "the weights sent", false)
    }

    fn load_tensors(&mut self, b: &mut B, dir: &Path, optimiser: bool) -> Result<()> {
        let path = dir.join(TENSORS_FILE);
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        self.load_tensor_bytes(b, &bytes, &path.display().to_string(), optimiser)
    }

    fn load_tensor_bytes(
        &mut self,
        b: &mut B,
        bytes: &[u8],
        what: &str,
        optimiser: bool,
    ) -> Result<()> {
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| anyhow!("{what}: {e}"))?;
        let targets = [
            ("", &self.weights.params),
            ("adam_m.", &self.optimiser.m),
            ("adam_v.", &self.optimiser.v),
        ];
        let count = if optimiser { 3 } else { 1 };
        for (prefix, target) in targets.into_iter().take(count) {
            let mut values = vec![0.0f32; self.layout.total];
            for e in &self.layout.entries {
                let name = format!("{prefix}{}", e.name);
                let t = tensors
                    .tensor(&name)
                    .map_err(|_| anyhow!("{what}: no tensor {name}"))?;
                if t.dtype() != Dtype::F32 || t.shape() != e.shape.as_slice() {
                    bail!("{what}: tensor {name} has the wrong type or shape");
                }
                let src: Vec<f32> = bytemuck::pod_collect_to_vec(t.data());
                // Weights are believed only when they are numbers (and
                // second moments are never negative).
                if src
                    .iter()
                    .any(|x| !x.is_finite() || (prefix == "adam_v." && *x < 0.0))
                {
                    bail!(
                        "{what}: tensor {name} holds values that are not finite (or negative second moments): refusing these weights"
                    );
                }
                values[e.offset..e.offset + e.len()].copy_from_slice(&src);
            }
            b.write_f32(target, &values);
        }
        Ok(())
    }
}

/// What differs between a checkpoint's configuration and this run's, e.g.
/// `shape [3, 3, 3] there, [2, 2, 2] here`.
fn differences(there: &CheckpointMeta, here: &CheckpointMeta) -> String {
    let a = serde_json::to_value(there).unwrap_or_default();
    let b = serde_json::to_value(here).unwrap_or_default();
    let mut out = Vec::new();
    if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
        for (k, va) in a {
            if k == "step" {
                continue;
            }
            if let Some(vb) = b.get(k) {
                if va != vb {
                    out.push(format!("{k} {va} there, {vb} here"));
                }
            }
        }
    }
    if out.is_empty() {
        "unknown difference".into()
    } else {
        out.join("; ")
    }
}

pub fn read_meta(dir: &Path) -> Result<CheckpointMeta> {
    let path = dir.join(META_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
}
