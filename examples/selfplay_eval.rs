//! How often a search checkpoint's network, with MCTS and no learning,
//! plays each rank for 2x2x2 over Z2 from the standard basis: the
//! actors' own odds, apart from the learner's. Options: games to play,
//! root images (`--explore-symmetric`), simulations per move.
//!
//! Beside the ranks it counts, per game, how many of its first moves lie
//! together in one rank-7 scheme (an image of Strassen's under T's
//! symmetries): a game that reaches 7 keeps all seven, and the counts
//! below 7 show how far the actors get when none does.
//!
//!     cargo run --release --example selfplay_eval -- RUN_DIR [GAMES] [IMAGES] [SIMULATIONS]

use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::game::basis::Unimodular;
use tensorsearch::game::symmetry;
use tensorsearch::game::{ActionEncoding, GameConfig};
use tensorsearch::model::{ModelConfig, Network};
use tensorsearch::problem::{Decomposition, Field, Shape};
use tensorsearch::search::selfplay::{game_actions, LeafUpdates, SelfPlay, SelfPlayConfig};
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
    let mut net = Network::new(b, ModelConfig::preset("tiny")?, game.clone(), enc, 1, 0)?;
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
        restarts: 0.0,
        leaf_updates: LeafUpdates::for_backend(b),
        mcts: MctsConfig::default(),
    };
    // Every rank-7 scheme over Z2: Strassen's images under all 216
    // symmetries (P, Q, R) of GL₂(F₂)³ and their transposes
    // (U, V, W) ↦ (Vᵀ, Uᵀ, Wᵀ).
    let gl2: Vec<Unimodular> = (0..16)
        .map(|bits: i64| (0..4).map(|i| bits >> i & 1).collect::<Vec<i64>>())
        .filter(|m| (m[0] * m[3] - m[1] * m[2]).rem_euclid(2) == 1)
        .map(|m| {
            let inv = (0..16)
                .map(|bits: i64| (0..4).map(|i| bits >> i & 1).collect::<Vec<i64>>())
                .find(|x| {
                    let p = |r: usize, c: usize| (m[r * 2] * x[c] + m[r * 2 + 1] * x[2 + c]) % 2;
                    (p(0, 0), p(0, 1), p(1, 0), p(1, 1)) == (1, 0, 0, 1)
                })
                .expect("invertible");
            Unimodular { n: 2, m, inv }
        })
        .collect();
    let t = |x: &[i32]| vec![x[0], x[2], x[1], x[3]];
    let transpose = |a: &Vec<i32>| [t(&a[4..8]), t(&a[0..4]), t(&a[8..12])].concat();
    let strassen = game_actions(&Decomposition::strassen(), &game);
    let mut schemes: Vec<Vec<Vec<i32>>> = Vec::new();
    for base in [strassen.clone(), strassen.iter().map(transpose).collect()] {
        for p in &gl2 {
            for q in &gl2 {
                for r in &gl2 {
                    let s = symmetry::symmetry(p, q, r, field);
                    let mut terms: Vec<Vec<i32>> = base
                        .iter()
                        .map(|a| symmetry::map_action(&s, None, game.dims, &[0, 1], a))
                        .collect::<Option<_>>()
                        .expect("Z2 images stay in {0, 1}");
                    terms.sort();
                    if !schemes.contains(&terms) {
                        schemes.push(terms);
                    }
                }
            }
        }
    }
    let in_scheme = |actions: &[Vec<i32>]| {
        (0..=actions.len())
            .rev()
            .find(|&k| {
                schemes
                    .iter()
                    .any(|s| actions[..k].iter().all(|a| s.contains(a)))
            })
            .unwrap_or(0)
    };
    let mut actors = SelfPlay::new(b, &net, cfg, 1)?;
    let mut ranks = std::collections::BTreeMap::new();
    let mut opening = [0usize; 8];
    let mut played = 0;
    let start = std::time::Instant::now();
    while played < games {
        for f in actors.round(b)? {
            played += 1;
            *ranks.entry(f.found.map(|d| d.rank())).or_insert(0) += 1;
            opening[in_scheme(&f.actions).min(7)] += 1;
        }
    }
    println!(
        "{played} games in {:.0} s: {ranks:?} (None: unsolved)",
        start.elapsed().as_secs_f64()
    );
    println!(
        "first moves in one of the {} rank-7 schemes, games by count 0..7: {opening:?}",
        schemes.len()
    );
    Ok(())
}
