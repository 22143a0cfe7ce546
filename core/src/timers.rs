//! Timers: what each is for, and one table of deadlines indexed by timer.

use crate::time::Instant;

/// Every timer a connection can run; each is optional in the config except the flush and
/// shutdown timers. The stream runs all but `Frame`, which belongs to the echo layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Timer {
    /// No progress in either direction.
    Idle,
    /// A started line did not complete in time.
    Frame,
    /// Output pending, none of it written.
    WriteStall,
    /// Closing, with output pending that could not be written: the peer stopped reading.
    Flush,
    /// After our FIN, the peer did not close its side in time.
    Linger,
    /// After a shutdown request, the connection did not finish in time.
    Shutdown,
    /// A protocol layer's handshake (TLS, WebSocket) did not complete in time.
    Handshake,
}

impl Timer {
    /// Every timer, most severe first: when several are due at once they fire in this
    /// order, and a shutdown, stall or flush timeout releases the connection outright,
    /// which makes the gentler ones moot.
    pub const ALL: [Timer; 7] = [
        Timer::Shutdown,
        Timer::Handshake,
        Timer::WriteStall,
        Timer::Flush,
        Timer::Linger,
        Timer::Frame,
        Timer::Idle,
    ];

    /// A short lowercase name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            Timer::Idle => "idle timeout",
            Timer::Frame => "frame timeout",
            Timer::WriteStall => "write stall timeout",
            Timer::Flush => "flush timeout",
            Timer::Linger => "linger timeout",
            Timer::Shutdown => "shutdown timeout",
            Timer::Handshake => "handshake timeout",
        }
    }
}

/// The deadline of every running timer: one slot per [`Timer`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines([Option<Instant>; Timer::ALL.len()]);

impl Deadlines {
    /// When `timer` fires, if it runs.
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.0[timer as usize]
    }

    /// Starts (`Some`) or stops (`None`) a timer.
    pub fn set(&mut self, timer: Timer, at: Option<Instant>) {
        self.0[timer as usize] = at;
    }

    /// The running timers and their deadlines, most severe first.
    pub fn iter(&self) -> impl Iterator<Item = (Timer, Instant)> + '_ {
        Timer::ALL
            .into_iter()
            .filter_map(|timer| self.get(timer).map(|at| (timer, at)))
    }

    /// The earliest deadline and its timer (the most severe one on a tie).
    pub fn earliest(&self) -> Option<(Instant, Timer)> {
        self.iter()
            .map(|(timer, at)| (at, timer))
            .min_by_key(|&(at, _)| at)
    }

    /// The timers due at `now`, most severe first.
    pub fn due(&self, now: Instant) -> impl Iterator<Item = Timer> + '_ {
        self.iter()
            .filter(move |&(_, at)| at <= now)
            .map(|(timer, _)| timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_severe_due_timer_comes_first() {
        let mut d = Deadlines::default();
        let at = Instant::from_millis;
        d.set(Timer::Idle, Some(at(10)));
        d.set(Timer::Shutdown, Some(at(10)));
        d.set(Timer::Linger, Some(at(20)));
        assert_eq!(d.earliest(), Some((at(10), Timer::Shutdown)));
        assert_eq!(
            d.due(at(10)).collect::<Vec<_>>(),
            [Timer::Shutdown, Timer::Idle]
        );
        d.set(Timer::Shutdown, None);
        assert_eq!(d.earliest(), Some((at(10), Timer::Idle)));
    }
}
