//! Matrix-multiplication shapes ⟨n,m,p⟩ and the tensor T of docs/design.md §1.

use std::fmt;
use std::str::FromStr;

/// Largest dimension accepted: keeps every index product far inside `usize`
/// and every dense per-shape buffer small.
pub const MAX_DIM: usize = 64;

/// The shape ⟨n,m,p⟩: A is n×m, B is m×p, C = AB is n×p.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shape {
    pub n: usize,
    pub m: usize,
    pub p: usize,
}

/// One nonzero entry of T: `T[a][b][c] = 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TensorEntry {
    pub a: usize,
    pub b: usize,
    pub c: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShapeError {
    #[error("malformed shape '{0}': expected three dimensions like 2x2x2 or 2,2,2")]
    Malformed(String),
    #[error("malformed shape '{0}': '{1}' is not a positive integer")]
    NotANumber(String, String),
    #[error("malformed shape '{0}': dimensions must be at least 1")]
    Zero(String),
    #[error("shape '{0}' is too large: dimensions above {MAX_DIM} are not supported")]
    TooLarge(String),
}

impl Shape {
    pub fn new(n: usize, m: usize, p: usize) -> Result<Self, ShapeError> {
        let text = format!("{n}x{m}x{p}");
        if n == 0 || m == 0 || p == 0 {
            return Err(ShapeError::Zero(text));
        }
        if n > MAX_DIM || m > MAX_DIM || p > MAX_DIM {
            return Err(ShapeError::TooLarge(text));
        }
        Ok(Shape { n, m, p })
    }

    /// Lengths of u (indexes A), v (indexes B) and w (indexes C).
    pub fn factor_lens(&self) -> [usize; 3] {
        [self.n * self.m, self.m * self.p, self.n * self.p]
    }

    /// The number of multiplications of the schoolbook algorithm.
    pub fn standard_rank(&self) -> usize {
        self.n * self.m * self.p
    }

    /// The nmp ones of T, `T[i*m+j][j*p+k][i*p+k] = 1`, in lexicographic order.
    pub fn tensor_entries(&self) -> Vec<TensorEntry> {
        let Shape { n, m, p } = *self;
        let mut entries = Vec::with_capacity(n * m * p);
        for i in 0..n {
            for j in 0..m {
                for k in 0..p {
                    entries.push(TensorEntry {
                        a: i * m + j,
                        b: j * p + k,
                        c: i * p + k,
                    });
                }
            }
        }
        entries.sort();
        entries
    }

    /// T as a dense array indexed `[a][b][c]` flattened row-major.
    pub fn dense_tensor(&self) -> Vec<i32> {
        let [la, lb, lc] = self.factor_lens();
        let mut t = vec![0; la * lb * lc];
        for e in self.tensor_entries() {
            t[(e.a * lb + e.b) * lc + e.c] = 1;
        }
        t
    }

    /// Human reading of entry `T[a][b][c]`: which product of A and B it
    /// takes and which entry of C it feeds.
    pub fn describe_entry(&self, a: usize, b: usize, c: usize) -> String {
        let (ai, aj) = (a / self.m, a % self.m);
        let (bj, bk) = (b / self.p, b % self.p);
        let (ci, ck) = (c / self.p, c % self.p);
        format!("A[{ai}][{aj}]*B[{bj}][{bk}] -> C[{ci}][{ck}]")
    }

    /// Whether n = m = p.
    pub fn is_square(&self) -> bool {
        self.n == self.m && self.m == self.p
    }

    /// The same shape with dimensions sorted ascending (ranks are invariant).
    pub fn sorted(&self) -> [usize; 3] {
        let mut d = [self.n, self.m, self.p];
        d.sort();
        d
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.n, self.m, self.p)
    }
}

impl FromStr for Shape {
    type Err = ShapeError;

    /// Accepts `2x2x2`, `2X3X4` and `2,3,4` (spaces around parts allowed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let sep = if s.contains(',') { ',' } else { 'x' };
        let lowered = s.to_ascii_lowercase();
        let parts: Vec<&str> = lowered.split(sep).map(str::trim).collect();
        if parts.len() != 3 {
            return Err(ShapeError::Malformed(s.to_string()));
        }
        let mut dims = [0usize; 3];
        for (d, part) in dims.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ShapeError::NotANumber(s.to_string(), part.to_string()));
            }
            *d = part
                .parse()
                .map_err(|_| ShapeError::TooLarge(s.to_string()))?;
        }
        Shape::new(dims[0], dims[1], dims[2]).map_err(|e| match e {
            ShapeError::Zero(_) => ShapeError::Zero(s.to_string()),
            ShapeError::TooLarge(_) => ShapeError::TooLarge(s.to_string()),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_spellings() {
        assert_eq!(
            "2x3x4".parse::<Shape>().unwrap(),
            Shape { n: 2, m: 3, p: 4 }
        );
        assert_eq!(
            "2,3,4".parse::<Shape>().unwrap(),
            Shape { n: 2, m: 3, p: 4 }
        );
        assert_eq!(
            " 5 X 1 x 2".parse::<Shape>().unwrap(),
            Shape { n: 5, m: 1, p: 2 }
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "0x2x2", "2x2", "axbxc", "2x2x2x2", "", "2x-1x2", "2x x2", "2x2x999",
        ] {
            assert!(bad.parse::<Shape>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn tensor_has_one_entry_per_scalar_product() {
        let s = Shape::new(2, 3, 4).unwrap();
        let e = s.tensor_entries();
        assert_eq!(e.len(), 24);
        // C[1][2] = sum_j A[1][j] B[j][2]: entries with c = 1*4+2.
        let feeding: Vec<_> = e.iter().filter(|x| x.c == 6).collect();
        assert_eq!(feeding.len(), 3);
        for x in feeding {
            assert_eq!(x.a / 3, 1);
            assert_eq!(x.b % 4, 2);
            assert_eq!(x.a % 3, x.b / 4);
        }
        assert_eq!(s.dense_tensor().iter().sum::<i32>(), 24);
    }
}
