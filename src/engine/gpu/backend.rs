//! [`Backend`] for [`GpuBackend`]: every operation records kernel launches.

use super::context::{GpuBackend, GpuBuf};
use crate::engine::ops::elementwise;
use crate::engine::*;
use anyhow::Result;

impl Backend for GpuBackend {}

impl Memory for GpuBackend {
    type Buf = GpuBuf;

    fn describe(&self) -> String {
        let kind = if self.is_software() {
            ", software adapter"
        } else {
            ""
        };
        format!(
            "gpu ({}, {:?}{kind})",
            self.adapter_name(),
            self.report.info.backend
        )
    }

    fn host_memory(&self) -> bool {
        self.is_software()
    }

    fn gpu_counts(&self) -> Option<GpuCounts> {
        Some(self.counts())
    }

    fn alloc(&mut self, words: usize) -> Result<GpuBuf> {
        let buf = self.alloc_words(words)?;
        // Buffers are zeroed on creation by wgpu.
        Ok(buf)
    }

    fn view(&self, buf: &GpuBuf, offset: usize, len: usize) -> GpuBuf {
        assert!(
            offset + len <= buf.len,
            "view [{offset}, {}) outside {buf:?}",
            offset + len
        );
        GpuBuf {
            offset: buf.offset + offset,
            len,
            ..buf.clone()
        }
    }

    fn len(&self, buf: &GpuBuf) -> usize {
        buf.len
    }

    fn write_f32(&mut self, buf: &GpuBuf, data: &[f32]) {
        self.write_words(buf, bytemuck::cast_slice(data));
    }

    fn write_u32(&mut self, buf: &GpuBuf, data: &[u32]) {
        self.write_words(buf, bytemuck::cast_slice(data));
    }

    fn read_f32(&mut self, buf: &GpuBuf) -> Vec<f32> {
        bytemuck::pod_collect_to_vec(&self.read_words(buf))
    }

    fn read_u32(&mut self, buf: &GpuBuf) -> Vec<u32> {
        bytemuck::pod_collect_to_vec(&self.read_words(buf))
    }

    fn read_many_u32(&mut self, bufs: &[&GpuBuf]) -> Vec<Vec<u32>> {
        self.read_many(bufs)
            .iter()
            .map(|bytes| bytemuck::pod_collect_to_vec(bytes))
            .collect()
    }

    fn fill(&mut self, buf: &GpuBuf, value: f32) {
        elementwise::launch_fill(self, buf, value);
    }

    fn flush(&mut self) {
        self.flush_all();
    }

    fn flush_timed(&mut self) -> Option<std::time::Duration> {
        GpuBackend::flush_timed(self)
    }
}
