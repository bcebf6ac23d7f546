// Categorical sampling from logits with host-supplied uniforms: the first
// word whose running sum of exp(x/T - max) exceeds u * total, summed in word
// order, so the CPU reference picks the same word. One thread per row.
// Bindings: logits, uniforms, tokens.

struct Params { rows: u32, vocab: u32, inv_temperature: f32, _pad: u32, off: vec4<u32> }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> uniforms: array<f32>;
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>;

@compute @workgroup_size(WG)
fn sample_tokens(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = linear_index(gid, nwg);
    if (r >= p.rows) {
        return;
    }
    let x0 = p.off.x + r * p.vocab;
    var m = -3.0e38;
    for (var i = 0u; i < p.vocab; i++) {
        m = max(m, logits[x0 + i] * p.inv_temperature);
    }
    var total = 0.0;
    for (var i = 0u; i < p.vocab; i++) {
        total += exp(logits[x0 + i] * p.inv_temperature - m);
    }
    let threshold = uniforms[p.off.y + r] * total;
    var running = 0.0;
    var pick = p.vocab - 1u;
    for (var i = 0u; i < p.vocab; i++) {
        running += exp(logits[x0 + i] * p.inv_temperature - m);
        if (running > threshold) {
            pick = i;
            break;
        }
    }
    tokens[p.off.z + r] = pick;
}
