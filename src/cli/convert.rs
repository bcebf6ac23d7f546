//! `tensorsearch convert`: schemes from any of the field's formats into
//! another, each verified exactly before it is written.

use super::common::format_arg;
use super::output;
use anyhow::{anyhow, bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use tensorsearch::problem::formats::{self, Format};
use tensorsearch::problem::verify;

/// A mark no input format carries: an existing --out file is replaced
/// only with --force (a device or a pipe is written into).
const NO_SIGNATURE: &str = "\u{0}tensorsearch-convert\u{0}";

/// The command line of `convert`.
#[derive(Clone, Debug, clap::Args)]
pub struct ConvertArgs {
    /// Scheme files, in any of the formats `verify` reads.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The format to write: json (ours), fmm-json, maple, exp, tfg, cpd-txt, or (with --out) npz or cpd-npy.
    #[arg(long, value_parser = format_arg())]
    to: Format,
    /// The inputs' format, when their content and extension are not to decide.
    #[arg(long, value_parser = format_arg())]
    format: Option<Format>,
    /// Write here (atomically) instead of standard output; an existing file only with --force.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
}

pub fn run(args: ConvertArgs) -> Result<ExitCode> {
    if matches!(args.to, Format::Npz | Format::CpdNpy) && args.out.is_none() {
        bail!("{} is binary: give --out FILE", args.to);
    }
    if let Some(out) = &args.out {
        for input in &args.files {
            output::check(out, NO_SIGNATURE, args.force, Some(input))?;
        }
    }
    let mut all = vec![];
    for path in &args.files {
        let ds = formats::read_file(path, args.format)?;
        if ds.is_empty() {
            bail!("{} holds no scheme", path.display());
        }
        for (i, d) in ds.into_iter().enumerate() {
            verify(&d, d.field).map_err(|e| {
                let hint = formats::convention_note(&d);
                anyhow!(
                    "{} scheme {i}: not a decomposition of {} over {}: {e}{hint}",
                    path.display(),
                    d.shape,
                    d.field
                )
            })?;
            all.push(d);
        }
    }
    if let (Format::CpdNpy, Some(out), Some(first)) = (args.to, &args.out, all.first()) {
        // The array holds no shape: flip-cpd's readers take it from the name.
        let name = formats::cpd_npy_name(first);
        let given = out.file_name().map(|n| n.to_string_lossy().into_owned());
        if !given.is_some_and(|g| g.starts_with(&name)) {
            bail!("flip-cpd's .npy holds no shape, its name does: name the file {name}….npy");
        }
    }
    let bytes = formats::write_bytes(&all, args.to)?;
    match &args.out {
        Some(path) => {
            output::write(path, &bytes)?;
            eprintln!(
                "{} scheme(s) written as {} to {}",
                all.len(),
                args.to,
                path.display()
            );
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
