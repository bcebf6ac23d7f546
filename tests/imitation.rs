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
    // over Z2, 220 to 390 over Z.
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
        };
        let r = steps_to_imitate(&mut CpuBackend::new(), &game, &best, &cfg).unwrap();
        let at = r.at_step.unwrap_or_else(|| {
            panic!(
                "{field}: not played back in {} steps (policy loss {})",
                cfg.max_steps, r.policy_loss
            )
        });
        assert!(at >= 10, "{field}: an untrained network cannot play it");
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
    };
    let e = steps_to_imitate(&mut CpuBackend::new(), &game, &best, &cfg).unwrap_err();
    assert!(e.to_string().contains("do not sum"), "{e}");
}
