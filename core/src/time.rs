//! Time as data.
//!
//! The core never reads a clock: `std::time::Instant::now()` panics on
//! `wasm32-unknown-unknown`, and a core that reads its own clock cannot be driven by a
//! virtual one in tests. Every driver passes "now" in as an [`Instant`]: milliseconds since
//! an epoch of the driver's choosing (process start, page load, zero in a test).

use core::fmt;
use core::ops::Add;
use core::time::Duration;

/// A point in time, in whole milliseconds since the driver's epoch.
///
/// Millisecond resolution is what every timer in an echo server needs (the shortest
/// sensible timeout is tens of milliseconds) and keeps the type a plain `u64` that
/// crosses into JavaScript as a number without loss for 285 000 years.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct Instant(u64);

impl Instant {
    /// The driver's epoch.
    pub const ZERO: Instant = Instant(0);

    /// The instant `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later: a driver whose clock
    /// steps backwards must not make the core panic.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// Adding a duration rounds it *up* to a whole millisecond, so a timer never fires before
/// the duration it was given has passed; the sum saturates instead of overflowing.
impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, rhs: Duration) -> Instant {
        let ms = rhs.as_nanos().div_ceil(1_000_000);
        Instant(self.0.saturating_add(u64::try_from(ms).unwrap_or(u64::MAX)))
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_a_duration_rounds_up_and_saturates() {
        let t = Instant::from_millis(10);
        assert_eq!(t + Duration::from_micros(1), Instant::from_millis(11));
        assert_eq!(t + Duration::from_millis(5), Instant::from_millis(15));
        assert_eq!(
            Instant::from_millis(u64::MAX - 1) + Duration::from_secs(1),
            Instant::from_millis(u64::MAX)
        );
    }

    #[test]
    fn a_clock_stepping_back_gives_zero_not_a_panic() {
        let early = Instant::from_millis(5);
        assert_eq!(
            early.saturating_since(Instant::from_millis(9)),
            Duration::ZERO
        );
    }
}
