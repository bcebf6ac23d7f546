//! `tensorsearch verify`: one line per decomposition, exit 0 only when all hold.
//! Files are read one decomposition at a time.

use super::common::{any_field, one_line};
use std::path::PathBuf;
use std::process::ExitCode;
use tensorsearch::problem::{json, verify, Field};

/// The command line of `verify`.
#[derive(Clone, Debug, clap::Args)]
pub struct VerifyArgs {
    /// JSON files, each one decomposition or {"decompositions":[…]}.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Verify in this field (z, z2 or q) instead of each decomposition's own.
    #[arg(long, value_parser = any_field())]
    field: Option<Field>,
}

pub fn run(args: VerifyArgs) -> ExitCode {
    verify_files(&args.files, args.field)
}

pub fn verify_files(files: &[PathBuf], field: Option<Field>) -> ExitCode {
    let mut all_hold = true;
    for path in files {
        let read = json::read_each(path, |index, d| {
            let over = field.unwrap_or(d.field);
            let label = match index {
                None => path.display().to_string(),
                Some(i) => format!("{}[{i}]", path.display()),
            };
            let verdict = match verify(&d, over) {
                Ok(()) => "ok".to_string(),
                Err(e) => {
                    all_hold = false;
                    format!("FAILED: {e}")
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
