// Block sums: out block t = Σ coef · src block, for each slot t, one
// thread per output element. A scheme's combinations of A's and B's blocks
// (a slot per term) and its accumulation of the products into C's blocks
// (a slot per block of C) are both this. The table holds, from table_off:
// slots + 1 list starts, a word offset per slot into dst, then the
// entries' word offsets into src and their coefficients (f32 bits).

struct Params {
    slots: u32, rows: u32, width: u32, src_ld: u32,
    out_ld: u32, entries: u32, table_off: u32, src_off: u32,
    out_off: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> table: array<u32>;
@group(0) @binding(2) var<storage, read_write> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn block_sums(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg);
    let per_slot = p.rows * p.width;
    if (i >= p.slots * per_slot) {
        return;
    }
    let t = i / per_slot;
    let r = (i % per_slot) / p.width;
    let c = i % p.width;
    let t0 = p.table_off;
    let offsets = t0 + p.slots + 1u;
    let sources = offsets + p.slots;
    let coefs = sources + p.entries;
    var acc = 0.0;
    for (var e = table[t0 + t]; e < table[t0 + t + 1u]; e++) {
        acc += bitcast<f32>(table[coefs + e]) * src[p.src_off + table[sources + e] + r * p.src_ld + c];
    }
    dst[p.out_off + table[offsets + t] + r * p.out_ld + c] = acc;
}
