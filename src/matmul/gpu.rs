//! C = A·B on a GPU with a scheme: one level of the scheme's Kronecker
//! power (L levels of a ⟨n,m,p⟩ scheme of rank R are one level of a
//! ⟨nᴸ,mᴸ,pᴸ⟩ scheme of rank Rᴸ, the tensor product of the scheme with
//! itself), so every level runs in four dispatches: the combinations of
//! A's blocks and of B's (`shaders/blocks.wgsl`, a slot per term), all
//! Rᴸ block products in one batched GEMM (the engine's `matmul.wgsl`),
//! and the sums of the products into C's blocks (a slot per block of C).
//! Sizes that do not divide are padded with zeros on the host.

use super::cpu::Dims;
use super::scheme::{RealScheme, Term};
use crate::engine::gpu::{GpuBackend, GpuBuf, Kernel};
use crate::engine::ops::matmul::{launch as launch_gemm, MatmulSpec};
use crate::engine::Memory;
use anyhow::{bail, Result};
use std::time::{Duration, Instant};

pub const WGSL: &str = include_str!("../../shaders/blocks.wgsl");

/// One dispatch of block sums: for each slot t, the rows × width block of
/// `dst` at `out_offsets[t]` (row stride `out_ld`) is Σ coef · the block
/// of `src` at each entry's offset (row stride `src_ld`).
#[derive(Clone, Debug, PartialEq)]
pub struct BlockSums {
    pub rows: usize,
    pub width: usize,
    pub src_ld: usize,
    pub out_ld: usize,
    pub out_offsets: Vec<usize>,
    pub lists: Vec<Vec<(usize, f32)>>,
}

impl BlockSums {
    /// The table the kernel reads (see `blocks.wgsl`).
    pub fn table(&self) -> Vec<u32> {
        let slots = self.lists.len();
        let mut starts = vec![0u32; slots + 1];
        for (t, list) in self.lists.iter().enumerate() {
            starts[t + 1] = starts[t] + list.len() as u32;
        }
        let entries = self.lists.iter().flatten();
        starts
            .iter()
            .copied()
            .chain(self.out_offsets.iter().map(|&o| o as u32))
            .chain(entries.clone().map(|&(s, _)| s as u32))
            .chain(entries.map(|&(_, c)| c.to_bits()))
            .collect()
    }

    /// The CPU reference of the kernel.
    pub fn cpu(&self, src: &[f32], dst: &mut [f32]) {
        for (list, &out) in self.lists.iter().zip(&self.out_offsets) {
            for r in 0..self.rows {
                for c in 0..self.width {
                    let acc = list.iter().fold(0.0f32, |acc, &(s, coef)| {
                        acc + coef * src[s + r * self.src_ld + c]
                    });
                    dst[out + r * self.out_ld + c] = acc;
                }
            }
        }
    }

    fn entries(&self) -> usize {
        self.lists.iter().map(Vec::len).sum()
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    slots: u32,
    rows: u32,
    width: u32,
    src_ld: u32,
    out_ld: u32,
    entries: u32,
    table_off: u32,
    src_off: u32,
    out_off: u32,
    _pad: [u32; 3],
}

/// Launches `sums` with its table (uploaded already) in `table`.
pub fn launch(gpu: &mut GpuBackend, sums: &BlockSums, table: &GpuBuf, src: &GpuBuf, dst: &GpuBuf) {
    let p = Params {
        slots: sums.lists.len() as u32,
        rows: sums.rows as u32,
        width: sums.width as u32,
        src_ld: sums.src_ld as u32,
        out_ld: sums.out_ld as u32,
        entries: sums.entries() as u32,
        table_off: table.off(),
        src_off: src.off(),
        out_off: dst.off(),
        _pad: [0; 3],
    };
    let kernel = Kernel::new("blocks", WGSL, "block_sums");
    let groups = gpu.grid(sums.lists.len() * sums.rows * sums.width);
    gpu.launch(kernel, &p, &[table, src, dst], groups);
}

/// The three block sums of one level of `s` on N×K by K×M (dimensions
/// that divide): A's combinations, B's, and C's accumulation.
pub fn level_sums(s: &RealScheme, d: Dims) -> [BlockSums; 3] {
    let (bn, bk, bm) = (s.shape.n, s.shape.m, s.shape.p);
    let block = Dims {
        n: d.n / bn,
        k: d.k / bk,
        m: d.m / bm,
    };
    let rank = s.rank();
    // One combination per term: the blocks of a rows × width matrix with
    // row stride `ld`, cut `per_row` to a block row, into contiguous
    // blocks of `block_rows` × `block_width`.
    let combinations = |factor: fn(&Term) -> &[(usize, f64)],
                        block_rows: usize,
                        block_width: usize,
                        ld: usize,
                        per_row: usize| BlockSums {
        rows: block_rows,
        width: block_width,
        src_ld: ld,
        out_ld: block_width,
        out_offsets: (0..rank).map(|r| r * block_rows * block_width).collect(),
        lists: s
            .terms
            .iter()
            .map(|t| {
                factor(t)
                    .iter()
                    .map(|&(at, c)| {
                        (
                            (at / per_row) * block_rows * ld + (at % per_row) * block_width,
                            c as f32,
                        )
                    })
                    .collect()
            })
            .collect(),
    };
    let a = combinations(|t| &t.a, block.n, block.k, d.k, bk);
    let b = combinations(|t| &t.b, block.k, block.m, d.m, bm);
    // C's block (i, k) = Σ_r w_r[i·p + k] · P_r.
    let mut c_lists = vec![vec![]; bn * bm];
    for (r, t) in s.terms.iter().enumerate() {
        for &(at, coef) in &t.c {
            c_lists[at].push((r * block.n * block.m, coef as f32));
        }
    }
    let c = BlockSums {
        rows: block.n,
        width: block.m,
        src_ld: block.m,
        out_ld: d.m,
        out_offsets: (0..bn * bm)
            .map(|at| (at / bm) * block.n * d.m + (at % bm) * block.m)
            .collect(),
        lists: c_lists,
    };
    [a, b, c]
}

/// A scheme (one level, the Kronecker power already taken) ready on the
/// device for N×K by K×M, padded dimensions.
pub struct GpuPlan {
    pub padded: Dims,
    sums: [BlockSums; 3],
    tables: [GpuBuf; 3],
    s_buf: GpuBuf,
    t_buf: GpuBuf,
    p_buf: GpuBuf,
    gemm: MatmulSpec,
}

impl GpuPlan {
    pub fn new(gpu: &mut GpuBackend, s: &RealScheme, d: Dims) -> Result<Self> {
        let (bn, bk, bm) = (s.shape.n, s.shape.m, s.shape.p);
        let padded = Dims {
            n: d.n.div_ceil(bn) * bn,
            k: d.k.div_ceil(bk) * bk,
            m: d.m.div_ceil(bm) * bm,
        };
        let block = Dims {
            n: padded.n / bn,
            k: padded.k / bk,
            m: padded.m / bm,
        };
        let rank = s.rank();
        let sums = level_sums(s, padded);
        let tables = sums.clone().map(|x| x.table());
        let mut upload = |words: &[u32]| -> Result<GpuBuf> {
            let buf = gpu.alloc(words.len())?;
            gpu.write_u32(&buf, words);
            Ok(buf)
        };
        let tables = [
            upload(&tables[0])?,
            upload(&tables[1])?,
            upload(&tables[2])?,
        ];
        let words = |a: usize, b: usize| rank.checked_mul(a * b).filter(|&w| w < u32::MAX as usize);
        let (Some(sw), Some(tw), Some(pw)) = (
            words(block.n, block.k),
            words(block.k, block.m),
            words(block.n, block.m),
        ) else {
            bail!("the scheme's {rank} block products at this size do not fit 32-bit offsets");
        };
        let gemm = MatmulSpec {
            batch: rank,
            m: block.n,
            n: block.m,
            k: block.k,
            trans_a: false,
            trans_b: false,
            accumulate: false,
            stride_a: block.n * block.k,
            stride_b: block.k * block.m,
            stride_c: block.n * block.m,
        };
        Ok(GpuPlan {
            padded,
            sums,
            tables,
            s_buf: gpu.alloc(sw)?,
            t_buf: gpu.alloc(tw)?,
            p_buf: gpu.alloc(pw)?,
            gemm,
        })
    }

    /// Records C = A·B (padded, on the device) into the pending work.
    pub fn record(&self, gpu: &mut GpuBackend, a: &GpuBuf, b: &GpuBuf, c: &GpuBuf) {
        launch(gpu, &self.sums[0], &self.tables[0], a, &self.s_buf);
        launch(gpu, &self.sums[1], &self.tables[1], b, &self.t_buf);
        launch_gemm(gpu, &self.gemm, &self.s_buf, &self.t_buf, &self.p_buf);
        launch(gpu, &self.sums[2], &self.tables[2], &self.p_buf, c);
    }
}

/// Runs `record` and waits for the device: the device's own time when
/// the adapter has timestamp queries, else the host's around submission
/// and a one-word read back.
pub fn timed(
    gpu: &mut GpuBackend,
    sync: &GpuBuf,
    record: impl FnOnce(&mut GpuBackend),
) -> Duration {
    let t = Instant::now();
    record(gpu);
    let device = gpu.flush_timed();
    let view = gpu.view(sync, 0, 1);
    gpu.read_f32(&view);
    device.unwrap_or_else(|| t.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::gpu::adapters::gpu_or_skip;
    use crate::problem::Decomposition;

    /// `export --lang wgsl` with the engine's GEMM between its stages
    /// multiplies like sgemm, on the GPU (AlphaTensor's 3x3x3 rank 23,
    /// shipped for bench matmul).
    #[test]
    fn exported_wgsl_stages_with_the_engines_gemm_multiply_like_sgemm() {
        use crate::problem::export::export_wgsl;
        let Some(mut gpu) = gpu_or_skip() else {
            return;
        };
        let d = super::super::bench::entries().unwrap().remove(2).scheme;
        assert_eq!(d.rank(), 23);
        let text: &'static str = Box::leak(export_wgsl(&d).unwrap().into_boxed_str());
        let dims = Dims { n: 6, k: 9, m: 12 };
        let block = Dims { n: 2, k: 3, m: 4 };
        let a: Vec<f32> = (0..54).map(|x| (x as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..108).map(|x| (x as f32 * 0.91).cos()).collect();
        let g = &mut gpu;
        let upload = |g: &mut GpuBackend, x: &[f32]| {
            let buf = g.alloc(x.len()).unwrap();
            g.write_f32(&buf, x);
            buf
        };
        let (a_buf, b_buf) = (upload(g, &a), upload(g, &b));
        let s_buf = g.alloc(23 * 6).unwrap();
        let t_buf = g.alloc(23 * 12).unwrap();
        let p_buf = g.alloc(23 * 8).unwrap();
        let c_buf = g.alloc(72).unwrap();
        let sizes: [u32; 4] = [6, 9, 12, 0];
        g.launch(
            Kernel::new("exported", text, "combine_a"),
            &sizes,
            &[&a_buf, &s_buf],
            [1, 2, 23],
        );
        g.launch(
            Kernel::new("exported", text, "combine_b"),
            &sizes,
            &[&b_buf, &t_buf],
            [1, 3, 23],
        );
        let gemm = MatmulSpec {
            batch: 23,
            m: block.n,
            n: block.m,
            k: block.k,
            trans_a: false,
            trans_b: false,
            accumulate: false,
            stride_a: 6,
            stride_b: 12,
            stride_c: 8,
        };
        launch_gemm(g, &gemm, &s_buf, &t_buf, &p_buf);
        g.launch(
            Kernel::new("exported", text, "accumulate_c"),
            &sizes,
            &[&p_buf, &c_buf],
            [1, 2, 9],
        );
        let c = g.read_f32(&c_buf);
        let want = super::super::cpu::sgemm(&a, &b, dims);
        for (x, y) in c.iter().zip(&want) {
            assert!((x - y).abs() < 1e-5, "{c:?} against {want:?}");
        }
    }

    /// GPU and CPU compute the same product: Strassen at two levels (one
    /// level of its square on the GPU, a recursion on the CPU) on a size
    /// that pads, entry by entry, to rounding.
    #[test]
    fn gpu_and_cpu_agree_entry_by_entry() {
        let Some(mut gpu) = gpu_or_skip() else {
            return;
        };
        let d = Decomposition::strassen();
        let (base, power) = (
            RealScheme::new(&d).unwrap(),
            RealScheme::power(&d, 2).unwrap(),
        );
        let dims = Dims {
            n: 30,
            k: 21,
            m: 17,
        };
        let a: Vec<f32> = (0..dims.n * dims.k)
            .map(|x| (x as f32 * 0.37).sin())
            .collect();
        let b: Vec<f32> = (0..dims.k * dims.m)
            .map(|x| (x as f32 * 0.91).cos())
            .collect();
        let plan = GpuPlan::new(&mut gpu, &power, dims).unwrap();
        let p = plan.padded;
        assert_eq!((p.n, p.k, p.m), (32, 24, 20));
        let upload = |g: &mut GpuBackend, x: &[f32]| {
            let buf = g.alloc(x.len()).unwrap();
            g.write_f32(&buf, x);
            buf
        };
        let a_buf = upload(
            &mut gpu,
            &super::super::cpu::pad(&a, dims.n, dims.k, p.n, p.k),
        );
        let b_buf = upload(
            &mut gpu,
            &super::super::cpu::pad(&b, dims.k, dims.m, p.k, p.m),
        );
        let c_buf = gpu.alloc(p.n * p.m).unwrap();
        plan.record(&mut gpu, &a_buf, &b_buf, &c_buf);
        let on_gpu = super::super::cpu::crop(&gpu.read_f32(&c_buf), p.m, dims.n, dims.m);
        let on_cpu = super::super::cpu::multiply(&base, 2, &a, &b, dims);
        assert_eq!(on_gpu.len(), on_cpu.len());
        for (x, y) in on_gpu.iter().zip(&on_cpu) {
            assert!((x - y).abs() < 1e-4, "gpu {x} cpu {y}");
        }
    }

    /// The table's CPU reference forms Strassen's combinations and its
    /// accumulation: with them and plain products, C = A·B.
    #[test]
    fn the_block_sums_of_one_level_multiply_like_the_definition() {
        let s = RealScheme::new(&Decomposition::strassen()).unwrap();
        let d = Dims { n: 4, k: 6, m: 2 };
        let a: Vec<f32> = (0..24).map(|x| (x as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..12).map(|x| (x as f32 * 0.91).cos()).collect();
        let [sa, sb, sc] = level_sums(&s, d);
        let (mut s_buf, mut t_buf) = (vec![0.0; 7 * 2 * 3], vec![0.0; 7 * 3]);
        sa.cpu(&a, &mut s_buf);
        sb.cpu(&b, &mut t_buf);
        let block = Dims { n: 2, k: 3, m: 1 };
        let products: Vec<f32> = (0..7)
            .flat_map(|r| {
                super::super::cpu::sgemm(&s_buf[r * 6..r * 6 + 6], &t_buf[r * 3..r * 3 + 3], block)
            })
            .collect();
        let mut c = vec![0.0; 8];
        sc.cpu(&products, &mut c);
        let want = super::super::cpu::sgemm(&a, &b, d);
        for (x, y) in c.iter().zip(&want) {
            assert!((x - y).abs() < 1e-5, "{c:?} against {want:?}");
        }
        assert_eq!(sa.table().len(), 8 + 7 + 2 * sa.entries());
    }
}
