// Batched matrix multiplication C[b] (+)= op(A[b]) op(B[b]).
// Register tiling without workgroup memory: each thread computes a 4x4
// block of C from strided loads (transposes are strides), so no barrier is
// needed. That is the fast form on CPU drivers such as lavapipe, where
// barriers are costly, and a sound one on GPUs for the small products of
// this model.

struct Params {
    m: u32, n: u32, k: u32, accumulate: u32,
    a_off: u32, a_rs: u32, a_cs: u32, a_bs: u32,
    b_off: u32, b_rs: u32, b_cs: u32, b_bs: u32,
    c_off: u32, c_bs: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TM: u32 = 4u;
const TN: u32 = 4u;

@compute @workgroup_size(16, 8, 1)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row0 = gid.y * TM;
    let col0 = gid.x * TN;
    if (row0 >= p.m || col0 >= p.n) {
        return;
    }
    let batch = wid.z;
    let a_base = p.a_off + batch * p.a_bs;
    let b_base = p.b_off + batch * p.b_bs;
    // Rows and columns past the edge read a valid neighbour; their results
    // are never stored.
    var a_row: array<u32, 4>;
    var b_col: array<u32, 4>;
    for (var i = 0u; i < TM; i++) {
        a_row[i] = a_base + min(row0 + i, p.m - 1u) * p.a_rs;
    }
    for (var j = 0u; j < TN; j++) {
        b_col[j] = b_base + min(col0 + j, p.n - 1u) * p.b_cs;
    }
    var acc: array<vec4<f32>, 4>;
    for (var kk = 0u; kk < p.k; kk++) {
        let ak = kk * p.a_cs;
        let bk = kk * p.b_rs;
        let bv = vec4<f32>(b[b_col[0] + bk], b[b_col[1] + bk], b[b_col[2] + bk], b[b_col[3] + bk]);
        acc[0] += a[a_row[0] + ak] * bv;
        acc[1] += a[a_row[1] + ak] * bv;
        acc[2] += a[a_row[2] + ak] * bv;
        acc[3] += a[a_row[3] + ak] * bv;
    }
    let c_base = p.c_off + batch * p.c_bs;
    for (var i = 0u; i < TM; i++) {
        let row = row0 + i;
        if (row < p.m) {
            for (var j = 0u; j < TN; j++) {
                let col = col0 + j;
                if (col < p.n) {
                    let at = c_base + row * p.n + col;
                    var v = acc[i][j];
                    if (p.accumulate != 0u) {
                        v += c[at];
                    }
                    c[at] = v;
                }
            }
        }
    }
}
