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
        self.read().0
    }

    /// Now, both as [`now`](Self::now) gives it and as the monotonic clock read: one read
    /// for a loop that needs the precise time as well (the echo latency's start).
    pub fn read(&self) -> (Instant, StdInstant) {
        let precise = StdInstant::now();
        let ms = precise.saturating_duration_since(self.epoch).as_millis();
        (
            Instant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)),
            precise,
        )
    }

    /// How long to sleep until `deadline`, or `None` to sleep until readiness. Exact to
    /// the nanosecond; mio rounds it up to whole milliseconds, so the loop wakes at or
    /// after the deadline, never a busy millisecond before it.
    pub fn timeout_until(&self, deadline: Option<Instant>) -> Option<Duration> {
        let at = Duration::from_millis(deadline?.as_millis());
        Some(at.saturating_sub(self.epoch.elapsed()))
    }
}

/// Lets the first few of a repeated message through in each window of time and counts
/// the rest, so that a flood of the same failure cannot flood the log, while the first
/// ones (usually the telling ones) are kept and the count of the others is not lost.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    interval: Duration,
    burst: u32,
    /// Start of the current window, while one is open.
    window: Option<Instant>,
    /// Messages let through in the current window.
    used: u32,
    /// Messages held back in the current window.
    suppressed: u64,
}

impl RateLimit {
    /// At most `burst` messages per `interval`.
    pub const fn new(interval: Duration, burst: u32) -> Self {
        RateLimit {
            interval,
            burst,
            window: None,
            used: 0,
            suppressed: 0,
        }
    }

    /// Whether a message may be logged now; if not, it is counted. Call
    /// [`take_suppressed`](Self::take_suppressed) first, or a finished window's count is
    /// carried into the next one.
    pub fn allow(&mut self, now: Instant) -> bool {
        let open = self
            .window
            .is_some_and(|start| now.saturating_since(start) < self.interval);
        if !open {
            self.window = Some(now);
            self.used = 0;
        }
        if self.used < self.burst {
            self.used += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }

    /// Once the window that held messages back is over: how many it held back (and the
    /// count starts again). `None` while the window is open or nothing was held back.
    pub fn take_suppressed(&mut self, now: Instant) -> Option<u64> {
        let end = self.deadline()?;
        (now >= end).then(|| std::mem::take(&mut self.suppressed))
    }

    /// When the current window ends, if it has held messages back: the time to report
    /// them even if no further message comes.
    pub fn deadline(&self) -> Option<Instant> {
        let start = self.window.filter(|_| self.suppressed > 0)?;
        Some(start + self.interval)
    }

    /// The window's length.
    pub fn interval(&self) -> Duration {
        self.interval
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
    fn a_rate_limit_keeps_the_first_ones_and_counts_the_rest() {
        let mut limit = RateLimit::new(Duration::from_secs(1), 2);
        let at = Instant::from_millis;
        assert!(limit.allow(at(0)));
        assert!(limit.allow(at(10)));
        assert_eq!(limit.deadline(), None, "nothing held back yet");
        assert!(!limit.allow(at(20)));
        assert!(!limit.allow(at(999)));
        assert_eq!(limit.deadline(), Some(at(1000)));
        assert_eq!(
            limit.take_suppressed(at(999)),
            None,
            "the window is still open"
        );
        assert_eq!(limit.take_suppressed(at(1000)), Some(2));
        assert_eq!(limit.take_suppressed(at(1001)), None, "reported once");
        assert_eq!(limit.deadline(), None);
        assert!(
            limit.allow(at(1500)),
            "a new window lets the first ones through"
        );
        assert!(limit.allow(at(1501)));
        assert!(!limit.allow(at(1502)));
    }
}
