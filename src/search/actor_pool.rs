//! Self-play on every core (docs/design.md §5). The CPU backend splits an
//! operation over the cores with rayon, which pays for large batches but
//! not for the search's: at 2x2x2 on two cores a run spent 26 s of 40 in
//! the kernel, waking and parking threads, for no more simulations than
//! on one core. The pool instead runs one actor per core, each on its own
//! thread with its own backend, its own copy of the network and its share
//! of the G games, computing alone ([`compute_serially`]). Every turn the
//! pool plays a round while the run's thread takes the learner steps that
//! earlier rounds paid for; the finished games come back in a fixed order,
//! and the learner's newest parameters go out with the next round. So a
//! run stays a function of its seed and its number of actors.

use super::{FinishedGame, SelfPlay, SelfPlayConfig, SelfPlayCounters};
use crate::engine::Backend;
use crate::model::Network;
use anyhow::{anyhow, Result};
use std::cell::OnceCell;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// `cfg` split over `actors` actors: the games as evenly as they go, at
/// least one each (so never more actors than games).
pub fn split(cfg: &SelfPlayConfig, actors: usize) -> Vec<SelfPlayConfig> {
    let n = actors.clamp(1, cfg.games.max(1));
    (0..n)
        .map(|i| SelfPlayConfig {
            games: cfg.games / n + usize::from(i < cfg.games % n),
            ..cfg.clone()
        })
        .collect()
}

/// The seed of actor `i` (actor 0 keeps the seed a lone actor would have).
pub fn actor_seed(seed: u64, i: usize) -> u64 {
    seed ^ (i as u64).wrapping_mul(0xA076_1D64_78BD_642F)
}

/// Makes rayon's parallel loops called from this thread run on it alone
/// (a pool of one, this thread, kept for the thread's life). With an actor
/// on every core, splitting small operations only wakes threads that have
/// no core to run on.
pub fn compute_serially() {
    thread_local! {
        static SERIAL: OnceCell<Option<rayon::ThreadPool>> = const { OnceCell::new() };
    }
    SERIAL.with(|s| {
        s.get_or_init(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .use_current_thread()
                .build()
                .ok()
        });
    });
}

/// One round's order to a pool thread: play, after taking these
/// parameters when the learner has moved on.
struct Round(Option<Arc<Vec<f32>>>);

/// What a pool thread says back after a round.
struct Played {
    finished: Vec<FinishedGame>,
    counters: SelfPlayCounters,
}

struct Worker {
    orders: Option<Sender<Round>>,
    replies: Receiver<Result<Played>>,
    thread: Option<JoinHandle<()>>,
    counters: SelfPlayCounters,
}

/// The actors beyond the run's own thread.
pub struct ActorPool {
    workers: Vec<Worker>,
    /// The learner step whose parameters the pool's actors hold.
    synced: Option<u32>,
    /// Rounds ordered and not yet collected.
    pending: bool,
}

impl ActorPool {
    /// Starts one thread per `(config, seed)`, each with a backend from
    /// `make` and a network shaped as `learner`; returns once every one
    /// is built, or with the first one's error.
    pub fn start<B: Backend + 'static>(
        make: fn() -> B,
        learner: &Network<B>,
        actors: Vec<(SelfPlayConfig, u64)>,
    ) -> Result<Self> {
        let mut workers = Vec::new();
        for (i, (cfg, seed)) in actors.into_iter().enumerate() {
            let (orders, inbox) = channel::<Round>();
            let (outbox, replies) = channel::<Result<Played>>();
            let (model, game, encoding) = (
                learner.model.clone(),
                learner.game.clone(),
                learner.encoding.clone(),
            );
            let thread = std::thread::Builder::new()
                .name(format!("actor-{}", i + 1))
                .spawn(move || {
                    compute_serially();
                    let built = (|| -> Result<_> {
                        let mut b = make();
                        // The learner's batch is never used here: one row.
                        let net = Network::new(&mut b, model, game, encoding, 1, 0)?;
                        let actors = SelfPlay::new(&mut b, &net, cfg, seed)?;
                        Ok((b, net, actors))
                    })();
                    match built {
                        Ok((b, net, actors)) => {
                            let ready = Played {
                                finished: Vec::new(),
                                counters: SelfPlayCounters::default(),
                            };
                            if outbox.send(Ok(ready)).is_ok() {
                                serve(b, net, actors, inbox, outbox);
                            }
                        }
                        Err(e) => {
                            let _ = outbox.send(Err(e));
                        }
                    }
                })
                .map_err(|e| anyhow!("cannot start an actor thread: {e}"))?;
            workers.push(Worker {
                orders: Some(orders),
                replies,
                thread: Some(thread),
                counters: SelfPlayCounters::default(),
            });
        }
        let mut pool = ActorPool {
            workers,
            synced: None,
            pending: false,
        };
        for w in &mut pool.workers {
            receive(w)?;
        }
        Ok(pool)
    }

    /// Actors in the pool (not counting the run's own thread).
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Orders a round of every pool actor, with `net`'s parameters when
    /// they are newer than what the actors hold. Collect with [`Self::collect`].
    pub fn order<B: Backend>(&mut self, b: &mut B, net: &Network<B>) -> Result<()> {
        if self.pending {
            return Err(anyhow!(
                "a round was ordered before the last one was collected (a bug)"
            ));
        }
        let params = (self.synced != Some(net.step)).then(|| Arc::new(net.parameters(b)));
        self.synced = Some(net.step);
        for w in &self.workers {
            let sent = w
                .orders
                .as_ref()
                .is_some_and(|o| o.send(Round(params.clone())).is_ok());
            if !sent {
                return Err(anyhow!("an actor thread has stopped"));
            }
        }
        self.pending = true;
        Ok(())
    }

    /// The games the ordered round finished, actor by actor in order.
    pub fn collect(&mut self) -> Result<Vec<FinishedGame>> {
        self.pending = false;
        let mut finished = Vec::new();
        for w in &mut self.workers {
            finished.extend(receive(w)?);
        }
        Ok(finished)
    }

    /// The pool's actors' counters, summed.
    pub fn counters(&self) -> SelfPlayCounters {
        let mut sum = SelfPlayCounters::default();
        for w in &self.workers {
            sum += w.counters;
        }
        sum
    }
}

/// A pool thread's reply, its counters kept.
fn receive(w: &mut Worker) -> Result<Vec<FinishedGame>> {
    let played = w
        .replies
        .recv()
        .map_err(|_| anyhow!("an actor thread stopped without a word (a bug)"))??;
    w.counters = played.counters;
    Ok(played.finished)
}

/// A pool thread's life: a round per order, until the pool is dropped.
fn serve<B: Backend>(
    mut b: B,
    mut net: Network<B>,
    mut actors: SelfPlay<B>,
    orders: Receiver<Round>,
    replies: Sender<Result<Played>>,
) {
    while let Ok(Round(params)) = orders.recv() {
        let round = || -> Result<Played> {
            if let Some(p) = params {
                net.set_parameters(&mut b, &p)?;
            }
            let finished = actors.round(&mut b)?;
            Ok(Played {
                finished,
                counters: actors.counters,
            })
        };
        if replies.send(round()).is_err() {
            return;
        }
    }
}

impl Drop for ActorPool {
    fn drop(&mut self) {
        // Closing the orders ends each thread's loop after its round.
        for w in &mut self.workers {
            w.orders = None;
        }
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }
}
