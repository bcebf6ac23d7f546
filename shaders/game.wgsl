// TensorGame on the device, in integers: the batched residual update
// S_b -= u_b (x) v_b (x) w_b (reduced mod 2 for Z2), and the encoding of
// residuals and their histories into the network's input grids.

// The game's dimensions and the views' offsets. `grid` (S) and `history`
// (h) are read by the encoding only.
struct Params {
    batch: u32, la: u32, lb: u32, lc: u32,
    mod2: u32, grid: u32, history: u32, _pad: u32,
    off: vec4<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> b1: array<i32>;
@group(0) @binding(2) var<storage, read_write> b2: array<i32>;
@group(0) @binding(3) var<storage, read_write> encoded: array<f32>;

// Bindings: states, factors. One thread per state entry.
@compute @workgroup_size(WG)
fn residual_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg);
    let n = p.la * p.lb * p.lc;
    if (i >= p.batch * n) {
        return;
    }
    let b = i / n;
    let e = i % n;
    let a = e / (p.lb * p.lc);
    let bb = (e / p.lc) % p.lb;
    let c = e % p.lc;
    let f0 = p.off.y + b * (p.la + p.lb + p.lc);
    var x = b1[p.off.x + i] - b2[f0 + a] * b2[f0 + p.la + bb] * b2[f0 + p.la + p.lb + c];
    if (p.mod2 != 0u) {
        x = x & 1;
    }
    b1[p.off.x + i] = x;
}



// Bindings: residuals, histories, out. One thread per input word. Grid g
// of a state, cell (x, y), feature f lies at encoded[(g·batch + b)·S·S·F +
// (x·S + y)·F + f] with F = (h + 1)·S + 1; feature c·S + pos is channel
// c at position pos (grid 0 is indexed by (i, j) along k, grid 1 by
// (j, k) along i, grid 2 by (k, i) along j), and the last feature is the
// step scalar. A state's history is h actions u‖v‖w, most recent first
// (zeros where the game is younger), then the scalar's f32 bits: the host
// divides, so the scalar is the host's to the bit.
@compute @workgroup_size(WG)
fn encode_states(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = linear_index(gid, nwg);
    let s = p.grid;
    let f_len = (p.history + 1u) * s + 1u;
    let per_grid = s * s * f_len;
    if (idx >= 3u * p.batch * per_grid) {
        return;
    }
    let g = idx / (p.batch * per_grid);
    let b = (idx / per_grid) % p.batch;
    let e = idx % per_grid;
    let x = e / (s * f_len);
    let y = (e / f_len) % s;
    let f = e % f_len;
    let a_len = p.la + p.lb + p.lc;
    let h0 = p.off.y + b * (p.history * a_len + 1u);
    if (f == f_len - 1u) {
        encoded[p.off.z + idx] = bitcast<f32>(b2[h0 + p.history * a_len]);
        return;
    }
    let c = f / s;
    let pos = f % s;
    var i = x;
    var j = y;
    var k = pos;
    if (g == 1u) {
        i = pos; j = x; k = y;
    } else if (g == 2u) {
        i = y; j = pos; k = x;
    }
    var v = 0;
    if (i < p.la && j < p.lb && k < p.lc) {
        if (c == 0u) {
            v = b1[p.off.x + b * p.la * p.lb * p.lc + (i * p.lb + j) * p.lc + k];
        } else {
            let a0 = h0 + (c - 1u) * a_len;
            v = b2[a0 + i] * b2[a0 + p.la + j] * b2[a0 + p.la + p.lb + k];
        }
    }
    encoded[p.off.z + idx] = f32(v);
}
