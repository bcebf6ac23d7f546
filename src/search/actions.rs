//! From the policy's sampled token rows to the candidate actions of a node:
//! decoded, null actions dropped, sign-symmetric duplicates canonicalised
//! and merged, with the empirical prior π̂(s,a) = (draws of a) / K
//! (Sampled MuZero: the draws come from the policy itself).

pub use crate::game::action::{canonicalise, is_null};
use crate::game::ActionEncoding;
use crate::problem::Field;

/// One candidate action u‖v‖w and its empirical prior.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub action: Vec<i32>,
    pub prior: f32,
}

/// w completed from the residual: f = S ×₁ u ×₂ v, the third factor that
/// fits S when no other term of S overlaps (u, v). It is the exact w of
/// the last terms of a game and of sparse terms, where the policy's w is
/// the part it learns last. `None` when f is zero, outside the
/// coefficient set, or already the action's w.
pub fn complete_w(
    field: Field,
    values: &[i32],
    dims: [usize; 3],
    residual: &[i32],
    action: &[i32],
) -> Option<Vec<i32>> {
    let [la, lb, lc] = dims;
    let (u, rest) = action.split_at(la);
    let (v, w) = rest.split_at(lb);
    let mut f = vec![0i64; lc];
    for (i, &ui) in u.iter().enumerate().filter(|(_, &x)| x != 0) {
        for (j, &vj) in v.iter().enumerate().filter(|(_, &x)| x != 0) {
            let uv = (ui * vj) as i64;
            let fiber = &residual[(i * lb + j) * lc..(i * lb + j + 1) * lc];
            for (fk, &s) in f.iter_mut().zip(fiber) {
                *fk += uv * s as i64;
            }
        }
    }
    if field == Field::Z2 {
        f.iter_mut().for_each(|x| *x = x.rem_euclid(2));
    }
    let f: Vec<i32> = f
        .into_iter()
        .map(|x| i32::try_from(x).ok().filter(|x| values.contains(x)))
        .collect::<Option<_>>()?;
    if f.iter().all(|&x| x == 0) || f == w {
        return None;
    }
    let mut completed = action[..la + lb].to_vec();
    completed.extend(f);
    canonicalise(field, dims, &mut completed);
    Some(completed)
}

/// The candidates of one node from its K sampled token rows, in order of
/// first appearance. Rows that do not decode (padding digits set) and null
/// actions are dropped; each draw carries prior 1/K, so the priors sum to
/// the fraction of draws that were legal. With the node's `residual`, a
/// draw whose w can be completed from it ([`complete_w`]) shares its 1/K
/// equally between itself and the completed action.
pub fn candidates(
    encoding: &ActionEncoding,
    field: Field,
    dims: [usize; 3],
    token_rows: &[u32],
    residual: Option<&[i32]>,
) -> Vec<Candidate> {
    let t = encoding.n_tokens();
    let share = 1.0 / (token_rows.len() / t) as f32;
    let mut out: Vec<Candidate> = Vec::new();
    let mut add = |action: Vec<i32>, prior: f32| match out.iter_mut().find(|c| c.action == action) {
        Some(c) => c.prior += prior,
        None => out.push(Candidate { action, prior }),
    };
    for row in token_rows.chunks(t) {
        let Ok(mut action) = encoding.decode(row) else {
            continue;
        };
        if is_null(dims, &action) {
            continue;
        }
        canonicalise(field, dims, &mut action);
        let completed =
            residual.and_then(|r| complete_w(field, encoding.coefficients(), dims, r, &action));
        match completed {
            Some(c) => {
                add(action, share / 2.0);
                add(c, share / 2.0);
            }
            None => add(action, share),
        }
    }
    out
}

/// Exploration candidates: `n` random sparse (u, v) pairs, each with its
/// w completed from the residual (pairs whose completion is zero or
/// outside the coefficient set are dropped). The policy gives the terms of
/// a better-than-standard scheme a vanishing probability at the standard
/// target (about e⁻¹⁵ for Strassen's, against e⁻² for the schoolbook's);
/// a random (u, v) with its exact w is one of Strassen's 7 terms about
/// once in 225 draws for 2x2x2 over Z2.
pub fn exploration_actions<R: rand::Rng>(
    rng: &mut R,
    field: Field,
    values: &[i32],
    dims: [usize; 3],
    residual: &[i32],
    n: usize,
) -> Vec<Vec<i32>> {
    let [la, lb, lc] = dims;
    (0..n)
        .filter_map(|_| {
            let mut action = crate::game::demo::sparse_vector(rng, la, values, 0.5);
            action.extend(crate::game::demo::sparse_vector(rng, lb, values, 0.5));
            action.extend(std::iter::repeat_n(0, lc));
            complete_w(field, values, dims, residual, &action)
        })
        .collect()
}

/// Mixes exploration actions into a node's candidates: the policy's
/// priors keep 1 − `share`, the explored actions split `share` (an action
/// the policy proposed too gets both).
pub fn with_exploration(
    mut cands: Vec<Candidate>,
    explored: Vec<Vec<i32>>,
    share: f32,
) -> Vec<Candidate> {
    if explored.is_empty() {
        return cands;
    }
    let each = share / explored.len() as f32;
    cands.iter_mut().for_each(|c| c.prior *= 1.0 - share);
    for action in explored {
        match cands.iter_mut().find(|c| c.action == action) {
            Some(c) => c.prior += each,
            None => cands.push(Candidate {
                action,
                prior: each,
            }),
        }
    }
    cands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Shape;

    #[test]
    fn signs_are_canonical_and_keep_the_term() {
        let dims = [2, 2, 2];
        let term = |a: &[i32]| -> Vec<i32> {
            let mut t = Vec::new();
            for &u in &a[..2] {
                for &v in &a[2..4] {
                    for &w in &a[4..] {
                        t.push(u * v * w);
                    }
                }
            }
            t
        };
        let base = vec![1, -2, 0, 1, 2, -1];
        for signs in [(1, 1, 1), (-1, -1, 1), (-1, 1, -1), (1, -1, -1)] {
            let mut a = base.clone();
            a[..2].iter_mut().for_each(|x| *x *= signs.0);
            a[2..4].iter_mut().for_each(|x| *x *= signs.1);
            a[4..].iter_mut().for_each(|x| *x *= signs.2);
            let before = term(&a);
            canonicalise(Field::Z, dims, &mut a);
            assert_eq!(a, base);
            assert_eq!(term(&a), before);
        }
    }

    #[test]
    fn w_is_completed_from_the_residual() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let dims = shape.factor_lens();
        let t = shape.dense_tensor();
        // a11·b12 belongs to c12: a guess of w = c11 is completed to c12.
        let guess = vec![1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0];
        for field in [Field::Z, Field::Z2] {
            let set = crate::game::action::coefficient_set(field);
            let c = complete_w(field, set, dims, &t, &guess).unwrap();
            assert_eq!(c, vec![1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0], "{field}");
            // Already right: nothing to add.
            assert_eq!(complete_w(field, set, dims, &t, &c), None);
        }
        // (a11 + a12)·(b11 + b21) contracts T to 2·c11: outside {−1,0,1}.
        let wide = vec![1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0];
        assert_eq!(complete_w(Field::Z, &[-1, 0, 1], dims, &t, &wide), None);
        // Over Z2 the same contraction is 0 mod 2: no completion either.
        assert_eq!(complete_w(Field::Z2, &[0, 1], dims, &t, &wide), None);
        // The candidates share each draw's prior with its completion.
        let enc = ActionEncoding::default_for(shape, Field::Z);
        let rows = enc.encode(&guess).unwrap();
        let c = candidates(&enc, Field::Z, dims, &rows, Some(&t));
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].prior, c[1].prior), (0.5, 0.5));
        assert_eq!(c[1].action[8..], [0, 1, 0, 0]);
    }

    #[test]
    fn duplicates_merge_and_null_or_invalid_rows_are_dropped() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let enc = ActionEncoding::default_for(shape, Field::Z);
        let a: Vec<i32> = vec![1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1];
        let mut neg = a.clone();
        neg[..8].iter_mut().for_each(|x| *x = -*x); // (−u, −v, w)
        let mut null = a.clone();
        null[4..8].fill(0);
        let rows: Vec<u32> = [&a, &neg, &null, &a]
            .iter()
            .flat_map(|x| enc.encode(x).unwrap())
            .collect();
        let c = candidates(&enc, Field::Z, shape.factor_lens(), &rows, None);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].action, a);
        assert_eq!(c[0].prior, 0.75);
        // Over Z2 the padding of the last token must be zero.
        let enc2 = ActionEncoding::default_for(shape, Field::Z2);
        assert!(candidates(&enc2, Field::Z2, shape.factor_lens(), &[1, 1 << 4], None).is_empty());
    }

    #[test]
    fn exploration_proposes_exact_terms_strassen_among_them() {
        use rand::SeedableRng;
        let shape = Shape::new(2, 2, 2).unwrap();
        let dims = shape.factor_lens();
        let t = shape.dense_tensor();
        let values = crate::game::action::coefficient_set(Field::Z2);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let drawn = exploration_actions(&mut rng, Field::Z2, values, dims, &t, 2000);
        assert!(drawn.len() > 100, "most (u, v) pairs meet T");
        for a in &drawn {
            assert!(!is_null(dims, a));
            assert!(a.iter().all(|x| values.contains(x)));
            let w = complete_w(
                Field::Z2,
                values,
                dims,
                &t,
                &[&a[..8], &[0; 4][..]].concat(),
            );
            assert_eq!(w.as_deref(), Some(&a[..]), "w is the completion");
        }
        // (a00 + a11)(b00 + b11)(c00 + c11), Strassen's first term.
        assert!(drawn.contains(&vec![1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1]));
    }

    #[test]
    fn exploration_takes_its_share_of_the_prior() {
        let a = Candidate {
            action: vec![1; 3],
            prior: 0.5,
        };
        let b = Candidate {
            action: vec![2; 3],
            prior: 0.5,
        };
        let mixed = with_exploration(vec![a, b], vec![vec![2; 3], vec![3; 3]], 0.2);
        let priors: Vec<f32> = mixed.iter().map(|c| c.prior).collect();
        assert_eq!(priors, vec![0.4, 0.4 + 0.1, 0.1]);
        assert_eq!(mixed[2].action, vec![3; 3]);
        let kept = with_exploration(mixed.clone(), vec![], 0.2);
        assert_eq!(kept, mixed, "nothing explored: the policy keeps it all");
    }
}
