//! Every backward pass of the CPU reference against central finite
//! differences in f64. Each check uses the scalar L = Σ g·y with a random
//! upstream gradient g, perturbs every input word by ±h, and requires
//! |numeric − analytic| ≤ 1e-6 + 1e-5·|analytic|.

mod common;

use common::gpu::fresh_rng;
use rand::rngs::StdRng;
use rand::Rng;
use tensorsearch::engine::ops::*;
use tensorsearch::engine::*;

const H: f64 = 1e-5;

fn rand_vec(rng: &mut StdRng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Compares `analytic` with the central difference of `loss` at `x`.
fn check(what: &str, x: &[f64], analytic: &[f64], loss: impl Fn(&[f64]) -> f64) {
    assert_eq!(x.len(), analytic.len(), "{what}: gradient length");
    let mut xp = x.to_vec();
    for i in 0..x.len() {
        xp[i] = x[i] + H;
        let up = loss(&xp);
        xp[i] = x[i] - H;
        let down = loss(&xp);
        xp[i] = x[i];
        let numeric = (up - down) / (2.0 * H);
        let a = analytic[i];
        assert!(
            (numeric - a).abs() <= 1e-6 + 1e-5 * a.abs(),
            "{what}[{i}]: analytic {a} vs numeric {numeric}"
        );
    }
}

#[test]
fn linear_layer_gradients() {
    let mut rng = fresh_rng("linear");
    let (rows, inp, out) = (5, 4, 3);
    let x = rand_vec(&mut rng, rows * inp, -1.0, 1.0);
    let w = rand_vec(&mut rng, inp * out, -1.0, 1.0);
    let bias = rand_vec(&mut rng, out, -1.0, 1.0);
    let g = rand_vec(&mut rng, rows * out, -1.0, 1.0);
    let forward = |x: &[f64], w: &[f64], bias: &[f64]| {
        let mut y = vec![0.0; rows * out];
        matmul::cpu(&MatmulSpec::new(rows, out, inp), x, w, &mut y);
        matmul::bias_add_cpu(rows, out, &mut y, bias);
        dot(&g, &y)
    };
    // dX = dY·Wᵀ, dW += Xᵀ·dY, dbias += Σ_r dY: the recipes the model uses.
    let mut dx = vec![0.0; rows * inp];
    matmul::cpu(&MatmulSpec::new(rows, inp, out).trans_b(), &g, &w, &mut dx);
    let mut dw = vec![0.0; inp * out];
    matmul::cpu(
        &MatmulSpec::new(inp, out, rows).trans_a().accumulate(),
        &x,
        &g,
        &mut dw,
    );
    let mut db = vec![0.0; out];
    matmul::bias_backward_cpu(rows, out, &g, &mut db);
    check("dX", &x, &dx, |x| forward(x, &w, &bias));
    check("dW", &w, &dw, |w| forward(&x, w, &bias));
    check("dbias", &bias, &db, |b| forward(&x, &w, b));
}

#[test]
fn batched_matmul_with_transposes_gradients() {
    let mut rng = fresh_rng("matmul");
    let (batch, m, n, k) = (2, 3, 4, 5);
    // C = Aᵀ·Bᵀ per batch; A stored k×m, B stored n×k.
    let s = MatmulSpec::new(m, n, k)
        .trans_a()
        .trans_b()
        .batched(batch, false);
    let a = rand_vec(&mut rng, batch * m * k, -1.0, 1.0);
    let b = rand_vec(&mut rng, batch * n * k, -1.0, 1.0);
    let g = rand_vec(&mut rng, batch * m * n, -1.0, 1.0);
    let loss = |a: &[f64], b: &[f64]| {
        let mut c = vec![0.0; batch * m * n];
        matmul::cpu(&s, a, b, &mut c);
        dot(&g, &c)
    };
    // dA (k×m) = Bᵀ·Gᵀ, i.e. (G·B)ᵀ: A stored k×m so dA[kk][i] = Σ_j B[j][kk] G[i][j].
    let mut da = vec![0.0; batch * m * k];
    matmul::cpu(
        &MatmulSpec::new(k, m, n)
            .trans_a()
            .trans_b()
            .batched(batch, false),
        &b,
        &g,
        &mut da,
    );
    // dB (n×k) = Gᵀ·Aᵀ.
    let mut db = vec![0.0; batch * n * k];
    matmul::cpu(
        &MatmulSpec::new(n, k, m)
            .trans_a()
            .trans_b()
            .batched(batch, false),
        &g,
        &a,
        &mut db,
    );
    check("dA", &a, &da, |a| loss(a, &b));
    check("dB", &b, &db, |b| loss(&a, b));
}

#[test]
fn layer_norm_gradients() {
    let mut rng = fresh_rng("layernorm");
    let s = LayerNormSpec::new(4, 6);
    let x = rand_vec(&mut rng, 24, -2.0, 2.0);
    let gain = rand_vec(&mut rng, 6, 0.5, 1.5);
    let bias = rand_vec(&mut rng, 6, -0.5, 0.5);
    let g = rand_vec(&mut rng, 24, -1.0, 1.0);
    let loss = |x: &[f64], gain: &[f64], bias: &[f64]| {
        let (mut y, mut m, mut r) = (vec![0.0; 24], vec![0.0; 4], vec![0.0; 4]);
        layernorm::cpu(&s, x, gain, bias, &mut y, &mut m, &mut r);
        dot(&g, &y)
    };
    let (mut y, mut m, mut r) = (vec![0.0; 24], vec![0.0; 4], vec![0.0; 4]);
    layernorm::cpu(&s, &x, &gain, &bias, &mut y, &mut m, &mut r);
    let (mut dx, mut dg, mut db) = (vec![0.0; 24], vec![0.0; 6], vec![0.0; 6]);
    layernorm::backward_cpu(&s, &x, &gain, &m, &r, &g, &mut dx, &mut dg, &mut db);
    check("dx", &x, &dx, |x| loss(x, &gain, &bias));
    check("dgain", &gain, &dg, |v| loss(&x, v, &bias));
    check("dbias", &bias, &db, |v| loss(&x, &gain, v));
}

#[test]
fn gelu_and_mean_gradients() {
    let mut rng = fresh_rng("gelu");
    let x = rand_vec(&mut rng, 40, -5.0, 5.0);
    let g = rand_vec(&mut rng, 40, -1.0, 1.0);
    let mut dx = vec![0.0; 40];
    elementwise::gelu_backward_cpu(&x, &g, &mut dx);
    check("gelu", &x, &dx, |x| {
        let mut y = vec![0.0; 40];
        elementwise::gelu_cpu(x, &mut y);
        dot(&g, &y)
    });

    let s = MeanSpec {
        batch: 2,
        positions: 5,
        channels: 4,
        accumulate: false,
    };
    let gm = rand_vec(&mut rng, 8, -1.0, 1.0);
    let mut dxm = vec![0.0; 40];
    mean::backward_cpu(&s, &gm, &mut dxm);
    check("mean", &x, &dxm, |x| {
        let mut y = vec![0.0; 8];
        mean::cpu(&s, x, &mut y);
        dot(&gm, &y)
    });
}

#[test]
fn attention_gradients() {
    let mut rng = fresh_rng("attention");
    for s in [
        AttentionSpec::new(2, 2, 3, 3, 4),
        AttentionSpec::new(1, 2, 4, 4, 3).causal(),
        AttentionSpec::new(2, 1, 2, 5, 3),
        // Keys of the two batches interleaved, as in the decoder's cache.
        AttentionSpec {
            k_stride: 2 * 3,
            v_stride: 2 * 3,
            kv_batch: Some(3),
            ..AttentionSpec::new(2, 1, 1, 4, 3)
        },
    ] {
        let [lq, lk, lv, lo] = s.extents();
        let q = rand_vec(&mut rng, lq, -1.0, 1.0);
        let k = rand_vec(&mut rng, lk, -1.0, 1.0);
        let v = rand_vec(&mut rng, lv, -1.0, 1.0);
        let g = rand_vec(&mut rng, lo, -1.0, 1.0);
        let loss = |q: &[f64], k: &[f64], v: &[f64]| {
            let (mut o, mut l) = (vec![0.0; lo], vec![0.0; s.lse_len()]);
            attention::cpu(&s, q, k, v, &mut o, &mut l);
            dot(&g, &o)
        };
        let (mut o, mut l) = (vec![0.0; lo], vec![0.0; s.lse_len()]);
        attention::cpu(&s, &q, &k, &v, &mut o, &mut l);
        let (mut dq, mut dk, mut dv) = (vec![0.0; lq], vec![0.0; lk], vec![0.0; lv]);
        attention::backward_cpu(&s, &q, &k, &v, &o, &l, &g, &mut dq, &mut dk, &mut dv);
        check("dq", &q, &dq, |q| loss(q, &k, &v));
        check("dk", &k, &dk, |k| loss(&q, k, &v));
        check("dv", &v, &dv, |v| loss(&q, &k, v));
    }
}

#[test]
fn causal_mask_hides_later_keys() {
    let mut rng = fresh_rng("causal");
    let s = AttentionSpec::new(1, 2, 5, 5, 3).causal();
    let [lq, lk, lv, lo] = s.extents();
    let q = rand_vec(&mut rng, lq, -1.0, 1.0);
    let mut k = rand_vec(&mut rng, lk, -1.0, 1.0);
    let mut v = rand_vec(&mut rng, lv, -1.0, 1.0);
    let run = |k: &[f64], v: &[f64]| {
        let (mut o, mut l) = (vec![0.0; lo], vec![0.0; s.lse_len()]);
        attention::cpu(&s, &q, k, v, &mut o, &mut l);
        o
    };
    let before = run(&k, &v);
    // Change key and value 3: rows 0..3 must not move, row 3 must.
    for d in 0..6 {
        k[3 * 6 + d] += 1.0;
        v[3 * 6 + d] -= 1.0;
    }
    let after = run(&k, &v);
    assert_eq!(before[..3 * 6], after[..3 * 6]);
    assert_ne!(before[3 * 6..4 * 6], after[3 * 6..4 * 6]);
}

#[test]
fn embedding_and_gather_gradients() {
    let mut rng = fresh_rng("embedding");
    let s = EmbeddingSpec {
        tokens: 9,
        dim: 3,
        vocab: 5,
    };
    let tokens: Vec<u32> = (0..9).map(|_| rng.random_range(0..4)).collect();
    let table = rand_vec(&mut rng, 15, -1.0, 1.0);
    let g = rand_vec(&mut rng, 27, -1.0, 1.0);
    let (offsets, positions) = TokenIndex::csr(&tokens, 5);
    let mut dt = vec![0.0; 15];
    embedding::backward_cpu(&s, &offsets, &positions, &g, &mut dt);
    check("dtable", &table, &dt, |t| {
        let mut out = vec![0.0; 27];
        embedding::cpu(&s, &tokens, t, &mut out);
        dot(&g, &out)
    });

    let perm: Vec<u32> = vec![3, 0, 4, 1, 2];
    let inv = gather::invert_permutation(&perm);
    let src = rand_vec(&mut rng, 10, -1.0, 1.0);
    let gg = rand_vec(&mut rng, 10, -1.0, 1.0);
    let mut dsrc = vec![0.0; 10];
    gather::cpu(5, 2, &inv, &gg, &mut dsrc);
    check("gather", &src, &dsrc, |x| {
        let mut y = vec![0.0; 10];
        gather::cpu(5, 2, &perm, x, &mut y);
        dot(&gg, &y)
    });
}

#[test]
fn loss_gradients() {
    let mut rng = fresh_rng("losses");
    let s = XentSpec { rows: 4, vocab: 7 };
    let logits = rand_vec(&mut rng, 28, -3.0, 3.0);
    let targets: Vec<u32> = (0..4).map(|_| rng.random_range(0..7)).collect();
    let weights = rand_vec(&mut rng, 4, 0.1, 1.0);
    let xent = |x: &[f64], d: &mut [f64]| {
        let mut loss = vec![0.0; 4];
        let mut correct = vec![0.0; 4];
        losses::xent_cpu(&s, x, &targets, &weights, &mut loss, d, &mut correct);
        loss.iter().sum::<f64>()
    };
    let mut d = vec![0.0; 28];
    xent(&logits, &mut d);
    check("dlogits", &logits, &d, |x| xent(x, &mut vec![0.0; 28]));

    let qs = QuantileSpec {
        batch: 5,
        quantiles: 8,
        delta: 1.0,
        scale: 0.2,
    };
    let q = rand_vec(&mut rng, 40, -3.0, 3.0);
    let t = rand_vec(&mut rng, 5, -3.0, 3.0);
    let quantile = |q: &[f64], d: &mut [f64]| {
        let mut loss = vec![0.0; 5];
        losses::quantile_cpu(&qs, q, &t, &mut loss, d);
        loss.iter().sum::<f64>()
    };
    let mut dq = vec![0.0; 40];
    quantile(&q, &mut dq);
    check("dquantiles", &q, &dq, |x| quantile(x, &mut vec![0.0; 40]));
}

/// Fits 8 free values to samples of U(0,1) by gradient descent on the
/// quantile Huber loss with threshold `delta`.
fn fit_quantiles(rng: &mut StdRng, delta: f32) -> Vec<f32> {
    let batch = 512;
    let s = QuantileSpec {
        batch,
        quantiles: 8,
        delta,
        scale: 1.0 / batch as f32,
    };
    let mut q = vec![0.5f32; 8];
    let (mut loss, mut dq) = (vec![0.0f32; batch], vec![0.0f32; batch * 8]);
    for step in 0..4000 {
        let targets: Vec<f32> = (0..batch).map(|_| rng.random_range(0.0..1.0)).collect();
        let tiled: Vec<f32> = (0..batch).flat_map(|_| q.clone()).collect();
        losses::quantile_cpu(&s, &tiled, &targets, &mut loss, &mut dq);
        // Gradients scale with min(|u|, delta): scale the step back.
        let lr = [2.0, 0.2, 0.04][step / 1500] / delta.min(1.0);
        for (i, qi) in q.iter_mut().enumerate() {
            let grad: f32 = (0..batch).map(|b| dq[b * 8 + i]).sum();
            *qi -= lr * grad;
        }
    }
    q
}

#[test]
fn fitted_quantiles_ascend_towards_their_levels() {
    // With a Huber threshold well below the spread of the targets the loss
    // is the quantile (pinball) loss: the fit lands on τ_i = (i + 0.5)/8.
    let mut rng = fresh_rng("quantile-fit");
    let q = fit_quantiles(&mut rng, 0.01);
    for i in 0..8 {
        let tau = (i as f32 + 0.5) / 8.0;
        assert!(
            (q[i] - tau).abs() < 0.03,
            "quantile {i}: {} vs {tau} (all: {q:?})",
            q[i]
        );
        assert!(i == 0 || q[i] > q[i - 1], "not ascending: {q:?}");
    }
}

#[test]
fn huber_one_on_unit_targets_gives_ascending_expectiles() {
    // With huber_1 and targets in (0,1) every residual is in the quadratic
    // zone, so the loss is asymmetric least squares: the fit is the
    // τ-expectile of U(0,1), √τ / (√τ + √(1−τ)), still ascending in τ.
    let mut rng = fresh_rng("expectile-fit");
    let q = fit_quantiles(&mut rng, 1.0);
    for i in 0..8 {
        let tau = (i as f32 + 0.5) / 8.0;
        let expectile = tau.sqrt() / (tau.sqrt() + (1.0 - tau).sqrt());
        assert!(
            (q[i] - expectile).abs() < 0.02,
            "value {i}: {} vs {expectile} (all: {q:?})",
            q[i]
        );
        assert!(i == 0 || q[i] > q[i - 1], "not ascending: {q:?}");
    }
}
