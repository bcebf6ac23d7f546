//! How often a search checkpoint's network, with MCTS and no learning,
//! plays each rank for 2x2x2 over Z2 from the standard basis: the
//! actors' own odds, apart from the learner's. Options: games to play,
//! root images (`--explore-symmetric`), simulations per move.
//!
//!     cargo run --release --example selfplay_eval -- RUN_DIR [GAMES] [IMAGES] [SIMULATIONS]

use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::game::{ActionEncoding, GameConfig};
use tensorsearch::model::{ModelConfig, Network};
use tensorsearch::problem::{Field, Shape};
use tensorsearch::search::selfplay::{SelfPlay, SelfPlayConfig};
use tensorsearch::search::tree::MctsConfig;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("give a 2x2x2 Z2 search directory (tiny preset)"))?;
    let arg = |i: usize, default: usize| -> usize {
        args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
    };
    let (games, images, simulations) = (arg(2, 200), arg(3, 0), arg(4, 32));
    let field = Field::Z2;
    let shape = Shape::new(2, 2, 2).map_err(anyhow::Error::msg)?;
    let game = GameConfig::new(shape, field, 1, 8);
    let enc = ActionEncoding::default_for(shape, field);
    let b = &mut CpuBackend::new();
    let mut net = Network::new(b, ModelConfig::preset("tiny")?, game, enc, 1, 0)?;
    net.init_from(b, std::path::Path::new(dir))?;
    let cfg = SelfPlayConfig {
        games: 16,
        samples: 8,
        simulations,
        leaves_per_game: 1,
        standard_basis_fraction: 1.0,
        complete_w: true,
        sampled_moves: 2,
        root_noise: Default::default(),
        sample_temperature: 1.0,
        explore: 0,
        explore_symmetric: images,
        mcts: MctsConfig::default(),
    };
    let mut actors = SelfPlay::new(b, &net, cfg, 1)?;
    let mut ranks = std::collections::BTreeMap::new();
    let mut played = 0;
    while played < games {
        for f in actors.round(b)? {
            played += 1;
            *ranks.entry(f.found.map(|d| d.rank())).or_insert(0) += 1;
        }
    }
    println!("{played} games: {ranks:?} (None: unsolved)");
    Ok(())
}
