//! Kernel families. Each module holds the specification of its operations,
//! the CPU reference (generic over the float type, so tests can run it in
//! f64), and the GPU launcher of its WGSL file.

pub mod adam;
pub mod attention;
pub mod elementwise;
pub mod embedding;
pub mod game;
pub mod gather;
pub mod layernorm;
pub mod losses;
pub mod matmul;
pub mod mean;

/// The engine's kernel files, by family name, as the GPU backend compiles
/// them (after the shared prelude). Kernels of other domains carry their
/// own source in their `Kernel` (see `crate::all_shaders`).
pub const SHADERS: &[(&str, &str)] = &[
    ("adam", adam::WGSL),
    ("attention", attention::WGSL),
    ("bias", matmul::BIAS_WGSL),
    ("elementwise", elementwise::WGSL),
    ("embedding", embedding::WGSL),
    ("game", game::GAME_WGSL),
    ("gather", gather::WGSL),
    ("layernorm", layernorm::WGSL),
    ("matmul", matmul::MATMUL_WGSL),
    ("mean", mean::WGSL),
    ("quantile", losses::QUANTILE_WGSL),
    ("sample", game::SAMPLE_WGSL),
    ("xent", losses::XENT_WGSL),
];
