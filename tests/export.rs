//! Exported code compiles (or runs) and reproduces A·B exactly on random
//! integer matrices, in Python, Rust and C.

mod common;

use rand::{Rng, SeedableRng};
use std::fs;
use std::path::Path;
use std::process::Command;
use tensorsearch::problem::export::{export, Lang};
use tensorsearch::problem::{json, verify, Coeff, Decomposition, Field, Shape};

const CASES: usize = 6;

fn random_cases(shape: Shape, seed: u64) -> Vec<(Vec<i64>, Vec<i64>)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let [la, lb, _] = shape.factor_lens();
    (0..CASES)
        .map(|_| {
            let a = (0..la).map(|_| rng.random_range(-9..=9)).collect();
            let b = (0..lb).map(|_| rng.random_range(-9..=9)).collect();
            (a, b)
        })
        .collect()
}

/// Schoolbook A·B (mod 2 for Z2), one line of integers per case.
fn expected(shape: Shape, field: Field, cases: &[(Vec<i64>, Vec<i64>)]) -> String {
    let Shape { n, m, p } = shape;
    let mut out = String::new();
    for (a, b) in cases {
        let mut c = vec![0i64; n * p];
        for i in 0..n {
            for k in 0..p {
                c[i * p + k] = (0..m).map(|j| a[i * m + j] * b[j * p + k]).sum();
                if field == Field::Z2 {
                    c[i * p + k] = c[i * p + k].rem_euclid(2);
                }
            }
        }
        let line: Vec<String> = c.iter().map(|x| x.to_string()).collect();
        out += &line.join(" ");
        out.push('\n');
    }
    out
}

fn list(xs: &[i64]) -> String {
    xs.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("tool runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn run_python(code: &str, name: &str, cases: &[(Vec<i64>, Vec<i64>)], dir: &Path) -> String {
    let mut src = code.to_string();
    src += "\nfor a, b in [\n";
    for (a, b) in cases {
        src += &format!("    ([{}], [{}]),\n", list(a), list(b));
    }
    src += &format!("]:\n    print(' '.join(str(x) for x in {name}(a, b)))\n");
    let path = dir.join("check.py");
    fs::write(&path, src).unwrap();
    run_ok(Command::new("python3").arg(&path))
}

fn run_rust(code: &str, name: &str, cases: &[(Vec<i64>, Vec<i64>)], dir: &Path) -> String {
    let mut src = code.to_string();
    src += "\nfn main() {\n    let cases: Vec<(Vec<i64>, Vec<i64>)> = vec![\n";
    for (a, b) in cases {
        src += &format!("        (vec![{}], vec![{}]),\n", list(a), list(b));
    }
    src += &format!(
        "    ];\n    for (a, b) in &cases {{\n        let c = {name}(a, b);\n        \
         println!(\"{{}}\", c.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(\" \"));\n    }}\n}}\n"
    );
    let path = dir.join("check.rs");
    let bin = dir.join("check_rs");
    fs::write(&path, src).unwrap();
    run_ok(
        Command::new("rustc")
            .args(["--edition", "2021", "-o"])
            .arg(&bin)
            .arg(&path),
    );
    run_ok(&mut Command::new(&bin))
}

fn run_c(code: &str, name: &str, cases: &[(Vec<i64>, Vec<i64>)], dir: &Path) -> String {
    let (la, lb) = (cases[0].0.len(), cases[0].1.len());
    let mut src = format!("#include <stdio.h>\n{code}\nint main(void) {{\n");
    src += &format!("    static const int64_t as[{CASES}][{la}] = {{");
    for (a, _) in cases {
        src += &format!("{{{}}},", list(a));
    }
    src += &format!("}};\n    static const int64_t bs[{CASES}][{lb}] = {{");
    for (_, b) in cases {
        src += &format!("{{{}}},", list(b));
    }
    src += &format!(
        "}};\n    for (int t = 0; t < {CASES}; t++) {{\n        int64_t c[1024];\n        {name}(as[t], bs[t], c);\n        \
         for (int k = 0; k < C_LEN; k++) printf(k ? \" %lld\" : \"%lld\", (long long)c[k]);\n        printf(\"\\n\");\n    }}\n    return 0;\n}}\n"
    );
    let path = dir.join("check.c");
    let bin = dir.join("check_c");
    fs::write(&path, src).unwrap();
    run_ok(
        Command::new("cc")
            .arg("-std=c99")
            .arg("-Wall")
            .arg("-Werror")
            .arg("-o")
            .arg(&bin)
            .arg(&path)
            .arg(format!("-DC_LEN={}", c_len(code))),
    );
    run_ok(&mut Command::new(&bin))
}

/// The output length the C function writes, read from its own comment.
fn c_len(code: &str) -> usize {
    let start = code.find("/* c[").expect("C signature comment") + 5;
    code[start..].split(']').next().unwrap().parse().unwrap()
}

fn check_all_languages(d: &Decomposition, seed: u64) {
    verify(d, d.field).expect("a correct decomposition");
    let name = format!("matmul_{}x{}x{}", d.shape.n, d.shape.m, d.shape.p);
    let cases = random_cases(d.shape, seed);
    let want = expected(d.shape, d.field, &cases);
    let dir = common::temp_dir(&format!("export-{name}-{}", d.field));
    for lang in [Lang::Python, Lang::Rust, Lang::C] {
        let code = export(d, lang);
        let comment = if lang == Lang::Python { "#" } else { "//" };
        let products = code
            .lines()
            .map(|l| l.split(comment).next().unwrap())
            .map(|l| l.matches(" * ").count())
            .sum::<usize>();
        assert_eq!(products, d.rank(), "{lang:?}: one product line per term");
        assert!(
            code.contains(&format!("rank {}", d.rank())),
            "header names the rank"
        );
        let got = match lang {
            Lang::Python => run_python(&code, &name, &cases, &dir),
            Lang::Rust => run_rust(&code, &name, &cases, &dir),
            Lang::C => run_c(&code, &name, &cases, &dir),
        };
        assert_eq!(
            got, want,
            "{lang:?} export of {} {} is wrong:\n{code}",
            d.shape, d.field
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}

fn shared(file: &str, shape: [usize; 3]) -> Decomposition {
    json::read_file(&common::alphatensor_dir().join(file))
        .unwrap()
        .into_iter()
        .find(|d| [d.shape.n, d.shape.m, d.shape.p] == shape)
        .expect("shape in the shared file")
}

#[test]
fn strassen_exports_run() {
    check_all_languages(&Decomposition::strassen(), 1);
}

#[test]
fn rectangular_published_decompositions_export_run() {
    check_all_languages(&shared("alphatensor_q.json", [3, 4, 5]), 2);
    check_all_languages(&shared("alphatensor_z2.json", [2, 3, 4]), 3);
}

#[test]
fn rational_coefficients_export_exactly() {
    // Strassen with u_r scaled by 2/3 and w_r by 3/2: still a decomposition,
    // now with fractional coefficients.
    let mut d = Decomposition::strassen();
    d.field = Field::Q;
    let (s, t) = (Coeff::new(2, 3), Coeff::new(3, 2));
    for r in [0, 2, 5] {
        d.u[r].iter_mut().for_each(|x| *x *= s);
        d.w[r].iter_mut().for_each(|x| *x *= t);
    }
    d.v[1].iter_mut().for_each(|x| *x *= Coeff::new(1, 4));
    d.w[1].iter_mut().for_each(|x| *x *= Coeff::from_integer(4));
    assert!(!d.is_integral());
    let code = export(&d, Lang::Python);
    assert!(
        code.contains("2/3*a[0]"),
        "exact coefficients are shown:\n{code}"
    );
    check_all_languages(&d, 4);
}
