//! The field's scheme files, read and written losslessly besides our own
//! JSON (`problem::json`):
//!
//! - `fmm-json`: the FastMatrixMultiplication catalogue's JSON, keys
//!   `n` ([n, m, p]), `m` (the rank), `z2`, `u`, `v`, `w`, rows as terms,
//!   fractions as strings such as "1/2", other keys ignored;
//! - `maple`: the same catalogue's `.m` triads,
//!   `{ {{A rows}, {B rows}, {Cᵀ rows}}, … }`;
//! - `exp`: jakobmoosbauer/flips' products, one per line,
//!   `(a11+a22)*(b11+b22)*(c22)`, 1-based indices, integer coefficients,
//!   `mod2` in the file name meaning Z2;
//! - `tfg`: ternary_flip_graph's text, `n m p R` and then the U, V and W
//!   coefficients term by term (a count first when it holds several; with
//!   fractions each value is a numerator and a denominator);
//! - `cpd-txt` and `cpd-npy`: khoruzhii/flip-cpd's text and arrays, where
//!   w indexes C as in ours ([`cpd`]);
//! - `npz`: AlphaTensor's archives ([`npz`] reads them, [`npz_write`]
//!   writes them).
//!
//! In all the others w indexes Cᵀ, where ours indexes C: [`to_c`] and
//! [`to_c_transposed`] convert. A file whose schemes do not verify in its
//! convention but would in the other gets a hint saying so
//! ([`convention_hint`]).

mod cpd;
mod exp;
mod fmm_json;
mod maple;
mod npz;
mod npz_write;
mod tfg;

use super::decomposition::Decomposition;
use super::field::{Coeff, Field};
use super::shape::Shape;
use super::verify::verify;
use anyhow::{anyhow, bail, Context, Result};
use std::path::Path;

/// A scheme file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// This project's JSON (`problem::json`).
    Json,
    FmmJson,
    Maple,
    Exp,
    Tfg,
    /// AlphaTensor's `.npz`.
    Npz,
    /// flip-cpd's text.
    CpdTxt,
    /// flip-cpd's `.npy`.
    CpdNpy,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "fmm-json" | "fmm" => Ok(Format::FmmJson),
            "maple" | "m" => Ok(Format::Maple),
            "exp" => Ok(Format::Exp),
            "tfg" | "txt" | "frac" => Ok(Format::Tfg),
            "npz" => Ok(Format::Npz),
            "cpd-txt" => Ok(Format::CpdTxt),
            "cpd-npy" | "npy" => Ok(Format::CpdNpy),
            _ => Err(format!(
                "unknown format '{s}': expected json, fmm-json, maple, exp, tfg, npz, cpd-txt or cpd-npy"
            )),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Json => "json",
            Format::FmmJson => "fmm-json",
            Format::Maple => "maple",
            Format::Exp => "exp",
            Format::Tfg => "tfg",
            Format::Npz => "npz",
            Format::CpdTxt => "cpd-txt",
            Format::CpdNpy => "cpd-npy",
        })
    }
}

/// The most bytes a file of a format other than our JSON (which streams)
/// may have: these are read whole.
pub const MAX_TEXT: u64 = 1 << 30;

/// The format of `path`, from its first bytes and its extension.
pub fn detect(path: &Path, head: &str) -> Format {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if head.starts_with("PK\u{3}\u{4}") || ext == "npz" {
        return Format::Npz;
    }
    // The magic byte 0x93 reads as U+FFFD in the lossy head.
    if head.starts_with("\u{fffd}NUMPY") || ext == "npy" {
        return Format::CpdNpy;
    }
    // Leading comment lines (Maple's and tfg's `#`) say nothing of the format.
    let start = head
        .lines()
        .map(str::trim_start)
        .skip_while(|l| l.is_empty() || l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let start = start.as_str();
    if head.trim_start().starts_with('#') && start.starts_with('{') {
        return Format::Maple;
    }
    if let Some(rest) = start.strip_prefix('{') {
        // Maple's triads open with braces too, but never with a key.
        let after = rest.trim_start();
        if after.starts_with('{') {
            return Format::Maple;
        }
        let fmm = ["\"n\"", "\"m\"", "\"z2\""]
            .iter()
            .any(|k| head.contains(k))
            && !head.contains("\"shape\"")
            && !head.contains("\"decompositions\"");
        return if fmm { Format::FmmJson } else { Format::Json };
    }
    let product_line = start
        .strip_prefix('m')
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()) && r.contains('='));
    if product_line {
        return Format::CpdTxt;
    }
    if start.starts_with('(') || ext == "exp" {
        return Format::Exp;
    }
    if ext == "m" {
        return Format::Maple;
    }
    if start.starts_with(|c: char| c.is_ascii_digit()) {
        return Format::Tfg;
    }
    Format::Json
}

/// Hands each decomposition of `path` to `each` (with its position when the
/// file holds several) in `format`, or the detected one; returns warnings.
/// Our JSON streams; the others are read whole, up to [`MAX_TEXT`].
pub fn read_each(
    path: &Path,
    format: Option<Format>,
    mut each: impl FnMut(Option<usize>, Decomposition) -> Result<()>,
) -> Result<Vec<String>> {
    let format = match format {
        Some(f) => f,
        None => detect(path, &head_of(path)?),
    };
    if format == Format::Json {
        return super::json::read_each(path, each);
    }
    if format == Format::Npz {
        let mut index = 0;
        npz::read_each(path, |d| {
            each(Some(index), d)?;
            index += 1;
            Ok(())
        })
        .with_context(|| format!("{} (read as npz)", path.display()))?;
        return Ok(vec![]);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if format == Format::CpdNpy {
        let bytes = read_bytes(path)?;
        let ds = cpd::parse_npy(&bytes, &name)
            .with_context(|| format!("{} (read as {format})", path.display()))?;
        let several = ds.len() > 1;
        for (i, d) in ds.into_iter().enumerate() {
            each(several.then_some(i), d)?;
        }
        return Ok(vec![]);
    }
    let text = read_text(path)?;
    let ds = parse(&text, format, &name)
        .with_context(|| format!("{} (read as {format})", path.display()))?;
    let several = ds.len() > 1;
    for (i, d) in ds.into_iter().enumerate() {
        each(several.then_some(i), d)?;
    }
    Ok(vec![])
}

/// Every decomposition of `path` (see [`read_each`]).
pub fn read_file(path: &Path, format: Option<Format>) -> Result<Vec<Decomposition>> {
    let mut all = vec![];
    read_each(path, format, |_, d| {
        all.push(d);
        Ok(())
    })?;
    Ok(all)
}

/// Parses a file's text in `format` (not our JSON); `name` is the file's
/// name (`mod2` in an `.exp` file's name means Z2).
pub fn parse(text: &str, format: Format, name: &str) -> Result<Vec<Decomposition>> {
    match format {
        Format::Json => super::json::parse_str(text),
        Format::FmmJson => fmm_json::parse(text).map(|d| vec![d]),
        Format::Maple => maple::parse(text).map(|d| vec![d]),
        Format::Exp => exp::parse(text, name).map(|d| vec![d]),
        Format::Tfg => tfg::parse(text),
        Format::CpdTxt => cpd::parse_text(text, name).map(|d| vec![d]),
        Format::Npz | Format::CpdNpy => bail!("{format} is binary: read it from its file"),
    }
}

/// The text of `ds` in `format`. Formats that hold one scheme refuse
/// several; `exp` takes integer coefficients only.
pub fn write(ds: &[Decomposition], format: Format) -> Result<String> {
    let one = || -> Result<&Decomposition> {
        match ds {
            [d] => Ok(d),
            _ => bail!(
                "{format} holds one scheme, and there are {}: convert them one at a time (--index)",
                ds.len()
            ),
        }
    };
    match format {
        Format::Json => Ok(super::json::to_file_text(ds)),
        Format::FmmJson => Ok(fmm_json::write(one()?)),
        Format::Maple => Ok(maple::write(one()?)),
        Format::Exp => exp::write(one()?),
        Format::Tfg => Ok(tfg::write(ds)),
        Format::CpdTxt => Ok(cpd::write_text(one()?)),
        Format::Npz | Format::CpdNpy => bail!("{format} is binary: write it to a file (--out)"),
    }
}

/// The bytes of `ds` in `format`: [`write`]'s text, or an npz archive.
pub fn write_bytes(ds: &[Decomposition], format: Format) -> Result<Vec<u8>> {
    match format {
        Format::Npz => npz_write::write(ds),
        Format::CpdNpy => cpd::write_npy(ds),
        _ => write(ds, format).map(String::into_bytes),
    }
}

fn head_of(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        bail!("cannot read {}: it is a directory", path.display());
    }
    let mut head = vec![0u8; 4096];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) => return Err(anyhow!("cannot read {}: {e}", path.display())),
        }
    }
    Ok(String::from_utf8_lossy(&head[..got]).into_owned())
}

/// The name flip-cpd's `.npy` of `d` must start with: the array holds no
/// shape, and its name does (`gg-222-rank7`).
pub fn cpd_npy_name(d: &Decomposition) -> String {
    cpd::npy_name(d)
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = vec![];
    file.take(MAX_TEXT + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > MAX_TEXT {
        bail!("{} is larger than {MAX_TEXT} bytes", path.display());
    }
    Ok(bytes)
}

fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read_bytes(path)?)
        .with_context(|| format!("cannot read {} as text", path.display()))
}

/// The w rows of a scheme whose w indexes Cᵀ (p×n, index k·n + i) in ours
/// (C, index i·p + k).
pub fn to_c(shape: Shape, w: &[Vec<Coeff>]) -> Vec<Vec<Coeff>> {
    transposed(w, shape.p, shape.n)
}

/// Ours (w indexes C) in the Cᵀ convention.
pub fn to_c_transposed(shape: Shape, w: &[Vec<Coeff>]) -> Vec<Vec<Coeff>> {
    transposed(w, shape.n, shape.p)
}

/// Each row, a row-major rows×cols matrix, transposed.
fn transposed(w: &[Vec<Coeff>], rows: usize, cols: usize) -> Vec<Vec<Coeff>> {
    w.iter()
        .map(|row| {
            (0..rows * cols)
                .map(|t| {
                    let (j, i) = (t / rows, t % rows);
                    row[i * cols + j]
                })
                .collect()
        })
        .collect()
}

/// Builds a decomposition from rows in the Cᵀ convention ([`from_rows`]).
pub fn from_transposed(
    shape: Shape,
    z2: Option<bool>,
    u: Vec<Vec<Coeff>>,
    v: Vec<Vec<Coeff>>,
    w_t: Vec<Vec<Coeff>>,
) -> Result<Decomposition> {
    from_rows(shape, z2, u, v, to_c(shape, &w_t))
}

/// Builds a decomposition from rows with w indexing C, over Z2 when `z2`,
/// else over Z when every coefficient is an integer, else over Q. A
/// scheme of zeros and ones that holds over Z is read over Z.
pub fn from_rows(
    shape: Shape,
    z2: Option<bool>,
    u: Vec<Vec<Coeff>>,
    v: Vec<Vec<Coeff>>,
    w: Vec<Vec<Coeff>>,
) -> Result<Decomposition> {
    let integer = u
        .iter()
        .chain(&v)
        .chain(&w)
        .flatten()
        .all(|x| x.is_integer());
    let field = match z2 {
        Some(true) => Field::Z2,
        _ if integer => Field::Z,
        _ => Field::Q,
    };
    let d = Decomposition::new(shape, field, u, v, w).map_err(|e| anyhow!(e))?;
    // Zeros and ones only, no field said: Z when it holds there, else Z2.
    let binary = d.factors().iter().all(|rows| {
        rows.iter()
            .flatten()
            .all(|x| *x == Coeff::from_integer(0) || *x == Coeff::from_integer(1))
    });
    if z2.is_none() && binary && verify(&d, Field::Z).is_err() && verify(&d, Field::Z2).is_ok() {
        let mut d = d;
        d.field = Field::Z2;
        return Ok(d);
    }
    Ok(d)
}

/// When `d` does not verify but would with its w transposed (as if the
/// file had used the other convention for C), a sentence saying so.
pub fn convention_hint(d: &Decomposition) -> Option<String> {
    if verify(d, d.field).is_ok() {
        return None;
    }
    let mut other = d.clone();
    other.w = to_c_transposed(d.shape, &d.w);
    if d.shape.n == d.shape.p && verify(&other, d.field).is_ok() {
        return Some(
            "with w transposed it verifies: the file may use the other convention for C (C for Cᵀ, or Cᵀ for C; see --format)".into(),
        );
    }
    None
}

/// [`convention_hint`] as the end of an error message: " (…)", or
/// nothing.
pub fn convention_note(d: &Decomposition) -> String {
    convention_hint(d)
        .map(|h| format!(" ({h})"))
        .unwrap_or_default()
}

/// Parses one coefficient: an integer, or a fraction p/q.
fn coeff(text: &str) -> Result<Coeff> {
    super::field::parse_coeff(text).map_err(|e| anyhow!(e))
}

/// The coefficient as the formats write it: an integer, or p/q.
fn coeff_text(x: &Coeff) -> String {
    if x.is_integer() {
        x.to_integer().to_string()
    } else {
        format!("{}/{}", x.numer(), x.denom())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemes() -> Vec<Decomposition> {
        let s = |n, m, p| Shape::new(n, m, p).unwrap();
        let mut half = Decomposition::strassen();
        // A scheme over Q: the first product's A side doubled, its C side halved.
        half.field = Field::Q;
        for x in half.u[0].iter_mut() {
            *x *= Coeff::from_integer(2);
        }
        for x in half.w[0].iter_mut() {
            *x /= Coeff::from_integer(2);
        }
        // Strassen mod 2 holds over Z2 only.
        let mut mod2 = Decomposition::strassen();
        mod2.field = Field::Z2;
        for rows in [&mut mod2.u, &mut mod2.v, &mut mod2.w] {
            for x in rows.iter_mut().flatten() {
                *x = Coeff::from_integer(x.to_integer().rem_euclid(2));
            }
        }
        vec![
            Decomposition::strassen(),
            Decomposition::standard(s(2, 3, 4), Field::Z),
            mod2,
            half,
        ]
    }

    #[test]
    fn every_format_round_trips_what_it_can_hold() {
        for format in [
            Format::Json,
            Format::FmmJson,
            Format::Maple,
            Format::Exp,
            Format::Tfg,
            Format::CpdTxt,
        ] {
            for d in schemes() {
                verify(&d, d.field).unwrap();
                let fractions = d
                    .factors()
                    .iter()
                    .any(|r| r.iter().flatten().any(|x| !x.is_integer()));
                let text = match write(std::slice::from_ref(&d), format) {
                    Ok(t) => t,
                    Err(e) => {
                        assert!(format == Format::Exp && fractions, "{format}: {e}");
                        continue;
                    }
                };
                let name = if d.field == Field::Z2 {
                    "s-mod2.exp"
                } else {
                    "s-mod0.exp"
                };
                let back = parse(&text, format, name).unwrap();
                assert_eq!(back, vec![d.clone()], "{format} {}:\n{text}", d.shape);
                assert_eq!(
                    detect(Path::new("x"), &text),
                    if format == Format::Exp {
                        Format::Exp
                    } else {
                        format
                    },
                    "{format}"
                );
            }
        }
        // Several schemes in one file: our JSON and tfg hold them.
        for format in [Format::Json, Format::Tfg] {
            let all = schemes();
            let text = write(&all, format).unwrap();
            assert_eq!(parse(&text, format, "").unwrap(), all, "{format}");
        }
        let e = write(&schemes(), Format::Maple).unwrap_err().to_string();
        assert!(e.contains("holds one scheme"), "{e}");
        // A mod-2 scheme that also holds over Z: fmm-json, Maple (its
        // comment) and exp (`mod2` in the name) keep Z2; tfg has no mark
        // and reads it over Z, where it holds.
        let both = Decomposition::standard(Shape::new(3, 2, 2).unwrap(), Field::Z2);
        for (format, field) in [
            (Format::FmmJson, Field::Z2),
            (Format::Maple, Field::Z2),
            (Format::Exp, Field::Z2),
            (Format::Tfg, Field::Z),
        ] {
            let text = write(std::slice::from_ref(&both), format).unwrap();
            let back = parse(&text, format, "standard-mod2.exp").unwrap().remove(0);
            assert_eq!(back.field, field, "{format}");
            assert_eq!(
                (back.u, back.v, back.w),
                (both.u.clone(), both.v.clone(), both.w.clone())
            );
        }
    }

    #[test]
    fn a_w_read_the_wrong_way_fails_with_the_hint() {
        let mut d = Decomposition::strassen();
        d.w = to_c_transposed(d.shape, &d.w);
        assert!(verify(&d, Field::Z).is_err());
        let hint = convention_hint(&d).unwrap();
        assert!(hint.contains("other convention"), "{hint}");
        assert_eq!(convention_hint(&Decomposition::strassen()), None);
    }
}
