//! Reference ranks: the schoolbook rank nmp and the best known ranks per
//! field, as of 2026, from `data/best_ranks.json` (which names its
//! sources). Ranks are invariant under permuting n, m, p, so the table is
//! keyed by sorted dimensions.

use super::field::Field;
use super::shape::Shape;
use serde::Deserialize;
use std::sync::OnceLock;

/// The reference table, compiled into the program.
const DATA: &str = include_str!("../../data/best_ranks.json");

/// Best known ranks over Z2, Z (integer coefficients) and Q; None where
/// the table does not know one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct BestRanks {
    pub z2: Option<usize>,
    pub z: Option<usize>,
    pub q: Option<usize>,
}

impl BestRanks {
    pub fn get(&self, field: Field) -> Option<usize> {
        match field {
            Field::Z2 => self.z2,
            Field::Z => self.z,
            Field::Q => self.q,
        }
    }
}

#[derive(Deserialize)]
struct Entry {
    shape: [usize; 3],
    #[serde(flatten)]
    ranks: BestRanks,
    source: String,
}

#[derive(Deserialize)]
struct Table {
    sources: std::collections::BTreeMap<String, String>,
    ranks: Vec<Entry>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str(DATA).expect("data/best_ranks.json is valid (a test reads it)")
    })
}

/// The best known ranks for `shape`, when known. A dimension of 1 makes
/// the product a matrix–vector or outer product, whose rank is nmp.
pub fn best_ranks(shape: Shape) -> Option<BestRanks> {
    let key = shape.sorted();
    if key[0] == 1 {
        let r = Some(shape.standard_rank());
        return Some(BestRanks { z2: r, z: r, q: r });
    }
    table()
        .ranks
        .iter()
        .find(|e| e.shape == key)
        .map(|e| e.ranks)
}

/// Where the best known ranks of `shape` come from, in words.
pub fn source_of(shape: Shape) -> Option<String> {
    let t = table();
    let e = t.ranks.iter().find(|e| e.shape == shape.sorted())?;
    let named: Vec<&str> = e
        .source
        .split(|c: char| c == ';' || c.is_whitespace())
        .filter_map(|key| t.sources.get(key).map(String::as_str))
        .collect();
    Some(if named.is_empty() {
        e.source.clone()
    } else {
        named.join("; ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_share_a_rank() {
        let a = best_ranks(Shape::new(4, 2, 3).unwrap()).unwrap();
        let b = best_ranks(Shape::new(2, 3, 4).unwrap()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.z, Some(20));
        assert_eq!(
            best_ranks(Shape::new(4, 4, 4).unwrap()).unwrap().z2,
            Some(47)
        );
        assert_eq!(
            best_ranks(Shape::new(5, 5, 5).unwrap()).unwrap().q,
            Some(93)
        );
        assert_eq!(
            best_ranks(Shape::new(1, 3, 4).unwrap()).unwrap().z,
            Some(12)
        );
        assert_eq!(
            best_ranks(Shape::new(6, 3, 3).unwrap()).unwrap().q,
            Some(40)
        );
        assert!(best_ranks(Shape::new(7, 7, 7).unwrap()).is_none());
    }

    /// Every entry's shape is sorted and listed once, and every source it
    /// names is in the sources list.
    #[test]
    fn the_data_file_names_its_sources() {
        let t = table();
        for (i, e) in t.ranks.iter().enumerate() {
            let mut sorted = e.shape;
            sorted.sort();
            assert_eq!(sorted, e.shape);
            assert!(t.ranks[..i].iter().all(|f| f.shape != e.shape));
            let keys: Vec<&str> = e
                .source
                .split(|c: char| c == ';' || c.is_whitespace())
                .filter(|k| !k.is_empty() && !k.starts_with('('))
                .collect();
            assert!(!keys.is_empty());
            for k in keys {
                assert!(
                    t.sources.contains_key(k),
                    "{:?}: unknown source {k}",
                    e.shape
                );
            }
        }
    }

    #[test]
    fn table_is_consistent() {
        for n in 2..=5 {
            for m in n..=5 {
                for p in m..=5 {
                    let s = Shape::new(n, m, p).unwrap();
                    let r = best_ranks(s).expect("every shape up to 5 is listed");
                    let [z2, z, q] = [r.z2, r.z, r.q].map(|x| x.expect("every field up to 5"));
                    // An integer scheme is a rational scheme, and every listed
                    // rank improves on the schoolbook one.
                    assert!(q <= z && z < s.standard_rank() && z2 < s.standard_rank());
                    assert!(source_of(s).is_some_and(|t| t.len() > 20), "{s}");
                }
            }
        }
    }
}
