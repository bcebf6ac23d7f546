//! `tensorsearch cluster`: what a Redis cluster of workers holds (`status`)
//! and its best scheme of a shape, verified, into a file (`pull`).

use super::common::parse_shape;
use super::output;
use anyhow::{anyhow, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use std::path::PathBuf;
use std::process::ExitCode;
use tensorsearch::cluster::redis_store::{best_verified, connect, flip_keys, workers};
use tensorsearch::cluster::ClusterUrl;
use tensorsearch::problem::{json, Field};

/// A mark no scheme file carries: an existing --out file is replaced only
/// with --force.
const NO_SIGNATURE: &str = "\u{0}tensorsearch-cluster-pull\u{0}";

#[derive(Clone, Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// The workers alive (flips/s, or games/s and the learner's step), and the best verified rank per shape and field.
    Status {
        /// redis://HOST:PORT/NAME
        url: String,
    },
    /// Write the cluster's best scheme of SHAPE, verified, to --out.
    Pull {
        /// redis://HOST:PORT/NAME
        url: String,
        /// Shape n x m x p.
        shape: String,
        /// z2 (the default) or z.
        #[arg(long, value_parser = PossibleValuesParser::new(["z2", "z"]).map(|s| s.parse::<Field>().expect("listed")))]
        field: Option<Field>,
        /// The file to write (atomically; an existing file only with --force).
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing --out file.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(command: ClusterCommand) -> Result<ExitCode> {
    match command {
        ClusterCommand::Status { url } => status(&ClusterUrl::parse(&url)?),
        ClusterCommand::Pull {
            url,
            shape,
            field,
            out,
            force,
        } => {
            let url = ClusterUrl::parse(&url)?;
            let shape = parse_shape(&shape)?;
            output::check(&out, NO_SIGNATURE, force, None)?;
            let field = field.unwrap_or(Field::Z2);
            let mut con = connect(&url)?;
            let (best, refused, count) = best_verified(&mut con, &url.name, shape, field)?;
            let d = best.ok_or_else(|| match count {
                0 => anyhow!("the cluster {url} holds no scheme of {shape} over {field}"),
                _ => anyhow!(
                    "none of the cluster's {count} schemes of {shape} over {field} verifies"
                ),
            })?;
            output::write(
                &out,
                json::to_file_text(std::slice::from_ref(&d)).as_bytes(),
            )?;
            if refused > 0 {
                eprintln!("{refused} lower entries did not verify and were passed over");
            }
            println!(
                "{shape} over {field} rank {}, verified, written to {}",
                d.rank(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn status(url: &ClusterUrl) -> Result<ExitCode> {
    let mut con = connect(url)?;
    let (mut alive, unreadable) = workers(&mut con, &url.name)?;
    alive.sort_by(|a, b| (&a.shape, &a.host, a.pid).cmp(&(&b.shape, &b.host, b.pid)));
    println!("cluster {url}: {} worker(s) alive", alive.len());
    for w in &alive {
        let best = match w.best {
            0 => "none yet".to_string(),
            r => r.to_string(),
        };
        let work = match w.role.as_str() {
            "flip" => format!("{:.2} M flips/s", w.flips_per_s / 1e6),
            "actor" => format!(
                "{:.1} games/s, weights of step {}",
                w.games_per_s, w.learner_step
            ),
            _ => format!(
                "{:.1} games/s taken, step {}",
                w.games_per_s, w.learner_step
            ),
        };
        println!(
            "  {} {} over {} on {} (pid {}): best {best}, {work}",
            w.role, w.shape, w.field, w.host, w.pid
        );
    }
    if unreadable > 0 {
        println!("  ({unreadable} heartbeat(s) that do not parse)");
    }
    let flips: f64 = alive.iter().map(|w| w.flips_per_s).sum();
    let games: f64 = alive
        .iter()
        .filter(|w| w.role == "actor")
        .map(|w| w.games_per_s)
        .sum();
    println!("in all: {:.2} M flips/s, {games:.1} games/s", flips / 1e6);
    let keys = flip_keys(&mut con, &url.name)?;
    if keys.is_empty() {
        println!("no schemes yet");
    }
    for (shape, field) in keys {
        let (best, refused, count) = best_verified(&mut con, &url.name, shape, field)?;
        let rank = best.map_or("none verifies".to_string(), |d| {
            format!("rank {}", d.rank())
        });
        let refused = match refused {
            0 => String::new(),
            n => format!(", {n} lower entries do not verify"),
        };
        println!("  {shape} over {field}: best {rank} (verified; {count} kept{refused})");
    }
    Ok(ExitCode::SUCCESS)
}
