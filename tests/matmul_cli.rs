//! `tensorsearch matmul` through the binary: schemes over Z and Q
//! multiply matrices on the CPU and on the GPU with errors near plain
//! GEMM's, the JSON report has its keys, and bad input gets one line.

mod common;

use common::{assert_clean_failure, run, temp_dir};
use std::fs;

const STRASSEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/strassen.json");
const ALPHATENSOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/schemes/alphatensor_bench.json"
);

fn gpu_available() -> bool {
    common::gpu::available()
}

fn report(json: &std::path::Path) -> serde_json::Value {
    let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(doc["tensorsearch"], "matmul");
    doc["result"].clone()
}

/// Strassen with its first product scaled by 3 and its output by 1/3: a
/// scheme over Q with fractions that float arithmetic cannot hold exactly.
fn strassen_with_thirds(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("thirds.json");
    let text = r#"{"shape":[2,2,2],"field":"Q","rank":7,
 "u":[[3,0,0,3],[0,0,1,1],[1,0,0,0],[0,0,0,1],[1,1,0,0],[-1,0,1,0],[0,1,0,-1]],
 "v":[[1,0,0,1],[1,0,0,0],[0,1,0,-1],[-1,0,1,0],[0,0,0,1],[1,1,0,0],[0,0,1,1]],
 "w":[["1/3",0,0,"1/3"],[0,0,1,-1],[0,1,0,1],[1,0,1,0],[-1,1,0,0],[0,0,0,1],[1,0,0,0]]}"#;
    fs::write(&path, text).unwrap();
    path
}

/// The error bound a scheme must meet at `levels` levels on inner
/// dimension k: plain GEMM's rounding, k·u with u = 2⁻²⁴ in units of
/// max|A|·max|B|, times 4 for each level (each level at most doubles the
/// entries summed and adds a combination's rounding), times a margin of 4.
fn bound(levels: u32, k: usize) -> f64 {
    4.0 * k as f64 * 2f64.powi(-24) * 4f64.powi(levels as i32)
}

#[test]
fn schemes_multiply_on_the_cpu_and_the_gpu_within_a_bound_of_their_levels() {
    let dir = temp_dir("matmul");
    let json = dir.join("m.json");
    let j = json.to_str().unwrap();
    let thirds = strassen_with_thirds(&dir);
    let rectangular = common::alphatensor_dir().join("alphatensor_q.json");
    let mut devices = vec!["cpu"];
    if gpu_available() {
        devices.push("gpu");
    } else {
        eprintln!("no wgpu adapter: the GPU half is skipped");
    }
    let mut errors = std::collections::HashMap::new();
    for device in devices {
        for (file, pick, levels, size) in [
            (STRASSEN.to_string(), vec![], 1, "64"),
            (STRASSEN.to_string(), vec![], 2, "64"),
            (STRASSEN.to_string(), vec![], 1, "33x20x47"),
            (thirds.to_str().unwrap().to_string(), vec![], 2, "61x50x45"),
            // AlphaTensor's 2x2x3 of rank 11: a rectangular scheme.
            (
                rectangular.to_str().unwrap().to_string(),
                vec!["--index", "1"],
                2,
                "40x36x54",
            ),
            (ALPHATENSOR.to_string(), vec!["--shape", "3x3x3"], 1, "50"),
            (
                ALPHATENSOR.to_string(),
                vec!["--shape", "4x4x4"],
                1,
                "40x64x36",
            ),
        ] {
            let levels_text = levels.to_string();
            let mut args = vec![
                "matmul",
                &file,
                "--size",
                size,
                "--levels",
                &levels_text,
                "--repeat",
                "2",
                "--device",
                device,
                "--json",
                j,
            ];
            args.extend(pick.iter().copied());
            let r = run(&args, &[]);
            assert_eq!(r.code, 0, "{args:?}: {}{}", r.stdout, r.stderr);
            assert!(r.stdout.contains("speedup"), "{}", r.stdout);
            let m = report(&json);
            for key in [
                "seconds",
                "baseline_seconds",
                "speedup",
                "rel_error",
                "baseline_rel_error",
                "gflops_effective",
            ] {
                assert!(
                    m[key].as_f64().is_some_and(|x| x.is_finite() && x >= 0.0),
                    "{key}: {m}"
                );
            }
            let want: Vec<usize> = size.split('x').map(|x| x.parse().unwrap()).collect();
            let want = if want.len() == 1 {
                vec![want[0]; 3]
            } else {
                want
            };
            assert_eq!(m["size"], serde_json::json!(want));
            let (e, base) = (
                m["rel_error"].as_f64().unwrap(),
                m["baseline_rel_error"].as_f64().unwrap(),
            );
            assert!(e > 0.0, "f32 rounding shows: {m}");
            assert!(base <= bound(0, want[1]), "{device} {size}: {m}");
            assert!(e <= bound(levels, want[1]), "{device} {file} {size}: {m}");
            errors.insert((device, file.clone(), size), e);
        }
    }
    // The same matrices (the seed is fixed) give nearly the same errors on
    // both devices: GPU and CPU compute the same scheme.
    for ((device, file, size), e) in &errors {
        if *device == "gpu" {
            let cpu = errors[&("cpu", file.clone(), *size)];
            assert!(
                (e - cpu).abs() <= 0.5 * e.max(cpu),
                "{file} {size}: gpu {e}, cpu {cpu}"
            );
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_matmul_input_gets_one_clear_line() {
    let dir = temp_dir("matmul-bad");
    let z2 = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/strassen.json");
    let mod2 = dir.join("mod2.json");
    // Strassen read over Z2 verifies there, and is refused as Z2-only.
    let text = fs::read_to_string(z2)
        .unwrap()
        .replace("\"Z\"", "\"Z2\"")
        .replace("\"Q\"", "\"Z2\"");
    fs::write(&mod2, text).unwrap();
    let broken = dir.join("broken.json");
    let text = fs::read_to_string(z2).unwrap();
    let at = text.find("-1").expect("Strassen has a -1");
    fs::write(&broken, format!("{}1{}", &text[..at], &text[at + 2..])).unwrap();
    let garbage = dir.join("garbage.json");
    fs::write(&garbage, b"\x00\x01 not json {").unwrap();
    let out = dir.join("out.json");
    for (args, said) in [
        (vec![z2, "--size", "0"], "--size '0'"),
        (
            vec![z2, "--size", "99999"],
            "each a whole number from 1 to 16384",
        ),
        (vec![z2, "--size", "2x3"], "give N or NxKxM"),
        (
            vec![z2, "--size", "8", "--levels", "9"],
            "--levels must be from 0 to 8",
        ),
        (
            vec![z2, "--size", "8", "--repeat", "0"],
            "--repeat must be from 1 to 1000",
        ),
        (
            vec![mod2.to_str().unwrap(), "--size", "8"],
            "multiplies only mod 2",
        ),
        (
            vec![broken.to_str().unwrap(), "--size", "8"],
            "not a decomposition",
        ),
        (
            vec![ALPHATENSOR, "--size", "8"],
            "choose one with --index or --shape",
        ),
        (vec![z2, "--size", "8", "--json", z2], "is the input file"),
        (
            vec!["/nonexistent/scheme.json", "--size", "8"],
            "/nonexistent/scheme.json",
        ),
        (
            vec![garbage.to_str().unwrap(), "--size", "8"],
            "garbage.json",
        ),
    ] {
        let mut full = vec!["matmul", "--device", "cpu"];
        full.extend(args);
        assert_clean_failure(&full, said);
    }
    // Checked before an adapter is opened: the GPU runs L levels as one
    // scheme of rank 7^L, built exactly.
    assert_clean_failure(
        &[
            "matmul", "--device", "gpu", z2, "--size", "8", "--levels", "5",
        ],
        "rank 7^5, too large to build",
    );
    assert!(!out.exists());
    fs::remove_dir_all(&dir).unwrap();
}
