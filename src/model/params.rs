//! One flat f32 parameter buffer with named views (docs/design.md §3). The layout
//! is built once from the configuration; initial values are drawn on the
//! host from a seed, so every backend starts from the same numbers.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How a tensor starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// U(−1/√fan_in, 1/√fan_in), as linear layers usually start.
    FanIn(usize),
    /// N(0, σ²) approximated by a sum of uniforms (embeddings).
    Normal(f32),
    Zeros,
    Ones,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParamEntry {
    pub name: String,
    pub offset: usize,
    pub shape: Vec<usize>,
    pub init: Init,
}

impl ParamEntry {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Named views into one flat buffer, in creation order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamLayout {
    pub entries: Vec<ParamEntry>,
    pub total: usize,
}

impl ParamLayout {
    /// Per parameter word, 1 where AdamW's weight decay applies (the
    /// weights of linear maps, named `….weight`) and 0 elsewhere (norms,
    /// biases, embeddings).
    pub fn decay_mask(&self) -> Vec<f32> {
        let mut mask = vec![0.0; self.total];
        for e in self.entries.iter().filter(|e| e.name.ends_with(".weight")) {
            mask[e.offset..e.offset + e.len()].fill(1.0);
        }
        mask
    }

    /// Appends a tensor; returns its (offset, length). Offsets are kept
    /// multiples of 4 so that weights can take vec4 kernel paths.
    pub fn add(&mut self, name: impl Into<String>, shape: &[usize], init: Init) -> (usize, usize) {
        let offset = self.total.div_ceil(4) * 4;
        let entry = ParamEntry {
            name: name.into(),
            offset,
            shape: shape.to_vec(),
            init,
        };
        let len = entry.len();
        self.total = offset + len;
        self.entries.push(entry);
        (offset, len)
    }

    pub fn get(&self, name: &str) -> Option<&ParamEntry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Initial values for every parameter, from `seed`.
    pub fn initial_values(&self, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut values = vec![0.0f32; self.total];
        for e in &self.entries {
            let slot = &mut values[e.offset..e.offset + e.len()];
            match e.init {
                Init::FanIn(fan_in) => {
                    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
                    slot.iter_mut()
                        .for_each(|x| *x = rng.random_range(-bound..bound));
                }
                Init::Normal(sigma) => slot.iter_mut().for_each(|x| {
                    // Irwin–Hall: the sum of 12 uniforms minus 6 has variance 1.
                    let z: f32 = (0..12).map(|_| rng.random::<f32>()).sum::<f32>() - 6.0;
                    *x = sigma * z;
                }),
                Init::Zeros => slot.fill(0.0),
                Init::Ones => slot.fill(1.0),
            }
        }
        values
    }
}
