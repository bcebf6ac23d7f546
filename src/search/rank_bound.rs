//! γ(S), the penalty at the step limit (docs/design.md §2): an upper bound on the
//! rank of the residual, the smallest over the three modes of the summed
//! ranks of its slices (rank over Q, or over GF(2) for the Z2 game).

use crate::problem::Field;

/// Rank of a rows × cols integer matrix over Q (fraction-free elimination,
/// exact in i128 for the small entries of game residuals) or over GF(2).
pub fn matrix_rank(field: Field, rows: usize, cols: usize, entries: &[i64]) -> usize {
    let mut m: Vec<i128> = entries.iter().map(|&x| x as i128).collect();
    if field == Field::Z2 {
        m.iter_mut().for_each(|x| *x = x.rem_euclid(2));
    }
    let mut rank = 0;
    for col in 0..cols {
        let Some(pivot) = (rank..rows).find(|&r| m[r * cols + col] != 0) else {
            continue;
        };
        for c in 0..cols {
            m.swap(rank * cols + c, pivot * cols + c);
        }
        let p = m[rank * cols + col];
        for r in rank + 1..rows {
            let f = m[r * cols + col];
            if f == 0 {
                continue;
            }
            for c in 0..cols {
                let x = m[r * cols + c] * p - m[rank * cols + c] * f;
                m[r * cols + c] = if field == Field::Z2 {
                    x.rem_euclid(2)
                } else {
                    x
                };
            }
            if field != Field::Z2 {
                // Keep entries small: divide the row by its content.
                let g = (0..cols).fold(0i128, |g, c| num_integer::gcd(g, m[r * cols + c]));
                if g > 1 {
                    (0..cols).for_each(|c| m[r * cols + c] /= g);
                }
            }
        }
        rank += 1;
    }
    rank
}

/// The smallest, over the three modes, of Σ over slices of the slice rank.
pub fn rank_upper_bound(field: Field, dims: [usize; 3], residual: &[i32]) -> usize {
    let [la, lb, lc] = dims;
    let at = |i: usize, j: usize, k: usize| residual[(i * lb + j) * lc + k] as i64;
    let mode = |n: usize, rows: usize, cols: usize, get: &dyn Fn(usize, usize, usize) -> i64| {
        (0..n)
            .map(|s| {
                let slice: Vec<i64> = (0..rows)
                    .flat_map(|r| (0..cols).map(move |c| (r, c)))
                    .map(|(r, c)| get(s, r, c))
                    .collect();
                matrix_rank(field, rows, cols, &slice)
            })
            .sum::<usize>()
    };
    let by_i = mode(la, lb, lc, &|i, j, k| at(i, j, k));
    let by_j = mode(lb, la, lc, &|j, i, k| at(i, j, k));
    let by_k = mode(lc, la, lb, &|k, i, j| at(i, j, k));
    by_i.min(by_j).min(by_k)
}

/// The largest, over the three modes, of the rank of the flattening: a
/// lower bound on the rank.
pub fn rank_lower_bound(field: Field, dims: [usize; 3], residual: &[i32]) -> usize {
    let [la, lb, lc] = dims;
    let at = |i: usize, j: usize, k: usize| residual[(i * lb + j) * lc + k] as i64;
    let flattening = |rows: usize, get: &dyn Fn(usize, usize) -> i64, cols: usize| {
        let m: Vec<i64> = (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .map(|(r, c)| get(r, c))
            .collect();
        matrix_rank(field, rows, cols, &m)
    };
    let by_i = flattening(la, &|i, c| at(i, c / lc, c % lc), lb * lc);
    let by_j = flattening(lb, &|j, c| at(c / lc, j, c % lc), la * lc);
    let by_k = flattening(lc, &|k, c| at(c / lb, c % lb, k), la * lb);
    by_i.max(by_j).max(by_k)
}

/// What a game that stops unsolved at the step limit is charged: an
/// upper bound on the residual's rank (the slices', AlphaTensor's γ) or a
/// lower one (the flattenings'). The upper bound rises after a term of a
/// better-than-standard scheme (after Strassen's first term of 2x2x2 it
/// is 10, against 7 after a schoolbook term), so it teaches the network to
/// avoid exactly the moves that lead below the standard rank; the lower
/// bound is optimistic (4 after either).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Penalty {
    #[default]
    Upper,
    Lower,
}

impl Penalty {
    pub fn charge(self, field: Field, dims: [usize; 3], residual: &[i32]) -> usize {
        match self {
            Penalty::Upper => rank_upper_bound(field, dims, residual),
            Penalty::Lower => rank_lower_bound(field, dims, residual),
        }
    }
}

impl std::str::FromStr for Penalty {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "upper" => Ok(Penalty::Upper),
            "lower" => Ok(Penalty::Lower),
            other => Err(format!("'{other}': the penalty is upper or lower")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Shape;

    #[test]
    fn matrix_ranks_over_q_and_gf2() {
        // [[1,1],[1,-1]] has rank 2 over Q, rank 1 over GF(2).
        assert_eq!(matrix_rank(Field::Z, 2, 2, &[1, 1, 1, -1]), 2);
        assert_eq!(matrix_rank(Field::Z2, 2, 2, &[1, 1, 1, -1]), 1);
        assert_eq!(matrix_rank(Field::Z, 3, 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9]), 2);
        assert_eq!(matrix_rank(Field::Z, 2, 3, &[0, 0, 0, 0, 0, 0]), 0);
        assert_eq!(matrix_rank(Field::Z, 3, 2, &[2, 4, 1, 2, 3, 6]), 1);
    }

    #[test]
    fn bound_of_the_matrix_multiplication_tensor_is_the_standard_rank() {
        for (n, m, p) in [(2, 2, 2), (2, 3, 4), (3, 3, 3)] {
            let shape = Shape::new(n, m, p).unwrap();
            let t = shape.dense_tensor();
            for field in [Field::Z, Field::Z2] {
                assert_eq!(
                    rank_upper_bound(field, shape.factor_lens(), &t),
                    n * m * p,
                    "{shape} {field}"
                );
            }
        }
        // A rank-one tensor and zero.
        let dims = [2, 2, 2];
        let mut one = vec![0; 8];
        for i in 0..2 {
            for k in 0..2 {
                one[(i * 2 + 1) * 2 + k] = 3 * (i as i32 + 1) * (k as i32 - 2);
            }
        }
        assert_eq!(rank_upper_bound(Field::Z, dims, &one), 1);
        assert_eq!(rank_upper_bound(Field::Z, dims, &[0; 8]), 0);
        assert_eq!(rank_lower_bound(Field::Z, dims, &one), 1);
        assert_eq!(rank_lower_bound(Field::Z, dims, &[0; 8]), 0);
    }

    #[test]
    fn strassen_first_term_raises_the_upper_bound_not_the_lower() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let dims = shape.factor_lens();
        let t = shape.dense_tensor();
        let game = crate::game::GameConfig::new(shape, Field::Z, 1, 8);
        // (a00 + a11)(b00 + b11)(c00 + c11), and the schoolbook a00·b00·c00.
        let strassen = [1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1];
        let schoolbook = [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0];
        let after = |term: &[i32]| {
            let mut r = t.clone();
            game.subtract(&mut r, term);
            r
        };
        let (s, b) = (after(&strassen), after(&schoolbook));
        assert_eq!(rank_upper_bound(Field::Z, dims, &s), 10);
        assert_eq!(rank_upper_bound(Field::Z, dims, &b), 7);
        assert_eq!(rank_lower_bound(Field::Z, dims, &s), 4);
        assert_eq!(rank_lower_bound(Field::Z, dims, &b), 4);
        assert_eq!(rank_lower_bound(Field::Z, dims, &t), 4);
    }
}
