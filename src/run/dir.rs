//! A run's output directory. It knows what it holds (`run.json`: the
//! command, shape, field and a format version), refuses to be taken over
//! by another run, and writes only schemes it has just verified against
//! its own shape and field, each atomically: `best.json`, and copies under
//! `found/`. `metrics.jsonl` gets one JSON line per report.

use crate::problem::{json, verify, Decomposition, Field, Shape};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const IDENTITY_FILE: &str = "run.json";
pub const BEST_FILE: &str = "best.json";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const FOUND_DIR: &str = "found";
/// The version of the run directory's layout.
pub const FORMAT: u32 = 1;

/// Files that mark a directory as holding a run (today's or an older
/// version's, which had no `run.json`).
const RUN_MARKERS: [&str; 6] = [
    IDENTITY_FILE,
    "search.json",
    "state.json",
    "checkpoint.json",
    BEST_FILE,
    METRICS_FILE,
];

/// The command that made a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Search,
    Flip,
    Pretrain,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Search => "search",
            Kind::Flip => "flip",
            Kind::Pretrain => "pretrain",
        }
    }
}

/// What a run directory holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub format: u32,
    pub command: Kind,
    pub shape: [usize; 3],
    pub field: Field,
}

impl Identity {
    pub fn new(command: Kind, shape: Shape, field: Field) -> Self {
        Identity {
            format: FORMAT,
            command,
            shape: [shape.n, shape.m, shape.p],
            field,
        }
    }

    pub fn shape(&self) -> Result<Shape> {
        let [n, m, p] = self.shape;
        Shape::new(n, m, p).map_err(|e| anyhow!(e))
    }

    /// Writes `run.json` in `dir`.
    fn write(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        json::write_atomic(&dir.join(IDENTITY_FILE), format!("{text}\n").as_bytes())
    }

    /// Refuses this run, in `dir`, when it is not one of `command`'s.
    fn expect_kind(&self, dir: &Path, command: Kind) -> Result<()> {
        if self.command != command {
            bail!(
                "{} holds {}, not a {} run: give a {0} run directory, or start a new run with --out",
                dir.display(),
                self.describe(),
                command.name()
            );
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let [n, m, p] = self.shape;
        format!(
            "a {} run of {n}x{m}x{p} over {}",
            self.command.name(),
            self.field
        )
    }
}

/// A scheme that [`RunDir::check`] verified against its run's tensor and
/// field: what `best.json` and `found/` take, so nothing reaches them
/// unverified, and nothing is verified twice.
#[derive(Clone, Debug)]
pub struct Checked(Decomposition);

impl std::ops::Deref for Checked {
    type Target = Decomposition;
    fn deref(&self) -> &Decomposition {
        &self.0
    }
}

pub struct RunDir {
    path: PathBuf,
    identity: Identity,
    metrics: Option<File>,
}

impl RunDir {
    /// A fresh run in `path`, which must not hold a run already.
    pub fn create(path: &Path, identity: Identity) -> Result<RunDir> {
        check_fresh(path, identity.command)?;
        std::fs::create_dir_all(path.join(FOUND_DIR))
            .with_context(|| format!("cannot create {}", path.display()))?;
        identity.write(path)?;
        Ok(RunDir {
            path: path.to_path_buf(),
            identity,
            metrics: None,
        })
    }

    /// The run in `path`, to be continued by `command`. A directory from
    /// before `run.json` existed gets its identity from `legacy` (read
    /// from the command's own state file), and `run.json` is written.
    pub fn resume(
        path: &Path,
        command: Kind,
        legacy: impl FnOnce(&Path) -> Result<Identity>,
    ) -> Result<RunDir> {
        if !path.is_dir() {
            bail!("{} is not a run directory", path.display());
        }
        let identity = match read_identity(path)? {
            Some(id) => id,
            None => {
                let id = legacy(path)?;
                id.write(path)?;
                id
            }
        };
        identity.expect_kind(path, command)?;
        identity.shape()?;
        std::fs::create_dir_all(path.join(FOUND_DIR))
            .with_context(|| format!("cannot create {}", path.join(FOUND_DIR).display()))?;
        Ok(RunDir {
            path: path.to_path_buf(),
            identity,
            metrics: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn shape(&self) -> Shape {
        self.identity.shape().expect("checked when opened")
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Refuses a state file whose own shape or field is not the run's.
    pub fn check_state(&self, file: &str, shape: [usize; 3], field: Field) -> Result<()> {
        if shape != self.identity.shape || field != self.identity.field {
            let [n, m, p] = shape;
            bail!(
                "{} describes {n}x{m}x{p} over {field}, but the run is {}: refusing to resume",
                self.file(file).display(),
                self.identity.describe()
            );
        }
        Ok(())
    }

    /// Writes `bytes` to the file `name` atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        json::write_atomic(&self.file(name), bytes)
    }

    /// Appends one line to `metrics.jsonl`.
    pub fn log<T: Serialize>(&mut self, line: &T) -> Result<()> {
        if self.metrics.is_none() {
            let path = self.file(METRICS_FILE);
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            self.metrics = Some(file);
        }
        let file = self.metrics.as_mut().expect("opened above");
        writeln!(file, "{}", serde_json::to_string(line)?)
            .with_context(|| format!("cannot write {}", self.path.join(METRICS_FILE).display()))
    }

    /// Every line of `metrics.jsonl` that parses as `T` (for plots).
    pub fn read_metrics<T: serde::de::DeserializeOwned>(&self) -> Vec<T> {
        std::fs::read_to_string(self.file(METRICS_FILE))
            .map(|text| {
                text.lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `d` checked exactly against the run's own tensor and field: the one
    /// gate every scheme passes before it is written or believed.
    pub fn check(&self, d: Decomposition) -> Result<Checked> {
        let shape = self.shape();
        if d.shape != shape {
            bail!("a {} scheme is not a scheme of this run's {shape}", d.shape);
        }
        verify(&d, self.identity.field).map_err(|e| {
            anyhow!(
                "not a decomposition of {shape} over {}: {e}",
                self.identity.field
            )
        })?;
        Ok(Checked(d))
    }

    /// The scheme in `best.json`, verified; `None` when there is none. A
    /// `best.json` that does not verify is refused, naming the file.
    pub fn best(&self) -> Result<Option<Checked>> {
        self.scheme(BEST_FILE)
    }

    /// The one scheme in file `name` of the run, verified; `None` when the
    /// file is absent. A file that does not verify is refused, naming it.
    pub fn scheme(&self, name: &str) -> Result<Option<Checked>> {
        let path = self.file(name);
        if !path.exists() {
            return Ok(None);
        }
        let mut ds = json::read_file(&path)?;
        if ds.len() != 1 {
            bail!("{} holds {} schemes, not one", path.display(), ds.len());
        }
        let checked = self
            .check(ds.remove(0))
            .with_context(|| format!("{} cannot be trusted", path.display()))?;
        Ok(Some(checked))
    }

    /// Writes a checked scheme as `best.json`.
    pub fn write_best(&self, d: &Checked) -> Result<()> {
        self.write_scheme(BEST_FILE, d)
    }

    /// Writes a checked scheme as file `name` of the run.
    pub fn write_scheme(&self, name: &str, d: &Checked) -> Result<()> {
        json::write_file(&self.file(name), std::slice::from_ref(&d.0))
    }

    /// Writes a checked scheme as `found/NAME`. `NAME` that exists already
    /// is left as it is.
    pub fn keep(&self, d: &Checked, name: &str) -> Result<PathBuf> {
        let path = self.path.join(FOUND_DIR).join(name);
        if !path.exists() {
            json::write_file(&path, std::slice::from_ref(&d.0))?;
        }
        Ok(path)
    }

    /// The files under `found/` whose names start with `prefix`, sorted.
    pub fn found_with_prefix(&self, prefix: &str) -> Result<Vec<PathBuf>> {
        found_with_prefix(&self.path, prefix)
    }
}

/// The files under `dir/found/` whose names start with `prefix`, sorted.
pub fn found_with_prefix(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>> {
    let found = dir.join(FOUND_DIR);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&found)
        .with_context(|| format!("cannot read {}", found.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// Whether a fresh run of `command` may start in `path`: a path that is
/// not a directory, or a directory that holds a run, is refused.
pub fn check_fresh(path: &Path, command: Kind) -> Result<()> {
    if path.exists() && !path.is_dir() {
        bail!("--out {} exists and is not a directory", path.display());
    }
    if let Some(marker) = RUN_MARKERS.iter().find(|m| path.join(m).exists()) {
        let what = match read_identity(path) {
            Ok(Some(id)) => id.describe(),
            _ => format!("a run's files ({marker})"),
        };
        bail!(
            "{} already holds {what}: continue it with `tensorsearch {} --resume {0}`, or choose another --out",
            path.display(),
            command.name()
        );
    }
    Ok(())
}

/// Refuses `path` when its `run.json` names another command than `command`
/// (a directory without one is left to the command's own state file).
pub fn expect_kind(path: &Path, command: Kind) -> Result<()> {
    match read_identity(path)? {
        Some(id) => id.expect_kind(path, command),
        None => Ok(()),
    }
}

/// `run.json` in `dir`, if there is one.
pub fn read_identity(dir: &Path) -> Result<Option<Identity>> {
    let path = dir.join(IDENTITY_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let id: Identity = serde_json::from_str(&text)
        .map_err(|e| anyhow!("{} is not a run identity: {e}", path.display()))?;
    if id.format > FORMAT {
        bail!(
            "{} is of format {}, newer than this program's {FORMAT}",
            path.display(),
            id.format
        );
    }
    Ok(Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ts-rundir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_run_directory_refuses_another_run() {
        let dir = temp("refuse");
        let shape = Shape::new(2, 2, 2).unwrap();
        let id = Identity::new(Kind::Flip, shape, Field::Z2);
        let run = RunDir::create(&dir, id.clone()).unwrap();
        let strassen = run.check(Decomposition::strassen()).unwrap();
        run.write_best(&strassen).unwrap();
        let again = RunDir::create(&dir, id.clone()).err().unwrap();
        assert!(format!("{again}").contains("already holds a flip run of 2x2x2 over Z2"));
        let other = RunDir::resume(&dir, Kind::Search, |_| unreachable!())
            .err()
            .unwrap();
        assert!(format!("{other}").contains("not a search run"), "{other}");
        let back = RunDir::resume(&dir, Kind::Flip, |_| unreachable!()).unwrap();
        assert_eq!(back.best().unwrap().unwrap().rank(), 7);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_verified_schemes_of_the_runs_shape_are_written() {
        let dir = temp("verified");
        let id = Identity::new(Kind::Flip, Shape::new(2, 2, 2).unwrap(), Field::Z);
        let run = RunDir::create(&dir, id).unwrap();
        let mut wrong = Decomposition::strassen();
        wrong.u[0][0] += crate::problem::Coeff::from_integer(1);
        assert!(run.check(wrong.clone()).is_err());
        let other = Decomposition::standard(Shape::new(2, 2, 3).unwrap(), Field::Z);
        assert!(run.check(other).is_err());
        assert!(!run.file(BEST_FILE).exists());
        // A best.json changed on disk is refused on reading.
        let text = json::to_file_text(&[wrong]);
        std::fs::write(run.file(BEST_FILE), text).unwrap();
        let err = format!("{:#}", run.best().unwrap_err());
        assert!(err.contains("cannot be trusted"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
