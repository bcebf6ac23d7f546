//! Found algorithms multiplying real matrices: a scheme applied
//! recursively to blocks ([`cpu`]), measured against plain GEMM on the
//! same device for time and for error against an f64 reference
//! ([`measure`]).

pub mod accuracy;
pub mod bench;
pub mod cpu;
pub mod gpu;
pub mod measure;
pub mod scheme;

pub use cpu::Dims;
pub use scheme::RealScheme;
