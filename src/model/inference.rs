//! The search's leaf evaluation: for a batch of states, the torso and the
//! value head run once per state, then K actions per state are decoded
//! token by token by the incremental decoder, on the (state × K) rows:
//! each token costs one row per sequence, with the cross-attention memory
//! projected once. Tokens are drawn on the device (`sample_tokens`) into
//! the buffer the next position reads, so one call records the whole
//! evaluation and reads back only the sampled tokens, their
//! log-probabilities and the value quantiles. Buffers are allocated once,
//! when the evaluator is built.
//!
//! States arrive encoded by the host ([`Evaluator::evaluate`]), or as
//! updates ([`Evaluator::evaluate_updates`]): each state's parent residual
//! and the action that leads to it, with its history. Then the batched
//! residual update and the encoding run on the device, and the network
//! reads the states where they were made: the upload is the residuals'
//! integers, not the encoded grids, and nothing comes back but the draws.
//! Where only the values are wanted ([`Evaluator::values`]), the torso and
//! the value head run alone and the decoder not at all.

use super::incremental::IncrementalDecoder;
use super::network::Network;
use crate::engine::{Backend, EncodeSpec, GameSpec, SampleSpec, XentSpec};
use crate::problem::Field;
use anyhow::{bail, Result};

/// A softmax temperature low enough that only the top token of each
/// position has any mass: a draw at it is the argmax (greedy decoding).
pub const GREEDY_TEMPERATURE: f32 = 1e-4;

/// What one evaluation returns, host side.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    /// Sampled tokens, [state][sample][token].
    pub tokens: Vec<u32>,
    /// log π(action) of each sampled action (sum over its tokens), [state][sample].
    pub log_probs: Vec<f32>,
    /// Value quantiles, [state][quantile].
    pub quantiles: Vec<f32>,
}

/// States given as updates, slot by slot (slots past the batch's end are
/// zero): the parent's residual, the action u‖v‖w that leads to the state
/// (zero for a state evaluated as it is), and the state's history words
/// as [`EncodeSpec`] lays them out.
pub struct LeafUpdates<'a> {
    pub parents: &'a [i32],
    pub actions: &'a [i32],
    pub histories: &'a [i32],
}

/// What a call evaluates: encoded grids, or updates made on the device.
enum Input<'a> {
    Encoded(&'a [f32]),
    Updates(&'a LeafUpdates<'a>),
}

/// The device buffers of [`Evaluator::evaluate_updates`].
struct UpdateBuffers<B: Backend> {
    residuals: B::Buf,
    actions: B::Buf,
    histories: B::Buf,
}

pub struct Evaluator<B: Backend> {
    /// The torso and value head, on one row per state.
    pub net: Network<B>,
    decoder: IncrementalDecoder<B>,
    samples: usize,
    /// Position-major, [position + 1][state · sample]: the first block is
    /// START, block p + 1 the tokens drawn at position p, which are also
    /// what position p + 1 reads.
    sampled: B::Buf,
    dlogits: B::Buf,
    correct: B::Buf,
    ones: B::Buf,
    uniforms: B::Buf,
    /// −log p of each drawn token, position-major.
    neg_log_p: B::Buf,
    updates: UpdateBuffers<B>,
    /// Softmax temperature of the draws (1 samples the policy itself).
    pub temperature: f32,
}

impl<B: Backend> Evaluator<B> {
    /// An evaluator for `states` states and `samples` actions per state,
    /// reading the parameters of `learner` (its newest weights, always).
    pub fn new(b: &mut B, learner: &Network<B>, states: usize, samples: usize) -> Result<Self> {
        if samples == 0 {
            bail!("the samples per state must be at least 1");
        }
        let mut net = Network::new(
            b,
            learner.model.clone(),
            learner.game.clone(),
            learner.encoding.clone(),
            states,
            0,
        )?;
        net.share_weights(learner)?;
        let cells = 3 * net.game.grid() * net.game.grid();
        let decoder = IncrementalDecoder::new(
            b,
            &net.layout,
            &net.model,
            &net.encoding,
            states,
            samples,
            cells,
        )?;
        let t = net.encoding.n_tokens();
        let rows = states * samples;
        let vocab = net.encoding.vocab_size();
        let sampled = b.alloc((t + 1) * rows)?;
        if !b.counts_only() {
            let mut init = vec![0u32; (t + 1) * rows];
            init[..rows].fill(vocab as u32);
            b.write_u32(&sampled, &init);
        }
        let ones = b.alloc(rows)?;
        b.fill(&ones, 1.0);
        let encode = encode_spec(&net);
        let updates = UpdateBuffers {
            residuals: b.alloc(states * encode.state_len())?,
            actions: b.alloc(states * encode.action_len())?,
            histories: b.alloc(states * encode.history_len())?,
        };
        Ok(Evaluator {
            updates,
            decoder,
            samples,
            sampled,
            dlogits: b.alloc(rows * vocab)?,
            correct: b.alloc(rows)?,
            ones,
            uniforms: b.alloc(t * rows)?,
            neg_log_p: b.alloc(t * rows)?,
            temperature: 1.0,
            net,
        })
    }

    pub fn states(&self) -> usize {
        self.net.batch
    }

    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Uniforms needed per call: one per sampled token.
    pub fn uniforms_len(&self) -> usize {
        self.decoder.rows() * self.net.encoding.n_tokens()
    }

    /// Evaluates encoded `states` (grid-major across the batch, as
    /// [`crate::train::batch::batch_of`] lays them out). `uniforms` in
    /// [0, 1) drive the draws, position-major: [token][state · sample].
    pub fn evaluate(&mut self, b: &mut B, states: &[f32], uniforms: &[f32]) -> Result<Evaluation> {
        self.run(b, Input::Encoded(states), uniforms, None)
    }

    /// As [`Evaluator::evaluate`], for states made on the device from
    /// their parents: the same draws and values as evaluating the states
    /// encoded by the host, bit for bit.
    pub fn evaluate_updates(
        &mut self,
        b: &mut B,
        leaves: &LeafUpdates,
        uniforms: &[f32],
    ) -> Result<Evaluation> {
        self.run(b, Input::Updates(leaves), uniforms, None)
    }

    /// The value quantiles of encoded `states`, [state][quantile]: the
    /// torso and the value head alone, no draws. What [`Evaluator::evaluate`]
    /// returns as its quantiles, for a fraction of the cost where only the
    /// values are wanted (scoring the states candidate actions lead to).
    pub fn values(&mut self, b: &mut B, states: &[f32]) -> Result<Vec<f32>> {
        self.values_of(b, Input::Encoded(states))
    }

    /// As [`Evaluator::values`], for states made on the device from their
    /// parents.
    pub fn values_updates(&mut self, b: &mut B, leaves: &LeafUpdates) -> Result<Vec<f32>> {
        self.values_of(b, Input::Updates(leaves))
    }

    fn values_of(&mut self, b: &mut B, input: Input) -> Result<Vec<f32>> {
        self.load(b, input)?;
        let net = &self.net;
        net.torso.forward(b, &net.weights);
        net.value.forward(b, &net.weights, &net.torso.memory);
        Ok(b.read_f32(net.quantiles()))
    }

    /// The layout of the history words [`LeafUpdates`] carries.
    pub fn encode_spec(&self) -> EncodeSpec {
        encode_spec(&self.net)
    }

    /// As [`Evaluator::evaluate`], and also reads back the logits each
    /// token was drawn from, [token][state · sample][vocab] (for tests:
    /// one read per token).
    pub fn evaluate_traced(
        &mut self,
        b: &mut B,
        states: &[f32],
        uniforms: &[f32],
    ) -> Result<(Evaluation, Vec<Vec<f32>>)> {
        let mut logits = Vec::new();
        let e = self.run(b, Input::Encoded(states), uniforms, Some(&mut logits))?;
        Ok((e, logits))
    }

    /// Puts the states into the torso's input: written as they are, or
    /// updated and encoded on the device.
    fn load(&mut self, b: &mut B, input: Input) -> Result<()> {
        let net = &self.net;
        match input {
            Input::Encoded(states) => {
                if states.len() != b.len(&net.torso.states) {
                    bail!(
                        "evaluate: {} state words, expected {}",
                        states.len(),
                        b.len(&net.torso.states)
                    );
                }
                b.write_f32(&net.torso.states, states);
            }
            Input::Updates(leaves) => {
                let u = &self.updates;
                let lens = [leaves.parents, leaves.actions, leaves.histories].map(<[i32]>::len);
                let expected = [&u.residuals, &u.actions, &u.histories].map(|x| b.len(x));
                if lens != expected {
                    bail!("evaluate: update words {lens:?}, expected {expected:?}");
                }
                let encode = encode_spec(net);
                let update = GameSpec {
                    batch: encode.batch,
                    dims: encode.dims,
                    mod2: net.game.field == Field::Z2,
                };
                b.write_i32(&u.residuals, leaves.parents);
                b.write_i32(&u.actions, leaves.actions);
                b.write_i32(&u.histories, leaves.histories);
                b.residual_update(&update, &u.residuals, &u.actions);
                b.encode_states(&encode, &u.residuals, &u.histories, &net.torso.states);
            }
        }
        Ok(())
    }

    fn run(
        &mut self,
        b: &mut B,
        input: Input,
        uniforms: &[f32],
        mut trace: Option<&mut Vec<Vec<f32>>>,
    ) -> Result<Evaluation> {
        if uniforms.len() != self.uniforms_len() {
            bail!(
                "evaluate: {} uniforms, expected {}",
                uniforms.len(),
                self.uniforms_len()
            );
        }
        self.load(b, input)?;
        let net = &self.net;
        let t = net.encoding.n_tokens();
        let rows = self.decoder.rows();
        let vocab = net.encoding.vocab_size();
        b.write_f32(&self.uniforms, uniforms);
        net.torso.forward(b, &net.weights);
        net.value.forward(b, &net.weights, &net.torso.memory);
        let sample = SampleSpec {
            rows,
            vocab,
            inv_temperature: 1.0 / self.temperature,
        };
        let xent = XentSpec { rows, vocab };
        let logits = &self.decoder.logits;
        for pos in 0..t {
            let read = b.view(&self.sampled, pos * rows, rows);
            let memory = (pos == 0).then_some(&net.torso.memory);
            self.decoder.step(b, &net.weights, pos, &read, memory);
            let drawn = b.view(&self.sampled, (pos + 1) * rows, rows);
            let u = b.view(&self.uniforms, pos * rows, rows);
            b.sample_tokens(&sample, logits, &u, &drawn);
            if let Some(trace) = trace.as_mut() {
                trace.push(b.read_f32(logits));
            }
            // −log p of the drawn token under the untempered policy.
            let nlp = b.view(&self.neg_log_p, pos * rows, rows);
            b.softmax_xent(
                &xent,
                logits,
                &drawn,
                &self.ones,
                &nlp,
                &self.dlogits,
                &self.correct,
            );
        }
        let drawn_view = b.view(&self.sampled, rows, t * rows);
        let [drawn, nlp, quantiles]: [Vec<u32>; 3] = b
            .read_many_u32(&[&drawn_view, &self.neg_log_p, net.quantiles()])
            .try_into()
            .expect("three views read");
        let (nlp, quantiles): (Vec<f32>, Vec<f32>) =
            (bytemuck::cast_vec(nlp), bytemuck::cast_vec(quantiles));
        let mut tokens = vec![0u32; t * rows];
        let mut log_probs = vec![0.0f32; rows];
        for r in 0..rows {
            for p in 0..t {
                tokens[r * t + p] = drawn[p * rows + r];
                log_probs[r] -= nlp[p * rows + r];
            }
        }
        Ok(Evaluation {
            tokens,
            log_probs,
            quantiles,
        })
    }
}

/// The encoding of the evaluator's states, as the game lays them out.
fn encode_spec<B: Backend>(net: &Network<B>) -> EncodeSpec {
    EncodeSpec {
        batch: net.batch,
        dims: net.game.dims,
        grid: net.game.grid(),
        history: net.game.history,
    }
}
