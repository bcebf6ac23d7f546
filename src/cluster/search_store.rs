//! The search's actors and learner on a Redis server. Keys, under one
//! run's NAME, SHAPE and FIELD (`ts:NAME:search:SHAPE:FIELD:…`):
//!
//! - `games`: a stream of finished games ([`games`] records), capped at
//!   [`STREAM_CAP`]; the learner reads it through the consumer group
//!   `learner`, so a restarted learner goes on where it stopped, and
//!   acknowledges each record once it has taken (or refused) it;
//! - `weights`: a hash (`version`, the learner's step; `meta`, the
//!   network's configuration; `chunks`, `bytes`) naming the chunks
//!   `weights:VERSION:I` of a safetensors file, written before the hash so
//!   that a reader never sees a version without its chunks.
//!
//! Actors push their games and take newer weights; an actor that dies
//! loses only the games it had not pushed. Every worker's new best scheme
//! also joins the shape and field's set of schemes that flip workers
//! share.

use super::redis_store::{add_scheme, heartbeat, leave, worker_id, Link};
use super::{games, wire, ClusterUrl, Heartbeat};
use crate::game::record::FinishedGame;
use crate::game::GameConfig;
use crate::problem::Decomposition;
use anyhow::Result;
use std::collections::HashMap;

/// Games kept in the stream (the oldest go first).
pub const STREAM_CAP: usize = 20_000;
/// Bytes per chunk of weights (the large preset's are hundreds of MB).
pub const CHUNK: usize = 4 << 20;
const GROUP: &str = "learner";

/// Weights as a learner sends them.
pub struct Weights {
    /// The learner's step.
    pub version: u64,
    /// The network's configuration (`CheckpointMeta` as JSON).
    pub meta: String,
    pub bytes: Vec<u8>,
}

/// What actors and a learner exchange.
pub trait GameExchange {
    /// An actor's finished games, out to the learner.
    fn push_games(&mut self, games: &[FinishedGame]);
    /// Up to `max` games the actors sent, each checked against `game`.
    fn pull_games(&mut self, game: &GameConfig, max: usize) -> Vec<FinishedGame>;
    /// The learner's weights, out to the actors.
    fn publish_weights(&mut self, weights: &Weights);
    /// Weights newer than `version`, when there are.
    fn newer_weights(&mut self, version: u64) -> Option<Weights>;
    /// A verified scheme found here, into the cluster's set of schemes
    /// of this shape and field (the one flip workers share, which
    /// `cluster status` and `cluster pull` read).
    fn publish_scheme(&mut self, d: &Decomposition);
    fn heartbeat(&mut self, beat: &Heartbeat);
    fn news(&mut self) -> Vec<String>;
}

/// The exchange of one search (shape and field) on Redis.
pub struct RedisGames {
    link: Link,
    prefix: String,
    /// The shape and field's set of schemes (`super::flip_key`).
    schemes: String,
    worker_key: String,
    /// The learner's consumer group exists (made on first read).
    group_ready: bool,
    /// Whether a restarted learner has read back what it had not
    /// acknowledged.
    pending_read: bool,
    previous_chunks: Option<(u64, usize)>,
}

impl RedisGames {
    pub fn join(url: &ClusterUrl, game: &GameConfig) -> Result<Self> {
        Ok(RedisGames {
            link: Link::open(url)?,
            schemes: super::flip_key(&url.name, game.shape, game.field),
            prefix: format!(
                "ts:{}:search:{}:{}",
                url.name,
                game.shape,
                game.field.name()
            ),
            worker_key: format!("ts:{}:worker:{}", url.name, worker_id()),
            group_ready: false,
            pending_read: false,
            previous_chunks: None,
        })
    }

    fn key(&self, part: &str) -> String {
        format!("{}:{part}", self.prefix)
    }

    fn ensure_group(&mut self) -> bool {
        if self.group_ready {
            return true;
        }
        let key = self.key("games");
        let made = self.link.with(|con| {
            match redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&key)
                .arg(GROUP)
                .arg("0")
                .arg("MKSTREAM")
                .query::<()>(con)
            {
                Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
                other => other,
            }
        });
        self.group_ready = made.is_some();
        self.group_ready
    }
}

/// Stream entries as (id, fields).
type Entries = Vec<(String, HashMap<String, String>)>;

impl GameExchange for RedisGames {
    fn push_games(&mut self, finished: &[FinishedGame]) {
        if finished.is_empty() {
            return;
        }
        let key = self.key("games");
        let mut pipe = redis::pipe();
        for g in finished {
            pipe.cmd("XADD")
                .arg(&key)
                .arg("MAXLEN")
                .arg("~")
                .arg(STREAM_CAP)
                .arg("*")
                .arg("g")
                .arg(games::encode(g))
                .ignore();
        }
        self.link.with(|con| pipe.query::<()>(con));
    }

    fn pull_games(&mut self, game: &GameConfig, max: usize) -> Vec<FinishedGame> {
        if !self.ensure_group() {
            return vec![];
        }
        let key = self.key("games");
        // First what this learner had read and not acknowledged before a
        // restart, then new records.
        let from = if self.pending_read { ">" } else { "0" };
        let reply: Option<Option<Vec<(String, Entries)>>> = self.link.with(|con| {
            redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg("learner")
                .arg("COUNT")
                .arg(max)
                .arg("STREAMS")
                .arg(&key)
                .arg(from)
                .query(con)
        });
        let entries: Entries = reply
            .flatten()
            .and_then(|streams| streams.into_iter().next())
            .map(|(_, e)| e)
            .unwrap_or_default();
        // A short read of the pending entries has read them all.
        if from == "0" && entries.len() < max {
            self.pending_read = true;
        }
        let mut out = vec![];
        let mut ids = vec![];
        let mut refused = 0;
        for (id, fields) in entries {
            match fields.get("g").map(|t| games::decode(t, game)) {
                Some(Ok(g)) => out.push(g),
                Some(Err(why)) => {
                    refused += 1;
                    if refused == 1 {
                        self.link
                            .say(format!("refused a game record of the cluster: {why}"));
                    }
                }
                None => refused += 1,
            }
            ids.push(id);
        }
        if refused > 1 {
            self.link.say(format!(
                "refused {refused} game records of the cluster in all"
            ));
        }
        if !ids.is_empty() {
            self.link.with(|con| {
                redis::cmd("XACK")
                    .arg(&key)
                    .arg(GROUP)
                    .arg(&ids)
                    .query::<()>(con)
            });
        }
        out
    }

    fn publish_weights(&mut self, w: &Weights) {
        let chunks: Vec<&[u8]> = w.bytes.chunks(CHUNK).collect();
        let (header, prefix) = (self.key("weights"), self.key("weights"));
        let mut pipe = redis::pipe();
        for (i, c) in chunks.iter().enumerate() {
            pipe.cmd("SET")
                .arg(format!("{prefix}:{}:{i}", w.version))
                .arg(*c)
                .ignore();
        }
        pipe.cmd("HSET")
            .arg(&header)
            .arg("version")
            .arg(w.version)
            .arg("meta")
            .arg(&w.meta)
            .arg("chunks")
            .arg(chunks.len())
            .arg("bytes")
            .arg(w.bytes.len())
            .ignore();
        // The previous version's chunks go once the new ones are named.
        if let Some((v, n)) = self.previous_chunks.filter(|(v, _)| *v != w.version) {
            for i in 0..n {
                pipe.cmd("DEL").arg(format!("{prefix}:{v}:{i}")).ignore();
            }
        }
        if self.link.with(|con| pipe.query::<()>(con)).is_some() {
            self.previous_chunks = Some((w.version, chunks.len()));
        }
    }

    fn newer_weights(&mut self, version: u64) -> Option<Weights> {
        let header = self.key("weights");
        let h: HashMap<String, String> = self
            .link
            .with(|con| redis::cmd("HGETALL").arg(&header).query(con))?;
        let newest: u64 = h.get("version")?.parse().ok()?;
        if newest <= version {
            return None;
        }
        let chunks: usize = h.get("chunks")?.parse().ok()?;
        let bytes: usize = h.get("bytes")?.parse().ok()?;
        let meta = h.get("meta")?.clone();
        let keys: Vec<String> = (0..chunks)
            .map(|i| format!("{header}:{newest}:{i}"))
            .collect();
        let parts: Vec<Option<Vec<u8>>> = self
            .link
            .with(|con| redis::cmd("MGET").arg(&keys).query(con))?;
        // A version replaced while it was read: the next poll takes the newer.
        let data: Vec<u8> = parts.into_iter().collect::<Option<Vec<_>>>()?.concat();
        (data.len() == bytes).then_some(Weights {
            version: newest,
            meta,
            bytes: data,
        })
    }

    fn publish_scheme(&mut self, d: &Decomposition) {
        add_scheme(&mut self.link, &self.schemes, d.rank(), &wire::encode(d));
    }

    fn heartbeat(&mut self, beat: &Heartbeat) {
        heartbeat(&mut self.link, &self.worker_key, beat);
    }

    fn news(&mut self) -> Vec<String> {
        self.link.news()
    }
}

impl Drop for RedisGames {
    fn drop(&mut self) {
        leave(&mut self.link, &self.worker_key);
    }
}
