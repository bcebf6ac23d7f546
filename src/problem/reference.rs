//! Reference ranks: the schoolbook rank nmp and the best published ranks
//! for 2 ≤ n ≤ m ≤ p ≤ 5 (docs/design.md §1). Ranks are invariant under permuting
//! n, m, p, so the table is keyed by sorted dimensions.

use super::field::Field;
use super::shape::Shape;

/// Best published ranks over Z2, Z (integer coefficients) and Q.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BestRanks {
    pub z2: usize,
    pub z: usize,
    pub q: usize,
}

impl BestRanks {
    pub fn get(&self, field: Field) -> usize {
        match field {
            Field::Z2 => self.z2,
            Field::Z => self.z,
            Field::Q => self.q,
        }
    }
}

/// (sorted dims, Z2, Z, Q). Sources are listed in docs/design.md §1 (Strassen,
/// Hopcroft–Kerr, Laderman, Smirnov, AlphaTensor, Kauers–Moosbauer, …).
const TABLE: [([usize; 3], usize, usize, usize); 20] = [
    ([2, 2, 2], 7, 7, 7),
    ([2, 2, 3], 11, 11, 11),
    ([2, 2, 4], 14, 14, 14),
    ([2, 2, 5], 18, 18, 18),
    ([2, 3, 3], 15, 15, 15),
    ([2, 3, 4], 20, 20, 20),
    ([2, 3, 5], 25, 25, 25),
    ([2, 4, 4], 26, 26, 26),
    ([2, 4, 5], 33, 33, 32),
    ([2, 5, 5], 40, 40, 40),
    ([3, 3, 3], 23, 23, 23),
    ([3, 3, 4], 29, 29, 29),
    ([3, 3, 5], 36, 36, 36),
    ([3, 4, 4], 38, 38, 38),
    ([3, 4, 5], 47, 47, 47),
    ([3, 5, 5], 58, 58, 58),
    ([4, 4, 4], 47, 49, 48),
    ([4, 4, 5], 60, 61, 61),
    ([4, 5, 5], 73, 76, 76),
    ([5, 5, 5], 93, 93, 93),
];

/// The best published ranks for `shape`, when known. A dimension of 1 makes
/// the product a matrix–vector or outer product, whose rank is nmp.
pub fn best_ranks(shape: Shape) -> Option<BestRanks> {
    let key = shape.sorted();
    if key[0] == 1 {
        let r = shape.standard_rank();
        return Some(BestRanks { z2: r, z: r, q: r });
    }
    TABLE
        .iter()
        .find(|(dims, ..)| *dims == key)
        .map(|&(_, z2, z, q)| BestRanks { z2, z, q })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_share_a_rank() {
        let a = best_ranks(Shape::new(4, 2, 3).unwrap()).unwrap();
        let b = best_ranks(Shape::new(2, 3, 4).unwrap()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.z, 20);
        assert_eq!(best_ranks(Shape::new(4, 4, 4).unwrap()).unwrap().z2, 47);
        assert_eq!(best_ranks(Shape::new(5, 5, 5).unwrap()).unwrap().q, 93);
        assert_eq!(best_ranks(Shape::new(1, 3, 4).unwrap()).unwrap().z, 12);
        assert!(best_ranks(Shape::new(6, 6, 6).unwrap()).is_none());
    }

    #[test]
    fn table_is_consistent() {
        for n in 2..=5 {
            for m in n..=5 {
                for p in m..=5 {
                    let s = Shape::new(n, m, p).unwrap();
                    let r = best_ranks(s).expect("every shape up to 5 is listed");
                    // An integer scheme is a rational scheme, and every listed
                    // rank improves on the schoolbook one.
                    assert!(r.q <= r.z && r.z < s.standard_rank() && r.z2 < s.standard_rank());
                }
            }
        }
    }
}
