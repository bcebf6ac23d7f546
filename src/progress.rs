//! What long runs share: their progress display, and the output
//! directory they fill.

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use std::fs::File;
use std::path::Path;

/// A line above the progress bar, shown also when the bar is hidden (not a
/// terminal), where `println` on the bar would print nothing.
pub fn say(bar: &ProgressBar, line: String) {
    bar.suspend(|| eprintln!("{line}"));
}

/// Makes `out/found/` (where each improvement is kept) and opens
/// `out/<metrics>` for appending, as a fresh or resumed run needs them.
pub fn open_outputs(out: &Path, metrics: &str) -> Result<File> {
    std::fs::create_dir_all(out.join("found"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.join(metrics))
        .with_context(|| format!("cannot open {}", out.join(metrics).display()))
}
