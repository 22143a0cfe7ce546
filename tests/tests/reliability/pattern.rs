//! Verifiable traffic: byte streams that are unique per connection, so that any lost,
//! duplicated, reordered or foreign byte is found at its offset; a seeded generator for
//! the random parts of a scenario; latency percentiles.

use std::time::Duration;

/// A small, seeded pseudo-random generator (xorshift64*): every random choice of a
/// scenario is reproducible from its seed.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        // Zero is xorshift's fixed point; the odd constant spreads nearby seeds apart.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `low..=high`.
    pub(crate) fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }

    /// True one time in `n`.
    pub(crate) fn one_in(&mut self, n: u64) -> bool {
        self.next_u64() % n == 0
    }
}

/// What a stream's bytes look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Any byte value.
    Raw,
    /// Printable lines of at most this many bytes, each ending in `\n`: what a `line`
    /// server echoes unchanged (with no quit word).
    Lines(usize),
}

/// An endless byte stream determined by its seed: the sender and the checker each make one
/// with the same seed and walk it in step, whatever the chunking on either side.
///
/// Bytes come eight at a time from the generator and are compared as slices: the suite
/// runs as a debug build, and checking hundreds of megabytes a byte at a time would make
/// the checker, not the server, the bottleneck of every scenario.
#[derive(Debug, Clone)]
pub(crate) struct Stream {
    rng: Rng,
    shape: Shape,
    /// The current generator word, and how many of its bytes are used.
    word: [u8; 8],
    used: usize,
    /// Bytes of the current line so far (`Lines`).
    line: usize,
    /// Bytes produced so far: the offset of the next one.
    pub(crate) offset: u64,
    /// Scratch space for `check`.
    expected: Vec<u8>,
}

impl Stream {
    pub(crate) fn new(seed: u64, shape: Shape) -> Stream {
        Stream {
            rng: Rng::new(seed),
            shape,
            word: [0; 8],
            used: 8,
            line: 0,
            offset: 0,
            expected: Vec::new(),
        }
    }

    /// Fills `buf` with the next bytes.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        let mut at = 0;
        while at < buf.len() {
            if self.used == 8 {
                self.word = self.rng.next_u64().to_le_bytes();
                self.used = 0;
            }
            let n = (8 - self.used).min(buf.len() - at);
            buf[at..at + n].copy_from_slice(&self.word[self.used..self.used + n]);
            self.used += n;
            at += n;
        }
        if let Shape::Lines(max) = self.shape {
            for byte in buf.iter_mut() {
                // Lines of every length from empty to `max`, about 37 bytes on average.
                if self.line >= max || *byte % 37 == 0 {
                    self.line = 0;
                    *byte = b'\n';
                } else {
                    self.line += 1;
                    *byte = b' ' + *byte % 95;
                }
            }
        }
        self.offset += buf.len() as u64;
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.fill(&mut buf);
        buf
    }

    /// Checks that `got` is the next `got.len()` bytes; `Err` names the first difference.
    pub(crate) fn check(&mut self, got: &[u8]) -> Result<(), String> {
        let start = self.offset;
        let mut expected = std::mem::take(&mut self.expected);
        expected.resize(got.len(), 0);
        self.fill(&mut expected);
        let result = if expected == got {
            Ok(())
        } else {
            let i = expected.iter().zip(got).position(|(a, b)| a != b).unwrap();
            Err(format!(
                "byte {} is {:#04x}, expected {:#04x}",
                start + i as u64,
                got[i],
                expected[i]
            ))
        };
        self.expected = expected;
        result
    }
}

/// Latency samples and their percentiles.
#[derive(Debug, Default, Clone)]
pub(crate) struct Latencies(Vec<Duration>);

impl Latencies {
    pub(crate) fn push(&mut self, sample: Duration) {
        self.0.push(sample);
    }

    pub(crate) fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`-th percentile (0–100), by nearest rank.
    pub(crate) fn percentile(&mut self, p: f64) -> Duration {
        assert!(!self.0.is_empty(), "no samples");
        self.0.sort_unstable();
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    pub(crate) fn max(&mut self) -> Duration {
        self.percentile(100.0)
    }
}

/// Milliseconds with one decimal, for the figures.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
