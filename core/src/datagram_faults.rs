//! UDP faults: replies dropped, duplicated or reordered on purpose.

use core::time::Duration;

use crate::config::{FaultConfig, Probability};
use crate::rng::Rng;
use crate::time::Instant;

/// How long a reply held back to be reordered waits for a next one to overtake it before
/// it goes anyway: reordering, not loss, whatever the traffic.
pub const REORDER_HOLD: Duration = Duration::from_millis(100);

/// What becomes of one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it once, as usual.
    Send,
    /// Drop it.
    Drop,
    /// Send it twice.
    SendTwice,
    /// Hold it back: send it right after the next reply that is sent, or at
    /// [`DatagramFaults::deadline`], whichever comes first.
    HoldBack,
}

/// The fate of each reply of one UDP socket, from the config's `drop`, `duplicate` and
/// `reorder` probabilities and a seeded generator. The driver keeps the one reply held
/// back (at most one at a time) and reports when it sent it.
#[derive(Debug, Clone)]
pub struct DatagramFaults {
    drop: Option<Probability>,
    duplicate: Option<Probability>,
    reorder: Option<Probability>,
    rng: Rng,
    held_since: Option<Instant>,
}

impl DatagramFaults {
    /// The faults of `config` for the socket numbered `socket` (its own random choices).
    pub fn new(config: &FaultConfig, socket: u64) -> Self {
        DatagramFaults {
            drop: config.drop,
            duplicate: config.duplicate,
            reorder: config.reorder,
            rng: Rng::new(config.seed ^ !socket.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            held_since: None,
        }
    }

    /// Whether any datagram fault is on.
    pub fn is_active(&self) -> bool {
        self.drop.is_some() || self.duplicate.is_some() || self.reorder.is_some()
    }

    /// Decides the fate of the next reply, at `now`. A drop is drawn first, then a reorder
    /// (only while no reply is held), then a duplicate.
    pub fn decide(&mut self, now: Instant) -> Verdict {
        if self.drop.is_some_and(|p| p.hit(&mut self.rng)) {
            return Verdict::Drop;
        }
        if self.held_since.is_none() && self.reorder.is_some_and(|p| p.hit(&mut self.rng)) {
            self.held_since = Some(now);
            return Verdict::HoldBack;
        }
        if self.duplicate.is_some_and(|p| p.hit(&mut self.rng)) {
            return Verdict::SendTwice;
        }
        Verdict::Send
    }

    /// The driver sent the reply it held back.
    pub fn sent_held(&mut self) {
        self.held_since = None;
    }

    /// When the held reply must go even if no other overtakes it.
    pub fn deadline(&self) -> Option<Instant> {
        Some(self.held_since? + REORDER_HOLD)
    }
}
