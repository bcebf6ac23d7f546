//! Restarts from promising states, as Go-Explore returns to the frontier
//! it has reached: self-play keeps the prefixes of its games whose states
//! the value head rates best (steps taken plus the steps it predicts are
//! left), and starts a share of its new games from one of them instead of
//! from T. A game that finds a lower rank must make every move right; from
//! a state two or three correct moves in, the rest is a shorter game, and
//! one that the search can retry. A state the value head overrates is
//! retried, fails, and teaches the value head its real return: the archive
//! corrects itself. Only self-play's own games enter it, so a run with
//! `--no-polish` stays pure.

use crate::game::record::Move;
use crate::game::Basis;

/// What a restart costs an entry's rank in the archive, in predicted
/// steps: an entry drawn four times ranks one step worse, so the draws
/// spread over the promising states instead of wearing out the best one.
const USE_COST: f64 = 0.25;

/// A game's first moves and the state they reach.
#[derive(Clone, Debug)]
pub struct Prefix {
    /// The game's basis (None: the standard one) and its target in it.
    pub basis: Option<Basis>,
    pub tensor: Vec<i32>,
    /// The moves and actions played so far (as many of each).
    pub moves: Vec<Move>,
    pub actions: Vec<Vec<i32>>,
    /// The state reached: residual, history (most recent first), step.
    pub residual: Vec<i32>,
    pub history: Vec<Vec<i32>>,
    pub step: usize,
    /// Steps taken plus the value head's prediction of the steps left.
    pub predicted: f64,
}

struct Entry {
    prefix: Prefix,
    uses: u32,
}

impl Entry {
    fn score(&self) -> f64 {
        self.prefix.predicted + USE_COST * self.uses as f64
    }
}

/// The most promising prefixes seen, at most `capacity`.
pub struct Archive {
    entries: Vec<Entry>,
    capacity: usize,
}

impl Archive {
    pub fn new(capacity: usize) -> Self {
        Archive {
            entries: Vec::new(),
            capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a prefix predicted at `predicted` would be kept: there is
    /// room, or it beats the worst entry (a cheap test before cloning a
    /// game's moves).
    pub fn would_take(&self, predicted: f64) -> bool {
        self.capacity > 0 && (self.entries.len() < self.capacity || predicted < self.worst().1)
    }

    fn worst(&self) -> (usize, f64) {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, e.score()))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, f64::INFINITY))
    }

    /// Keeps `prefix` if it is promising enough. A state already held (the
    /// same target and residual) takes the newer prediction and keeps its
    /// uses.
    pub fn offer(&mut self, prefix: Prefix) {
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.prefix.residual == prefix.residual && e.prefix.tensor == prefix.tensor)
        {
            e.prefix.predicted = prefix.predicted;
            return;
        }
        if !self.would_take(prefix.predicted) {
            return;
        }
        if self.entries.len() == self.capacity {
            let (worst, _) = self.worst();
            self.entries.swap_remove(worst);
        }
        self.entries.push(Entry { prefix, uses: 0 });
    }

    /// The prefix to restart from: the best ranked, counting its uses
    /// (ties to the earliest kept). None when the archive is empty.
    pub fn draw(&mut self) -> Option<&Prefix> {
        let best = self
            .entries
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.score().total_cmp(&b.1.score()))
            .map(|(i, _)| i)?;
        self.entries[best].uses += 1;
        Some(&self.entries[best].prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(residual: i32, predicted: f64) -> Prefix {
        Prefix {
            basis: None,
            tensor: vec![1, 1],
            moves: Vec::new(),
            actions: Vec::new(),
            residual: vec![residual],
            history: Vec::new(),
            step: 1,
            predicted,
        }
    }

    /// The archive keeps the best predictions, refuses a worse one when
    /// full, and updates a state it already holds.
    #[test]
    fn keeps_the_most_promising_prefixes() {
        let mut a = Archive::new(2);
        assert!(a.draw().is_none());
        a.offer(prefix(1, 7.5));
        a.offer(prefix(2, 8.0));
        assert!(!a.would_take(9.0));
        a.offer(prefix(3, 9.0));
        assert_eq!(a.len(), 2);
        a.offer(prefix(3, 7.0));
        let mut held: Vec<i32> = a.entries.iter().map(|e| e.prefix.residual[0]).collect();
        held.sort();
        assert_eq!(held, vec![1, 3]);
        // The same state again takes the newer prediction.
        a.offer(prefix(1, 6.0));
        assert_eq!(a.len(), 2);
        assert_eq!(a.draw().unwrap().residual, vec![1]);
    }

    /// Draws go to the best entry until its uses cost more than the gap
    /// to the next.
    #[test]
    fn draws_spread_over_the_promising_prefixes() {
        let mut a = Archive::new(4);
        a.offer(prefix(1, 7.0));
        a.offer(prefix(2, 7.5));
        let drawn: Vec<i32> = (0..6).map(|_| a.draw().unwrap().residual[0]).collect();
        // 7.0, 7.25, 7.5 (tie with 7.5: the earlier kept), then 7.5 vs 7.75.
        assert_eq!(drawn, vec![1, 1, 1, 2, 1, 2]);
    }
}
