// Batched matrix multiplication C[b] (+)= op(A[b]) op(B[b]), and the
// linear layer y = x W + bias with its epilogue fused into the store, so a
// layer is one dispatch: `mode` bit 0 accumulates into C; bits 1-2 pick
// the epilogue (0: none; 1: + bias; 2: + bias + extra, the residual input;
// 3: extra = the sum with bias, saved for the backward pass, and C = gelu).
// Three kernels, all register-tiled without workgroup memory, so no
// barrier is needed: `matmul` (wide C), `matmul_flat` (narrow C) and
// `matmul_vec4` (aligned operands), each also as `..._fused`, which
// applies the epilogue. The plain ones must not contain it even behind a
// branch: on lavapipe its stores to `extra` halved the vec4 kernel's speed
// (64³: 2.6 against 5.0 GFLOP/s; 1024³: 5.5–7 against 11.5–16.6). In `matmul`, a workgroup of WG lanes
// computes TM rows by WG*TN columns of C. Rows come
// from the workgroup id, so the loads of A are the same address in every
// lane (a broadcast; on CPU drivers such as lavapipe a scalar load), and
// lane l takes columns l, l + WG, ..., so the loads of B are contiguous
// across lanes (coalesced on GPUs). Transposes are strides.

struct Params {
    m: u32, n: u32, k: u32, mode: u32,
    a_off: u32, a_rs: u32, a_cs: u32, a_bs: u32,
    b_off: u32, b_rs: u32, b_cs: u32, b_bs: u32,
    c_off: u32, c_bs: u32, bias_off: u32, extra_off: u32,
}

const EPILOGUE_NONE: u32 = 0u;
const EPILOGUE_BIAS: u32 = 1u;
const EPILOGUE_RESIDUAL: u32 = 2u;
const EPILOGUE_GELU: u32 = 3u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
// Bound (to C) even when the epilogue does not read them.
@group(0) @binding(4) var<storage, read_write> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> extra: array<f32>;

// The epilogue of the value `x` of C at column `col`; `e` is its word in
// `extra`, which is laid out like C.
fn epilogue(col: u32, e: u32, x_in: f32) -> f32 {
    let kind = p.mode >> 1u;
    if (kind == EPILOGUE_NONE) {
        return x_in;
    }
    let x = x_in + bias[p.bias_off + col];
    if (kind == EPILOGUE_RESIDUAL) {
        return x + extra[e];
    }
    if (kind == EPILOGUE_GELU) {
        extra[e] = x;
        return gelu(x);
    }
    return x;
}

// TM = 4 rows and TN = 4 columns per lane, written out so that every
// accumulator stays in a register.
@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    block(wid.z, wid.y * 4u, wid.x * WG * 4u + lid.x, WG, false);
}

@compute @workgroup_size(WG)
fn matmul_fused(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    block(wid.z, wid.y * 4u, wid.x * WG * 4u + lid.x, WG, true);
}

// Rows row0..row0+3 by columns col0 + j*step (j < 4) of C in one lane:
// 4 loads of A and 4 of B feed 16 multiply-adds per step of k.
fn block(batch: u32, row0: u32, col0: u32, step: u32, fused: bool) {
    let a_base = p.a_off + batch * p.a_bs;
    let b_base = p.b_off + batch * p.b_bs;
    // Rows and columns past the edge read a valid neighbour; their results
    // are never stored.
    let last_row = p.m - 1u;
    let last_col = p.n - 1u;
    let ra0 = a_base + min(row0, last_row) * p.a_rs;
    let ra1 = a_base + min(row0 + 1u, last_row) * p.a_rs;
    let ra2 = a_base + min(row0 + 2u, last_row) * p.a_rs;
    let ra3 = a_base + min(row0 + 3u, last_row) * p.a_rs;
    let cb0 = b_base + min(col0, last_col) * p.b_cs;
    let cb1 = b_base + min(col0 + step, last_col) * p.b_cs;
    let cb2 = b_base + min(col0 + 2u * step, last_col) * p.b_cs;
    let cb3 = b_base + min(col0 + 3u * step, last_col) * p.b_cs;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var kk = 0u; kk < p.k; kk++) {
        let ak = kk * p.a_cs;
        let bk = kk * p.b_rs;
        let bv = vec4<f32>(b[cb0 + bk], b[cb1 + bk], b[cb2 + bk], b[cb3 + bk]);
        acc0 = fma(vec4<f32>(a[ra0 + ak]), bv, acc0);
        acc1 = fma(vec4<f32>(a[ra1 + ak]), bv, acc1);
        acc2 = fma(vec4<f32>(a[ra2 + ak]), bv, acc2);
        acc3 = fma(vec4<f32>(a[ra3 + ak]), bv, acc3);
    }
    store_row(batch, row0, col0, step, acc0, fused);
    store_row(batch, row0 + 1u, col0, step, acc1, fused);
    store_row(batch, row0 + 2u, col0, step, acc2, fused);
    store_row(batch, row0 + 3u, col0, step, acc3, fused);
}

fn store_row(batch: u32, row: u32, col0: u32, step: u32, v: vec4<f32>, fused: bool) {
    if (row >= p.m) {
        return;
    }
    let base = p.c_off + batch * p.c_bs + row * p.n;
    for (var j = 0u; j < 4u; j++) {
        let col = col0 + j * step;
        if (col < p.n) {
            let at = base + col;
            var x = v[j];
            if ((p.mode & 1u) != 0u) {
                x += c[at];
            }
            if (fused) {
                x = epilogue(col, p.extra_off + at - p.c_off, x);
            }
            c[at] = x;
        }
    }
}

// The narrow path, for products the kernel above would leave lanes idle in
// (n below WG*4 columns: the input gradient dy W^T of a narrow layer, the
// weight gradient x^T dy): lane t of the flattened grid takes the 4x4 block
// (t / blocks per row, t % blocks per row) of C, so every lane has work
// whatever n is. Batch is the grid's z.
@compute @workgroup_size(WG)
fn matmul_flat(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    flat_block(gid, nwg, false);
}

@compute @workgroup_size(WG)
fn matmul_flat_fused(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    flat_block(gid, nwg, true);
}

fn flat_block(gid: vec3<u32>, nwg: vec3<u32>, fused: bool) {
    let t = linear_index(gid, nwg);
    let col_blocks = (p.n + 3u) / 4u;
    if (t >= col_blocks * ((p.m + 3u) / 4u)) {
        return;
    }
    block(gid.z, (t / col_blocks) * 4u, (t % col_blocks) * 4u, 1u, fused);
}

// The aligned fast path: A and B untransposed, k a multiple of 4, n a
// multiple of 8, and every offset and batch stride a multiple of 4. Lane l
// computes 8 rows by the 8 adjacent columns 8l..8l+7, loading A and B as
// vec4s: 16 vector loads feed 256 multiply-adds per 4 steps of k. On
// lavapipe every load costs about as much per float as a scalar gather,
// so arithmetic per loaded float is what decides the speed.
@group(0) @binding(1) var<storage, read_write> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c4: array<vec4<f32>>;

// acc[2r] and acc[2r+1] hold columns 0..3 and 4..7 of row r.
fn fma_row(x: vec4<f32>, b: array<vec4<f32>, 8>, lo: vec4<f32>, hi: vec4<f32>) -> array<vec4<f32>, 2> {
    var l = lo;
    var h = hi;
    l = fma(vec4<f32>(x.x), b[0], l);
    h = fma(vec4<f32>(x.x), b[1], h);
    l = fma(vec4<f32>(x.y), b[2], l);
    h = fma(vec4<f32>(x.y), b[3], h);
    l = fma(vec4<f32>(x.z), b[4], l);
    h = fma(vec4<f32>(x.z), b[5], h);
    l = fma(vec4<f32>(x.w), b[6], l);
    h = fma(vec4<f32>(x.w), b[7], h);
    return array<vec4<f32>, 2>(l, h);
}

@compute @workgroup_size(WG)
fn matmul_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    vec4_block(gid, wid, false);
}

@compute @workgroup_size(WG)
fn matmul_vec4_fused(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    vec4_block(gid, wid, true);
}

fn vec4_block(gid: vec3<u32>, wid: vec3<u32>, fused: bool) {
    let n4 = p.n / 4u;
    if (gid.x * 2u >= n4) {
        return;
    }
    let row0 = wid.y * 8u;
    let batch = wid.z;
    let last_row = p.m - 1u;
    // In vec4 units: A rows are k/4 long, B rows n/4.
    let k4 = p.k / 4u;
    let a_base = (p.a_off + batch * p.a_bs) / 4u;
    var ra: array<u32, 8>;
    for (var r = 0u; r < 8u; r++) {
        ra[r] = a_base + min(row0 + r, last_row) * k4;
    }
    var bi = (p.b_off + batch * p.b_bs) / 4u + gid.x * 2u;
    var acc: array<vec4<f32>, 16>;
    for (var k = 0u; k < k4; k++) {
        let b = array<vec4<f32>, 8>(
            b4[bi], b4[bi + 1u],
            b4[bi + n4], b4[bi + n4 + 1u],
            b4[bi + 2u * n4], b4[bi + 2u * n4 + 1u],
            b4[bi + 3u * n4], b4[bi + 3u * n4 + 1u],
        );
        bi += 4u * n4;
        for (var r = 0u; r < 8u; r++) {
            let out = fma_row(a4[ra[r] + k], b, acc[2u * r], acc[2u * r + 1u]);
            acc[2u * r] = out[0];
            acc[2u * r + 1u] = out[1];
        }
    }
    let c_base = (p.c_off + batch * p.c_bs) / 4u + gid.x * 2u;
    for (var r = 0u; r < 8u; r++) {
        let row = row0 + r;
        if (row < p.m) {
            let at = c_base + row * n4;
            var lo = acc[2u * r];
            var hi = acc[2u * r + 1u];
            if ((p.mode & 1u) != 0u) {
                lo += c4[at];
                hi += c4[at + 1u];
            }
            if (fused) {
                // Word by word: bias and extra need not be vec4-aligned.
                let col = gid.x * 8u;
                let e = p.extra_off + at * 4u - p.c_off;
                for (var j = 0u; j < 4u; j++) {
                    lo[j] = epilogue(col + j, e + j, lo[j]);
                    hi[j] = epilogue(col + 4u + j, e + 4u + j, hi[j]);
                }
            }
            c4[at] = lo;
            c4[at + 1u] = hi;
        }
    }
}
