//! The field's scheme files through the binary: published files in their
//! own formats verify; every writer's files are read back losslessly by
//! `verify`, `convert`, `export`, `flip --from` and `matmul`; a w written
//! the wrong way fails with the hint; broken files get one line.

mod common;

use common::{assert_clean_failure, run, temp_dir};
use std::fs;
use std::path::{Path, PathBuf};
use tensorsearch::problem::{formats, json, verify, Decomposition, Field};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/formats");

fn data(name: &str) -> String {
    format!("{DATA}/{name}")
}

/// What a format without a Q marker reads back: a Q scheme whose
/// coefficients are all integers is read over Z, where it holds too.
fn as_read_back(d: &Decomposition) -> Decomposition {
    let mut d = d.clone();
    let integer = d
        .factors()
        .iter()
        .all(|r| r.iter().flatten().all(|x| x.is_integer()));
    if d.field == Field::Q && integer {
        d.field = Field::Z;
    }
    d
}

fn converted(dir: &Path, input: &str, to: &str, name: &str) -> PathBuf {
    let out = dir.join(name);
    let r = run(
        &["convert", input, "--to", to, "--out", out.to_str().unwrap()],
        &[],
    );
    assert_eq!(r.code, 0, "{input} to {to}: {}{}", r.stdout, r.stderr);
    out
}

#[test]
fn published_files_verify_in_their_own_formats() {
    for (file, said) in [
        ("Strassen-222-7-18.m", "2x2x2 Z rank 7: ok"),
        ("Laderman-333-23-98.m", "3x3x3 Z rank 23: ok"),
        ("3x3x3_m23_additions60_ZT.json", "3x3x3 Z rank 23: ok"),
        ("gg-222-rank7-rec-0-0-0-z.npy", "2x2x2 Z rank 7: ok"),
        ("gg-222-rank7-rec-0-0-0-z.txt", "2x2x2 Z rank 7: ok"),
        ("gg-333-rank23-rec-0-0-0-z.npy", "3x3x3 Z rank 23: ok"),
        ("gg-333-rank23-rec-0-0-0-z.txt", "3x3x3 Z rank 23: ok"),
    ] {
        let r = run(&["verify", &data(file)], &[]);
        assert_eq!(r.code, 0, "{file}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains(said), "{file}: {}", r.stdout);
    }
}

#[test]
fn every_writer_round_trips_and_every_command_reads_its_files() {
    let dir = temp_dir("formats");
    let alphatensor = common::alphatensor_dir();
    // Ours: Strassen (Z), AlphaTensor's 2x2x3 (Z, rectangular) and 4x4x4
    // rank 47 (Z2 only), and Strassen with a third (Q).
    let thirds = dir.join("thirds.json");
    fs::write(
        &thirds,
        r#"{"shape":[2,2,2],"field":"Q","rank":7,
 "u":[[3,0,0,3],[0,0,1,1],[1,0,0,0],[0,0,0,1],[1,1,0,0],[-1,0,1,0],[0,1,0,-1]],
 "v":[[1,0,0,1],[1,0,0,0],[0,1,0,-1],[-1,0,1,0],[0,0,0,1],[1,1,0,0],[0,0,1,1]],
 "w":[["1/3",0,0,"1/3"],[0,0,1,-1],[0,1,0,1],[1,0,1,0],[-1,1,0,0],[0,0,0,1],[1,0,0,0]]}"#,
    )
    .unwrap();
    let q = json::read_file(&alphatensor.join("alphatensor_q.json")).unwrap();
    let z2 = json::read_file(&alphatensor.join("alphatensor_z2.json")).unwrap();
    let rectangular = dir.join("223.json");
    json::write_file(&rectangular, &[q[1].clone()]).unwrap();
    let rank47 = dir.join("444.json");
    let four = z2
        .iter()
        .find(|d| d.shape.n == 4 && d.shape.m == 4 && d.shape.p == 4)
        .unwrap();
    assert_eq!(four.rank(), 47);
    json::write_file(&rank47, std::slice::from_ref(four)).unwrap();
    let strassen = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/strassen.json");
    let inputs: Vec<(String, Decomposition)> = [
        strassen.to_string(),
        rectangular.display().to_string(),
        rank47.display().to_string(),
        thirds.display().to_string(),
    ]
    .into_iter()
    .map(|p| {
        let d = json::read_file(Path::new(&p)).unwrap().remove(0);
        verify(&d, d.field).unwrap();
        (p, d)
    })
    .collect();
    for (k, (input, original)) in inputs.iter().enumerate() {
        for (to, ext) in [
            ("fmm-json", "json"),
            ("maple", "m"),
            ("exp", "exp"),
            ("tfg", "txt"),
            ("cpd-txt", "txt"),
            ("cpd-npy", "npy"),
            ("npz", "npz"),
        ] {
            let fractions = original
                .factors()
                .iter()
                .any(|r| r.iter().flatten().any(|x| !x.is_integer()));
            let z2 = original.field == Field::Z2;
            // flips names its mod-2 files so; flip-cpd's arrays carry
            // their shape and rank in the name only.
            let name = match to {
                "cpd-npy" => format!("{}-s{k}.npy", formats::cpd_npy_name(original)),
                _ => format!("s{k}-{to}-{}.{ext}", if z2 { "mod2" } else { "mod0" }),
            };
            let refusal = match to {
                "exp" => "exp holds integer coefficients only",
                // A third has no exact binary float.
                _ => "npz holds integers and binary fractions",
            };
            if fractions && (to == "exp" || to == "npz") {
                let out = dir.join(&name);
                assert_clean_failure(
                    &["convert", input, "--to", to, "--out", out.to_str().unwrap()],
                    refusal,
                );
                assert!(!out.exists());
                continue;
            }
            let file = converted(&dir, input, to, &name);
            let f = file.to_str().unwrap();
            // Read back, detected by content and extension: the same scheme.
            let back = formats::read_file(&file, None).unwrap();
            assert_eq!(back, vec![as_read_back(original)], "{input} as {to}");
            let v = run(&["verify", f], &[]);
            assert_eq!(v.code, 0, "{f}: {}{}", v.stdout, v.stderr);
            // And back to our JSON, losslessly.
            let again = converted(&dir, f, "json", &format!("back-{name}.json"));
            assert_eq!(
                json::read_file(&again).unwrap(),
                vec![as_read_back(original)],
                "{f}"
            );
        }
    }
    // Several schemes in one tfg file.
    let many = dir.join("many.txt");
    let r = run(
        &[
            "convert",
            strassen,
            rectangular.to_str().unwrap(),
            "--to",
            "tfg",
            "--out",
            many.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = run(&["verify", many.to_str().unwrap()], &[]);
    assert!(
        v.stdout.contains("many.txt[0]: 2x2x2 Z rank 7: ok")
            && v.stdout.contains("many.txt[1]: 2x2x3 Z rank 11: ok"),
        "{}",
        v.stdout
    );
    // The other commands read the field's files directly.
    let exp = converted(&dir, strassen, "exp", "strassen.exp");
    let maple = data("Laderman-333-23-98.m");
    let r = run(&["export", exp.to_str().unwrap(), "--lang", "python"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("def matmul_2x2x2"), "{}", r.stdout);
    let r = run(
        &[
            "matmul", &maple, "--size", "30", "--repeat", "1", "--device", "cpu",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.join("flip");
    let r = run(
        &[
            "flip",
            "3x3x3",
            "--from",
            &data("3x3x3_m23_additions60_ZT.json"),
            "--field",
            "z",
            "--time",
            "1s",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("best rank 23"), "{}", r.stdout);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_w_written_the_other_way_fails_with_the_hint_and_broken_files_get_one_line() {
    let dir = temp_dir("formats-bad");
    // The catalogue's 3x3x3 with its w rows read as C instead of Cᵀ.
    let text = fs::read_to_string(data("3x3x3_m23_additions60_ZT.json")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    for row in doc["w"].as_array_mut().unwrap() {
        let r: Vec<serde_json::Value> = row.as_array().unwrap().clone();
        *row = serde_json::Value::Array((0..9).map(|t| r[(t % 3) * 3 + t / 3].clone()).collect());
    }
    let wrong = dir.join("wrong.json");
    fs::write(&wrong, doc.to_string()).unwrap();
    let v = run(&["verify", wrong.to_str().unwrap()], &[]);
    assert_eq!(v.code, 1);
    assert!(
        v.stdout.contains("FAILED") && v.stdout.contains("other convention"),
        "{}",
        v.stdout
    );
    let o = dir.join("out.json");
    assert_clean_failure(
        &[
            "convert",
            wrong.to_str().unwrap(),
            "--to",
            "json",
            "--out",
            o.to_str().unwrap(),
        ],
        "other convention",
    );
    assert!(!o.exists());

    // flip-cpd's 3x3x3 with c_(i,k) written as c_(k,i): the hint again.
    let cpd = fs::read_to_string(data("gg-333-rank23-rec-0-0-0-z.txt")).unwrap();
    let swapped: String = cpd
        .lines()
        .map(
            |l| match l.strip_prefix('c').and_then(|r| r.split_once(' ')) {
                Some((k, rest)) => {
                    let k: usize = k.parse::<usize>().unwrap() - 1;
                    format!("c{}{rest}\n", (k % 3) * 3 + k / 3 + 1)
                }
                None => format!("{l}\n"),
            },
        )
        .collect();
    let swapped_path = dir.join("swapped.txt");
    fs::write(&swapped_path, swapped).unwrap();
    let v = run(&["verify", swapped_path.to_str().unwrap()], &[]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("other convention"), "{}", v.stdout);
    // A flip-cpd array cut short.
    let npy = fs::read(data("gg-222-rank7-rec-0-0-0-z.npy")).unwrap();
    let cut_npy = dir.join("gg-222-rank7-cut.npy");
    fs::write(&cut_npy, &npy[..npy.len() - 100]).unwrap();

    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let laderman = fs::read_to_string(data("Laderman-333-23-98.m")).unwrap();
    for (file, said) in [
        (
            write("cut.m", &laderman[..laderman.len() / 2]),
            "ends inside a list",
        ),
        (
            write("bad.exp", "(a11+x22)*(b11)*(c11)\n"),
            "unexpected 'x'",
        ),
        (
            write("short.txt", "2 2 2 7\n1 0 0 1\n"),
            "needs 84 coefficients",
        ),
        (
            write(
                "rows.json",
                r#"{"n":[2,2,2],"m":1,"z2":false,"u":[[1,0]],"v":[[1,0,0,0]],"w":[[1,0,0,0]]}"#,
            ),
            "row 0 must hold 4 numbers",
        ),
        (write("empty.exp", "\n\n"), "no product"),
        (
            write("bad-cpd.txt", "m1 = (a1 - x4)(b1)\n\nc1 = m1\n"),
            "expected a term of a, found 'x4'",
        ),
        (cut_npy.display().to_string(), "truncated"),
    ] {
        for command in [
            vec!["verify", file.as_str()],
            vec!["convert", file.as_str(), "--to", "json"],
        ] {
            let r = run(&command, &[]);
            assert_ne!(r.code, 0, "{command:?}");
            assert!(!r.stderr.contains("panicked"), "{command:?}: {}", r.stderr);
            let line = r
                .stderr
                .lines()
                .find(|l| l.starts_with("error"))
                .unwrap_or_default();
            assert!(line.contains(said), "{command:?}: {}", r.stderr);
        }
    }
    assert_clean_failure(
        &["convert", &data("Strassen-222-7-18.m"), "--to", "nope"],
        "invalid value 'nope'",
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// The binary writers: npz rewrites AlphaTensor's archive entry for entry
/// (plain and pickled arrays), keeps one scheme per shape, and flip-cpd's
/// arrays must be named as flip-cpd names them, since the name holds the
/// shape; neither goes to standard output.
#[test]
fn binary_writers_round_trip_the_published_files_and_refuse_what_they_cannot_hold() {
    let dir = temp_dir("formats-binary");
    let npz = data("factorizations_f2.npz");
    let again = converted(&dir, &npz, "npz", "again_f2.npz");
    assert_eq!(
        formats::read_file(&again, None).unwrap(),
        formats::read_file(Path::new(&npz), None).unwrap()
    );
    // Both flip-cpd files of a scheme in one .npy of two rows.
    let two = dir.join("gg-222-rank7-two.npy");
    let r = run(
        &[
            "convert",
            &data("gg-222-rank7-rec-0-0-0-z.npy"),
            &data("gg-222-rank7-rec-0-0-0-z.txt"),
            "--to",
            "cpd-npy",
            "--out",
            two.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = run(&["verify", two.to_str().unwrap()], &[]);
    assert!(
        v.code == 0 && v.stdout.contains("two.npy[1]: 2x2x2 Z rank 7: ok"),
        "{}{}",
        v.stdout,
        v.stderr
    );
    let strassen = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/strassen.json");
    let unnamed = dir.join("strassen.npy");
    assert_clean_failure(
        &[
            "convert",
            strassen,
            "--to",
            "cpd-npy",
            "--out",
            unnamed.to_str().unwrap(),
        ],
        "name the file gg-222-rank7",
    );
    assert!(!unnamed.exists());
    let twice = dir.join("twice.npz");
    assert_clean_failure(
        &[
            "convert",
            strassen,
            strassen,
            "--to",
            "npz",
            "--out",
            twice.to_str().unwrap(),
        ],
        "npz holds one scheme per shape",
    );
    assert!(!twice.exists());
    assert_clean_failure(
        &["convert", strassen, "--to", "npz"],
        "npz is binary: give --out",
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// AlphaTensor's npz: the published mod-2 archive verifies whole (square
/// shapes as plain arrays, the others pickled); a truncated archive, a
/// pickle of something else and an array of the wrong shape get one line.
#[test]
fn alphatensor_npz_archives_are_read_and_broken_ones_refused() {
    use std::io::Write;
    let npz = data("factorizations_f2.npz");
    let r = run(&["verify", &npz], &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.contains(" Z2 ") && l.ends_with(": ok"))
            .count(),
        20,
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("[16]: 4x4x4 Z2 rank 47: ok"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("[1]: 2x2x3 Z2 rank 11: ok"),
        "{}",
        r.stdout
    );
    // Converted to our JSON, the 20 verify again.
    let dir = temp_dir("formats-npz");
    let out = dir.join("all.json");
    let c = run(
        &[
            "convert",
            &npz,
            "--to",
            "json",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(c.code, 0, "{}", c.stderr);
    assert_eq!(json::read_file(&out).unwrap().len(), 20);

    let bytes = fs::read(&npz).unwrap();
    let cut = dir.join("cut.npz");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    // An archive built here: one entry per case.
    let archive = |name: &str, entry: &str, npy: Vec<u8>| -> String {
        let path = dir.join(name);
        let mut zip = zip::ZipWriter::new(fs::File::create(&path).unwrap());
        zip.start_file(entry, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&npy).unwrap();
        zip.finish().unwrap();
        path.display().to_string()
    };
    let npy_header = |descr: &str, shape: &str| -> Vec<u8> {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h.as_bytes());
        out
    };
    let mut pickled = npy_header("|O", "(3,)");
    let other = serde_pickle::Value::List(vec![serde_pickle::Value::String("not an array".into())]);
    pickled.extend(serde_pickle::value_to_vec(&other, serde_pickle::SerOptions::new()).unwrap());
    let mut wrong = npy_header("<i8", "(3, 4, 2)");
    wrong.extend(vec![0u8; 3 * 4 * 2 * 8]);
    let cases = [
        (cut.display().to_string(), "not a readable npz"),
        (
            archive("pickle.npz", "2,2,3.npy", pickled),
            "a pickle of something else",
        ),
        (
            archive("wrong.npz", "3,3,3.npy", wrong),
            "does not fit 3x3x3",
        ),
    ];
    for (file, said) in cases {
        let r = run(&["verify", &file], &[]);
        assert_ne!(r.code, 0);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        let line = r
            .stderr
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or_default();
        assert!(line.contains(said), "{file}: {}", r.stderr);
    }
    fs::remove_dir_all(&dir).unwrap();
}
