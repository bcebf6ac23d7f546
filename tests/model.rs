//! The whole network: GPU against CPU, gradients against finite
//! differences, the policy's causal mask, and overfitting one batch.

mod common;

use common::gpu::{fresh_rng, gpu};
use rand::Rng;
use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::engine::*;
use tensorsearch::game::{ActionEncoding, GameConfig};
use tensorsearch::model::{Batch, ModelConfig, Network};
use tensorsearch::problem::{Field, Shape};
use tensorsearch::train::synthetic_batch;

// Not 3: with three grids, a batch of 3 would make the grid-major ↔
// batch-major permutation its own inverse and hide a swapped index map.
const BATCH: usize = 2;

fn game(field: Field) -> (GameConfig, ActionEncoding) {
    let shape = Shape::new(2, 2, 2).unwrap();
    (
        GameConfig::new(shape, field, 1, 8),
        ActionEncoding::default_for(shape, field),
    )
}

fn network<B: Backend>(b: &mut B, field: Field, seed: u64) -> Network<B> {
    let (g, e) = game(field);
    Network::new(b, ModelConfig::preset("tiny").unwrap(), g, e, BATCH, seed).unwrap()
}

fn batch(rng: &mut rand::rngs::StdRng, field: Field) -> Batch {
    let (g, e) = game(field);
    synthetic_batch(rng, &g, &e, BATCH, 6)
}

/// Forward and backward; returns (logits, [policy, value] losses, grads).
fn run<B: Backend>(
    b: &mut B,
    net: &mut Network<B>,
    data: &Batch,
) -> (Vec<f32>, [f32; 2], Vec<f32>) {
    net.load(b, data).unwrap();
    net.forward(b);
    net.backward(b);
    let stats = net.stats(b);
    (
        b.read_f32(net.logits()),
        [stats.policy_loss, stats.value_loss],
        b.read_f32(&net.weights.grads),
    )
}

#[test]
fn gpu_matches_cpu_forward_and_every_gradient() {
    let Some(mut g) = gpu() else { return };
    let mut rng = fresh_rng("model-parity");
    for field in [Field::Z, Field::Z2] {
        let seed = rng.random();
        let data = batch(&mut rng, field);
        let mut cpu = CpuBackend::new();
        let mut cnet = network(&mut cpu, field, seed);
        let mut gnet = network(&mut g, field, seed);
        let (cl, closs, cg) = run(&mut cpu, &mut cnet, &data);
        let (gl, gloss, gg) = run(&mut g, &mut gnet, &data);
        common::gpu::assert_close("logits", &gl, &cl, 1e-4, 1e-4);
        common::gpu::assert_close("losses", &gloss, &closs, 1e-4, 1e-4);
        // Gradients pass through a dozen layers: 1e-5 + 1e-3 relative.
        for e in &cnet.layout.entries {
            let r = e.offset..e.offset + e.len();
            common::gpu::assert_close(&e.name, &gg[r.clone()], &cg[r], 1e-5, 1e-3);
        }
    }
}

#[test]
fn cpu_gradients_match_finite_differences_in_f64() {
    // The same network on the f64 CPU backend: central differences with
    // h = 1e-6 on the summed loss, |numeric − analytic| ≤ 1e-7 + 1e-5·|analytic|,
    // on each tensor's largest-gradient entry and three random ones.
    let mut rng = fresh_rng("model-fd");
    let mut cpu = CpuBackend::new_f64();
    let mut net = network(&mut cpu, Field::Z, rng.random());
    let data = batch(&mut rng, Field::Z);
    net.load(&mut cpu, &data).unwrap();
    net.forward(&mut cpu);
    net.backward(&mut cpu);
    let grads = cpu.read_words(&net.weights.grads);
    let params = cpu.read_words(&net.weights.params);
    let loss_at = |cpu: &mut CpuBackend<f64>, net: &Network<CpuBackend<f64>>, p: &[f64]| -> f64 {
        cpu.write_words(&net.weights.params, p);
        net.forward(cpu);
        let [policy, value] = net.loss_buffers();
        cpu.read_words(policy).iter().sum::<f64>() + cpu.read_words(value).iter().sum::<f64>()
    };
    let h = 1e-6;
    for e in &net.layout.entries {
        let r = e.offset..e.offset + e.len();
        let largest = r
            .clone()
            .max_by(|&a, &b| grads[a].abs().total_cmp(&grads[b].abs()))
            .unwrap();
        let picks = [
            largest,
            rng.random_range(r.clone()),
            rng.random_range(r.clone()),
            rng.random_range(r.clone()),
        ];
        for i in picks {
            let mut p = params.clone();
            p[i] = params[i] + h;
            let up = loss_at(&mut cpu, &net, &p);
            p[i] = params[i] - h;
            let down = loss_at(&mut cpu, &net, &p);
            let numeric = (up - down) / (2.0 * h);
            let analytic = grads[i];
            assert!(
                (numeric - analytic).abs() <= 1e-7 + 1e-5 * analytic.abs(),
                "{}[{}]: analytic {analytic} vs numeric {numeric}",
                e.name,
                i - e.offset
            );
        }
    }
}

#[test]
fn policy_logits_do_not_see_later_tokens() {
    let mut rng = fresh_rng("causal-model");
    let mut cpu = CpuBackend::new();
    let mut net = network(&mut cpu, Field::Z, rng.random());
    let data = batch(&mut rng, Field::Z);
    let t = net.encoding.n_tokens();
    let vocab = net.encoding.vocab_size();
    let logits = |cpu: &mut CpuBackend, net: &mut Network<CpuBackend>, d: &Batch| {
        net.load(cpu, d).unwrap();
        net.forward(cpu);
        cpu.read_f32(net.logits())
    };
    let before = logits(&mut cpu, &mut net, &data);
    // Target token 1 is the decoder's input at position 2 only.
    let mut changed = data.clone();
    for n in 0..BATCH {
        changed.targets[n * t + 1] =
            (changed.targets[n * t + 1] + 1 + rng.random_range(0..vocab as u32 - 1)) % vocab as u32;
    }
    let after = logits(&mut cpu, &mut net, &changed);
    for n in 0..BATCH {
        for pos in 0..t {
            let row = (n * t + pos) * vocab..(n * t + pos + 1) * vocab;
            if pos <= 1 {
                assert_eq!(
                    before[row.clone()],
                    after[row],
                    "position {pos} saw a later token"
                );
            } else {
                assert_ne!(
                    before[row.clone()],
                    after[row],
                    "position {pos} ignores its input"
                );
            }
        }
    }
}

#[test]
fn tiny_model_overfits_one_batch() {
    let mut rng = fresh_rng("overfit");
    let mut cpu = CpuBackend::new();
    let mut net = network(&mut cpu, Field::Z, rng.random());
    let data = batch(&mut rng, Field::Z);
    let first = net.train_step(&mut cpu, &data, 3e-3).unwrap();
    let mut last = first;
    for _ in 0..300 {
        last = net.train_step(&mut cpu, &data, 3e-3).unwrap();
    }
    let (l0, l1) = (
        first.policy_loss + first.value_loss,
        last.policy_loss + last.value_loss,
    );
    assert!(l1 < l0 / 10.0, "loss {l0} -> {l1}");
    assert_eq!(last.token_accuracy, 1.0, "{last:?}");
}

#[test]
fn checkpoint_round_trip_is_bit_identical_and_training_continues_alike() {
    let mut rng = fresh_rng("checkpoint");
    let mut cpu = CpuBackend::new();
    let seed = rng.random();
    let mut net = network(&mut cpu, Field::Z, seed);
    let (a, b2) = (batch(&mut rng, Field::Z), batch(&mut rng, Field::Z));
    net.train_step(&mut cpu, &a, 1e-3).unwrap();
    let dir = common::temp_dir("checkpoint");
    net.save(&mut cpu, &dir, seed).unwrap();

    let mut restored = network(&mut cpu, Field::Z, seed ^ 1);
    let meta = restored.load_checkpoint(&mut cpu, &dir).unwrap();
    assert_eq!((meta.step, restored.step), (1, 1));
    let bits = |c: &mut CpuBackend, n: &Network<CpuBackend>| -> Vec<u32> {
        let p = c.read_f32(&n.weights.params);
        p.iter().map(|x| x.to_bits()).collect()
    };
    assert_eq!(bits(&mut cpu, &net), bits(&mut cpu, &restored));
    // The next step (which uses the AdamW moments) gives the same loss and parameters.
    let s1 = net.train_step(&mut cpu, &b2, 1e-3).unwrap();
    let s2 = restored.train_step(&mut cpu, &b2, 1e-3).unwrap();
    assert_eq!(s1, s2);
    assert_eq!(bits(&mut cpu, &net), bits(&mut cpu, &restored));

    // A checkpoint of another configuration is refused with a reason.
    let (g, e) = game(Field::Z2);
    let mut other = Network::new(
        &mut cpu,
        ModelConfig::preset("tiny").unwrap(),
        g,
        e,
        BATCH,
        seed,
    )
    .unwrap();
    let err = other.load_checkpoint(&mut cpu, &dir).unwrap_err();
    assert!(err.to_string().contains("different configuration"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn key_biases_get_no_gradient_and_stay_put() {
    let mut rng = fresh_rng("key-bias");
    let mut cpu = CpuBackend::new();
    let mut net = network(&mut cpu, Field::Z, rng.random());
    let data = batch(&mut rng, Field::Z);
    for _ in 0..20 {
        net.train_step(&mut cpu, &data, 3e-3).unwrap();
    }
    let (params, grads) = (
        cpu.read_f32(&net.weights.params),
        cpu.read_f32(&net.weights.grads),
    );
    let mut checked = 0;
    for e in &net.layout.entries {
        // Self-attention q‖k‖v: keys in the middle third; cross k‖v: first half.
        let keys = if e.name.ends_with(".qkv.bias") {
            let c = e.len() / 3;
            e.offset + c..e.offset + 2 * c
        } else if e.name.ends_with(".kv.bias") {
            e.offset..e.offset + e.len() / 2
        } else {
            continue;
        };
        assert!(grads[keys.clone()].iter().all(|&g| g == 0.0), "{}", e.name);
        assert!(
            params[keys.clone()].iter().all(|&p| p == 0.0),
            "{} drifted",
            e.name
        );
        // The rest of the bias does learn.
        let rest = e.offset..keys.start;
        let rest2 = keys.end..e.offset + e.len();
        assert!(
            params[rest].iter().chain(&params[rest2]).any(|&p| p != 0.0),
            "{} did not train",
            e.name
        );
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} attention biases found");
}

#[test]
fn weight_decay_reaches_linear_weights_only() {
    let mut rng = fresh_rng("weight-decay");
    let seed = rng.random();
    let data = batch(&mut rng, Field::Z);
    let mut cpu = CpuBackend::new();
    let params_after = |cpu: &mut CpuBackend, wd: f32| {
        let mut net = network(cpu, Field::Z, seed);
        net.optimiser.weight_decay = wd;
        // One step: both runs see the same gradients, so the decay is the
        // only difference.
        net.train_step(cpu, &data, 1e-2).unwrap();
        (cpu.read_f32(&net.weights.params), net.layout.clone())
    };
    let (plain, layout) = params_after(&mut cpu, 0.0);
    let (decayed, _) = params_after(&mut cpu, 0.5);
    let (mut weights, mut others) = (0, 0);
    for e in &layout.entries {
        let range = e.offset..e.offset + e.len();
        if e.name.ends_with(".weight") {
            assert_ne!(
                plain[range.clone()],
                decayed[range],
                "{} not decayed",
                e.name
            );
            weights += 1;
        } else {
            assert_eq!(plain[range.clone()], decayed[range], "{} decayed", e.name);
            others += 1;
        }
    }
    assert!(
        weights > 5 && others > 5,
        "{weights} weights, {others} others"
    );
}

#[test]
fn a_gpu_training_step_is_one_submission_and_one_read_back() {
    let Some(mut g) = gpu() else { return };
    let mut rng = fresh_rng("step-work");
    let mut net = network(&mut g, Field::Z, 5);
    let data = batch(&mut rng, Field::Z);
    net.train_step(&mut g, &data, 1e-3).unwrap();
    let before = g.counts();
    for _ in 0..3 {
        assert!(net.train_step(&mut g, &data, 1e-3).unwrap().is_finite());
    }
    // Uploads, forward, backward and the statistics go in one submission
    // with the read-back; the optimiser step rides with the next one.
    let c = g.counts() - before;
    assert_eq!((c.submits, c.reads), (3, 3), "{c:?}");
}

#[test]
fn step_statistics_are_the_loss_sums_and_the_argmax_accuracy() {
    let mut cpu = CpuBackend::new();
    let mut rng = fresh_rng("step-stats");
    let mut net = network(&mut cpu, Field::Z, 9);
    let data = batch(&mut rng, Field::Z);
    net.load(&mut cpu, &data).unwrap();
    net.forward(&mut cpu);
    let stats = net.stats(&mut cpu);
    let [policy, value] = net.loss_buffers().map(|buf| buf.clone());
    let sum = |v: Vec<f32>| v.iter().map(|&x| x as f64).sum::<f64>();
    let (p, v) = (sum(cpu.read_f32(&policy)), sum(cpu.read_f32(&value)));
    assert!(
        (stats.policy_loss as f64 - p).abs() <= 1e-5 * p.abs(),
        "{stats:?} vs {p}"
    );
    assert!(
        (stats.value_loss as f64 - v).abs() <= 1e-5 * v.abs(),
        "{stats:?} vs {v}"
    );
    let logits = cpu.read_f32(net.logits());
    let vocab = logits.len() / data.targets.len();
    let hits = logits
        .chunks(vocab)
        .zip(&data.targets)
        .filter(|(row, &t)| {
            let best = row
                .iter()
                .enumerate()
                .fold(0, |best, (i, &x)| if x > row[best] { i } else { best });
            best == t as usize
        })
        .count();
    let accuracy = hits as f32 / data.targets.len() as f32;
    assert!(
        (stats.token_accuracy - accuracy).abs() < 1e-6,
        "{stats:?} vs {accuracy}"
    );
}

#[test]
fn weights_sent_to_actors_load_exactly_and_bad_ones_are_refused() {
    let mut rng = fresh_rng("weights-bytes");
    let mut cpu = CpuBackend::new();
    let mut learner = network(&mut cpu, Field::Z, rng.random());
    let data = batch(&mut rng, Field::Z);
    learner.train_step(&mut cpu, &data, 1e-3).unwrap();
    let bytes = learner.weights_bytes(&mut cpu).unwrap();
    let meta = learner.meta(7);
    let mut actor = network(&mut cpu, Field::Z, rng.random());
    actor.load_weights_bytes(&mut cpu, &meta, &bytes).unwrap();
    assert_eq!(
        cpu.read_f32(&learner.weights.params),
        cpu.read_f32(&actor.weights.params)
    );
    // Another network's weights, a NaN and a truncated file: refused, and
    // the actor keeps what it had.
    let before = cpu.read_f32(&actor.weights.params);
    let mut z2 = network(&mut cpu, Field::Z2, 1);
    let err = z2.load_weights_bytes(&mut cpu, &meta, &bytes).unwrap_err();
    assert!(err.to_string().contains("another network"), "{err}");
    let mut nan = bytes.clone();
    let at = nan.len() - 4;
    nan[at..].copy_from_slice(&f32::NAN.to_le_bytes());
    let err = actor.load_weights_bytes(&mut cpu, &meta, &nan).unwrap_err();
    assert!(err.to_string().contains("not finite"), "{err}");
    assert!(actor
        .load_weights_bytes(&mut cpu, &meta, &bytes[..bytes.len() / 2])
        .is_err());
    assert_eq!(cpu.read_f32(&actor.weights.params), before);
}
