//! From the policy's sampled token rows to the candidate actions of a node:
//! decoded, null actions dropped, sign-symmetric duplicates canonicalised
//! and merged, with the empirical prior π̂(s,a) = (draws of a) / K
//! (Sampled MuZero: the draws come from the policy itself).

use crate::game::ActionEncoding;
use crate::problem::Field;

/// One candidate action u‖v‖w and its empirical prior.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub action: Vec<i32>,
    pub prior: f32,
}

/// True when u, v or w is zero: such a term is the zero tensor.
pub fn is_null(dims: [usize; 3], action: &[i32]) -> bool {
    let [la, lb, _] = dims;
    let (u, rest) = action.split_at(la);
    let (v, w) = rest.split_at(lb);
    [u, v, w].iter().any(|f| f.iter().all(|&x| x == 0))
}

/// (u,v,w), (−u,−v,w), (−u,v,−w) and (u,−v,−w) are the same term over Z:
/// the representative has the first nonzero of u and of v positive.
/// Over Z2 every action is its own representative.
pub fn canonicalise(field: Field, dims: [usize; 3], action: &mut [i32]) {
    if field == Field::Z2 {
        return;
    }
    let [la, lb, _] = dims;
    for (start, len) in [(0, la), (la, lb)] {
        let negative = action[start..start + len]
            .iter()
            .find(|&&x| x != 0)
            .is_some_and(|&x| x < 0);
        if negative {
            action[start..start + len].iter_mut().for_each(|x| *x = -*x);
            action[la + lb..].iter_mut().for_each(|x| *x = -*x);
        }
    }
}

/// The candidates of one node from its K sampled token rows, in order of
/// first appearance. Rows that do not decode (padding digits set) and null
/// actions are dropped; the priors are counts over K, so they sum to the
/// fraction of draws that were legal.
pub fn candidates(
    encoding: &ActionEncoding,
    field: Field,
    dims: [usize; 3],
    token_rows: &[u32],
) -> Vec<Candidate> {
    let t = encoding.n_tokens();
    let k = token_rows.len() / t;
    let mut out: Vec<Candidate> = Vec::new();
    for row in token_rows.chunks(t) {
        let Ok(mut action) = encoding.decode(row) else {
            continue;
        };
        if is_null(dims, &action) {
            continue;
        }
        canonicalise(field, dims, &mut action);
        match out.iter_mut().find(|c| c.action == action) {
            Some(c) => c.prior += 1.0 / k as f32,
            None => out.push(Candidate {
                action,
                prior: 1.0 / k as f32,
            }),
        }
    }
    out
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
        let c = candidates(&enc, Field::Z, shape.factor_lens(), &rows);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].action, a);
        assert_eq!(c[0].prior, 0.75);
        // Over Z2 the padding of the last token must be zero.
        let enc2 = ActionEncoding::default_for(shape, Field::Z2);
        assert!(candidates(&enc2, Field::Z2, shape.factor_lens(), &[1, 1 << 4]).is_empty());
    }
}
