// Layer normalisation over rows: forward (saving mean and 1/std), the
// input gradient (one thread per row) and the gain and bias gradients (one
// thread per column, rows summed in order: deterministic, no atomics).
// Forward bindings: x, gain, bias, y, mean, rstd.
// Backward bindings: x, gain, mean, rstd, dy, dx, dgain, dbias.

struct Params {
    rows: u32, cols: u32, eps: f32, accumulate: u32,
    off: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;
@group(0) @binding(5) var<storage, read_write> b5: array<f32>;
@group(0) @binding(6) var<storage, read_write> b6: array<f32>;
@group(0) @binding(7) var<storage, read_write> b7: array<f32>;
@group(0) @binding(8) var<storage, read_write> b8: array<f32>;

fn off(i: u32) -> u32 {
    return p.off[i / 4u][i % 4u];
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = linear_index(gid, nwg);
    if (r >= p.rows) {
        return;
    }
    // b1 = x, b2 = gain, b3 = bias, b4 = y, b5 = mean, b6 = rstd
    let x0 = off(0u) + r * p.cols;
    let n = f32(p.cols);
    var s = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        s += b1[x0 + c];
    }
    let mu = s / n;
    var v = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        let d = b1[x0 + c] - mu;
        v += d * d;
    }
    let rs = 1.0 / sqrt(v / n + p.eps);
    let y0 = off(3u) + r * p.cols;
    for (var c = 0u; c < p.cols; c++) {
        b4[y0 + c] = (b1[x0 + c] - mu) * rs * b2[off(1u) + c] + b3[off(2u) + c];
    }
    b5[off(4u) + r] = mu;
    b6[off(5u) + r] = rs;
}

@compute @workgroup_size(WG)
fn backward_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = linear_index(gid, nwg);
    if (r >= p.rows) {
        return;
    }
    // b1 = x, b2 = gain, b3 = mean, b4 = rstd, b5 = dy, b6 = dx
    let x0 = off(0u) + r * p.cols;
    let dy0 = off(4u) + r * p.cols;
    let dx0 = off(5u) + r * p.cols;
    let mu = b3[off(2u) + r];
    let rs = b4[off(3u) + r];
    let n = f32(p.cols);
    var mg = 0.0;
    var mgx = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        let g = b5[dy0 + c] * b2[off(1u) + c];
        mg += g;
        mgx += g * (b1[x0 + c] - mu) * rs;
    }
    mg /= n;
    mgx /= n;
    for (var c = 0u; c < p.cols; c++) {
        let g = b5[dy0 + c] * b2[off(1u) + c];
        var v = rs * (g - mg - (b1[x0 + c] - mu) * rs * mgx);
        if (p.accumulate != 0u) {
            v += b6[dx0 + c];
        }
        b6[dx0 + c] = v;
    }
}

@compute @workgroup_size(WG)
fn backward_params(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = linear_index(gid, nwg);
    if (c >= p.cols) {
        return;
    }
    // b1 = x, b3 = mean, b4 = rstd, b5 = dy, b7 = dgain, b8 = dbias
    var dg = 0.0;
    var db = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        let dy = b5[off(4u) + r * p.cols + c];
        let xh = (b1[off(0u) + r * p.cols + c] - b3[off(2u) + r]) * b4[off(3u) + r];
        dg += dy * xh;
        db += dy;
    }
    b7[off(6u) + c] += dg;
    b8[off(7u) + c] += db;
}
