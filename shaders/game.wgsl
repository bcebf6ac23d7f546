// TensorGame on the device, in integers: the batched residual update
// S_b -= u_b (x) v_b (x) w_b (reduced mod 2 for Z2).

// The game's dimensions and the views' offsets.
struct Params {
    batch: u32, la: u32, lb: u32, lc: u32,
    mod2: u32, _pad0: u32, _pad1: u32, _pad2: u32,
    off: vec4<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> b1: array<i32>;
@group(0) @binding(2) var<storage, read_write> b2: array<i32>;

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


