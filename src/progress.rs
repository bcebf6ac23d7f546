//! What long runs share for their progress display.

use indicatif::ProgressBar;

/// A line above the progress bar, shown also when the bar is hidden (not a
/// terminal), where `println` on the bar would print nothing.
pub fn say(bar: &ProgressBar, line: String) {
    bar.suspend(|| eprintln!("{line}"));
}
