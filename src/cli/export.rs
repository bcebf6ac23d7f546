//! `tensorsearch export`: a verified decomposition as straight-line code.

use super::common::parse_shape;
use anyhow::{anyhow, bail, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tensorsearch::problem::export::{export, Lang};
use tensorsearch::problem::{json, verify, Decomposition};

/// Writes the code for the chosen decomposition of `file` to `out` or stdout.
pub fn run(
    file: PathBuf,
    lang: Lang,
    out: Option<PathBuf>,
    index: Option<usize>,
    shape: Option<String>,
) -> Result<ExitCode> {
    let d = select(&file, index, shape.as_deref())?;
    verify(&d, d.field).map_err(|e| {
        anyhow!(
            "{}: not a decomposition of {} over {}: {e}",
            file.display(),
            d.shape,
            d.field
        )
    })?;
    let code = export(&d, lang);
    match out {
        Some(path) => json::write_atomic(&path, code.as_bytes())?,
        None => print!("{code}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn select(file: &Path, index: Option<usize>, shape: Option<&str>) -> Result<Decomposition> {
    let mut ds = json::read_file(file)?;
    let count = ds.len();
    if let Some(i) = index {
        if i >= count {
            bail!(
                "{}: --index {i} is out of range, the file holds {count}",
                file.display()
            );
        }
        return Ok(ds.swap_remove(i));
    }
    if let Some(s) = shape {
        let s = parse_shape(s)?;
        let mut matching: Vec<Decomposition> = ds.into_iter().filter(|d| d.shape == s).collect();
        return match matching.len() {
            1 => Ok(matching.remove(0)),
            0 => bail!("{}: no decomposition of shape {s}", file.display()),
            k => bail!(
                "{}: {k} decompositions of shape {s}, choose one with --index",
                file.display()
            ),
        };
    }
    match count {
        1 => Ok(ds.remove(0)),
        _ => bail!(
            "{}: holds {count} decompositions, choose one with --index or --shape",
            file.display()
        ),
    }
}
