//! Exported code compiles (or runs) and reproduces A·B exactly on integer
//! matrices, in Python, Rust and C: random small entries, entries at the
//! bound the code states, and refusal just past it.

mod common;

use rand::{Rng, SeedableRng};
use std::fs;
use std::path::Path;
use std::process::Command;
use tensorsearch::problem::export::{export, Arith, Lang, GROUP};
use tensorsearch::problem::{json, verify, Coeff, Decomposition, Field, Shape};

type Case = (Vec<i64>, Vec<i64>);

fn random_cases(shape: Shape, seed: u64, range: i64) -> Vec<Case> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let [la, lb, _] = shape.factor_lens();
    (0..6)
        .map(|_| {
            let a = (0..la).map(|_| rng.random_range(-range..=range)).collect();
            let b = (0..lb).map(|_| rng.random_range(-range..=range)).collect();
            (a, b)
        })
        .collect()
}

/// Entries at ±bound: all equal (the largest |c|), alternating signs, random signs.
fn cases_at(shape: Shape, bound: i64, seed: u64) -> Vec<Case> {
    let [la, lb, _] = shape.factor_lens();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut sign = |_| if rng.random::<bool>() { bound } else { -bound };
    vec![
        (vec![bound; la], vec![bound; lb]),
        (vec![-bound; la], vec![bound; lb]),
        (
            (0..la).map(&mut sign).collect(),
            (0..lb).map(&mut sign).collect(),
        ),
    ]
}

/// Schoolbook A·B in i128 (mod 2 for Z2), one line of integers per case.
fn expected(shape: Shape, field: Field, cases: &[Case]) -> String {
    let Shape { n, m, p } = shape;
    let mut out = String::new();
    for (a, b) in cases {
        let mut line = vec![];
        for i in 0..n {
            for k in 0..p {
                let mut c: i128 = (0..m)
                    .map(|j| a[i * m + j] as i128 * b[j * p + k] as i128)
                    .sum();
                if field == Field::Z2 {
                    c = c.rem_euclid(2);
                }
                line.push(c.to_string());
            }
        }
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

fn run_tool(cmd: &mut Command) -> std::process::Output {
    cmd.output().expect("tool runs")
}

fn run_ok(cmd: &mut Command) -> String {
    let out = run_tool(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn python_program(code: &str, name: &str, cases: &[Case]) -> String {
    let mut src = code.to_string();
    src += "\nfor a, b in [\n";
    for (a, b) in cases {
        src += &format!("    ([{}], [{}]),\n", list(a), list(b));
    }
    src += &format!("]:\n    print(' '.join(str(x) for x in {name}(a, b)))\n");
    src
}

fn rust_program(code: &str, name: &str, cases: &[Case], element: &str) -> String {
    let mut src = code.to_string();
    src +=
        &format!("\nfn main() {{\n    let cases: Vec<(Vec<{element}>, Vec<{element}>)> = vec![\n");
    for (a, b) in cases {
        let conv = |xs: &[i64]| {
            xs.iter()
                .map(|x| format!("{x} as {element}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        src += &format!("        (vec![{}], vec![{}]),\n", conv(a), conv(b));
    }
    src += &format!(
        "    ];\n    for (a, b) in &cases {{\n        let c = {name}(a, b);\n        \
         println!(\"{{}}\", c.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(\" \"));\n    }}\n}}\n"
    );
    src
}

/// A C program printing each product, or "refused" when the function returns 1.
fn c_program(code: &str, name: &str, cases: &[Case], lc: usize, float: bool) -> String {
    let (la, lb) = (cases[0].0.len(), cases[0].1.len());
    let t = if float { "double" } else { "int64_t" };
    let mut src = format!("#include <stdio.h>\n{code}\nint main(void) {{\n");
    src += &format!("    static const {t} as[{}][{la}] = {{", cases.len());
    for (a, _) in cases {
        src += &format!("{{{}}},", list(a));
    }
    src += &format!("}};\n    static const {t} bs[{}][{lb}] = {{", cases.len());
    for (_, b) in cases {
        src += &format!("{{{}}},", list(b));
    }
    let call = if float {
        format!("{name}(as[t], bs[t], c);")
    } else {
        format!("if ({name}(as[t], bs[t], c)) {{ printf(\"refused\\n\"); continue; }}")
    };
    let print = if float {
        "printf(k ? \" %.17g\" : \"%.17g\", c[k]);"
    } else {
        "printf(k ? \" %lld\" : \"%lld\", (long long)c[k]);"
    };
    src += &format!(
        "}};\n    for (int t = 0; t < {}; t++) {{\n        {t} c[{lc}];\n        {call}\n        \
         for (int k = 0; k < {lc}; k++) {print}\n        printf(\"\\n\");\n    }}\n    return 0;\n}}\n",
        cases.len()
    );
    src
}

fn compile_rust(src: &str, dir: &Path) -> std::path::PathBuf {
    let (path, bin) = (dir.join("check.rs"), dir.join("check_rs"));
    fs::write(&path, src).unwrap();
    run_ok(
        Command::new("rustc")
            .args(["--edition", "2021", "-O", "-o"])
            .arg(&bin)
            .arg(&path),
    );
    bin
}

fn compile_c(src: &str, dir: &Path) -> std::path::PathBuf {
    let (path, bin) = (dir.join("check.c"), dir.join("check_c"));
    fs::write(&path, src).unwrap();
    run_ok(
        Command::new("cc")
            .args([
                "-std=c99",
                "-O1",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-fsanitize=undefined",
            ])
            .args(["-fno-sanitize-recover=all", "-o"])
            .arg(&bin)
            .arg(&path),
    );
    bin
}

fn run_lang(code: &str, d: &Decomposition, lang: Lang, cases: &[Case], dir: &Path) -> String {
    let name = function_name(d);
    let lc = d.shape.factor_lens()[2];
    match lang {
        Lang::Python => {
            let path = dir.join("check.py");
            fs::write(&path, python_program(code, &name, cases)).unwrap();
            run_ok(Command::new("python3").arg(&path))
        }
        Lang::Rust => run_ok(&mut Command::new(compile_rust(
            &rust_program(code, &name, cases, "i64"),
            dir,
        ))),
        Lang::C => run_ok(&mut Command::new(compile_c(
            &c_program(code, &name, cases, lc, false),
            dir,
        ))),
    }
}

fn function_name(d: &Decomposition) -> String {
    format!("matmul_{}x{}x{}", d.shape.n, d.shape.m, d.shape.p)
}

/// The input bound the code's header states, if any.
fn stated_bound(code: &str) -> Option<i64> {
    let at = code.find("Exact for integer entries within ±")?
        + "Exact for integer entries within ±".len();
    Some(code[at..].split(';').next().unwrap().parse().unwrap())
}

fn check_all_languages(d: &Decomposition, seed: u64) {
    verify(d, d.field).expect("a correct decomposition");
    let cases = random_cases(d.shape, seed, 9);
    let want = expected(d.shape, d.field, &cases);
    let dir = common::temp_dir(&format!("export-{}-{}-{seed}", function_name(d), d.field));
    for lang in [Lang::Python, Lang::Rust, Lang::C] {
        let code = export(d, lang, Arith::Exact).unwrap();
        let products = code
            .lines()
            .filter(|l| l.trim_start().starts_with("m[") && l.contains(" = "))
            .count();
        assert_eq!(products, d.rank(), "{lang:?}: one product line per term");
        assert!(
            code.contains(&format!("rank {}", d.rank())),
            "header names the rank"
        );
        let got = run_lang(&code, d, lang, &cases, &dir);
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

/// The standard algorithm for `shape` with each term rescaled by large
/// co-prime fractions (and some powers of two): u_r·x, v_r·y, w_r/(x·y).
/// One common denominator for all outputs would pass 2^63 many times over.
fn rational_scheme(shape: Shape) -> Decomposition {
    let primes: [i128; 10] = [
        1_000_003,
        999_983,
        1_000_033,
        65_537,
        2_147_483_647,
        7_919,
        104_729,
        1_299_709,
        15_485_863,
        3,
    ];
    let mut d = Decomposition::standard(shape, Field::Q);
    for r in 0..d.rank() {
        let eight = if r % 4 == 0 { 8 } else { 1 };
        let x = Coeff::new(primes[r % 10] * eight, primes[(r + 3) % 10]);
        let y = Coeff::new(primes[(r + 7) % 10], primes[(r + 1) % 10]);
        d.u[r].iter_mut().for_each(|c| *c *= x);
        d.v[r].iter_mut().for_each(|c| *c *= y);
        d.w[r].iter_mut().for_each(|c| *c /= x * y);
    }
    verify(&d, Field::Q).expect("rescaling keeps the tensor");
    d
}

#[test]
fn rational_coefficients_export_exactly() {
    let d = rational_scheme(Shape::new(2, 3, 2).unwrap());
    check_all_languages(&d, 4);
    let code = export(&d, Lang::C, Arith::Exact).unwrap();
    assert!(
        code.contains("exact: (8000024/65537*a[0]"),
        "exact products are shown:\n{code}"
    );
}

#[test]
fn wrapping_exports_are_exact_at_their_bound_and_refuse_past_it() {
    let d = rational_scheme(Shape::new(2, 3, 2).unwrap());
    let dir = common::temp_dir("export-bound");
    let name = function_name(&d);
    for lang in [Lang::C, Lang::Rust] {
        let code = export(&d, lang, Arith::Exact).unwrap();
        let bound = stated_bound(&code).expect("the header states a bound");
        // Weights divided by 8 need 2^3, so the bound is the largest B
        // with 3·B² < 2^60.
        assert!(bound >= 1000, "bound {bound} below the promised ±1000");
        assert!(3 * (bound as i128).pow(2) < 1 << 60);
        assert!(
            3 * (bound as i128 + 1).pow(2) >= 1 << 60,
            "bound {bound} is not the largest"
        );
        let cases = cases_at(d.shape, bound, 5);
        let got = run_lang(&code, &d, lang, &cases, &dir);
        assert_eq!(
            got,
            expected(d.shape, d.field, &cases),
            "{lang:?} at ±{bound}:\n{code}"
        );
        let past = cases_at(d.shape, bound + 1, 6);
        match lang {
            Lang::C => {
                let bin = compile_c(&c_program(&code, &name, &past, 4, false), &dir);
                assert_eq!(
                    run_ok(&mut Command::new(bin)),
                    "refused\n".repeat(past.len())
                );
            }
            _ => {
                let bin = compile_rust(&rust_program(&code, &name, &past, "i64"), &dir);
                let out = run_tool(&mut Command::new(bin));
                assert!(
                    !out.status.success(),
                    "Rust accepted entries past its bound"
                );
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains(&format!("within ±{bound}")), "{err}");
            }
        }
    }
    // Python is exact at any size: entries of 2^40 give products near 2^81.
    let code = export(&d, Lang::Python, Arith::Exact).unwrap();
    assert_eq!(stated_bound(&code), None);
    let cases = cases_at(d.shape, 1 << 40, 7);
    let got = run_lang(&code, &d, Lang::Python, &cases, &dir);
    assert_eq!(got, expected(d.shape, d.field, &cases));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn published_rational_schemes_are_exact_to_at_least_a_thousand() {
    for d in json::read_file(&common::alphatensor_dir().join("alphatensor_q.json")).unwrap() {
        for lang in [Lang::C, Lang::Rust] {
            let code = export(&d, lang, Arith::Exact).unwrap();
            let bound = stated_bound(&code).expect("a stated bound");
            assert!(bound >= 1000, "{} {lang:?}: bound {bound}", d.shape);
        }
    }
}

#[test]
fn float_exports_are_close() {
    let d = rational_scheme(Shape::new(2, 2, 3).unwrap());
    let dir = common::temp_dir("export-f64");
    let cases = random_cases(d.shape, 8, 50);
    let want: Vec<Vec<f64>> = expected(d.shape, d.field, &cases)
        .lines()
        .map(|l| l.split(' ').map(|x| x.parse().unwrap()).collect())
        .collect();
    let name = function_name(&d);
    let lc = d.shape.factor_lens()[2];
    for lang in [Lang::Python, Lang::Rust, Lang::C] {
        let code = export(&d, lang, Arith::F64).unwrap();
        assert!(code.contains("Floating point"), "{code}");
        let got = match lang {
            Lang::Python => {
                let path = dir.join("check.py");
                fs::write(&path, python_program(&code, &name, &cases)).unwrap();
                run_ok(Command::new("python3").arg(&path))
            }
            Lang::Rust => run_ok(&mut Command::new(compile_rust(
                &rust_program(&code, &name, &cases, "f64"),
                &dir,
            ))),
            Lang::C => run_ok(&mut Command::new(compile_c(
                &c_program(&code, &name, &cases, lc, true),
                &dir,
            ))),
        };
        for (line, want) in got.lines().zip(&want) {
            let got: Vec<f64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g - w).abs() <= 1e-6 * (1.0 + w.abs()),
                    "{lang:?}: {g} vs {w}"
                );
            }
        }
    }
    let z2 = shared("alphatensor_z2.json", [2, 2, 2]);
    let err = export(&z2, Lang::C, Arith::F64).unwrap_err().to_string();
    assert!(err.contains("Z2"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn large_ranks_are_split_into_functions() {
    // Rank 120 and 30 outputs in C: two product functions.
    let d = Decomposition::standard(Shape::new(5, 4, 6).unwrap(), Field::Z);
    let code = export(&d, Lang::C, Arith::Exact).unwrap();
    let groups = code.matches("static void matmul_5x4x6_products_").count();
    assert_eq!(groups, d.rank().div_ceil(GROUP));
    assert!(groups >= 2);
    check_all_languages(&d, 9);
}

/// `export --lang wgsl` on every AlphaTensor scheme over Q (fractions
/// included): the stages parse and validate with naga as compute shaders
/// with the three entry points; a Z2 scheme is refused.
#[test]
fn wgsl_stages_of_every_published_scheme_validate_with_naga() {
    use tensorsearch::problem::export::export_wgsl;
    let dir = common::alphatensor_dir();
    let schemes = json::read_file(&dir.join("alphatensor_q.json")).unwrap();
    assert_eq!(schemes.len(), 20);
    for d in &schemes {
        let text = export_wgsl(d).unwrap();
        let module = naga::front::wgsl::parse_str(&text)
            .unwrap_or_else(|e| panic!("{}: {}", d.shape, e.emit_to_string(&text)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {}", d.shape, e.emit_to_string(&text)));
        let entries: Vec<&str> = module
            .entry_points
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(
            entries,
            ["combine_a", "combine_b", "accumulate_c"],
            "{}",
            d.shape
        );
        // One case per term in each combination, one per block of C.
        let cases = text.matches("        case ").count();
        assert_eq!(cases, 2 * d.rank() + d.shape.n * d.shape.p, "{}", d.shape);
    }
    let z2 = json::read_file(&dir.join("alphatensor_z2.json")).unwrap();
    let e = export_wgsl(&z2[0]).unwrap_err().to_string();
    assert!(e.contains("only mod 2"), "{e}");
}
