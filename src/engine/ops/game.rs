//! TensorGame on the device: batched residual updates, the encoding of
//! states into the network's input, and categorical sampling of tokens. Kernels: `shaders/game.wgsl`,
//! `shaders/sample.wgsl`.

use crate::engine::cpu::{i32s, put_i32s, put_u32s, CpuBackend, CpuBuf, Word};
use crate::engine::gpu::{GpuBackend, GpuBuf, Kernel};

pub const GAME_WGSL: &str = include_str!("../../../shaders/game.wgsl");
pub const SAMPLE_WGSL: &str = include_str!("../../../shaders/sample.wgsl");

/// `batch` residual tensors of shape dims (i32, row-major) and one action
/// u‖v‖w per state (i32, lengths dims[0], dims[1], dims[2]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GameSpec {
    pub batch: usize,
    pub dims: [usize; 3],
    /// Reduce entries mod 2 (the Z2 game).
    pub mod2: bool,
}

impl GameSpec {
    pub fn state_len(&self) -> usize {
        self.dims.iter().product()
    }
    pub fn action_len(&self) -> usize {
        self.dims.iter().sum()
    }
}

pub fn residual_update_cpu(s: &GameSpec, states: &mut [i32], factors: &[i32]) {
    let [la, lb, lc] = s.dims;
    for b in 0..s.batch {
        let f = &factors[b * s.action_len()..(b + 1) * s.action_len()];
        let (u, rest) = f.split_at(la);
        let (v, w) = rest.split_at(lb);
        let state = &mut states[b * s.state_len()..(b + 1) * s.state_len()];
        for i in 0..la {
            for j in 0..lb {
                for k in 0..lc {
                    let x = &mut state[(i * lb + j) * lc + k];
                    *x -= u[i] * v[j] * w[k];
                    if s.mod2 {
                        *x = x.rem_euclid(2);
                    }
                }
            }
        }
    }
}

/// `batch` residuals and histories encoded as the network reads them:
/// three S×S grids per state, laid out grid-major across the batch, each
/// cell holding h + 1 channels of S words and the step scalar (the layout
/// of `GameConfig::encode`, which is the reference one level up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeSpec {
    pub batch: usize,
    pub dims: [usize; 3],
    /// S, at least the largest of `dims`.
    pub grid: usize,
    /// Actions of history per state (h).
    pub history: usize,
}

impl EncodeSpec {
    pub fn state_len(&self) -> usize {
        self.dims.iter().product()
    }
    pub fn action_len(&self) -> usize {
        self.dims.iter().sum()
    }
    /// Words of one state's history: h actions, then the scalar's f32 bits.
    pub fn history_len(&self) -> usize {
        self.history * self.action_len() + 1
    }
    pub fn cell_features(&self) -> usize {
        (self.history + 1) * self.grid + 1
    }
    /// Words of the whole encoded batch.
    pub fn encoded_len(&self) -> usize {
        3 * self.batch * self.grid * self.grid * self.cell_features()
    }
}

pub fn encode_states_cpu(s: &EncodeSpec, residuals: &[i32], histories: &[i32], out: &mut [f32]) {
    let [la, lb, lc] = s.dims;
    let (g_len, f_len, a_len) = (s.grid, s.cell_features(), s.action_len());
    let per_grid = g_len * g_len * f_len;
    out[..s.encoded_len()].fill(0.0);
    for b in 0..s.batch {
        let residual = &residuals[b * s.state_len()..(b + 1) * s.state_len()];
        let history = &histories[b * s.history_len()..(b + 1) * s.history_len()];
        let mut put = |channel: usize, (i, j, k): (usize, usize, usize), x: i32| {
            for (g, cx, cy, pos) in [(0, i, j, k), (1, j, k, i), (2, k, i, j)] {
                let cell = (g * s.batch + b) * per_grid + (cx * g_len + cy) * f_len;
                out[cell + channel * g_len + pos] = x as f32;
            }
        };
        for i in 0..la {
            for j in 0..lb {
                for k in 0..lc {
                    put(0, (i, j, k), residual[(i * lb + j) * lc + k]);
                    for t in 0..s.history {
                        let a = &history[t * a_len..(t + 1) * a_len];
                        put(t + 1, (i, j, k), a[i] * a[la + j] * a[la + lb + k]);
                    }
                }
            }
        }
        let scalar = f32::from_bits(history[s.history * a_len] as u32);
        for g in 0..3 {
            for cell in 0..g_len * g_len {
                out[(g * s.batch + b) * per_grid + cell * f_len + f_len - 1] = scalar;
            }
        }
    }
}

/// `rows` categorical draws from softmax(logits · inv_temperature).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleSpec {
    pub rows: usize,
    pub vocab: usize,
    pub inv_temperature: f32,
}

/// The first word whose running sum of exp(x − max) exceeds u · total,
/// summing in word order in f32 (as the kernel does).
pub fn sample_cpu(s: &SampleSpec, logits: &[f32], uniforms: &[f32], tokens: &mut [u32]) {
    for r in 0..s.rows {
        let row = &logits[r * s.vocab..(r + 1) * s.vocab];
        let m = row
            .iter()
            .fold(f32::NEG_INFINITY, |a, &x| a.max(x * s.inv_temperature));
        let total: f32 = row.iter().map(|&x| (x * s.inv_temperature - m).exp()).sum();
        let threshold = uniforms[r] * total;
        let mut running = 0.0f32;
        let mut pick = s.vocab - 1;
        for (i, &x) in row.iter().enumerate() {
            running += (x * s.inv_temperature - m).exp();
            if running > threshold {
                pick = i;
                break;
            }
        }
        tokens[r] = pick as u32;
    }
}

/// The parameter block of `game.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct GameParams {
    batch: u32,
    la: u32,
    lb: u32,
    lc: u32,
    mod2: u32,
    grid: u32,
    history: u32,
    _pad: u32,
    off: [u32; 4],
}

fn game_kernel(entry: &'static str) -> Kernel {
    Kernel::new("game", GAME_WGSL, entry)
}

fn game_params(s: &GameSpec, a: &GpuBuf, b: &GpuBuf) -> GameParams {
    GameParams {
        batch: s.batch as u32,
        la: s.dims[0] as u32,
        lb: s.dims[1] as u32,
        lc: s.dims[2] as u32,
        mod2: s.mod2 as u32,
        off: [a.off(), b.off(), 0, 0],
        ..Default::default()
    }
}

pub fn launch_residual_update(
    gpu: &mut GpuBackend,
    s: &GameSpec,
    states: &GpuBuf,
    factors: &GpuBuf,
) {
    let groups = gpu.grid(s.batch * s.state_len());
    let p = game_params(s, states, factors);
    gpu.launch(
        game_kernel("residual_update"),
        &p,
        &[states, factors],
        groups,
    );
}

pub fn launch_encode_states(
    gpu: &mut GpuBackend,
    s: &EncodeSpec,
    residuals: &GpuBuf,
    histories: &GpuBuf,
    out: &GpuBuf,
) {
    let groups = gpu.grid(s.encoded_len());
    let p = GameParams {
        batch: s.batch as u32,
        la: s.dims[0] as u32,
        lb: s.dims[1] as u32,
        lc: s.dims[2] as u32,
        grid: s.grid as u32,
        history: s.history as u32,
        off: [residuals.off(), histories.off(), out.off(), 0],
        ..Default::default()
    };
    gpu.launch(
        game_kernel("encode_states"),
        &p,
        &[residuals, histories, out],
        groups,
    );
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SampleParams {
    rows: u32,
    vocab: u32,
    inv_temperature: f32,
    _pad: u32,
    off: [u32; 4],
}

pub fn launch_sample(
    gpu: &mut GpuBackend,
    s: &SampleSpec,
    logits: &GpuBuf,
    uniforms: &GpuBuf,
    tokens: &GpuBuf,
) {
    let p = SampleParams {
        rows: s.rows as u32,
        vocab: s.vocab as u32,
        inv_temperature: s.inv_temperature,
        _pad: 0,
        off: [logits.off(), uniforms.off(), tokens.off(), 0],
    };
    let kernel = Kernel::new("sample", SAMPLE_WGSL, "sample_tokens");
    let groups = gpu.grid(s.rows);
    gpu.launch(kernel, &p, &[logits, uniforms, tokens], groups);
}

family! {
    /// TensorGame on the device: residual updates and token draws.
    pub trait GameOps {
        /// S_b ← S_b − u_b ⊗ v_b ⊗ w_b (i32; mod 2 when the spec says so).
        fn residual_update(&mut self, spec: &GameSpec, states: &Self::Buf, factors: &Self::Buf)
            as "residual update";
        /// The network's input grids of residuals and histories (i32) into `out`.
        fn encode_states(
            &mut self,
            spec: &EncodeSpec,
            residuals: &Self::Buf,
            histories: &Self::Buf,
            out: &Self::Buf,
        )
            as "encode states";
        /// tokens[r] = inverse CDF of softmax(logits[r] · inv_temperature) at uniforms[r].
        fn sample_tokens(
            &mut self,
            spec: &SampleSpec,
            logits: &Self::Buf,
            uniforms: &Self::Buf,
            tokens: &Self::Buf,
        )
            as "sample tokens";
    }
}

impl<F: Word> GameOps for CpuBackend<F> {
    fn residual_update(&mut self, spec: &GameSpec, states: &CpuBuf<F>, factors: &CpuBuf<F>) {
        Self::run([factors], [states], |[f], [s]| {
            let mut states = i32s(s);
            residual_update_cpu(spec, &mut states, &i32s(f));
            put_i32s(s, &states);
        });
    }

    fn encode_states(
        &mut self,
        spec: &EncodeSpec,
        residuals: &CpuBuf<F>,
        histories: &CpuBuf<F>,
        out: &CpuBuf<F>,
    ) {
        Self::run([residuals, histories], [out], |[r, h], [o]| {
            let mut encoded = vec![0.0f32; spec.encoded_len()];
            encode_states_cpu(spec, &i32s(r), &i32s(h), &mut encoded);
            for (o, x) in o.iter_mut().zip(encoded) {
                *o = F::widen(x);
            }
        });
    }

    fn sample_tokens(
        &mut self,
        spec: &SampleSpec,
        logits: &CpuBuf<F>,
        uniforms: &CpuBuf<F>,
        tokens: &CpuBuf<F>,
    ) {
        Self::run([logits, uniforms], [tokens], |[x, u], [t]| {
            let logits: Vec<f32> = x.iter().map(|w| w.narrow()).collect();
            let uniforms: Vec<f32> = u.iter().map(|w| w.narrow()).collect();
            let mut tokens = vec![0u32; spec.rows];
            sample_cpu(spec, &logits, &uniforms, &mut tokens);
            put_u32s(t, &tokens);
        });
    }
}

impl GameOps for GpuBackend {
    fn residual_update(&mut self, spec: &GameSpec, states: &GpuBuf, factors: &GpuBuf) {
        launch_residual_update(self, spec, states, factors);
    }

    fn encode_states(
        &mut self,
        spec: &EncodeSpec,
        residuals: &GpuBuf,
        histories: &GpuBuf,
        out: &GpuBuf,
    ) {
        launch_encode_states(self, spec, residuals, histories, out);
    }

    fn sample_tokens(
        &mut self,
        spec: &SampleSpec,
        logits: &GpuBuf,
        uniforms: &GpuBuf,
        tokens: &GpuBuf,
    ) {
        launch_sample(self, spec, logits, uniforms, tokens);
    }
}
