//! How often a search checkpoint's network, with MCTS and no learning,
//! plays each rank for 2x2x2 over Z2 or Z from the standard basis: the
//! actors' own odds, apart from the learner's. Options: games to play,
//! root images (`--explore-symmetric`), simulations per move, field.
//!
//! Beside the ranks it counts, per game, how many of its first moves lie
//! together in one rank-7 scheme (an image of Strassen's under T's
//! symmetries): a game that reaches 7 keeps all seven, and the counts
//! below 7 show how far the actors get when none does. Of the unsolved
//! games it counts how many nonzero entries their last residual keeps and
//! how many residuals left the coefficient set on the way (an entry that
//! no term with coefficients in the set can cancel in one move).
//!
//!     cargo run --release --example selfplay_eval -- RUN_DIR [GAMES] [IMAGES] [SIMULATIONS] [z2|z]

use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::game::action::canonicalise;
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
        .ok_or_else(|| anyhow::anyhow!("give a 2x2x2 search directory (tiny preset)"))?;
    let arg = |i: usize, default: usize| -> usize {
        args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
    };
    let (games, images, simulations) = (arg(2, 200), arg(3, 0), arg(4, 32));
    let field: Field = args
        .get(5)
        .map_or("z2", String::as_str)
        .parse()
        .map_err(anyhow::Error::msg)?;
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
    // Every rank-7 scheme within the coefficient set: Strassen's images
    // under the symmetries (P, Q, R) of T with P, Q, R invertible 2x2
    // matrices with entries in the set (all of GL₂(F₂) over Z2; over Z
    // those with determinant ±1), and their transposes (U, V, W) ↦ (Vᵀ,
    // Uᵀ, Wᵀ). Images that leave the set are skipped.
    let set = tensorsearch::game::action::coefficient_set(field);
    let unit = |d: i64| match field {
        Field::Z2 => d.rem_euclid(2) == 1,
        _ => d.abs() == 1,
    };
    let gl2: Vec<Unimodular> = (0..set.len().pow(4))
        .map(|code| {
            (0..4)
                .map(|i| set[code / set.len().pow(i) % set.len()] as i64)
                .collect::<Vec<i64>>()
        })
        .filter(|m| unit(m[0] * m[3] - m[1] * m[2]))
        .map(|m| {
            // The adjugate over a determinant ±1 (over F₂ the determinant is 1).
            let det = m[0] * m[3] - m[1] * m[2];
            let det = if field == Field::Z2 { 1 } else { det };
            let inv = [m[3], -m[1], -m[2], m[0]]
                .iter()
                .map(|x| {
                    if field == Field::Z2 {
                        x.rem_euclid(2)
                    } else {
                        x * det
                    }
                })
                .collect();
            Unimodular { n: 2, m, inv }
        })
        .collect();
    let t = |x: &[i32]| vec![x[0], x[2], x[1], x[3]];
    let transpose = |a: &Vec<i32>| [t(&a[4..8]), t(&a[0..4]), t(&a[8..12])].concat();
    let strassen = game_actions(&Decomposition::strassen(), &game);
    let mut schemes = std::collections::HashSet::new();
    for base in [strassen.clone(), strassen.iter().map(transpose).collect()] {
        for p in &gl2 {
            for q in &gl2 {
                for r in &gl2 {
                    let s = symmetry::symmetry(p, q, r, field);
                    let terms: Option<Vec<Vec<i32>>> = base
                        .iter()
                        .map(|a| symmetry::map_action(&s, None, game.dims, set, a))
                        .map(|a| {
                            a.map(|mut a| {
                                canonicalise(field, game.dims, &mut a);
                                a
                            })
                        })
                        .collect();
                    if let Some(mut terms) = terms {
                        terms.sort();
                        schemes.insert(terms);
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
                    .any(|s: &Vec<Vec<i32>>| actions[..k].iter().all(|a| s.contains(a)))
            })
            .unwrap_or(0)
    };
    // The residual after each move of a game, reduced in the field.
    let residuals = |tensor: &[i32], actions: &[Vec<i32>]| {
        let mut r = tensor.to_vec();
        let mut out = Vec::new();
        for a in actions {
            game.subtract(&mut r, a);
            out.push(r.clone());
        }
        out
    };
    let mut actors = SelfPlay::new(b, &net, cfg, 1)?;
    let mut ranks = std::collections::BTreeMap::new();
    let mut opening = [0usize; 8];
    let (mut off, mut offered, mut offered_share) = ([0usize; 8], [0usize; 8], [0f32; 8]);
    let mut unsolved_nonzeros = std::collections::BTreeMap::new();
    let (mut unsolved, mut left_set) = (0, 0);
    let mut played = 0;
    let start = std::time::Instant::now();
    while played < games {
        for f in actors.round(b)? {
            played += 1;
            *ranks.entry(f.found.as_ref().map(|d| d.rank())).or_insert(0) += 1;
            let k = in_scheme(&f.actions).min(7);
            opening[k] += 1;
            // At the first move off every scheme: was a move that stays in
            // one among the root's edges, and what share of visits did it get?
            if (1..7).contains(&k) && k < f.moves.len() {
                let share: f32 = f.moves[k]
                    .policy
                    .iter()
                    .filter(|(a, _)| {
                        let mut prefix = f.actions[..k].to_vec();
                        prefix.push(a.clone());
                        in_scheme(&prefix) == k + 1
                    })
                    .map(|(_, p)| p)
                    .sum();
                offered[k] += usize::from(share > 0.0);
                offered_share[k] += share;
                off[k] += 1;
            }
            if f.found.is_none() {
                unsolved += 1;
                let trail = residuals(&f.tensor, &f.actions);
                let last = trail.last().cloned().unwrap_or_default();
                *unsolved_nonzeros
                    .entry(last.iter().filter(|&&x| x != 0).count())
                    .or_insert(0) += 1;
                if trail.iter().flatten().any(|x| !set.contains(x)) {
                    left_set += 1;
                }
            }
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
    for k in 1..7 {
        if off[k] > 0 {
            println!(
                "left the schemes at move {}: {} games; a move staying in one was an edge in {}, \
                 mean improved-policy share {:.3}",
                k + 1,
                off[k],
                offered[k],
                offered_share[k] / off[k] as f32
            );
        }
    }
    println!(
        "unsolved: {unsolved}; nonzero entries left: {unsolved_nonzeros:?}; \
         residual left the coefficient set: {left_set}"
    );
    Ok(())
}
