// Quantile Huber loss (DESIGN §3), forward and backward per sample:
// loss = scale/n sum_i |tau_i - 1{u_i < 0}| huber(u_i), u_i = target - q_i,
// tau_i = (i + 0.5)/n, and its gradient with respect to each q_i.
// Bindings: q, targets, loss, dq.

struct Params { batch: u32, quantiles: u32, delta: f32, scale: f32, off: vec4<u32> }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> targets: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dq: array<f32>;

@compute @workgroup_size(WG)
fn quantile_huber(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = linear_index(gid, nwg);
    if (b >= p.batch) {
        return;
    }
    let n = f32(p.quantiles);
    let scale = p.scale / n;
    let target_value = targets[p.off.y + b];
    var total = 0.0;
    for (var i = 0u; i < p.quantiles; i++) {
        let tau = (f32(i) + 0.5) / n;
        let at = b * p.quantiles + i;
        let u = target_value - q[p.off.x + at];
        let weight = abs(tau - select(0.0, 1.0, u < 0.0));
        var huber: f32;
        var dhuber: f32;
        if (abs(u) <= p.delta) {
            huber = 0.5 * u * u;
            dhuber = u;
        } else {
            huber = p.delta * (abs(u) - 0.5 * p.delta);
            dhuber = p.delta * sign(u);
        }
        total += weight * huber;
        dq[p.off.w + at] = -scale * weight * dhuber;
    }
    loss[p.off.z + b] = scale * total;
}
