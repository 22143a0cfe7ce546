//! The open loop's schedule (`--rate`): messages fall due at fixed times whether or not a
//! connection is free to take them, so a slow server cannot slow the load down and hide
//! its own slowness (coordinated omission).
//!
//! Message `k` is meant for `k × interval` (ns on the run's clock). A message that fell due
//! and found no free connection waits in the backlog and goes out late, still timed from
//! its intended time (as wrk2 does); one still waiting when the run ends was never sent,
//! and is counted, not forgotten. The backlog is two counters, not a queue: the intended
//! times follow from the indices, so a server that falls far behind costs no memory.

/// The schedule of one bench thread.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    /// Nanoseconds between two messages.
    interval: f64,
    /// Messages that fell due so far: the next one's index.
    due: u64,
    /// Messages handed to a connection so far; `sent..due` is the backlog.
    sent: u64,
    /// The first message of the measured window; `first..` are measured.
    first: u64,
    /// `--requests`: the end of the measured messages; none falls due past it.
    last: Option<u64>,
}

impl Schedule {
    /// `rate` messages per second (positive and finite); the measured window starts at
    /// `from` (ns) and, with `requests`, holds that many messages.
    pub(crate) fn new(rate: f64, from: u64, requests: Option<u64>) -> Self {
        // At least 1 ns apart: a rate above 10⁹/s is no rate the loop could keep anyway.
        let interval = (1e9 / rate).max(1.0);
        // The first index whose intended time is at or after `from`.
        let first = (from as f64 / interval).ceil() as u64;
        Schedule {
            interval,
            due: 0,
            sent: 0,
            first,
            last: requests.map(|n| first.saturating_add(n)),
        }
    }

    /// When message `k` is meant to be sent (ns).
    fn intended(&self, k: u64) -> u64 {
        (k as f64 * self.interval) as u64
    }

    /// Every message meant for `until` (ns) or earlier falls due, except past the measured
    /// messages of `--requests`.
    pub(crate) fn fall_due(&mut self, until: u64) {
        // intended(k) <= until  ⇔  k·interval < until + 1  ⇔  k < (until + 1) / interval.
        let mut end = ((until as f64 + 1.0) / self.interval).ceil() as u64;
        if let Some(last) = self.last {
            end = end.min(last);
        }
        self.due = self.due.max(end);
    }

    /// When the next message falls due (ns).
    pub(crate) fn next_due_at(&self) -> u64 {
        self.intended(self.due)
    }

    /// Whether every measured message of `--requests` has fallen due.
    pub(crate) fn complete(&self) -> bool {
        self.last.is_some_and(|last| self.due >= last)
    }

    /// Messages that fell due and wait for a connection.
    pub(crate) fn backlog(&self) -> u64 {
        self.due - self.sent
    }

    /// The intended time of the oldest waiting message.
    pub(crate) fn oldest(&self) -> Option<u64> {
        (self.backlog() > 0).then(|| self.intended(self.sent))
    }

    /// Hands the oldest waiting message to a connection: its intended time.
    pub(crate) fn take(&mut self) -> Option<u64> {
        let at = self.oldest()?;
        self.sent += 1;
        Some(at)
    }

    /// Measured messages that fell due.
    pub(crate) fn due_measured(&self) -> u64 {
        self.due.saturating_sub(self.first)
    }

    /// Measured messages that fell due and were never handed to a connection. The backlog
    /// is first in, first out, so these are its newest entries.
    pub(crate) fn unsent_measured(&self) -> u64 {
        self.due_measured() - self.sent.saturating_sub(self.first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn messages_fall_due_on_time_whether_or_not_they_are_taken() {
        let mut s = Schedule::new(200.0, 0, None); // one every 5 ms
        s.fall_due(0);
        assert_eq!(s.backlog(), 1, "message 0 is due at once");
        s.fall_due(12 * MS);
        assert_eq!(s.backlog(), 3, "0, 5 and 10 ms");
        assert_eq!(s.next_due_at(), 15 * MS);
        assert_eq!(s.take(), Some(0));
        assert_eq!(s.take(), Some(5 * MS));
        s.fall_due(15 * MS);
        assert_eq!(s.backlog(), 2);
        assert_eq!(
            s.oldest(),
            Some(10 * MS),
            "late messages keep their intended time"
        );
    }

    #[test]
    fn a_message_due_exactly_now_has_fallen_due() {
        let mut s = Schedule::new(1000.0, 0, None);
        s.fall_due(MS - 1);
        assert_eq!(s.backlog(), 1);
        s.fall_due(MS);
        assert_eq!(s.backlog(), 2);
    }

    #[test]
    fn every_due_message_of_the_window_is_sent_or_counted_as_unsent() {
        // Window [1 s, 2 s) at 200 msg/s: exactly 200 messages are measured.
        let mut s = Schedule::new(200.0, 1000 * MS, None);
        s.fall_due(2000 * MS - 1);
        assert_eq!(s.due_measured(), 200);
        // 400 fell due since the start; a slow server took only the first 40.
        for _ in 0..40 {
            s.take();
        }
        assert_eq!(s.unsent_measured(), 200, "only warmup messages went out");
        // Then 300 in all: 100 of the window went out late, 100 never did.
        for _ in 0..260 {
            s.take();
        }
        assert_eq!(s.unsent_measured(), 100);
        assert_eq!(s.due_measured(), 200);
    }

    #[test]
    fn requests_bound_the_measured_messages() {
        let mut s = Schedule::new(1000.0, 10 * MS, Some(5));
        s.fall_due(u64::MAX / 2);
        assert!(s.complete());
        assert_eq!(s.due_measured(), 5);
        assert_eq!(s.backlog(), 15, "10 warmup messages and the 5 measured");
    }

    #[test]
    fn rates_below_one_per_second_still_fall_due() {
        let mut s = Schedule::new(0.5, 0, None); // one every 2 s
        s.fall_due(1999 * MS);
        assert_eq!(s.backlog(), 1);
        s.fall_due(2000 * MS);
        assert_eq!(s.backlog(), 2);
    }
}
