// Row gather dst[r] = src[index[r]], one thread per word. A permutation's
// backward pass is this gather with the inverse permutation, so each
// output word has exactly one writer: no atomics.

struct Params {
    rows: u32, row_len: u32, index_off: u32, src_off: u32,
    dst_off: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> index: array<u32>;
@group(0) @binding(2) var<storage, read_write> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn gather_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg);
    if (i >= p.rows * p.row_len) {
        return;
    }
    let r = i / p.row_len;
    let c = i % p.row_len;
    dst[p.dst_off + i] = src[p.src_off + index[p.index_off + r] * p.row_len + c];
}
