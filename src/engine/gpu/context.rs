//! The wgpu runtime: device and queue, buffers, a pipeline cache, and a
//! recorder that turns a sequence of kernel launches and host writes into
//! one command buffer, submitted once when the host needs a result.

use super::adapters::{enumerate_adapters, AdapterReport};
use anyhow::{anyhow, bail, Result};
use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

/// Prepended to every kernel file: the workgroup size override and the
/// linear thread index over a grid that spills into y past 65535 groups.
pub const PRELUDE: &str = include_str!("../../../shaders/prelude.wgsl");

/// Bytes reserved for one launch's parameters in the uniform arena.
const PARAM_SLOT: usize = 256;
/// Workgroups per grid dimension that every adapter supports.
const MAX_GROUPS: usize = 65535;

/// A view of a device buffer, in 32-bit words.
#[derive(Clone)]
pub struct GpuBuf {
    pub(crate) id: u64,
    pub(crate) buffer: Arc<wgpu::Buffer>,
    pub(crate) offset: usize,
    pub(crate) len: usize,
}

impl std::fmt::Debug for GpuBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GpuBuf#{}[{}..{}]",
            self.id,
            self.offset,
            self.offset + self.len
        )
    }
}

impl GpuBuf {
    /// Offset in words, as kernels take it.
    pub(crate) fn off(&self) -> u32 {
        self.offset as u32
    }
}

/// The word offsets of `bufs` in binding order, zero-padded to N: the
/// `off` arrays of the kernels' parameter blocks.
pub(crate) fn offsets<const N: usize>(bufs: &[&GpuBuf]) -> [u32; N] {
    assert!(bufs.len() <= N, "{} buffers for {N} offsets", bufs.len());
    let mut off = [0u32; N];
    for (o, b) in off.iter_mut().zip(bufs) {
        *o = b.off();
    }
    off
}

/// One kernel: a WGSL file (its family) and an entry point in it.
#[derive(Clone, Copy, Debug)]
pub struct Kernel {
    pub family: &'static str,
    pub source: &'static str,
    pub entry: &'static str,
}

impl Kernel {
    /// Entry point `entry` of the family `family`, whose WGSL is `source`.
    pub const fn new(family: &'static str, source: &'static str, entry: &'static str) -> Self {
        Kernel {
            family,
            source,
            entry,
        }
    }
}

/// A recorded launch, bound and dispatched at the next flush.
struct Dispatch {
    pipeline: wgpu::ComputePipeline,
    buffers: Vec<GpuBuf>,
    param_slot: usize,
    groups: [u32; 3],
}

/// A recorded host write: `len` bytes at `from` in the upload arena, copied
/// into `to` in program order with the launches around it.
struct Upload {
    from: usize,
    to: GpuBuf,
    len: usize,
}

enum Step {
    Dispatch(Dispatch),
    Upload(Upload),
}

/// A launch with its bind group, ready to encode.
struct Bound {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    param_slot: usize,
    groups: [u32; 3],
}

/// What a flush encodes: a compute pass of consecutive launches, or the
/// copy of one host write.
enum Segment {
    Pass(Vec<Bound>),
    Copy(Upload),
}

/// What the backend has asked of the device so far: kernel dispatches,
/// queue submissions, host writes (recorded in order with the launches,
/// so they cost no round trip) and read-backs (each waits for the device:
/// a round trip; several views read together count once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuCounts {
    pub dispatches: u64,
    pub submits: u64,
    pub reads: u64,
    pub writes: u64,
}

impl std::ops::Sub for GpuCounts {
    type Output = GpuCounts;
    fn sub(self, o: GpuCounts) -> GpuCounts {
        GpuCounts {
            dispatches: self.dispatches - o.dispatches,
            submits: self.submits - o.submits,
            reads: self.reads - o.reads,
            writes: self.writes - o.writes,
        }
    }
}

/// The GPU backend's device state.
pub struct GpuBackend {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) report: AdapterReport,
    pub(crate) timestamps: bool,
    /// Threads per workgroup of the 1-D kernels (the WG override).
    pub(crate) workgroup: u32,
    modules: HashMap<&'static str, wgpu::ShaderModule>,
    pipelines: HashMap<(&'static str, &'static str, usize), wgpu::ComputePipeline>,
    layouts: HashMap<usize, (wgpu::BindGroupLayout, wgpu::PipelineLayout)>,
    bind_groups: HashMap<(usize, Vec<u64>), wgpu::BindGroup>,
    params: wgpu::Buffer,
    params_capacity: usize,
    param_align: usize,
    pending_params: Vec<u8>,
    /// Host writes waiting for the next flush, and the buffer they go
    /// through.
    pending_uploads: Vec<u8>,
    uploads: wgpu::Buffer,
    uploads_capacity: usize,
    pending: Vec<Step>,
    next_id: u64,
    counts: GpuCounts,
    /// Kernel choices measured on this adapter, by family and shape
    /// (`ops::matmul` tunes its GEMM per product shape).
    pub(crate) tuned: HashMap<(&'static str, [u32; 8]), usize>,
    /// Whether kernels may be chosen by measurement (else by rule).
    pub(crate) tuning: bool,
}

impl GpuBackend {
    /// Opens the most preferred adapter (hardware first; a software adapter
    /// such as lavapipe is accepted, and `is_software` says so).
    pub fn new() -> Result<Self> {
        let adapter = enumerate_adapters()
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("no wgpu adapter found (no Vulkan, Metal or DX12 driver); on Linux without a GPU, install Mesa's lavapipe: apt-get install mesa-vulkan-drivers"))?;
        Self::with_adapter(adapter)
    }

    pub fn with_adapter(adapter: wgpu::Adapter) -> Result<Self> {
        let report = AdapterReport::of(&adapter);
        let timestamps = report.features.contains(wgpu::Features::TIMESTAMP_QUERY);
        let mut features = wgpu::Features::empty();
        if timestamps {
            features |= wgpu::Features::TIMESTAMP_QUERY;
        }
        let desc = wgpu::DeviceDescriptor {
            label: Some("tensorsearch"),
            required_features: features,
            required_limits: report.limits.clone(),
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| anyhow!("cannot open {}: {e}", report.info.name))?;
        let param_align =
            (report.limits.min_uniform_buffer_offset_alignment as usize).max(PARAM_SLOT);
        let params_capacity = 64 * param_align;
        let params = Self::params_buffer(&device, params_capacity);
        let uploads_capacity = 1 << 16;
        let uploads = Self::uploads_buffer(&device, uploads_capacity);
        Ok(GpuBackend {
            device,
            queue,
            report,
            timestamps,
            workgroup: 64,
            modules: HashMap::new(),
            pipelines: HashMap::new(),
            layouts: HashMap::new(),
            bind_groups: HashMap::new(),
            params,
            params_capacity,
            param_align,
            pending_params: Vec::new(),
            pending_uploads: Vec::new(),
            uploads,
            uploads_capacity,
            pending: Vec::new(),
            next_id: 0,
            counts: GpuCounts::default(),
            tuned: HashMap::new(),
            tuning: true,
        })
    }

    fn params_buffer(device: &wgpu::Device, bytes: usize) -> wgpu::Buffer {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kernel parameters"),
            size: bytes as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    fn uploads_buffer(device: &wgpu::Device, bytes: usize) -> wgpu::Buffer {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("host writes"),
            size: bytes as u64,
            usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Chooses kernels by measuring them on this adapter (the default), or
    /// by fixed rules. Either way the results are the same to the bit.
    pub fn set_kernel_tuning(&mut self, on: bool) {
        self.tuning = on;
    }

    /// Forgets the cached bind groups that name any of `bufs`, so that
    /// scratch buffers are freed when their views are dropped.
    pub(crate) fn forget_buffers(&mut self, bufs: &[&GpuBuf]) {
        self.bind_groups
            .retain(|(_, ids), _| !bufs.iter().any(|b| ids.contains(&b.id)));
    }

    /// Runs the recorded work and says how long it took on the host,
    /// submission and wait included (timestamps around one short dispatch
    /// proved unreliable on lavapipe).
    pub(crate) fn time_work(&mut self) -> Duration {
        let start = std::time::Instant::now();
        self.flush_all();
        start.elapsed()
    }

    /// Dispatches, submissions and transfers since the backend opened.
    pub fn counts(&self) -> GpuCounts {
        self.counts
    }

    pub fn is_software(&self) -> bool {
        self.report.is_software()
    }

    pub fn adapter_name(&self) -> &str {
        &self.report.info.name
    }

    pub fn has_timestamps(&self) -> bool {
        self.timestamps
    }

    /// The most 32-bit words one storage buffer may bind on this adapter.
    pub fn max_binding_words(&self) -> usize {
        let limits = &self.report.limits;
        (limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            / 4) as usize
    }

    // ---- buffers ------------------------------------------------------

    pub(crate) fn alloc_words(&mut self, words: usize) -> Result<GpuBuf> {
        let bytes = (words.max(1) * 4) as u64;
        let limit = self
            .report
            .limits
            .max_storage_buffer_binding_size
            .min(self.report.limits.max_buffer_size);
        if bytes > limit {
            bail!(
                "a buffer of {words} words ({bytes} B) exceeds this adapter's storage binding limit of {limit} B"
            );
        }
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.next_id += 1;
        Ok(GpuBuf {
            id: self.next_id,
            buffer: Arc::new(buffer),
            offset: 0,
            len: words,
        })
    }

    pub(crate) fn write_words(&mut self, buf: &GpuBuf, bytes: &[u8]) {
        self.counts.writes += 1;
        assert!(
            bytes.len() <= buf.len * 4,
            "write of {} B into a view of {} words",
            bytes.len(),
            buf.len
        );
        if bytes.is_empty() {
            return;
        }
        // The bytes go to the upload arena now and are copied into `buf`
        // between the launches recorded before and after this call, in the
        // same submission: no flush, no wait.
        let from = self.pending_uploads.len();
        self.pending_uploads.extend_from_slice(bytes);
        self.pending.push(Step::Upload(Upload {
            from,
            to: buf.clone(),
            len: bytes.len(),
        }));
    }

    pub(crate) fn read_words(&mut self, buf: &GpuBuf) -> Vec<u8> {
        self.read_many(&[buf]).pop().expect("one view read")
    }

    /// Runs the recorded work and reads back every view, in one submission
    /// and one wait.
    pub(crate) fn read_many(&mut self, bufs: &[&GpuBuf]) -> Vec<Vec<u8>> {
        let mut encoder = self.encode_pending(None);
        self.counts.reads += 1;
        let total: usize = bufs.iter().map(|b| b.len * 4).sum();
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: total.max(4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut at = 0u64;
        for b in bufs {
            let bytes = (b.len * 4) as u64;
            if bytes > 0 {
                encoder.copy_buffer_to_buffer(
                    &b.buffer,
                    (b.offset * 4) as u64,
                    &staging,
                    at,
                    bytes,
                );
            }
            at += bytes;
        }
        self.queue.submit([encoder.finish()]);
        self.counts.submits += 1;
        let slice = staging.slice(..);
        slice.map_async(wgpu::MapMode::Read, |r| {
            r.expect("mapping a read-back buffer")
        });
        self.wait();
        let data = slice
            .get_mapped_range()
            .expect("read-back buffer is mapped")
            .to_vec();
        staging.unmap();
        let mut out = Vec::with_capacity(bufs.len());
        let mut at = 0;
        for b in bufs {
            out.push(data[at..at + b.len * 4].to_vec());
            at += b.len * 4;
        }
        out
    }

    fn wait(&self) {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("the device finished its work");
    }

    // ---- kernels ------------------------------------------------------

    /// Records one launch of `kernel` over `buffers` (bound at 1, 2, …) with
    /// `params` (bound at 0) on a grid of `groups` workgroups.
    pub(crate) fn launch<P: bytemuck::Pod>(
        &mut self,
        kernel: Kernel,
        params: &P,
        buffers: &[&GpuBuf],
        groups: [u32; 3],
    ) {
        let bytes = bytemuck::bytes_of(params);
        debug_assert!(bytes.len() <= PARAM_SLOT);
        if groups.contains(&0) {
            return;
        }
        let pipeline = self.pipeline(kernel, buffers.len());
        let param_slot = self.pending_params.len() / self.param_align;
        self.pending_params.extend_from_slice(bytes);
        self.pending_params
            .resize((param_slot + 1) * self.param_align, 0);
        self.pending.push(Step::Dispatch(Dispatch {
            pipeline,
            buffers: buffers.iter().map(|b| (*b).clone()).collect(),
            param_slot,
            groups,
        }));
    }

    /// A grid of workgroups of `self.workgroup` threads covering `threads`.
    pub(crate) fn grid(&self, threads: usize) -> [u32; 3] {
        let groups = threads.div_ceil(self.workgroup as usize);
        let x = groups.min(MAX_GROUPS);
        let y = if x == 0 { 0 } else { groups.div_ceil(x) };
        [x as u32, y as u32, 1]
    }

    fn pipeline(&mut self, kernel: Kernel, n_buffers: usize) -> wgpu::ComputePipeline {
        let key = (kernel.family, kernel.entry, n_buffers);
        if let Some(p) = self.pipelines.get(&key) {
            return p.clone();
        }
        let device = &self.device;
        let module = self.modules.entry(kernel.family).or_insert_with(|| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(kernel.family),
                source: wgpu::ShaderSource::Wgsl(format!("{PRELUDE}\n{}", kernel.source).into()),
            })
        });
        let (_, layout) = self
            .layouts
            .entry(n_buffers)
            .or_insert_with(|| Self::layout(device, n_buffers));
        let constants = [("WG", self.workgroup as f64)];
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(kernel.entry),
            layout: Some(layout),
            module,
            entry_point: Some(kernel.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                ..Default::default()
            },
            cache: None,
        });
        self.pipelines.insert(key, pipeline.clone());
        pipeline
    }

    /// Binding 0: the parameter slot (uniform, dynamic offset); bindings
    /// 1..=n: storage buffers. Every storage binding is read-write so that
    /// views of one allocation may be bound together.
    fn layout(device: &wgpu::Device, n: usize) -> (wgpu::BindGroupLayout, wgpu::PipelineLayout) {
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: true,
                min_binding_size: NonZeroU64::new(PARAM_SLOT as u64),
            },
            count: None,
        }];
        for i in 1..=n {
            entries.push(wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage { read_only: false },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            });
        }
        let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: None,
            entries: &entries,
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: None,
            bind_group_layouts: &[Some(&bgl)],
            immediate_size: 0,
        });
        (bgl, pl)
    }

    fn bind_group(&mut self, buffers: &[GpuBuf]) -> wgpu::BindGroup {
        let key = (
            buffers.len(),
            buffers.iter().map(|b| b.id).collect::<Vec<_>>(),
        );
        if let Some(bg) = self.bind_groups.get(&key) {
            return bg.clone();
        }
        let n = buffers.len();
        let device = &self.device;
        let (bgl, _) = self
            .layouts
            .entry(n)
            .or_insert_with(|| Self::layout(device, n));
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &self.params,
                offset: 0,
                size: NonZeroU64::new(PARAM_SLOT as u64),
            }),
        }];
        for (i, b) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: b.buffer.as_entire_binding(),
            });
        }
        let bg = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: bgl,
            entries: &entries,
        });
        self.bind_groups.insert(key, bg.clone());
        bg
    }

    /// Encodes all recorded work, in order, into one command encoder: runs
    /// of launches become compute passes, host writes become copies from
    /// the upload arena between them. With a query set, the first pass
    /// writes the start timestamp and the last one the end.
    fn encode_pending(&mut self, timing: Option<&wgpu::QuerySet>) -> wgpu::CommandEncoder {
        let mut encoder = self.device.create_command_encoder(&Default::default());
        if self.pending.is_empty() {
            return encoder;
        }
        if self.pending_params.len() > self.params_capacity {
            self.params_capacity = self.pending_params.len().next_power_of_two();
            self.params = Self::params_buffer(&self.device, self.params_capacity);
            // Bind groups name the old parameter buffer.
            self.bind_groups.clear();
        }
        if !self.pending_params.is_empty() {
            self.queue
                .write_buffer(&self.params, 0, &self.pending_params);
        }
        if self.pending_uploads.len() > self.uploads_capacity {
            self.uploads_capacity = self.pending_uploads.len().next_power_of_two();
            self.uploads = Self::uploads_buffer(&self.device, self.uploads_capacity);
        }
        if !self.pending_uploads.is_empty() {
            self.queue
                .write_buffer(&self.uploads, 0, &self.pending_uploads);
        }
        let work = std::mem::take(&mut self.pending);
        self.pending_params.clear();
        self.pending_uploads.clear();
        // Consecutive launches share a pass; an upload ends it.
        let mut segments: Vec<Segment> = vec![];
        for step in work {
            match step {
                Step::Dispatch(d) => {
                    let launch = Bound {
                        bind_group: self.bind_group(&d.buffers),
                        pipeline: d.pipeline,
                        param_slot: d.param_slot,
                        groups: d.groups,
                    };
                    match segments.last_mut() {
                        Some(Segment::Pass(run)) => run.push(launch),
                        _ => segments.push(Segment::Pass(vec![launch])),
                    }
                }
                Step::Upload(u) => segments.push(Segment::Copy(u)),
            }
        }
        let passes = segments
            .iter()
            .filter(|s| matches!(s, Segment::Pass(_)))
            .count();
        let mut pass_index = 0;
        for segment in &segments {
            match segment {
                Segment::Pass(run) => {
                    let timestamp_writes = timing.map(|q| wgpu::ComputePassTimestampWrites {
                        query_set: q,
                        beginning_of_pass_write_index: (pass_index == 0).then_some(0),
                        end_of_pass_write_index: (pass_index + 1 == passes).then_some(1),
                    });
                    pass_index += 1;
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes,
                    });
                    self.counts.dispatches += run.len() as u64;
                    for d in run {
                        let [x, y, z] = d.groups;
                        pass.set_pipeline(&d.pipeline);
                        pass.set_bind_group(
                            0,
                            &d.bind_group,
                            &[(d.param_slot * self.param_align) as u32],
                        );
                        pass.dispatch_workgroups(x, y, z);
                    }
                }
                Segment::Copy(u) => encoder.copy_buffer_to_buffer(
                    &self.uploads,
                    u.from as u64,
                    &u.to.buffer,
                    (u.to.offset * 4) as u64,
                    u.len as u64,
                ),
            }
        }
        encoder
    }

    /// Submits all recorded work as one command buffer and waits.
    fn flush_work(&mut self, timing: Option<&wgpu::QuerySet>) {
        if self.pending.is_empty() {
            return;
        }
        let encoder = self.encode_pending(timing);
        self.queue.submit([encoder.finish()]);
        self.counts.submits += 1;
        self.wait();
    }

    pub(crate) fn flush_all(&mut self) {
        self.flush_work(None);
    }

    /// Runs the recorded work, timed from its first pass to its last.
    /// `None` when the adapter has no timestamp queries or nothing was
    /// launched (the caller then times on the host).
    pub fn flush_timed(&mut self) -> Option<Duration> {
        let launches = self.pending.iter().any(|s| matches!(s, Step::Dispatch(_)));
        if !self.timestamps || !launches {
            self.flush_work(None);
            return None;
        }
        let queries = self.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("timing"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        let resolve = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamps"),
            size: 16,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamps read-back"),
            size: 16,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.flush_work(Some(&queries));
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.resolve_query_set(&queries, 0..2, &resolve, 0);
        encoder.copy_buffer_to_buffer(&resolve, 0, &readback, 0, 16);
        self.queue.submit([encoder.finish()]);
        let slice = readback.slice(..);
        slice.map_async(wgpu::MapMode::Read, |r| r.expect("mapping timestamps"));
        self.wait();
        let ticks: [u64; 2] = {
            let data = slice.get_mapped_range().expect("timestamps are mapped");
            bytemuck::pod_read_unaligned(&data[..16])
        };
        readback.unmap();
        let ns =
            ticks[1].saturating_sub(ticks[0]) as f64 * self.queue.get_timestamp_period() as f64;
        Some(Duration::from_nanos(ns as u64))
    }
}
