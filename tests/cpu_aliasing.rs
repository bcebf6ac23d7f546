//! Views of one allocation as inputs and outputs of one operation give
//! the same words as separate buffers: the CPU backend carves disjoint
//! views out of one borrow and works on copies when views overlap.

use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::engine::cpu::CpuBuf;
use tensorsearch::engine::ops::layernorm::LayerNormSpec;
use tensorsearch::engine::*;

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

/// A buffer holding `parts` back to back, and a view of each.
fn packed(b: &mut CpuBackend, parts: &[Vec<f32>]) -> (Vec<f32>, Vec<CpuBuf>) {
    let all: Vec<f32> = parts.concat();
    let buf = b.alloc(all.len()).unwrap();
    b.write_f32(&buf, &all);
    let mut views = vec![];
    let mut at = 0;
    for p in parts {
        views.push(b.view(&buf, at, p.len()));
        at += p.len();
    }
    (all, views)
}

fn separate(b: &mut CpuBackend, data: &[f32]) -> CpuBuf {
    let buf = b.alloc(data.len()).unwrap();
    b.write_f32(&buf, data);
    buf
}

#[test]
fn layer_norm_backward_into_views_of_one_gradient_buffer() {
    let mut b = CpuBackend::new();
    let (rows, cols) = (5, 8);
    let spec = LayerNormSpec {
        rows,
        cols,
        eps: 1e-5,
        accumulate_dx: true,
    };
    let (x, gain, dy) = (
        values(rows * cols, 1),
        values(cols, 2),
        values(rows * cols, 3),
    );
    let mk = |b: &mut CpuBackend, d: &[f32]| separate(b, d);
    let (xb, gb, dyb) = (mk(&mut b, &x), mk(&mut b, &gain), mk(&mut b, &dy));
    let bias = mk(&mut b, &values(cols, 4));
    let (y, mean, rstd) = (
        b.alloc(rows * cols).unwrap(),
        b.alloc(rows).unwrap(),
        b.alloc(rows).unwrap(),
    );
    b.layer_norm(&spec, &xb, &gb, &bias, &y, &mean, &rstd);
    // Separate: dx, dgain, dbias each their own buffer.
    let start = [values(rows * cols, 5), values(cols, 6), values(cols, 7)];
    let sep: Vec<_> = start.iter().map(|d| mk(&mut b, d)).collect();
    b.layer_norm_backward(
        &spec, &xb, &gb, &mean, &rstd, &dyb, &sep[0], &sep[1], &sep[2],
    );
    // Packed: dgain and dbias (and dx) views of one buffer, gain and x views of another.
    let (_, grads) = packed(&mut b, &start);
    let (_, inputs) = packed(&mut b, &[x.clone(), gain.clone()]);
    b.layer_norm_backward(
        &spec, &inputs[0], &inputs[1], &mean, &rstd, &dyb, &grads[0], &grads[1], &grads[2],
    );
    for (s, p) in sep.iter().zip(&grads) {
        assert_eq!(b.read_f32(s), b.read_f32(p));
    }
}

#[test]
fn inputs_and_output_in_one_buffer_disjoint_and_in_place() {
    let mut b = CpuBackend::new();
    let n = 37;
    let (x, y) = (values(n, 8), values(n, 9));
    let want: Vec<f32> = x.iter().zip(&y).map(|(a, c)| a + c).collect();
    // out after both inputs in one allocation.
    let (_, v) = packed(&mut b, &[x.clone(), y.clone(), vec![0.0; n]]);
    b.add(n, &v[0], &v[1], &v[2]);
    assert_eq!(b.read_f32(&v[2]), want);
    // out between the inputs, and out = a (in place).
    let (_, v) = packed(&mut b, &[x.clone(), vec![0.0; n], y.clone()]);
    b.add(n, &v[0], &v[2], &v[1]);
    assert_eq!(b.read_f32(&v[1]), want);
    b.add(n, &v[0], &v[2], &v[0]);
    assert_eq!(b.read_f32(&v[0]), want);
    // The in-place GELU backward: dx is dy.
    let sep_dx = b.alloc(n).unwrap();
    let (xb, dyb) = (separate(&mut b, &x), separate(&mut b, &y));
    b.gelu_backward(n, &xb, &dyb, &sep_dx);
    b.gelu_backward(n, &xb, &dyb, &dyb);
    assert_eq!(b.read_f32(&sep_dx), b.read_f32(&dyb));
}

#[test]
fn interleaved_q_k_v_gradients_in_one_fused_buffer_keep_every_write() {
    // dq, dk and dv are the column blocks 0, c and 2c of rows of 3c words:
    // views of one buffer whose ranges overlap. Each write must survive.
    let mut b = CpuBackend::new();
    let (batch, heads, len, dim) = (2, 2, 3, 4);
    let c = heads * dim;
    let rows = batch * len;
    let mut spec = AttentionSpec::new(batch, heads, len, len, dim);
    spec.q_stride = 3 * c;
    spec.k_stride = 3 * c;
    spec.v_stride = 3 * c;
    let qkv = separate(&mut b, &values(rows * 3 * c, 12));
    let view =
        |b: &mut CpuBackend, buf: &CpuBuf, i: usize| b.view(buf, i * c, rows * 3 * c - i * c);
    let (q, k, v) = (
        view(&mut b, &qkv, 0),
        view(&mut b, &qkv, 1),
        view(&mut b, &qkv, 2),
    );
    let out = b.alloc(rows * c).unwrap();
    let lse = b.alloc(spec.lse_len()).unwrap();
    b.attention(&spec, &q, &k, &v, &out, &lse);
    let dout = separate(&mut b, &values(rows * c, 13));
    let delta = b.alloc(spec.lse_len()).unwrap();
    // Reference: the gradients into three separate buffers of the same layout.
    let grads: Vec<CpuBuf> = (0..3).map(|_| b.alloc(rows * 3 * c).unwrap()).collect();
    let sep: Vec<CpuBuf> = (0..3).map(|i| view(&mut b, &grads[i], i)).collect();
    b.attention_backward(
        &spec, &q, &k, &v, &out, &lse, &dout, &delta, &sep[0], &sep[1], &sep[2],
    );
    let fused = b.alloc(rows * 3 * c).unwrap();
    let (dq, dk, dv) = (
        view(&mut b, &fused, 0),
        view(&mut b, &fused, 1),
        view(&mut b, &fused, 2),
    );
    b.attention_backward(&spec, &q, &k, &v, &out, &lse, &dout, &delta, &dq, &dk, &dv);
    let fused = b.read_f32(&fused);
    for (i, g) in grads.iter().enumerate() {
        let g = b.read_f32(g);
        for r in 0..rows {
            let cols = r * 3 * c + i * c..r * 3 * c + (i + 1) * c;
            assert_eq!(fused[cols.clone()], g[cols.clone()], "block {i} row {r}");
            assert!(
                g[cols].iter().any(|&x| x != 0.0),
                "block {i} row {r} was written"
            );
        }
    }
}
