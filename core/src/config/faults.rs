//! [`FaultConfig`]: faults injected on purpose between the echo and the wire.

use core::time::Duration;

use super::{check_duration, check_size, MAX_SIZE};
use crate::error::ConfigError;

/// Longest `delay`. A delay is latency to test a client against; beyond minutes it is a
/// connection that looks dead, which the idle and frame timers already offer.
pub const MAX_DELAY: Duration = Duration::from_secs(600);

/// Sizes of the pieces output is offered in: each a random size in `min..=max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct Chunk {
    /// Smallest piece, at least 1.
    pub min: usize,
    /// Largest piece, at least `min`.
    pub max: usize,
}

/// A probability, held exactly as parts per million so that configs compare and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Probability(u32);

impl Probability {
    /// One in a million: the finest probability a config can hold.
    const SCALE: u32 = 1_000_000;

    /// The probability `p` (`0 < p <= 1`), to the nearest millionth.
    pub fn new(p: f64) -> Result<Self, ConfigError> {
        if !(p > 0.0 && p <= 1.0) {
            return Err(ConfigError::Probability(p.to_string()));
        }
        // At least one millionth: a positive probability never rounds to "never".
        let ppm = (p * f64::from(Self::SCALE)).round().max(1.0) as u32;
        Ok(Probability(ppm))
    }

    /// As a float in `(0, 1]`.
    pub fn get(self) -> f64 {
        f64::from(self.0) / f64::from(Self::SCALE)
    }

    /// Whether a draw from `rng` falls within this probability.
    pub(crate) fn hit(self, rng: &mut crate::rng::Rng) -> bool {
        rng.in_range(0, Self::SCALE as usize - 1) < self.0 as usize
    }
}

impl core::fmt::Display for Probability {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// Faults injected on purpose. Each is off by default; with all off the fault layer
/// passes bytes through untouched. The stream faults act between the echo and the wire
/// (a `Faults` layer); the datagram faults act on the UDP echo's replies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct FaultConfig {
    /// Every echoed byte is held this long after the echo produced it before it may be
    /// written; order is kept. Default: off.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::millis_opt"))]
    pub delay: Option<Duration>,
    /// Up to this much more delay, drawn at random for each echo (order is still kept).
    /// Default: off.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::millis_opt"))]
    pub jitter: Option<Duration>,
    /// Output is paced to this many bytes per second. Default: off.
    pub rate: Option<u64>,
    /// Output is offered in pieces of random size in this range, each its own write, so a
    /// client sees its replies fragmented. Default: off (as large as the socket takes).
    pub chunk: Option<Chunk>,
    /// The connection is reset (RST) once this many bytes were sent. Default: off.
    pub reset_after: Option<u64>,
    /// The connection is closed (FIN) once this many bytes were sent. Default: off.
    pub close_after: Option<u64>,
    /// Each echoed frame fails its connection with this probability, as the fault word
    /// does. Default: off.
    pub fault_chance: Option<Probability>,
    /// UDP: each reply is dropped with this probability. Default: off.
    pub drop: Option<Probability>,
    /// UDP: each reply is sent twice with this probability. Default: off.
    pub duplicate: Option<Probability>,
    /// UDP: each reply is held back and sent after the next one with this probability.
    /// Default: off.
    pub reorder: Option<Probability>,
    /// Seed for the random choices. Each connection's generator starts from this and the
    /// connection's own number, so a run is reproducible. Default: 0.
    pub seed: u64,
}

/// The faults that are on, for a startup line: `delay 100ms, chunk 4..64 B; seed 7`, or
/// `none`.
impl core::fmt::Display for FaultConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        let mut on = |part: Option<String>| parts.extend(part);
        on(self.delay.map(|d| format!("delay {d:?}")));
        on(self.jitter.map(|d| format!("jitter up to {d:?}")));
        on(self.rate.map(|r| format!("rate {r} B/s")));
        on(self
            .chunk
            .map(|c| format!("chunks of {}..{} B", c.min, c.max)));
        on(self.reset_after.map(|n| format!("reset after {n} B")));
        on(self.close_after.map(|n| format!("close after {n} B")));
        on(self
            .fault_chance
            .map(|p| format!("fault chance {p} per frame")));
        on(self.drop.map(|p| format!("UDP drop {p}")));
        on(self.duplicate.map(|p| format!("UDP duplicate {p}")));
        on(self.reorder.map(|p| format!("UDP reorder {p}")));
        if parts.is_empty() {
            return f.write_str("none");
        }
        write!(f, "{}; seed {}", parts.join(", "), self.seed)
    }
}

impl FaultConfig {
    /// Whether any stream fault is on (with none, a stack can leave the fault layer out).
    pub fn is_active(&self) -> bool {
        self.delay.is_some()
            || self.jitter.is_some()
            || self.rate.is_some()
            || self.chunk.is_some()
            || self.reset_after.is_some()
            || self.close_after.is_some()
            || self.fault_chance.is_some()
    }

    /// Whether any datagram fault is on.
    pub fn datagrams_active(&self) -> bool {
        self.drop.is_some() || self.duplicate.is_some() || self.reorder.is_some()
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        check_duration("delay", self.delay, true)?;
        check_duration("jitter", self.jitter, true)?;
        let most = self.delay.unwrap_or_default() + self.jitter.unwrap_or_default();
        if most > MAX_DELAY {
            return Err(ConfigError::DurationTooLong {
                field: "delay plus jitter",
                value: most,
                max: MAX_DELAY,
            });
        }
        for (field, value) in [
            ("rate", self.rate),
            ("reset after", self.reset_after),
            ("close after", self.close_after),
        ] {
            if value == Some(0) {
                return Err(ConfigError::Zero { field });
            }
        }
        if let Some(chunk) = self.chunk {
            check_size("chunk min", chunk.min, MAX_SIZE)?;
            check_size("chunk max", chunk.max, MAX_SIZE)?;
            if chunk.min > chunk.max {
                return Err(ConfigError::ChunkRange {
                    min: chunk.min,
                    max: chunk.max,
                });
            }
        }
        Ok(())
    }
}
