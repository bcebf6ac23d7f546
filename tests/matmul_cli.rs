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

#[test]
fn schemes_multiply_on_the_cpu_and_the_gpu_with_errors_near_gemms() {
    let dir = temp_dir("matmul");
    let json = dir.join("m.json");
    let j = json.to_str().unwrap();
    let mut devices = vec!["cpu"];
    if gpu_available() {
        devices.push("gpu");
    } else {
        eprintln!("no wgpu adapter: the GPU half is skipped");
    }
    for device in devices {
        for (file, pick, levels, size) in [
            (STRASSEN, None, "2", "64"),
            (STRASSEN, None, "1", "33x20x47"),
            (ALPHATENSOR, Some("3x3x3"), "1", "50"),
            (ALPHATENSOR, Some("4x4x4"), "1", "40x64x36"),
        ] {
            let mut args = vec![
                "matmul", file, "--size", size, "--levels", levels, "--repeat", "2", "--device",
                device, "--json", j,
            ];
            if let Some(shape) = pick {
                args.extend(["--shape", shape]);
            }
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
            // fp32 rounding of sums over at most 64 products of entries
            // in [-1, 1): both well below 1e-4 of |A|·|B|, and the scheme
            // within a small factor of plain GEMM.
            let (e, base) = (
                m["rel_error"].as_f64().unwrap(),
                m["baseline_rel_error"].as_f64().unwrap(),
            );
            assert!(e > 0.0 && e < 1e-4 && base < 1e-4, "{device} {size}: {m}");
            assert!(e < 40.0 * base.max(1e-7), "{device} {size}: {m}");
            let want: Vec<usize> = size.split('x').map(|x| x.parse().unwrap()).collect();
            let want = if want.len() == 1 {
                vec![want[0]; 3]
            } else {
                want
            };
            assert_eq!(m["size"], serde_json::json!(want));
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
