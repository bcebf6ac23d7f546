//! `tensorsearch export`: a verified decomposition as straight-line code.

use super::common::{select_decomposition, SchemeChoice};
use super::output;
use anyhow::{anyhow, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use tensorsearch::problem::export::{export, export_wgsl, Arith, Lang, SIGNATURE};
use tensorsearch::problem::verify;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LangArg {
    Python,
    Rust,
    C,
    /// The block stages of C = A·B on a GPU (combine A, combine B, accumulate C), to serve with any GEMM.
    Wgsl,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ArithArg {
    /// Exact integers; C and Rust state and check a bound on the entries.
    Exact,
    /// Doubles: faster, with rounding error.
    F64,
}

/// The command line of `export`.
#[derive(Clone, Debug, clap::Args)]
pub struct ExportArgs {
    file: PathBuf,
    #[arg(long, value_enum)]
    lang: LangArg,
    /// Write here (atomically) instead of standard output. Never the
    /// input; an existing file is replaced only if it is code this
    /// command wrote, or with --force.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing --out file that is not exported code.
    #[arg(long)]
    force: bool,
    /// Arithmetic of the generated code.
    #[arg(long, value_enum, default_value = "exact")]
    arith: ArithArg,
    #[command(flatten)]
    choice: SchemeChoice,
}

/// Writes the code for the chosen decomposition of the file to `--out`,
/// or standard output.
pub fn run(args: ExportArgs) -> Result<ExitCode> {
    let lang = match args.lang {
        LangArg::Python => Some(Lang::Python),
        LangArg::Rust => Some(Lang::Rust),
        LangArg::C => Some(Lang::C),
        LangArg::Wgsl => None,
    };
    let arith = match args.arith {
        ArithArg::Exact => Arith::Exact,
        ArithArg::F64 => Arith::F64,
    };
    let file = &args.file;
    if let Some(out) = &args.out {
        output::check(out, SIGNATURE, args.force, Some(file))?;
    }
    let d = select_decomposition(file, &args.choice)?;
    verify(&d, d.field).map_err(|e| {
        anyhow!(
            "{}: not a decomposition of {} over {}: {e}",
            file.display(),
            d.shape,
            d.field
        )
    })?;
    let code = match lang {
        Some(lang) => export(&d, lang, arith)?,
        None => export_wgsl(&d)?,
    };
    match &args.out {
        Some(path) => output::write(path, code.as_bytes())?,
        None => print!("{code}"),
    }
    Ok(ExitCode::SUCCESS)
}
