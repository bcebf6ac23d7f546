//! [`Profiled`]: a [`Backend`] that runs every operation of another one
//! alone and records its time under the operation's name, so `bench train`
//! can say where a training step or a leaf evaluation spends its time
//! without an external profiler.
//!
//! Each operation is flushed on its own: on a GPU with timestamp queries
//! the time is the device's (the pass of that operation's dispatches); on
//! the CPU, and on adapters without timestamps, it is the wall time of the
//! call and its flush. Running operations one at a time removes the
//! overlap the plain backend has, so a profile explains where time goes;
//! the plain backend's steps/s say how much there is.

use super::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Calls and time of one operation.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpTime {
    pub calls: u64,
    pub time: Duration,
}

/// A backend whose operations are timed one by one.
pub struct Profiled<B: Backend> {
    inner: B,
    ops: BTreeMap<&'static str, OpTime>,
}

impl<B: Backend> Profiled<B> {
    pub fn new(inner: B) -> Self {
        Profiled {
            inner,
            ops: BTreeMap::new(),
        }
    }

    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// The times recorded since the last call, by operation name.
    pub fn take(&mut self) -> BTreeMap<&'static str, OpTime> {
        std::mem::take(&mut self.ops)
    }

    pub(crate) fn timed<R>(&mut self, op: &'static str, f: impl FnOnce(&mut B) -> R) -> R {
        // Work recorded before (uploads) is not this operation's.
        self.inner.flush();
        let start = Instant::now();
        let out = f(&mut self.inner);
        let device = self.inner.flush_timed();
        let elapsed = device.unwrap_or_else(|| start.elapsed());
        let entry = self.ops.entry(op).or_default();
        entry.calls += 1;
        entry.time += elapsed;
        out
    }
}

impl<B: Backend> Backend for Profiled<B> {}

impl<B: Backend> Memory for Profiled<B> {
    type Buf = B::Buf;

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn host_memory(&self) -> bool {
        self.inner.host_memory()
    }

    fn counts_only(&self) -> bool {
        self.inner.counts_only()
    }

    fn gpu_counts(&self) -> Option<GpuCounts> {
        self.inner.gpu_counts()
    }

    fn alloc(&mut self, words: usize) -> Result<Self::Buf> {
        self.inner.alloc(words)
    }

    fn view(&self, buf: &Self::Buf, offset: usize, len: usize) -> Self::Buf {
        self.inner.view(buf, offset, len)
    }

    fn len(&self, buf: &Self::Buf) -> usize {
        self.inner.len(buf)
    }

    fn write_f32(&mut self, buf: &Self::Buf, data: &[f32]) {
        self.timed("upload", |b| b.write_f32(buf, data))
    }

    fn write_u32(&mut self, buf: &Self::Buf, data: &[u32]) {
        self.timed("upload", |b| b.write_u32(buf, data))
    }

    fn read_f32(&mut self, buf: &Self::Buf) -> Vec<f32> {
        self.timed("read back", |b| b.read_f32(buf))
    }

    fn read_u32(&mut self, buf: &Self::Buf) -> Vec<u32> {
        self.timed("read back", |b| b.read_u32(buf))
    }

    fn read_many_u32(&mut self, bufs: &[&Self::Buf]) -> Vec<Vec<u32>> {
        self.timed("read back", |b| b.read_many_u32(bufs))
    }

    fn fill(&mut self, buf: &Self::Buf, value: f32) {
        self.timed("fill", |b| b.fill(buf, value))
    }

    fn flush(&mut self) {
        self.inner.flush()
    }

    fn flush_timed(&mut self) -> Option<Duration> {
        self.inner.flush_timed()
    }
}
