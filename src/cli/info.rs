//! `tensorsearch info`: the tensor of a shape, its ranks and action encoding.

use anyhow::Result;
use tensorsearch::game::{ActionEncoding, GameConfig};
use tensorsearch::model::memory::{self, format_bytes};
use tensorsearch::model::ModelConfig;
use tensorsearch::problem::{reference, Field, Shape};

/// The command line of `info`.
#[derive(Clone, Debug, clap::Args)]
pub struct InfoArgs {
    /// Shape n x m x p, e.g. 2x2x2 or 2,2,2.
    shape: String,
}

pub fn run(args: InfoArgs) -> Result<std::process::ExitCode> {
    let shape = super::common::parse_shape(&args.shape)?;
    print!("{}", info(shape));
    print!("{}", memory(shape)?);
    Ok(std::process::ExitCode::SUCCESS)
}

pub fn info(shape: Shape) -> String {
    let [la, lb, lc] = shape.factor_lens();
    let mut s = format!(
        "shape        {shape}: A is {n}x{m}, B is {m}x{p}, C is {n}x{p}\n\
         tensor       {la} x {lb} x {lc}, {nnz} nonzero entries\n\
         standard     rank {std}\n",
        n = shape.n,
        m = shape.m,
        p = shape.p,
        nnz = shape.standard_rank(),
        std = shape.standard_rank()
    );
    let known = |r: Option<usize>| r.map_or("unknown".to_string(), |r| r.to_string());
    match reference::best_ranks(shape) {
        Some(b) if b.z2 == b.z && b.z == b.q && b.z.is_some() => {
            s += &format!("best known   rank {} (over Z2, Z and Q)\n", known(b.z))
        }
        Some(b) => {
            s += &format!(
                "best known   rank {} over Z2, {} over Z, {} over Q\n",
                known(b.z2),
                known(b.z),
                known(b.q)
            )
        }
        None => s += "best known   not in the built-in table (data/best_ranks.json)\n",
    }
    if let Some(source) = reference::source_of(shape) {
        s += &format!("source       {source}\n");
    }
    for field in [Field::Z, Field::Z2] {
        let enc = ActionEncoding::default_for(shape, field);
        s += &format!(
            "actions {:<4} coefficients {:?}, {} per action, chunk {} -> {} tokens, vocabulary {}\n",
            field.name(),
            enc.coefficients(),
            enc.action_len(),
            enc.chunk(),
            enc.n_tokens(),
            enc.vocab_size()
        );
    }
    s
}

/// Batch of the memory lines: `pretrain`'s default.
const INFO_BATCH: usize = 64;

/// Whether each preset's network fits this machine for `shape` (over Z,
/// `pretrain`'s default batch and held-out evaluators).
pub fn memory(shape: Shape) -> Result<String> {
    let available = memory::available()?;
    let game = GameConfig::new(shape, Field::Z, 1, shape.standard_rank());
    let encoding = ActionEncoding::default_for(shape, Field::Z);
    let mut s = String::new();
    for preset in ["tiny", "small", "large"] {
        let model = ModelConfig::preset(preset)?;
        let evaluators = [(INFO_BATCH, 1), (INFO_BATCH, 32)];
        let e = memory::estimate(&model, &game, &encoding, INFO_BATCH, &evaluators)?;
        let verdict = match available {
            Some(a) if e.needed() > a => format!("does not fit ({} available)", format_bytes(a)),
            Some(_) => "fits".to_string(),
            None => "available memory unknown".to_string(),
        };
        s += &format!(
            "memory {:<5} {} at batch {INFO_BATCH}: {verdict}\n",
            preset,
            format_bytes(e.needed())
        );
    }
    Ok(s)
}
