//! `tensorsearch table`: the shapes (a list, or ranges like `2..5`), the
//! settings, and the run (`flip::table`).

use super::common::{check_threads, duration_arg, game_field, parse_shape};
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tensorsearch::flip::run::Arith;
use tensorsearch::flip::table::{run as run_table, TableSettings};
use tensorsearch::problem::{Field, Shape};

/// The most shapes one table runs.
const MAX_SHAPES: usize = 1000;

/// The command line of `table`.
#[derive(Clone, Debug, clap::Args)]
pub struct TableArgs {
    /// Shapes such as 3x3x4, or a range a..b: every n ≤ m ≤ p with a ≤ n and p ≤ b.
    #[arg(required = true)]
    pub shapes: Vec<String>,
    /// z2 (default) or z (ternary coefficients).
    #[arg(long, value_parser = game_field())]
    pub field: Option<Field>,
    /// Flip time per shape, like 90s or 10m (default 60s); a shape stops
    /// early at its best known rank.
    #[arg(long, value_parser = duration_arg)]
    pub time_per_shape: Option<Duration>,
    /// CPU threads (default: all).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Directory for the table and one run per shape (default runs/table-FIELD).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub seed: Option<u64>,
}

/// The shapes of the arguments, in order, each once.
pub fn shapes_of(args: &[String]) -> Result<Vec<Shape>> {
    let mut shapes: Vec<Shape> = vec![];
    for a in args {
        let listed = match a.split_once("..") {
            Some((lo, hi)) => {
                let parse = |t: &str| -> Result<usize> {
                    t.trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|&x| x >= 1)
                        .ok_or_else(|| anyhow::anyhow!("'{a}' is not a range like 2..5"))
                };
                let (lo, hi) = (parse(lo)?, parse(hi)?);
                if lo > hi {
                    bail!("'{a}' is an empty range");
                }
                let mut in_range = vec![];
                for n in lo..=hi {
                    for m in n..=hi {
                        for p in m..=hi {
                            in_range.push(Shape::new(n, m, p).map_err(|e| anyhow::anyhow!(e))?);
                        }
                    }
                }
                in_range
            }
            None => vec![parse_shape(a)?],
        };
        for s in listed {
            if !shapes.contains(&s) {
                shapes.push(s);
            }
        }
        if shapes.len() > MAX_SHAPES {
            bail!("more than {MAX_SHAPES} shapes in one table");
        }
    }
    Ok(shapes)
}

pub fn run(args: TableArgs) -> Result<ExitCode> {
    let shapes = shapes_of(&args.shapes)?;
    let field = args.field.unwrap_or(Field::Z2);
    let arith = Arith::new(field, None)?;
    check_threads(args.threads)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/table-{}", arith.tag())));
    if out.join("table.json").exists() {
        bail!(
            "{} already holds a table: give another --out",
            out.display()
        );
    }
    let settings = TableSettings {
        shapes,
        arith,
        per_shape: args.time_per_shape.unwrap_or(Duration::from_secs(60)),
        threads: args.threads,
        seed: args.seed.unwrap_or(1),
    };
    let table = run_table(&settings, &out)?;
    let matched = table
        .rows
        .iter()
        .filter(|r| r.best_known.is_some_and(|b| r.rank <= b))
        .count();
    println!(
        "{matched} of {} shapes at their best known rank over {}; table in {}",
        table.rows.len(),
        table.field,
        out.join("table.md").display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_list_each_sorted_shape_once() {
        let names = |args: &[&str]| -> Vec<String> {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            shapes_of(&args)
                .unwrap()
                .iter()
                .map(|s| format!("{}x{}x{}", s.n, s.m, s.p))
                .collect()
        };
        assert_eq!(
            names(&["2..3"]),
            ["2x2x2", "2x2x3", "2x3x3", "3x3x3"].map(String::from)
        );
        assert_eq!(names(&["2..5"]).len(), 20);
        assert_eq!(names(&["3x3x3", "2..3", "4x2x2"]).len(), 5);
        assert!(shapes_of(&["5..2".to_string()]).is_err());
        assert!(shapes_of(&["a..3".to_string()]).is_err());
    }
}
