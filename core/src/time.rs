//! Time as data.
//!
//! The core never reads a clock: `std::time::Instant::now()` panics on
//! `wasm32-unknown-unknown`, and a core that reads its own clock cannot be driven by a
//! virtual one in tests. Every driver passes "now" in as an [`Instant`]: milliseconds since
//! an epoch of the driver's choosing (process start, page load, zero in a test).

use core::fmt;
use core::num::NonZeroU64;
use core::ops::Add;
use core::time::Duration;

/// A point in time, in whole milliseconds since the driver's epoch.
///
/// Millisecond resolution is what every timer in an echo server needs (the shortest
/// sensible timeout is tens of milliseconds) and keeps the type a plain integer that
/// crosses into JavaScript as a number without loss for 285 000 years.
///
/// It is held as milliseconds plus one in a `NonZeroU64`, so that an `Option<Instant>` — a
/// timer that may or may not run, of which every connection holds several — takes 8 bytes,
/// not 16. The one millisecond this costs is the last of 585 million years.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(NonZeroU64);

impl Instant {
    /// The driver's epoch.
    pub const ZERO: Instant = Instant(NonZeroU64::MIN);

    /// The instant `ms` milliseconds after the epoch (the last representable one for
    /// `u64::MAX`).
    pub const fn from_millis(ms: u64) -> Self {
        match NonZeroU64::new(ms.saturating_add(1)) {
            Some(n) => Instant(n),
            None => unreachable!(),
        }
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0.get() - 1
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later: a driver whose clock
    /// steps backwards must not make the core panic.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.get().saturating_sub(earlier.0.get()))
    }
}

impl Default for Instant {
    fn default() -> Self {
        Instant::ZERO
    }
}

/// Adding a duration rounds it *up* to a whole millisecond, so a timer never fires before
/// the duration it was given has passed; the sum saturates instead of overflowing.
impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, rhs: Duration) -> Instant {
        let ms = u64::try_from(rhs.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        Instant::from_millis(self.as_millis().saturating_add(ms))
    }
}

/// Milliseconds since the epoch, a plain number.
#[cfg(feature = "serde")]
impl serde::Serialize for Instant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.as_millis())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Instant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <u64 as serde::Deserialize>::deserialize(d).map(Instant::from_millis)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.as_millis();
        write!(f, "{}.{:03}s", ms / 1000, ms % 1000)
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
    fn an_optional_instant_costs_no_more_than_an_instant() {
        assert_eq!(size_of::<Option<Instant>>(), 8);
        assert_eq!(Instant::ZERO.as_millis(), 0);
        assert_eq!(Instant::from_millis(1234).as_millis(), 1234);
        assert!(Instant::from_millis(1) > Instant::ZERO);
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
