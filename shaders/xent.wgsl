// Fused softmax cross-entropy, forward and backward in one pass per row:
// loss = w (logsumexp - logit[target]), dlogits = w (softmax - onehot),
// correct = (first maximal logit is the target). One thread per row.
// Bindings: logits, targets, weights, loss, dlogits, correct.

struct Params { rows: u32, vocab: u32, _pad0: u32, _pad1: u32, off: array<vec4<u32>, 2> }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(6) var<storage, read_write> correct: array<f32>;

@compute @workgroup_size(WG)
fn softmax_xent(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = linear_index(gid, nwg);
    if (r >= p.rows) {
        return;
    }
    let x0 = p.off[0].x + r * p.vocab;
    var best = 0u;
    var m = logits[x0];
    for (var i = 1u; i < p.vocab; i++) {
        let x = logits[x0 + i];
        if (x > m) {
            best = i;
            m = x;
        }
    }
    var total = 0.0;
    for (var i = 0u; i < p.vocab; i++) {
        total += exp(logits[x0 + i] - m);
    }
    let t = targets[p.off[0].y + r];
    let w = weights[p.off[0].z + r];
    loss[p.off[0].w + r] = w * (m + log(total) - logits[x0 + t]);
    let d0 = p.off[1].x + r * p.vocab;
    for (var i = 0u; i < p.vocab; i++) {
        let onehot = select(0.0, 1.0, i == t);
        dlogits[d0 + i] = w * (exp(logits[x0 + i] - m) / total - onehot);
    }
    correct[p.off[1].y + r] = select(0.0, 1.0, best == t);
}
