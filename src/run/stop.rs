//! When a long run stops: a time budget, a target rank, a number of
//! steps, or Ctrl-C, whichever comes first; and what each means for the
//! exit status.

use super::interrupt;
use std::time::{Duration, Instant};

/// The longest `--time` accepted: a year is past any run's need, and an
/// Instant that far ahead never overflows.
pub const MAX_TIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// The stop conditions a user gave (none: only Ctrl-C stops the run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stop {
    pub time: Option<Duration>,
    /// Stop once a verified scheme of at most this rank is found.
    pub target: Option<usize>,
    /// Stop after this many steps in this session (learner steps).
    pub steps: Option<u64>,
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stopped {
    Target,
    Time,
    Steps,
    Interrupt,
}

impl Stopped {
    pub fn words(self) -> &'static str {
        match self {
            Stopped::Target => "target",
            Stopped::Time => "time",
            Stopped::Steps => "steps",
            Stopped::Interrupt => "interrupt",
        }
    }
}

/// Exit status of a run that ends by --time, --steps or Ctrl-C before
/// reaching its --target (the README's table of exit codes).
pub const EXIT_TARGET_NOT_REACHED: u8 = 3;

/// A started run's clock against its stop conditions.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    stop: Stop,
    started: Instant,
    deadline: Option<Instant>,
}

impl Stop {
    /// Starts the clock (installs the Ctrl-C handler too).
    pub fn start(self) -> Clock {
        interrupt::stop_flag();
        let started = Instant::now();
        // A time beyond the clock's range is no deadline at all.
        let deadline = self.time.and_then(|t| started.checked_add(t.min(MAX_TIME)));
        Clock {
            stop: self,
            started,
            deadline,
        }
    }

    /// The exit status of a run that stopped as `why`: success, unless a
    /// --target was given and not reached.
    pub fn exit_code(&self, why: Stopped) -> std::process::ExitCode {
        if self.target.is_some() && why != Stopped::Target {
            std::process::ExitCode::from(EXIT_TARGET_NOT_REACHED)
        } else {
            std::process::ExitCode::SUCCESS
        }
    }
}

impl Clock {
    /// Whether the run should stop now, with its best verified rank so far
    /// and the steps taken in this session.
    pub fn check(&self, best_rank: Option<usize>, steps: u64) -> Option<Stopped> {
        if self
            .stop
            .target
            .is_some_and(|t| best_rank.is_some_and(|r| r <= t))
        {
            Some(Stopped::Target)
        } else if interrupt::stop_requested() {
            Some(Stopped::Interrupt)
        } else if self.past_deadline() {
            Some(Stopped::Time)
        } else if self.stop.steps.is_some_and(|s| steps >= s) {
            Some(Stopped::Steps)
        } else {
            None
        }
    }

    /// For work that checks often inside a round: time is up, or Ctrl-C.
    pub fn halted(&self) -> bool {
        interrupt::stop_requested() || self.past_deadline()
    }

    pub fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Seconds since the start of this session.
    pub fn seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn stop(&self) -> &Stop {
        &self.stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_condition_met_stops() {
        let clock = Stop {
            time: Some(Duration::from_secs(3600)),
            target: Some(7),
            steps: Some(10),
        }
        .start();
        assert_eq!(clock.check(Some(8), 9), None);
        assert_eq!(clock.check(None, 10), Some(Stopped::Steps));
        assert_eq!(clock.check(Some(7), 10), Some(Stopped::Target));
        let timed = Stop {
            time: Some(Duration::ZERO),
            ..Stop::default()
        }
        .start();
        assert_eq!(timed.check(Some(1), 0), Some(Stopped::Time));
    }

    #[test]
    fn a_huge_time_never_overflows() {
        let clock = Stop {
            time: Some(Duration::MAX),
            ..Stop::default()
        }
        .start();
        assert!(!clock.past_deadline());
        assert_eq!(clock.check(None, u64::MAX), None);
    }

    #[test]
    fn only_a_missed_target_fails() {
        let with_target = Stop {
            target: Some(7),
            ..Stop::default()
        };
        let code = |s: &Stop, why| format!("{:?}", s.exit_code(why));
        let failure = format!(
            "{:?}",
            std::process::ExitCode::from(EXIT_TARGET_NOT_REACHED)
        );
        let success = format!("{:?}", std::process::ExitCode::SUCCESS);
        assert_eq!(code(&with_target, Stopped::Time), failure);
        assert_eq!(code(&with_target, Stopped::Interrupt), failure);
        assert_eq!(code(&with_target, Stopped::Target), success);
        assert_eq!(code(&Stop::default(), Stopped::Time), success);
    }
}
