//! `tensorsearch flip` through the binary: it walks down to Strassen's
//! rank and writes verified schemes, survives SIGKILL, resumes, and
//! refuses bad input with one clear line.

mod common;

use common::{assert_clean_failure, run, temp_dir};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn verifies(path: &Path) -> String {
    let v = run(&["verify", "--field", "z2", path.to_str().unwrap()], &[]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    v.stdout
}

#[test]
fn the_standard_2x2x2_walks_to_rank_seven_and_every_file_verifies() {
    let dir = temp_dir("flip-222");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let r = run(
        &[
            "flip", "2x2x2", "--device", "cpu", "--target", "7", "--out", o,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("best rank 7"), "{}", r.stdout);
    assert!(verifies(&out.join("best.json")).contains("rank 7: ok"));
    let found: Vec<_> = fs::read_dir(out.join("found"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(found
        .iter()
        .any(|p| p.to_string_lossy().contains("rank-7-")));
    for p in &found {
        verifies(p);
    }
    let metrics = fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    assert_eq!(last["best_rank"], 7, "{last}");
    // A finished run at rank 7 has nothing below it to aim at.
    assert_clean_failure(
        &["flip", "--resume", o, "--target", "7"],
        "--target 7 is not below the start rank 7",
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// With the general reduction 3x3x3 reaches Laderman's rank 23, every
/// file verifies, a resume keeps the setting, and the GPU walk (merges
/// only) is refused for it before any adapter is opened.
#[test]
fn the_general_reduction_walks_3x3x3_to_rank_23() {
    let dir = temp_dir("flip-general");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let r = run(
        &[
            "flip",
            "3x3x3",
            "--reduction",
            "general",
            "--target",
            "23",
            "--time",
            "60s",
            "--out",
            o,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("general reduction"), "{}", r.stderr);
    assert!(r.stdout.contains("best rank 23"), "{}", r.stdout);
    assert!(verifies(&out.join("best.json")).contains("rank 23: ok"));
    assert_clean_failure(
        &["flip", "--resume", o, "--reduction", "merge"],
        "--reduction Merge conflicts with the checkpoint's General",
    );
    assert_clean_failure(
        &[
            "flip",
            "3x3x3",
            "--reduction",
            "general",
            "--device",
            "gpu",
            "--out",
            dir.join("gpu").to_str().unwrap(),
        ],
        "the GPU walk makes merges only",
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// A slack bounds the plus transitions: a run with one reaches 23 for
/// 3x3x3, says its slack, keeps it on resume, and the GPU walk (which has
/// none) refuses it.
#[test]
fn a_slack_is_kept_with_the_run_and_refused_on_the_gpu() {
    let dir = temp_dir("flip-slack");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let r = run(
        &[
            "flip", "3x3x3", "--slack", "2", "--target", "23", "--time", "60s", "--out", o,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("plateau 50000, slack 2"), "{}", r.stderr);
    assert!(verifies(&out.join("best.json")).contains("rank 23: ok"));
    assert_clean_failure(
        &["flip", "--resume", o, "--slack", "3"],
        "--slack 3 conflicts with the checkpoint's 2",
    );
    let gpu = dir.join("gpu");
    assert_clean_failure(
        &[
            "flip",
            "3x3x3",
            "--slack",
            "2",
            "--device",
            "gpu",
            "--out",
            gpu.to_str().unwrap(),
        ],
        "the GPU walk has no --slack",
    );
    assert_clean_failure(&["flip", "3x3x3", "--slack", "0"], "--slack");
    fs::remove_dir_all(&dir).unwrap();
}

/// Preferred reductions: a run that draws four flips per move reaches 23
/// for 3x3x3, says so, keeps it on resume; the GPU walk and symmetric
/// walks refuse it in one line.
#[test]
fn preferred_reductions_are_kept_with_the_run_and_refused_where_they_do_not_apply() {
    let dir = temp_dir("flip-prefer");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let r = run(
        &[
            "flip",
            "3x3x3",
            "--prefer-reductions",
            "4",
            "--target",
            "23",
            "--time",
            "60s",
            "--out",
            o,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("4 draws per flip"), "{}", r.stderr);
    assert!(verifies(&out.join("best.json")).contains("rank 23: ok"));
    assert_clean_failure(
        &["flip", "--resume", o, "--prefer-reductions", "2"],
        "--prefer-reductions 2 conflicts with the checkpoint's 4",
    );
    let gpu = dir.join("gpu");
    assert_clean_failure(
        &[
            "flip",
            "3x3x3",
            "--prefer-reductions",
            "4",
            "--device",
            "gpu",
            "--out",
            gpu.to_str().unwrap(),
        ],
        "the GPU walk draws its flips at random",
    );
    assert_clean_failure(
        &[
            "flip",
            "3x3x3",
            "--prefer-reductions",
            "4",
            "--symmetry",
            "c3",
        ],
        "--prefer-reductions is for walks without a symmetry",
    );
    assert_clean_failure(
        &["flip", "3x3x3", "--prefer-reductions", "0"],
        "--prefer-reductions",
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// Path limits: adaptive by default (a run reaches 23 for 3x3x3 and says
/// so), fixed when asked; a resume keeps them.
#[test]
fn adaptive_limits_are_the_default_and_kept_on_resume() {
    let dir = temp_dir("flip-adaptive");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let r = run(
        &[
            "flip", "3x3x3", "--target", "23", "--time", "60s", "--out", o,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("(adaptive: from 1/16 to 16 times)"),
        "{}",
        r.stderr
    );
    assert!(verifies(&out.join("best.json")).contains("rank 23: ok"));
    let fixed = dir.join("fixed");
    let f = fixed.to_str().unwrap();
    let r = run(
        &[
            "flip", "2x2x2", "--limits", "fixed", "--target", "7", "--time", "60s", "--out", f,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("(adaptive:"), "{}", r.stderr);
    assert_clean_failure(
        &["flip", "--resume", f, "--limits", "adaptive"],
        "--limits Adaptive conflicts with the checkpoint's Fixed",
    );
    assert_clean_failure(&["flip", "3x3x3", "--limits", "longer"], "--limits");
    fs::remove_dir_all(&dir).unwrap();
}

/// Symmetric walks: 3x3x3 under C3 from two cubes reaches Laderman's
/// rank 23 with a scheme the group keeps; 2x2x2 from one cube reaches 7
/// and lifts to Z; 4x4x4 under C6 from one cube reaches 49 with a scheme
/// C6 keeps; a resume keeps the symmetry; what cannot keep one is
/// refused in one line before anything is written.
#[test]
fn symmetric_walks_reach_23_and_7_with_invariant_schemes_that_lift() {
    use tensorsearch::flip::scheme::Z2Scheme;
    use tensorsearch::flip::symmetric::{SymmetricWalker, Symmetry};
    use tensorsearch::problem::json;
    let dir = temp_dir("flip-symmetric");
    let invariant_under = |path: &Path, symmetry: Symmetry| {
        let d = json::read_file(path).unwrap().remove(0);
        let s = Z2Scheme::from_decomposition(&d).unwrap();
        SymmetricWalker::new(&s, symmetry, 0).is_ok()
    };
    let invariant = |path: &Path| invariant_under(path, Symmetry::C3);
    // A symmetric walk on one thread from `cubes` to `target`, which it
    // reaches with a scheme that verifies.
    let walk = |shape: &str, symmetry: &str, cubes: &str, target: usize| {
        let out = dir.join(shape);
        let (from, target_arg) = (format!("cubes:{cubes}"), target.to_string());
        let r = run(
            &[
                "flip",
                shape,
                "--symmetry",
                symmetry,
                "--from",
                &from,
                "--target",
                &target_arg,
                "--time",
                "60s",
                "--threads",
                "1",
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(&format!("best rank {target}")),
            "{}",
            r.stdout
        );
        let best = out.join("best.json");
        assert!(verifies(&best).contains(&format!("rank {target}: ok")));
        (r, out)
    };
    let (r, out) = walk("3x3x3", "c3", "101,010", 23);
    let o = out.to_str().unwrap();
    // Symmetric walks keep fixed path limits unless asked.
    assert!(!r.stderr.contains("(adaptive:"), "{}", r.stderr);
    assert!(invariant(&out.join("best.json")));
    assert_clean_failure(
        &["flip", "--resume", o, "--symmetry", "none"],
        "--symmetry None conflicts with the checkpoint's C3",
    );

    let out = dir.join("222");
    let o = out.to_str().unwrap();
    let r = run(
        &[
            "flip",
            "2x2x2",
            "--symmetry",
            "c3",
            "--from",
            "cubes:11",
            "--target",
            "7",
            "--lift",
            "--out",
            o,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(invariant(&out.join("best.json")));
    assert!(
        r.stdout.contains("1 of 1 rank-7 schemes lift"),
        "{}",
        r.stdout
    );
    let lifted = fs::read_dir(out.join("lifted"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let v = run(&["verify", "--field", "z", lifted.to_str().unwrap()], &[]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);

    let (_, out) = walk("4x4x4", "c6", "1111", 49);
    assert!(invariant_under(&out.join("best.json"), Symmetry::C6));

    let bad = dir.join("bad");
    let b = bad.to_str().unwrap();
    for (args, said) in [
        (vec!["2x2x3", "--symmetry", "c3"], "needs a square shape"),
        (
            vec!["3x3x3", "--symmetry", "c3", "--field", "z"],
            "walks over z2",
        ),
        (
            vec!["3x3x3", "--symmetry", "s3"],
            "--symmetry s3 is not walked (",
        ),
        (
            vec!["5x5x5", "--symmetry", "c6", "--from", "cubes:11000,00111"],
            "cubes: groups must map onto groups",
        ),
        (
            vec!["3x3x3", "--symmetry", "c3", "--device", "gpu"],
            "the GPU walk keeps no symmetry",
        ),
        (
            vec!["3x3x3", "--symmetry", "c3", "--reduction", "general"],
            "--reduction general does not keep a symmetry",
        ),
        (
            vec!["3x3x3", "--from", "cubes:11"],
            "is not a string of 3 zeros and ones",
        ),
        (
            vec!["3x3x3", "--from", "cubes:100,011,001"],
            "exactly one group",
        ),
        (vec!["2x2x3", "--from", "cubes:11"], "is for square shapes"),
    ] {
        let mut full = vec!["flip"];
        full.extend(args);
        full.extend(["--out", b]);
        assert_clean_failure(&full, said);
        assert!(!bad.exists(), "{full:?} left a directory");
    }
    // A start the group does not keep: the standard algorithm after one flip.
    let strassen = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/strassen.json");
    let d = json::read_file(Path::new(strassen)).unwrap().remove(0);
    let flipped = dir.join("flipped.json");
    let mut terms = Z2Scheme::standard(d.shape).unwrap();
    terms.terms[0][1] ^= terms.terms[1][1];
    terms.terms[1][2] ^= terms.terms[0][2];
    json::write_file(&flipped, &[terms.to_decomposition()]).unwrap();
    assert_clean_failure(
        &[
            "flip",
            "2x2x2",
            "--symmetry",
            "c3",
            "--from",
            flipped.to_str().unwrap(),
            "--out",
            b,
        ],
        "not invariant under c3",
    );
    assert!(!bad.exists());
    fs::remove_dir_all(&dir).unwrap();
}

/// Meta starts: 4x4x4 from Strassen ⊗ Strassen starts at rank 49, and
/// 2x2x3 from Strassen extended by a column at 7 + 4; both verify.
#[test]
fn meta_starts_verify_and_start_at_their_rank() {
    let dir = temp_dir("flip-meta");
    let strassen = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/strassen.json");
    for (shape, from, said) in [
        (
            "4x4x4",
            format!("product:{strassen},{strassen}"),
            "the product of a 2x2x2 and a 2x2x2 scheme, a 4x4x4 scheme of rank 49",
        ),
        (
            "2x2x3",
            strassen.to_string(),
            "the 2x2x2 scheme of rank 7 made a 2x2x3 scheme of rank 11",
        ),
    ] {
        let out = dir.join(shape);
        let o = out.to_str().unwrap();
        let r = run(
            &["flip", shape, "--from", &from, "--time", "1s", "--out", o],
            &[],
        );
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(said), "{}", r.stderr);
        let v = verifies(&out.join("best.json"));
        assert!(v.contains(": ok"), "{v}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// A shape past one word per factor (9x9x2: A has 81 coefficients)
/// walks on the CPU, writes verified schemes and resumes.
#[test]
fn a_shape_with_multiword_factors_walks_and_resumes() {
    let dir = temp_dir("flip-wide");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let r = run(&["flip", "9x9x2", "--time", "3s", "--out", o], &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("best rank"), "{}", r.stdout);
    let v = verifies(&out.join("best.json"));
    assert!(v.contains(": ok"), "{v}");
    let r = run(&["flip", "--resume", o, "--time", "1s"], &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    verifies(&out.join("best.json"));
    fs::remove_dir_all(&dir).unwrap();
}

/// `table` on two small shapes: a verified scheme per shape, and a table
/// whose rows state the ranks those files hold; bad input gets one line.
#[test]
fn table_writes_verified_schemes_and_a_table_that_agrees_with_them() {
    let dir = temp_dir("table");
    let out = dir.join("t");
    let o = out.to_str().unwrap();
    let r = run(
        &[
            "table",
            "2x2x2",
            "2x2x3",
            "3x3x3",
            "--time-per-shape",
            "120s",
            "--out",
            o,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("3 of 3 shapes at their best known rank"),
        "{}",
        r.stdout
    );
    let table: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("table.json")).unwrap()).unwrap();
    let rows = table["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    // Rows in the order given; 3x3x3 was walked first, and 2x2x3 started
    // from its scheme.
    let expected = [
        ("2x2x2", 7, "plain, standard"),
        ("2x2x3", 11, "plain, projected from 3x3x3"),
        ("3x3x3", 23, "plain, standard"),
    ];
    for (row, (shape, known, walk)) in rows.iter().zip(expected) {
        assert_eq!(row["shape"], shape);
        assert_eq!(row["best_known"], known);
        assert_eq!(row["walk"], walk);
        let rank = row["rank"].as_u64().unwrap();
        let file = out.join(row["file"].as_str().unwrap());
        assert!(
            verifies(&file).contains(&format!("rank {rank}: ok")),
            "{shape}"
        );
    }
    let md = fs::read_to_string(out.join("table.md")).unwrap();
    assert!(md.contains("| 2x2x3 | 11 | 11 ✓ | 12 |"), "{md}");
    assert!(fs::read_to_string(out.join("table.svg"))
        .unwrap()
        .starts_with("<svg"));
    assert_clean_failure(&["table", "2x2x2", "--out", o], "already holds a table");
    let elsewhere = dir.join("u");
    let e = elsewhere.to_str().unwrap();
    assert_clean_failure(&["table", "5..2", "--out", e], "'5..2' is an empty range");
    assert_clean_failure(
        &["table", "17x17x17", "--time-per-shape", "1s", "--out", e],
        "17x17x17 is not supported",
    );
    assert_clean_failure(
        &["table", "2x2x2", "--time-per-shape", "0s", "--out", e],
        "must be a positive duration",
    );
    assert!(!elsewhere.exists(), "a refused table writes nothing");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_killed_run_leaves_whole_files_and_resumes() {
    let dir = temp_dir("flip-kill");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tensorsearch"))
        .args([
            "flip", "4x4x4", "--device", "cpu", "--time", "120s", "--out", o,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let state = out.join("state.json");
    let started = Instant::now();
    while !state.exists() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let first = verifies(&out.join("best.json"));
    let leftovers = fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp")
        })
        .count();
    assert!(leftovers <= 1, "at most the one write in flight is left");

    let walks = |o: &Path| -> u64 {
        let text = fs::read_to_string(o.join("state.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["state"]["walks"].as_u64().unwrap()
    };
    let before = walks(&out);
    let r = run(
        &["flip", "--resume", o, "--time", "1s", "--device", "cpu"],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(walks(&out) > before, "the resumed run walked on");
    let rank = |text: &str| -> usize {
        let at = text.find("rank ").unwrap() + 5;
        text[at..]
            .split(':')
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    assert!(rank(&verifies(&out.join("best.json"))) <= rank(&first));
    assert_clean_failure(
        &["flip", "--resume", o, "--seed", "99"],
        "--seed 99 conflicts with the checkpoint's 1",
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_flip_input_gets_one_clear_line() {
    let dir = temp_dir("flip-bad");
    let o = dir.join("run");
    let o = o.to_str().unwrap();
    let strassen = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/strassen.json");
    assert_clean_failure(
        &[
            "flip",
            "4x4x4",
            "--from",
            &format!("product:{strassen}"),
            "--out",
            o,
        ],
        "--from product:A,B takes two scheme files",
    );
    assert_clean_failure(
        &[
            "flip",
            "4x4x4",
            "--from",
            &format!("product:{strassen},{}", dir.join("absent.json").display()),
            "--out",
            o,
        ],
        "absent.json",
    );
    let broken = dir.join("broken.json");
    let mut text = fs::read_to_string(strassen).unwrap();
    // Strassen's first product with one coefficient changed.
    text = text.replacen("[1,0,0,1]", "[1,1,0,1]", 1);
    assert!(text.contains("[1,1,0,1]"), "the example's layout changed");
    fs::write(&broken, text).unwrap();
    assert_clean_failure(
        &[
            "flip",
            "2x2x2",
            "--from",
            broken.to_str().unwrap(),
            "--out",
            o,
        ],
        "does not hold over Z2",
    );
    assert_clean_failure(
        &["flip", "2x2x2", "--target", "8", "--out", o],
        "--target 8 is not below the start rank 8",
    );
    assert_clean_failure(
        &["flip", "17x17x17", "--out", o],
        "17x17x17 is not supported: the flip engine needs n·m, m·p and n·p up to 256 over Z2",
    );
    assert_clean_failure(
        &["flip", "9x9x9", "--field", "z", "--out", o],
        "9x9x9 is not supported: the flip engine needs n·m, m·p and n·p up to 64 over Z",
    );
    assert_clean_failure(
        &["flip", "9x9x9", "--device", "gpu", "--out", o],
        "the GPU walk holds factors of up to 64 coefficients",
    );
    assert_clean_failure(
        &["flip", "9x9x9", "--lift", "--out", o],
        "--lift takes factors of up to 64 coefficients",
    );
    assert_clean_failure(
        &["flip", "2x2x2", "--threads", "0", "--out", o],
        "--threads",
    );
    assert_clean_failure(&["flip", "--out", o], "give a SHAPE");
    assert_clean_failure(
        &["flip", "2x2x2", "--coeffs", "ternary", "--out", o],
        "--coeffs ternary is for --field z",
    );
    assert_clean_failure(
        &["flip", "2x2x2", "--field", "q", "--out", o],
        "invalid value 'q' for '--field <FIELD>' [possible values: z2, z]",
    );
    assert_clean_failure(
        &["flip", "2x2x2", "--field", "z", "--lift", "--out", o],
        "already over Z",
    );
    // Strassen's first product split as 2·t − t: it holds over Z, with a 2.
    let with_two = dir.join("with-two.json");
    let text = fs::read_to_string(strassen)
        .unwrap()
        .replace("\"rank\":7", "\"rank\":8")
        .replace("\"u\":[[1,0,0,1],", "\"u\":[[2,0,0,2],[-1,0,0,-1],")
        .replace("\"v\":[[1,0,0,1],", "\"v\":[[1,0,0,1],[1,0,0,1],")
        .replace("\"w\":[[1,0,0,1],", "\"w\":[[1,0,0,1],[1,0,0,1],");
    fs::write(&with_two, text).unwrap();
    let with_two = with_two.to_str().unwrap();
    assert_clean_failure(
        &[
            "flip", "2x2x2", "--field", "z", "--from", with_two, "--out", o,
        ],
        "the coefficient 2 is outside --coeffs ternary",
    );
    assert!(!Path::new(o).exists(), "a refused run writes nothing");
    // With coefficients up to 7 it is taken, and its split merges back.
    let r = run(
        &[
            "flip", "2x2x2", "--field", "z", "--coeffs", "any", "--from", with_two, "--time", "1s",
            "--out", o,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("best rank 7"), "{}", r.stdout);
    fs::remove_dir_all(o).unwrap();
    // A run from Strassen's scheme starts at rank 7.
    let r = run(
        &[
            "flip", "2x2x2", "--from", strassen, "--time", "1s", "--out", o,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("best rank 7"), "{}", r.stdout);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lift_writes_verified_lifts_and_reports_the_schemes_that_have_none() {
    let dir = temp_dir("flip-lift");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let r = run(
        &[
            "flip", "2x2x2", "--device", "cpu", "--target", "7", "--lift", "--out", o,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let lifted: Vec<_> = fs::read_dir(out.join("lifted"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!lifted.is_empty(), "{}", r.stdout);
    for p in &lifted {
        let v = run(&["verify", p.to_str().unwrap()], &[]);
        assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
        assert!(
            v.stdout.contains("rank 7: ok") && !v.stdout.contains("Z2"),
            "{}",
            v.stdout
        );
    }
    assert!(
        r.stdout.contains(&format!(
            "{} of {} rank-7 schemes lift",
            lifted.len(),
            lifted.len()
        )),
        "{}",
        r.stdout
    );

    // A scheme with no lift is reported as such and nothing is written.
    let no_lift = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/z2-3x3x3-rank23-no-lift.json"
    );
    let out2 = dir.join("run2");
    let r = run(
        &[
            "flip",
            "3x3x3",
            "--from",
            no_lift,
            "--time",
            "0.5s",
            "--lift",
            "--out",
            out2.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("does not lift"), "{}", r.stdout);
    assert!(
        r.stdout.contains("0 of 1 rank-23 schemes lift"),
        "{}",
        r.stdout
    );
    assert_eq!(fs::read_dir(out2.join("lifted")).unwrap().count(), 0);
    fs::remove_dir_all(&dir).unwrap();
}

/// `bench flips --quick` on `device`: its JSON rows.
fn bench_rows(device: &str, seconds: &str, json: &Path) -> serde_json::Value {
    let r = run(
        &[
            "bench",
            "flips",
            "--device",
            device,
            "--quick",
            "--seconds",
            seconds,
            "--json",
            json.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(doc["tensorsearch"], "bench flips", "{doc}");
    let rows = doc["rows"].clone();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["shape"], "3x3x3");
    rows
}

#[test]
fn bench_flips_reports_rates_on_one_thread_on_all_and_on_the_gpu() {
    let dir = temp_dir("flip-bench");
    let json = dir.join("flips.json");
    let rows = bench_rows("cpu", "0.4", &json);
    assert_eq!(rows[0]["device"], "cpu");
    assert!(
        rows[0]["flips_per_s_one_thread"].as_f64().unwrap() > 1e5,
        "{rows}"
    );
    assert!(rows[0]["flips_per_s"].as_f64().unwrap() > 1e5, "{rows}");
    assert!(rows[0]["pool_rank"].as_u64().unwrap() < 27, "{rows}");
    if gpu_available() {
        let rows = bench_rows("gpu", "1", &json);
        assert_ne!(rows[0]["device"], "cpu");
        assert!(rows[0]["flips_per_s_one_thread"].is_null(), "{rows}");
        assert!(rows[0]["flips_per_s"].as_f64().unwrap() > 1e3, "{rows}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// Whether a wgpu adapter is there (lavapipe on CI); with
/// TENSORSEARCH_REQUIRE_GPU=1 its absence fails the test.
fn gpu_available() -> bool {
    common::gpu::available()
}

#[test]
fn on_the_gpu_2x2x2_walks_to_rank_seven_and_every_file_verifies() {
    if !gpu_available() {
        return;
    }
    let dir = temp_dir("flip-gpu");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let r = run(
        &[
            "flip", "2x2x2", "--device", "gpu", "--target", "7", "--out", o,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("best rank 7"), "{}", r.stdout);
    assert!(!r.stdout.contains("CPU thread"), "{}", r.stdout);
    assert!(verifies(&out.join("best.json")).contains("rank 7: ok"));
    for p in fs::read_dir(out.join("found")).unwrap() {
        verifies(&p.unwrap().path());
    }
    let z = dir.join("z");
    assert_clean_failure(
        &[
            "flip",
            "2x2x2",
            "--device",
            "gpu",
            "--field",
            "z",
            "--out",
            z.to_str().unwrap(),
        ],
        "the GPU walk is over Z2 only",
    );
    assert!(!z.exists(), "a refused run writes nothing");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn over_z_with_ternary_coefficients_2x2x2_walks_to_rank_seven() {
    let dir = temp_dir("flip-z");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let r = run(
        &["flip", "2x2x2", "--field", "z", "--target", "7", "--out", o],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("best rank 7"), "{}", r.stdout);
    assert!(r.stdout.contains("verified over Z,"), "{}", r.stdout);
    let best = out.join("best.json");
    let v = run(&["verify", "--field", "z", best.to_str().unwrap()], &[]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("rank 7: ok"), "{}", v.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&best).unwrap()).unwrap();
    let scheme = if json.is_array() { &json[0] } else { &json };
    assert_eq!(scheme["field"], "Z");
    for role in ["u", "v", "w"] {
        for x in scheme[role]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap())
        {
            assert!(x.as_i64().unwrap().abs() <= 1, "{role} holds {x}");
        }
    }
    assert_clean_failure(
        &["flip", "--resume", o, "--field", "z2", "--time", "1s"],
        "conflict with the checkpoint's z-ternary",
    );
    assert_clean_failure(
        &["flip", "--resume", o, "--coeffs", "any", "--time", "1s"],
        "conflict with the checkpoint's z-ternary",
    );
    fs::remove_dir_all(&dir).unwrap();
}
