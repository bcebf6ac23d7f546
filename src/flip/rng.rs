//! The random streams of the walks, in one place: splitmix64 to spread a
//! seed, xorshift64* for CPU walks and the pool's walk seeds, and
//! xorshift128 (32-bit words) for the GPU walk and its CPU reference.
//! Each is a few instructions per number, simple enough to run the same
//! stream in a kernel, and its state is saved with a checkpoint.

/// splitmix64: nearby seeds give unrelated numbers.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// xorshift64*: eight bytes of state.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        // Any nonzero state, spread from the seed.
        XorShift(SplitMix64::new(seed).next_u64() | 1)
    }

    /// The generator's state, to save and continue a stream.
    pub fn state(&self) -> u64 {
        self.0
    }

    pub fn from_state(state: u64) -> Self {
        XorShift(state.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in 0..n (n ≥ 1), by the high half of a 64×64 product.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// xorshift128 on four 32-bit words: what `shaders/flip.wgsl` computes
/// (WGSL has no 64-bit integers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XorShift128([u32; 4]);

impl XorShift128 {
    /// Four nonzero words from splitmix64.
    pub fn seeded(seed: u64) -> Self {
        let mut s = SplitMix64::new(seed);
        let mut word = || (s.next_u64() as u32) | 1;
        XorShift128([word(), word(), word(), word()])
    }

    pub fn from_state(words: [u32; 4]) -> Self {
        XorShift128(words)
    }

    pub fn state(&self) -> [u32; 4] {
        self.0
    }

    pub fn next_u32(&mut self) -> u32 {
        let [x, y, z, w] = self.0;
        let t = x ^ (x << 11);
        let n = w ^ (w >> 19) ^ t ^ (t >> 8);
        self.0 = [y, z, w, n];
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_fixed_by_their_seed() {
        // splitmix64's published first output for seed 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let (mut a, mut b) = (XorShift::new(5), XorShift::new(5));
        assert_eq!(a.next_u64(), b.next_u64());
        let mut c = XorShift::from_state(a.state());
        assert_eq!(c.next_u64(), a.next_u64());
        let mut g = XorShift128::seeded(9);
        assert!(g.state().iter().all(|w| w & 1 == 1));
        let mut h = XorShift128::from_state(g.state());
        assert_eq!(g.next_u32(), h.next_u32());
        for n in 1..50 {
            assert!(a.below(n) < n);
        }
    }
}
