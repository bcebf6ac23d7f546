// AdamW over one flat parameter buffer: one thread per parameter.
// Bias corrections 1 - beta^t come from the host. decay[i] (1 or 0) says
// whether parameter i takes the weight decay (not norms, biases, embeddings).

struct Params {
    len: u32, lr: f32, beta1: f32, beta2: f32,
    eps: f32, weight_decay: f32, correction1: f32, correction2: f32,
    off: vec4<u32>,
    off_decay: vec4<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> decay: array<f32>;

@compute @workgroup_size(WG)
fn adamw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg);
    if (i >= p.len) {
        return;
    }
    let g = grads[p.off.y + i];
    let mi = p.beta1 * m[p.off.z + i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[p.off.w + i] + (1.0 - p.beta2) * g * g;
    m[p.off.z + i] = mi;
    v[p.off.w + i] = vi;
    let mhat = mi / p.correction1;
    let vhat = vi / p.correction2;
    let w = params[p.off.x + i];
    let wd = p.weight_decay * decay[p.off_decay.x + i];
    params[p.off.x + i] = w - p.lr * (mhat / (sqrt(vhat) + p.eps) + wd * w);
}
