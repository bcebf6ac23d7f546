// Mean over positions: y[b][c] = mean_p x[b][p][c] (one thread per output,
// positions summed in order) and dx[b][p][c] (+)= dy[b][c] / positions.
// Bindings: x (or dx), y (or dy).

struct Params {
    batch: u32, positions: u32, channels: u32, accumulate: u32,
    x_off: u32, y_off: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg);
    if (i >= p.batch * p.channels) {
        return;
    }
    let b = i / p.channels;
    let c = i % p.channels;
    var s = 0.0;
    for (var q = 0u; q < p.positions; q++) {
        s += x[p.x_off + (b * p.positions + q) * p.channels + c];
    }
    y[p.y_off + i] = s / f32(p.positions);
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg);
    if (i >= p.batch * p.positions * p.channels) {
        return;
    }
    let b = i / (p.positions * p.channels);
    let c = i % p.channels;
    var g = y[p.y_off + b * p.channels + c] / f32(p.positions);
    if (p.accumulate != 0u) {
        g += x[p.x_off + i];
    }
    x[p.x_off + i] = g;
}
