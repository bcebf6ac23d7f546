//! Flips beside the actors (expert iteration, docs/design.md §5): a thread
//! runs the flip engine's pool search from the standard algorithm, in the
//! game's coefficients, on its own threads, from the start of the run.
//! Self-play's decompositions are offered to its pool; every lower rank
//! its rounds reach comes back to the search loop, which verifies it,
//! writes it, and teaches it to the network as best games.

use crate::flip::factor::{Factor, Ternary};
use crate::flip::pool::{PoolSearch, PoolSettings};
use crate::flip::scheme::Scheme;
use crate::problem::{Decomposition, Field, Shape};
use anyhow::{bail, Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Schemes sent back per improving round. Each becomes up to four best
/// games, and the learner imitates one scheme far sooner than several: on
/// 2x2x2 over Z2 self-play played the handed rank 7 itself after 38 s
/// with one, and not within 3 minutes with eight.
const SCHEMES_PER_ROUND: usize = 1;

/// The flip thread, seen from the search loop. Dropping it stops it.
pub struct FlipWorker {
    found: Receiver<Decomposition>,
    offers: Sender<Decomposition>,
    halt: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl FlipWorker {
    /// Starts walking `shape` over `field` (Z2, or Z with coefficients in
    /// {−1, 0, 1}) on `threads` threads. The walks stop once they reach
    /// `stop_at` (the best published rank: below it nothing is known to
    /// exist, and the threads are better given back to the actors).
    pub fn start(
        shape: Shape,
        field: Field,
        threads: usize,
        stop_at: Option<usize>,
        seed: u64,
    ) -> Result<Self> {
        if threads == 0 {
            bail!("the flip walks need at least one thread");
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("flips-{i}"))
            .build()
            .context("cannot start the flip threads")?;
        let (found_tx, found) = channel();
        let (offers, offers_rx) = channel();
        let halt = Arc::new(AtomicBool::new(false));
        let worker = Walks {
            pool,
            stop_at,
            halt: halt.clone(),
            offers: offers_rx,
            found: found_tx,
        };
        let handle = match field {
            Field::Z2 => worker.spawn::<u64>(shape, seed)?,
            Field::Z => worker.spawn::<Ternary>(shape, seed)?,
            other => bail!("flips beside the search play over Z or Z2, not {other}"),
        };
        Ok(FlipWorker {
            found,
            offers,
            halt,
            handle: Some(handle),
        })
    }

    /// Offers a verified self-play decomposition to the walks' pool.
    pub fn offer(&self, d: &Decomposition) {
        // A worker that has stopped needs no offers.
        let _ = self.offers.send(d.clone());
    }

    /// The schemes the walks have sent since the last call (unverified:
    /// the caller verifies each).
    pub fn drain(&self) -> Vec<Decomposition> {
        self.found.try_iter().collect()
    }
}

impl Drop for FlipWorker {
    fn drop(&mut self) {
        self.halt.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The thread's side.
struct Walks {
    pool: rayon::ThreadPool,
    stop_at: Option<usize>,
    halt: Arc<AtomicBool>,
    offers: Receiver<Decomposition>,
    found: Sender<Decomposition>,
}

impl Walks {
    /// Starts the thread walking from `shape`'s standard algorithm in F.
    fn spawn<F: Factor>(self, shape: Shape, seed: u64) -> Result<JoinHandle<()>> {
        let start = Scheme::<F>::standard(shape)?;
        std::thread::Builder::new()
            .name("flips".into())
            .spawn(move || self.run(start, seed))
            .context("cannot start the flip thread")
    }

    fn run<F: Factor>(self, start: Scheme<F>, seed: u64) {
        // Without a symmetry every scheme starts a search.
        let Ok(mut search) = PoolSearch::new(&start, PoolSettings::default(), seed) else {
            return;
        };
        // The reductions the standard algorithm allows, at once.
        if search.best_rank() < start.rank() && self.send(&search.best()).is_err() {
            return;
        }
        let halt = self.halt.clone();
        let halted = move || halt.load(Ordering::Relaxed);
        while !halted() {
            for d in self.offers.try_iter() {
                if let Ok(s) = Scheme::<F>::from_decomposition(&d) {
                    search.offer(s);
                }
            }
            if self.stop_at.is_some_and(|r| search.best_rank() <= r) {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            let round = self.pool.install(|| search.round(&halted));
            if round.improved {
                for s in round.best.iter().take(SCHEMES_PER_ROUND) {
                    if self.send(s).is_err() {
                        return;
                    }
                }
            }
        }
    }

    fn send<F: Factor>(&self, s: &Scheme<F>) -> Result<(), ()> {
        self.found.send(s.to_decomposition()).map_err(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::verify;
    use std::time::Instant;

    #[test]
    fn the_worker_sends_rank_seven_for_2x2x2_and_stops_there() {
        let shape = Shape::new(2, 2, 2).unwrap();
        for field in [Field::Z2, Field::Z] {
            let w = FlipWorker::start(shape, field, 1, Some(7), 3).unwrap();
            let started = Instant::now();
            let mut best = usize::MAX;
            while best > 7 && started.elapsed() < Duration::from_secs(60) {
                for d in w.drain() {
                    verify(&d, field).unwrap();
                    best = best.min(d.rank());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            assert_eq!(best, 7, "{field}");
            drop(w); // joins the thread
        }
    }
}
