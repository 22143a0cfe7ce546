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

/// Lets a repeated warning through at most once per interval and counts the rest, so a
/// flood of the same failure cannot flood the log.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    /// At most one message per `interval`.
    pub const fn new(interval: Duration) -> Self {
        RateLimit {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(n)` when a message may be logged now, `n` being how many were suppressed
    /// since the last one; `None` when this one is suppressed.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|last| now.saturating_since(last) < self.interval)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
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

    #[test]
    fn a_rate_limit_counts_what_it_suppresses() {
        let mut limit = RateLimit::new(Duration::from_secs(1));
        let at = Instant::from_millis;
        assert_eq!(limit.allow(at(0)), Some(0));
        assert_eq!(limit.allow(at(10)), None);
        assert_eq!(limit.allow(at(999)), None);
        assert_eq!(limit.allow(at(1000)), Some(2));
        assert_eq!(limit.allow(at(1500)), None);
    }
}
