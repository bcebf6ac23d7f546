//! Finding wgpu adapters and describing what matters to compute on them.

use std::fmt::Write;

/// Environment variable: when set to 1, a missing adapter is an error for
/// `tensorsearch devices` and the GPU tests, instead of a skip.
pub const REQUIRE_GPU_ENV: &str = "TENSORSEARCH_REQUIRE_GPU";

pub fn require_gpu() -> bool {
    std::env::var(REQUIRE_GPU_ENV).is_ok_and(|v| v == "1")
}

/// For the crate's unit tests: the GPU backend, or None (said) when there
/// is no adapter; with TENSORSEARCH_REQUIRE_GPU=1 a missing adapter fails.
#[cfg(test)]
pub(crate) fn gpu_or_skip() -> Option<super::GpuBackend> {
    match super::GpuBackend::new() {
        Ok(g) => Some(g),
        Err(e) => {
            assert!(!require_gpu(), "{e}");
            eprintln!("no GPU, skipped: {e}");
            None
        }
    }
}

/// A new wgpu instance on the native compute backends (Vulkan, Metal, DX12);
/// `WGPU_BACKEND` and the other wgpu variables still apply.
pub fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    wgpu::Instance::new(desc.with_env())
}

/// How strongly to prefer an adapter: hardware GPUs first, software last.
pub fn preference(device_type: wgpu::DeviceType) -> u8 {
    match device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// Every adapter, most preferred first.
pub fn enumerate_adapters() -> Vec<wgpu::Adapter> {
    let mut adapters = pollster::block_on(instance().enumerate_adapters(wgpu::Backends::PRIMARY));
    adapters.sort_by_key(|a| preference(a.get_info().device_type));
    adapters
}

/// What `tensorsearch devices` prints for one adapter.
#[derive(Clone, Debug)]
pub struct AdapterReport {
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
}

impl AdapterReport {
    pub fn of(adapter: &wgpu::Adapter) -> Self {
        AdapterReport {
            info: adapter.get_info(),
            limits: adapter.limits(),
            features: adapter.features(),
        }
    }

    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    pub fn render(&self, index: usize) -> String {
        let (i, l, f) = (&self.info, &self.limits, &self.features);
        let yes = |flag: wgpu::Features| if f.contains(flag) { "yes" } else { "no" };
        let kind = match i.device_type {
            wgpu::DeviceType::DiscreteGpu => "discrete GPU",
            wgpu::DeviceType::IntegratedGpu => "integrated GPU",
            wgpu::DeviceType::VirtualGpu => "virtual GPU",
            wgpu::DeviceType::Cpu => "software (CPU) adapter",
            wgpu::DeviceType::Other => "other",
        };
        let mut s = String::new();
        let _ = writeln!(s, "adapter {index}: {}", i.name);
        let _ = writeln!(s, "  backend {:?}, {kind}", i.backend);
        let _ = writeln!(s, "  driver {} ({})", i.driver, i.driver_info);
        let _ = writeln!(
            s,
            "  storage buffers per stage {}, workgroup storage {} B, invocations per workgroup {}",
            l.max_storage_buffers_per_shader_stage,
            l.max_compute_workgroup_storage_size,
            l.max_compute_invocations_per_workgroup
        );
        let _ = writeln!(
            s,
            "  max buffer {} B, max storage binding {} B, workgroups per dimension {}",
            l.max_buffer_size,
            l.max_storage_buffer_binding_size,
            l.max_compute_workgroups_per_dimension
        );
        let subgroup_sizes = if f.contains(wgpu::Features::SUBGROUP) {
            format!(" (sizes {}..{})", i.subgroup_min_size, i.subgroup_max_size)
        } else {
            String::new()
        };
        let _ = write!(
            s,
            "  SHADER_F16 {}, SUBGROUP {}{subgroup_sizes}, TIMESTAMP_QUERY {}",
            yes(wgpu::Features::SHADER_F16),
            yes(wgpu::Features::SUBGROUP),
            yes(wgpu::Features::TIMESTAMP_QUERY)
        );
        s
    }
}

/// Reports of every adapter, most preferred first.
pub fn describe_adapters() -> Vec<AdapterReport> {
    enumerate_adapters().iter().map(AdapterReport::of).collect()
}
