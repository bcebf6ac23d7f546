// Bias add y[r][c] += bias[c] (forward) and its gradient
// dbias[c] += sum_r dy[r][c] (backward, one thread per column summing rows
// in order: deterministic, no atomics).

struct Params { rows: u32, cols: u32, x_off: u32, bias_off: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;

@compute @workgroup_size(WG)
fn bias_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg);
    if (i >= p.rows * p.cols) {
        return;
    }
    x[p.x_off + i] += bias[p.bias_off + i % p.cols];
}

@compute @workgroup_size(WG)
fn bias_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let col = linear_index(gid, nwg);
    if (col >= p.cols) {
        return;
    }
    var s = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        s += x[p.x_off + r * p.cols + col];
    }
    bias[p.bias_off + col] += s;
}
