//! A periodic timer: "every minute, checkpoint" as one value.

use std::time::{Duration, Instant};

pub struct Every {
    period: Duration,
    last: Instant,
}

impl Every {
    /// Due first one period from now.
    pub fn new(period: Duration) -> Self {
        Every {
            period,
            last: Instant::now(),
        }
    }

    /// Whether a period has passed since the last time this said so (or
    /// since the start); saying so starts the next period.
    pub fn due(&mut self) -> bool {
        if self.last.elapsed() >= self.period {
            self.restart();
            true
        } else {
            false
        }
    }

    /// Starts the period anew (after work done for another reason).
    pub fn restart(&mut self) {
        self.last = Instant::now();
    }

    /// Time since the period began.
    pub fn elapsed(&self) -> Duration {
        self.last.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_once_per_period() {
        let mut every = Every::new(Duration::from_millis(30));
        assert!(!every.due());
        std::thread::sleep(Duration::from_millis(40));
        assert!(every.due());
        assert!(!every.due(), "the period restarts when it is due");
    }
}
