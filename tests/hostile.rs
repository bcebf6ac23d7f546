//! Hostile input through the binary: tampered run directories, outputs
//! that are not regular files, a user's files in the way, and extreme
//! option values. Each gives one clear line and a non-zero exit where it
//! refuses, never a panic, never a false claim, and no file changed that
//! the command should not touch.

mod common;

use common::{assert_clean_failure, run, snapshot, temp_dir};
use std::fs;
use std::path::Path;

/// A finished flip run of 2x2x2 over Z2 at rank 7 in `out`.
fn flip_run(out: &Path) {
    let r = run(
        &[
            "flip",
            "2x2x2",
            "--device",
            "cpu",
            "--target",
            "7",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

/// A short search run over Z2 in `out` (one learner step, nothing found).
fn search_run(out: &Path) {
    let r = run(
        &[
            "search",
            "2x2x2",
            "--field",
            "z2",
            "--device",
            "cpu",
            "--preset",
            "tiny",
            "--games",
            "2",
            "--samples",
            "2",
            "--simulations",
            "2",
            "--batch",
            "4",
            "--warmup-steps",
            "1",
            "--steps",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    fs::write(path, serde_json::to_string(&v).unwrap()).unwrap();
}

fn verify_ok(path: &Path, field: &str) -> bool {
    run(&["verify", "--field", field, path.to_str().unwrap()], &[]).code == 0
}

#[test]
fn a_tampered_flip_run_is_refused_not_believed() {
    let dir = temp_dir("hostile-flip");
    let out = dir.join("run");
    flip_run(&out);
    let o = out.to_str().unwrap();
    let state = out.join("state.json");
    let original = fs::read(&state).unwrap();

    // The state's shape edited: it disagrees with the run's identity.
    edit_json(&state, |v| {
        v["settings"]["shape"] = serde_json::json!([4, 4, 4])
    });
    let before = snapshot(&out);
    assert_clean_failure(
        &["flip", "--resume", o, "--device", "cpu"],
        "refusing to resume",
    );
    assert_eq!(snapshot(&out), before, "a refused resume changed the run");

    // Identity and state both edited: the saved schemes are not of 4x4x4.
    edit_json(&out.join("run.json"), |v| {
        v["shape"] = serde_json::json!([4, 4, 4])
    });
    assert_clean_failure(
        &["flip", "--resume", o, "--device", "cpu"],
        "refusing to resume",
    );

    // One bit of a pool scheme flipped.
    edit_json(&out.join("run.json"), |v| {
        v["shape"] = serde_json::json!([2, 2, 2])
    });
    fs::write(&state, &original).unwrap();
    edit_json(&state, |v| {
        let first = &mut v["state"]["pool"][0][0][0];
        *first = serde_json::json!(first.as_u64().unwrap() ^ 1);
    });
    assert_clean_failure(
        &["flip", "--resume", o, "--device", "cpu"],
        "saved scheme 0",
    );

    // best.json replaced by a wrong scheme: refused, naming the file.
    fs::write(&state, &original).unwrap();
    let best = out.join("best.json");
    let text = fs::read_to_string(&best).unwrap();
    let flipped = text.replacen("[1,", "[0,", 1);
    assert_ne!(text, flipped);
    fs::write(&best, flipped).unwrap();
    assert_clean_failure(
        &["flip", "--resume", o, "--device", "cpu", "--time", "1s"],
        "best.json cannot be trusted",
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_run_directory_is_never_taken_over() {
    let dir = temp_dir("hostile-takeover");
    let flips = dir.join("flips");
    flip_run(&flips);
    let f = flips.to_str().unwrap();
    let before = snapshot(&flips);
    assert_clean_failure(
        &["flip", "3x3x3", "--device", "cpu", "--out", f],
        "already holds a flip run of 2x2x2 over Z2",
    );
    assert_clean_failure(
        &["search", "2x2x2", "--device", "cpu", "--out", f],
        "already holds a flip run of 2x2x2 over Z2",
    );
    assert_clean_failure(
        &["search", "--resume", f, "--device", "cpu"],
        "not a search run",
    );
    assert_clean_failure(
        &["pretrain", "--resume", f, "--device", "cpu", "--steps", "1"],
        "not a pretrain run",
    );
    assert_eq!(
        snapshot(&flips),
        before,
        "a refused command changed the run"
    );

    let searched = dir.join("search");
    search_run(&searched);
    let s = searched.to_str().unwrap();
    let before = snapshot(&searched);
    assert_clean_failure(
        &["pretrain", "--resume", s, "--device", "cpu", "--steps", "1"],
        "holds a search run of 2x2x2 over Z2, not a pretrain run",
    );
    assert_clean_failure(
        &["search", "2x2x2", "--device", "cpu", "--out", s],
        "already holds a search run",
    );
    assert_clean_failure(
        &["flip", "--resume", s, "--device", "cpu"],
        "not a flip run",
    );
    assert_eq!(
        snapshot(&searched),
        before,
        "a refused command changed the run"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_tampered_search_run_is_refused_not_believed() {
    let dir = temp_dir("hostile-search");
    let out = dir.join("run");
    search_run(&out);
    let o = out.to_str().unwrap();
    let resume = ["search", "--resume", o, "--device", "cpu", "--steps", "1"];
    let state = out.join("search.json");
    let original = fs::read(&state).unwrap();

    // A best rank with no scheme behind it.
    edit_json(&state, |v| v["best_rank"] = serde_json::json!(2));
    assert_clean_failure(&resume, "says best rank 2, but there is no best.json");
    // A valid scheme, but not the rank the state claims.
    let strassen = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/strassen.json");
    fs::copy(strassen, out.join("best.json")).unwrap();
    assert_clean_failure(
        &resume,
        "says best rank 2, but the verified best.json holds rank 7",
    );
    // A best.json that does not verify.
    fs::write(&state, &original).unwrap();
    let text = fs::read_to_string(strassen).unwrap();
    fs::write(
        out.join("best.json"),
        text.replacen("[1,0,0,1]", "[1,1,0,1]", 1),
    )
    .unwrap();
    assert_clean_failure(&resume, "best.json cannot be trusted");
    fs::remove_file(out.join("best.json")).unwrap();

    // A self-play best with no scheme behind it.
    edit_json(&state, |v| v["self_play_best_rank"] = serde_json::json!(7));
    assert_clean_failure(
        &resume,
        "says self-play best rank 7, but there is no self-play-best.json",
    );
    fs::write(&state, &original).unwrap();
    // A self-play best that does not verify.
    fs::write(
        out.join("self-play-best.json"),
        text.replacen("[1,0,0,1]", "[1,1,0,1]", 1),
    )
    .unwrap();
    assert_clean_failure(&resume, "self-play-best.json cannot be trusted");
    fs::remove_file(out.join("self-play-best.json")).unwrap();

    // A best game whose actions do not make its tensor.
    edit_json(&state, |v| {
        let mut tensor = vec![1; 64];
        tensor[0] = 0;
        v["best_games"] =
            serde_json::json!([{"rank": 1, "tensor": tensor, "actions": [vec![1; 12]]}])
    });
    assert_clean_failure(&resume, "best game 0");
    fs::write(&state, &original).unwrap();

    // Weights that are not numbers.
    let model = out.join("model.safetensors");
    let mut bytes = fs::read(&model).unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for b in &mut bytes[8 + header..] {
        *b = 0xFF;
    }
    fs::write(&model, bytes).unwrap();
    assert_clean_failure(&resume, "not finite");

    // Sizes edited into the state are checked like the command line's.
    edit_json(&state, |v| {
        v["settings"]["games"] = serde_json::json!(100_000_000u64)
    });
    assert_clean_failure(&resume, "--games must be from 1 to 4096");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn outputs_that_are_not_regular_files_are_never_replaced() {
    let dir = temp_dir("hostile-outputs");
    let strassen = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/strassen.json");
    // A device node made here (as root), else a named pipe.
    let node = dir.join("node");
    let made_device = std::process::Command::new("mknod")
        .args([node.to_str().unwrap(), "c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    if !made_device {
        let fifo = std::process::Command::new("mkfifo")
            .arg(&node)
            .status()
            .unwrap();
        assert!(fifo.success());
    }
    let reader = (!made_device).then(|| {
        let node = node.clone();
        std::thread::spawn(move || fs::read(node).unwrap())
    });
    let r = run(
        &[
            "export",
            strassen,
            "--lang",
            "python",
            "--out",
            node.to_str().unwrap(),
            "--force",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    if let Some(reader) = reader {
        let code = String::from_utf8(reader.join().unwrap()).unwrap();
        assert!(code.contains("def "), "{code}");
    }
    use std::os::unix::fs::FileTypeExt;
    let kind = fs::symlink_metadata(&node).unwrap().file_type();
    assert!(
        kind.is_char_device() || kind.is_fifo(),
        "the node was replaced by a regular file"
    );
    if made_device {
        // A benchmark's JSON into the device: written, the node kept.
        let mut args = bench_flips_to(node.to_str().unwrap());
        args.push("--force");
        let r = run(&args, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let kind = fs::symlink_metadata(&node).unwrap().file_type();
        assert!(kind.is_char_device(), "bench replaced the device node");
    }
    // A directory at the output path is refused before any work.
    assert_clean_failure(
        &[
            "export",
            strassen,
            "--lang",
            "c",
            "--out",
            dir.to_str().unwrap(),
        ],
        "is a directory",
    );
    assert_clean_failure(
        &[
            "bench",
            "flips",
            "--device",
            "cpu",
            "--quick",
            "--json",
            dir.to_str().unwrap(),
        ],
        "is a directory",
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// A quick `bench flips` that writes its JSON to `json`.
fn bench_flips_to(json: &str) -> Vec<&str> {
    vec![
        "bench",
        "flips",
        "--device",
        "cpu",
        "--quick",
        "--seconds",
        "0.2",
        "--json",
        json,
    ]
}

#[test]
fn a_users_file_is_replaced_only_with_force() {
    let dir = temp_dir("hostile-users-file");
    let mine = dir.join("notes.txt");
    fs::write(&mine, "my notes\n").unwrap();
    let m = mine.to_str().unwrap();
    let bench = bench_flips_to(m);
    assert_clean_failure(&bench, "was not written by tensorsearch; give --force");
    assert_eq!(fs::read_to_string(&mine).unwrap(), "my notes\n");
    let strassen = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/strassen.json");
    assert_clean_failure(
        &["export", strassen, "--lang", "rust", "--out", m],
        "was not written by tensorsearch; give --force",
    );
    assert_eq!(fs::read_to_string(&mine).unwrap(), "my notes\n");
    // A benchmark's own JSON is replaced without --force.
    let ours = dir.join("bench.json");
    let again = bench_flips_to(ours.to_str().unwrap());
    for _ in 0..2 {
        let r = run(&again, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let forced = run(&[&bench[..], &["--force"]].concat(), &[]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(fs::read_to_string(&mine).unwrap().contains("\"rows\""));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn extreme_values_are_refused_at_parse_time() {
    let dir = temp_dir("hostile-extremes");
    let o = dir.join("run");
    let o = o.to_str().unwrap();
    for command in [
        vec!["flip", "3x3x3", "--out", o],
        vec!["search", "2x2x2", "--out", o],
        vec!["pretrain", "2x2x2", "--out", o],
    ] {
        for time in [
            "99999999999999999999h",
            "9223372036854775807s",
            "367d",
            "1y",
            "0s",
        ] {
            let args = [&command[..], &["--device", "cpu", "--time", time]].concat();
            assert_clean_failure(&args, "--time");
        }
    }
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "pretrain",
                "2x2x2",
                "--samples",
                "100000000",
                "--steps",
                "1",
            ],
            "--samples",
        ),
        (
            &["pretrain", "2x2x2", "--batch", "100000000", "--steps", "1"],
            "--batch",
        ),
        (
            &[
                "pretrain",
                "2x2x2",
                "--eval-states",
                "100000000",
                "--steps",
                "1",
            ],
            "--eval-states",
        ),
        (
            &["search", "2x2x2", "--max-steps", "4000000000"],
            "--max-steps",
        ),
        (&["search", "2x2x2", "--games", "100000000"], "--games"),
        (&["search", "2x2x2", "--samples", "100000000"], "--samples"),
        (&["search", "2x2x2", "--batch", "100000000"], "--batch"),
        (
            &["search", "2x2x2", "--leaves-per-game", "1000000"],
            "--leaves-per-game",
        ),
        (
            &["search", "2x2x2", "--games", "4096", "--samples", "1024"],
            "draws a round",
        ),
        (
            &["search", "2x2x2", "--init", "/nonexistent-init"],
            "cannot read /nonexistent-init",
        ),
        (
            &["flip", "3x3x3", "--threads", "100000"],
            "--threads must be from 1 to",
        ),
        (&["flip", "3x3x3", "--pool", "100000000"], "--pool"),
        (&["bench", "flips", "--seconds", "1e9"], "--seconds"),
    ];
    for (args, needle) in cases {
        let args = [*args, &["--device", "cpu", "--out", o]].concat();
        let args: Vec<&str> = if args[0] == "bench" {
            args[..args.len() - 2].to_vec()
        } else {
            args
        };
        assert_clean_failure(&args, needle);
    }
    assert!(!Path::new(o).exists(), "a refused run made its directory");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missed_target_exits_three_and_keeps_what_it_found() {
    let dir = temp_dir("hostile-target");
    let out = dir.join("run");
    let r = run(
        &[
            "flip",
            "4x4x4",
            "--device",
            "cpu",
            "--target",
            "5",
            "--time",
            "3s",
            // Short walks: rounds end, and report their ranks, often.
            "--plateau",
            "2000",
            "--path-limit",
            "20000",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("--target 5 not reached"), "{}", r.stdout);
    // What it found is still written and verified.
    assert!(verify_ok(&out.join("best.json"), "z2"));
    // Every rank it reported on the way is kept under found/, verified.
    let reported: Vec<&str> = r
        .stderr
        .split("] rank ")
        .skip(1)
        .filter_map(|t| t.split_whitespace().next())
        .collect();
    assert!(reported.len() >= 2, "{}", r.stderr);
    let names: Vec<String> = fs::read_dir(out.join("found"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for rank in reported {
        let kept = names
            .iter()
            .any(|n| n.starts_with(&format!("rank-{rank}-")));
        assert!(kept, "rank {rank} was reported but not kept: {names:?}");
    }
    for n in &names {
        assert!(verify_ok(&out.join("found").join(n), "z2"), "{n}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn verify_streams_and_points_at_the_place() {
    // An endless input ends at its first byte, not after reading it all.
    assert_clean_failure(
        &["verify", "/dev/zero"],
        "invalid JSON: expected value at line 1 column 1",
    );
    let dir = temp_dir("hostile-verify");
    // A short row deep in a long file is named at its own line.
    let mut rows: Vec<String> = (0..1464).map(|_| "[1,0,0,0]".to_string()).collect();
    rows[700] = "[1,0]".into();
    let text = format!(
        "{{\"shape\":[2,2,2],\"field\":\"Z\",\n\"u\":[\n{}],\n\"v\":[],\"w\":[]}}\n",
        rows.join(",\n")
    );
    let long = dir.join("long.json");
    fs::write(&long, text).unwrap();
    assert_clean_failure(
        &["verify", long.to_str().unwrap()],
        "u[700] has 2 entries, shape 2x2x2 needs 4 at line 703",
    );
    // Out of range is said as such.
    let tiny = dir.join("tiny.json");
    fs::write(
        &tiny,
        r#"{"shape":[1,1,1],"field":"Q","u":[["1e-400"]],"v":[[1]],"w":[[1]]}"#,
    )
    .unwrap();
    assert_clean_failure(
        &["verify", tiny.to_str().unwrap()],
        "too small to hold exactly",
    );
    let huge = dir.join("huge.json");
    fs::write(
        &huge,
        r#"{"shape":[1,1,1],"field":"Q","u":[["1/340282366920938463463374607431768211457"]],"v":[[1]],"w":[[1]]}"#,
    )
    .unwrap();
    assert_clean_failure(
        &["verify", huge.to_str().unwrap()],
        "denominator leaves 128-bit integers",
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// Copies of the run in `pristine`, each with one file corrupted (a bit
/// flipped, a byte replaced, or the file cut short), resumed with
/// `resume(copy)`. Each resume refuses in one line, or continues and
/// reports (after `marker`, when it reports one) only the rank of a
/// `best.json` that `verify` accepts. Returns (refused, continued).
fn corrupt_and_resume(
    dir: &Path,
    pristine: &Path,
    cases: usize,
    seed: u64,
    resume: impl Fn(&str) -> Vec<String>,
    marker: &str,
) -> (usize, usize) {
    use rand::{Rng, SeedableRng};
    let files: Vec<_> = snapshot(pristine).into_iter().map(|(p, _)| p).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut refused, mut continued) = (0, 0);
    for case in 0..cases {
        let copy = dir.join(format!("case-{case}"));
        fs::create_dir_all(copy.join("found")).unwrap();
        for f in &files {
            fs::copy(f, copy.join(f.strip_prefix(pristine).unwrap())).unwrap();
        }
        let pick = files[rng.random_range(0..files.len())].strip_prefix(pristine);
        let victim = copy.join(pick.unwrap());
        let mut bytes = fs::read(&victim).unwrap();
        match rng.random_range(0..3) {
            0 if !bytes.is_empty() => {
                let i = rng.random_range(0..bytes.len());
                bytes[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !bytes.is_empty() => {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = b"0123456789,[]{}\"-"[rng.random_range(0..17)];
            }
            _ => bytes.truncate(rng.random_range(0..=bytes.len())),
        }
        fs::write(&victim, &bytes).unwrap();
        let args = resume(copy.to_str().unwrap());
        let r = run(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
        let all = format!("{}{}", r.stdout, r.stderr);
        let what = victim.display();
        assert!(!all.contains("panicked"), "{what}: {all}");
        if r.code != 0 {
            refused += 1;
            assert_eq!(all.trim_end().lines().count(), 1, "{what}: {all}");
            continue;
        }
        continued += 1;
        let Some(rest) = r.stdout.split(marker).nth(1) else {
            continue;
        };
        let rank: usize = rest
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no rank in {all}"));
        let best = copy.join("best.json");
        let v = run(&["verify", "--field", "z2", best.to_str().unwrap()], &[]);
        assert_eq!(v.code, 0, "{what}: a best.json that does not verify: {all}");
        // "rank R: ok", or "rank R over Z2: ok" for a scheme over Z.
        let said = v.stdout.trim_end();
        assert!(
            said.contains(&format!("rank {rank}")) && said.ends_with(": ok"),
            "{what}: {all} / {said}"
        );
    }
    (refused, continued)
}

/// Any byte-level corruption of any file of a flip run makes `--resume`
/// refuse in one line, or continue with everything re-verified.
#[test]
fn corrupted_flip_files_never_yield_a_false_rank() {
    let dir = temp_dir("hostile-corrupt");
    let pristine = dir.join("pristine");
    flip_run(&pristine);
    let resume = |copy: &str| {
        [
            "flip", "--resume", copy, "--device", "cpu", "--time", "0.3s",
        ]
        .map(String::from)
        .to_vec()
    };
    let (refused, continued) = corrupt_and_resume(&dir, &pristine, 32, 21, resume, "best rank ");
    assert!(
        refused > 0 && continued > 0,
        "refused {refused}, continued {continued}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// The same for a search run that holds a best scheme.
#[test]
fn corrupted_search_files_never_yield_a_false_rank() {
    let dir = temp_dir("hostile-corrupt-search");
    let pristine = dir.join("pristine");
    search_run(&pristine);
    // Strassen's scheme (which holds mod 2 too) as the run's best.
    let strassen = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/strassen.json");
    fs::copy(strassen, pristine.join("best.json")).unwrap();
    edit_json(&pristine.join("search.json"), |v| {
        v["best_rank"] = serde_json::json!(7)
    });
    let resume = |copy: &str| {
        [
            "search", "--resume", copy, "--device", "cpu", "--steps", "1",
        ]
        .map(String::from)
        .to_vec()
    };
    let (refused, continued) =
        corrupt_and_resume(&dir, &pristine, 12, 16, resume, "best rank found: ");
    assert!(
        refused > 0 && continued > 0,
        "refused {refused}, continued {continued}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn info_sizes_any_accepted_shape_without_allocating() {
    // Sizing builds no host data: the largest accepted shape answers at
    // once and says that no preset fits.
    let r = run(&["info", "64x64x64"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for preset in ["tiny", "small", "large"] {
        let line = r
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("memory {preset}")))
            .unwrap_or_else(|| panic!("{}", r.stdout));
        assert!(line.contains("TB"), "{line}");
    }
}

#[test]
fn runs_written_before_run_json_existed_still_resume() {
    let dir = temp_dir("hostile-legacy");
    let flips = dir.join("flips");
    flip_run(&flips);
    let searched = dir.join("search");
    search_run(&searched);
    for (out, args) in [
        (&flips, vec!["flip", "--device", "cpu", "--time", "0.2s"]),
        (&searched, vec!["search", "--device", "cpu", "--steps", "1"]),
    ] {
        fs::remove_file(out.join("run.json")).unwrap();
        let o = out.to_str().unwrap();
        let r = run(&[&args[..], &["--resume", o]].concat(), &[]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        let id: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
        assert_eq!(id["command"], args[0], "{id}");
        assert_eq!(id["shape"], serde_json::json!([2, 2, 2]), "{id}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// The same for a pretrain run: a corrupted file is refused in one line,
/// or the run continues from what still checks out.
#[test]
fn corrupted_pretrain_files_are_refused_or_rechecked() {
    let dir = temp_dir("hostile-corrupt-pretrain");
    let pristine = dir.join("pristine");
    let p = pristine.to_str().unwrap();
    let first = [
        "pretrain",
        "2x2x2",
        "--device",
        "cpu",
        "--preset",
        "tiny",
        "--batch",
        "4",
        "--steps",
        "2",
        "--eval-states",
        "4",
        "--samples",
        "2",
        "--out",
        p,
    ];
    let r = run(&first, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let resume = |copy: &str| {
        [
            "pretrain",
            "--resume",
            copy,
            "--device",
            "cpu",
            "--steps",
            "1",
            "--eval-states",
            "4",
            "--samples",
            "2",
        ]
        .map(String::from)
        .to_vec()
    };
    // Pretraining reports no rank: every resume must refuse cleanly or run.
    let (refused, continued) =
        corrupt_and_resume(&dir, &pristine, 10, 12, resume, "no rank is reported");
    assert!(
        refused > 0 && continued > 0,
        "refused {refused}, continued {continued}"
    );
    fs::remove_dir_all(&dir).unwrap();
}
