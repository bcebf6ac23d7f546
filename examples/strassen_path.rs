//! What a search checkpoint's network thinks of Strassen's path for 2x2x2
//! over Z2 or Z, against the schoolbook's: at each step of each scheme, the
//! network's (risk-seeking) value of the state and −log π of the scheme's
//! next term; then, along Strassen's path with its rank-2 term last, where
//! the value head ranks Strassen's next terms among the terms of the
//! schoolbook's orbit under T's symmetries (216 over Z2, 1,000 over Z);
//! then, over Z2, a greedy descent by value over that orbit from each first
//! move. It shows why pure self-play rarely leaves rank 8: the value head
//! can tell a better scheme's states from the third move on, but the policy
//! does not propose its terms.
//!
//!     cargo run --release --example strassen_path -- RUN_DIR [z2|z]

use rand::SeedableRng;
use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::game::symmetry;
use tensorsearch::game::{ActionEncoding, Example, GameConfig};
use tensorsearch::model::{Evaluator, ModelConfig, Network};
use tensorsearch::problem::{Decomposition, Field, Shape};
use tensorsearch::search::selfplay::{game_actions, risk_seeking_value};
use tensorsearch::train::batch::batch_of;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("give a 2x2x2 search directory (tiny preset)"))?;
    let field: Field = std::env::args()
        .nth(2)
        .map_or(Ok(Field::Z2), |s| s.parse())
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        field != Field::Q,
        "give z2 or z: the orbits here are counted over those"
    );
    let shape = Shape::new(2, 2, 2).map_err(anyhow::Error::msg)?;
    let game = GameConfig::new(shape, field, 1, 8);
    let enc = ActionEncoding::default_for(shape, field);
    let b = &mut CpuBackend::new();
    let preset = ModelConfig::preset("tiny")?;
    let mut net = Network::new(b, preset, game.clone(), enc.clone(), 1, 0)?;
    net.init_from(b, std::path::Path::new(&dir))?;
    let mut ev = Evaluator::new(b, &net, 1, 1)?;
    let uniforms = vec![0.5; ev.uniforms_len()];
    // Strassen's first term (the one whose factors are matrices of rank 2)
    // is the only one outside the schoolbook's orbit under T's symmetries;
    // played last, it is read off a rank-one residual.
    let strassen = game_actions(&Decomposition::strassen(), &game);
    let mut rank_two_last = strassen[1..].to_vec();
    rank_two_last.push(strassen[0].clone());
    let schemes = [
        ("Strassen", strassen),
        ("Strassen, its rank-2 term last", rank_two_last.clone()),
        (
            "schoolbook",
            game_actions(&Decomposition::standard(shape, Field::Z), &game),
        ),
    ];
    for (name, terms) in schemes {
        let mut residual = shape.dense_tensor();
        println!("{name}:");
        for (k, term) in terms.iter().enumerate() {
            let last = if k == 0 {
                vec![0; game.action_len()]
            } else {
                terms[k - 1].clone()
            };
            let e = Example {
                residual: residual.clone(),
                history: vec![last],
                step: k,
                action: term.clone(),
                value: 0.0,
            };
            let batch = batch_of(&game, &enc, std::slice::from_ref(&e));
            let value = risk_seeking_value(&ev.evaluate(b, &batch.states, &uniforms)?.quantiles);
            // The policy loss is the mean over the action's tokens.
            let nlp = net.evaluate(b, &batch)?.policy_loss * enc.n_tokens() as f32;
            println!(
                "  step {k}: value {value:6.2} (remaining terms {}), -log p(next term) {nlp:5.1}",
                terms.len() - k
            );
            game.subtract(&mut residual, term);
        }
    }
    // Where the value head puts Strassen's next term among every term of
    // the schoolbook's orbit (the images of its terms under T's
    // symmetries): the rank of its child's value, 1 being the best.
    let mut orbit: Vec<Vec<i32>> = Vec::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let school = Decomposition::standard(shape, field);
    let set = tensorsearch::game::action::coefficient_set(field);
    // Over Z the orbit has 1,000 terms up to sign, against 216 over Z2.
    // Over Z one operation per matrix draws all 40 matrices of GL₂(Z) with
    // entries in {−1, 0, 1}; terms outside the coefficient set are not
    // actions.
    let (draws, ops) = if field == Field::Z2 {
        (2_000, 8)
    } else {
        (20_000, 1)
    };
    for _ in 0..draws {
        let s = symmetry::random_symmetry(&mut rng, shape, field, ops);
        for a in game_actions(&s.forward(&school), &game) {
            if a.iter().all(|x| set.contains(x)) && !orbit.contains(&a) {
                orbit.push(a);
            }
        }
    }
    println!(
        "value ranks of Strassen's next terms among the {} orbit terms:",
        orbit.len()
    );
    let mut residual = shape.dense_tensor();
    let value_of = |b: &mut CpuBackend, ev: &mut Evaluator<CpuBackend>, r: &[i32], step: usize| {
        let e = Example {
            residual: r.to_vec(),
            history: vec![vec![0; game.action_len()]],
            step,
            action: vec![0; game.action_len()],
            value: 0.0,
        };
        let batch = batch_of(&game, &enc, std::slice::from_ref(&e));
        ev.evaluate(b, &batch.states, &uniforms)
            .map(|o| risk_seeking_value(&o.quantiles))
    };
    for k in 0..5 {
        let mut values = Vec::new();
        for x in &orbit {
            let mut r = residual.clone();
            game.subtract(&mut r, x);
            values.push(value_of(b, &mut ev, &r, k + 1)?);
        }
        let remaining = &rank_two_last[k..6];
        let ranks: Vec<usize> = remaining
            .iter()
            .filter_map(|t| orbit.iter().position(|x| x == t))
            .map(|i| values.iter().filter(|&&v| v > values[i]).count() + 1)
            .collect();
        println!("  step {k}: ranks {ranks:?}");
        game.subtract(&mut residual, &rank_two_last[k]);
    }
    if field == Field::Z {
        // Over Z a one-term check runs over 81³ terms at every step.
        return Ok(());
    }
    // Greedy descent by value over the orbit from every first move: the
    // orbit term whose state the value head likes best, until the residual
    // is one term (read off) or the step limit.
    let factor = |bits: usize| -> Vec<i32> { (0..4).map(|i| (bits >> i & 1) as i32).collect() };
    let mut all_terms = Vec::new();
    for u in 1..16 {
        for v in 1..16 {
            for w in 1..16 {
                all_terms.push([factor(u), factor(v), factor(w)].concat());
            }
        }
    }
    let mut finals = std::collections::BTreeMap::new();
    for first in &orbit {
        let mut residual = shape.dense_tensor();
        game.subtract(&mut residual, first);
        let mut steps = 1;
        let outcome = loop {
            if residual.iter().all(|&x| x == 0) {
                break Some(steps);
            }
            if steps >= 8 {
                break None;
            }
            // A residual that is one term of any kind is read off.
            let one_term = all_terms.iter().any(|x| {
                let mut r = residual.clone();
                game.subtract(&mut r, x);
                r.iter().all(|&v| v == 0)
            });
            if one_term {
                break Some(steps + 1);
            }
            let mut best = (f64::NEG_INFINITY, 0);
            for (i, x) in orbit.iter().enumerate() {
                let mut r = residual.clone();
                game.subtract(&mut r, x);
                let v = value_of(b, &mut ev, &r, steps + 1)?;
                if v > best.0 {
                    best = (v, i);
                }
            }
            game.subtract(&mut residual, &orbit[best.1]);
            steps += 1;
        };
        *finals.entry(outcome).or_insert(0) += 1;
    }
    println!("greedy descent by value from each first move: {finals:?} (None: unsolved at 8)");
    Ok(())
}
