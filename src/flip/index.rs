//! The index a flip walk draws from: for one role, which terms carry each
//! factor value, and the list of values carried by two or more terms (the
//! places a flip can happen), both kept up to date in O(1) per change, so
//! a draw never fails and never scans the scheme. Short factors (up to
//! DIRECT_BITS bits, e.g. every Z2 factor of 4x4x4) find their bucket in a
//! table indexed by the factor itself; longer ones through a hash map.

use super::factor::Factor;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast hash for factor masks (a murmur-style finaliser): the default
/// SipHash costs more than the rest of a flip.
#[derive(Default)]
pub struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        h
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01B3);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }
}

const NOT_FLIPPABLE: u32 = u32::MAX;

struct Bucket<F> {
    value: F,
    terms: Vec<u32>,
    /// Position in `flippable`, or NOT_FLIPPABLE.
    at: u32,
}

/// Factors of up to this many bits are looked up in a table of 2^bits
/// entries (256 kB at 16) instead of hashed.
pub const DIRECT_BITS: usize = 18;
const NO_BUCKET: u32 = u32::MAX;

/// Factor value → bucket.
enum Lookup<F> {
    /// Indexed by the packed factor, of `len` coefficients.
    Direct {
        table: Vec<u32>,
        len: usize,
    },
    Hashed(HashMap<F, u32, BuildHasherDefault<MixHasher>>),
}

impl<F: Factor> Lookup<F> {
    fn get(&self, value: F) -> Option<u32> {
        match self {
            Lookup::Direct { table, len } => {
                Some(table[value.packed(*len) as usize]).filter(|&b| b != NO_BUCKET)
            }
            Lookup::Hashed(map) => map.get(&value).copied(),
        }
    }
    fn insert(&mut self, value: F, bucket: u32) {
        match self {
            Lookup::Direct { table, len } => table[value.packed(*len) as usize] = bucket,
            Lookup::Hashed(map) => {
                map.insert(value, bucket);
            }
        }
    }
    fn remove(&mut self, value: F) {
        match self {
            Lookup::Direct { table, len } => table[value.packed(*len) as usize] = NO_BUCKET,
            Lookup::Hashed(map) => {
                map.remove(&value);
            }
        }
    }
}

/// Factor value → terms, for one role.
pub struct FactorIndex<F> {
    map: Lookup<F>,
    buckets: Vec<Bucket<F>>,
    /// Buckets no value uses; their term vectors keep their capacity.
    free: Vec<u32>,
    /// Buckets with two or more terms.
    flippable: Vec<u32>,
}

impl<F: Factor> FactorIndex<F> {
    /// An empty index of factors of `len` coefficients.
    pub fn new(len: usize) -> Self {
        let bits = F::PLANES * len;
        let map = if bits <= DIRECT_BITS {
            Lookup::Direct {
                table: vec![NO_BUCKET; 1 << bits],
                len,
            }
        } else {
            Lookup::Hashed(HashMap::default())
        };
        FactorIndex {
            map,
            buckets: vec![],
            free: vec![],
            flippable: vec![],
        }
    }

    pub fn insert(&mut self, value: F, term: u32) {
        let b = match self.map.get(value) {
            Some(b) => b,
            None => {
                let b = match self.free.pop() {
                    Some(b) => {
                        self.buckets[b as usize].value = value;
                        b
                    }
                    None => {
                        self.buckets.push(Bucket {
                            value,
                            terms: Vec::with_capacity(4),
                            at: NOT_FLIPPABLE,
                        });
                        self.buckets.len() as u32 - 1
                    }
                };
                self.map.insert(value, b);
                b
            }
        };
        let bucket = &mut self.buckets[b as usize];
        bucket.terms.push(term);
        if bucket.terms.len() == 2 {
            bucket.at = self.flippable.len() as u32;
            self.flippable.push(b);
        }
    }

    pub fn remove(&mut self, value: F, term: u32) {
        let b = self.map.get(value).expect("an indexed factor");
        let bucket = &mut self.buckets[b as usize];
        let k = bucket
            .terms
            .iter()
            .position(|&t| t == term)
            .expect("the term is in its factor's bucket");
        bucket.terms.swap_remove(k);
        match bucket.terms.len() {
            1 => {
                let at = bucket.at as usize;
                bucket.at = NOT_FLIPPABLE;
                self.flippable.swap_remove(at);
                if let Some(&moved) = self.flippable.get(at) {
                    self.buckets[moved as usize].at = at as u32;
                }
            }
            0 => {
                self.map.remove(value);
                self.free.push(b);
            }
            _ => {}
        }
    }

    /// Renames term `from` to `to` in the bucket of `value`.
    pub fn rename(&mut self, value: F, from: u32, to: u32) {
        let b = self.map.get(value).expect("an indexed factor");
        for t in self.buckets[b as usize].terms.iter_mut() {
            if *t == from {
                *t = to;
                return;
            }
        }
        panic!("term {from} is not in its factor's bucket");
    }

    /// The terms carrying `value` (empty when none does).
    pub fn terms(&self, value: F) -> &[u32] {
        match self.map.get(value) {
            Some(b) => &self.buckets[b as usize].terms,
            None => &[],
        }
    }

    /// Values carried by two or more terms.
    pub fn flippable(&self) -> usize {
        self.flippable.len()
    }

    /// The terms of the k-th such value.
    pub fn flippable_terms(&self, k: usize) -> &[u32] {
        &self.buckets[self.flippable[k] as usize].terms
    }

    /// Every (value, term) pair, for checks.
    pub fn entries(&self) -> Vec<(F, u32)> {
        self.used()
            .into_iter()
            .flat_map(|b| {
                let bucket = &self.buckets[b as usize];
                bucket.terms.iter().map(move |&t| (bucket.value, t))
            })
            .collect()
    }

    /// Whether the flippable list is exactly the buckets of two or more.
    pub fn consistent(&self) -> bool {
        let listed = self
            .flippable
            .iter()
            .enumerate()
            .all(|(k, &b)| self.buckets[b as usize].at as usize == k);
        let used = self.used();
        let complete = used
            .iter()
            .filter(|&&b| self.buckets[b as usize].terms.len() >= 2)
            .count()
            == self.flippable.len();
        let found = used
            .iter()
            .all(|&b| self.map.get(self.buckets[b as usize].value) == Some(b));
        listed && complete && found
    }

    /// The buckets some value leads to.
    fn used(&self) -> Vec<u32> {
        match &self.map {
            Lookup::Direct { table, .. } => {
                table.iter().copied().filter(|&b| b != NO_BUCKET).collect()
            }
            Lookup::Hashed(map) => map.values().copied().collect(),
        }
    }
}
