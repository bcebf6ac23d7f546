//! `tensorsearch table`: the flip search on each of several shapes for a
//! fixed time, and what it reached beside the best known ranks: each
//! shape's run in its own directory (verified `best.json`, as `flip`
//! writes it, verified), and `table.md`, `table.json` and `table.svg`, rewritten
//! atomically after every shape so an interrupted table keeps its rows.

use super::factor::{Ternary, Wide};
use super::pool::PoolSettings;
use super::run::{run as run_flips, Arith, Engine, FlipSettings};
use super::scheme::Scheme;
use super::symmetric::Symmetry;
use crate::problem::json::write_atomic;
use crate::problem::{reference, Field, Shape};
use crate::run::{Stop, Stopped};
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a table runs.
#[derive(Clone, Debug)]
pub struct TableSettings {
    pub shapes: Vec<Shape>,
    pub arith: Arith,
    pub per_shape: Duration,
    /// CPU threads (None: all).
    pub threads: Option<usize>,
    pub seed: u64,
}

/// Square shapes the table walks under a symmetry from a cube start,
/// because there symmetric walks beat plain ones: at 5x5x5, C3 from
/// these cubes reached 93 in 164 s on one thread, plain walks 103 in 10
/// minutes on two. 6x6x6 takes Moosbauer and Poole's cubes for 153.
const SYMMETRIC_STARTS: &[(usize, Symmetry, &str)] = &[
    (5, Symmetry::C3, "10001,01010,00100"),
    (6, Symmetry::C3, "110000,001100,000011"),
];

/// How the table walks one shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Strategy {
    /// `--from` of the walk.
    pub from: String,
    /// The start as the table prints it.
    pub start: String,
    pub pool: PoolSettings,
}

impl Strategy {
    /// The best strategy measured for `shape` over `field`: symmetric
    /// walks from cubes where [`SYMMETRIC_STARTS`] names the shape (over
    /// Z2, where they walk); plain walks from `square`, the table's scheme
    /// of the square around the shape when no side is more than one short
    /// of it, projected (4x5x5 from
    /// 5x5x5's 93 starts at 86 and walks to 79 in 1.2 s, where the
    /// standard algorithm's walks stood at 82 after 6 minutes); else
    /// plain walks from the standard algorithm.
    pub fn for_shape(shape: Shape, field: Field, square: Option<&Path>) -> Strategy {
        let symmetric = SYMMETRIC_STARTS
            .iter()
            .find(|(n, _, _)| shape.is_square() && field == Field::Z2 && *n == shape.n);
        if let Some(&(_, symmetry, cubes)) = symmetric {
            let from = format!("cubes:{cubes}");
            return Strategy {
                start: from.clone(),
                from,
                pool: PoolSettings::for_symmetry(symmetry),
            };
        }
        // Within one of the square on every side, a projection loses
        // little; further in, it can start above the standard rank.
        let [least, _, side] = shape.sorted();
        match square.filter(|_| !shape.is_square() && least + 1 >= side) {
            Some(file) => Strategy {
                from: file.display().to_string(),
                start: format!("projected from {side}x{side}x{side}"),
                pool: PoolSettings::default(),
            },
            None => Strategy {
                from: "standard".into(),
                start: "standard".into(),
                pool: PoolSettings::default(),
            },
        }
    }

    /// As the table prints it: `c3, cubes:…`, `plain, projected from
    /// 5x5x5` or `plain, standard`.
    pub fn describe(&self) -> String {
        match self.pool.symmetry {
            Symmetry::None => format!("plain, {}", self.start),
            symmetry => format!("{symmetry}, {}", self.start),
        }
    }
}

/// The order the table walks its shapes in: squares first, so that the
/// shapes inside them can start from their schemes, then the rest, each
/// group in the order given.
fn walk_order(shapes: &[Shape]) -> Vec<Shape> {
    let (mut order, rest): (Vec<Shape>, Vec<Shape>) = shapes.iter().partition(|s| s.is_square());
    order.extend(rest);
    order
}

/// One shape's result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TableRow {
    pub shape: String,
    /// The rank of the scheme in `file`, verified when it was written.
    pub rank: usize,
    /// The best known rank over the table's field, when known.
    pub best_known: Option<usize>,
    pub standard: usize,
    /// Seconds and flips until `rank` was first reached.
    pub reached_s: f64,
    pub reached_flips: u64,
    pub flips: u64,
    /// How the shape was walked ([`Strategy::describe`]).
    #[serde(default)]
    pub walk: String,
    /// The scheme, relative to the table's directory.
    pub file: PathBuf,
}

/// What `table.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Table {
    pub field: String,
    pub seconds_per_shape: f64,
    pub rows: Vec<TableRow>,
}

/// Runs the flips on each shape in turn into `out/<shape>/` and writes the
/// table after each. Ctrl-C ends the table after the shape it stops.
pub fn run(settings: &TableSettings, out: &Path) -> Result<Table> {
    let (field, coeffs) = settings.arith.settings();
    let mut table = Table {
        field: field.name().to_string(),
        seconds_per_shape: settings.per_shape.as_secs_f64(),
        rows: vec![],
    };
    // Every shape is checked before anything is written: against the
    // widest factor the run's arithmetic has.
    for &shape in &settings.shapes {
        match settings.arith {
            Arith::Z2 => Scheme::<Wide<4>>::check_supported(shape)?,
            _ => Scheme::<Ternary>::check_supported(shape)?,
        }
    }
    std::fs::create_dir_all(out).map_err(|e| anyhow!("cannot create {}: {e}", out.display()))?;
    // The squares' schemes, by side, as they are written.
    let mut squares: Vec<(usize, PathBuf)> = vec![];
    for shape in walk_order(&settings.shapes) {
        let name = format!("{}x{}x{}", shape.n, shape.m, shape.p);
        let best_known = reference::best_ranks(shape).and_then(|b| b.get(field));
        let around = squares
            .iter()
            .find(|(side, _)| *side == shape.sorted()[2])
            .map(|(_, file)| file.as_path());
        let strategy = Strategy::for_shape(shape, field, around);
        let flip = FlipSettings {
            shape: [shape.n, shape.m, shape.p],
            field,
            coeffs,
            from: strategy.from.clone(),
            from_format: None,
            seed: settings.seed,
            pool: strategy.pool,
        };
        // Nothing is known below the best known rank: stop there.
        let stop = Stop {
            time: Some(settings.per_shape),
            target: best_known.filter(|&r| r < shape.standard_rank()),
            steps: None,
        };
        let dir = out.join(&name);
        let threads = settings.threads;
        // The report's rank is that of the best.json it wrote, verified.
        let report = run_flips(
            flip,
            false,
            &dir,
            stop,
            Box::new(crate::cluster::Alone),
            |_| Ok(Engine::Cpu(threads)),
        )?;
        table.rows.push(TableRow {
            shape: name.clone(),
            rank: report.best_rank,
            best_known,
            standard: shape.standard_rank(),
            reached_s: report.reached_s,
            reached_flips: report.reached_flips,
            flips: report.flips,
            walk: strategy.describe(),
            file: PathBuf::from(&name).join("best.json"),
        });
        if shape.is_square() {
            squares.push((shape.n, dir.join("best.json")));
        }
        // Rows in the order the shapes were given.
        table.rows.sort_by_key(|r| {
            settings
                .shapes
                .iter()
                .position(|s| r.shape == s.to_string())
        });
        write(out, &table)?;
        if report.stopped_by == Stopped::Interrupt {
            break;
        }
    }
    Ok(table)
}

/// `table.json`, `table.md` and `table.svg`, each written atomically.
pub fn write(out: &Path, table: &Table) -> Result<()> {
    let json = serde_json::to_string_pretty(table)?;
    write_atomic(&out.join("table.json"), json.as_bytes())?;
    write_atomic(&out.join("table.md"), markdown(table).as_bytes())?;
    let svg = render(table).map_err(|e| anyhow!("table plot: {e}"))?;
    write_atomic(&out.join("table.svg"), svg.as_bytes())
}

fn markdown(table: &Table) -> String {
    let mut s = format!(
        "# Flip-graph ranks over {}, {} s per shape\n\n\
         | shape | rank found | best known | standard | reached at | flips | walk | scheme |\n\
         |---|---|---|---|---|---|---|---|\n",
        table.field, table.seconds_per_shape
    );
    for r in &table.rows {
        let known = r.best_known.map_or("?".into(), |b| {
            let mark = if r.rank <= b { " ✓" } else { "" };
            format!("{b}{mark}")
        });
        s += &format!(
            "| {} | {} | {} | {} | {:.1} s | {} | {} | {} |\n",
            r.shape,
            r.rank,
            known,
            r.standard,
            r.reached_s,
            r.flips,
            r.walk,
            r.file.display()
        );
    }
    let matched = table
        .rows
        .iter()
        .filter(|r| r.best_known.is_some_and(|b| r.rank <= b))
        .count();
    s += &format!(
        "\n{matched} of {} shapes at their best known rank.\n",
        table.rows.len()
    );
    s
}

/// Rank over the standard rank, found and best known, per shape.
fn render(table: &Table) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = table.rows.len().max(1);
        let names: Vec<String> = table.rows.iter().map(|r| r.shape.clone()).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("flip-graph ranks over {}", table.field),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..1.05)?;
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("rank / standard rank")
            .draw()?;
        let ratio = |rank: usize, r: &TableRow| rank as f64 / r.standard as f64;
        chart
            .draw_series(
                table
                    .rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| Circle::new((i as f64, ratio(r.rank, r)), 5, BLUE.filled())),
            )?
            .label("found")
            .legend(|(x, y)| Circle::new((x + 8, y), 5, BLUE.filled()));
        chart
            .draw_series(table.rows.iter().enumerate().filter_map(|(i, r)| {
                r.best_known
                    .map(|b| Cross::new((i as f64, ratio(b, r)), 6, BLACK.stroke_width(2)))
            }))?
            .label("best known")
            .legend(|(x, y)| Cross::new((x + 8, y), 6, BLACK.stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flip::symmetric::{cube_start, parse_cubes, SymmetricWalker};

    #[test]
    fn squares_with_a_cube_start_walk_symmetric_over_z2_only() {
        let five = Shape::new(5, 5, 5).unwrap();
        let s = Strategy::for_shape(five, Field::Z2, None);
        assert_eq!(s.pool.symmetry, Symmetry::C3);
        assert_eq!(s.pool, PoolSettings::for_symmetry(Symmetry::C3));
        assert_eq!(s.describe(), "c3, cubes:10001,01010,00100");
        for (shape, field) in [(five, Field::Z), (Shape::new(4, 5, 5).unwrap(), Field::Z2)] {
            let s = Strategy::for_shape(shape, field, None);
            assert_eq!(s.pool, PoolSettings::default());
            assert_eq!(s.describe(), "plain, standard");
        }
    }

    #[test]
    fn shapes_near_a_square_of_the_table_start_from_its_scheme() {
        let file = Path::new("t/5x5x5/best.json");
        let near = Strategy::for_shape(Shape::new(4, 5, 5).unwrap(), Field::Z2, Some(file));
        assert_eq!(near.from, "t/5x5x5/best.json");
        assert_eq!(near.pool, PoolSettings::default());
        assert_eq!(near.describe(), "plain, projected from 5x5x5");
        // Two sides short of the square: the standard algorithm.
        let far = Strategy::for_shape(Shape::new(3, 5, 5).unwrap(), Field::Z2, Some(file));
        assert_eq!(far.from, "standard");
        // Any order of the sides.
        let turned = Strategy::for_shape(Shape::new(5, 4, 5).unwrap(), Field::Z2, Some(file));
        assert_eq!(turned.describe(), "plain, projected from 5x5x5");
        // A square keeps its own strategy.
        let five = Strategy::for_shape(Shape::new(5, 5, 5).unwrap(), Field::Z2, Some(file));
        assert_eq!(five.from, "cubes:10001,01010,00100");
        let shapes: Vec<Shape> = ["2x2x3", "3x3x3", "2x3x3", "2x2x2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let order: Vec<String> = walk_order(&shapes).iter().map(|s| s.to_string()).collect();
        assert_eq!(order, ["3x3x3", "2x2x2", "2x2x3", "2x3x3"]);
    }

    /// Each listed start is a scheme its symmetry keeps, with the frozen
    /// cubes fixing the rank to the best known one modulo the group.
    #[test]
    fn every_symmetric_start_is_invariant_and_can_reach_the_best_known_rank() {
        for &(n, symmetry, cubes) in SYMMETRIC_STARTS {
            let groups = parse_cubes(cubes, n).unwrap();
            let start = cube_start::<u64>(n, &groups).unwrap();
            let walker = SymmetricWalker::new(&start, symmetry, 1).unwrap();
            let shape = Shape::new(n, n, n).unwrap();
            let best = reference::best_ranks(shape)
                .and_then(|b| b.get(Field::Z2))
                .unwrap();
            use crate::flip::walker::Walk;
            assert_eq!(
                (walker.rank() - best) % symmetry.order(),
                0,
                "{n}: {} frozen cubes",
                groups.len()
            );
        }
    }
}
