//! Decomposition files (the format of `shared/data/alphatensor`): one object
//! `{"shape":[n,m,p],"field":"Z","rank":R,"u":[[…]…],"v":…,"w":…}` or
//! `{"decompositions":[…]}` holding several. Writes are atomic.

use super::decomposition::{Decomposition, FACTOR_NAMES};
use super::field::{format_coeff, parse_coeff, Coeff, Field};
use super::shape::Shape;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Reads every decomposition of a file.
pub fn read_file(path: &Path) -> Result<Vec<Decomposition>> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_str(&text).with_context(|| format!("{}", path.display()))
}

/// Parses a file's text: one decomposition or `{"decompositions":[…]}`.
pub fn parse_str(text: &str) -> Result<Vec<Decomposition>> {
    let value: Value = serde_json::from_str(text).map_err(|e| anyhow!("invalid JSON: {e}"))?;
    let obj = value
        .as_object()
        .ok_or_else(|| anyhow!("expected a JSON object at the top level"))?;
    match obj.get("decompositions") {
        Some(list) => {
            let list = list
                .as_array()
                .ok_or_else(|| anyhow!("\"decompositions\" must be an array"))?;
            if list.is_empty() {
                bail!("\"decompositions\" is empty");
            }
            list.iter()
                .enumerate()
                .map(|(i, v)| parse_value(v).with_context(|| format!("decomposition {i}")))
                .collect()
        }
        None => Ok(vec![parse_value(&value)?]),
    }
}

/// Parses one decomposition object.
pub fn parse_value(value: &Value) -> Result<Decomposition> {
    let obj = value
        .as_object()
        .ok_or_else(|| anyhow!("a decomposition must be a JSON object"))?;
    let field_of = |key: &str| obj.get(key).ok_or_else(|| anyhow!("missing \"{key}\""));

    let dims = field_of("shape")?
        .as_array()
        .filter(|a| a.len() == 3)
        .ok_or_else(|| anyhow!("\"shape\" must be an array of three integers"))?;
    let mut d = [0usize; 3];
    for (slot, x) in d.iter_mut().zip(dims) {
        *slot = x
            .as_u64()
            .ok_or_else(|| anyhow!("\"shape\" must hold positive integers, found {x}"))?
            as usize;
    }
    let shape = Shape::new(d[0], d[1], d[2])?;

    let field: Field = field_of("field")?
        .as_str()
        .ok_or_else(|| anyhow!("\"field\" must be a string: \"Z\", \"Z2\" or \"Q\""))?
        .parse()
        .map_err(|e: String| anyhow!(e))?;

    let mut factors: Vec<Vec<Vec<Coeff>>> = Vec::with_capacity(3);
    for name in FACTOR_NAMES {
        factors.push(parse_rows(field_of(name)?, name)?);
    }
    let [u, v, w]: [Vec<Vec<Coeff>>; 3] = factors.try_into().expect("three factors");
    let rows = u.len();
    let decomposition = Decomposition::new(shape, field, u, v, w).map_err(|e| anyhow!(e))?;

    if let Some(rank) = obj.get("rank") {
        let rank = rank
            .as_u64()
            .ok_or_else(|| anyhow!("\"rank\" must be a non-negative integer"))?;
        if rank as usize != rows {
            bail!("\"rank\" is {rank} but u, v and w hold {rows} rows");
        }
    }
    Ok(decomposition)
}

fn parse_rows(value: &Value, name: &str) -> Result<Vec<Vec<Coeff>>> {
    let rows = value
        .as_array()
        .ok_or_else(|| anyhow!("\"{name}\" must be an array of rows"))?;
    rows.iter()
        .enumerate()
        .map(|(r, row)| {
            let row = row
                .as_array()
                .ok_or_else(|| anyhow!("{name}[{r}] must be an array of numbers"))?;
            row.iter()
                .enumerate()
                .map(|(i, x)| parse_json_coeff(x).with_context(|| format!("{name}[{r}][{i}]")))
                .collect()
        })
        .collect()
}

/// A coefficient is a JSON number (read exactly from its text) or a string
/// such as "1/3".
fn parse_json_coeff(value: &Value) -> Result<Coeff> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => bail!("expected a number, found {other}"),
    };
    parse_coeff(&text).map_err(|e| anyhow!(e))
}

/// One decomposition as one compact JSON object on one line.
pub fn to_json_line(d: &Decomposition) -> String {
    let rows = |rows: &[Vec<Coeff>]| {
        let body: Vec<String> = rows
            .iter()
            .map(|r| {
                let xs: Vec<String> = r.iter().map(json_coeff).collect();
                format!("[{}]", xs.join(","))
            })
            .collect();
        format!("[{}]", body.join(","))
    };
    let Shape { n, m, p } = d.shape;
    format!(
        "{{\"shape\":[{n},{m},{p}],\"field\":\"{}\",\"rank\":{},\"u\":{},\"v\":{},\"w\":{}}}",
        d.field,
        d.rank(),
        rows(&d.u),
        rows(&d.v),
        rows(&d.w)
    )
}

/// Integers and terminating decimals as JSON numbers, other rationals as "p/q".
fn json_coeff(x: &Coeff) -> String {
    let s = format_coeff(x);
    if s.contains('/') {
        format!("\"{s}\"")
    } else {
        s
    }
}

/// The text of a file: a single object for one decomposition, else
/// `{"decompositions":[…]}` with one decomposition per line.
pub fn to_file_text(ds: &[Decomposition]) -> String {
    match ds {
        [one] => format!("{}\n", to_json_line(one)),
        many => {
            let lines: Vec<String> = many.iter().map(to_json_line).collect();
            format!("{{\"decompositions\":[\n{}\n]}}\n", lines.join(",\n"))
        }
    }
}

/// Writes decompositions atomically (temporary file, then rename).
pub fn write_file(path: &Path, ds: &[Decomposition]) -> Result<()> {
    write_atomic(path, to_file_text(ds).as_bytes())
}

/// Writes `bytes` to `path` so that readers see the old file or the whole
/// new one, never a part: write a sibling temporary file, sync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut f =
            fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::verify::verify;

    #[test]
    fn round_trips_one_and_many() {
        let s = Decomposition::strassen();
        let back = parse_str(&to_file_text(std::slice::from_ref(&s))).unwrap();
        assert_eq!(back, vec![s.clone()]);
        let mut q = Decomposition::standard(Shape::new(1, 2, 3).unwrap(), Field::Q);
        q.u[0][0] = Coeff::new(1, 3);
        q.u[0][1] = Coeff::new(-1, 8);
        let both = vec![s, q];
        assert_eq!(parse_str(&to_file_text(&both)).unwrap(), both);
    }

    #[test]
    fn reads_decimals_exactly() {
        let text = r#"{"shape":[1,1,1],"field":"Q","rank":2,
            "u":[[0.5],[0.5]],"v":[[1],[1]],"w":[["1/1"],[1]]}"#;
        let d = parse_str(text).unwrap();
        assert_eq!(d[0].u[0][0], Coeff::new(1, 2));
        verify(&d[0], Field::Q).unwrap();
    }

    #[test]
    fn rejects_bad_files_with_a_reason() {
        let cases = [
            ("{\"shape\":[2,2,2]", "invalid JSON"),
            ("[1,2]", "top level"),
            (
                r#"{"shape":[2,2],"field":"Z","u":[],"v":[],"w":[]}"#,
                "shape",
            ),
            (
                r#"{"shape":[2,2,2],"field":"R","u":[],"v":[],"w":[]}"#,
                "unknown field",
            ),
            (
                r#"{"shape":[1,1,1],"field":"Z","u":[[1,0]],"v":[[1]],"w":[[1]]}"#,
                "u[0] has 2 entries",
            ),
            (
                r#"{"shape":[1,1,1],"field":"Z","u":[[0.5]],"v":[[1]],"w":[[1]]}"#,
                "not an integer",
            ),
            (
                r#"{"shape":[1,1,1],"field":"Z","rank":2,"u":[[1]],"v":[[1]],"w":[[1]]}"#,
                "\"rank\" is 2",
            ),
            (
                r#"{"shape":[1,1,1],"field":"Z","u":[["x"]],"v":[[1]],"w":[[1]]}"#,
                "not a number",
            ),
            (
                r#"{"shape":[1,1,1],"field":"Z","u":[[1]],"w":[[1]]}"#,
                "missing \"v\"",
            ),
            (r#"{"decompositions":[]}"#, "empty"),
        ];
        for (text, needle) in cases {
            let err = format!("{:#}", parse_str(text).unwrap_err());
            assert!(err.contains(needle), "{text}: '{err}' lacks '{needle}'");
            assert!(!err.contains('\n'), "multi-line error: {err}");
        }
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = std::env::temp_dir().join(format!("ts-json-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.json");
        write_file(&path, &[Decomposition::strassen()]).unwrap();
        write_file(&path, &[Decomposition::strassen()]).unwrap();
        assert_eq!(read_file(&path).unwrap(), vec![Decomposition::strassen()]);
        let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary file left behind");
        fs::remove_dir_all(&dir).unwrap();
    }
}
