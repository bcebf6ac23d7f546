//! `tensorsearch devices`: wgpu adapters with their compute limits.

use anyhow::{bail, Result};
use std::process::ExitCode;
use tensorsearch::engine::gpu;

pub fn devices() -> Result<ExitCode> {
    let reports = gpu::describe_adapters();
    if reports.is_empty() {
        let msg = "no wgpu adapter found (no Vulkan, Metal or DX12 driver); on Linux without a GPU, install Mesa's lavapipe: apt-get install mesa-vulkan-drivers";
        if gpu::require_gpu() {
            bail!("{msg}; {}=1 requires one", gpu::adapters::REQUIRE_GPU_ENV);
        }
        println!("{msg}");
        return Ok(ExitCode::SUCCESS);
    }
    for (i, r) in reports.iter().enumerate() {
        println!("{}", r.render(i));
    }
    Ok(ExitCode::SUCCESS)
}
