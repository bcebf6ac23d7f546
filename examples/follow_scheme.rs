//! Where a search's network leaves the best scheme it was taught: loads a
//! run's checkpoint and its lowest-rank best game in the standard basis
//! (`search.json`), then plays from T three ways and counts the moves that
//! stay in that scheme (each a term of it not played yet):
//!
//! - **led**: along the scheme's own order, the greedy choice at each
//!   state (the recorded next term, another remaining one, a term off the
//!   scheme, or no action);
//! - **greedy**: the policy alone from T;
//! - **MCTS**: the run's self-play from the standard basis, without
//!   learning: its samples and exploration, and unless given, its
//!   simulations, sampled moves, w completion and sampling temperature.
//!
//! For MCTS games it also says, at the first move off the scheme, whether a
//! remaining term was among the root's candidates and what share of the
//! visits the candidates in the scheme got.
//!
//!     cargo run --release --example follow_scheme -- RUN_DIR [GAMES] [SIMULATIONS] [SAMPLED MOVES] [COMPLETE W: true|false] [TEMPERATURE]

use anyhow::{anyhow, Context};
use std::collections::HashSet;
use std::path::Path;
use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::game::{ActionEncoding, GameConfig};
use tensorsearch::model::{ModelConfig, Network};
use tensorsearch::problem::{Field, Shape};
use tensorsearch::search::greedy::GreedyPlayer;
use tensorsearch::search::selfplay::{LeafUpdates, SelfPlay, SelfPlayConfig};
use tensorsearch::search::tree::MctsConfig;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(
        args.get(1)
            .ok_or_else(|| anyhow!("give a search directory"))?,
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("search.json")).context("search.json")?,
    )?;
    let s = &summary["settings"];
    let dims: Vec<usize> = serde_json::from_value(s["shape"].clone())?;
    let shape = Shape::new(dims[0], dims[1], dims[2]).map_err(|e| anyhow!(e))?;
    let field: Field = s["field"]
        .as_str()
        .unwrap_or("Z2")
        .to_lowercase()
        .parse()
        .map_err(|e: String| anyhow!(e))?;
    let number = |key: &str| {
        s[key]
            .as_u64()
            .ok_or_else(|| anyhow!("settings lack {key}"))
    };
    let arg = |i: usize, key: &str| -> anyhow::Result<usize> {
        match args.get(i) {
            Some(a) => a.parse().map_err(|_| anyhow!("'{a}' is not a count")),
            None => Ok(number(key)? as usize),
        }
    };
    let games = args.get(2).map_or(Ok(16), |a| a.parse())?;
    let (simulations, sampled_moves) = (arg(3, "simulations")?, arg(4, "sampled_moves")?);
    let game = GameConfig::new(
        shape,
        field,
        number("history")? as usize,
        number("max_steps")? as usize,
    );
    let preset = s["preset"].as_str().unwrap_or("tiny");
    let enc = ActionEncoding::default_for(shape, field);
    let b = &mut CpuBackend::new();
    let mut net = Network::new(b, ModelConfig::preset(preset)?, game.clone(), enc, 1, 0)?;
    net.init_from(b, dir)?;

    let standard = shape.dense_tensor();
    let scheme: Vec<Vec<i32>> = summary["best_games"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| {
            serde_json::from_value::<Vec<i32>>(g["tensor"].clone()).ok() == Some(standard.clone())
        })
        .min_by_key(|g| g["rank"].as_u64())
        .map(|g| serde_json::from_value(g["actions"].clone()))
        .transpose()?
        .ok_or_else(|| anyhow!("no best game in the standard basis"))?;
    println!("scheme: rank {} in the standard basis", scheme.len());
    let terms: HashSet<Vec<i32>> = scheme.iter().cloned().collect();
    // How many of a game's first moves are distinct terms of the scheme.
    let prefix_in_scheme = |actions: &[Vec<i32>]| {
        let mut seen = HashSet::new();
        actions
            .iter()
            .take_while(|a| terms.contains(*a) && seen.insert((*a).clone()))
            .count()
    };

    // Led along the scheme's order.
    let mut greedy = GreedyPlayer::new(b, &net)?;
    let mut residual = standard.clone();
    let mut history = vec![vec![0; game.action_len()]; game.history];
    let (mut next, mut remaining, mut off, mut none) = (0, 0, Vec::new(), Vec::new());
    for (k, a) in scheme.iter().enumerate() {
        let choice = greedy.choose(b, &residual, &history, k)?;
        match choice {
            Some(c) if &c == a => next += 1,
            Some(c) if scheme[k..].contains(&c) => remaining += 1,
            Some(_) => off.push(k + 1),
            None => none.push(k + 1),
        }
        game.play(&mut residual, &mut history, a);
    }
    println!(
        "led along the scheme: greedy plays the recorded next term at {next} of {} moves, \
         another remaining term at {remaining}, a term off the scheme at moves {off:?}, \
         a null or undecodable action at moves {none:?}",
        scheme.len()
    );

    let g = greedy.play(b, &standard)?;
    println!(
        "greedy from T: {} moves, solved {}, first {} in the scheme",
        g.actions.len(),
        g.solved,
        prefix_in_scheme(&g.actions)
    );

    let cfg = SelfPlayConfig {
        games: 16,
        samples: number("samples")? as usize,
        simulations,
        leaves_per_game: 1,
        standard_basis_fraction: 1.0,
        complete_w: match args.get(5) {
            Some(a) => a
                .parse()
                .map_err(|_| anyhow!("'{a}' is neither true nor false"))?,
            None => s["complete_w"].as_bool().unwrap_or(true),
        },
        sampled_moves,
        root_noise: Default::default(),
        sample_temperature: match args.get(6) {
            Some(a) => a
                .parse()
                .map_err(|_| anyhow!("'{a}' is not a temperature"))?,
            None => s["sample_temperature"].as_f64().unwrap_or(1.0) as f32,
        },
        explore: number("explore")? as usize,
        explore_symmetric: number("explore_symmetric")? as usize,
        restarts: 0.0,
        leaf_updates: LeafUpdates::for_backend(b),
        mcts: MctsConfig::default(),
    };
    let mut actors = SelfPlay::new(b, &net, cfg, 1)?;
    let (mut played, mut solved) = (0, Vec::new());
    let mut prefixes = Vec::new();
    let (mut departed, mut offered, mut share) = (0, 0, 0.0f32);
    let start = std::time::Instant::now();
    while played < games {
        for f in actors.round(b)? {
            played += 1;
            if let Some(d) = &f.found {
                solved.push(d.rank());
            }
            let k = prefix_in_scheme(&f.actions);
            prefixes.push(k);
            if k < f.moves.len() {
                departed += 1;
                let in_scheme: f32 = f.moves[k]
                    .policy
                    .iter()
                    .filter(|(a, _)| terms.contains(a) && !f.actions[..k].contains(a))
                    .map(|(_, p)| p)
                    .sum();
                offered += usize::from(in_scheme > 0.0);
                share += in_scheme;
            }
        }
    }
    prefixes.sort();
    println!(
        "MCTS ({simulations} simulations, {sampled_moves} sampled moves): {played} games in {:.0} s, \
         solved ranks {solved:?}; moves in the scheme before leaving it, sorted: {prefixes:?}",
        start.elapsed().as_secs_f64()
    );
    println!(
        "at the first move off the scheme a remaining term was a candidate in {offered} games, \
         mean visit share of such terms {:.3}",
        share / departed.max(1) as f32
    );
    Ok(())
}
