//! Decomposition files (the format of `shared/data/alphatensor`): one object
//! `{"shape":[n,m,p],"field":"Z","rank":R,"u":[[…]…],"v":…,"w":…}` or
//! `{"decompositions":[…]}` holding several. Writes are atomic.

use super::decomposition::{Decomposition, FACTOR_NAMES};
use super::field::{format_coeff, parse_coeff, Coeff, Field};
use super::shape::Shape;
use anyhow::{anyhow, bail, Context, Result};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Reads every decomposition of a file (warnings about unknown keys are
/// dropped; see [`read_each`] to see them).
pub fn read_file(path: &Path) -> Result<Vec<Decomposition>> {
    let mut all = vec![];
    read_each(path, |_, d| {
        all.push(d);
        Ok(())
    })?;
    Ok(all)
}

/// Hands each decomposition of a file to `each` in order, with its position
/// in a `{"decompositions":[…]}` list (`None` for a file of one object),
/// holding one at a time: memory follows the largest decomposition, not
/// the file. Returns one warning per unknown key.
pub fn read_each(
    path: &Path,
    each: impl FnMut(Option<usize>, Decomposition) -> Result<()>,
) -> Result<Vec<String>> {
    let file = fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        bail!("cannot read {}: it is a directory", path.display());
    }
    // Streamed through a bounded buffer: a syntax error stops the read
    // where it stands, and no file is held whole.
    let reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut de = serde_json::Deserializer::from_reader(reader);
    for_each_in(&mut de, each).with_context(|| format!("{}", path.display()))
}

/// Parses a file's text: one decomposition or `{"decompositions":[…]}`.
pub fn parse_str(text: &str) -> Result<Vec<Decomposition>> {
    let mut all = vec![];
    for_each_in_str(text, |_, d| {
        all.push(d);
        Ok(())
    })?;
    Ok(all)
}

/// Streams the decompositions of a file's text to `each`; returns warnings.
/// Duplicate keys are refused (JSON readers disagree on which one wins).
pub fn for_each_in_str(
    text: &str,
    each: impl FnMut(Option<usize>, Decomposition) -> Result<()>,
) -> Result<Vec<String>> {
    let mut de = serde_json::Deserializer::from_str(text);
    for_each_in(&mut de, each)
}

/// The decompositions from any JSON source, in order, to `each`.
fn for_each_in<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    mut each: impl FnMut(Option<usize>, Decomposition) -> Result<()>,
) -> Result<Vec<String>> {
    let mut file = FileVisitor {
        each: &mut each,
        warnings: vec![],
        count: 0,
    };
    let result = de.deserialize_any(&mut file).and_then(|()| de.end());
    match result {
        Ok(()) => Ok(file.warnings),
        Err(e) if e.is_syntax() || e.is_eof() => bail!("invalid JSON: {e}"),
        Err(e) if e.is_io() => bail!("cannot read: {e}"),
        Err(e) => Err(anyhow!("{e}")),
    }
}

/// The top-level object: a decomposition's keys, or "decompositions".
struct FileVisitor<'a> {
    each: &'a mut dyn FnMut(Option<usize>, Decomposition) -> Result<()>,
    warnings: Vec<String>,
    count: usize,
}

impl<'de> Visitor<'de> for &mut FileVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object at the top level")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut single = Builder::default();
        let mut listed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key != "decompositions" {
                single.take(&key, &mut map)?;
                continue;
            }
            if listed {
                return Err(de::Error::custom("duplicate key \"decompositions\""));
            }
            listed = true;
            map.next_value_seed(ListSeed(&mut *self))?;
            if self.count == 0 {
                return Err(de::Error::custom("\"decompositions\" is empty"));
            }
        }
        if listed {
            // Beside a list, the top level holds the file's own notes.
            for key in single
                .seen
                .iter()
                .filter(|k| !NOTE_KEYS.contains(&k.as_str()))
            {
                self.warnings
                    .push(format!("key \"{key}\" beside \"decompositions\" ignored"));
            }
            return Ok(());
        }
        self.warnings.append(&mut single.warnings);
        let d = single.build().map_err(de::Error::custom)?;
        (self.each)(None, d).map_err(|e| de::Error::custom(format!("{e:#}")))
    }
}

struct ListSeed<'a, 'b>(&'a mut FileVisitor<'b>);

impl<'de> DeserializeSeed<'de> for ListSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("\"decompositions\" to be an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let file = self.0;
        loop {
            let index = file.count;
            let Some(mut builder) = seq.next_element_seed(ObjectSeed(index))? else {
                return Ok(());
            };
            let context = |e: String| de::Error::custom(format!("decomposition {index}: {e}"));
            for w in builder.warnings.drain(..) {
                file.warnings.push(format!("decomposition {index}: {w}"));
            }
            let d = builder.build().map_err(context)?;
            (file.each)(Some(index), d).map_err(|e| context(format!("{e:#}")))?;
            file.count += 1;
        }
    }
}

/// One decomposition object of the list, read into a builder.
struct ObjectSeed(usize);

impl<'de> DeserializeSeed<'de> for ObjectSeed {
    type Value = Builder;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Builder, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed {
    type Value = Builder;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "decomposition {} to be a JSON object", self.0)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Builder, A::Error> {
        let mut builder = Builder::default();
        while let Some(key) = map.next_key::<String>()? {
            builder
                .take(&key, &mut map)
                .map_err(|e| de::Error::custom(format!("decomposition {}: {e}", self.0)))?;
        }
        Ok(builder)
    }
}

/// Keys for people (where a scheme comes from, its conventions), read and
/// ignored without a warning.
const NOTE_KEYS: [&str; 5] = ["source", "convention", "comment", "description", "license"];

/// The fields of one decomposition as they are read.
#[derive(Default)]
struct Builder {
    shape: Option<Value>,
    field: Option<Value>,
    rank: Option<Value>,
    factors: [Option<Vec<Vec<Coeff>>>; 3],
    /// The shape, once "shape" has been read and is valid: rows read after
    /// it are checked as they are read, so an error points at the row.
    known: Option<Shape>,
    seen: Vec<String>,
    warnings: Vec<String>,
}

impl Builder {
    /// Reads the value of `key`: factors row by row, small fields whole,
    /// unknown keys skipped with a warning.
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if self.seen.iter().any(|k| k == key) {
            return Err(de::Error::custom(format!("duplicate key \"{key}\"")));
        }
        self.seen.push(key.to_string());
        match key {
            "shape" => {
                let value: Value = map.next_value()?;
                self.known = shape_of(&value).ok();
                self.shape = Some(value);
            }
            "field" => self.field = Some(map.next_value()?),
            "rank" => self.rank = Some(map.next_value()?),
            "u" | "v" | "w" => {
                let f = FACTOR_NAMES.iter().position(|n| *n == key).unwrap();
                let seed = RowsSeed {
                    name: FACTOR_NAMES[f],
                    expect: self.known.map(|s| (s, s.factor_lens()[f])),
                };
                self.factors[f] = Some(map.next_value_seed(seed)?);
            }
            _ => {
                map.next_value::<IgnoredAny>()?;
                if !NOTE_KEYS.contains(&key) {
                    self.warnings.push(format!("unknown key \"{key}\" ignored"));
                }
            }
        }
        Ok(())
    }

    fn build(self) -> Result<Decomposition, String> {
        let missing = |key: &str| format!("missing \"{key}\"");
        let shape = shape_of(&self.shape.ok_or_else(|| missing("shape"))?)?;
        let field: Field = self
            .field
            .ok_or_else(|| missing("field"))?
            .as_str()
            .ok_or("\"field\" must be a string: \"Z\", \"Z2\" or \"Q\"")?
            .parse()?;
        let [u, v, w] = self.factors;
        let u = u.ok_or_else(|| missing("u"))?;
        let v = v.ok_or_else(|| missing("v"))?;
        let w = w.ok_or_else(|| missing("w"))?;
        let rows = u.len();
        let decomposition = Decomposition::new(shape, field, u, v, w)?;
        if let Some(rank) = self.rank {
            let rank = rank
                .as_u64()
                .ok_or("\"rank\" must be a non-negative integer")?;
            if rank as usize != rows {
                return Err(format!(
                    "\"rank\" is {rank} but u, v and w hold {rows} rows"
                ));
            }
        }
        Ok(decomposition)
    }
}

/// `"shape": [n, m, p]` as a shape.
fn shape_of(value: &Value) -> Result<Shape, String> {
    let dims = value
        .as_array()
        .filter(|a| a.len() == 3)
        .ok_or("\"shape\" must be an array of three integers")?;
    let mut d = [0usize; 3];
    for (slot, x) in d.iter_mut().zip(dims) {
        *slot = x
            .as_u64()
            .ok_or_else(|| format!("\"shape\" must hold positive integers, found {x}"))?
            as usize;
    }
    Shape::new(d[0], d[1], d[2]).map_err(|e| e.to_string())
}

/// A factor's rows, converted to exact coefficients one row at a time;
/// with the shape known, each row's length is checked where it ends.
struct RowsSeed {
    name: &'static str,
    expect: Option<(Shape, usize)>,
}

impl<'de> DeserializeSeed<'de> for RowsSeed {
    type Value = Vec<Vec<Coeff>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed {
    type Value = Vec<Vec<Coeff>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "\"{}\" to be an array of rows", self.name)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rows = vec![];
        while let Some(row) = seq.next_element_seed(RowSeed {
            name: self.name,
            row: rows.len(),
            expect: self.expect,
        })? {
            rows.push(row);
        }
        Ok(rows)
    }
}

/// One row of coefficients, each parsed from its text as it is read.
struct RowSeed {
    name: &'static str,
    row: usize,
    expect: Option<(Shape, usize)>,
}

impl<'de> DeserializeSeed<'de> for RowSeed {
    type Value = Vec<Coeff>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowSeed {
    type Value = Vec<Coeff>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}[{}] to be an array of numbers", self.name, self.row)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut row = vec![];
        while let Some(text) = seq.next_element::<CoeffText>()? {
            let x = parse_coeff(&text.0).map_err(|e| {
                de::Error::custom(format!("{}[{}][{}]: {e}", self.name, self.row, row.len()))
            })?;
            row.push(x);
        }
        if let Some((shape, len)) = self.expect.filter(|&(_, len)| len != row.len()) {
            return Err(de::Error::custom(format!(
                "{}[{}] has {} entries, shape {shape} needs {len}",
                self.name,
                self.row,
                row.len()
            )));
        }
        Ok(row)
    }
}

/// The text of a coefficient: a JSON number exactly as written (serde_json's
/// arbitrary-precision numbers arrive as a one-entry map holding it), or a
/// string such as "1/3".
struct CoeffText(String);

impl<'de> serde::Deserialize<'de> for CoeffText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CoeffTextVisitor)
    }
}

struct CoeffTextVisitor;

impl<'de> Visitor<'de> for CoeffTextVisitor {
    type Value = CoeffText;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<CoeffText, E> {
        Ok(CoeffText(s.to_string()))
    }

    fn visit_i64<E: de::Error>(self, x: i64) -> Result<CoeffText, E> {
        Ok(CoeffText(x.to_string()))
    }

    fn visit_u64<E: de::Error>(self, x: u64) -> Result<CoeffText, E> {
        Ok(CoeffText(x.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CoeffText, A::Error> {
        match map.next_key::<IgnoredAny>()? {
            Some(_) => Ok(CoeffText(map.next_value::<String>()?)),
            None => Err(de::Error::custom("expected a number, found {}")),
        }
    }
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

/// The directory a file path lies in ("." for a bare name).
pub fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` so that readers see the old file or the whole
/// new one, never a part: write a sibling temporary file, sync, rename.
/// Only a regular file (or none) is replaced so: a device or a pipe at
/// `path` is written into as a stream, never replaced; a directory is
/// refused; a link is followed, and its target replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => bail!("{} is a directory; give a file path", path.display()),
        Ok(m) if !m.is_file() => {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            return f
                .write_all(bytes)
                .and_then(|_| f.flush())
                .with_context(|| format!("cannot write {}", path.display()));
        }
        _ => {}
    }
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        if let Ok(target) = fs::canonicalize(path) {
            return write_atomic(&target, bytes);
        }
    }
    let dir = directory_of(path);
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
    fn duplicate_keys_are_refused_and_unknown_ones_reported() {
        let one = r#"{"shape":[1,1,1],"field":"Z","u":[[1]],"v":[[1]],"w":[[1]]"#;
        for dup in [
            format!("{one},\"u\":[[2]]}}"),
            format!("{{\"decompositions\":[{one},\"field\":\"Z2\"}}]}}"),
            format!("{{\"decompositions\":[{one}}}],\"decompositions\":[{one}}}]}}"),
        ] {
            let err = format!("{:#}", parse_str(&dup).unwrap_err());
            assert!(err.contains("duplicate key"), "{dup}: {err}");
        }
        let warnings = for_each_in_str(&format!("{one},\"note\":\"x\"}}"), |_, _| Ok(())).unwrap();
        assert_eq!(warnings, vec!["unknown key \"note\" ignored"]);
        let listed = format!("{{\"decompositions\":[{one}}},{one},\"by\":1}}]}}");
        let mut count = 0;
        let warnings = for_each_in_str(&listed, |_, _| {
            count += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(count, 2);
        assert_eq!(
            warnings,
            vec!["decomposition 1: unknown key \"by\" ignored"]
        );
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
