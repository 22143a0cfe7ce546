//! The server's faults seen from the client's side: which ways of ending a connection the
//! user said to expect (`--expect-resets`, `--expect-closes`, for a server run with
//! `--reset-after`, `--close-after` or `--fault-chance`), and what each expected end cost:
//! how many, after how many echoed bytes, and the messages in flight lost with them.
//!
//! An expected end is no failure: the bench counts it, opens a new connection in its
//! place and carries on. Everything else the server does wrong (a wrong, missing or
//! reordered byte, a stall, an end of the other kind) still fails the run.

/// How the server ended a connection, as the client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// A reset (RST): reading or writing failed with "connection reset" or "broken pipe".
    Reset,
    /// A close (FIN): reading reached the end of the stream.
    Close,
}

/// Which ends the server announced, so that the bench counts them instead of failing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expect {
    /// `--expect-resets`.
    pub resets: bool,
    /// `--expect-closes`.
    pub closes: bool,
}

impl Expect {
    /// Whether `end` is expected.
    pub(crate) fn allows(self, end: End) -> bool {
        match end {
            End::Reset => self.resets,
            End::Close => self.closes,
        }
    }

    /// Whether any end is expected (connections are then re-opened).
    pub fn any(self) -> bool {
        self.resets || self.closes
    }
}

/// What the expected ends of one kind did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ends {
    /// Connections the server ended this way.
    pub count: u64,
    /// Messages in flight on them (sent or queued, not yet fully echoed): lost with the
    /// connection, and counted here instead of as a failure.
    pub lost: u64,
    /// Echoed bytes received on those connections before their end, summed.
    pub bytes: u64,
    /// The fewest echoed bytes any of them received (0 when `count` is 0).
    pub min_bytes: u64,
    /// The most echoed bytes any of them received.
    pub max_bytes: u64,
}

impl Ends {
    /// One more connection ended this way after `bytes` echoed, with `lost` messages in
    /// flight.
    pub(crate) fn record(&mut self, bytes: u64, lost: u64) {
        self.min_bytes = if self.count == 0 {
            bytes
        } else {
            self.min_bytes.min(bytes)
        };
        self.max_bytes = self.max_bytes.max(bytes);
        self.count += 1;
        self.lost += lost;
        self.bytes = self.bytes.saturating_add(bytes);
    }

    /// Adds another thread's ends of the same kind.
    pub(crate) fn merge(&mut self, other: &Ends) {
        if other.count == 0 {
            return;
        }
        self.min_bytes = if self.count == 0 {
            other.min_bytes
        } else {
            self.min_bytes.min(other.min_bytes)
        };
        self.max_bytes = self.max_bytes.max(other.max_bytes);
        self.count += other.count;
        self.lost += other.lost;
        self.bytes = self.bytes.saturating_add(other.bytes);
    }

    /// Echoed bytes before the end, on average (`None`: no end of this kind).
    pub fn mean_bytes(&self) -> Option<f64> {
        (self.count > 0).then(|| self.bytes as f64 / self.count as f64)
    }
}

/// The expected ends of both kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expected {
    /// Resets, under `--expect-resets`.
    pub resets: Ends,
    /// Closes, under `--expect-closes`.
    pub closes: Ends,
}

impl Expected {
    /// The ends of kind `end`.
    pub(crate) fn of(&mut self, end: End) -> &mut Ends {
        match end {
            End::Reset => &mut self.resets,
            End::Close => &mut self.closes,
        }
    }

    /// Adds another thread's ends.
    pub(crate) fn merge(&mut self, other: &Expected) {
        self.resets.merge(&other.resets);
        self.closes.merge(&other.closes);
    }

    /// Messages lost with expected ends of either kind.
    pub fn lost(&self) -> u64 {
        self.resets.lost + self.closes.lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_keep_count_loss_and_the_range_of_bytes_before_them() {
        let mut ends = Ends::default();
        assert_eq!(ends.mean_bytes(), None);
        ends.record(1024, 1);
        ends.record(1000, 0);
        ends.record(1048, 2);
        assert_eq!(ends.count, 3);
        assert_eq!(ends.lost, 3);
        assert_eq!((ends.min_bytes, ends.max_bytes), (1000, 1048));
        assert_eq!(ends.mean_bytes(), Some(1024.0));
    }

    #[test]
    fn merging_threads_keeps_the_range_and_ignores_threads_with_no_end() {
        let mut a = Ends::default();
        a.merge(&Ends::default());
        assert_eq!(a, Ends::default(), "no end: min stays 0, not u64::MAX");
        let mut b = Ends::default();
        b.record(500, 1);
        a.merge(&b);
        let mut c = Ends::default();
        c.record(700, 0);
        c.record(300, 4);
        a.merge(&c);
        assert_eq!(a.count, 3);
        assert_eq!(a.lost, 5);
        assert_eq!((a.min_bytes, a.max_bytes), (300, 700));
        assert_eq!(a.mean_bytes(), Some(500.0));
    }

    #[test]
    fn only_the_announced_kind_is_expected() {
        let resets = Expect {
            resets: true,
            closes: false,
        };
        assert!(resets.allows(End::Reset));
        assert!(!resets.allows(End::Close));
        assert!(resets.any());
        assert!(!Expect::default().any());
        let mut expected = Expected::default();
        expected.of(End::Close).record(10, 2);
        expected.of(End::Reset).record(10, 3);
        assert_eq!(expected.lost(), 5);
    }
}
