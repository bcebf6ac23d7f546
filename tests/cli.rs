//! The binary: bad input gives one clear line and a non-zero exit, never a
//! panic; the commands do what `--help` says.

mod common;

use common::{assert_clean_failure, run};
use std::fs;

#[test]
fn malformed_shapes_are_rejected() {
    assert_clean_failure(&["info", "0x2x2"], "at least 1");
    assert_clean_failure(&["info", "2x2"], "three dimensions");
    assert_clean_failure(&["info", "axbxc"], "not a positive integer");
    assert_clean_failure(&["search", "2x2x"], "malformed shape");
}

#[test]
fn bad_files_are_rejected() {
    let dir = common::temp_dir("cli-bad");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let missing = dir.join("missing.json").to_string_lossy().into_owned();
    assert_clean_failure(&["verify", &missing], "cannot read");
    let truncated = write(
        "truncated.json",
        r#"{"shape":[2,2,2],"field":"Z","u":[[1,0"#,
    );
    assert_clean_failure(&["verify", &truncated], "invalid JSON");
    let short = write(
        "short.json",
        r#"{"shape":[1,2,1],"field":"Z","u":[[1,0]],"v":[[1]],"w":[[1]]}"#,
    );
    assert_clean_failure(
        &["verify", &short],
        "v[0] has 1 entries, shape 1x2x1 needs 2",
    );
    let fraction = write(
        "fraction.json",
        r#"{"shape":[1,1,1],"field":"Z","u":[[0.5]],"v":[[2]],"w":[[1]]}"#,
    );
    assert_clean_failure(&["verify", &fraction], "not an integer");
    assert_clean_failure(&["export", &truncated, "--lang", "c"], "invalid JSON");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn verify_reports_each_decomposition_and_fails_on_any_wrong_one() {
    let data = common::alphatensor_dir();
    let z2 = data.join("alphatensor_z2.json");
    let z2 = z2.to_str().unwrap();
    let out = run(&["verify", z2], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 20);
    assert!(out.stdout.lines().all(|l| l.ends_with(": ok")));

    let out = run(&["verify", "--field", "z", z2], &[]);
    assert_eq!(out.code, 1);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("4x4x4 Z2 rank 47 over Z"))
        .expect("a line for 4x4x4");
    assert!(line.contains("FAILED: wrong entry T["), "{line}");
}

#[test]
fn export_writes_atomically_to_out() {
    let dir = common::temp_dir("cli-export");
    let out_path = dir.join("strassen.py");
    let data = common::alphatensor_dir().join("alphatensor_q.json");
    let args = [
        "export",
        data.to_str().unwrap(),
        "--shape",
        "2x2x2",
        "--lang",
        "python",
        "--out",
        out_path.to_str().unwrap(),
    ];
    let out = run(&args, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    let code = fs::read_to_string(&out_path).unwrap();
    assert!(code.contains("def matmul_2x2x2(a, b):") && code.contains("rank 7"));
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left"
    );
    // A file of several needs a choice.
    assert_clean_failure(
        &["export", data.to_str().unwrap(), "--lang", "c"],
        "--index or --shape",
    );
    assert_clean_failure(
        &[
            "export",
            data.to_str().unwrap(),
            "--lang",
            "c",
            "--index",
            "20",
        ],
        "out of range",
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn export_never_replaces_its_input_or_foreign_files() {
    let dir = common::temp_dir("cli-export-out");
    let input = dir.join("s.json");
    let original = tensorsearch::problem::json::to_file_text(&[
        tensorsearch::problem::Decomposition::strassen(),
    ]);
    fs::write(&input, &original).unwrap();
    let input_s = input.to_str().unwrap();
    let export_to = |out: &str, extra: &[&str]| {
        let mut args = vec!["export", input_s, "--lang", "c", "--out", out];
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let refuse = |args: Vec<String>, needle: &str| {
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        assert_clean_failure(&args, needle);
    };
    // The input by its own name, through ./ and .. spellings, and through a
    // symbolic link; --force does not change that.
    let dotted = format!(
        "{}/./../{}/s.json",
        dir.display(),
        dir.file_name().unwrap().to_str().unwrap()
    );
    refuse(export_to(input_s, &[]), "is the input file");
    refuse(export_to(&dotted, &["--force"]), "is the input file");
    #[cfg(unix)]
    {
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        refuse(
            export_to(link.to_str().unwrap(), &["--force"]),
            "is the input file",
        );
    }
    assert_eq!(
        fs::read_to_string(&input).unwrap(),
        original,
        "the input changed"
    );

    // A file that is not our code needs --force; our own code is replaced.
    let notes = dir.join("notes.c");
    fs::write(&notes, "int main(void) { return 0; }\n").unwrap();
    refuse(export_to(notes.to_str().unwrap(), &[]), "--force");
    assert_eq!(
        fs::read_to_string(&notes).unwrap(),
        "int main(void) { return 0; }\n"
    );
    let args = export_to(notes.to_str().unwrap(), &["--force"]);
    let out = run(&args.iter().map(|s| s.as_str()).collect::<Vec<_>>(), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(
        &args[..args.len() - 1]
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(out.code, 0, "replacing our own code: {}", out.stderr);
    assert!(fs::read_to_string(&notes)
        .unwrap()
        .contains("int matmul_2x2x2("));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn runs_that_do_not_fit_in_memory_are_refused_before_they_start() {
    let dir = common::temp_dir("cli-memory");
    let out = dir.join("run");
    let out_s = out.to_str().unwrap();
    for args in [
        vec![
            "pretrain", "2x2x2", "--device", "cpu", "--preset", "small", "--steps", "1", "--out",
            out_s,
        ],
        vec![
            "search", "2x2x2", "--device", "cpu", "--steps", "1", "--out", out_s,
        ],
    ] {
        let run_out = run(&args, &[("TENSORSEARCH_MEMORY_LIMIT", "1M")]);
        let all = format!("{}{}", run_out.stdout, run_out.stderr);
        assert_ne!(run_out.code, 0, "{args:?}: {all}");
        assert_eq!(all.trim_end().lines().count(), 1, "{all}");
        assert!(
            all.contains("needs about") && all.contains("1 MB is available"),
            "{all}"
        );
        assert!(!out.exists(), "{args:?} wrote {out_s} before refusing");
    }
    let info = run(
        &["info", "12x12x12"],
        &[("TENSORSEARCH_MEMORY_LIMIT", "8G")],
    );
    assert_eq!(info.code, 0, "{}", info.stderr);
    assert!(
        info.stdout.contains("memory large") && info.stdout.contains("does not fit"),
        "{}",
        info.stdout
    );
    let bad = run(
        &["info", "2x2x2"],
        &[("TENSORSEARCH_MEMORY_LIMIT", "plenty")],
    );
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("is not a size"), "{}", bad.stderr);
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn info_lists_ranks_and_encoding() {
    let out = run(&["info", "4x4x4"], &[]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("16 x 16 x 16, 64 nonzero entries"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("rank 47 over Z2, 49 over Z, 48 over Q"));
    assert!(out
        .stdout
        .contains("48 per action, chunk 5 -> 10 tokens, vocabulary 243"));
    let out = run(&["info", "3,2,2"], &[]);
    assert!(
        out.stdout.contains("rank 11 (over Z2, Z and Q)"),
        "{}",
        out.stdout
    );
}

#[test]
fn help_documents_every_command() {
    let out = run(&["--help"], &[]);
    for cmd in ["search", "verify", "export", "info", "devices"] {
        assert!(out.stdout.contains(cmd), "--help lacks {cmd}");
    }
}

#[test]
fn devices_lists_adapters_or_says_there_are_none() {
    let out = run(&["devices"], &[]);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    if tensorsearch::engine::gpu::require_gpu() {
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains("adapter 0:"), "{}", out.stdout);
        assert!(out.stdout.contains("TIMESTAMP_QUERY"));
    } else if !out.stdout.contains("adapter 0:") {
        assert!(
            out.stdout.contains("no wgpu adapter found"),
            "{}",
            out.stdout
        );
        println!("no adapter here: devices reported so");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn devices_fails_without_adapter_when_gpu_is_required() {
    // No Metal driver exists on Linux, so restricting wgpu to Metal leaves none.
    let env = [("WGPU_BACKEND", "metal"), ("TENSORSEARCH_REQUIRE_GPU", "1")];
    let out = run(&["devices"], &env);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("no wgpu adapter found"),
        "{}",
        out.stderr
    );
    let out = run(
        &["devices"],
        &[("WGPU_BACKEND", "metal"), ("TENSORSEARCH_REQUIRE_GPU", "0")],
    );
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("no wgpu adapter found"));
}

#[test]
fn readme_worked_example_is_strassen() {
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let example = &readme[readme
        .find("`examples/strassen.json` holds Strassen's")
        .expect("the worked example")..];
    let start = example.find("```json\n").unwrap() + 8;
    let block = &example[start..start + example[start..].find("```").unwrap()];
    let ds = tensorsearch::problem::json::parse_str(block).unwrap();
    assert_eq!(ds, vec![tensorsearch::problem::Decomposition::strassen()]);
    // The README's commands run on the file shipped with the repository.
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/strassen.json");
    assert_eq!(fs::read_to_string(shipped).unwrap(), block);
    assert!(readme.contains("$ tensorsearch verify examples/strassen.json"));
    let out = run(&["verify", shipped], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// `pretrain 2x2x2` of the tiny model on the CPU into `out`.
fn tiny_pretrain(out: &str) -> Vec<&str> {
    vec![
        "pretrain", "2x2x2", "--device", "cpu", "--preset", "tiny", "--out", out,
    ]
}

#[test]
fn pretrain_refuses_or_explains_odd_options() {
    let dir = common::temp_dir("cli-pretrain-odd");
    let out = dir.to_str().unwrap();
    let base = tiny_pretrain(out);
    let with = |extra: &[&'static str]| [&base[..], extra].concat();
    assert_clean_failure(
        &with(&["--steps", "0"]),
        "'0' for '--steps <STEPS>': 0 is not in 1..=",
    );
    assert_clean_failure(
        &with(&["--steps", "1", "--samples", "0"]),
        "0 is not in 1..=1024",
    );
    assert_clean_failure(
        &with(&["--steps", "1", "--field", "q"]),
        "[possible values: z, z2]",
    );
    // Fewer held-out states than a batch: said, and whole batches are used.
    let small = run(
        &with(&["--steps", "1", "--batch", "4", "--eval-states", "3"]),
        &[],
    );
    assert_eq!(small.code, 0, "{}", small.stderr);
    assert!(
        small
            .stderr
            .contains("whole batches: 4 states for --eval-states 3"),
        "{}",
        small.stderr
    );
    assert!(
        small.stdout.contains("held-out (4 states)"),
        "{}",
        small.stdout
    );
    // A learning rate that makes every loss non-finite stops the run.
    let fresh = dir.join("nan");
    let nan = run(
        &[
            &tiny_pretrain(fresh.to_str().unwrap())[..],
            &["--batch", "4", "--steps", "30", "--lr", "1e30"],
        ]
        .concat(),
        &[],
    );
    assert_ne!(nan.code, 0, "{}", nan.stdout);
    assert!(!nan.stderr.contains("panicked"), "{}", nan.stderr);
    assert!(nan.stderr.contains("non-finite losses"), "{}", nan.stderr);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_checks_its_json_path_before_running() {
    // One line and nothing else: no benchmark row was printed first.
    assert_clean_failure(
        &[
            "bench",
            "kernels",
            "--device",
            "cpu",
            "--json",
            "/nonexistent-dir/k.json",
        ],
        "cannot write /nonexistent-dir/k.json",
    );
}

#[test]
fn bench_train_reports_rates_and_where_the_time_goes() {
    let dir = common::temp_dir("cli-bench-train");
    let json = dir.join("train.json");
    let out = run(
        &[
            "bench",
            "train",
            "--device",
            "cpu",
            "--preset",
            "tiny",
            "--shape",
            "3x2x2",
            "--field",
            "z2",
            "--seconds",
            "0.5",
            "--json",
            json.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("steps/s"), "{}", out.stdout);
    assert!(out.stdout.contains("3x2x2 Z2"), "{}", out.stdout);
    let rows: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(rows["tensorsearch"], "bench train", "{rows}");
    let row = &rows["rows"][0];
    assert_eq!(
        (&row["shape"], &row["field"]),
        (&"3x2x2".into(), &"Z2".into())
    );
    assert!(row["steps_per_s"].as_f64().unwrap() > 0.0, "{row}");
    assert!(row["evaluations_per_s"].as_f64().unwrap() > 0.0, "{row}");
    // The profile covers the step's operations, and its shares sum to 1.
    let ops = row["step_profile"].as_array().unwrap();
    let names: Vec<&str> = ops.iter().map(|o| o["op"].as_str().unwrap()).collect();
    for op in [
        "matmul Aᵀ·B",
        "attention backward",
        "linear + gelu",
        "adamw",
    ] {
        assert!(names.contains(&op), "{names:?}");
    }
    let total: f64 = ops.iter().map(|o| o["fraction"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-9, "{total}");
    assert_clean_failure(
        &["bench", "kernels", "--device", "cpu", "--preset", "tiny"],
        "--preset applies to bench train only",
    );
    assert_clean_failure(
        &["bench", "search", "--device", "cpu", "--shape", "3x3x3"],
        "--shape applies to bench train only",
    );
    assert_clean_failure(
        &["bench", "train", "--device", "cpu", "--preset", "huge"],
        "invalid value 'huge' for '--preset <PRESET>' [possible values: tiny, small, large]",
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn decomposition_files_refuse_duplicate_keys_and_warn_on_unknown_ones() {
    let dir = common::temp_dir("cli-keys");
    let one = r#"{"shape":[1,1,1],"field":"Z","u":[[1]],"v":[[1]],"w":[[1]]"#;
    let dup = dir.join("dup.json");
    fs::write(&dup, format!("{one},\"w\":[[2]]}}")).unwrap();
    assert_clean_failure(&["verify", dup.to_str().unwrap()], "duplicate key \"w\"");
    let unknown = dir.join("unknown.json");
    fs::write(&unknown, format!("{one},\"rnak\":1}}")).unwrap();
    let out = run(&["verify", unknown.to_str().unwrap()], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("warning:") && out.stderr.contains("unknown key \"rnak\""),
        "{}",
        out.stderr
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pretrain_trains_checkpoints_resumes_and_reports() {
    let dir = common::temp_dir("cli-pretrain");
    let out = dir.to_str().unwrap();
    let base = [
        &tiny_pretrain(out)[..],
        &["--batch", "4", "--eval-states", "4"],
    ]
    .concat();
    let first = run(&[&base[..], &["--steps", "3"]].concat(), &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stdout.contains("trained 3 steps"), "{}", first.stdout);
    assert!(
        first.stdout.contains("top-1 exact factor"),
        "{}",
        first.stdout
    );
    for f in ["model.safetensors", "checkpoint.json", "report.json"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let meta = tensorsearch::model::checkpoint::read_meta(&dir).unwrap();
    assert_eq!(meta.step, 3);

    let resumed = run(
        &[&base[..], &["--steps", "2", "--resume", out]].concat(),
        &[],
    );
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(
        tensorsearch::model::checkpoint::read_meta(&dir)
            .unwrap()
            .step,
        5
    );
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["steps"], 2);
    assert!(report["evaluation"]["token_accuracy"].as_f64().is_some());

    assert_clean_failure(
        &[&base[..], &["--steps", "1", "--resume", out, "--seed", "9"]].concat(),
        "--seed",
    );
    assert_clean_failure(
        &[
            "pretrain", "2x2x2", "--preset", "huge", "--steps", "1", "--device", "cpu",
        ],
        "[possible values: tiny, small, large]",
    );
    assert_clean_failure(
        &[
            "pretrain", "2x2x2", "--device", "cpu", "--preset", "tiny", "--out", out,
        ],
        "--steps or --time",
    );
    fs::remove_dir_all(&dir).unwrap();
}
