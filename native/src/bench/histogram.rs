//! A latency histogram with bounded relative error (HDR-style, log-linear buckets).
//!
//! Values are nanoseconds. Each power of two is split into 128 linear sub-buckets, so a
//! recorded value is reported within 1/128 (0.8 %) of itself, from 1 ns to 2^64 ns, in
//! 7 424 counters (58 KiB) — small enough for one per thread, merged at the end.

const SUB_BITS: u32 = 7;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB;

/// Counts of values in log-linear buckets.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
            sum: 0,
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Histogram {{ total: {}, max: {} }}",
            self.total, self.max
        )
    }
}

fn index(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = exp - SUB_BITS;
    let sub = (v >> shift) as usize - SUB; // 0..SUB
    (shift as usize + 1) * SUB + sub
}

/// The largest value that lands in bucket `i` (what a percentile reports: never less
/// than the true value).
fn upper(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let shift = (i / SUB - 1) as u32;
    let sub = (i % SUB + SUB) as u64;
    // The top bucket's bound is 2^64 − 1: the shift wraps to 0 and the subtraction back.
    ((sub + 1) << shift).wrapping_sub(1)
}

impl Histogram {
    /// Records one value.
    pub fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
        self.sum += u128::from(v);
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Largest value recorded, exactly.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Mean of the values recorded.
    pub fn mean(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            (self.sum / u128::from(self.total)) as u64
        }
    }

    /// The value at percentile `p` (0–100): the smallest bucket bound with at least `p` %
    /// of the values at or below it, capped at the exact maximum.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_a_bucket_within_one_percent() {
        for v in (0..20_000u64).chain([1 << 40, u64::MAX / 3, u64::MAX]) {
            let i = index(v);
            assert!(i < BUCKETS);
            assert!(upper(i) >= v, "{v}");
            assert!((upper(i) - v) as f64 <= v as f64 / 128.0 + 1.0, "{v}");
        }
    }

    #[test]
    fn percentiles_of_a_uniform_range() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.percentile(50.0) as f64;
        assert!((p50 - 5_000_000.0).abs() / 5_000_000.0 < 0.01, "{p50}");
        assert_eq!(h.percentile(100.0), 10_000_000);
        assert_eq!(h.max(), 10_000_000);
        let mut other = Histogram::default();
        other.record(20_000_000);
        h.merge(&other);
        assert_eq!(h.len(), 10_001);
        assert_eq!(h.percentile(100.0), 20_000_000);
    }
}
