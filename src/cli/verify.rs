//! `tensorsearch verify`: one line per decomposition, exit 0 only when all hold.
//! Our JSON is read one decomposition at a time; the field's other formats
//! whole (`problem::formats`).

use super::common::{any_field, format_arg, one_line};
use std::path::PathBuf;
use std::process::ExitCode;
use tensorsearch::problem::formats::{self, Format};
use tensorsearch::problem::{verify, Field};

/// The command line of `verify`.
#[derive(Clone, Debug, clap::Args)]
pub struct VerifyArgs {
    /// Scheme files: our JSON (one decomposition or {"decompositions":[…]}), the FMM catalogue's JSON or Maple triads, flips' .exp, or ternary_flip_graph's text.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The files' format (json, fmm-json, maple, exp, tfg, npz, cpd-txt, cpd-npy); by default each file's content and extension tell.
    #[arg(long, value_parser = format_arg())]
    format: Option<Format>,
    /// Verify in this field (z, z2 or q) instead of each decomposition's own.
    #[arg(long, value_parser = any_field())]
    field: Option<Field>,
}

pub fn run(args: VerifyArgs) -> ExitCode {
    verify_files(&args.files, args.format, args.field)
}

pub fn verify_files(files: &[PathBuf], format: Option<Format>, field: Option<Field>) -> ExitCode {
    let mut all_hold = true;
    for path in files {
        let read = formats::read_each(path, format, |index, d| {
            let over = field.unwrap_or(d.field);
            let label = match index {
                None => path.display().to_string(),
                Some(i) => format!("{}[{i}]", path.display()),
            };
            let verdict = match verify(&d, over) {
                Ok(()) => "ok".to_string(),
                Err(e) => {
                    all_hold = false;
                    // The hint is about the file's own field.
                    let hint = match over == d.field {
                        true => formats::convention_note(&d),
                        false => String::new(),
                    };
                    format!("FAILED: {e}{hint}")
                }
            };
            let over_text = if over == d.field {
                String::new()
            } else {
                format!(" over {over}")
            };
            println!(
                "{label}: {} {} rank {}{over_text}: {verdict}",
                d.shape,
                d.field,
                d.rank()
            );
            Ok(())
        });
        match read {
            Ok(warnings) => {
                for w in warnings {
                    eprintln!("warning: {}: {w}", path.display());
                }
            }
            Err(e) => {
                eprintln!("error: {}", one_line(&e));
                all_hold = false;
            }
        }
    }
    if all_hold {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
