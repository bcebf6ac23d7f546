//! `bench matmul`: Strassen at one and two levels, AlphaTensor's 3x3x3
//! rank 23 and 4x4x4 rank 49 (integer coefficients, shipped in
//! `data/schemes/`) against plain GEMM across sizes, and `matmul.svg`:
//! speedup against size, one line per scheme and device.

use super::measure::{measure_cpu, measure_gpu, MatmulReport};
use super::scheme::RealScheme;
use super::Dims;
use crate::engine::gpu::GpuBackend;
use crate::problem::json::parse_str;
use crate::problem::Decomposition;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use serde::Serialize;

const ALPHATENSOR: &str = include_str!("../../data/schemes/alphatensor_bench.json");

/// A scheme the benchmark runs, at a number of levels.
pub struct Entry {
    pub name: String,
    pub scheme: Decomposition,
    pub levels: usize,
}

/// Strassen (1 and 2 levels), AlphaTensor's 3x3x3 rank 23 and 4x4x4 rank
/// 49 (one level each).
pub fn entries() -> Result<Vec<Entry>> {
    let shipped = parse_str(ALPHATENSOR)?;
    let find = |n: usize| {
        shipped
            .iter()
            .find(|d| d.shape.n == n)
            .cloned()
            .ok_or_else(|| anyhow!("the shipped schemes lack {n}x{n}x{n}"))
    };
    let entry = |name: &str, scheme: Decomposition, levels| Entry {
        name: name.into(),
        scheme,
        levels,
    };
    Ok(vec![
        entry(
            "Strassen 2x2x2 rank 7, 1 level",
            Decomposition::strassen(),
            1,
        ),
        entry(
            "Strassen 2x2x2 rank 7, 2 levels",
            Decomposition::strassen(),
            2,
        ),
        entry("AlphaTensor 3x3x3 rank 23", find(3)?, 1),
        entry("AlphaTensor 4x4x4 rank 49", find(4)?, 1),
    ])
}

/// Square sizes: 1024 to 4096 on the CPU, to 8192 on a GPU; `--quick`
/// keeps the two smallest; a software adapter takes 256 and 512.
pub fn sizes(gpu: Option<&GpuBackend>, quick: bool) -> Vec<usize> {
    let all = match gpu {
        Some(g) if g.is_software() => vec![256, 512],
        Some(_) => vec![1024, 2048, 4096, 8192],
        None => vec![1024, 2048, 4096],
    };
    if quick {
        all[..2].to_vec()
    } else {
        all
    }
}

/// One row: a scheme at a size on a device.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub scheme: String,
    #[serde(flatten)]
    pub report: MatmulReport,
}

/// Measures every entry at every size, on the GPU when given, else the
/// CPU; `repeat` timed runs each; `progress` is told each row.
pub fn run(
    mut gpu: Option<&mut GpuBackend>,
    quick: bool,
    repeat: usize,
    mut progress: impl FnMut(&Row),
) -> Result<Vec<Row>> {
    let mut rows = vec![];
    let sizes = sizes(gpu.as_deref(), quick);
    for e in entries()? {
        let base = RealScheme::new(&e.scheme)?;
        let power = RealScheme::power(&e.scheme, e.levels)?;
        for &n in &sizes {
            let d = Dims { n, k: n, m: n };
            let report = match gpu.as_deref_mut() {
                Some(g) => measure_gpu(g, &base, &power, e.levels, d, repeat, n as u64)?,
                None => measure_cpu(&base, e.levels, d, repeat, n as u64),
            };
            let row = Row {
                scheme: e.name.clone(),
                report,
            };
            progress(&row);
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The caption `svg` draws: the mark by which a later run knows the file
/// is one it may replace.
pub const SVG_CAPTION: &str = "found schemes against plain GEMM";

/// Speedup against size, a line per scheme and device, as SVG.
pub fn svg(rows: &[Row]) -> Result<String> {
    render(rows).map_err(|e| anyhow!("matmul plot: {e}"))
}

fn render(rows: &[Row]) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 520)).into_drawing_area();
        root.fill(&WHITE)?;
        let sizes: Vec<f64> = rows.iter().map(|r| r.report.size[0] as f64).collect();
        let (lo, hi) = sizes
            .iter()
            .fold((f64::MAX, 0.0f64), |(a, b), &s| (a.min(s), b.max(s)));
        let speeds: Vec<f64> = rows.iter().map(|r| r.report.speedup).collect();
        let top = speeds.iter().copied().fold(1.2f64, f64::max) * 1.05;
        let bottom = speeds.iter().copied().fold(0.8f64, f64::min) * 0.95;
        let mut chart = ChartBuilder::on(&root)
            .caption(SVG_CAPTION, ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(
                (lo.max(1.0).log2() - 0.2)..(hi.max(2.0).log2() + 0.2),
                bottom..top,
            )?;
        chart
            .configure_mesh()
            .x_desc("matrix size N (log2)")
            .y_desc("speedup (plain time / scheme time)")
            .draw()?;
        chart.draw_series(LineSeries::new(
            [
                (lo.max(1.0).log2() - 0.2, 1.0),
                (hi.max(2.0).log2() + 0.2, 1.0),
            ],
            BLACK.mix(0.4),
        ))?;
        let mut lines: Vec<(String, Vec<(f64, f64)>)> = vec![];
        for r in rows {
            let label = format!("{} ({})", r.scheme, r.report.device);
            let point = ((r.report.size[0] as f64).log2(), r.report.speedup);
            match lines.iter_mut().find(|(l, _)| *l == label) {
                Some((_, pts)) => pts.push(point),
                None => lines.push((label, vec![point])),
            }
        }
        for (i, (label, pts)) in lines.into_iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::verify;

    #[test]
    fn the_shipped_schemes_verify_and_the_plot_draws_a_line_per_scheme() {
        let entries = entries().unwrap();
        assert_eq!(entries.len(), 4);
        for e in &entries {
            verify(&e.scheme, e.scheme.field).unwrap();
            assert!(RealScheme::new(&e.scheme).is_ok(), "{}", e.name);
        }
        let ranks: Vec<usize> = entries.iter().map(|e| e.scheme.rank()).collect();
        assert_eq!(ranks, [7, 7, 23, 49]);
        let s = RealScheme::new(&entries[0].scheme).unwrap();
        let rows: Vec<Row> = [64, 128]
            .iter()
            .map(|&n| Row {
                scheme: entries[0].name.clone(),
                report: measure_cpu(&s, 1, Dims { n, k: n, m: n }, 1, 1),
            })
            .collect();
        let svg = svg(&rows).unwrap();
        assert!(svg.contains(SVG_CAPTION) && svg.contains("Strassen 2x2x2 rank 7, 1 level"));
    }
}
