// Prepended to every kernel file. WG is the workgroup size of the 1-D
// kernels, set by the launcher; grids wider than 65535 workgroups spill
// into y, and linear_index undoes that.
override WG: u32 = 64u;

fn linear_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}
