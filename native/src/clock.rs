//! The driver's clock: `std::time::Instant` (monotonic) turned into the core's
//! millisecond [`reverb_core::Instant`], and deadlines turned back into poll timeouts.

use std::time::{Duration, Instant as StdInstant};

use reverb_core::Instant;

/// Milliseconds since an epoch taken when the clock was made. Monotonic: it never steps
/// back, so the core's timers never fire early or late because of a wall-clock change.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: StdInstant,
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn start() -> Self {
        Clock {
            epoch: StdInstant::now(),
        }
    }

    /// Now, in whole milliseconds since the epoch (truncated: a deadline at `t` is due
    /// only once `t` whole milliseconds have passed).
    pub fn now(&self) -> Instant {
        let ms = self.epoch.elapsed().as_millis();
        Instant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// How long to sleep until `deadline`, or `None` to sleep until readiness. Exact to
    /// the nanosecond; mio rounds it up to whole milliseconds, so the loop wakes at or
    /// after the deadline, never a busy millisecond before it.
    pub fn timeout_until(&self, deadline: Option<Instant>) -> Option<Duration> {
        let at = Duration::from_millis(deadline?.as_millis());
        Some(at.saturating_sub(self.epoch.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_past_deadline_is_a_zero_timeout_and_none_is_forever() {
        let clock = Clock::start();
        assert_eq!(clock.timeout_until(None), None);
        assert_eq!(
            clock.timeout_until(Some(Instant::ZERO)),
            Some(Duration::ZERO)
        );
        let later = clock
            .timeout_until(Some(Instant::from_millis(60_000)))
            .unwrap();
        assert!(later > Duration::from_secs(59));
    }
}
