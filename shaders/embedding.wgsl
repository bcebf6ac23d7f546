// Token embedding: out[t] = table[tokens[t]] (one thread per word), and its
// gradient dtable[v][c] += sum of dout[t][c] over the positions t holding
// word v, taken in increasing t from a host-built CSR index (one thread per
// (v, c)): deterministic, no atomics.
// Forward bindings: tokens, table, out. Backward: offsets, positions, dout, dtable.

struct Params { tokens: u32, dim: u32, vocab: u32, _pad: u32, off: vec4<u32> }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> b1: array<u32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg);
    if (i >= p.tokens * p.dim) {
        return;
    }
    let t = i / p.dim;
    let c = i % p.dim;
    b3[p.off.z + i] = b2[p.off.y + b1[p.off.x + t] * p.dim + c];
}

// The positions live in binding 2 as f32 words; bitcast reads them back.
@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg);
    if (i >= p.vocab * p.dim) {
        return;
    }
    let v = i / p.dim;
    let c = i % p.dim;
    var acc = 0.0;
    for (var at = b1[p.off.x + v]; at < b1[p.off.x + v + 1u]; at++) {
        let t = bitcast<u32>(b2[p.off.y + at]);
        acc += b3[p.off.z + t * p.dim + c];
    }
    b4[p.off.w + i] += acc;
}
