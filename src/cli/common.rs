//! What the commands share: devices, shapes, durations, one-line errors.

use anyhow::{anyhow, bail, Result};
use clap::builder::TypedValueParser as _;
use std::path::PathBuf;
use tensorsearch::engine::gpu;
use tensorsearch::problem::formats::Format;
use tensorsearch::problem::{Field, Shape};
use tensorsearch::run::stop::MAX_TIME;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    /// A hardware GPU when there is one, else the CPU backend.
    Auto,
    /// The best wgpu adapter (a software adapter such as lavapipe is accepted).
    Gpu,
    /// The native CPU backend.
    Cpu,
}

pub enum Device {
    Gpu(Box<gpu::GpuBackend>),
    Cpu,
}

/// An error and its causes on one line.
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

/// `gpu`: the best adapter, software accepted (and said so); `cpu`: the
/// native backend; `auto`: a hardware GPU when there is one, else the CPU.
pub fn choose_device(arg: DeviceArg) -> Result<Device> {
    let hardware = || {
        gpu::enumerate_adapters()
            .into_iter()
            .find(|a| a.get_info().device_type != wgpu::DeviceType::Cpu)
    };
    let device = match arg {
        DeviceArg::Cpu => Device::Cpu,
        DeviceArg::Gpu => Device::Gpu(Box::new(gpu::GpuBackend::new()?)),
        DeviceArg::Auto => match hardware() {
            Some(adapter) => Device::Gpu(Box::new(gpu::GpuBackend::with_adapter(adapter)?)),
            None => Device::Cpu,
        },
    };
    Ok(device)
}

/// Walk threads allowed per core.
pub const THREADS_PER_CORE: usize = 4;

/// `--threads`, when given: from 1 to THREADS_PER_CORE per core.
pub fn check_threads(threads: Option<usize>) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match threads {
        Some(t) if t == 0 || t > THREADS_PER_CORE * cores => anyhow::bail!(
            "--threads must be from 1 to {} ({THREADS_PER_CORE} per core on this machine)",
            THREADS_PER_CORE * cores
        ),
        _ => Ok(()),
    }
}

/// `90s`, `10m`, `2h`, or plain seconds; positive and at most
/// [`MAX_TIME`] (a year).
pub fn duration_arg(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 90s, 10m or 2h"))?;
    let scale = match unit {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("'{text}': unknown unit '{unit}' (s, m or h)")),
    };
    let seconds = value * scale;
    if !(seconds > 0.0 && seconds.is_finite()) {
        return Err(format!("'{text}' must be a positive duration"));
    }
    if seconds > MAX_TIME.as_secs_f64() {
        return Err(format!(
            "'{text}' is longer than a year, the most a run may be given"
        ));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// An integer option within `[least, most]`, checked as it is parsed.
pub fn ranged<T>([lo, hi]: [u64; 2]) -> clap::builder::RangedU64ValueParser<T>
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
    <T as TryFrom<u64>>::Error: std::error::Error + Send + Sync + 'static,
{
    clap::builder::RangedU64ValueParser::<T>::new().range(lo..=hi)
}

/// The same bounds for a value read back from a run's saved settings.
pub fn within(what: &str, value: usize, [lo, hi]: [u64; 2]) -> Result<()> {
    if (lo..=hi).contains(&(value as u64)) {
        Ok(())
    } else {
        Err(anyhow!("{what} must be from {lo} to {hi}, not {value}"))
    }
}

/// Bounds of the numeric options, `[least, most]`: the parser applies them
/// to the command line, and [`within`] the same numbers to a resumed run's
/// saved settings, so the two cannot drift apart.
pub mod bounds {
    pub const TARGET: [u64; 2] = [1, 1 << 20];
    pub const STEPS: [u64; 2] = [1, 1 << 40];
    pub const GAMES: [u64; 2] = [1, 4096];
    pub const SAMPLES: [u64; 2] = [1, 1024];
    pub const SIMULATIONS: [u64; 2] = [1, 100_000];
    pub const LEAVES_PER_GAME: [u64; 2] = [1, 256];
    pub const MAX_STEPS: [u64; 2] = [1, 4096];
    pub const BATCH: [u64; 2] = [1, 65_536];
    pub const MOVES_PER_STEP: [u64; 2] = [1, 100_000];
    pub const SAMPLED_MOVES: [u64; 2] = [0, 4096];
    pub const EXPLORE: [u64; 2] = [0, 1024];
    pub const SYMMETRY_VIEWS: [u64; 2] = [0, 64];
    pub const FLIP_THREADS: [u64; 2] = [1, 256];
    pub const ACTOR_THREADS: [u64; 2] = [1, 256];
    pub const WARMUP_STEPS: [u64; 2] = [0, 10_000_000];
    pub const EVAL_STATES: [u64; 2] = [1, 1_000_000];
    /// Actions of history the network sees (a saved setting only).
    pub const HISTORY: [u64; 2] = [0, 16];
}

pub fn parse_shape(text: &str) -> Result<Shape> {
    text.parse::<Shape>().map_err(|e| anyhow!(e))
}

/// On a resumed run, an option given again must agree with the saved one;
/// the saved value is used when it is not given.
pub fn agree<T: PartialEq + std::fmt::Debug>(flag: &str, given: Option<T>, saved: T) -> Result<T> {
    match given {
        Some(g) if g != saved => Err(anyhow!(
            "{flag} {g:?} conflicts with the checkpoint's {saved:?} (leave it out to continue the run as it was)"
        )),
        _ => Ok(saved),
    }
}

/// `--field` of the game: z or z2 (rational schemes are verified and
/// exported, not searched).
pub fn game_field() -> impl clap::builder::TypedValueParser<Value = Field> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["z", "z2"])
        .map(|s| s.parse::<Field>().expect("a listed field"))
}

/// `--field` of a file: z, z2 or q.
pub fn any_field() -> impl clap::builder::TypedValueParser<Value = Field> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["z", "z2", "q"])
        .map(|s| s.parse::<Field>().expect("a listed field"))
}

/// `--preset`: the model sizes.
pub fn preset() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(["tiny", "small", "large"])
}

/// What `search` and `pretrain` share on their command lines: the game,
/// the model, when to stop, and where the run lives.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct LearningRun {
    /// Shape n x m x p, e.g. 2x2x2 or 2,2,2 (not needed with --resume).
    pub shape: Option<String>,
    /// z (default) or z2.
    #[arg(long, value_parser = game_field())]
    pub field: Option<Field>,
    /// Model size: tiny, small or large (on the CPU search defaults to tiny
    /// and pretrain to small; large on a GPU).
    #[arg(long, value_parser = preset())]
    pub preset: Option<String>,
    /// Stop after this long, e.g. 90s, 10m, 2h, at most a year.
    #[arg(long, value_parser = duration_arg)]
    pub time: Option<std::time::Duration>,
    /// Stop after this many learner steps.
    #[arg(long, value_parser = ranged::<u64>(bounds::STEPS))]
    pub steps: Option<u64>,
    /// Output directory (default runs/SHAPE-FIELD for search, runs/pretrain
    /// for pretrain).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory, with its settings.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Seed of the weights, the data and the games (default 0).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Which decomposition of a file a command takes (`export`, `matmul`),
/// and the file's format.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SchemeChoice {
    /// In a file of several, the decomposition at this position (from 0).
    #[arg(long, conflicts_with = "shape")]
    pub index: Option<usize>,
    /// In a file of several, the decomposition of this shape.
    #[arg(long)]
    pub shape: Option<String>,
    /// The file's format (json, fmm-json, maple, exp, tfg, npz, cpd-txt, cpd-npy); by default its content and extension tell.
    #[arg(long, value_parser = format_arg())]
    pub format: Option<Format>,
}

/// The decomposition of `file` (in the chosen format, or the one its
/// content and extension show) that `--index` or `--shape` chooses (the
/// only one when the file holds one); the file's warnings are printed.
pub fn select_decomposition(
    file: &std::path::Path,
    choice: &SchemeChoice,
) -> Result<tensorsearch::problem::Decomposition> {
    let mut ds = vec![];
    let (format, index, shape) = (choice.format, choice.index, choice.shape.as_deref());
    let warnings = tensorsearch::problem::formats::read_each(file, format, |_, d| {
        ds.push(d);
        Ok(())
    })?;
    for w in warnings {
        eprintln!("warning: {}: {w}", file.display());
    }
    let count = ds.len();
    if let Some(i) = index {
        if i >= count {
            bail!(
                "{}: --index {i} is out of range, the file holds {count}",
                file.display()
            );
        }
        return Ok(ds.swap_remove(i));
    }
    if let Some(s) = shape {
        let s = parse_shape(s)?;
        let mut matching: Vec<tensorsearch::problem::Decomposition> =
            ds.into_iter().filter(|d| d.shape == s).collect();
        return match matching.len() {
            1 => Ok(matching.remove(0)),
            0 => bail!("{}: no decomposition of shape {s}", file.display()),
            k => bail!(
                "{}: {k} decompositions of shape {s}, choose one with --index",
                file.display()
            ),
        };
    }
    match count {
        1 => Ok(ds.remove(0)),
        _ => bail!(
            "{}: holds {count} decompositions, choose one with --index or --shape",
            file.display()
        ),
    }
}

/// `--format`: a scheme file's format, when its content and extension are
/// not to decide.
pub fn format_arg() -> impl clap::builder::TypedValueParser<Value = Format> {
    clap::builder::PossibleValuesParser::new([
        "json", "fmm-json", "maple", "exp", "tfg", "frac", "npz", "cpd-txt", "cpd-npy",
    ])
    .map(|s| s.parse::<Format>().expect("listed"))
}
