//! Work shared beyond one process. Workers exchange what they find
//! through one seam, [`Exchange`]: alone (the default, in-process: a
//! run's threads already share its pool) or through a Redis server
//! ([`redis_store`], `--cluster redis://HOST:PORT/NAME`). Nothing read
//! from another worker is believed: every scheme is parsed, checked for
//! the run's shape and field, and verified exactly before it is handed
//! over ([`wire`]).

pub mod games;
pub mod redis_store;
pub mod search_store;
pub mod url;
pub mod wire;

use crate::problem::{Decomposition, Field, Shape};

pub use url::ClusterUrl;

/// What a worker says about itself while it runs.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Heartbeat {
    /// `flip`, `actor` or `learner`.
    pub role: String,
    pub shape: String,
    pub field: Field,
    /// The lowest rank this worker holds (0: none yet).
    pub best: usize,
    #[serde(default)]
    pub flips_per_s: f64,
    /// Self-play games per second (actors), or games taken (the learner).
    #[serde(default)]
    pub games_per_s: f64,
    /// The learner's steps, or the step of an actor's weights.
    #[serde(default)]
    pub learner_step: u64,
    /// Where it runs: host name and process id.
    pub host: String,
    pub pid: u32,
}

/// What the workers of one shape and field exchange.
pub trait Exchange {
    /// Schemes the others found of a rank below `rank`, lowest first, each
    /// verified for the run's shape and field (at most `limit`).
    fn below(&mut self, rank: usize, limit: usize) -> Vec<Decomposition>;
    /// Offers a verified scheme to the others.
    fn publish(&mut self, d: &Decomposition);
    /// Says that this worker is alive.
    fn heartbeat(&mut self, beat: &Heartbeat);
    /// What the user should read since the last call: the server lost or
    /// back, entries refused.
    fn news(&mut self) -> Vec<String>;
    /// Where the others are, for the progress line (None: alone).
    fn describe(&self) -> Option<String>;
}

/// A worker on its own: nothing to share beyond its threads.
pub struct Alone;

impl Exchange for Alone {
    fn below(&mut self, _rank: usize, _limit: usize) -> Vec<Decomposition> {
        vec![]
    }
    fn publish(&mut self, _d: &Decomposition) {}
    fn heartbeat(&mut self, _beat: &Heartbeat) {}
    fn news(&mut self) -> Vec<String> {
        vec![]
    }
    fn describe(&self) -> Option<String> {
        None
    }
}

/// The key space of one shape and field within a cluster's name.
pub fn flip_key(name: &str, shape: Shape, field: Field) -> String {
    format!("ts:{name}:flip:{shape}:{}", field.name())
}

/// This machine's name, for heartbeats.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
