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

/// Faults between the echo and the wire. Each is off by default; with all off the fault
/// layer passes bytes through untouched.
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
    /// Output is offered in pieces of random size in this range, each its own write, so a
    /// client sees its replies fragmented. Default: off (as large as the socket takes).
    pub chunk: Option<Chunk>,
    /// Seed for the random choices. Each connection's generator starts from this and the
    /// connection's own number, so a run is reproducible. Default: 0.
    pub seed: u64,
}

impl FaultConfig {
    /// Whether any fault is on (with none, a stack can leave the fault layer out).
    pub fn is_active(&self) -> bool {
        self.delay.is_some() || self.chunk.is_some()
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        check_duration("delay", self.delay, true)?;
        if let Some(delay) = self.delay.filter(|&d| d > MAX_DELAY) {
            return Err(ConfigError::DurationTooLong {
                field: "delay",
                value: delay,
                max: MAX_DELAY,
            });
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
