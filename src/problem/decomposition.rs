//! A decomposition of T: R rank-one terms u_r ⊗ v_r ⊗ w_r.

use super::field::{format_coeff, Coeff, Field};
use super::shape::Shape;

/// R triples (u_r, v_r, w_r); row r of `u`, `v`, `w` is term r.
/// Invariant (checked by [`Decomposition::new`]): every u row has nm
/// entries, every v row mp, every w row np, and every coefficient belongs
/// to `field` (integers for Z and Z2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decomposition {
    pub shape: Shape,
    pub field: Field,
    pub u: Vec<Vec<Coeff>>,
    pub v: Vec<Vec<Coeff>>,
    pub w: Vec<Vec<Coeff>>,
}

/// Names one factor of a term in messages: `u`, `v` or `w`.
pub const FACTOR_NAMES: [&str; 3] = ["u", "v", "w"];

impl Decomposition {
    pub fn new(
        shape: Shape,
        field: Field,
        u: Vec<Vec<Coeff>>,
        v: Vec<Vec<Coeff>>,
        w: Vec<Vec<Coeff>>,
    ) -> Result<Self, String> {
        let d = Decomposition {
            shape,
            field,
            u,
            v,
            w,
        };
        d.check()?;
        Ok(d)
    }

    /// Builds from integer rows (tests, built-in algorithms, search results).
    pub fn from_integers(
        shape: Shape,
        field: Field,
        u: &[Vec<i64>],
        v: &[Vec<i64>],
        w: &[Vec<i64>],
    ) -> Result<Self, String> {
        let conv = |rows: &[Vec<i64>]| -> Vec<Vec<Coeff>> {
            rows.iter()
                .map(|r| r.iter().map(|&x| Coeff::from_integer(x as i128)).collect())
                .collect()
        };
        Self::new(shape, field, conv(u), conv(v), conv(w))
    }

    pub fn rank(&self) -> usize {
        self.u.len()
    }

    pub fn factors(&self) -> [&Vec<Vec<Coeff>>; 3] {
        [&self.u, &self.v, &self.w]
    }

    /// Every coefficient is an integer.
    pub fn is_integral(&self) -> bool {
        self.factors()
            .iter()
            .all(|f| f.iter().flatten().all(|x| x.is_integer()))
    }

    fn check(&self) -> Result<(), String> {
        let rank = self.u.len();
        if self.v.len() != rank || self.w.len() != rank {
            return Err(format!(
                "u, v and w must have the same number of rows, found {}, {} and {}",
                self.u.len(),
                self.v.len(),
                self.w.len()
            ));
        }
        let lens = self.shape.factor_lens();
        for (f, rows) in self.factors().iter().enumerate() {
            let name = FACTOR_NAMES[f];
            for (r, row) in rows.iter().enumerate() {
                if row.len() != lens[f] {
                    return Err(format!(
                        "{name}[{r}] has {} entries, shape {} needs {}",
                        row.len(),
                        self.shape,
                        lens[f]
                    ));
                }
                if let Some((i, x)) = row
                    .iter()
                    .enumerate()
                    .find(|(_, x)| self.field.reduce(x).is_none())
                {
                    return Err(format!(
                        "{name}[{r}][{i}] = {} is not an integer, field {} needs integer coefficients",
                        format_coeff(x),
                        self.field
                    ));
                }
            }
        }
        Ok(())
    }

    /// The schoolbook algorithm: one term per product A[i][j]·B[j][k].
    pub fn standard(shape: Shape, field: Field) -> Self {
        let [la, lb, lc] = shape.factor_lens();
        let unit = |len: usize, at: usize| {
            let mut row = vec![Coeff::from_integer(0); len];
            row[at] = Coeff::from_integer(1);
            row
        };
        let (mut u, mut v, mut w) = (vec![], vec![], vec![]);
        for e in shape.tensor_entries() {
            u.push(unit(la, e.a));
            v.push(unit(lb, e.b));
            w.push(unit(lc, e.c));
        }
        Decomposition {
            shape,
            field,
            u,
            v,
            w,
        }
    }

    /// Strassen's 1969 algorithm for ⟨2,2,2⟩ with 7 products.
    pub fn strassen() -> Self {
        // m1 = (a00+a11)(b00+b11), m2 = (a10+a11)b00, m3 = a00(b01-b11),
        // m4 = a11(b10-b00), m5 = (a00+a01)b11, m6 = (a10-a00)(b00+b01),
        // m7 = (a01-a11)(b10+b11); c00 = m1+m4-m5+m7, c01 = m3+m5,
        // c10 = m2+m4, c11 = m1-m2+m3+m6.
        let u = [
            [1, 0, 0, 1],
            [0, 0, 1, 1],
            [1, 0, 0, 0],
            [0, 0, 0, 1],
            [1, 1, 0, 0],
            [-1, 0, 1, 0],
            [0, 1, 0, -1],
        ];
        let v = [
            [1, 0, 0, 1],
            [1, 0, 0, 0],
            [0, 1, 0, -1],
            [-1, 0, 1, 0],
            [0, 0, 0, 1],
            [1, 1, 0, 0],
            [0, 0, 1, 1],
        ];
        let w = [
            [1, 0, 0, 1],
            [0, 0, 1, -1],
            [0, 1, 0, 1],
            [1, 0, 1, 0],
            [-1, 1, 0, 0],
            [0, 0, 0, 1],
            [1, 0, 0, 0],
        ];
        let rows = |m: &[[i64; 4]]| m.iter().map(|r| r.to_vec()).collect::<Vec<_>>();
        let shape = Shape { n: 2, m: 2, p: 2 };
        Self::from_integers(shape, Field::Z, &rows(&u), &rows(&v), &rows(&w))
            .expect("Strassen's factors have the right lengths")
    }
}
