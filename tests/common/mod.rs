//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod gpu;
pub mod selfplay;

use std::path::PathBuf;
use std::process::Command;

/// `shared/data/alphatensor` beside the crate; a test that cannot find it
/// fails rather than passing on nothing.
pub fn alphatensor_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/alphatensor");
    assert!(
        dir.join("alphatensor_q.json").is_file() && dir.join("alphatensor_z2.json").is_file(),
        "shared data not found at {}",
        dir.display()
    );
    dir
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the built binary with `args` and extra environment variables.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tensorsearch"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fresh directory under the system temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tensorsearch-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A failed run: non-zero exit, exactly one line of output, no panic, and
/// `needle` in that line.
pub fn assert_clean_failure(args: &[&str], needle: &str) {
    let out = run(args, &[]);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_ne!(out.code, 0, "{args:?} succeeded: {all}");
    assert!(!all.contains("panicked"), "{args:?} panicked: {all}");
    assert_eq!(
        all.trim_end().lines().count(),
        1,
        "{args:?} printed more than one line: {all}"
    );
    assert!(all.contains(needle), "{args:?}: '{all}' lacks '{needle}'");
}

/// Every file under `dir` with its bytes, to tell whether a command
/// changed anything there.
pub fn snapshot(dir: &std::path::Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                all.push((p, bytes));
            }
        }
    }
    all.sort();
    all
}
