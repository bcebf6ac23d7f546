//! How much memory a configuration takes, known before it is allocated.
//!
//! The estimate is not a formula kept beside the code: the networks are
//! built on a CPU backend in sizing mode, which counts every buffer the
//! real build allocates (parameters, gradients, Adam moments, activations
//! and their gradients, index tables) without taking the memory. The CPU
//! backend adds per-call scratch on top, and a GPU driver its own
//! overhead; `HEADROOM` covers both.

use super::{Evaluator, ModelConfig, Network};
use crate::engine::cpu::CpuBackend;
use crate::game::{ActionEncoding, GameConfig};
use anyhow::{bail, Result};

/// What a run's buffers take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Bytes of every buffer of the learner and the evaluators.
    pub buffers: u64,
    /// Bytes of the parameters alone (one copy).
    pub parameters: u64,
}

/// Memory beyond the counted buffers that a run needs (scratch, driver).
pub const HEADROOM: f64 = 1.25;

impl MemoryEstimate {
    /// The memory to have available: buffers plus headroom.
    pub fn needed(&self) -> u64 {
        (self.buffers as f64 * HEADROOM) as u64
    }
}

/// The buffers of a learner on `batch` states and of evaluators for each
/// (states, samples) pair, measured by building them in sizing mode.
pub fn estimate(
    model: &ModelConfig,
    game: &GameConfig,
    encoding: &ActionEncoding,
    batch: usize,
    evaluators: &[(usize, usize)],
) -> Result<MemoryEstimate> {
    let mut b = CpuBackend::sizing();
    let net = Network::new(
        &mut b,
        model.clone(),
        game.clone(),
        encoding.clone(),
        batch,
        0,
    )?;
    let parameters = net.parameter_count() as u64 * 4;
    let mut kept = vec![];
    for &(states, samples) in evaluators {
        kept.push(Evaluator::new(&mut b, &net, states, samples)?);
    }
    Ok(MemoryEstimate {
        buffers: b.allocated_bytes(),
        parameters,
    })
}

/// The memory a run may use: `TENSORSEARCH_MEMORY_LIMIT` (bytes, or with a
/// K, M, G suffix) when set, else the system's available memory (Linux's
/// MemAvailable); `None` when neither is known.
pub fn available() -> Result<Option<u64>> {
    if let Ok(text) = std::env::var("TENSORSEARCH_MEMORY_LIMIT") {
        return parse_bytes(&text).map(Some);
    }
    let Ok(info) = std::fs::read_to_string("/proc/meminfo") else {
        return Ok(None);
    };
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024))
}

fn parse_bytes(text: &str) -> Result<u64> {
    let t = text.trim();
    let (digits, scale) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    match digits.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok((x * scale as f64) as u64),
        _ => bail!("TENSORSEARCH_MEMORY_LIMIT='{text}' is not a size (e.g. 8G, 512M)"),
    }
}

/// `1.5 GB` style.
pub fn format_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        _ if b >= 1e12 => format!("{:.1} TB", b / 1e12),
        _ if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        _ if b >= 1e6 => format!("{:.0} MB", b / 1e6),
        _ => format!("{:.0} kB", b / 1e3),
    }
}

/// Refuses a run whose estimate does not fit in `available`, naming the
/// estimate and what to change.
pub fn check(estimate: &MemoryEstimate, available: Option<u64>, batch_flag: &str) -> Result<()> {
    let Some(available) = available else {
        return Ok(());
    };
    if estimate.needed() > available {
        bail!(
            "this configuration needs about {} ({} of buffers, {} of them parameters) but {} is available: lower {batch_flag} or choose a smaller --preset",
            format_bytes(estimate.needed()),
            format_bytes(estimate.buffers),
            format_bytes(estimate.parameters),
            format_bytes(available)
        );
    }
    Ok(())
}

/// Refuses a run that cannot fit, before it allocates; else returns the
/// line that says what it takes. Host memory bounds the CPU backend and
/// software adapters; wgpu does not report a GPU's own memory, so there
/// only `TENSORSEARCH_MEMORY_LIMIT` (when set) is enforced.
pub fn guard(estimate: &MemoryEstimate, on_host: bool, batch_flag: &str) -> Result<String> {
    let limit = if on_host || std::env::var_os("TENSORSEARCH_MEMORY_LIMIT").is_some() {
        available()?
    } else {
        None
    };
    check(estimate, limit, batch_flag)?;
    let available = limit
        .map(|b| format!("; {} available", format_bytes(b)))
        .unwrap_or_default();
    Ok(format!(
        "memory: about {} ({} of buffers, {} of them parameters){available}",
        format_bytes(estimate.needed()),
        format_bytes(estimate.buffers),
        format_bytes(estimate.parameters),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::GameConfig;
    use crate::problem::{Field, Shape};

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_bytes("512M").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("-1G").is_err());
    }

    /// The estimate is what a real build allocates, for tiny and small.
    #[test]
    fn estimate_matches_the_buffers_of_a_real_build() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let game = GameConfig::new(shape, Field::Z, 1, 8);
        let encoding = ActionEncoding::default_for(shape, Field::Z);
        for preset in ["tiny", "small"] {
            let model = ModelConfig::preset(preset).unwrap();
            let e = estimate(&model, &game, &encoding, 16, &[(4, 8)]).unwrap();
            let mut real = CpuBackend::new();
            let net = Network::new(
                &mut real,
                model.clone(),
                game.clone(),
                encoding.clone(),
                16,
                3,
            )
            .unwrap();
            let _ev = Evaluator::new(&mut real, &net, 4, 8).unwrap();
            assert_eq!(e.buffers, real.allocated_bytes(), "{preset}");
            // Parameters, gradients and two Adam moments at least.
            assert!(e.buffers > 4 * e.parameters, "{preset}");
            assert_eq!(e.parameters, net.parameter_count() as u64 * 4);
        }
    }

    #[test]
    fn larger_shapes_need_more_and_a_budget_refuses_them() {
        let model = ModelConfig::preset("tiny").unwrap();
        let size = |n: usize| {
            let shape = Shape::new(n, n, n).unwrap();
            let game = GameConfig::new(shape, Field::Z, 1, 8);
            let encoding = ActionEncoding::default_for(shape, Field::Z);
            estimate(&model, &game, &encoding, 4, &[]).unwrap()
        };
        let (small, large) = (size(2), size(4));
        assert!(large.buffers > 8 * small.buffers);
        check(&small, Some(small.needed()), "--batch").unwrap();
        let err = check(&large, Some(large.needed() - 1), "--batch").unwrap_err();
        assert!(err.to_string().contains("lower --batch"), "{err}");
    }
}
