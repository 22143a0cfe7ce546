//! A small deterministic random generator for the fault layer.
//!
//! SplitMix64 (Steele, Lea and Flood, 2014): a 64-bit state, one add and a few shifts and
//! multiplies per number. No crate: the fault layer needs a few reproducible numbers per
//! connection, of no cryptographic or statistical consequence, and a general-purpose
//! random crate would bring a dependency tree for ten lines.

/// A seeded generator; the same seed gives the same numbers on every platform.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `min..=max`. The modulo's bias is below 2^-40 for any range a chunk
    /// size can have: immaterial here.
    pub(crate) fn in_range(&mut self, min: usize, max: usize) -> usize {
        debug_assert!(min <= max);
        let span = (max - min) as u64 + 1;
        min + (self.next_u64() % span) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_numbers_within_range() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            let n = a.in_range(3, 9);
            assert_eq!(n, b.in_range(3, 9));
            assert!((3..=9).contains(&n));
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
