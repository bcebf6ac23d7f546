//! Hensel lifting: from a scheme over Z2 to one over Z or Q of the same
//! rank. With the factors known mod 2^e, the residual T − Σ u⊗v⊗w is
//! divisible by 2^e, and corrections 2^e·(du, dv, dw) that make it
//! divisible by 2^(e+1) solve a linear system over GF(2) whose matrix (the
//! Jacobian of the scheme mod 2) is the same at every step: it is brought
//! to echelon form once, and each step only replays that on a new right
//! side, with the free unknowns kept at zero. After the last step each
//! coefficient, known mod M = 2^(steps+1), is turned into the fraction
//! p/q (q odd, |p| and q at most √(M/2)) that it is congruent to, and the
//! result is verified exactly before anyone sees it.

use super::scheme::Z2Scheme;
use crate::problem::{verify, Coeff, Decomposition, Field};

/// What lifting a scheme gave.
#[derive(Clone, Debug)]
pub enum Lift {
    /// Verified over its field (Z when every coefficient is an integer).
    Lifted(Decomposition),
    /// Why not.
    NoLift(String),
}

/// Rows of bits.
struct BitRows {
    rows: Vec<Vec<u64>>,
}

impl BitRows {
    fn new(rows: usize, cols: usize) -> Self {
        BitRows {
            rows: vec![vec![0; cols.div_ceil(64)]; rows],
        }
    }
    fn get(&self, r: usize, c: usize) -> bool {
        self.rows[r][c / 64] >> (c % 64) & 1 == 1
    }
    fn flip(&mut self, r: usize, c: usize) {
        self.rows[r][c / 64] ^= 1 << (c % 64);
    }
}

/// The echelon form of a GF(2) matrix and the row operations that made it,
/// to solve J·x = b for many b.
struct Echelon {
    /// Echelon rows (only the first `pivots.len()` matter).
    rows: BitRows,
    /// Pivot column of echelon row i.
    pivots: Vec<usize>,
    /// Per pivot step: the row swapped into place, then the rows the pivot
    /// row was added to.
    steps: Vec<(usize, Vec<u32>)>,
}

impl Echelon {
    fn new(mut m: BitRows, cols: usize) -> Self {
        let n = m.rows.len();
        let (mut pivots, mut steps) = (vec![], vec![]);
        let mut r = 0;
        for c in 0..cols {
            if r == n {
                break;
            }
            let Some(p) = (r..n).find(|&i| m.get(i, c)) else {
                continue;
            };
            m.rows.swap(r, p);
            let mut added = vec![];
            let (w0, pivot) = (c / 64, m.rows[r].clone());
            for i in r + 1..n {
                if m.get(i, c) {
                    for (x, y) in m.rows[i][w0..].iter_mut().zip(&pivot[w0..]) {
                        *x ^= y;
                    }
                    added.push(i as u32);
                }
            }
            steps.push((p, added));
            pivots.push(c);
            r += 1;
        }
        Echelon {
            rows: m,
            pivots,
            steps,
        }
    }

    /// A solution of J·x = b with the free unknowns zero, or None when the
    /// system has none.
    fn solve(&self, mut b: Vec<bool>, cols: usize) -> Option<Vec<bool>> {
        for (r, (p, added)) in self.steps.iter().enumerate() {
            b.swap(r, *p);
            if b[r] {
                for &i in added {
                    b[i as usize] ^= true;
                }
            }
        }
        if b[self.pivots.len()..].iter().any(|&x| x) {
            return None;
        }
        let mut x = vec![false; cols];
        for (r, &c) in self.pivots.iter().enumerate().rev() {
            let row = &self.rows.rows[r];
            let mut v = b[r];
            for &c2 in &self.pivots[r + 1..] {
                if x[c2] && row[c2 / 64] >> (c2 % 64) & 1 == 1 {
                    v ^= true;
                }
            }
            x[c] = v;
        }
        Some(x)
    }
}

/// The fraction p/q with q odd, |p| ≤ bound, 0 < q ≤ bound and p ≡ c·q
/// (mod m), by the extended Euclidean algorithm; None when there is none.
pub fn rational_reconstruction(c: i128, m: i128, bound: i128) -> Option<Coeff> {
    let (mut r0, mut r1) = (m, c.rem_euclid(m));
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 > bound {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    let (p, q) = if t1 < 0 { (-r1, -t1) } else { (r1, t1) };
    if q == 0 || q > bound || q % 2 == 0 || (p - c * q).rem_euclid(m) != 0 {
        return None;
    }
    Some(Coeff::new(p, q))
}

/// Lifts `s` through `steps` Hensel steps (to mod 2^(steps+1)), then
/// reconstructs and verifies.
pub fn lift(s: &Z2Scheme, steps: u32) -> Lift {
    let shape = s.shape;
    let lens = shape.factor_lens();
    let rank = s.rank();
    let [la, lb, lc] = lens;
    let offsets = [0, rank * la, rank * (la + lb)];
    let unknowns = rank * (la + lb + lc);
    let var = |role: usize, r: usize, i: usize| offsets[role] + r * lens[role] + i;
    // Factors mod 2^64 (wrapping arithmetic is exact mod every 2^k ≤ 2^64).
    let mut f: Vec<[Vec<u64>; 3]> = s
        .terms
        .iter()
        .map(|t| [0, 1, 2].map(|role| (0..lens[role]).map(|i| t[role] >> i & 1).collect()))
        .collect();
    let bit = |r: usize, role: usize, i: usize| s.terms[r][role] >> i & 1 == 1;
    let tensor = shape.dense_tensor();
    let mut jac = BitRows::new(tensor.len(), unknowns);
    for a in 0..la {
        for b in 0..lb {
            for c in 0..lc {
                let row = (a * lb + b) * lc + c;
                for r in 0..rank {
                    let (u, v, w) = (bit(r, 0, a), bit(r, 1, b), bit(r, 2, c));
                    if v && w {
                        jac.flip(row, var(0, r, a));
                    }
                    if u && w {
                        jac.flip(row, var(1, r, b));
                    }
                    if u && v {
                        jac.flip(row, var(2, r, c));
                    }
                }
            }
        }
    }
    let echelon = Echelon::new(jac, unknowns);
    for e in 1..=steps {
        // The residual, exact mod 2^64.
        let mut residual: Vec<u64> = tensor.iter().map(|&t| t as u64).collect();
        for t in &f {
            for a in 0..la {
                if t[0][a] == 0 {
                    continue;
                }
                for b in 0..lb {
                    let ab = t[0][a].wrapping_mul(t[1][b]);
                    if ab == 0 {
                        continue;
                    }
                    let row = &mut residual[(a * lb + b) * lc..][..lc];
                    for (x, &wc) in row.iter_mut().zip(&t[2]) {
                        *x = x.wrapping_sub(ab.wrapping_mul(wc));
                    }
                }
            }
        }
        if residual.iter().any(|&x| x & ((1u64 << e) - 1) != 0) {
            return Lift::NoLift(format!("the residual is not divisible by 2^{e}"));
        }
        let rhs: Vec<bool> = residual.iter().map(|&x| x >> e & 1 == 1).collect();
        let Some(x) = echelon.solve(rhs, unknowns) else {
            return Lift::NoLift(format!(
                "the correction mod 2^{} has no solution (the scheme does not lift 2-adically)",
                e + 1
            ));
        };
        for (r, t) in f.iter_mut().enumerate() {
            for (role, factor) in t.iter_mut().enumerate() {
                for (i, v) in factor.iter_mut().enumerate() {
                    if x[var(role, r, i)] {
                        *v = v.wrapping_add(1 << e);
                    }
                }
            }
        }
    }
    let modulus = 1i128 << (steps + 1);
    let bound = ((modulus / 2) as f64).sqrt() as i128;
    let mut rows: [Vec<Vec<Coeff>>; 3] = Default::default();
    for (r, t) in f.iter().enumerate() {
        for role in 0..3 {
            let mut row = Vec::with_capacity(lens[role]);
            for (i, &v) in t[role].iter().enumerate() {
                let c = (v as i128).rem_euclid(modulus);
                match rational_reconstruction(c, modulus, bound) {
                    Some(q) => row.push(q),
                    None => {
                        return Lift::NoLift(format!(
                            "coefficient {i} of factor {role} of term {r} ({c} mod 2^{}) is no fraction with terms up to {bound}",
                            steps + 1
                        ))
                    }
                }
            }
            rows[role].push(row);
        }
    }
    let [u, v, w] = rows;
    let integral = [&u, &v, &w]
        .iter()
        .all(|m| m.iter().flatten().all(|c| c.is_integer()));
    let field = if integral { Field::Z } else { Field::Q };
    let d = match Decomposition::new(shape, field, u, v, w) {
        Ok(d) => d,
        Err(e) => return Lift::NoLift(format!("internal error: {e}")),
    };
    match verify(&d, field) {
        Ok(()) => Lift::Lifted(d),
        Err(e) => Lift::NoLift(format!(
            "the reconstructed scheme does not hold over {}: {e}",
            field.name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flip::walker::Walker;
    use crate::problem::Shape;

    #[test]
    fn reconstruction_finds_small_fractions_and_refuses_the_rest() {
        let m = 1i128 << 21;
        let inv3 = (1..m).find(|x| (3 * x) % m == 1).unwrap();
        assert_eq!(
            rational_reconstruction(m - 1, m, 1024),
            Some(Coeff::from(-1))
        );
        assert_eq!(rational_reconstruction(5, m, 1024), Some(Coeff::from(5)));
        assert_eq!(
            rational_reconstruction((2 * inv3) % m, m, 1024),
            Some(Coeff::new(2, 3))
        );
        // A number of size about √m on both sides has no small fraction.
        assert_eq!(rational_reconstruction(m / 3 + 12345, m, 64), None);
    }

    #[test]
    fn a_scheme_whose_correction_has_no_solution_is_reported_not_lifted() {
        // A rank-23 3x3x3 scheme a flip run found; it holds over Z2, but its
        // correction mod 4 is outside the Jacobian's column space.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/z2-3x3x3-rank23-no-lift.json"
        );
        let d = &crate::problem::json::read_file(std::path::Path::new(path)).unwrap()[0];
        assert!(verify(d, Field::Z2).is_ok());
        match lift(&Z2Scheme::from_decomposition(d).unwrap(), 20) {
            Lift::NoLift(why) => assert!(why.contains("mod 2^2 has no solution"), "{why}"),
            Lift::Lifted(_) => panic!("the scheme lifted"),
        }
    }

    #[test]
    fn a_rank_seven_z2_scheme_lifts_to_one_that_verifies() {
        let shape = Shape::new(2, 2, 2).unwrap();
        for seed in 0..4 {
            let mut w = Walker::new(&Z2Scheme::standard(shape).unwrap(), seed);
            while w.rank() > 7 {
                w.flip();
            }
            match lift(&w.scheme(), 20) {
                Lift::Lifted(d) => {
                    assert_eq!(d.rank(), 7);
                    assert!(verify(&d, d.field).is_ok());
                    assert_ne!(d.field, Field::Z2);
                }
                Lift::NoLift(why) => panic!("seed {seed}: {why}"),
            }
        }
    }
}
