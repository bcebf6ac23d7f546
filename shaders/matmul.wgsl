// Batched matrix multiplication C[b] (+)= op(A[b]) op(B[b]).
// Register tiling without workgroup memory, so no barrier is needed: a
// workgroup of WG lanes computes TM rows by WG*TN columns of C. Rows come
// from the workgroup id, so the loads of A are the same address in every
// lane (a broadcast; on CPU drivers such as lavapipe a scalar load), and
// lane l takes columns l, l + WG, ..., so the loads of B are contiguous
// across lanes (coalesced on GPUs). Transposes are strides.

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

// TM = 4 rows and TN = 4 columns per lane, written out so that every
// accumulator stays in a register.
@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row0 = wid.y * 4u;
    let col0 = wid.x * WG * 4u + lid.x;
    let batch = wid.z;
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
    let cb1 = b_base + min(col0 + WG, last_col) * p.b_cs;
    let cb2 = b_base + min(col0 + 2u * WG, last_col) * p.b_cs;
    let cb3 = b_base + min(col0 + 3u * WG, last_col) * p.b_cs;
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
    store_row(batch, row0, col0, acc0);
    store_row(batch, row0 + 1u, col0, acc1);
    store_row(batch, row0 + 2u, col0, acc2);
    store_row(batch, row0 + 3u, col0, acc3);
}

fn store_row(batch: u32, row: u32, col0: u32, v: vec4<f32>) {
    if (row >= p.m) {
        return;
    }
    let base = p.c_off + batch * p.c_bs + row * p.n;
    for (var j = 0u; j < 4u; j++) {
        let col = col0 + j * WG;
        if (col < p.n) {
            var x = v[j];
            if (p.accumulate != 0u) {
                x += c[base + col];
            }
            c[base + col] = x;
        }
    }
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
            if (p.accumulate != 0u) {
                c4[at] = c4[at] + acc[2u * r];
                c4[at + 1u] = c4[at + 1u] + acc[2u * r + 1u];
            } else {
                c4[at] = acc[2u * r];
                c4[at + 1u] = acc[2u * r + 1u];
            }
        }
    }
}
