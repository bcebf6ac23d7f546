//! The imitation diagnosis (docs/design.md §5), measured: the tiny network
//! trains on Strassen's rank-7 game of 2x2x2 alone and plays greedily from
//! the standard basis every 10 steps; prints the learner step at which it
//! first plays the game back, per seed.
//!
//!     cargo run --release --example imitation -- [z|z2] [seeds] [max steps] [lr] [FILE] [preset] [in-order share]
//!
//! With FILE (a verified scheme, e.g. a run's `best.json`; `strassen` for
//! the default), that scheme's game is imitated instead of Strassen's;
//! `preset` is the model (tiny unless given); `in-order share` the share
//! of positions played back in the game's own order (0 unless given).

use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::game::GameConfig;
use tensorsearch::model::ModelConfig;
use tensorsearch::problem::{Decomposition, Field};
use tensorsearch::search::imitation::{steps_to_imitate, Imitation};
use tensorsearch::search::selfplay::game_actions;
use tensorsearch::train::BestGame;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or(default.into());
    let field: Field = arg(1, "z2").parse().map_err(anyhow::Error::msg)?;
    let seeds: u64 = arg(2, "5").parse()?;
    let max_steps: u32 = arg(3, "3000").parse()?;
    let lr: f32 = arg(4, "3e-3").parse()?;
    let preset = arg(6, "tiny");
    let in_order: f64 = arg(7, "0").parse()?;
    let scheme = match args.get(5).filter(|f| *f != "strassen") {
        Some(file) => {
            let d = tensorsearch::problem::json::read_file(std::path::Path::new(file))?.remove(0);
            tensorsearch::problem::verify(&d, field).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
            d
        }
        None => Decomposition::strassen(),
    };
    let shape = scheme.shape;
    let rank = scheme.rank();
    let game = GameConfig::new(shape, field, 1, rank);
    let best = BestGame {
        rank,
        tensor: shape.dense_tensor(),
        actions: game_actions(&scheme, &game),
    };
    for seed in 0..seeds {
        let cfg = Imitation {
            model: ModelConfig::preset(&preset)?,
            batch: 64,
            lr,
            seed,
            max_steps,
            check_every: 10 * (rank as u32 / 7).max(1),
            in_order,
        };
        let t0 = std::time::Instant::now();
        let r = steps_to_imitate(&mut CpuBackend::new(), &game, &best, &cfg)?;
        let steps = r.at_step.map_or("not within".into(), |s| s.to_string());
        println!(
            "{field} seed {seed}: {steps} steps, {:.1} s, policy loss {:.3}",
            t0.elapsed().as_secs_f64(),
            r.policy_loss
        );
    }
    Ok(())
}
