//! Actors on further threads play exactly the games the same actors play
//! on the run's thread, with the learner's newest parameters, and give
//! them back in a fixed order.

mod common;

use common::selfplay::{network, small_config};
use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::engine::*;
use tensorsearch::model::Network;
use tensorsearch::problem::Field;
use tensorsearch::search::actor_pool::{split, ActorPool};
use tensorsearch::search::selfplay::{LeafUpdates, SelfPlay, SelfPlayConfig, SelfPlayCounters};
use tensorsearch::search::FinishedGame;

fn tiny(b: &mut CpuBackend, field: Field) -> Network<CpuBackend> {
    network(b, "tiny", field, 2)
}

fn config(games: usize) -> SelfPlayConfig {
    small_config(games, 0.5, LeafUpdates::Host)
}

/// A finished game's actions and its final value's bits.
type Played = (Vec<Vec<i32>>, u64);

fn played(games: &[FinishedGame]) -> Vec<Played> {
    games
        .iter()
        .map(|f| (f.actions.clone(), f.final_value.to_bits()))
        .collect()
}

/// Parameters other than `p`, as a learner step would leave them.
fn moved(p: &[f32]) -> Vec<f32> {
    p.iter()
        .enumerate()
        .map(|(i, x)| x * 0.9 + 0.02 * ((i % 7) as f32 - 3.0))
        .collect()
}

const ROUNDS: usize = 70;
/// The round after which the learner's parameters change.
const CHANGE: usize = 35;

/// `ROUNDS` rounds of actors on this thread, one per seed, each reading
/// a network whose parameters change after round `CHANGE` (when `change`):
/// the games each round finishes, actor after actor, and the counters.
fn on_one_thread(
    field: Field,
    seeds: &[u64],
    change: bool,
) -> (Vec<Vec<Played>>, SelfPlayCounters) {
    let b = &mut CpuBackend::new();
    let mut net = tiny(b, field);
    let first = net.parameters(b);
    let mut actors: Vec<_> = seeds
        .iter()
        .map(|&s| SelfPlay::new(b, &net, config(2), s).unwrap())
        .collect();
    let mut rounds = Vec::new();
    for r in 0..ROUNDS {
        if change && r == CHANGE {
            net.set_parameters(b, &moved(&first)).unwrap();
        }
        let mut finished = Vec::new();
        for a in &mut actors {
            finished.extend(a.round(b).unwrap());
        }
        rounds.push(played(&finished));
    }
    let mut counters = SelfPlayCounters::default();
    for a in &actors {
        counters += a.counters;
    }
    (rounds, counters)
}

#[test]
fn pool_actors_play_what_the_same_actors_play_on_one_thread() {
    for field in [Field::Z2, Field::Z] {
        let seeds = [11, 12];
        let b = &mut CpuBackend::new();
        let mut learner = tiny(b, field);
        let first = learner.parameters(b);
        let make = b.sibling().expect("the CPU backend runs actors on threads");
        let actors = seeds.iter().map(|&s| (config(2), s)).collect();
        let mut pool = ActorPool::start(make, &learner, actors).unwrap();
        assert_eq!(pool.len(), 2);
        let mut rounds = Vec::new();
        for r in 0..ROUNDS {
            if r == CHANGE {
                // A learner step: new parameters under a new step number.
                learner.set_parameters(b, &moved(&first)).unwrap();
                learner.step += 1;
            }
            pool.order(b, &learner).unwrap();
            rounds.push(played(&pool.collect().unwrap()));
        }
        let (expected, counters) = on_one_thread(field, &seeds, true);
        let games: usize = rounds.iter().map(Vec::len).sum();
        assert!(games > 4, "{field}: only {games} games finished");
        assert_eq!(rounds, expected, "{field}: the games, round by round");
        assert_eq!(pool.counters(), counters, "{field}: counters");
        // The parameters did reach the pool: without the change the games
        // after it differ.
        let (stale, _) = on_one_thread(field, &seeds, false);
        assert_eq!(rounds[..CHANGE], stale[..CHANGE], "{field}");
        assert_ne!(rounds[CHANGE..], stale[CHANGE..], "{field}");
    }
}

#[test]
fn an_actor_that_cannot_be_built_stops_the_pool_with_its_error() {
    let b = &mut CpuBackend::new();
    let learner = tiny(b, Field::Z2);
    let make = b.sibling().unwrap();
    let bad = SelfPlayConfig {
        simulations: 0,
        ..config(2)
    };
    let err = ActorPool::start(make, &learner, vec![(config(2), 1), (bad, 2)])
        .err()
        .expect("an actor without simulations is refused");
    assert!(err.to_string().contains("at least 1"), "{err}");
}

#[test]
fn games_split_as_evenly_as_they_go_and_never_below_one_an_actor() {
    let games = |total, actors| -> Vec<usize> {
        split(&config(total), actors)
            .iter()
            .map(|c| c.games)
            .collect()
    };
    assert_eq!(games(16, 2), [8, 8]);
    assert_eq!(games(16, 3), [6, 5, 5]);
    assert_eq!(games(2, 4), [1, 1]);
    assert_eq!(games(5, 1), [5]);
    // Everything but the games is each actor's whole.
    assert!(split(&config(7), 3).iter().all(|c| c.samples == 4));
}
