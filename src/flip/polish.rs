//! The flip walks `search --polish` makes from each decomposition the
//! network finds: one walk in the game's own coefficients (Z2, or Z within
//! the game's coefficient bound), keeping the lowest-rank scheme it meets.

use super::factor::{Factor, Small, Ternary};
use super::scheme::Scheme;
use super::walker::Walker;
use crate::problem::{verify, Decomposition, Field};

/// The lowest-rank scheme a walk of `steps` steps from `start` meets, with
/// a plus transition after `plateau` steps without a new low.
pub fn lowest<F: Factor>(start: &Scheme<F>, steps: u64, plateau: u64, seed: u64) -> Scheme<F> {
    let mut w = Walker::new(start, seed);
    let mut best = w.scheme();
    let mut keep_lowest = |w: &Walker<F>| {
        if w.rank() < best.rank() {
            best = w.scheme();
        }
    };
    w.wander(steps, plateau, |w, _| {
        keep_lowest(w);
        true
    });
    keep_lowest(&w);
    best
}

/// Walks `d` with coefficients kept within `bound` in size (Z2 ignores
/// it); the scheme reached when its rank is lower than `d`'s, verified
/// exactly over `d`'s field. None when the walk found nothing lower, or
/// `d` is outside what the engine holds (a fraction, a coefficient above
/// 7, a factor of more than 64 coefficients).
pub fn polish(d: &Decomposition, bound: i64, steps: u64, seed: u64) -> Option<Decomposition> {
    let plateau = (steps / 10).max(100);
    let found = match d.field {
        Field::Z2 => walk::<u64>(d, steps, plateau, seed),
        Field::Z if bound <= Ternary::BOUND => walk::<Ternary>(d, steps, plateau, seed),
        Field::Z if bound <= Small::BOUND => walk::<Small>(d, steps, plateau, seed),
        _ => None,
    }?;
    (found.rank() < d.rank() && verify(&found, d.field).is_ok()).then_some(found)
}

fn walk<F: Factor>(
    d: &Decomposition,
    steps: u64,
    plateau: u64,
    seed: u64,
) -> Option<Decomposition> {
    let start = Scheme::<F>::from_decomposition(d).ok()?;
    Some(lowest(&start, steps, plateau, seed).to_decomposition())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Shape;

    #[test]
    fn polishing_the_standard_2x2x2_finds_rank_seven_in_the_games_coefficients() {
        let shape = Shape::new(2, 2, 2).unwrap();
        for field in [Field::Z2, Field::Z] {
            let d = Decomposition::standard(shape, field);
            let p = polish(&d, 1, 200_000, 1).expect("a lower rank");
            assert_eq!(p.rank(), 7, "{field}");
            assert_eq!(p.field, field);
            verify(&p, field).unwrap();
            if field == Field::Z {
                let [u, v, w] = p.factors();
                let within = |rows: &Vec<Vec<crate::problem::Coeff>>| {
                    rows.iter().flatten().all(|x| x.to_integer().abs() <= 1)
                };
                assert!(within(u) && within(v) && within(w));
            }
        }
    }

    #[test]
    fn nothing_lower_and_coefficients_beyond_the_engine_give_none() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let d = Decomposition::standard(shape, Field::Z);
        // Ten steps cannot reach rank 7; a bound of 9 is beyond Small.
        assert!(polish(&d, 1, 10, 1).is_none());
        assert!(polish(&d, 9, 200_000, 1).is_none());
    }
}
