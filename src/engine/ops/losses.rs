//! The two losses: fused softmax cross-entropy for the policy (forward and
//! backward in one pass) and the quantile Huber loss for the value head.
//! Kernels: `shaders/xent.wgsl`, `shaders/quantile.wgsl`.

use crate::engine::cpu::{u32s, CpuBackend, CpuBuf, Word};
use crate::engine::gpu::{offsets, GpuBackend, GpuBuf, Kernel};
use num_traits::Float;

pub const XENT_WGSL: &str = include_str!("../../../shaders/xent.wgsl");
pub const QUANTILE_WGSL: &str = include_str!("../../../shaders/quantile.wgsl");

/// rows × vocab logits, one target word and one weight per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XentSpec {
    pub rows: usize,
    pub vocab: usize,
}

/// loss[r] = w_r·(logsumexp(logits_r) − logits_r[t_r]);
/// dlogits[r] = w_r·(softmax(logits_r) − onehot(t_r));
/// correct[r] = 1.0 when the first maximal logit is at t_r, else 0.0 (a
/// float, so a mean of it on the device is the accuracy).
pub fn xent_cpu<F: Float>(
    s: &XentSpec,
    logits: &[F],
    targets: &[u32],
    weights: &[F],
    loss: &mut [F],
    dlogits: &mut [F],
    correct: &mut [F],
) {
    for r in 0..s.rows {
        let row = &logits[r * s.vocab..(r + 1) * s.vocab];
        let (mut best, mut m) = (0usize, row[0]);
        for (i, &x) in row.iter().enumerate() {
            if x > m {
                best = i;
                m = x;
            }
        }
        let total = row.iter().fold(F::zero(), |a, &x| a + (x - m).exp());
        let t = targets[r] as usize;
        let w = weights[r];
        loss[r] = w * (m + total.ln() - row[t]);
        for (i, &x) in row.iter().enumerate() {
            let onehot = if i == t { F::one() } else { F::zero() };
            dlogits[r * s.vocab + i] = w * ((x - m).exp() / total - onehot);
        }
        correct[r] = if best == t { F::one() } else { F::zero() };
    }
}

/// batch × quantiles predictions against one scalar target per sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantileSpec {
    pub batch: usize,
    pub quantiles: usize,
    /// The Huber threshold (1 in docs/design.md §3).
    pub delta: f32,
    /// Multiplies every loss and gradient (e.g. 1 / batch).
    pub scale: f32,
}

impl QuantileSpec {
    /// τ_i = (i + 0.5) / n.
    pub fn tau(&self, i: usize) -> f64 {
        (i as f64 + 0.5) / self.quantiles as f64
    }
}

/// loss[b] = scale/n · Σ_i |τ_i − 1{u_i < 0}| · huber_δ(u_i), u_i = target − q_i;
/// dq = ∂loss[b]/∂q_i. With this weight, q_i settles where a fraction τ_i
/// of the targets lie below it, so fitted quantiles ascend with τ.
pub fn quantile_cpu<F: Float>(
    s: &QuantileSpec,
    q: &[F],
    targets: &[F],
    loss: &mut [F],
    dq: &mut [F],
) {
    let delta = F::from(s.delta).unwrap();
    let half = F::from(0.5).unwrap();
    let scale = F::from(s.scale).unwrap() / F::from(s.quantiles).unwrap();
    for b in 0..s.batch {
        let mut total = F::zero();
        for i in 0..s.quantiles {
            let tau = F::from(s.tau(i)).unwrap();
            let u = targets[b] - q[b * s.quantiles + i];
            let below = if u < F::zero() { F::one() } else { F::zero() };
            let weight = (tau - below).abs();
            let (huber, dhuber) = if u.abs() <= delta {
                (half * u * u, u)
            } else {
                (delta * (u.abs() - half * delta), delta * u.signum())
            };
            total = total + weight * huber;
            // du/dq = −1.
            dq[b * s.quantiles + i] = -scale * weight * dhuber;
        }
        loss[b] = scale * total;
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct XentParams {
    rows: u32,
    vocab: u32,
    _pad: [u32; 2],
    off: [u32; 8],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct QuantileParams {
    batch: u32,
    quantiles: u32,
    delta: f32,
    scale: f32,
    off: [u32; 4],
}

family! {
    /// The losses of the policy and the value.
    pub trait LossOps {
        /// Fused softmax cross-entropy: per row, loss = w·(lse − logit[target]),
        /// dlogits = w·(softmax − onehot), correct = 1.0 when argmax = target
        /// (else 0.0).
        #[allow(clippy::too_many_arguments)]
        fn softmax_xent(
            &mut self,
            spec: &XentSpec,
            logits: &Self::Buf,
            targets: &Self::Buf,
            weights: &Self::Buf,
            loss: &Self::Buf,
            dlogits: &Self::Buf,
            correct: &Self::Buf,
        )
            as "softmax xent";
        /// Quantile Huber loss of docs/design.md §3 per sample, and its gradient.
        fn quantile_huber(
            &mut self,
            spec: &QuantileSpec,
            quantiles: &Self::Buf,
            targets: &Self::Buf,
            loss: &Self::Buf,
            dquantiles: &Self::Buf,
        )
            as "quantile huber";
    }
}

impl<F: Word> LossOps for CpuBackend<F> {
    fn softmax_xent(
        &mut self,
        spec: &XentSpec,
        logits: &CpuBuf<F>,
        targets: &CpuBuf<F>,
        weights: &CpuBuf<F>,
        loss: &CpuBuf<F>,
        dlogits: &CpuBuf<F>,
        correct: &CpuBuf<F>,
    ) {
        Self::run(
            [logits, targets, weights],
            [loss, dlogits, correct],
            |[x, t, w], [l, d, c]| xent_cpu(spec, x, &u32s(t), w, l, d, c),
        );
    }

    fn quantile_huber(
        &mut self,
        spec: &QuantileSpec,
        quantiles: &CpuBuf<F>,
        targets: &CpuBuf<F>,
        loss: &CpuBuf<F>,
        dquantiles: &CpuBuf<F>,
    ) {
        Self::run(
            [quantiles, targets],
            [loss, dquantiles],
            |[q, t], [l, d]| quantile_cpu(spec, q, t, l, d),
        );
    }
}

impl LossOps for GpuBackend {
    fn softmax_xent(
        &mut self,
        spec: &XentSpec,
        logits: &GpuBuf,
        targets: &GpuBuf,
        weights: &GpuBuf,
        loss: &GpuBuf,
        dlogits: &GpuBuf,
        correct: &GpuBuf,
    ) {
        let bufs = [logits, targets, weights, loss, dlogits, correct];
        let p = XentParams {
            rows: spec.rows as u32,
            vocab: spec.vocab as u32,
            _pad: [0; 2],
            off: offsets::<8>(&bufs),
        };
        let groups = self.grid(spec.rows);
        let kernel = Kernel::new("xent", XENT_WGSL, "softmax_xent");
        self.launch(kernel, &p, &bufs, groups);
    }

    fn quantile_huber(
        &mut self,
        spec: &QuantileSpec,
        quantiles: &GpuBuf,
        targets: &GpuBuf,
        loss: &GpuBuf,
        dquantiles: &GpuBuf,
    ) {
        let bufs = [quantiles, targets, loss, dquantiles];
        let p = QuantileParams {
            batch: spec.batch as u32,
            quantiles: spec.quantiles as u32,
            delta: spec.delta,
            scale: spec.scale,
            off: offsets::<4>(&bufs),
        };
        let groups = self.grid(spec.batch);
        let kernel = Kernel::new("quantile", QUANTILE_WGSL, "quantile_huber");
        self.launch(kernel, &p, &bufs, groups);
    }
}
