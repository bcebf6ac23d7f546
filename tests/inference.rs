//! The search's inference path: what it samples is what the trained policy
//! says (its log-probabilities equal the teacher-forced cross-entropy of
//! the training network), the incremental decoder draws what the full
//! decoder draws for the same uniforms, the GPU draws the same actions
//! as the CPU for the same uniforms, and states made on the device, or
//! valued by the value head alone, evaluate as the host's to the bit.

mod common;

use common::gpu::{fresh_rng, gpu};
use rand::rngs::StdRng;
use rand::Rng;
use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::engine::*;
use tensorsearch::game::record::FinishedGame;
use tensorsearch::game::{ActionEncoding, GameConfig};
use tensorsearch::model::{Batch, Evaluator, LeafUpdates, Network};
use tensorsearch::problem::{Field, Shape};
use tensorsearch::search::selfplay::{
    LeafUpdates as SelfPlayLeafUpdates, SelfPlay, SelfPlayCounters,
};
use tensorsearch::train::synthetic_batch;

fn setup<B: Backend>(b: &mut B, field: Field, batch: usize) -> Network<B> {
    setup_with(b, "tiny", field, batch)
}

fn setup_with<B: Backend>(b: &mut B, preset: &str, field: Field, batch: usize) -> Network<B> {
    common::selfplay::network(b, preset, field, batch)
}

/// Each state's encoding repeated once per sample, grid-major, as the
/// training network lays out n·k rows.
fn repeat_states(states: &[f32], per_state: usize, n: usize, k: usize) -> Vec<f32> {
    let mut rep = vec![0.0f32; 3 * n * k * per_state];
    for g in 0..3 {
        for s in 0..n {
            for j in 0..k {
                let src = (g * n + s) * per_state;
                let dst = (g * n * k + s * k + j) * per_state;
                rep[dst..dst + per_state].copy_from_slice(&states[src..src + per_state]);
            }
        }
    }
    rep
}

fn states_and_uniforms(
    rng: &mut StdRng,
    net_game: &GameConfig,
    enc: &ActionEncoding,
    n: usize,
    u: usize,
) -> (Vec<f32>, Vec<f32>) {
    let batch = synthetic_batch(rng, net_game, enc, n, 8);
    let uniforms = (0..u).map(|_| rng.random::<f32>()).collect();
    (batch.states, uniforms)
}

#[test]
fn sampled_log_probabilities_are_the_trained_policy() {
    let mut rng = fresh_rng("sampled_log_probabilities_are_the_trained_policy");
    for field in [Field::Z, Field::Z2] {
        let n = 5;
        let k = 3;
        let mut b = CpuBackend::new();
        let mut net = setup(&mut b, field, n * k);
        let mut ev = Evaluator::new(&mut b, &net, n, k).unwrap();
        let (game, enc) = (net.game.clone(), net.encoding.clone());
        let (states, uniforms) = states_and_uniforms(&mut rng, &game, &enc, n, ev.uniforms_len());
        let out = ev.evaluate(&mut b, &states, &uniforms).unwrap();
        let t = enc.n_tokens();
        assert_eq!(out.tokens.len(), n * k * t);
        assert_eq!(out.quantiles.len(), n * net.model.quantiles);
        // The training network on each state repeated K times, teacher
        // forced on the sampled tokens.
        let per_state = game.state_features() / 3;
        let batch = Batch {
            states: repeat_states(&states, per_state, n, k),
            targets: out.tokens.clone(),
            values: vec![0.0; n * k],
        };
        net.evaluate(&mut b, &batch).unwrap();
        let [xent, _] = net.loss_buffers();
        let per_token = b.read_f32(xent);
        let rows = n * k * t;
        for r in 0..n * k {
            // Each row's loss is weighted by 1/rows in training.
            let nll: f32 = per_token[r * t..(r + 1) * t]
                .iter()
                .map(|x| x * rows as f32)
                .sum();
            assert!(
                (out.log_probs[r] + nll).abs() < 1e-3 * (1.0 + nll.abs()),
                "{field} row {r}: sampler log p {} but the policy gives {}",
                out.log_probs[r],
                -nll
            );
        }
        let q = b.read_f32(net.quantiles());
        for s in 0..n {
            for i in 0..net.model.quantiles {
                let a = out.quantiles[s * net.model.quantiles + i];
                let c = q[s * k * net.model.quantiles + i];
                assert!((a - c).abs() < 1e-4, "{field} value of state {s}");
            }
        }
    }
}

/// What the incremental decoder drew, what the full decoder (the
/// teacher-forced training network, which reruns every earlier position)
/// draws at each position from the same prefix with the same uniforms,
/// and the largest difference between their logits.
fn incremental_and_full_draws<B: Backend>(
    b: &mut B,
    rng: &mut StdRng,
    preset: &str,
    field: Field,
) -> (Vec<u32>, Vec<u32>, f32) {
    let (n, k) = (4, 3);
    let mut net = setup_with(b, preset, field, n * k);
    let mut ev = Evaluator::new(b, &net, n, k).unwrap();
    let (game, enc) = (net.game.clone(), net.encoding.clone());
    let (states, uniforms) = states_and_uniforms(rng, &game, &enc, n, ev.uniforms_len());
    let (incremental, traced) = ev.evaluate_traced(b, &states, &uniforms).unwrap();
    let batch = Batch {
        states: repeat_states(&states, game.state_features() / 3, n, k),
        targets: incremental.tokens.clone(),
        values: vec![0.0; n * k],
    };
    net.evaluate(b, &batch).unwrap();
    let full_logits = b.read_f32(&net.policy.logits);
    let (t, vocab, rows) = (enc.n_tokens(), enc.vocab_size(), n * k);
    let spec = SampleSpec {
        rows,
        vocab,
        inv_temperature: 1.0,
    };
    let mut full = vec![0u32; rows * t];
    let mut gap = 0.0f32;
    for p in 0..t {
        // Position p of every row, drawn on the same backend.
        let slab: Vec<f32> = (0..rows)
            .flat_map(|r| full_logits[(r * t + p) * vocab..(r * t + p + 1) * vocab].to_vec())
            .collect();
        for (a, c) in slab.iter().zip(&traced[p]) {
            gap = gap.max((a - c).abs());
        }
        let (logits, u, drawn) = (
            b.alloc(slab.len()).unwrap(),
            b.alloc(rows).unwrap(),
            b.alloc(rows).unwrap(),
        );
        b.write_f32(&logits, &slab);
        b.write_f32(&u, &uniforms[p * rows..(p + 1) * rows]);
        b.sample_tokens(&spec, &logits, &u, &drawn);
        for (r, tok) in b.read_u32(&drawn).into_iter().enumerate() {
            full[r * t + p] = tok;
        }
    }
    (incremental.tokens, full, gap)
}

#[test]
fn incremental_decoding_draws_what_full_decoding_draws() {
    let mut rng = fresh_rng("incremental_decoding_draws_what_full_decoding_draws");
    let mut gpu = gpu();
    for preset in ["tiny", "small"] {
        for field in [Field::Z, Field::Z2] {
            let mut c = CpuBackend::new();
            let (inc, full, gap) = incremental_and_full_draws(&mut c, &mut rng, preset, field);
            assert_eq!(inc, full, "cpu {preset} {field}: the draws differ");
            assert!(gap <= 1e-5, "cpu {preset} {field}: logits differ by {gap}");
            println!("cpu {preset} {field}: logits differ by {gap}");
            if let Some(g) = gpu.as_mut() {
                let (inc, full, gap) = incremental_and_full_draws(g, &mut rng, preset, field);
                assert_eq!(inc, full, "gpu {preset} {field}: the draws differ");
                assert!(gap <= 1e-5, "gpu {preset} {field}: logits differ by {gap}");
                println!("gpu {preset} {field}: logits differ by {gap}");
            }
        }
    }
}

#[test]
fn gpu_and_cpu_draw_the_same_actions_for_the_same_uniforms() {
    let Some(mut g) = gpu() else { return };
    let mut rng = fresh_rng("gpu_and_cpu_draw_the_same_actions_for_the_same_uniforms");
    for field in [Field::Z, Field::Z2] {
        let (n, k) = (7, 5);
        let mut c = CpuBackend::new();
        let cnet = setup(&mut c, field, 4);
        let gnet = setup(&mut g, field, 4);
        let mut cev = Evaluator::new(&mut c, &cnet, n, k).unwrap();
        let mut gev = Evaluator::new(&mut g, &gnet, n, k).unwrap();
        let (game, enc) = (cnet.game.clone(), cnet.encoding.clone());
        let (states, uniforms) = states_and_uniforms(&mut rng, &game, &enc, n, cev.uniforms_len());
        let (cpu, logits) = cev.evaluate_traced(&mut c, &states, &uniforms).unwrap();
        let gpu = gev.evaluate(&mut g, &states, &uniforms).unwrap();
        for (a, b) in cpu.quantiles.iter().zip(&gpu.quantiles) {
            assert!(
                (a - b).abs() <= 1e-4 + 1e-4 * a.abs(),
                "{field}: value {a} vs {b}"
            );
        }
        let t = enc.n_tokens();
        let vocab = enc.vocab_size();
        let rows = n * k;
        let mut boundary_rows = 0;
        for r in 0..rows {
            for p in 0..t {
                let (ct, gt) = (cpu.tokens[r * t + p], gpu.tokens[r * t + p]);
                if ct == gt {
                    continue;
                }
                // Acceptable only when the uniform sits on a CDF boundary of
                // this row's softmax, to within 1e-5 (computed in f64); the
                // rest of the row then legitimately differs.
                let row = &logits[p][r * vocab..(r + 1) * vocab];
                let m = row.iter().fold(f64::NEG_INFINITY, |a, &x| a.max(x as f64));
                let e: Vec<f64> = row.iter().map(|&x| (x as f64 - m).exp()).collect();
                let total: f64 = e.iter().sum();
                let cdf: f64 = e[..ct.min(gt) as usize + 1].iter().sum::<f64>() / total;
                let u = uniforms[p * rows + r] as f64;
                assert!(
                    (cdf - u).abs() < 1e-5,
                    "{field} row {r} token {p}: cpu {ct}, gpu {gt}, uniform {u} is {} from the boundary",
                    (cdf - u).abs()
                );
                boundary_rows += 1;
                break;
            }
            if cpu.tokens[r * t..(r + 1) * t] == gpu.tokens[r * t..(r + 1) * t] {
                let (a, b) = (cpu.log_probs[r], gpu.log_probs[r]);
                assert!(
                    (a - b).abs() <= 1e-3 + 1e-4 * a.abs(),
                    "{field} row {r}: log p {a} vs {b}"
                );
            }
        }
        assert!(
            boundary_rows <= 1,
            "{field}: {boundary_rows} rows on a boundary"
        );
    }
}

/// Parents, actions and histories of `n` leaves in `slots` slots (the
/// rest zero; every third leaf a root, evaluated as it is), and the same
/// leaves encoded by the host from residuals it updated itself.
fn leaves_both_ways(
    rng: &mut StdRng,
    game: &GameConfig,
    n: usize,
    slots: usize,
) -> (Vec<f32>, [Vec<i32>; 3]) {
    let set: &[i32] = if game.field == Field::Z2 {
        &[0, 1]
    } else {
        &[-1, 0, 1]
    };
    let draw = |rng: &mut StdRng, len: usize| -> Vec<i32> {
        (0..len)
            .map(|_| set[rng.random_range(0..set.len())])
            .collect()
    };
    let (len, a) = (game.dims.iter().product::<usize>(), game.action_len());
    let h = game.history_words_len();
    let mut parents = vec![0; slots * len];
    let mut actions = vec![0; slots * a];
    let mut histories = vec![0; slots * h];
    let mut encoded = vec![0.0; slots * game.state_features()];
    let mut scratch = vec![0.0; game.state_features()];
    for slot in 0..n {
        let parent = draw(rng, len);
        let root = slot % 3 == 0;
        let action = if root { vec![0; a] } else { draw(rng, a) };
        let mut residual = parent.clone();
        game.subtract(&mut residual, &action);
        let history: Vec<Vec<i32>> = if root { vec![] } else { vec![action.clone()] };
        let step = rng.random_range(0..game.max_steps);
        game.encode_into_batch(
            &residual,
            &history,
            step,
            slot,
            slots,
            &mut scratch,
            &mut encoded,
        );
        parents[slot * len..(slot + 1) * len].copy_from_slice(&parent);
        actions[slot * a..(slot + 1) * a].copy_from_slice(&action);
        game.history_words(&history, step, &mut histories[slot * h..(slot + 1) * h]);
    }
    (encoded, [parents, actions, histories])
}

fn updates_evaluate_as_encoded_states<B: Backend>(b: &mut B, rng: &mut StdRng) {
    for field in [Field::Z, Field::Z2] {
        let (slots, k) = (7, 4);
        let net = setup(b, field, 2);
        let mut ev = Evaluator::new(b, &net, slots, k).unwrap();
        let (encoded, [parents, actions, histories]) = leaves_both_ways(rng, &net.game, 5, slots);
        let uniforms: Vec<f32> = (0..ev.uniforms_len()).map(|_| rng.random()).collect();
        let host = ev.evaluate(b, &encoded, &uniforms).unwrap();
        let leaves = LeafUpdates {
            parents: &parents,
            actions: &actions,
            histories: &histories,
        };
        let device = ev.evaluate_updates(b, &leaves, &uniforms).unwrap();
        assert_eq!(host.tokens, device.tokens, "{field}: draws");
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&host.log_probs),
            bits(&device.log_probs),
            "{field}: log p"
        );
        assert_eq!(
            bits(&host.quantiles),
            bits(&device.quantiles),
            "{field}: values"
        );
        // The value head alone (no draws) gives the same quantiles, either
        // way, and other states give other values (no stale read).
        let alone = ev.values(b, &encoded).unwrap();
        assert_eq!(bits(&alone), bits(&host.quantiles), "{field}: value alone");
        let alone = ev.values_updates(b, &leaves).unwrap();
        assert_eq!(
            bits(&alone),
            bits(&host.quantiles),
            "{field}: value alone, updates"
        );
        let (other, _) = leaves_both_ways(rng, &net.game, 5, slots);
        assert_ne!(
            bits(&ev.values(b, &other).unwrap()),
            bits(&alone),
            "{field}"
        );
        let short = LeafUpdates {
            parents: &parents[1..],
            ..leaves
        };
        let err = ev.evaluate_updates(b, &short, &uniforms).unwrap_err();
        assert!(err.to_string().contains("update words"), "{err}");
    }
}

#[test]
fn states_updated_on_the_device_evaluate_as_the_hosts_to_the_bit() {
    let mut rng = fresh_rng("states_updated_on_the_device_evaluate_as_the_hosts_to_the_bit");
    updates_evaluate_as_encoded_states(&mut CpuBackend::new(), &mut rng);
    if let Some(mut g) = gpu() {
        updates_evaluate_as_encoded_states(&mut g, &mut rng);
    }
}

/// A finished game's actions and its final value's bits.
type Played = (Vec<Vec<i32>>, u64);

/// The games a few rounds of self-play finish, and the actors' counters.
fn self_play_games<B: Backend>(
    b: &mut B,
    field: Field,
    leaf_updates: SelfPlayLeafUpdates,
) -> (Vec<Played>, SelfPlayCounters) {
    let (games, counters) = self_play_with_restarts(b, field, leaf_updates, 0.5, 60);
    (
        games
            .into_iter()
            .map(|f| (f.actions, f.final_value.to_bits()))
            .collect(),
        counters,
    )
}

/// The games `rounds` rounds of self-play finish, with a `restarts` share
/// of new games started from archived prefixes, and the counters.
fn self_play_with_restarts<B: Backend>(
    b: &mut B,
    field: Field,
    leaf_updates: SelfPlayLeafUpdates,
    restarts: f64,
    rounds: usize,
) -> (Vec<FinishedGame>, SelfPlayCounters) {
    let net = setup(b, field, 2);
    let cfg = common::selfplay::small_config(3, restarts, leaf_updates);
    let mut actors = SelfPlay::new(b, &net, cfg, 9).unwrap();
    let mut finished = Vec::new();
    for _ in 0..rounds {
        finished.extend(actors.round(b).unwrap());
    }
    (finished, actors.counters)
}

/// Games restarted from archived prefixes are whole games: moves and
/// actions pair up, each move's state is the game's tensor less the
/// actions before it, and a solved game's scheme verified (`found`).
#[test]
fn restarted_games_carry_their_prefix_whole() {
    let b = &mut CpuBackend::new();
    for field in [Field::Z2, Field::Z] {
        let game = GameConfig::new(Shape::new(2, 2, 2).unwrap(), field, 1, 8);
        let (games, counters) =
            self_play_with_restarts(b, field, SelfPlayLeafUpdates::Host, 1.0, 120);
        // Once the archive holds a prefix, every new game restarts.
        assert!(games.len() > 3, "{field}: {} games", games.len());
        assert!(
            games.len() <= counters.restarts as usize + 3,
            "{field}: {} games, {} restarts",
            games.len(),
            counters.restarts
        );
        for f in &games {
            assert_eq!(f.moves.len(), f.actions.len(), "{field}");
            let mut residual = f.tensor.clone();
            for (t, (m, a)) in f.moves.iter().zip(&f.actions).enumerate() {
                assert_eq!(m.step, t, "{field}");
                assert_eq!(m.residual, residual, "{field}: move {t}");
                game.subtract(&mut residual, a);
            }
            let solved = residual.iter().all(|&x| x == 0);
            assert_eq!(solved, f.found.is_some(), "{field}");
            if let Some(d) = &f.found {
                assert_eq!(d.rank(), f.actions.len());
                tensorsearch::problem::verify(d, field).unwrap();
            }
        }
    }
}

#[test]
fn self_play_plays_the_same_games_with_leaves_made_on_the_host_or_the_device() {
    let mut backends: Vec<Box<dyn FnMut(Field, SelfPlayLeafUpdates) -> _>> =
        vec![Box::new(|f, u| {
            self_play_games(&mut CpuBackend::new(), f, u)
        })];
    if let Some(mut g) = gpu() {
        backends.push(Box::new(move |f, u| self_play_games(&mut g, f, u)));
    }
    for run in &mut backends {
        for field in [Field::Z2, Field::Z] {
            let (host, host_counters) = run(field, SelfPlayLeafUpdates::Host);
            let (device, device_counters) = run(field, SelfPlayLeafUpdates::Device);
            assert!(host_counters.games > 0, "{field}: no game finished");
            assert!(
                host_counters.evaluations > 100,
                "{field}: {host_counters:?}"
            );
            assert_eq!(host, device, "{field}: games");
            assert_eq!(host_counters, device_counters, "{field}: counters");
        }
    }
}
