//! `tensorsearch verify`: one line per decomposition, exit 0 only when all hold.

use super::common::one_line;
use std::path::PathBuf;
use std::process::ExitCode;
use tensorsearch::problem::{json, verify, Field};

pub fn verify_files(files: &[PathBuf], field: Option<Field>) -> ExitCode {
    let mut all_hold = true;
    for path in files {
        let ds = match json::read_file(path) {
            Ok(ds) => ds,
            Err(e) => {
                eprintln!("error: {}", one_line(&e));
                all_hold = false;
                continue;
            }
        };
        for (i, d) in ds.iter().enumerate() {
            let over = field.unwrap_or(d.field);
            let label = if ds.len() == 1 {
                path.display().to_string()
            } else {
                format!("{}[{i}]", path.display())
            };
            let verdict = match verify(d, over) {
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
        }
    }
    if all_hold {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
