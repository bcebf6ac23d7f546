//! The [`Exchange`] on a Redis server, through the synchronous `redis`
//! client. Keys, under one run's NAME:
//!
//! - `ts:NAME:flip:SHAPE:FIELD`: a sorted set of schemes (our JSON, terms
//!   sorted), scored by rank, holding the [`KEEP`] lowest;
//! - `ts:NAME:worker:ID`: each worker's [`Heartbeat`], expiring after
//!   [`ALIVE_S`] seconds unless renewed, so a killed worker drops out.
//!
//! A server lost mid-run costs nothing but the sharing: the worker keeps
//! walking alone, retries with a growing pause, says so, and publishes
//! its best again when the server is back.

use super::{flip_key, wire, ClusterUrl, Exchange, Heartbeat};
use crate::problem::{Decomposition, Field, Shape};
use anyhow::{anyhow, Result};
use redis::{Connection, RedisResult};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Schemes kept per shape and field: the lowest ranks.
pub const KEEP: isize = 200;
/// Seconds a heartbeat lasts; workers renew theirs every few seconds.
pub const ALIVE_S: u64 = 10;
/// The longest a command waits for the server.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Pauses between tries to reach a lost server.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(30);

/// A connection with the timeouts every command here relies on: one
/// line when the server cannot be reached.
pub fn connect(url: &ClusterUrl) -> Result<Connection> {
    let fail = |e: redis::RedisError| anyhow!("cannot reach the cluster at {url}: {e}");
    let client = redis::Client::open(url.server.as_str()).map_err(fail)?;
    let mut con = client.get_connection_with_timeout(TIMEOUT).map_err(fail)?;
    con.set_read_timeout(Some(TIMEOUT)).map_err(fail)?;
    con.set_write_timeout(Some(TIMEOUT)).map_err(fail)?;
    redis::cmd("PING").query::<String>(&mut con).map_err(fail)?;
    Ok(con)
}

/// A connection that comes back: commands run while the server answers;
/// once it does not, the caller goes on alone and the link retries after
/// pauses that grow to [`LAST_RETRY`], saying so.
pub struct Link {
    url: ClusterUrl,
    con: Option<Connection>,
    retry_at: Instant,
    backoff: Duration,
    /// Set when the server came back since [`Link::take_reconnected`].
    reconnected: bool,
    news: Vec<String>,
}

impl Link {
    /// Connects, or fails with one line.
    pub fn open(url: &ClusterUrl) -> Result<Self> {
        Ok(Link {
            con: Some(connect(url)?),
            url: url.clone(),
            retry_at: Instant::now(),
            backoff: FIRST_RETRY,
            reconnected: false,
            news: vec![],
        })
    }

    pub fn url(&self) -> &ClusterUrl {
        &self.url
    }

    pub fn is_up(&self) -> bool {
        self.con.is_some()
    }

    /// Runs `f` on the connection, reconnecting when a pause has passed;
    /// None while the server is away.
    pub fn with<T>(&mut self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> Option<T> {
        if self.con.is_none() {
            if Instant::now() < self.retry_at {
                return None;
            }
            match connect(&self.url) {
                Ok(con) => {
                    self.con = Some(con);
                    self.backoff = FIRST_RETRY;
                    self.reconnected = true;
                    self.news.push(format!(
                        "the cluster at {} is back: sharing again",
                        self.url
                    ));
                }
                Err(_) => {
                    self.backoff = (self.backoff * 2).min(LAST_RETRY);
                    self.retry_at = Instant::now() + self.backoff;
                    self.news.push(format!(
                        "the cluster at {} is still unreachable: going on alone, next try in {} s",
                        self.url,
                        self.backoff.as_secs()
                    ));
                    return None;
                }
            }
        }
        let con = self.con.as_mut()?;
        match f(con) {
            Ok(v) => Some(v),
            Err(e) => {
                self.con = None;
                self.backoff = FIRST_RETRY;
                self.retry_at = Instant::now() + self.backoff;
                self.news.push(format!(
                    "lost the cluster at {} ({e}): going on alone, retrying with growing pauses",
                    self.url
                ));
                None
            }
        }
    }

    /// Whether the server came back since the last call.
    pub fn take_reconnected(&mut self) -> bool {
        std::mem::take(&mut self.reconnected)
    }

    pub fn say(&mut self, line: String) {
        self.news.push(line);
    }

    pub fn news(&mut self) -> Vec<String> {
        std::mem::take(&mut self.news)
    }
}

/// A worker's name in heartbeats: host, process, and a random tag.
pub fn worker_id() -> String {
    format!(
        "{}-{}-{:08x}",
        super::host_name(),
        std::process::id(),
        rand::random::<u32>()
    )
}

/// One worker's view of the cluster for one shape and field.
pub struct RedisExchange {
    link: Link,
    key: String,
    worker_key: String,
    shape: Shape,
    field: Field,
    /// Our lowest scheme published, sent again after the server is back
    /// (it may have restarted empty).
    mine: Option<(usize, String)>,
    refused: HashSet<String>,
}

impl RedisExchange {
    /// Joins the cluster at `url` for `shape` over `field`; fails with one
    /// line when the server cannot be reached.
    pub fn join(url: &ClusterUrl, shape: Shape, field: Field) -> Result<Self> {
        Ok(RedisExchange {
            link: Link::open(url)?,
            key: flip_key(&url.name, shape, field),
            worker_key: format!("ts:{}:worker:{}", url.name, worker_id()),
            shape,
            field,
            mine: None,
            refused: HashSet::new(),
        })
    }

    fn add(&mut self, rank: usize, text: &str) {
        add_scheme(&mut self.link, &self.key, rank, text);
        self.republish_if_back();
    }

    /// After the server came back (perhaps restarted empty), our lowest
    /// scheme goes out again.
    fn republish_if_back(&mut self) {
        if self.link.take_reconnected() {
            if let Some((rank, text)) = &self.mine {
                add_scheme(&mut self.link, &self.key, *rank, text);
            }
        }
    }
}

/// Adds a scheme's text to the sorted set `key` at its rank, keeping the
/// [`KEEP`] lowest.
pub fn add_scheme(link: &mut Link, key: &str, rank: usize, text: &str) {
    link.with(|con| {
        redis::pipe()
            .cmd("ZADD")
            .arg(key)
            .arg(rank)
            .arg(text)
            .ignore()
            .cmd("ZREMRANGEBYRANK")
            .arg(key)
            .arg(KEEP)
            .arg(-1)
            .ignore()
            .query::<()>(con)
    });
}

/// Renews `key`'s heartbeat through `link`.
pub fn heartbeat(link: &mut Link, key: &str, beat: &Heartbeat) {
    let Ok(text) = serde_json::to_string(beat) else {
        return;
    };
    link.with(|con| {
        redis::cmd("SET")
            .arg(key)
            .arg(&text)
            .arg("EX")
            .arg(ALIVE_S)
            .query::<()>(con)
    });
}

/// Takes `key`'s heartbeat away at once (a worker that ends cleanly).
pub fn leave(link: &mut Link, key: &str) {
    if link.is_up() {
        link.with(|con| redis::cmd("DEL").arg(key).query::<()>(con));
    }
}

impl Exchange for RedisExchange {
    fn below(&mut self, rank: usize, limit: usize) -> Vec<Decomposition> {
        let key = self.key.clone();
        let entries: Vec<String> = self
            .link
            .with(|con| {
                redis::cmd("ZRANGEBYSCORE")
                    .arg(&key)
                    .arg("-inf")
                    .arg(format!("({rank}"))
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit)
                    .query(con)
            })
            .unwrap_or_default();
        self.republish_if_back();
        let mut out = vec![];
        for text in entries {
            match wire::decode(&text, self.shape, self.field) {
                Ok(d) => out.push(d),
                Err(why) => {
                    // Never trusted, and taken out so that no one reads it again.
                    if self.refused.insert(text.clone()) {
                        self.link.say(format!(
                            "refused an entry of the cluster ({why}); removed it"
                        ));
                    }
                    self.link
                        .with(|con| redis::cmd("ZREM").arg(&key).arg(&text).query::<()>(con));
                }
            }
        }
        out.sort_by_key(Decomposition::rank);
        out
    }

    fn publish(&mut self, d: &Decomposition) {
        let text = wire::encode(d);
        if self.mine.as_ref().is_none_or(|(r, _)| d.rank() < *r) {
            self.mine = Some((d.rank(), text.clone()));
        }
        self.add(d.rank(), &text);
    }

    fn heartbeat(&mut self, beat: &Heartbeat) {
        heartbeat(&mut self.link, &self.worker_key, beat);
    }

    fn news(&mut self) -> Vec<String> {
        self.link.news()
    }

    fn describe(&self) -> Option<String> {
        Some(match self.link.is_up() {
            true => format!("cluster {}", self.link.url().name),
            false => format!("cluster {} unreachable", self.link.url().name),
        })
    }
}

impl Drop for RedisExchange {
    /// A worker that ends says so at once (a killed one expires).
    fn drop(&mut self) {
        leave(&mut self.link, &self.worker_key);
    }
}

/// Every key matching `pattern` (SCAN, never KEYS: the server keeps serving).
fn scan(con: &mut Connection, pattern: &str) -> RedisResult<Vec<String>> {
    let (mut cursor, mut keys) = (0u64, vec![]);
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(500)
            .query(con)?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// The workers alive in the cluster `name` (heartbeats that do not parse
/// are counted apart).
pub fn workers(con: &mut Connection, name: &str) -> Result<(Vec<Heartbeat>, usize)> {
    let mut alive = vec![];
    let mut unreadable = 0;
    for key in scan(con, &format!("ts:{name}:worker:*"))? {
        let text: Option<String> = redis::cmd("GET").arg(&key).query(con)?;
        match text.and_then(|t| serde_json::from_str::<Heartbeat>(&t).ok()) {
            Some(beat) => alive.push(beat),
            None => unreadable += 1,
        }
    }
    Ok((alive, unreadable))
}

/// The shapes and fields with schemes in the cluster `name`.
pub fn flip_keys(con: &mut Connection, name: &str) -> Result<Vec<(Shape, Field)>> {
    let prefix = format!("ts:{name}:flip:");
    let mut out = vec![];
    for key in scan(con, &format!("{prefix}*"))? {
        let rest = &key[prefix.len()..];
        let Some((shape, field)) = rest.split_once(':') else {
            continue;
        };
        if let (Ok(shape), Ok(field)) = (shape.parse::<Shape>(), field.parse::<Field>()) {
            out.push((shape, field));
        }
    }
    Ok(out)
}

/// The lowest-rank scheme of `shape` over `field` in the cluster `name`
/// that verifies, with how many entries below it did not (and are left
/// for the workers to remove).
pub fn best_verified(
    con: &mut Connection,
    name: &str,
    shape: Shape,
    field: Field,
) -> Result<(Option<Decomposition>, usize, usize)> {
    let key = flip_key(name, shape, field);
    let entries: Vec<String> = redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).query(con)?;
    let count = entries.len();
    let mut refused = 0;
    for text in entries {
        match wire::decode(&text, shape, field) {
            Ok(d) => return Ok((Some(d), refused, count)),
            Err(_) => refused += 1,
        }
    }
    Ok((None, refused, count))
}
