//! The imitation diagnosis (docs/design.md §5): trained on one rank-7 game
//! of 2x2x2 alone (`--mix 0,0,1`), the tiny network plays it back greedily
//! from the standard basis within some hundreds of learner steps. A defect
//! in the targets, the order augmentation, the sign canonicalisation or
//! the history would keep it from ever doing so.

use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::game::GameConfig;
use tensorsearch::model::ModelConfig;
use tensorsearch::problem::{Decomposition, Field, Shape};
use tensorsearch::search::imitation::{steps_to_imitate, Imitation};
use tensorsearch::search::selfplay::game_actions;
use tensorsearch::train::BestGame;

fn strassen_game(game: &GameConfig) -> BestGame {
    BestGame {
        rank: 7,
        tensor: game.shape.dense_tensor(),
        actions: game_actions(&Decomposition::strassen(), game),
    }
}

#[test]
fn one_rank_seven_game_is_played_back_within_hundreds_of_steps() {
    let shape = Shape::new(2, 2, 2).unwrap();
    // Measured over seeds 0..5 (examples/imitation.rs): 270 to 430 steps
    // over Z2, 220 to 390 over Z, in random orders.
    for field in [Field::Z2, Field::Z] {
        let game = GameConfig::new(shape, field, 1, 7);
        let best = strassen_game(&game);
        let cfg = Imitation {
            model: ModelConfig::preset("tiny").unwrap(),
            batch: 64,
            lr: 3e-3,
            seed: 0,
            max_steps: 1000,
            check_every: 10,
            in_order: 0.0,
        };
        let r = steps_to_imitate(&mut CpuBackend::new(), &game, &best, &cfg).unwrap();
        let at = r.at_step.unwrap_or_else(|| {
            panic!(
                "{field}: not played back in {} steps (policy loss {})",
                cfg.max_steps, r.policy_loss
            )
        });
        assert!(at >= 10, "{field}: an untrained network cannot play it");
        // In its own order the game shows 7 positions instead of up to
        // 2^7 residuals: measured 30 to 60 steps over Z2 (seeds 0..5).
        let in_order = Imitation {
            in_order: 1.0,
            ..cfg.clone()
        };
        let r = steps_to_imitate(&mut CpuBackend::new(), &game, &best, &in_order).unwrap();
        let fast = r.at_step.expect("played back in its own order");
        assert!(
            fast < at && fast <= 150,
            "{field}: {fast} steps in order against {at} in random orders"
        );
    }
}

#[test]
fn a_game_that_is_not_solved_is_refused() {
    let shape = Shape::new(2, 2, 2).unwrap();
    let game = GameConfig::new(shape, Field::Z2, 1, 7);
    let mut best = strassen_game(&game);
    best.actions.pop();
    best.rank = 6;
    let cfg = Imitation {
        model: ModelConfig::preset("tiny").unwrap(),
        batch: 8,
        lr: 3e-3,
        seed: 0,
        max_steps: 1,
        check_every: 1,
        in_order: 0.0,
    };
    let e = steps_to_imitate(&mut CpuBackend::new(), &game, &best, &cfg).unwrap_err();
    assert!(e.to_string().contains("do not sum"), "{e}");
}
