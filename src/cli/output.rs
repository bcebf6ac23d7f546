//! Files the user names for output (`export --out`, `bench --json`): one
//! rule for all. The path is checked before the work starts; an existing
//! regular file is replaced only when this program wrote it (its
//! signature is in it) or with --force; the input is never replaced; a
//! device or a pipe is written into as a stream, never replaced.

use anyhow::{bail, Result};
use std::path::Path;
use tensorsearch::problem::json;

/// Bytes of an existing file read to look for the signature.
const HEAD: usize = 4096;

/// Checks that `out` may be written: `signature` marks a file this
/// program wrote; `input` is a file it must never replace.
pub fn check(out: &Path, signature: &str, force: bool, input: Option<&Path>) -> Result<()> {
    let Ok(existing) = std::fs::metadata(out) else {
        return check_creatable(out);
    };
    if existing.is_dir() {
        bail!("{} is a directory; give a file path", out.display());
    }
    if input.is_some_and(|input| same_file(input, out)) {
        bail!(
            "{} is the input file; refusing to replace it with the output",
            out.display()
        );
    }
    if !existing.is_file() {
        // A device or a pipe: written into as a stream.
        return Ok(());
    }
    let ours = std::fs::File::open(out)
        .and_then(|f| {
            use std::io::Read;
            let mut head = Vec::with_capacity(HEAD);
            f.take(HEAD as u64).read_to_end(&mut head)?;
            Ok(String::from_utf8_lossy(&head).contains(signature))
        })
        .unwrap_or(false);
    if !ours && !force {
        bail!(
            "{} exists and was not written by tensorsearch; give --force to replace it",
            out.display()
        );
    }
    Ok(())
}

/// That a file can be created beside `path`, tried with a probe file.
fn check_creatable(path: &Path) -> Result<()> {
    let probe =
        json::directory_of(path).join(format!(".tensorsearch-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Whether two paths name one file: same device and inode on Unix, same
/// canonical path elsewhere.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Writes `bytes` to `out` (atomically when it is a regular file or none).
pub fn write(out: &Path, bytes: &[u8]) -> Result<()> {
    json::write_atomic(out, bytes)
}
