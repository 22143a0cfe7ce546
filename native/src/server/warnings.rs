//! Warnings that a hostile load can set off by the thousand — a peer per over-long line,
//! a connect storm at the connection limit, a run out of descriptors, forged datagrams —
//! rate-limited per kind: the first few of each second are logged as they are, the rest
//! are counted and reported in one line when the second is over.

use std::time::Duration;

use reverb_core::{Instant, PeerError};

use crate::clock::RateLimit;

/// The window over which warnings of one kind are limited.
const INTERVAL: Duration = Duration::from_secs(1);

/// Warnings of one kind logged per window (per event loop): enough to show the peers and
/// the shape of a problem, few enough that 2 000 bad peers a second cost a dozen lines.
const BURST: u32 = 10;

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Warning {
    /// A new connection closed at once: `--max-connections` are open.
    ConnectionLimit,
    /// `accept` failed for want of descriptors or memory.
    OutOfDescriptors,
    /// A peer sent a line over `--max-line`.
    LineTooLong,
    /// A peer's collection went over `--max-collect`.
    CollectTooLarge,
    /// A peer sent the fault word.
    FaultWord,
    /// A new connection closed at once: its address holds `--max-connections-per-ip`.
    PerIpLimit,
    /// A datagram from a service's source port (or one below 1024) went unanswered.
    UdpSourcePort,
    /// A UDP peer was found in an echo loop with us.
    UdpLoop,
    /// A UDP source went over its token bucket.
    UdpRateLimit,
}

impl Warning {
    const ALL: [Warning; 9] = [
        Warning::ConnectionLimit,
        Warning::OutOfDescriptors,
        Warning::LineTooLong,
        Warning::CollectTooLarge,
        Warning::FaultWord,
        Warning::PerIpLimit,
        Warning::UdpSourcePort,
        Warning::UdpLoop,
        Warning::UdpRateLimit,
    ];

    /// The kind of warning a peer error is.
    pub(crate) fn of(error: PeerError) -> Warning {
        match error {
            PeerError::LineTooLong { .. } => Warning::LineTooLong,
            PeerError::CollectTooLarge { .. } => Warning::CollectTooLarge,
            PeerError::FaultInjected => Warning::FaultWord,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Warning::ConnectionLimit => "connection limit",
            Warning::OutOfDescriptors => "out of descriptors",
            Warning::LineTooLong => "line too long",
            Warning::CollectTooLarge => "collect too large",
            Warning::FaultWord => "fault word",
            Warning::PerIpLimit => "per-address connection limit",
            Warning::UdpSourcePort => "udp source port",
            Warning::UdpLoop => "udp echo loop",
            Warning::UdpRateLimit => "udp source rate limit",
        }
    }
}

/// One rate limit per [`Warning`] kind, for one event loop.
#[derive(Debug)]
pub(crate) struct Warnings {
    limits: [RateLimit; Warning::ALL.len()],
}

impl Warnings {
    pub(crate) fn new() -> Self {
        Warnings {
            limits: [RateLimit::new(INTERVAL, BURST); Warning::ALL.len()],
        }
    }

    /// Whether a warning of this kind may be logged now; if not, it is counted for the
    /// summary.
    pub(crate) fn allow(&mut self, kind: Warning, now: Instant) -> bool {
        // A finished window's count is reported before a new window opens.
        self.report_one(kind, now);
        self.limits[kind as usize].allow(now)
    }

    /// When a window that held warnings back ends: the loop wakes then to report them.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.limits.iter().filter_map(RateLimit::deadline).min()
    }

    /// Logs one line per kind whose window is over and held warnings back.
    pub(crate) fn report(&mut self, now: Instant) {
        for kind in Warning::ALL {
            self.report_one(kind, now);
        }
    }

    fn report_one(&mut self, kind: Warning, now: Instant) {
        let limit = &mut self.limits[kind as usize];
        if let Some(suppressed) = limit.take_suppressed(now) {
            tracing::warn!(
                kind = kind.name(),
                suppressed,
                "{suppressed} more \"{}\" warnings in the last {} s were not logged",
                kind.name(),
                limit.interval().as_secs()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_limited_separately_and_report_when_their_window_ends() {
        let mut warnings = Warnings::new();
        let now = Instant::from_millis(0);
        for _ in 0..BURST {
            assert!(warnings.allow(Warning::LineTooLong, now));
        }
        assert!(!warnings.allow(Warning::LineTooLong, now));
        assert!(
            warnings.allow(Warning::FaultWord, now),
            "another kind has its own budget"
        );
        assert_eq!(warnings.next_deadline(), Some(now + INTERVAL));
        warnings.report(now + INTERVAL);
        assert_eq!(
            warnings.next_deadline(),
            None,
            "reported, so no more wake-ups"
        );
    }
}
