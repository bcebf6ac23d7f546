//! `cargo bench`: the measurements of `tensorsearch bench kernels --quick`,
//! GPU (when an adapter is present) and CPU side by side.

use std::time::Duration;
use tensorsearch::bench;
use tensorsearch::engine::gpu::GpuBackend;

fn main() {
    let mut gpu = match GpuBackend::new() {
        Ok(g) => Some(g),
        Err(e) => {
            println!("no GPU: {e}; measuring the CPU backend only");
            None
        }
    };
    let cases = bench::default_cases(true);
    match bench::run(&cases, gpu.as_mut(), true, Duration::from_millis(300)) {
        Ok(rows) => print!("{}", bench::table(&rows)),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
