//! `tensorsearch bench kernels`.

use anyhow::{bail, Result};
use std::path::Path;
use std::process::ExitCode;
use tensorsearch::bench;
use tensorsearch::engine::gpu;
use tensorsearch::problem::json;

#[derive(Clone, Copy, PartialEq)]
pub enum BenchDevice {
    Gpu,
    Cpu,
    Both,
}

pub fn kernels(
    device: BenchDevice,
    json: Option<&Path>,
    quick: bool,
    seconds: f64,
) -> Result<ExitCode> {
    if !(seconds > 0.0 && seconds <= 600.0) {
        bail!("--seconds must be in (0, 600], found {seconds}");
    }
    let mut gpu = match device {
        BenchDevice::Cpu => None,
        _ => Some(gpu::GpuBackend::new()?),
    };
    if let Some(g) = &gpu {
        let timer = if g.has_timestamps() {
            "timestamp queries"
        } else {
            "wall clock after synchronising"
        };
        let kind = if g.is_software() {
            " (software adapter)"
        } else {
            ""
        };
        println!("gpu: {}{kind}; timing by {timer}", g.adapter_name());
    }
    let cases = bench::default_cases(quick);
    let budget = std::time::Duration::from_secs_f64(seconds);
    let rows = bench::run(&cases, gpu.as_mut(), device != BenchDevice::Gpu, budget)?;
    print!("{}", bench::table(&rows));
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&rows)?;
        json::write_atomic(path, format!("{text}\n").as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
