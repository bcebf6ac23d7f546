//! `tensorsearch export`: a verified decomposition as straight-line code.

use super::common::parse_shape;
use anyhow::{anyhow, bail, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tensorsearch::problem::export::{export, Arith, Lang, SIGNATURE};
use tensorsearch::problem::{json, verify, Decomposition};

/// Where the code goes: `out`, or standard output.
pub struct Target {
    pub out: Option<PathBuf>,
    /// Replace an existing file that is not code we wrote.
    pub force: bool,
}

/// Writes the code for the chosen decomposition of `file` to the target.
pub fn run(
    file: PathBuf,
    lang: Lang,
    arith: Arith,
    target: Target,
    index: Option<usize>,
    shape: Option<String>,
) -> Result<ExitCode> {
    if let Some(out) = &target.out {
        check_target(&file, out, target.force)?;
    }
    let d = select(&file, index, shape.as_deref())?;
    verify(&d, d.field).map_err(|e| {
        anyhow!(
            "{}: not a decomposition of {} over {}: {e}",
            file.display(),
            d.shape,
            d.field
        )
    })?;
    let code = export(&d, lang, arith)?;
    match target.out {
        Some(path) => json::write_atomic(&path, code.as_bytes())?,
        None => print!("{code}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses an output that is the input (by identity: links and other
/// spellings of one file included) or an existing file that is not code
/// this command wrote, unless forced.
fn check_target(input: &Path, out: &Path, force: bool) -> Result<()> {
    let Ok(existing) = std::fs::metadata(out) else {
        return Ok(());
    };
    if existing.is_dir() {
        bail!("--out {} is a directory; give a file path", out.display());
    }
    if same_file(input, out) {
        bail!(
            "--out {} is the input file; refusing to replace the decomposition with code",
            out.display()
        );
    }
    let ours = std::fs::read(out)
        .map(|bytes| {
            let head = &bytes[..bytes.len().min(2048)];
            String::from_utf8_lossy(head).contains(SIGNATURE)
        })
        .unwrap_or(false);
    if !ours && !force {
        bail!(
            "--out {} exists and is not code exported by tensorsearch; give --force to replace it",
            out.display()
        );
    }
    Ok(())
}

/// Whether two paths name one file: same device and inode on Unix, same
/// canonical path elsewhere.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn select(file: &Path, index: Option<usize>, shape: Option<&str>) -> Result<Decomposition> {
    let mut ds = vec![];
    let warnings = json::read_each(file, |_, d| {
        ds.push(d);
        Ok(())
    })?;
    for w in warnings {
        eprintln!("warning: {}: {w}", file.display());
    }
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
