//! Kernel benchmarks: time per call on the GPU (timestamp queries when the
//! adapter has them, else wall time after synchronising) and on the CPU
//! backend for the same work, with GFLOP/s or GB/s and the ratio.

use crate::engine::cpu::CpuBackend;
use crate::engine::gpu::GpuBackend;
use crate::engine::*;
use anyhow::Result;
use serde::Serialize;
use std::time::{Duration, Instant};

/// One benchmark: an operation at one shape.
#[derive(Clone, Debug)]
pub enum Case {
    Matmul(usize),
    /// C = op(A)·op(B), m×n from k: m, n, k, Aᵀ, Bᵀ.
    Product(usize, usize, usize, bool, bool),
    /// Forward and backward: batch rows, heads, query and key lengths, head dim, causal.
    Attention(usize, usize, usize, usize, usize, bool),
    LayerNorm(usize, usize),
    Gelu(usize),
    Xent(usize, usize),
    Adam(usize),
    Residual(usize, [usize; 3]),
}

/// The shapes `tensorsearch bench kernels` measures: matmul at 64³, 256³,
/// 1024³ and at a small-preset linear layer's three products for 2x2x2
/// (batch 64: 3,072 rows of 64 channels; forward x·W, input gradient
/// dy·Wᵀ, weight gradient xᵀ·dy) and its narrow MLP-down weight gradient; attention at the torso's shapes for 2x2x2 (S = 4, rows of 2S = 8)
/// and 4x4x4 (S = 16, rows of 32), the decoder's causal self-attention and
/// its cross-attention to 3S² torso cells; and the other kernels at the
/// sizes of a training step.
pub fn default_cases(quick: bool) -> Vec<Case> {
    let mut cases = vec![Case::Matmul(64), Case::Matmul(256)];
    if !quick {
        cases.push(Case::Matmul(1024));
    }
    cases.extend([
        Case::Product(3072, 64, 64, false, false),
        Case::Product(3072, 64, 64, false, true),
        Case::Product(64, 64, 3072, true, false),
        Case::Product(256, 64, 3072, true, false),
    ]);
    cases.extend([
        Case::Attention(64 * 3 * 4, 4, 8, 8, 16, false),
        Case::Attention(16 * 3 * 16, 4, 32, 32, 16, false),
        Case::Attention(64, 4, 12, 12, 16, true),
        Case::Attention(64, 4, 12, 48, 16, false),
        Case::LayerNorm(64 * 48, 64),
        Case::Gelu(1 << 20),
        Case::Xent(64 * 12, 625),
        Case::Adam(1 << 20),
        Case::Residual(256, [16, 16, 16]),
    ]);
    cases
}

impl Case {
    pub fn name(&self) -> &'static str {
        match self {
            Case::Matmul(_) | Case::Product(..) => "matmul",
            Case::Attention(.., true) => "attention fwd+bwd (causal)",
            Case::Attention(..) => "attention fwd+bwd",
            Case::LayerNorm(..) => "layer norm fwd+bwd",
            Case::Gelu(_) => "gelu backward",
            Case::Xent(..) => "softmax xent",
            Case::Adam(_) => "adamw",
            Case::Residual(..) => "residual update",
        }
    }

    pub fn shape(&self) -> String {
        match self {
            Case::Matmul(n) => format!("{n}x{n}x{n}"),
            Case::Product(m, n, k, ta, tb) => {
                let t = |on: bool, what: &'static str| if on { what } else { "" };
                format!("{m}x{n} from {k}{}{}", t(*ta, " Aᵀ"), t(*tb, " Bᵀ"))
            }
            Case::Attention(b, h, lq, lk, d, _) => format!("B{b} H{h} Lq{lq} Lk{lk} d{d}"),
            Case::LayerNorm(r, c) => format!("{r}x{c}"),
            Case::Gelu(n) | Case::Adam(n) => format!("{n}"),
            Case::Xent(r, v) => format!("{r}x{v}"),
            Case::Residual(b, [x, y, z]) => format!("{b} x {x}x{y}x{z}"),
        }
    }

    /// (amount, unit) of work per call: flops for compute-bound kernels,
    /// bytes moved (each input read once, each output written once) else.
    pub fn work(&self) -> (f64, &'static str) {
        match *self {
            Case::Matmul(n) => (2.0 * (n * n * n) as f64, "GFLOP/s"),
            Case::Product(m, n, k, ..) => (2.0 * (m * n * k) as f64, "GFLOP/s"),
            Case::Attention(b, h, lq, lk, d, causal) => {
                let pairs = if causal { lq * (lq + 1) / 2 } else { lq * lk };
                // Forward: QKᵀ and PV; backward: recomputed QKᵀ, dP, dV, dQ, dK.
                (2.0 * (b * h * pairs * d) as f64 * 7.0, "GFLOP/s")
            }
            Case::LayerNorm(r, c) => (4.0 * (r * c * 5) as f64, "GB/s"),
            // Reads x and dy, writes dx (in place).
            Case::Gelu(n) => (4.0 * (n * 3) as f64, "GB/s"),
            Case::Xent(r, v) => (4.0 * (r * v * 2) as f64, "GB/s"),
            Case::Adam(n) => (4.0 * (n * 7) as f64, "GB/s"),
            Case::Residual(b, d) => (4.0 * (b * d.iter().product::<usize>() * 2) as f64, "GB/s"),
        }
    }

    /// Time per call on `backend`: one warm-up call, then enough calls to
    /// fill about `budget`, recorded together and run in one submission.
    pub fn time<B: Backend>(&self, backend: &mut B, budget: Duration) -> Result<Duration> {
        let op = self.setup(backend)?;
        op(backend);
        backend.flush();
        let start = Instant::now();
        op(backend);
        let device = backend.flush_timed();
        let one = device.unwrap_or_else(|| start.elapsed());
        let reps = ((budget.as_secs_f64() / one.as_secs_f64().max(1e-9)) as usize).clamp(1, 200);
        let start = Instant::now();
        for _ in 0..reps {
            op(backend);
        }
        let device = backend.flush_timed();
        let total = device.unwrap_or_else(|| start.elapsed());
        Ok(total / reps as u32)
    }

    /// Allocates and fills the operands; returns the call to time.
    #[allow(clippy::type_complexity)]
    fn setup<B: Backend>(&self, b: &mut B) -> Result<Box<dyn Fn(&mut B)>> {
        let filled = |b: &mut B, n: usize, seed: u32| -> Result<B::Buf> {
            let buf = b.alloc(n)?;
            let data: Vec<f32> = (0..n)
                .map(|i| {
                    ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 1000.0
                        - 0.5
                })
                .collect();
            b.write_f32(&buf, &data);
            Ok(buf)
        };
        Ok(match *self {
            Case::Matmul(n) => {
                let s = MatmulSpec::new(n, n, n);
                let (x, y, z) = (filled(b, n * n, 1)?, filled(b, n * n, 2)?, b.alloc(n * n)?);
                Box::new(move |b: &mut B| b.matmul(&s, &x, &y, &z))
            }
            Case::Product(m, n, k, ta, tb) => {
                let mut s = MatmulSpec::new(m, n, k);
                s.trans_a = ta;
                s.trans_b = tb;
                let (x, y, z) = (filled(b, m * k, 1)?, filled(b, k * n, 2)?, b.alloc(m * n)?);
                Box::new(move |b: &mut B| b.matmul(&s, &x, &y, &z))
            }
            Case::Attention(batch, heads, lq, lk, d, causal) => {
                let mut s = AttentionSpec::new(batch, heads, lq, lk, d);
                s.causal = causal;
                let [eq, ek, ev, eo] = s.extents();
                let (q, k, v) = (filled(b, eq, 1)?, filled(b, ek, 2)?, filled(b, ev, 3)?);
                let (o, dout) = (b.alloc(eo)?, filled(b, eo, 4)?);
                let (lse, delta) = (b.alloc(s.lse_len())?, b.alloc(s.lse_len())?);
                let (dq, dk, dv) = (b.alloc(eq)?, b.alloc(ek)?, b.alloc(ev)?);
                Box::new(move |b: &mut B| {
                    b.attention(&s, &q, &k, &v, &o, &lse);
                    b.attention_backward(&s, &q, &k, &v, &o, &lse, &dout, &delta, &dq, &dk, &dv);
                })
            }
            Case::LayerNorm(rows, cols) => {
                let s = LayerNormSpec::new(rows, cols);
                let (x, g, bias) = (
                    filled(b, rows * cols, 1)?,
                    filled(b, cols, 2)?,
                    filled(b, cols, 3)?,
                );
                let (y, m, r) = (b.alloc(rows * cols)?, b.alloc(rows)?, b.alloc(rows)?);
                let (dx, dg, db) = (b.alloc(rows * cols)?, b.alloc(cols)?, b.alloc(cols)?);
                Box::new(move |b: &mut B| {
                    b.layer_norm(&s, &x, &g, &bias, &y, &m, &r);
                    b.layer_norm_backward(&s, &x, &g, &m, &r, &y, &dx, &dg, &db);
                })
            }
            Case::Gelu(n) => {
                // The forward pass is the linear kernels' epilogue; the
                // backward pass runs on its own, in place as the network
                // runs it.
                let (x, dy) = (filled(b, n, 1)?, filled(b, n, 2)?);
                Box::new(move |b: &mut B| b.gelu_backward(n, &x, &dy, &dy))
            }
            Case::Xent(rows, vocab) => {
                let s = XentSpec { rows, vocab };
                let logits = filled(b, rows * vocab, 1)?;
                let targets = b.alloc(rows)?;
                b.write_u32(
                    &targets,
                    &(0..rows as u32)
                        .map(|r| r % vocab as u32)
                        .collect::<Vec<_>>(),
                );
                let w = b.alloc(rows)?;
                b.fill(&w, 1.0);
                let (loss, d, c) = (b.alloc(rows)?, b.alloc(rows * vocab)?, b.alloc(rows)?);
                Box::new(move |b: &mut B| b.softmax_xent(&s, &logits, &targets, &w, &loss, &d, &c))
            }
            Case::Adam(n) => {
                let s = AdamSpec::new(n, 1e-3, 1);
                let (p, g, m, v) = (filled(b, n, 1)?, filled(b, n, 2)?, b.alloc(n)?, b.alloc(n)?);
                let decay = b.alloc(n)?;
                b.fill(&decay, 1.0);
                Box::new(move |b: &mut B| b.adam(&s, &p, &g, &m, &v, &decay))
            }
            Case::Residual(batch, dims) => {
                let s = GameSpec {
                    batch,
                    dims,
                    mod2: false,
                };
                let states = b.alloc(batch * s.state_len())?;
                let factors = b.alloc(batch * s.action_len())?;
                b.write_i32(
                    &factors,
                    &(0..batch * s.action_len())
                        .map(|i| (i % 5) as i32 - 2)
                        .collect::<Vec<_>>(),
                );
                Box::new(move |b: &mut B| b.residual_update(&s, &states, &factors))
            }
        })
    }
}

/// One row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    pub kernel: String,
    pub shape: String,
    pub unit: String,
    pub gpu_ms: Option<f64>,
    pub gpu_rate: Option<f64>,
    pub gpu_timer: Option<String>,
    pub cpu_ms: Option<f64>,
    pub cpu_rate: Option<f64>,
    /// CPU time over GPU time.
    pub speedup: Option<f64>,
}

/// Measures `cases` on the GPU and/or the CPU backend.
pub fn run(
    cases: &[Case],
    gpu: Option<&mut GpuBackend>,
    cpu: bool,
    budget: Duration,
) -> Result<Vec<Measurement>> {
    let mut cpu_backend = cpu.then(CpuBackend::new);
    let mut gpu = gpu;
    let mut rows = Vec::new();
    for case in cases {
        let (work, unit) = case.work();
        let rate = |t: Duration| work / t.as_secs_f64() / 1e9;
        // The GEMM also with its kernel chosen by rule, not by measurement.
        if let (Some(g), "matmul") = (gpu.as_deref_mut(), case.name()) {
            g.set_kernel_tuning(false);
            let t = case.time(g, budget);
            g.set_kernel_tuning(true);
            let t = t?;
            rows.push(Measurement {
                kernel: "matmul, kernel by rule".into(),
                shape: case.shape(),
                unit: unit.into(),
                gpu_ms: Some(t.as_secs_f64() * 1e3),
                gpu_rate: Some(rate(t)),
                gpu_timer: None,
                cpu_ms: None,
                cpu_rate: None,
                speedup: None,
            });
        }
        let gpu_t = match gpu.as_deref_mut() {
            Some(g) => Some(case.time(g, budget)?),
            None => None,
        };
        let timer = gpu.as_deref().map(|g| {
            if g.has_timestamps() {
                "timestamp queries"
            } else {
                "wall clock"
            }
            .to_string()
        });
        let cpu_t = match cpu_backend.as_mut() {
            Some(c) => Some(case.time(c, budget)?),
            None => None,
        };
        let ms = |t: Duration| t.as_secs_f64() * 1e3;
        rows.push(Measurement {
            kernel: case.name().into(),
            shape: case.shape(),
            unit: unit.into(),
            gpu_ms: gpu_t.map(ms),
            gpu_rate: gpu_t.map(rate),
            gpu_timer: timer,
            cpu_ms: cpu_t.map(ms),
            cpu_rate: cpu_t.map(rate),
            speedup: match (gpu_t, cpu_t) {
                (Some(g), Some(c)) => Some(c.as_secs_f64() / g.as_secs_f64()),
                _ => None,
            },
        });
    }
    Ok(rows)
}

/// The measurements as an aligned text table.
pub fn table(rows: &[Measurement]) -> String {
    let opt = |x: Option<f64>, prec: usize| x.map_or("-".to_string(), |v| format!("{v:.prec$}"));
    let mut s = format!(
        "{:<28} {:<26} {:>10} {:>10} {:>10} {:>10} {:>8}  {}\n",
        "kernel", "shape", "gpu ms", "gpu rate", "cpu ms", "cpu rate", "cpu/gpu", "unit"
    );
    for r in rows {
        s += &format!(
            "{:<28} {:<26} {:>10} {:>10} {:>10} {:>10} {:>8}  {}\n",
            r.kernel,
            r.shape,
            opt(r.gpu_ms, 3),
            opt(r.gpu_rate, 2),
            opt(r.cpu_ms, 3),
            opt(r.cpu_rate, 2),
            opt(r.speedup, 1),
            r.unit
        );
    }
    s
}

/// Calls of `f` per second over at least `budget` (and at least one call);
/// `f` is given the call's index.
pub fn calls_per_second(budget: Duration, mut f: impl FnMut(usize) -> Result<()>) -> Result<f64> {
    let start = Instant::now();
    let mut calls = 0;
    while calls == 0 || start.elapsed() < budget {
        f(calls)?;
        calls += 1;
    }
    Ok(calls as f64 / start.elapsed().as_secs_f64())
}
