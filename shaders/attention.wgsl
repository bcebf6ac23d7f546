// Multi-head scaled dot-product attention with an optional causal mask.
// One thread per (batch, head, query row) for the forward pass (online
// softmax, saving log-sum-exp) and for dq; one thread per (batch, head, key
// row) for dk and dv, which sum over queries in order: deterministic, no
// atomics. Scores are recomputed in the backward pass instead of stored.
// Each thread keeps its own row (q, or k and v) in registers and streams
// the other side once.
// Bindings: q, k, v, out, lse, dout, delta, dq, dk, dv.

struct Params {
    batch: u32, heads: u32, q_len: u32, kv_len: u32,
    head_dim: u32, causal: u32, scale: f32, _pad: u32,
    q_stride: u32, k_stride: u32, v_stride: u32, o_stride: u32,
    // Words between batches of K and of V (interleaved in a decoder cache).
    k_batch: u32, v_batch: u32, _pad0: u32, _pad1: u32,
    off: array<vec4<u32>, 3>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> k: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<storage, read_write> dout: array<f32>;
@group(0) @binding(7) var<storage, read_write> delta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dq: array<f32>;
@group(0) @binding(9) var<storage, read_write> dk: array<f32>;
@group(0) @binding(10) var<storage, read_write> dv: array<f32>;

const MAX_HEAD_DIM: u32 = 64u;

fn off(i: u32) -> u32 {
    return p.off[i / 4u][i % 4u];
}

fn q_at(b: u32, i: u32, h: u32) -> u32 {
    return (b * p.q_len + i) * p.q_stride + h * p.head_dim;
}
fn k_at(b: u32, j: u32, h: u32) -> u32 {
    return b * p.k_batch + j * p.k_stride + h * p.head_dim;
}
fn v_at(b: u32, j: u32, h: u32) -> u32 {
    return b * p.v_batch + j * p.v_stride + h * p.head_dim;
}
fn o_at(b: u32, i: u32, h: u32) -> u32 {
    return (b * p.q_len + i) * p.o_stride + h * p.head_dim;
}

// (batch, head, query) of a row of lse, which is batch x heads x q_len.
fn query_row(row: u32) -> vec3<u32> {
    return vec3<u32>(row / (p.q_len * p.heads), (row / p.q_len) % p.heads, row % p.q_len);
}

// Keys visible to query i: all, or j <= i under the causal mask.
fn key_end(i: u32) -> u32 {
    return select(p.kv_len, i + 1u, p.causal != 0u);
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = linear_index(gid, nwg);
    if (row >= p.batch * p.heads * p.q_len) {
        return;
    }
    let bhi = query_row(row);
    let b = bhi.x;
    let h = bhi.y;
    let i = bhi.z;
    // The query row is read once into registers (lavapipe pays per load).
    var qi: array<f32, MAX_HEAD_DIM>;
    let q0 = off(0u) + q_at(b, i, h);
    for (var d = 0u; d < p.head_dim; d++) {
        qi[d] = q[q0 + d] * p.scale;
    }
    var acc: array<f32, MAX_HEAD_DIM>;
    var m = -3.0e38;
    var l = 0.0;
    for (var j = 0u; j < key_end(i); j++) {
        let kj = off(1u) + k_at(b, j, h);
        var s = 0.0;
        for (var d = 0u; d < p.head_dim; d++) {
            s += qi[d] * k[kj + d];
        }
        let m_new = max(m, s);
        let correction = exp(m - m_new);
        let w = exp(s - m_new);
        l = l * correction + w;
        let vj = off(2u) + v_at(b, j, h);
        for (var d = 0u; d < p.head_dim; d++) {
            acc[d] = acc[d] * correction + w * v[vj + d];
        }
        m = m_new;
    }
    let oi = off(3u) + o_at(b, i, h);
    for (var d = 0u; d < p.head_dim; d++) {
        o[oi + d] = acc[d] / l;
    }
    lse[off(4u) + row] = m + log(l);
}

@compute @workgroup_size(WG)
fn backward_delta(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = linear_index(gid, nwg);
    if (row >= p.batch * p.heads * p.q_len) {
        return;
    }
    let bhi = query_row(row);
    let b = bhi.x;
    let h = bhi.y;
    let i = bhi.z;
    let oi = o_at(b, i, h);
    var s = 0.0;
    for (var d = 0u; d < p.head_dim; d++) {
        s += dout[off(5u) + oi + d] * o[off(3u) + oi + d];
    }
    delta[off(6u) + row] = s;
}

@compute @workgroup_size(WG)
fn backward_dq(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = linear_index(gid, nwg);
    if (row >= p.batch * p.heads * p.q_len) {
        return;
    }
    let bhi = query_row(row);
    let b = bhi.x;
    let h = bhi.y;
    let i = bhi.z;
    let oi = off(5u) + o_at(b, i, h);
    let l = lse[off(4u) + row];
    let dl = delta[off(6u) + row];
    var qi: array<f32, MAX_HEAD_DIM>;
    var doi: array<f32, MAX_HEAD_DIM>;
    let q0 = off(0u) + q_at(b, i, h);
    for (var d = 0u; d < p.head_dim; d++) {
        qi[d] = q[q0 + d] * p.scale;
        doi[d] = dout[oi + d];
    }
    var acc: array<f32, MAX_HEAD_DIM>;
    for (var j = 0u; j < key_end(i); j++) {
        let kj = off(1u) + k_at(b, j, h);
        let vj = off(2u) + v_at(b, j, h);
        var s = 0.0;
        var dp = 0.0;
        for (var d = 0u; d < p.head_dim; d++) {
            s += qi[d] * k[kj + d];
            dp += doi[d] * v[vj + d];
        }
        let w = exp(s - l);
        let ds = w * (dp - dl) * p.scale;
        for (var d = 0u; d < p.head_dim; d++) {
            acc[d] += ds * k[kj + d];
        }
    }
    let dq0 = off(7u) + q_at(b, i, h);
    for (var d = 0u; d < p.head_dim; d++) {
        dq[dq0 + d] = acc[d];
    }
}

@compute @workgroup_size(WG)
fn backward_dkv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let col = linear_index(gid, nwg);
    if (col >= p.batch * p.heads * p.kv_len) {
        return;
    }
    let j = col % p.kv_len;
    let h = (col / p.kv_len) % p.heads;
    let b = col / (p.kv_len * p.heads);
    var acc_k: array<f32, MAX_HEAD_DIM>;
    var acc_v: array<f32, MAX_HEAD_DIM>;
    var kj: array<f32, MAX_HEAD_DIM>;
    var vj: array<f32, MAX_HEAD_DIM>;
    let k0 = off(1u) + k_at(b, j, h);
    let v0 = off(2u) + v_at(b, j, h);
    for (var d = 0u; d < p.head_dim; d++) {
        kj[d] = k[k0 + d] * p.scale;
        vj[d] = v[v0 + d];
    }
    // Under the causal mask only queries i >= j see key j.
    let first = select(0u, j, p.causal != 0u);
    for (var i = first; i < p.q_len; i++) {
        let row = (b * p.heads + h) * p.q_len + i;
        let oi = off(5u) + o_at(b, i, h);
        let qi = off(0u) + q_at(b, i, h);
        var s = 0.0;
        var dp = 0.0;
        for (var d = 0u; d < p.head_dim; d++) {
            s += q[qi + d] * kj[d];
            dp += dout[oi + d] * vj[d];
        }
        let w = exp(s - lse[off(4u) + row]);
        let ds = w * (dp - delta[off(6u) + row]) * p.scale;
        for (var d = 0u; d < p.head_dim; d++) {
            acc_v[d] += w * dout[oi + d];
            acc_k[d] += ds * q[qi + d];
        }
    }
    let dk0 = off(8u) + k_at(b, j, h);
    let dv0 = off(9u) + v_at(b, j, h);
    for (var d = 0u; d < p.head_dim; d++) {
        dk[dk0 + d] = acc_k[d];
        dv[dv0 + d] = acc_v[d];
    }
}
