//! A search's part in a cluster (`search --cluster URL --role …`): alone
//! (actors and learner in one process, the default), an actor (self-play
//! only: its games go out, the learner's weights come in), or the learner
//! (its games come in from the actors, its weights go out every few
//! steps). The exchange is `cluster::search_store`.

use crate::cluster::search_store::{GameExchange, Weights};
use crate::cluster::{host_name, Heartbeat};
use crate::engine::Backend;
use crate::model::checkpoint::CheckpointMeta;
use crate::model::Network;
use crate::run::Every;
use anyhow::{anyhow, Result};
use std::time::Duration;

/// How often an actor asks for newer weights, and every worker says it
/// is alive.
const POLL_EVERY: Duration = Duration::from_secs(1);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(3);

pub enum Role {
    Alone,
    Actor(Box<dyn GameExchange>),
    /// With the learner steps between two sendings of its weights.
    Learner(Box<dyn GameExchange>, u32),
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Alone => "alone",
            Role::Actor(_) => "actor",
            Role::Learner(..) => "learner",
        }
    }
}

/// A role with its timers and what it has exchanged.
pub struct Part {
    pub role: Role,
    poll: Every,
    beat: Every,
    /// The learner's step of the weights this actor plays with (0: none
    /// received yet), or the step the learner last sent.
    pub weights_step: u64,
}

impl Part {
    pub fn new(role: Role, step: u32) -> Self {
        Part {
            role,
            poll: Every::new(POLL_EVERY),
            beat: Every::new(HEARTBEAT_EVERY),
            weights_step: step as u64,
        }
    }

    fn exchange(&mut self) -> Option<&mut Box<dyn GameExchange>> {
        match &mut self.role {
            Role::Alone => None,
            Role::Actor(x) | Role::Learner(x, _) => Some(x),
        }
    }

    /// An actor: takes the learner's newest weights when a poll is due
    /// (once a second, waiting for the first weights included), checked
    /// against this network first. Returns what to
    /// tell the user: the weights taken, or why they were refused (the
    /// actor then plays on with what it has, and waits for newer ones).
    pub fn take_weights<B: Backend>(&mut self, b: &mut B, net: &mut Network<B>) -> Option<String> {
        if !matches!(self.role, Role::Actor(_)) || !self.poll.due() {
            return None;
        }
        let have = self.weights_step;
        let w = self.exchange().and_then(|x| x.newer_weights(have))?;
        self.weights_step = w.version;
        let taken = serde_json::from_str::<CheckpointMeta>(&w.meta)
            .map_err(|e| anyhow!("a broken header: {e}"))
            .and_then(|meta| net.load_weights_bytes(b, &meta, &w.bytes));
        Some(match taken {
            Ok(()) => {
                // Its messages and heartbeats name the learner's step.
                net.step = u32::try_from(w.version).unwrap_or(u32::MAX);
                format!("playing with the learner's weights of step {}", w.version)
            }
            Err(e) => format!("refused the cluster's weights of step {}: {e}", w.version),
        })
    }

    /// The learner: sends its weights when `every` steps have passed
    /// since the last sending.
    pub fn send_weights<B: Backend>(
        &mut self,
        b: &mut B,
        net: &Network<B>,
        seed: u64,
    ) -> Result<bool> {
        let Role::Learner(x, every) = &mut self.role else {
            return Ok(false);
        };
        let step = net.step as u64;
        if step < self.weights_step + *every as u64 || step == 0 {
            return Ok(false);
        }
        let weights = Weights {
            version: step,
            meta: serde_json::to_string(&net.meta(seed))?,
            bytes: net.weights_bytes(b)?,
        };
        x.publish_weights(&weights);
        self.weights_step = step;
        Ok(true)
    }

    /// Says this worker is alive, when due.
    pub fn heartbeat(
        &mut self,
        shape: String,
        field: crate::problem::Field,
        best: Option<usize>,
        games_per_s: f64,
        step: u64,
    ) {
        if matches!(self.role, Role::Alone) || !self.beat.due() {
            return;
        }
        let role = self.role.name().to_string();
        if let Some(x) = self.exchange() {
            x.heartbeat(&Heartbeat {
                role,
                shape,
                field,
                best: best.unwrap_or(0),
                flips_per_s: 0.0,
                games_per_s,
                learner_step: step,
                host: host_name(),
                pid: std::process::id(),
            });
        }
    }

    /// A new best scheme (verified), out to the cluster.
    pub fn publish(&mut self, d: &crate::problem::Decomposition) {
        if let Some(x) = self.exchange() {
            x.publish_scheme(d);
        }
    }

    pub fn news(&mut self) -> Vec<String> {
        self.exchange().map(|x| x.news()).unwrap_or_default()
    }
}
