//! Flip workers sharing a pool, and a learner fed by actors, through a
//! real Redis server, which each test starts on a free loopback port (no persistence) and stops. Without
//! `redis-server` the tests say so and pass, unless
//! TENSORSEARCH_REQUIRE_REDIS=1 (as CI sets it).

mod common;

use common::{assert_clean_failure, run, temp_dir};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tensorsearch::problem::{json, verify, Decomposition, Field};

const BIN: &str = env!("CARGO_BIN_EXE_tensorsearch");
const STRASSEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/strassen.json");

/// A redis-server of this test's own, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start() -> Option<Server> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok();
        if !found {
            let required = std::env::var("TENSORSEARCH_REQUIRE_REDIS").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "redis-server is not installed, and TENSORSEARCH_REQUIRE_REDIS=1"
            );
            eprintln!("skipped: redis-server is not installed");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.connection().is_err() {
            assert!(Instant::now() < deadline, "redis-server did not answer");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    fn url(&self, name: &str) -> String {
        format!("redis://127.0.0.1:{}/{name}", self.port)
    }

    fn connection(&self) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        let mut con = client.get_connection_with_timeout(Duration::from_secs(1))?;
        redis::cmd("PING").query::<String>(&mut con)?;
        Ok(con)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs")
}

fn finish(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A worker's command line: `head`, then `extra`, then the cluster `url`
/// and the output directory `out`.
fn worker_args(head: &[&str], extra: &[&str], url: &str, out: &Path) -> Vec<String> {
    let mut args: Vec<String> = head.iter().chain(extra).map(|s| s.to_string()).collect();
    args.extend([
        "--cluster".into(),
        url.into(),
        "--out".into(),
        out.display().to_string(),
    ]);
    args
}

/// `flip SHAPE` on one CPU thread for `time`, in the cluster `url`,
/// writing to `out`, with `extra` options.
fn flip_args(shape: &str, time: &str, url: &str, out: &Path, extra: &[&str]) -> Vec<String> {
    let head = [
        "flip",
        shape,
        "--device",
        "cpu",
        "--threads",
        "1",
        "--time",
        time,
    ];
    worker_args(&head, extra, url, out)
}

fn spawn_flip(args: &[String]) -> Child {
    spawn(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn run_flip(args: &[String]) -> common::Output {
    run(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
}

/// The rank of a run's best.json, verified.
fn best_rank(dir: &Path) -> usize {
    let d = json::read_file(&dir.join("best.json")).unwrap().remove(0);
    verify(&d, d.field).unwrap();
    d.rank()
}

#[test]
fn flip_workers_share_one_pool_and_a_joiner_starts_from_it() {
    let Some(server) = Server::start() else {
        return;
    };
    let url = server.url("share");
    let dir = temp_dir("cluster-share");
    let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
    // A walks 4x4x4 from the standard algorithm; on one thread it stays
    // above 49 for far longer than this run.
    let walker = spawn_flip(&flip_args("4x4x4", "6s", &url, &a, &[]));
    std::thread::sleep(Duration::from_secs(2));
    // B starts at 49 (Strassen ⊗ Strassen) and publishes it.
    let product = format!("product:{STRASSEN},{STRASSEN}");
    let r = run_flip(&flip_args("4x4x4", "1s", &url, &b, &["--from", &product]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let (code, stdout, stderr) = finish(walker);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("rank 49 from the cluster (verified)"),
        "A did not take B's scheme: {stderr}"
    );
    assert!(best_rank(&a) <= 49);
    // C joins afterwards and starts from the cluster's pool.
    let r = run_flip(&flip_args("4x4x4", "1s", &url, &c, &[]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let joined = r
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("joined the cluster's pool at rank "))
        .and_then(|l| l.split(' ').next()?.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("C did not join the pool: {}", r.stderr));
    assert!(joined <= 49, "{}", r.stderr);
    assert!(best_rank(&c) <= joined);
    // status and pull see the same, verified.
    let s = run(&["cluster", "status", &url], &[]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    let line = s
        .stdout
        .lines()
        .find(|l| l.contains("4x4x4 over Z2: best rank"))
        .unwrap_or_else(|| panic!("{}", s.stdout));
    let cluster_best: usize = line
        .split("best rank ")
        .nth(1)
        .and_then(|t| t.split(' ').next()?.parse().ok())
        .unwrap();
    assert!(cluster_best <= joined, "{line}");
    let pulled = dir.join("pulled.json");
    let p = run(
        &[
            "cluster",
            "pull",
            &url,
            "4x4x4",
            "--out",
            pulled.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    let d = json::read_file(&pulled).unwrap().remove(0);
    verify(&d, Field::Z2).unwrap();
    assert_eq!(d.rank(), cluster_best);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_killed_worker_or_a_lost_server_loses_nothing_found() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let url = server.url("losses");
    let dir = temp_dir("cluster-losses");
    let (a, b) = (dir.join("a"), dir.join("b"));
    let args = |out: &Path| flip_args("3x3x3", "4s", &url, out, &[]);
    let mut killed = spawn_flip(&args(&a));
    let survivor = spawn_flip(&args(&b));
    std::thread::sleep(Duration::from_millis(1500));
    killed.kill().unwrap(); // SIGKILL
    killed.wait().unwrap();
    let (code, stdout, stderr) = finish(survivor);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(best_rank(&b) <= 23 + 4, "{stdout}");
    // What the killed worker had written is whole and verifies.
    if a.join("best.json").exists() {
        best_rank(&a);
    }
    // The server goes away mid-run: the worker walks on alone and says so.
    let c = dir.join("c");
    let worker = spawn_flip(&args(&c));
    std::thread::sleep(Duration::from_millis(1500));
    server.stop();
    let (code, stdout, stderr) = finish(worker);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("lost the cluster"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(best_rank(&c) <= 23 + 4, "{stdout}");
    // Unreachable at the start: one line, and no run directory.
    let d = dir.join("d");
    assert_clean_failure(
        &[
            "flip",
            "2x2x2",
            "--cluster",
            &url,
            "--out",
            d.to_str().unwrap(),
        ],
        "cannot reach the cluster",
    );
    assert!(!d.exists());
    assert_clean_failure(&["cluster", "status", &url], "cannot reach the cluster");
    let e = dir.join("e");
    let e_out = e.to_str().unwrap();
    assert_clean_failure(
        &[
            "search",
            "2x2x2",
            "--cluster",
            &url,
            "--role",
            "learner",
            "--out",
            e_out,
        ],
        "cannot reach the cluster",
    );
    assert!(!e.exists());
    assert_clean_failure(
        &["search", "2x2x2", "--role", "actor"],
        "are for a --cluster",
    );
    assert_clean_failure(&["search", "2x2x2", "--cluster", &url], "needs --role");
    assert_clean_failure(
        &[
            "search",
            "2x2x2",
            "--cluster",
            &url,
            "--role",
            "actor",
            "--publish-every",
            "5",
        ],
        "for the learner",
    );
    assert_clean_failure(
        &["flip", "2x2x2", "--cluster", "redis://127.0.0.1:6379"],
        "names no run",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn entries_that_do_not_verify_are_refused_and_removed() {
    let Some(server) = Server::start() else {
        return;
    };
    let url = server.url("tampered");
    let dir = temp_dir("cluster-tampered");
    let mut con = server.connection().unwrap();
    let key = "ts:tampered:flip:2x2x2:Z2";
    // Strassen mod 2 with one coefficient changed, a scheme of another
    // shape, and bytes that are not a scheme, each claiming a low rank.
    let mut broken = Decomposition::strassen();
    broken.field = Field::Z2;
    for x in broken
        .u
        .iter_mut()
        .chain(&mut broken.v)
        .chain(&mut broken.w)
        .flatten()
    {
        *x = num_rational::Ratio::from_integer(x.to_integer().rem_euclid(2));
    }
    broken.u[0][1] = num_rational::Ratio::from_integer(1);
    let other = Decomposition::standard(
        tensorsearch::problem::Shape::new(2, 2, 3).unwrap(),
        Field::Z2,
    );
    for (rank, text) in [
        (1, "not a scheme".to_string()),
        (2, json::to_json_line(&broken)),
        (3, json::to_json_line(&other)),
    ] {
        redis::cmd("ZADD")
            .arg(key)
            .arg(rank)
            .arg(text)
            .query::<()>(&mut con)
            .unwrap();
    }
    let out = dir.join("p.json");
    assert_clean_failure(
        &[
            "cluster",
            "pull",
            &url,
            "2x2x2",
            "--out",
            out.to_str().unwrap(),
        ],
        "none of the cluster's 3 schemes of 2x2x2 over Z2 verifies",
    );
    assert!(!out.exists());
    let s = run(&["cluster", "status", &url], &[]);
    assert!(
        s.stdout.contains("2x2x2 over Z2: best none verifies"),
        "{}",
        s.stdout
    );
    // A worker refuses all three, removes them, and finds 7 by itself.
    let w = dir.join("w");
    let r = run_flip(&flip_args("2x2x2", "20s", &url, &w, &["--target", "7"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stderr.matches("refused an entry of the cluster").count(),
        3,
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("does not verify"), "{}", r.stderr);
    assert_eq!(best_rank(&w), 7);
    let left: Vec<String> = redis::cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert!(left.iter().all(|t| !t.contains("not a scheme")), "{left:?}");
    assert_eq!(
        left.len(),
        2,
        "the standard start and the worker's 7: {left:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The last line of a run's metrics.jsonl.
fn last_metrics(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

/// `search 2x2x2` for `time` as `role`, in the cluster `url`.
fn search_args(role: &str, time: &str, url: &str, out: &Path, extra: &[&str]) -> Vec<String> {
    let head = [
        "--device", "cpu", "search", "2x2x2", "--time", time, "--role", role,
    ];
    worker_args(&head, extra, url, out)
}

#[test]
fn a_learner_trains_on_two_actors_games_and_outlives_a_killed_actor() {
    let Some(server) = Server::start() else {
        return;
    };
    let url = server.url("search");
    let dir = temp_dir("cluster-search");
    let (l, a1, a2) = (dir.join("learner"), dir.join("a1"), dir.join("a2"));
    // The learner's flips find Strassen's rank and send it to the
    // cluster's schemes; the actors play without flips.
    // 16 simulations a move: a debug build beside the other tests in
    // parallel finishes a round of 16 games well within the actors' 12 s
    // (with the default 64 it played 7,184 of a round's 8,192).
    let learner_options = [
        "--warmup-steps",
        "10",
        "--publish-every",
        "10",
        "--simulations",
        "16",
    ];
    let learner = spawn_flip(&search_args("learner", "16s", &url, &l, &learner_options));
    std::thread::sleep(Duration::from_secs(1));
    let first = spawn_flip(&search_args(
        "actor",
        "12s",
        &url,
        &a1,
        &["--no-polish", "--simulations", "16"],
    ));
    let mut second = spawn_flip(&search_args(
        "actor",
        "12s",
        &url,
        &a2,
        &["--no-polish", "--seed", "2", "--simulations", "16"],
    ));
    std::thread::sleep(Duration::from_secs(7));
    second.kill().unwrap(); // SIGKILL: it loses only the games in flight
    second.wait().unwrap();
    let (code, stdout, stderr) = finish(first);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("playing with the learner's weights of step"),
        "{stderr}"
    );
    let (code, stdout, stderr) = finish(learner);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let m = last_metrics(&l);
    let (games, steps) = (
        m["games"].as_u64().unwrap(),
        m["learner_steps"].as_u64().unwrap(),
    );
    let played = last_metrics(&a1)["games"].as_u64().unwrap();
    assert!(
        games >= played.min(1) && games > 0,
        "the learner took {games} games: {m}"
    );
    assert!(steps > 10, "{m}");
    // The learner's best scheme is in the cluster's set, verified.
    let pulled = dir.join("pulled.json");
    let p = run_flip(
        &[
            "cluster",
            "pull",
            &url,
            "2x2x2",
            "--field",
            "z",
            "--out",
            pulled.to_str().unwrap(),
        ]
        .map(String::from),
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    let d = json::read_file(&pulled).unwrap().remove(0);
    verify(&d, Field::Z).unwrap();
    assert_eq!(d.rank(), 7);
    // A record that is not a game is refused (forged games: the unit tests
    // of cluster::games), and the restarted learner goes on from its
    // checkpoint and the stream.
    let mut con = server.connection().unwrap();
    let stream = "ts:search:search:2x2x2:Z:games";
    redis::cmd("XADD")
        .arg(stream)
        .arg("*")
        .arg("g")
        .arg("{\"tensor\":")
        .query::<String>(&mut con)
        .unwrap();
    let resumed = run_flip(
        &[
            "--device",
            "cpu",
            "search",
            "--resume",
            l.to_str().unwrap(),
            "--time",
            "3s",
            "--role",
            "learner",
            "--cluster",
            &url,
        ]
        .map(String::from),
    );
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert!(
        resumed.stderr.contains("refused a game record"),
        "{}",
        resumed.stderr
    );
    assert!(last_metrics(&l)["learner_steps"].as_u64().unwrap() >= steps);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn weights_larger_than_a_chunk_arrive_whole_and_only_when_newer() {
    use tensorsearch::cluster::search_store::{GameExchange, RedisGames, Weights, CHUNK};
    use tensorsearch::cluster::ClusterUrl;
    use tensorsearch::game::GameConfig;
    let Some(server) = Server::start() else {
        return;
    };
    let url = ClusterUrl::parse(&server.url("chunks")).unwrap();
    let game = GameConfig::new(
        tensorsearch::problem::Shape::new(2, 2, 2).unwrap(),
        Field::Z2,
        1,
        8,
    );
    let mut learner = RedisGames::join(&url, &game).unwrap();
    let mut actor = RedisGames::join(&url, &game).unwrap();
    assert!(actor.newer_weights(0).is_none());
    // Two chunks and a part, as a large preset's weights are many.
    let bytes: Vec<u8> = (0..2 * CHUNK + 12_345).map(|i| (i % 251) as u8).collect();
    for version in [10, 20] {
        learner.publish_weights(&Weights {
            version,
            meta: "{}".into(),
            bytes: bytes.clone(),
        });
    }
    let w = actor.newer_weights(0).unwrap();
    assert_eq!((w.version, w.bytes.len()), (20, bytes.len()));
    assert!(w.bytes == bytes);
    assert!(actor.newer_weights(20).is_none());
    // The replaced version's chunks are gone.
    let mut con = server.connection().unwrap();
    let old: Option<Vec<u8>> = redis::cmd("GET")
        .arg("ts:chunks:search:2x2x2:Z2:weights:10:0")
        .query(&mut con)
        .unwrap();
    assert!(old.is_none());
}
