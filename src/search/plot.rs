//! `progress.svg`: best rank and learner losses against time, redrawn at
//! every checkpoint from the run's metrics.

use crate::problem::json::write_atomic;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

/// One point of the plot.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    pub elapsed_s: f64,
    pub best_rank: Option<usize>,
    /// The best rank of self-play's own games.
    pub self_play_best_rank: Option<usize>,
    /// Whether the learner had taken a step (losses mean something).
    pub trained: bool,
    pub policy_loss: f32,
    pub value_loss: f32,
}

/// What the plot draws.
pub struct Plot {
    pub shape: [usize; 3],
    pub field: String,
    pub points: Vec<Point>,
}

/// Draws the plot and writes the SVG atomically.
pub fn write(path: &Path, plot: &Plot) -> Result<()> {
    let svg = render(plot).map_err(|e| anyhow!("progress plot: {e}"))?;
    write_atomic(path, svg.as_bytes())
}

fn render(plot: &Plot) -> Result<String, Box<dyn std::error::Error>> {
    let series = &plot.points;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let [n, m, p] = plot.shape;
        let title = format!("tensorsearch {n}x{m}x{p} over {}", plot.field);
        let (top, bottom) = root
            .titled(&title, ("sans-serif", 22))?
            .split_vertically(300);
        let minutes: Vec<f64> = series.iter().map(|s| s.elapsed_s / 60.0).collect();
        let x_max = minutes.last().copied().unwrap_or(1.0).max(1e-3);

        let ranks: Vec<(f64, f64)> = series
            .iter()
            .zip(&minutes)
            .filter_map(|(s, &t)| s.best_rank.map(|r| (t, r as f64)))
            .collect();
        let own: Vec<(f64, f64)> = series
            .iter()
            .zip(&minutes)
            .filter_map(|(s, &t)| s.self_play_best_rank.map(|r| (t, r as f64)))
            .collect();
        let standard = (n * m * p) as f64;
        let lo = ranks.iter().map(|r| r.1).fold(standard, f64::min) - 1.0;
        let mut chart = ChartBuilder::on(&top)
            .caption("best verified rank", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..x_max, lo..standard + 1.0)?;
        chart
            .configure_mesh()
            .x_desc("minutes")
            .y_desc("rank")
            .draw()?;
        chart
            .draw_series(LineSeries::new(ranks, BLUE.stroke_width(2)))?
            .label("best (self-play and flips)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE));
        chart
            .draw_series(LineSeries::new(own, MAGENTA.stroke_width(2)))?
            .label("self-play alone")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], MAGENTA));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;

        let losses: Vec<(f64, f64, f64)> = series
            .iter()
            .zip(&minutes)
            .filter(|(s, _)| s.trained)
            .map(|(s, &t)| (t, s.policy_loss as f64, s.value_loss as f64))
            .filter(|(_, p, v)| p.is_finite() && v.is_finite())
            .collect();
        let hi = losses.iter().map(|l| l.1.max(l.2)).fold(1e-3, f64::max) * 1.05;
        let mut chart = ChartBuilder::on(&bottom)
            .caption("learner losses", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..x_max, 0.0..hi)?;
        chart
            .configure_mesh()
            .x_desc("minutes")
            .y_desc("loss")
            .draw()?;
        chart
            .draw_series(LineSeries::new(
                losses.iter().map(|l| (l.0, l.1)),
                RED.stroke_width(2),
            ))?
            .label("policy")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED));
        chart
            .draw_series(LineSeries::new(
                losses.iter().map(|l| (l.0, l.2)),
                GREEN.stroke_width(2),
            ))?
            .label("value")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], GREEN));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}
