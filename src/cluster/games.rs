//! Finished self-play games on the wire, from actors to the learner: one
//! JSON record each, with the found scheme (if any) as [`wire`] text.
//! A record read back is believed only after its sizes, coefficients and
//! values fit the learner's game, its actions sum to its target exactly
//! when it says it is solved (and not otherwise), and its scheme
//! verifies.

use super::wire;
use crate::game::record::{FinishedGame, Move};
use crate::game::GameConfig;
use crate::problem::Field;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// The largest entry in a residual or a target a record may hold.
const MAX_ENTRY: i32 = 1 << 16;

#[derive(Serialize, Deserialize)]
struct Record {
    tensor: Vec<i32>,
    moves: Vec<Move>,
    actions: Vec<Vec<i32>>,
    final_value: f64,
    found: Option<String>,
}

pub fn encode(g: &FinishedGame) -> String {
    let record = Record {
        tensor: g.tensor.clone(),
        moves: g.moves.clone(),
        actions: g.actions.clone(),
        final_value: g.final_value,
        found: g.found.as_ref().map(wire::encode),
    };
    serde_json::to_string(&record).expect("plain data serialises")
}

/// The game in `text`, checked against `game` (see the module's notes).
pub fn decode(text: &str, game: &GameConfig) -> Result<FinishedGame> {
    if text.len() > wire::MAX_ENTRY {
        bail!("a record of {} bytes", text.len());
    }
    let r: Record =
        serde_json::from_str(text).map_err(|e| anyhow::anyhow!("not a game record: {e}"))?;
    let [la, lb, lc] = game.dims;
    let size = la * lb * lc;
    let action_len = la + lb + lc;
    let set = crate::game::action::coefficient_set(game.field);
    let small = |xs: &[i32]| xs.iter().all(|x| x.abs() <= MAX_ENTRY);
    let action_ok = |a: &Vec<i32>| a.len() == action_len && a.iter().all(|x| set.contains(x));
    if r.tensor.len() != size || !small(&r.tensor) {
        bail!("a target of {} entries, not {size}", r.tensor.len());
    }
    if r.actions.len() > game.max_steps || r.moves.len() != r.actions.len() {
        bail!(
            "{} moves and {} actions (step limit {})",
            r.moves.len(),
            r.actions.len(),
            game.max_steps
        );
    }
    if !r.actions.iter().all(action_ok) {
        bail!("an action outside the game's coefficients or length");
    }
    for m in &r.moves {
        let policy_ok = m
            .policy
            .iter()
            .all(|(a, p)| action_ok(a) && p.is_finite() && (0.0..=1.0).contains(p));
        if m.residual.len() != size
            || !small(&m.residual)
            || m.step > game.max_steps
            || m.history.len() > game.history
            || !m.history.iter().all(action_ok)
            || !policy_ok
        {
            bail!("a move that does not fit the game");
        }
    }
    if !r.final_value.is_finite() || r.final_value > 0.0 || r.final_value < -1e6 {
        bail!("a final value of {}", r.final_value);
    }
    // The actions must leave nothing of the target exactly when solved.
    let mut residual: Vec<i64> = r.tensor.iter().map(|&x| x as i64).collect();
    for a in &r.actions {
        let (u, rest) = a.split_at(la);
        let (v, w) = rest.split_at(lb);
        for (i, &x) in u.iter().enumerate().filter(|(_, x)| **x != 0) {
            for (j, &y) in v.iter().enumerate().filter(|(_, y)| **y != 0) {
                for (k, &z) in w.iter().enumerate() {
                    residual[(i * lb + j) * lc + k] -= (x * y * z) as i64;
                }
            }
        }
    }
    let solved = residual.iter().all(|&x| match game.field {
        Field::Z2 => x.rem_euclid(2) == 0,
        _ => x == 0,
    });
    let found = match (&r.found, solved) {
        (Some(text), true) => Some(wire::decode(text, game.shape, game.field)?),
        (None, false) => None,
        (Some(_), false) => bail!("a scheme with actions that do not solve the game"),
        (None, true) => bail!("a solved game without its scheme"),
    };
    if found.as_ref().is_some_and(|d| d.rank() != r.actions.len()) {
        bail!("a scheme whose rank is not the game's length");
    }
    Ok(FinishedGame {
        tensor: r.tensor,
        moves: r.moves,
        actions: r.actions,
        final_value: r.final_value,
        found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::action::decomposition_actions;
    use crate::problem::{Decomposition, Shape};

    /// Strassen played as a game in the standard basis.
    fn strassen_game() -> (GameConfig, FinishedGame) {
        let shape = Shape::new(2, 2, 2).unwrap();
        let game = GameConfig::new(shape, Field::Z, 1, 8);
        let d = Decomposition::strassen();
        let actions = decomposition_actions(&d);
        let moves = actions
            .iter()
            .enumerate()
            .map(|(t, a)| Move {
                residual: shape.dense_tensor(),
                history: vec![],
                step: t,
                policy: vec![(a.clone(), 1.0)],
            })
            .collect();
        let g = FinishedGame {
            tensor: shape.dense_tensor(),
            moves,
            actions,
            final_value: 0.0,
            found: Some(d),
        };
        (game, g)
    }

    #[test]
    fn games_come_back_whole_and_forged_ones_are_refused() {
        let (game, g) = strassen_game();
        let back = decode(&encode(&g), &game).unwrap();
        assert_eq!(
            (back.actions, back.moves),
            (g.actions.clone(), g.moves.clone())
        );
        assert_eq!(back.found.map(|d| d.rank()), Some(7));
        let refused = |g: &FinishedGame, why: &str| {
            let e = decode(&encode(g), &game).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        };
        // An action changed: the scheme no longer matches the game.
        let mut forged = g.clone();
        forged.actions[0][0] = 0;
        refused(&forged, "do not solve");
        let mut unsolved = g.clone();
        unsolved.found = None;
        refused(&unsolved, "without its scheme");
        let mut wide = g.clone();
        wide.actions[1][0] = 5;
        refused(&wide, "outside the game's coefficients");
        let mut short = g.clone();
        short.tensor.pop();
        refused(&short, "a target of 63 entries");
        let mut value = g.clone();
        value.final_value = f64::NAN;
        assert!(decode(&encode(&value), &game).is_err());
        assert!(decode("{\"tensor\":", &game).is_err());
    }
}
