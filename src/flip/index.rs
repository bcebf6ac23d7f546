//! The index a flip walk draws from: for one role, which terms carry each
//! factor value, and the list of values carried by two or more terms (the
//! places a flip can happen), both kept up to date in O(1) per change, so
//! a draw never fails and never scans the scheme.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

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

/// Factor value → terms, for one role.
pub struct FactorIndex<F> {
    map: HashMap<F, u32, BuildHasherDefault<MixHasher>>,
    buckets: Vec<Bucket<F>>,
    /// Buckets no value uses; their term vectors keep their capacity.
    free: Vec<u32>,
    /// Buckets with two or more terms.
    flippable: Vec<u32>,
}

impl<F> Default for FactorIndex<F> {
    fn default() -> Self {
        FactorIndex {
            map: HashMap::default(),
            buckets: vec![],
            free: vec![],
            flippable: vec![],
        }
    }
}

impl<F: Copy + Eq + Hash> FactorIndex<F> {
    pub fn insert(&mut self, value: F, term: u32) {
        let b = match self.map.get(&value) {
            Some(&b) => b,
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
        let b = *self.map.get(&value).expect("an indexed factor");
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
                self.map.remove(&value);
                self.free.push(b);
            }
            _ => {}
        }
    }

    /// Renames term `from` to `to` in the bucket of `value`.
    pub fn rename(&mut self, value: F, from: u32, to: u32) {
        let b = *self.map.get(&value).expect("an indexed factor");
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
        match self.map.get(&value) {
            Some(&b) => &self.buckets[b as usize].terms,
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
        self.map
            .values()
            .flat_map(|&b| {
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
        let complete = self
            .map
            .values()
            .filter(|&&b| self.buckets[b as usize].terms.len() >= 2)
            .count()
            == self.flippable.len();
        listed && complete
    }
}
