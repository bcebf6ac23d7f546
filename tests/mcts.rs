//! Sampled MCTS: the pUCT arithmetic against hand-computed numbers, and
//! whole games driven by scripted and uniform policies, mapped back to the
//! standard basis and verified.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tensorsearch::game::{random_demonstration, Basis, GameConfig};
use tensorsearch::problem::{Decomposition, Field, Shape};
use tensorsearch::search::actions::{canonicalise, is_null, Candidate};
use tensorsearch::search::selfplay::{decomposition_actions, standard_basis_decomposition};
use tensorsearch::search::tree::{MctsConfig, Node, NodeState, Tree};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn puct_exploration_and_temperature_match_hand_computed_values() {
    let c = MctsConfig::default();
    // c(s) = 1.25 + ln((N + 19652 + 1) / 19652)
    assert!(close(
        c.exploration(0.0),
        1.25 + (19653.0f64 / 19652.0).ln()
    ));
    assert!(close(c.exploration(100.0), 1.255_126_264_239_461_8));
    // 0.5 + 1.255126… · 0.25 · √100 / (1 + 3)
    assert!(close(
        c.score(0.5, 0.25, 100.0, 3.0),
        1.284_453_915_149_663_7
    ));
    // An unvisited edge of a fresh node: no exploration term yet.
    assert!(close(c.score(0.2, 0.5, 0.0, 0.0), 0.2));
    assert_eq!(c.temperature(50.0), 1.0);
    assert!(close(c.temperature(1000.0), 1.5));
    let p = c.improved_policy(&[1, 3]);
    assert!(close(p[0], 0.25) && close(p[1], 0.75));
    // τ = 1.5: 900^(2/3) / (900^(2/3) + 100^(2/3)).
    let p = c.improved_policy(&[900, 100]);
    assert!((p[0] - 0.812_268_223_212_867).abs() < 1e-9, "{p:?}");
    assert!(close(p[0] + p[1], 1.0));
}

fn in_field(mut d: Decomposition, field: Field) -> Decomposition {
    d.field = field;
    for rows in [&mut d.u, &mut d.v, &mut d.w] {
        for x in rows.iter_mut().flatten() {
            *x = field.reduce(x).unwrap();
        }
    }
    d
}

/// The smallest subset of `terms` that sums to `residual`, by brute force.
fn smallest_subset(game: &GameConfig, terms: &[Vec<i32>], residual: &[i32]) -> Option<Vec<usize>> {
    let mut best: Option<Vec<usize>> = None;
    for mask in 0u32..1 << terms.len() {
        let mut r = residual.to_vec();
        let chosen: Vec<usize> = (0..terms.len()).filter(|i| mask >> i & 1 == 1).collect();
        for &i in &chosen {
            game.subtract(&mut r, &terms[i]);
        }
        if r.iter().all(|&x| x == 0) && best.as_ref().is_none_or(|b| chosen.len() < b.len()) {
            best = Some(chosen);
        }
    }
    best
}

/// Plays one game to its end, `simulations` per move, the most visited
/// root edge each time; returns the actions.
fn play(
    tree: &mut Tree,
    simulations: usize,
    mut policy: impl FnMut(&Node) -> (Vec<Candidate>, f64),
) -> Vec<Vec<i32>> {
    let mut actions = Vec::new();
    while !matches!(tree.root().state, NodeState::Terminal(_)) {
        tree.simulate(simulations, &mut policy);
        match tree.most_visited() {
            Some(e) => actions.push(tree.play(e)),
            None => break,
        }
    }
    actions
}

#[test]
fn scripted_strassen_in_a_changed_basis_is_found_and_verifies() {
    let mut rng = StdRng::seed_from_u64(21);
    let shape = Shape::new(2, 2, 2).unwrap();
    for field in [Field::Z, Field::Z2] {
        let game = GameConfig::new(shape, field, 1, 8);
        let basis = Basis::random(&mut rng, game.dims, field);
        let target = basis.transform_tensor(game.dims, &shape.dense_tensor());
        // The policy proposes Strassen's terms and, as distractors, the
        // standard algorithm's, all in the changed basis; its value is the
        // exact remaining rank along either plan.
        let strassen =
            decomposition_actions(&basis.forward(&in_field(Decomposition::strassen(), field)));
        let standard =
            decomposition_actions(&basis.forward(&Decomposition::standard(shape, field)));
        let mut proposals: Vec<Vec<i32>> = strassen.iter().chain(&standard).cloned().collect();
        for a in &mut proposals {
            canonicalise(field, game.dims, a);
        }
        let prior = 1.0 / proposals.len() as f32;
        let policy = |node: &Node| {
            let remaining = [&strassen, &standard]
                .iter()
                .filter_map(|terms| smallest_subset(&game, terms, &node.residual))
                .map(|s| s.len())
                .min();
            let candidates = proposals
                .iter()
                .map(|a| Candidate {
                    action: a.clone(),
                    prior,
                })
                .collect();
            (candidates, remaining.map_or(-20.0, |r| -(r as f64)))
        };
        let mut tree = Tree::new(game.clone(), MctsConfig::default(), target);
        let actions = play(&mut tree, 60, policy);
        assert_eq!(
            tree.root().state,
            NodeState::Terminal(0.0),
            "{field}: solved"
        );
        assert_eq!(actions.len(), 7, "{field}: Strassen's rank");
        let d = standard_basis_decomposition(&game, Some(&basis), &actions).unwrap();
        assert_eq!(d.rank(), 7);
        // The same factors mapped back through another basis are caught.
        let other = Basis::random(&mut rng, game.dims, field);
        assert!(standard_basis_decomposition(&game, Some(&other), &actions).is_err());
    }
}

/// Every nonzero action of the game over its coefficient set, canonical.
fn all_actions(game: &GameConfig) -> Vec<Vec<i32>> {
    let set = tensorsearch::game::action::coefficient_set(game.field);
    let len = game.action_len();
    let mut out: Vec<Vec<i32>> = Vec::new();
    let mut digits = vec![0usize; len];
    loop {
        let mut a: Vec<i32> = digits.iter().map(|&d| set[d]).collect();
        if !is_null(game.dims, &a) {
            canonicalise(game.field, game.dims, &mut a);
            if !out.contains(&a) {
                out.push(a);
            }
        }
        let mut i = 0;
        loop {
            if i == len {
                return out;
            }
            digits[i] += 1;
            if digits[i] < set.len() {
                break;
            }
            digits[i] = 0;
            i += 1;
        }
    }
}

#[test]
fn a_uniform_policy_with_zero_value_solves_rank_one_and_two_targets() {
    let mut rng = StdRng::seed_from_u64(5);
    for (shape, field) in [((1, 2, 2), Field::Z2), ((1, 1, 2), Field::Z)] {
        let shape = Shape::new(shape.0, shape.1, shape.2).unwrap();
        for rank in [1, 2] {
            let game = GameConfig::new(shape, field, 1, rank);
            let every = all_actions(&game);
            let prior = 1.0 / every.len() as f32;
            let uniform = |_: &Node| {
                let c = every
                    .iter()
                    .map(|a| Candidate {
                        action: a.clone(),
                        prior,
                    })
                    .collect();
                (c, 0.0)
            };
            for _ in 0..3 {
                let demo = random_demonstration(&mut rng, &game, rank, 0.3);
                if demo.tensor.iter().all(|&x| x == 0) {
                    continue;
                }
                let mut tree = Tree::new(game.clone(), MctsConfig::default(), demo.tensor.clone());
                let sims = 4 * every.len().pow(rank as u32);
                let actions = play(&mut tree, sims, uniform);
                let mut r = demo.tensor.clone();
                for a in &actions {
                    game.subtract(&mut r, a);
                }
                assert!(
                    r.iter().all(|&x| x == 0) && actions.len() <= rank,
                    "{shape} {field} rank {rank}: {actions:?} leave {r:?}"
                );
            }
        }
    }
}

#[test]
fn random_complete_games_map_back_and_verify() {
    let mut rng = StdRng::seed_from_u64(8);
    for (n, m, p) in [(2, 2, 2), (2, 3, 2), (3, 3, 3)] {
        let shape = Shape::new(n, m, p).unwrap();
        for field in [Field::Z, Field::Z2] {
            let game = GameConfig::new(shape, field, 1, shape.standard_rank());
            for _ in 0..10 {
                let basis = Basis::random(&mut rng, game.dims, field);
                let mut residual = basis.transform_tensor(game.dims, &shape.dense_tensor());
                // The standard algorithm in the game's basis, in a random order,
                // each term's signs flipped at random: a complete game.
                let mut terms =
                    decomposition_actions(&basis.forward(&Decomposition::standard(shape, field)));
                for i in (1..terms.len()).rev() {
                    terms.swap(i, rng.random_range(0..=i));
                }
                for t in &mut terms {
                    if field == Field::Z && rng.random_bool(0.5) {
                        let la = game.dims[0];
                        let lb = game.dims[1];
                        t[..la + lb].iter_mut().for_each(|x| *x = -*x);
                    }
                    game.subtract(&mut residual, t);
                }
                assert!(residual.iter().all(|&x| x == 0));
                let d = standard_basis_decomposition(&game, Some(&basis), &terms).unwrap();
                assert_eq!(d.rank(), shape.standard_rank());
                // A corrupted mapping: one coefficient of one term changed.
                let mut bad = terms.clone();
                let i = rng.random_range(0..bad.len());
                let j = rng.random_range(0..bad[i].len());
                bad[i][j] += 1;
                assert!(
                    standard_basis_decomposition(&game, Some(&basis), &bad).is_err(),
                    "{shape} {field}: a changed coefficient must fail"
                );
            }
        }
    }
}

#[test]
fn root_noise_mixes_into_the_root_priors_only() {
    let shape = Shape::new(1, 2, 2).unwrap();
    let game = GameConfig::new(shape, Field::Z2, 1, 4);
    let mut tree = Tree::new(game.clone(), MctsConfig::default(), shape.dense_tensor());
    let actions = all_actions(&game);
    let policy = |_: &Node| {
        let c = actions[..4]
            .iter()
            .map(|a| Candidate {
                action: a.clone(),
                prior: 0.25,
            })
            .collect();
        (c, 0.0)
    };
    tree.simulate(3, policy);
    let child = tree.root().edges[0].child;
    tree.add_root_noise(&[1.0, 0.0, 0.0, 0.0], 0.4);
    let priors: Vec<f32> = tree.root().edges.iter().map(|e| e.prior).collect();
    // (1 − 0.4)·0.25 + 0.4·η
    assert!((priors[0] - 0.55).abs() < 1e-6, "{priors:?}");
    for p in &priors[1..] {
        assert!((p - 0.15).abs() < 1e-6, "{priors:?}");
    }
    assert!((priors.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    if let Some(c) = child {
        assert!(tree.nodes[c].edges.iter().all(|e| e.prior == 0.25));
    }
}

#[test]
fn a_widened_root_edge_carries_its_scored_value_and_wins_selection_when_it_is_best() {
    let shape = Shape::new(1, 2, 2).unwrap();
    let game = GameConfig::new(shape, Field::Z2, 1, 4);
    let mut tree = Tree::new(game.clone(), MctsConfig::default(), shape.dense_tensor());
    let actions = all_actions(&game);
    // A policy that proposes two actions and values every state at −3.
    let policy = |_: &Node| {
        let c = actions[..2]
            .iter()
            .map(|a| Candidate {
                action: a.clone(),
                prior: 0.5,
            })
            .collect();
        (c, -3.0)
    };
    tree.simulate(4, policy);
    let visits_before = tree.root().visits();
    // A third action whose state the network values at −0.5.
    tree.widen_root(vec![(actions[2].clone(), -0.5)], 0.25);
    let root = tree.root();
    assert_eq!(root.edges.len(), 3);
    assert!((root.edges[0].prior - 0.375).abs() < 1e-6);
    assert!((root.edges[2].prior - 0.25).abs() < 1e-6);
    assert_eq!(root.edges[2].visits, 1);
    assert!((root.edges[2].q().unwrap() - -1.5).abs() < 1e-9);
    assert_eq!(root.visits(), visits_before + 1);
    // The next simulation goes through the widened edge: its Q is the best.
    tree.simulate(1, policy);
    assert_eq!(tree.root().edges[2].visits, 2);
}
