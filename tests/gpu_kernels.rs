//! Every kernel on the GPU against the CPU reference, on fresh random
//! inputs at sizes that are not multiples of the workgroup size, with
//! inputs at nonzero offsets and outputs filled with NaN beforehand.
//! Tolerance: |gpu − cpu| ≤ 1e-4 + 1e-4·|cpu| unless a test says otherwise.

mod common;

use common::gpu::*;
use rand::rngs::StdRng;
use rand::Rng;
use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::engine::ops::gather::invert_permutation;
use tensorsearch::engine::*;

use tensorsearch::game::GameConfig;
use tensorsearch::problem::{Field, Shape};

const ATOL: f32 = 1e-4;
const RTOL: f32 = 1e-4;

macro_rules! both {
    ($gpu:expr, |$b:ident| $body:expr) => {{
        let cpu_out = {
            let mut cpu = CpuBackend::new();
            let $b = &mut cpu;
            $body
        };
        let gpu_out = {
            let $b = &mut *$gpu;
            $body
        };
        (cpu_out, gpu_out)
    }};
}

fn check_all(what: &str, cpu: Vec<Vec<f32>>, gpu: Vec<Vec<f32>>) {
    for (i, (c, g)) in cpu.iter().zip(&gpu).enumerate() {
        assert_close(&format!("{what} output {i}"), g, c, ATOL, RTOL);
    }
}

/// Operands at offset `pad`: 4 lets aligned shapes take the vec4 kernel.
fn matmul_case<B: Backend>(
    b: &mut B,
    s: &MatmulSpec,
    a: &[f32],
    bm: &[f32],
    c0: &[f32],
    pad: usize,
) -> Vec<Vec<f32>> {
    let a = upload_at(b, a, pad);
    let bb = upload_at(b, bm, pad);
    let c = if s.accumulate {
        upload_at(b, c0, pad)
    } else {
        upload_at(b, &vec![f32::NAN; c0.len()], pad)
    };
    b.matmul(s, &a, &bb, &c);
    vec![b.read_f32(&c)]
}

#[test]
fn matmul_matches_cpu() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("matmul");
    // Odd shapes take the general kernel; (13, 24, 20) and (64, 16, 36)
    // at offset 4 take the vec4 one (k % 4 == 0, n % 8 == 0), with row
    // counts that are not multiples of its 8-row tile. Odd shapes narrower
    // than 256 columns take the flat kernel, (9, 261, 5) the column one.
    let shapes = [
        (1, 1, 1),
        (5, 7, 3),
        (33, 17, 65),
        (70, 3, 129),
        (13, 24, 20),
        (64, 16, 36),
        (9, 261, 5),
    ];
    for (m, n, k) in shapes {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for accumulate in [false, true] {
                for (batch, share_b) in [(1, false), (3, false), (2, true)] {
                    let mut s = MatmulSpec::new(m, n, k).batched(batch, share_b);
                    s.trans_a = ta;
                    s.trans_b = tb;
                    s.accumulate = accumulate;
                    let [la, lb, lc] = s.extents();
                    let a = uniform(&mut rng, la, -1.0, 1.0);
                    let bm = uniform(&mut rng, lb, -1.0, 1.0);
                    let c0 = uniform(&mut rng, lc, -1.0, 1.0);
                    for pad in [3, 4] {
                        let (c, g) = both!(&mut gpu, |be| matmul_case(be, &s, &a, &bm, &c0, pad));
                        check_all(&format!("matmul {s:?} at offset {pad}"), c, g);
                    }
                }
            }
        }
    }
}

#[test]
fn bias_add_and_gradient_match_cpu() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("bias");
    for (rows, cols) in [(1, 1), (37, 13), (130, 5)] {
        let y = uniform(&mut rng, rows * cols, -1.0, 1.0);
        let bias = uniform(&mut rng, cols, -1.0, 1.0);
        let db0 = uniform(&mut rng, cols, -1.0, 1.0);
        let (c, g) = both!(&mut gpu, |b| {
            let yb = upload(b, &y);
            let bb = upload(b, &bias);
            let dbb = upload(b, &db0);
            b.bias_add(rows, cols, &yb, &bb);
            b.bias_backward(rows, cols, &yb, &dbb);
            vec![b.read_f32(&yb), b.read_f32(&dbb)]
        });
        check_all("bias", c, g);
    }
}

#[test]
fn layer_norm_forward_and_backward_match_cpu() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("layernorm");
    for (rows, cols) in [(1, 3), (29, 19), (67, 64)] {
        for accumulate_dx in [false, true] {
            let mut s = LayerNormSpec::new(rows, cols);
            s.accumulate_dx = accumulate_dx;
            let x = uniform(&mut rng, rows * cols, -2.0, 2.0);
            let gain = uniform(&mut rng, cols, 0.5, 1.5);
            let bias = uniform(&mut rng, cols, -0.5, 0.5);
            let dy = uniform(&mut rng, rows * cols, -1.0, 1.0);
            let dx0 = uniform(&mut rng, rows * cols, -1.0, 1.0);
            let dg0 = uniform(&mut rng, cols, -1.0, 1.0);
            let db0 = uniform(&mut rng, cols, -1.0, 1.0);
            let (c, g) = both!(&mut gpu, |b| {
                let (xb, gb, bb) = (upload(b, &x), upload(b, &gain), upload(b, &bias));
                let y = nan_output(b, rows * cols);
                let (m, r) = (nan_output(b, rows), nan_output(b, rows));
                b.layer_norm(&s, &xb, &gb, &bb, &y, &m, &r);
                let dyb = upload(b, &dy);
                let dx = if accumulate_dx {
                    upload(b, &dx0)
                } else {
                    nan_output(b, rows * cols)
                };
                let (dg, db) = (upload(b, &dg0), upload(b, &db0));
                b.layer_norm_backward(&s, &xb, &gb, &m, &r, &dyb, &dx, &dg, &db);
                vec![
                    b.read_f32(&y),
                    b.read_f32(&m),
                    b.read_f32(&r),
                    b.read_f32(&dx),
                    b.read_f32(&dg),
                    b.read_f32(&db),
                ]
            });
            check_all("layer norm", c, g);
        }
    }
}

#[test]
fn gelu_backward_and_add_match_cpu() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("elementwise");
    for n in [1, 63, 1001] {
        let mut x = uniform(&mut rng, n, -6.0, 6.0);
        // Far tails, where tanh saturates.
        x[0] = if n > 1 { -40.0 } else { 40.0 };
        let dy = uniform(&mut rng, n, -1.0, 1.0);
        let (c, g) = both!(&mut gpu, |b| {
            let (xb, dyb) = (upload(b, &x), upload(b, &dy));
            let (dx, sum) = (nan_output(b, n), nan_output(b, n));
            b.gelu_backward(n, &xb, &dyb, &dx);
            b.add(n, &xb, &dyb, &sum);
            // In place: dy += x.
            b.add(n, &dyb, &xb, &dyb);
            vec![b.read_f32(&dx), b.read_f32(&sum), b.read_f32(&dyb)]
        });
        check_all("gelu/add", c, g);
    }
}

#[test]
fn mean_over_positions_matches_cpu() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("mean");
    for (batch, positions, channels) in [(1, 1, 1), (3, 7, 5), (2, 75, 33)] {
        for accumulate in [false, true] {
            let s = MeanSpec {
                batch,
                positions,
                channels,
                accumulate,
            };
            let x = uniform(&mut rng, batch * positions * channels, -1.0, 1.0);
            let dy = uniform(&mut rng, batch * channels, -1.0, 1.0);
            let (c, g) = both!(&mut gpu, |b| {
                let xb = upload(b, &x);
                let y = nan_output(b, batch * channels);
                b.mean(&s, &xb, &y);
                let dyb = upload(b, &dy);
                let dx = if accumulate {
                    upload(b, &x)
                } else {
                    nan_output(b, x.len())
                };
                b.mean_backward(&s, &dyb, &dx);
                vec![b.read_f32(&y), b.read_f32(&dx)]
            });
            check_all("mean", c, g);
        }
    }
}

fn attention_case<B: Backend>(b: &mut B, s: &AttentionSpec, data: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let [lq, lk, lv, lo] = s.extents();
    let (q, k, v) = (
        upload(b, &data[0]),
        upload(b, &data[1]),
        upload(b, &data[2]),
    );
    let out = upload(b, &data[3]); // strided: untouched words keep their values
    let lse = nan_output(b, s.lse_len());
    b.attention(s, &q, &k, &v, &out, &lse);
    let dout = upload(b, &data[4]);
    let delta = nan_output(b, s.lse_len());
    let (dq, dk, dv) = (
        upload(b, &vec![0.5; lq]),
        upload(b, &vec![0.5; lk]),
        upload(b, &vec![0.5; lv]),
    );
    b.attention_backward(s, &q, &k, &v, &out, &lse, &dout, &delta, &dq, &dk, &dv);
    let _ = lo;
    vec![
        b.read_f32(&out),
        b.read_f32(&lse),
        b.read_f32(&dq),
        b.read_f32(&dk),
        b.read_f32(&dv),
    ]
}

/// Whether word `i` of an operand with `rows` rows of stride `stride` lies
/// in a head column (and so must be written).
fn in_heads(s: &AttentionSpec, stride: usize, i: usize) -> bool {
    i % stride < s.heads * s.head_dim
}

#[test]
fn attention_matches_cpu_in_all_three_uses() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("attention");
    let mut specs = vec![
        AttentionSpec::new(1, 1, 1, 1, 1),
        AttentionSpec::new(3, 2, 5, 5, 7), // axial self-attention along rows
        AttentionSpec::new(2, 3, 6, 6, 8).causal(), // decoder self-attention
        AttentionSpec::new(2, 2, 4, 9, 5), // cross-attention to the torso
        AttentionSpec::new(5, 4, 10, 10, 16), // torso shape: 2S = 10 tokens
    ];
    // Q, K, V as column slices of one fused projection of width 3·H·dh + 1.
    let mut fused = AttentionSpec::new(2, 2, 5, 5, 3);
    let w = 3 * 2 * 3 + 1;
    fused.q_stride = w;
    fused.k_stride = w;
    fused.v_stride = w;
    fused.o_stride = 2 * 3 + 2;
    specs.push(fused);
    // One query per row against a position-major cache of fused q‖k‖v
    // rows (the incremental decoder): batches interleave.
    let cache = AttentionSpec {
        q_stride: 18,
        k_stride: 4 * 18,
        v_stride: 4 * 18,
        kv_batch: Some(18),
        ..AttentionSpec::new(4, 2, 1, 3, 3)
    };
    specs.push(cache);
    for s in specs {
        let [lq, lk, lv, lo] = s.extents();
        let data = vec![
            uniform(&mut rng, lq, -1.0, 1.0),
            uniform(&mut rng, lk, -1.0, 1.0),
            uniform(&mut rng, lv, -1.0, 1.0),
            vec![f32::NAN; lo],
            uniform(&mut rng, lo, -1.0, 1.0),
        ];
        let (c, g) = both!(&mut gpu, |b| attention_case(b, &s, &data));
        // The pitch of K and V rows: their stride, or the batch step
        // when batches interleave.
        let pitch = |stride: usize| s.kv_batch.map_or(stride, |b| b.min(stride));
        let strides = [
            s.o_stride,
            0,
            s.q_stride,
            pitch(s.k_stride),
            pitch(s.v_stride),
        ];
        for (o, (cv, gv)) in c.iter().zip(&g).enumerate() {
            // Words between strided rows are not outputs: keep only head columns.
            let keep = |i: usize| o == 1 || in_heads(&s, strides[o], i);
            let cv: Vec<f32> = cv
                .iter()
                .enumerate()
                .filter(|(i, _)| keep(*i))
                .map(|(_, x)| *x)
                .collect();
            let gv: Vec<f32> = gv
                .iter()
                .enumerate()
                .filter(|(i, _)| keep(*i))
                .map(|(_, x)| *x)
                .collect();
            assert_close(&format!("attention {s:?} output {o}"), &gv, &cv, ATOL, RTOL);
        }
    }
}

#[test]
fn gather_rows_and_inverse_match_cpu() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("gather");
    for (rows, row_len) in [(1, 1), (75, 9), (300, 3)] {
        let mut perm: Vec<u32> = (0..rows as u32).collect();
        for i in (1..rows).rev() {
            perm.swap(i, rng.random_range(0..=i));
        }
        let inv = invert_permutation(&perm);
        let src = uniform(&mut rng, rows * row_len, -1.0, 1.0);
        let (c, g) = both!(&mut gpu, |b| {
            let (p, ip, sb) = (upload_u32(b, &perm), upload_u32(b, &inv), upload(b, &src));
            let (dst, back) = (nan_output(b, src.len()), nan_output(b, src.len()));
            b.gather_rows(rows, row_len, &p, &sb, &dst);
            b.gather_rows(rows, row_len, &ip, &dst, &back);
            vec![b.read_f32(&dst), b.read_f32(&back)]
        });
        assert_eq!(c[1], src, "the inverse gather restores the source");
        check_all("gather", c, g);
    }
}

#[test]
fn embedding_and_gradient_match_cpu() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("embedding");
    for (tokens, dim, vocab) in [(1, 1, 1), (50, 6, 11), (257, 5, 626)] {
        let s = EmbeddingSpec { tokens, dim, vocab };
        // Repeated words, and words that never occur.
        let toks: Vec<u32> = (0..tokens)
            .map(|_| rng.random_range(0..vocab.div_ceil(2)) as u32)
            .collect();
        let table = uniform(&mut rng, vocab * dim, -1.0, 1.0);
        let dout = uniform(&mut rng, tokens * dim, -1.0, 1.0);
        let dt0 = uniform(&mut rng, vocab * dim, -1.0, 1.0);
        let (c, g) = both!(&mut gpu, |b| {
            let (tb, wb) = (upload_u32(b, &toks), upload(b, &table));
            let out = nan_output(b, tokens * dim);
            b.embedding(&s, &tb, &wb, &out);
            let index = TokenIndex::build(b, &toks, vocab).unwrap();
            let (db, dt) = (upload(b, &dout), upload(b, &dt0));
            b.embedding_backward(&s, &index, &db, &dt);
            vec![b.read_f32(&out), b.read_f32(&dt)]
        });
        check_all("embedding", c, g);
    }
}

#[test]
fn softmax_xent_matches_cpu() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("xent");
    for (rows, vocab) in [(1, 1), (13, 29), (70, 625)] {
        let s = XentSpec { rows, vocab };
        let logits = uniform(&mut rng, rows * vocab, -4.0, 4.0);
        let targets: Vec<u32> = (0..rows)
            .map(|_| rng.random_range(0..vocab) as u32)
            .collect();
        let weights = uniform(&mut rng, rows, 0.0, 1.0);
        let (c, g) = both!(&mut gpu, |b| {
            let (lb, tb, wb) = (
                upload(b, &logits),
                upload_u32(b, &targets),
                upload(b, &weights),
            );
            let (loss, d) = (nan_output(b, rows), nan_output(b, rows * vocab));
            let correct = upload_u32(b, &vec![7; rows]);
            b.softmax_xent(&s, &lb, &tb, &wb, &loss, &d, &correct);
            let hits: Vec<f32> = b.read_f32(&correct);
            vec![b.read_f32(&loss), b.read_f32(&d), hits]
        });
        check_all("xent", c, g);
    }
}

#[test]
fn quantile_huber_matches_cpu() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("quantile");
    for batch in [1, 17, 130] {
        let s = QuantileSpec {
            batch,
            quantiles: 8,
            delta: 1.0,
            scale: 1.0 / batch as f32,
        };
        let q = uniform(&mut rng, batch * 8, -3.0, 3.0);
        let t = uniform(&mut rng, batch, -3.0, 3.0);
        let (c, g) = both!(&mut gpu, |b| {
            let (qb, tb) = (upload(b, &q), upload(b, &t));
            let (loss, dq) = (nan_output(b, batch), nan_output(b, batch * 8));
            b.quantile_huber(&s, &qb, &tb, &loss, &dq);
            vec![b.read_f32(&loss), b.read_f32(&dq)]
        });
        check_all("quantile", c, g);
    }
}

#[test]
fn adam_matches_cpu() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("adam");
    for len in [1, 1003] {
        let p0 = uniform(&mut rng, len, -1.0, 1.0);
        let g0 = uniform(&mut rng, len, -1.0, 1.0);
        let m0 = uniform(&mut rng, len, -0.1, 0.1);
        let v0 = uniform(&mut rng, len, 0.0, 0.1);
        // Decay on some parameters only, as on weights but not norms.
        let decay: Vec<f32> = (0..len).map(|i| (i % 3 != 0) as u32 as f32).collect();
        let mut s = AdamSpec::new(len, 1e-2, 3);
        s.weight_decay = 0.1;
        let (c, g) = both!(&mut gpu, |b| {
            let (p, gr, m, v, d) = (
                upload(b, &p0),
                upload(b, &g0),
                upload(b, &m0),
                upload(b, &v0),
                upload(b, &decay),
            );
            b.adam(&s, &p, &gr, &m, &v, &d);
            vec![b.read_f32(&p), b.read_f32(&m), b.read_f32(&v)]
        });
        check_all("adam", c, g);
    }
}

fn random_factors(rng: &mut StdRng, n: usize, set: &[i32]) -> Vec<i32> {
    (0..n)
        .map(|_| set[rng.random_range(0..set.len())])
        .collect()
}

#[test]
fn residual_updates_agree_exactly() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("residual");
    for (batch, dims, mod2) in [
        (1, [1, 1, 1], false),
        (5, [4, 4, 4], false),
        (7, [6, 6, 4], true),
        (3, [9, 9, 9], false),
    ] {
        let s = GameSpec { batch, dims, mod2 };
        let set: &[i32] = if mod2 { &[0, 1] } else { &[-2, -1, 0, 1, 2] };
        let states = random_factors(&mut rng, batch * s.state_len(), set);
        let steps: Vec<Vec<i32>> = (0..3)
            .map(|_| random_factors(&mut rng, batch * s.action_len(), set))
            .collect();
        let (c, g) = both!(&mut gpu, |b| {
            let sb = upload_i32(b, &states);
            for f in &steps {
                let fb = upload_i32(b, f);
                b.residual_update(&s, &sb, &fb);
            }
            b.read_i32(&sb)
        });
        assert_eq!(c, g, "residual update {s:?}");
    }
}

/// Random states of `game` (residuals, histories of 0..=h actions, steps)
/// encoded by the game on the host, and the words the device encoding
/// reads for them.
fn encoded_states(
    rng: &mut StdRng,
    game: &GameConfig,
    batch: usize,
) -> (Vec<f32>, Vec<i32>, Vec<i32>) {
    let set: &[i32] = if game.field == Field::Z2 {
        &[0, 1]
    } else {
        &[-2, -1, 0, 1, 2]
    };
    let n: usize = game.dims.iter().product();
    let h_len = game.history_words_len();
    let (mut host, mut scratch) = (
        vec![0.0; batch * game.state_features()],
        vec![0.0; game.state_features()],
    );
    let (mut residuals, mut histories) = (Vec::new(), vec![0; batch * h_len]);
    for slot in 0..batch {
        let residual = random_factors(rng, n, set);
        let history: Vec<Vec<i32>> = (0..rng.random_range(0..=game.history + 1))
            .map(|_| random_factors(rng, game.action_len(), set))
            .collect();
        let step = rng.random_range(0..=game.max_steps);
        game.encode_into_batch(
            &residual,
            &history,
            step,
            slot,
            batch,
            &mut scratch,
            &mut host,
        );
        game.history_words(
            &history,
            step,
            &mut histories[slot * h_len..(slot + 1) * h_len],
        );
        residuals.extend(residual);
    }
    (host, residuals, histories)
}

#[test]
fn state_encoding_on_the_device_is_the_games_to_the_bit() {
    let mut rng = fresh_rng("encode");
    let cases = [
        (Shape::new(2, 2, 2).unwrap(), Field::Z2, 1, 5),
        (Shape::new(2, 3, 4).unwrap(), Field::Z, 2, 7),
        (Shape::new(3, 3, 3).unwrap(), Field::Z2, 3, 3),
    ];
    let mut gpu = gpu();
    for (shape, field, history, batch) in cases {
        let game = GameConfig::new(shape, field, history, shape.standard_rank());
        let spec = EncodeSpec {
            batch,
            dims: game.dims,
            grid: game.grid(),
            history,
        };
        assert_eq!(spec.encoded_len(), batch * game.state_features());
        let (host, residuals, histories) = encoded_states(&mut rng, &game, batch);
        let cpu = {
            let b = &mut CpuBackend::new();
            let (r, h) = (upload_i32(b, &residuals), upload_i32(b, &histories));
            let out = nan_output(b, spec.encoded_len());
            b.encode_states(&spec, &r, &h, &out);
            b.read_f32(&out)
        };
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&cpu), bits(&host), "CPU encoding of {shape} {field:?}");
        if let Some(g) = gpu.as_mut() {
            let (r, h) = (upload_i32(g, &residuals), upload_i32(g, &histories));
            let out = nan_output(g, spec.encoded_len());
            g.encode_states(&spec, &r, &h, &out);
            assert_eq!(
                bits(&g.read_f32(&out)),
                bits(&host),
                "GPU encoding of {shape} {field:?}"
            );
        }
    }
}

#[test]
fn strassen_leaves_a_zero_residual() {
    let Some(mut gpu) = gpu() else { return };
    // T for 2x2x2 minus Strassen's seven terms is zero.
    let shape = Shape::new(2, 2, 2).unwrap();
    let d = tensorsearch::problem::Decomposition::strassen();
    let t = shape.dense_tensor();
    let s = GameSpec {
        batch: 1,
        dims: shape.factor_lens(),
        mod2: false,
    };
    let sb = upload_i32(&mut gpu, &t);
    for r in 0..7 {
        let f: Vec<i32> = [&d.u[r], &d.v[r], &d.w[r]]
            .iter()
            .flat_map(|row| row.iter().map(|x| x.to_integer() as i32))
            .collect();
        let fb = upload_i32(&mut gpu, &f);
        gpu.residual_update(&s, &sb, &fb);
    }
    assert!(gpu.read_i32(&sb).iter().all(|&x| x == 0));
}

#[test]
fn sampling_picks_the_same_tokens_for_the_same_uniforms() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("sample");
    let (rows, vocab) = (400, 37);
    for inv_temperature in [1.0, 0.5] {
        let s = SampleSpec {
            rows,
            vocab,
            inv_temperature,
        };
        let logits = uniform(&mut rng, rows * vocab, -3.0, 3.0);
        let uniforms = uniform(&mut rng, rows, 0.0, 1.0);
        let (c, g) = both!(&mut gpu, |b| {
            let (lb, ub) = (upload(b, &logits), upload(b, &uniforms));
            let tb = upload_u32(b, &vec![u32::MAX; rows]);
            b.sample_tokens(&s, &lb, &ub, &tb);
            b.read_u32(&tb)
        });
        for r in 0..rows {
            if c[r] == g[r] {
                continue;
            }
            // exp may differ by an ulp between devices; a different word is
            // acceptable only when the uniform sits on a CDF boundary, to
            // within 1e-5 (computed exactly in f64).
            let row: Vec<f64> = logits[r * vocab..(r + 1) * vocab]
                .iter()
                .map(|&x| (x * inv_temperature) as f64)
                .collect();
            let m = row.iter().cloned().fold(f64::MIN, f64::max);
            let total: f64 = row.iter().map(|x| (x - m).exp()).sum();
            let boundary: f64 = row[..c[r].min(g[r]) as usize + 1]
                .iter()
                .map(|x| (x - m).exp())
                .sum::<f64>()
                / total;
            assert!(
                (boundary - uniforms[r] as f64).abs() < 1e-5,
                "row {r}: cpu {} gpu {} for u = {}",
                c[r],
                g[r],
                uniforms[r]
            );
        }
        assert!(c.iter().all(|&t| (t as usize) < vocab));
    }
}

#[test]
fn the_backend_counts_dispatches_submissions_and_transfers() {
    let Some(mut gpu) = gpu() else { return };
    let x = upload(&mut gpu, &[1.0, 2.0, 3.0]);
    let y = upload(&mut gpu, &[4.0, 5.0, 6.0]);
    let out = gpu.alloc(3).unwrap();
    gpu.flush();
    let before = gpu.counts();
    // Three launches recorded; the read runs them and copies back in one
    // submission.
    gpu.add(3, &x, &y, &out);
    gpu.add(3, &out, &y, &out);
    gpu.copy(3, &out, &x);
    assert_eq!(
        gpu.counts() - before,
        Default::default(),
        "nothing runs before a read"
    );
    let _ = gpu.read_f32(&x);
    let c = gpu.counts() - before;
    assert_eq!(
        (c.dispatches, c.submits, c.reads, c.writes),
        (3, 1, 1, 0),
        "{c:?}"
    );
    // Several views read together are one round trip.
    let before = gpu.counts();
    let both = gpu.read_many_u32(&[&x, &out]);
    assert_eq!(both.len(), 2);
    let c = gpu.counts() - before;
    assert_eq!((c.submits, c.reads), (1, 1), "{c:?}");
}

#[test]
fn host_writes_between_launches_keep_program_order_without_a_flush() {
    let Some(mut gpu) = gpu() else { return };
    let x = upload(&mut gpu, &[1.0, 2.0, 3.0]);
    let y = upload(&mut gpu, &[4.0, 5.0, 6.0]);
    let out = gpu.alloc(3).unwrap();
    let _ = gpu.read_f32(&out);
    let before = gpu.counts();
    // out = x + y_old; y = new; out = out + y_new; y = newer (unread).
    gpu.add(3, &x, &y, &out);
    gpu.write_f32(&y, &[10.0, 20.0, 30.0]);
    gpu.add(3, &out, &y, &out);
    gpu.write_f32(&y, &[-1.0, -1.0, -1.0]);
    assert_eq!((gpu.counts() - before).submits, 0, "writes do not flush");
    assert_eq!(gpu.read_f32(&out), vec![15.0, 27.0, 39.0]);
    assert_eq!(gpu.read_f32(&y), vec![-1.0; 3]);
    let c = gpu.counts() - before;
    assert_eq!((c.writes, c.submits, c.reads), (2, 2, 2), "{c:?}");
}

#[test]
fn fused_linear_epilogues_match_cpu() {
    let Some(mut gpu) = gpu() else { return };
    let mut rng = fresh_rng("linear");
    // Aligned shapes take the vec4 kernel, ragged ones the flat kernel (or
    // the column one from 256 columns); extra is off vec4 alignment.
    for &(rows, inp, out) in &[(37, 16, 64), (5, 7, 13), (64, 64, 256), (6, 5, 259)] {
        for epilogue in [Epilogue::Bias, Epilogue::BiasResidual, Epilogue::BiasGelu] {
            let spec = LinearSpec::new(rows, inp, out, epilogue);
            let x = uniform(&mut rng, rows * inp, -1.0, 1.0);
            let w = uniform(&mut rng, inp * out, -1.0, 1.0);
            let bias = uniform(&mut rng, out + 1, -1.0, 1.0);
            let extra = uniform(&mut rng, rows * out + 3, -1.0, 1.0);
            let (c, g) = both!(&mut gpu, |b| {
                let (xb, wb) = (upload_at(b, &x, 4), upload_at(b, &w, 4));
                let bb = upload(b, &bias);
                let eb = upload(b, &extra);
                let bias_view = b.view(&bb, 1, out);
                let extra_view = b.view(&eb, 3, rows * out);
                let y = upload_at(b, &vec![f32::NAN; rows * out], 4);
                b.linear(&spec, &xb, &wb, &bias_view, &extra_view, &y);
                vec![b.read_f32(&y), b.read_f32(&eb)]
            });
            check_all(&format!("linear {epilogue:?} {rows}x{inp}x{out}"), c, g);
        }
    }
}
