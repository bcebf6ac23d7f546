// Flip walks over Z2, one walk per invocation, for up to p.steps steps per
// dispatch; a walk's whole state lives in the buffers, so dispatches
// continue where the last stopped. Factors are u64 masks kept as
// vec2<u32> (lo, hi). The launcher and the CPU reference that this must
// match bit for bit are in src/flip/gpu.rs.
//
// A step draws a term i and a role, counts the other terms with the same
// factor there, and flips with one of them drawn uniformly (a step with
// none is a miss); the changed terms are then settled: a zero factor drops
// a term, two terms sharing two factors merge, and merges cascade. After
// p.plateau steps without a new low a plus transition splits two terms
// into three. A walk stops when its rank drops below its goal, or after
// p.path_limit steps.
//
// Bindings: terms (capacity × 3 factors × 2 words per walk, walk-minor:
// word k of walk w at k·walks + w, so that neighbouring invocations read
// neighbouring words), walks (STATE words per walk: rank, goal, status,
// low, since, steps, flips, -, rng).

struct Params {
    walks: u32, capacity: u32, steps: u32, plateau: u32,
    path_limit: u32, terms_off: u32, walks_off: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> terms: array<u32>;
@group(0) @binding(2) var<storage, read_write> walks: array<u32>;

const STATE: u32 = 16u;
const RUNNING: u32 = 0u;
const DROPPED: u32 = 1u;
const EXHAUSTED: u32 = 2u;
// "No role": settle checks all three.
const ANY_ROLE: u32 = 3u;

var<private> rng: vec4<u32>;
var<private> lane: u32;
var<private> rank: u32;
var<private> flips: u32;

// xorshift128 (Marsaglia).
fn next() -> u32 {
    let t = rng.x ^ (rng.x << 11u);
    rng = vec4<u32>(rng.y, rng.z, rng.w, rng.w ^ (rng.w >> 19u) ^ t ^ (t >> 8u));
    return rng.w;
}

fn below(n: u32) -> u32 {
    return next() % n;
}

fn at(t: u32, r: u32) -> u32 {
    return p.terms_off + (t * 3u + r) * 2u * p.walks + lane;
}

fn factor(t: u32, r: u32) -> vec2<u32> {
    let k = at(t, r);
    return vec2<u32>(terms[k], terms[k + p.walks]);
}

fn set_factor(t: u32, r: u32, v: vec2<u32>) {
    let k = at(t, r);
    terms[k] = v.x;
    terms[k + p.walks] = v.y;
}

fn same(a: vec2<u32>, b: vec2<u32>) -> bool {
    return all(a == b);
}

fn is_zero(a: vec2<u32>) -> bool {
    return (a.x | a.y) == 0u;
}

// Removes term t; the last term takes its place.
fn remove(t: u32) {
    let last = rank - 1u;
    if (t != last) {
        for (var r = 0u; r < 3u; r++) {
            set_factor(t, r, factor(last, r));
        }
    }
    rank = last;
}

// Reduces around term t after factor `changed` of it changed (ANY_ROLE:
// unknown): drops it on a zero factor, or merges it into a term that
// differs from it in one role, cascading from the merged term.
fn settle(t_in: u32, changed_in: u32) {
    var t = t_in;
    var changed = changed_in;
    loop {
        if (is_zero(factor(t, 0u)) || is_zero(factor(t, 1u)) || is_zero(factor(t, 2u))) {
            remove(t);
            return;
        }
        var merged = false;
        for (var role = 0u; role < 3u; role++) {
            if (role == changed) {
                continue;
            }
            let s = (role + 1u) % 3u;
            let u = (role + 2u) % 3u;
            let ts = factor(t, s);
            let tu = factor(t, u);
            for (var k = 0u; k < rank; k++) {
                if (k != t && same(factor(k, s), ts) && same(factor(k, u), tu)) {
                    set_factor(k, role, factor(k, role) ^ factor(t, role));
                    remove(t);
                    // k moved into t's slot if it was the last term.
                    var kept = k;
                    if (k == rank) {
                        kept = t;
                    }
                    t = kept;
                    changed = role;
                    merged = true;
                    break;
                }
            }
            if (merged) {
                break;
            }
        }
        if (!merged) {
            return;
        }
    }
}

fn flip_step() {
    let i = below(rank);
    let role = below(3u);
    let f = factor(i, role);
    var m = 0u;
    for (var k = 0u; k < rank; k++) {
        if (k != i && same(factor(k, role), f)) {
            m++;
        }
    }
    if (m == 0u) {
        return;
    }
    var pick = below(m);
    var j = 0u;
    for (var k = 0u; k < rank; k++) {
        if (k != i && same(factor(k, role), f)) {
            if (pick == 0u) {
                j = k;
                break;
            }
            pick--;
        }
    }
    var s = (role + 1u) % 3u;
    var u = (role + 2u) % 3u;
    if ((next() & 1u) == 1u) {
        let x = s;
        s = u;
        u = x;
    }
    // a⊗b₁⊗c₁ + a⊗b₂⊗c₂ = a⊗(b₁+b₂)⊗c₁ + a⊗b₂⊗(c₂+c₁).
    set_factor(i, s, factor(i, s) ^ factor(j, s));
    set_factor(j, u, factor(j, u) ^ factor(i, u));
    flips++;
    if (i > j) {
        settle(i, s);
        if (j < rank) {
            settle(j, u);
        }
    } else {
        settle(j, u);
        if (i < rank) {
            settle(i, s);
        }
    }
}

// (x_a+y_a)⊗x_b⊗x_c + y_a⊗y_b⊗(y_c+x_c) + y_a⊗(y_b+x_b)⊗x_c = x + y.
fn plus() {
    if (rank < 2u || rank >= p.capacity) {
        return;
    }
    let i = below(rank);
    var j = below(rank - 1u);
    if (j >= i) {
        j++;
    }
    let a = below(3u);
    let b = (a + 1u) % 3u;
    let c = (a + 2u) % 3u;
    let xa = factor(i, a);
    let xb = factor(i, b);
    let xc = factor(i, c);
    let ya = factor(j, a);
    let yb = factor(j, b);
    let yc = factor(j, c);
    set_factor(i, a, xa ^ ya);
    set_factor(j, c, yc ^ xc);
    let n = rank;
    rank++;
    set_factor(n, a, ya);
    set_factor(n, b, yb ^ xb);
    set_factor(n, c, xc);
    settle(n, ANY_ROLE);
    let hi = max(i, j);
    let lo = min(i, j);
    if (hi < rank) {
        settle(hi, ANY_ROLE);
    }
    if (lo < rank) {
        settle(lo, ANY_ROLE);
    }
}

@compute @workgroup_size(WG)
fn walk(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let w = linear_index(gid, nwg);
    if (w >= p.walks) {
        return;
    }
    let st = p.walks_off + w * STATE;
    var status = walks[st + 2u];
    if (status != RUNNING) {
        return;
    }
    lane = w;
    rank = walks[st];
    let goal = walks[st + 1u];
    var low = walks[st + 3u];
    var since = walks[st + 4u];
    var steps = walks[st + 5u];
    flips = walks[st + 6u];
    rng = vec4<u32>(walks[st + 8u], walks[st + 9u], walks[st + 10u], walks[st + 11u]);
    for (var n = 0u; n < p.steps; n++) {
        if (rank < goal) {
            status = DROPPED;
            break;
        }
        if (steps >= p.path_limit) {
            status = EXHAUSTED;
            break;
        }
        flip_step();
        steps++;
        if (rank < low) {
            low = rank;
            since = 0u;
        } else {
            since++;
            if (since >= p.plateau) {
                plus();
                since = 0u;
            }
        }
    }
    if (status == RUNNING && rank < goal) {
        status = DROPPED;
    } else if (status == RUNNING && steps >= p.path_limit) {
        status = EXHAUSTED;
    }
    walks[st] = rank;
    walks[st + 2u] = status;
    walks[st + 3u] = low;
    walks[st + 4u] = since;
    walks[st + 5u] = steps;
    walks[st + 6u] = flips;
    walks[st + 8u] = rng.x;
    walks[st + 9u] = rng.y;
    walks[st + 10u] = rng.z;
    walks[st + 11u] = rng.w;
}
