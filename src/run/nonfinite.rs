//! Learner steps whose loss is not finite: each is skipped and said; a few
//! in a row stop the run, keeping its last good checkpoint.

use anyhow::{bail, Result};

/// Non-finite steps in a row that stop a run.
pub const MAX_IN_A_ROW: u32 = 5;

#[derive(Clone, Debug, Default)]
pub struct NonFinite {
    in_a_row: u32,
    /// Steps skipped in this session.
    pub skipped: u64,
}

impl NonFinite {
    /// Records a step's losses. `Ok(true)` for a finite step; `Ok(false)`
    /// for a skipped one, with `say` told why; an error once
    /// [`MAX_IN_A_ROW`] come in a row. `step` counts from 1.
    pub fn record(
        &mut self,
        step: u64,
        policy_loss: f32,
        value_loss: f32,
        out: &std::path::Path,
        say: impl FnOnce(String),
    ) -> Result<bool> {
        if policy_loss.is_finite() && value_loss.is_finite() {
            self.in_a_row = 0;
            return Ok(true);
        }
        self.in_a_row += 1;
        self.skipped += 1;
        say(format!(
            "learner step {step}: loss is not finite (policy {policy_loss}, value {value_loss}); update skipped"
        ));
        if self.in_a_row >= MAX_IN_A_ROW {
            bail!(
                "{MAX_IN_A_ROW} learner steps in a row had non-finite losses (lower --lr?); the last good checkpoint is kept in {}",
                out.display()
            );
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_in_a_row_stop_and_a_finite_step_resets() {
        let mut n = NonFinite::default();
        let out = std::path::Path::new("runs/x");
        let mut said = 0;
        for step in 1..=4 {
            assert!(!n.record(step, f32::NAN, 0.0, out, |_| said += 1).unwrap());
        }
        assert!(n.record(5, 1.0, 1.0, out, |_| ()).unwrap());
        for step in 6..=9 {
            assert!(!n
                .record(step, 0.0, f32::INFINITY, out, |_| said += 1)
                .unwrap());
        }
        let err = n.record(10, f32::NAN, f32::NAN, out, |_| ()).unwrap_err();
        assert!(format!("{err}").contains("5 learner steps in a row"));
        assert_eq!((said, n.skipped), (8, 9));
    }
}
