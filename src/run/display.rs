//! The progress line of a long run, and lines printed above it.

use indicatif::{ProgressBar, ProgressStyle};

/// A line above the progress bar, shown also when the bar is hidden (not a
/// terminal), where `println` on the bar would print nothing.
pub fn say(bar: &ProgressBar, line: String) {
    bar.suspend(|| eprintln!("{line}"));
}

/// A spinner with the elapsed time and a message (hidden when `quiet`).
pub fn spinner(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .expect("a valid template"),
    );
    bar
}

/// Columns the spinner's prefix takes ("⠁ [00:00:00] ").
pub const PREFIX_COLUMNS: usize = 13;

/// The terminal's width in columns (80 when it is not a terminal).
pub fn terminal_columns() -> usize {
    console::Term::stderr()
        .size_checked()
        .map_or(80, |(_, cols)| cols as usize)
}

/// The fields of a progress line, most important first, joined by " | "
/// for as many as fit in `columns`: a field is dropped whole rather than
/// cut. The first field is always kept.
pub fn fit(fields: &[String], columns: usize) -> String {
    let mut line = String::new();
    for (i, field) in fields.iter().enumerate() {
        let extra = if i == 0 { 0 } else { 3 };
        let width = console::measure_text_width(field);
        if i > 0 && console::measure_text_width(&line) + extra + width > columns {
            continue;
        }
        if i > 0 {
            line.push_str(" | ");
        }
        line.push_str(field);
    }
    line
}

/// `fit` for a message after the spinner's prefix on this terminal.
pub fn fit_message(fields: &[String]) -> String {
    fit(
        fields,
        terminal_columns().saturating_sub(PREFIX_COLUMNS + 1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_that_do_not_fit_are_dropped_whole() {
        let fields: Vec<String> = ["best rank 7", "3.2 games/s", "policy 1.234 value 0.5", "x"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            fit(&fields, 200),
            "best rank 7 | 3.2 games/s | policy 1.234 value 0.5 | x"
        );
        // The third field does not fit in 30; the short fourth still does.
        assert_eq!(fit(&fields, 30), "best rank 7 | 3.2 games/s | x");
        assert_eq!(fit(&fields, 3), "best rank 7");
        for cols in 0..80 {
            let line = fit(&fields, cols);
            assert!(line.len() <= cols.max(fields[0].len()), "{cols}: {line}");
        }
    }
}
