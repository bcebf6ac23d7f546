//! `tensorsearch search` through the binary: it finds and writes verified
//! decompositions, survives SIGKILL, resumes, and refuses bad options with
//! one clear line.

mod common;

use common::{assert_clean_failure, run, temp_dir};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Options for a quick CPU search with the tiny model.
fn quick(shape: &str, out: &str) -> Vec<String> {
    quick_warming(shape, out, "20")
}

/// `quick` with `warmup_steps` learner steps before self-play.
fn quick_warming(shape: &str, out: &str, warmup_steps: &str) -> Vec<String> {
    [
        "search",
        shape,
        "--device",
        "cpu",
        "--preset",
        "tiny",
        "--games",
        "4",
        "--samples",
        "8",
        "--simulations",
        "8",
        "--batch",
        "16",
        "--warmup-steps",
        warmup_steps,
        "--out",
        out,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Root images for pure runs that test something else: the default of 256
/// would double this file's time.
const LIGHT_IMAGES: &str = "16";

/// A quick search with `extra` options that must exit 0.
fn quick_ok(shape: &str, out: &str, extra: &[&str]) -> common::Output {
    let mut a = quick(shape, out);
    a.extend(extra.iter().map(|s| s.to_string()));
    let r = run(&args(&a), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(|s| s.as_str()).collect()
}

fn state(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("search.json")).unwrap()).unwrap()
}

#[test]
fn a_short_search_writes_a_verified_best_and_resumes() {
    let dir = temp_dir("search-resume");
    let out = dir.to_str().unwrap();
    // 2x2 times 2x1: the standard rank 4 is optimal, so a short search
    // finds it; it exercises the whole loop on the smallest useful game.
    let mut first = quick("2x2x1", out);
    first.extend(["--target", "4", "--time", "120s"].map(String::from));
    let r = run(&args(&first), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("best rank found: 4"), "{}", r.stdout);
    assert!(r.stdout.contains("tensorsearch export"), "{}", r.stdout);
    let best = dir.join("best.json");
    let v = run(&["verify", best.to_str().unwrap()], &[]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("2x2x1 Z rank 4: ok"), "{}", v.stdout);
    let found: Vec<_> = fs::read_dir(dir.join("found")).unwrap().collect();
    assert!(!found.is_empty(), "each improvement is kept under found/");
    for f in [
        "model.safetensors",
        "checkpoint.json",
        "search.json",
        "metrics.jsonl",
        "progress.svg",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    assert!(fs::read_to_string(dir.join("progress.svg"))
        .unwrap()
        .starts_with("<svg"));

    let before = state(&dir);
    let steps_before = tensorsearch::model::checkpoint::read_meta(&dir)
        .unwrap()
        .step;
    let r = run(
        &["search", "--resume", out, "--device", "cpu", "--steps", "3"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = state(&dir);
    let steps_after = tensorsearch::model::checkpoint::read_meta(&dir)
        .unwrap()
        .step;
    assert_eq!(
        steps_after,
        steps_before + 3,
        "the learner goes on from its checkpoint"
    );
    assert!(after["games"].as_u64() >= before["games"].as_u64());
    assert!(after["simulations"].as_u64() > before["simulations"].as_u64());
    assert_eq!(after["best_rank"], 4);
    assert_eq!(
        after["settings"], before["settings"],
        "a resumed run keeps its settings"
    );

    // Options given again must agree with the checkpoint.
    assert_clean_failure(
        &[
            "search", "--resume", out, "--device", "cpu", "--games", "9", "--steps", "1",
        ],
        "--games 9 conflicts",
    );
    assert_clean_failure(
        &[
            "search", "3x3x3", "--resume", out, "--device", "cpu", "--steps", "1",
        ],
        "conflicts",
    );
    // A fresh run refuses a directory that holds one.
    let mut again = quick("2x2x1", out);
    again.extend(["--steps", "1"].map(String::from));
    assert_clean_failure(&args(&again), "--resume");
    fs::remove_dir_all(&dir).unwrap();
}

/// The run's metrics lines (a run writes one every few seconds and one at its end).
fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The rank of the one scheme in `file`, after `verify` accepts it.
fn verified_rank(file: &Path) -> u64 {
    let v = run(&["verify", file.to_str().unwrap()], &[]);
    assert_eq!(v.code, 0, "{}: {}{}", file.display(), v.stdout, v.stderr);
    let d: serde_json::Value = serde_json::from_str(&fs::read_to_string(file).unwrap()).unwrap();
    d["rank"].as_u64().unwrap()
}

#[test]
fn self_play_and_flips_are_tracked_apart() {
    // With flips: 2x2x2 over Z2, where the walks beside the actors reach
    // 7 at once, long before self-play solves a game by itself.
    let dir = temp_dir("search-apart");
    let out = dir.to_str().unwrap();
    let r = quick_ok(
        "2x2x2",
        out,
        &["--field", "z2", "--target", "7", "--time", "300s"],
    );
    let s = state(&dir);
    assert_eq!(s["best_rank"], 7);
    // Beside flips the batch leans on their schemes, in their own order.
    let settings = &s["settings"];
    assert_eq!(settings["mix"]["best"], 0.8, "{settings}");
    assert_eq!(settings["best_in_order"], 1.0, "{settings}");
    let found: Vec<String> = fs::read_dir(dir.join("found"))
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        found.iter().any(|f| f.starts_with("rank-7-flips-")),
        "{found:?}"
    );
    let own = dir.join("self-play-best.json");
    match s["self_play_best_rank"].as_u64() {
        Some(rank) => {
            assert!(rank >= 7);
            assert_eq!(verified_rank(&own), rank);
            assert!(r
                .stdout
                .contains(&format!("self-play's own best: rank {rank}")));
        }
        None => {
            assert!(!own.exists());
            assert!(
                r.stdout
                    .contains("self-play's own best: no game solved yet"),
                "{}",
                r.stdout
            );
        }
    }
    let lines = metrics(&dir);
    assert!(lines.iter().all(|m| m.get("self_play_best_rank").is_some()));
    for m in &lines {
        if let (Some(best), Some(own)) =
            (m["best_rank"].as_u64(), m["self_play_best_rank"].as_u64())
        {
            assert!(best <= own, "{m}");
        }
    }
    fs::remove_dir_all(&dir).unwrap();

    // Without flips every reported rank is one self-play played.
    let dir = temp_dir("search-pure");
    let out = dir.to_str().unwrap();
    quick_ok(
        "2x2x1",
        out,
        &[
            "--no-polish",
            "--explore-symmetric",
            LIGHT_IMAGES,
            "--target",
            "4",
            "--time",
            "300s",
        ],
    );
    let s = state(&dir);
    assert_eq!(s["best_rank"], 4);
    assert_eq!(s["self_play_best_rank"], 4);
    assert_eq!(
        fs::read(dir.join("best.json")).unwrap(),
        fs::read(dir.join("self-play-best.json")).unwrap()
    );
    let lines = metrics(&dir);
    assert!(!lines.is_empty(), "a run ends with a metrics line");
    for m in lines {
        assert_eq!(m["best_rank"], m["self_play_best_rank"], "{m}");
    }
    for f in fs::read_dir(dir.join("found")).unwrap() {
        let name = f.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name.contains("-self-play-"),
            "{name} was not played by self-play"
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_warm_up_ends_once_the_network_plays_the_best_rank() {
    // Beside the flips, which hand in rank 7 at once, a warm-up of 100,000
    // steps ends as soon as the network, taught their scheme (best games
    // alone), plays rank 7 from T greedily; then the actors play.
    let dir = temp_dir("search-warm-up");
    let out = dir.to_str().unwrap();
    let mut a = quick_warming("2x2x2", out, "100000");
    a.extend(
        [
            "--field",
            "z2",
            "--mix",
            "0,0,1",
            "--steps",
            "600",
            "--moves-per-step",
            "1",
        ]
        .map(String::from),
    );
    let r = run(&args(&a), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = state(&dir);
    let ended = s["warmup_ended_at"]
        .as_u64()
        .unwrap_or_else(|| panic!("the warm-up did not end: {}", r.stdout));
    assert!(ended < 600, "{ended}");
    assert!(
        r.stderr.contains(&format!(
            "plays rank 7 from T by itself at learner step {ended}"
        )),
        "{}",
        r.stderr
    );
    assert!(s["simulations"].as_u64() > Some(0), "{s}");
    // A resumed run does not warm up again: its actors play at once.
    let r = run(
        &["search", "--resume", out, "--device", "cpu", "--steps", "3"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = state(&dir);
    assert!(after["simulations"].as_u64() > s["simulations"].as_u64());
    assert_eq!(after["warmup_ended_at"], s["warmup_ended_at"]);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_shape_beyond_the_flip_engine_is_searched_without_flips() {
    let dir = temp_dir("search-no-flips");
    let out = dir.to_str().unwrap();
    // m·p = 66: more than the 64 coefficients a flip factor holds.
    let r = quick_ok("1x2x33", out, &["--field", "z2", "--steps", "2"]);
    assert!(
        r.stderr.contains("no flip walks beside the actors"),
        "{}",
        r.stderr
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigkill_leaves_best_json_whole() {
    let dir = temp_dir("search-kill");
    let out = dir.to_str().unwrap();
    let mut a = quick("2x2x1", out);
    a.extend(["--time", "300s"].map(String::from));
    let mut child = Command::new(env!("CARGO_BIN_EXE_tensorsearch"))
        .args(&a)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let best = dir.join("best.json");
    let started = Instant::now();
    while !best.exists() && started.elapsed() < Duration::from_secs(240) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(best.exists(), "no decomposition within 240 s");
    let v = run(&["verify", best.to_str().unwrap()], &[]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(
        leftovers.len() <= 1,
        "at most the one write in flight is left behind"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_symmetry_levers_run_are_saved_and_resume_with_the_run() {
    let dir = temp_dir("search-symmetry");
    let out = dir.to_str().unwrap();
    let mut a = quick("2x2x1", out);
    a.extend(
        [
            "--no-polish",
            "--symmetry-views",
            "2",
            "--explore-symmetric",
            "16",
            "--orbit-demos",
            "0.5",
            "--restarts",
            "0.5",
            "--target",
            "4",
            "--time",
            "300s",
        ]
        .map(String::from),
    );
    let r = run(&args(&a), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verified_rank(&dir.join("self-play-best.json")), 4);
    let settings = &state(&dir)["settings"];
    assert_eq!(settings["symmetry_views"], 2, "{settings}");
    assert_eq!(settings["explore_symmetric"], 16, "{settings}");
    assert_eq!(settings["orbit_demos"], 0.5, "{settings}");
    assert_eq!(settings["restarts"], 0.5, "{settings}");
    let last = metrics(&dir).pop().expect("a metrics line");
    assert!(last["restarts"].is_u64(), "{last}");
    // With every new game a restart, the run's games restart from the
    // archive once it holds a prefix.
    let again = temp_dir("search-restarts");
    quick_ok(
        "2x2x1",
        again.to_str().unwrap(),
        &[
            "--no-polish",
            "--explore-symmetric",
            LIGHT_IMAGES,
            "--restarts",
            "1",
            "--steps",
            "120",
        ],
    );
    let last = metrics(&again).pop().expect("a metrics line");
    assert!(last["restarts"].as_u64().unwrap() > 0, "{last}");
    fs::remove_dir_all(&again).unwrap();
    // Pure AlphaTensor keeps its batch: best games in random orders.
    assert_eq!(settings["mix"]["best"], 0.25, "{settings}");
    assert_eq!(settings["best_in_order"], 0.0, "{settings}");
    // A resumed run keeps its levers: another value is refused.
    for (flag, value) in [("--symmetry-views", "3"), ("--restarts", "0")] {
        assert_clean_failure(
            &["search", "--resume", out, "--device", "cpu", flag, value],
            flag,
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn actors_play_on_threads_and_their_count_is_saved() {
    let dir = temp_dir("search-actor-threads");
    let out = dir.to_str().unwrap();
    let r = quick_ok(
        "2x2x1",
        out,
        &[
            "--no-polish",
            "--explore-symmetric",
            LIGHT_IMAGES,
            "--actor-threads",
            "2",
            "--steps",
            "120",
        ],
    );
    assert!(r.stderr.contains("2 actor threads"), "{}", r.stderr);
    assert_eq!(state(&dir)["settings"]["actor_threads"], 2);
    let last = metrics(&dir).pop().expect("a metrics line");
    assert!(last["games"].as_u64().unwrap() > 0, "{last}");
    // A resumed run may take another number of actors (another machine).
    let r = run(
        &[
            "search",
            "--resume",
            out,
            "--device",
            "cpu",
            "--actor-threads",
            "1",
            "--steps",
            "20",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("actor threads"), "{}", r.stderr);
    assert_eq!(state(&dir)["settings"]["actor_threads"], 1);
    fs::remove_dir_all(&dir).unwrap();
}

/// Without options, a pure run (`--no-polish`) takes every core, T's
/// symmetries (8 views, 256 root images, 64 simulations on the CPU), w
/// completion and samples at temperature 1; beside the flip walks, the
/// cores their threads leave, no symmetries, no played games in the
/// batch, no completion and samples at 0.5. `--completion` and
/// `--no-completion` override either mode, and a resumed run keeps its
/// own.
#[test]
fn each_mode_has_its_defaults() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let beside_flips = cores.saturating_sub(1).max(1);
    let runs = [
        ("--no-polish", None, cores, 8, 256, 64, 0.25, true, 1.0),
        (
            "--flip-threads=1",
            None,
            beside_flips,
            0,
            0,
            32,
            0.0,
            false,
            0.5,
        ),
        (
            "--no-polish",
            Some("--no-completion"),
            cores,
            8,
            256,
            64,
            0.25,
            false,
            1.0,
        ),
        (
            "--flip-threads=1",
            Some("--completion"),
            beside_flips,
            0,
            0,
            32,
            0.0,
            true,
            0.5,
        ),
    ];
    for (mode, completion, threads, views, images, simulations, played, complete, temperature) in
        runs
    {
        let dir = temp_dir("search-mode-defaults");
        // quick() sets --simulations; the default is what is checked.
        let mut a: Vec<String> = quick("2x2x1", dir.to_str().unwrap());
        let at = a.iter().position(|x| x == "--simulations").unwrap();
        a.drain(at..at + 2);
        a.extend([mode, "--steps", "2"].map(String::from));
        a.extend(completion.map(String::from));
        let r = run(&args(&a), &[]);
        let what = format!("{mode} {completion:?}");
        assert_eq!(r.code, 0, "{what}: {}", r.stderr);
        let settings = &state(&dir)["settings"];
        assert_eq!(settings["actor_threads"], threads, "{what}");
        assert_eq!(settings["symmetry_views"], views, "{what}");
        assert_eq!(settings["explore_symmetric"], images, "{what}");
        assert_eq!(settings["simulations"], simulations, "{what}");
        assert_eq!(settings["mix"]["played"], played, "{what}");
        assert_eq!(settings["complete_w"], complete, "{what}");
        assert_eq!(settings["sample_temperature"], temperature, "{what}");
        // The opposite flag conflicts with the checkpoint.
        let opposite = if complete {
            "--no-completion"
        } else {
            "--completion"
        };
        let dir_text = dir.to_str().unwrap();
        let r = run(
            &["search", "--resume", dir_text, "--device", "cpu", opposite],
            &[],
        );
        assert_ne!(r.code, 0, "{what}");
        assert!(
            r.stderr
                .contains(&format!("{opposite} conflicts with the checkpoint")),
            "{what}: {}",
            r.stderr
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn bad_search_options_get_one_clear_line() {
    let dir = temp_dir("search-bad");
    let out = dir.join("run");
    let out = out.to_str().unwrap();
    assert_clean_failure(&["search", "0x2x2", "--device", "cpu"], "");
    assert_clean_failure(
        &["search", "2x2x2", "--device", "cpu", "--target", "0"],
        "--target",
    );
    let r = run(&["search", "2x2x2", "--time", "abc"], &[]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("not a duration"), "{}", r.stderr);
    assert_clean_failure(
        &["search", "2x2x2", "--device", "cpu", "--field", "q"],
        "[possible values: z, z2]",
    );
    assert_clean_failure(&["search", "--device", "cpu"], "SHAPE");
    assert_clean_failure(
        &["search", "--resume", out, "--device", "cpu"],
        "no search checkpoint",
    );
    // clap's own errors are one line too.
    assert_clean_failure(
        &[
            "search", "2x2x2", "--device", "cpu", "--mix", "1,2", "--out", out,
        ],
        "three non-negative shares",
    );
    assert_clean_failure(
        &[
            "search", "2x2x2", "--device", "cpu", "--games", "0", "--out", out,
        ],
        "--games",
    );
    for (flag, value) in [
        ("--orbit-demos", "1.5"),
        ("--orbit-demos", "NaN"),
        ("--best-in-order", "1.5"),
        ("--restarts", "1.5"),
        ("--restarts", "NaN"),
        ("--actor-threads", "0"),
        ("--actor-threads", "257"),
        ("--symmetry-views", "65"),
        ("--explore-symmetric", "100000"),
    ] {
        assert_clean_failure(
            &[
                "search", "2x2x2", "--device", "cpu", flag, value, "--out", out,
            ],
            flag,
        );
    }
    // A checkpoint of another shape cannot initialise this run.
    let pre = dir.join("pre");
    let p = run(
        &[
            "pretrain",
            "2x2x1",
            "--device",
            "cpu",
            "--preset",
            "tiny",
            "--steps",
            "1",
            "--batch",
            "2",
            "--eval-states",
            "2",
            "--samples",
            "1",
            "--out",
            pre.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_clean_failure(
        &[
            "search",
            "2x2x2",
            "--device",
            "cpu",
            "--preset",
            "tiny",
            "--init",
            pre.to_str().unwrap(),
            "--steps",
            "1",
            "--out",
            out,
        ],
        "shape",
    );
    // --device is global: before the command too.
    let r = run(&["--device", "cpu", "search", "0x1x1"], &[]);
    assert!(
        r.stderr.starts_with("error:") && !r.stderr.contains("--device"),
        "{}",
        r.stderr
    );
    fs::remove_dir_all(&dir).unwrap();
}
