//! What every long run shares (`search`, `flip`, `pretrain`, and the
//! commands still to come): the run directory that knows what it holds
//! and writes only verified schemes, atomically; the stop conditions
//! (time, target, steps, Ctrl-C); periodic timers; the count of
//! non-finite learner steps; and the progress line.
//!
//! A run's loop stays in its own module, since what happens in a round
//! differs; what decides when to stop, save, log or give up lives here once.

pub mod dir;
pub mod display;
pub mod interrupt;
pub mod nonfinite;
pub mod stop;
pub mod timer;

pub use dir::{Identity, Kind, RunDir};
pub use nonfinite::NonFinite;
pub use stop::{Clock, Stop, Stopped};
pub use timer::Every;
