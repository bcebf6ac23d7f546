// Prepended to every kernel file. WG is the workgroup size of the 1-D
// kernels, set by the launcher; grids wider than 65535 workgroups spill
// into y, and linear_index undoes that. GELU is here because two families
// apply it: the elementwise kernels and the linear layers' epilogue.
override WG: u32 = 64u;

fn linear_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_C: f32 = 0.044715;
// tanh is +-1 in f32 beyond 15; clamping keeps exp-based tanh finite.
const TANH_CLAMP: f32 = 15.0;

fn gelu_tanh(x: f32) -> f32 {
    let u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
    return tanh(clamp(u, -TANH_CLAMP, TANH_CLAMP));
}

// gelu(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
fn gelu(x: f32) -> f32 {
    return 0.5 * x * (1.0 + gelu_tanh(x));
}
