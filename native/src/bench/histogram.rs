//! Latency histograms: the `hdrhistogram` crate, with the exact maximum and mean beside it.
//!
//! Values are nanoseconds, tracked from 1 ns to 60 s with 3 significant digits (a value
//! is reported within 0.1 % of itself; the hand-written log-linear histogram this
//! replaces kept 1/128, 0.8 %). A value above 60 s is counted as 60 s in the
//! percentiles, but the maximum and the mean stay exact: they are kept beside the counts.
//! One histogram per bench thread, merged at the end; `--json` carries each one in
//! HdrHistogram's V2 + DEFLATE form, base64, so runs can be merged and compared with any
//! HdrHistogram tool.

use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};

/// The largest value the counts track: 60 s in ns. Latencies above it are errors anyway
/// (the bench's own timeouts default to 5 s).
const HIGHEST_NS: u64 = 60_000_000_000;
/// Significant digits kept for every value from 1 ns to 60 s.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Counts of latencies, with their exact maximum and sum.
#[derive(Clone)]
pub struct Histogram {
    counts: hdrhistogram::Histogram<u64>,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: hdrhistogram::Histogram::new_with_bounds(1, HIGHEST_NS, SIGNIFICANT_DIGITS)
                .expect("invariant: 1 ns to 60 s at 3 digits are valid bounds"),
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
            self.len(),
            self.max
        )
    }
}

impl Histogram {
    /// Records one value (ns). The counts start at 1 ns, so 0 is counted as 1 ns; the
    /// maximum and mean take the value as it is.
    pub fn record(&mut self, v: u64) {
        self.counts.saturating_record(v.max(1));
        self.max = self.max.max(v);
        self.sum += u128::from(v);
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        // Both have the same bounds and `self` tracks up to 60 s as `other` does: adding
        // cannot fail.
        self.counts
            .add(&other.counts)
            .expect("invariant: histograms with the same bounds add");
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.counts.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Largest value recorded, exactly.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Mean of the values recorded, exactly.
    pub fn mean(&self) -> u64 {
        match self.len() {
            0 => 0,
            n => (self.sum / u128::from(n)) as u64,
        }
    }

    /// The value at percentile `p` (0–100): the highest value equivalent (to 3 digits)
    /// to the one at that rank, so never less than the true value, capped at the exact
    /// maximum.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.is_empty() {
            return 0;
        }
        self.counts.value_at_percentile(p).min(self.max)
    }

    /// The counts in HdrHistogram's V2 + DEFLATE form, base64: what HdrHistogram's own
    /// tools (and `hdrhistogram`'s `Deserializer`) read back, to merge or plot runs.
    pub fn encoded(&self) -> String {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.counts, &mut bytes)
            .expect("invariant: serializing into memory does not fail");
        data_encoding::BASE64.encode(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::Deserializer;

    #[test]
    fn every_value_from_a_nanosecond_to_a_minute_keeps_three_digits() {
        let values = (1..5_000u64).chain((0..36).map(|k| 1u64 << k)).chain([
            999,
            1_000,
            1_001,
            123_456_789,
            59_999_999_999,
        ]);
        for v in values {
            let mut h = Histogram::default();
            h.record(v);
            // Recorded alone, its percentile is capped at the exact max: look at the
            // bucket's bound through a second, larger value.
            h.record(u64::MAX);
            let at = h.percentile(50.0);
            assert!(at >= v, "{v}");
            assert!((at - v) as f64 <= v as f64 / 1000.0 + 1.0, "{v} → {at}");
        }
    }

    #[test]
    fn percentiles_of_a_uniform_range() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.percentile(50.0) as f64;
        assert!((p50 - 5_000_000.0).abs() / 5_000_000.0 < 0.001, "{p50}");
        assert_eq!(h.percentile(100.0), 10_000_000);
        assert_eq!(h.max(), 10_000_000);
        assert_eq!(h.mean(), 5_000_500);
        let mut other = Histogram::default();
        other.record(20_000_000);
        h.merge(&other);
        assert_eq!(h.len(), 10_001);
        assert_eq!(h.percentile(100.0), 20_000_000);
    }

    #[test]
    fn a_value_past_a_minute_counts_as_a_minute_but_the_max_is_exact() {
        let mut h = Histogram::default();
        h.record(3_600_000_000_000);
        assert_eq!(h.len(), 1);
        assert_eq!(h.max(), 3_600_000_000_000);
        let p = h.percentile(100.0);
        assert!(
            (HIGHEST_NS..HIGHEST_NS + HIGHEST_NS / 1000).contains(&p),
            "{p}"
        );
    }

    #[test]
    fn the_encoded_form_reads_back_as_the_same_counts() {
        let mut h = Histogram::default();
        for v in [1, 42_000, 42_001, 250_000, 7_000_000_000] {
            h.record(v);
        }
        let bytes = data_encoding::BASE64
            .decode(h.encoded().as_bytes())
            .unwrap();
        let back: hdrhistogram::Histogram<u64> =
            Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
        assert_eq!(back, h.counts);
        assert_eq!(back.len(), 5);
    }
}
