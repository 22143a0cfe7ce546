//! A connection's timers: when each started, and which one is due first.

use core::time::Duration;

use crate::output::Timer;
use crate::time::Instant;

/// Start times of the running timers; a timer's deadline is its start plus its configured
/// duration. Keeping starts rather than deadlines makes "progress resets the idle timer" a
/// single store on the hot path.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Timers {
    /// Last progress in either direction (always set; the idle timer runs only if
    /// configured and the connection still reads).
    pub(crate) last_progress: Instant,
    /// When the current partial line got its first byte.
    pub(crate) frame_started: Option<Instant>,
    /// When output became pending, or last moved.
    pub(crate) stall_since: Option<Instant>,
    /// When our FIN was sent.
    pub(crate) fin_at: Option<Instant>,
    /// When shutdown was requested.
    pub(crate) shutdown_at: Option<Instant>,
}

/// The configured durations, copied out of the config so deadlines need no lookups.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Durations {
    pub(crate) idle: Option<Duration>,
    pub(crate) frame: Option<Duration>,
    pub(crate) write_stall: Option<Duration>,
    pub(crate) linger: Option<Duration>,
    pub(crate) shutdown: Duration,
}

/// Deadlines of the timers that are running, one field per [`Timer`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Idle timeout.
    pub idle: Option<Instant>,
    /// Frame (slowloris) timeout.
    pub frame: Option<Instant>,
    /// Write stall timeout.
    pub write_stall: Option<Instant>,
    /// Linger after our FIN.
    pub linger: Option<Instant>,
    /// Shutdown deadline.
    pub shutdown: Option<Instant>,
}

impl Deadlines {
    /// The earliest deadline and its timer.
    pub fn earliest(&self) -> Option<(Instant, Timer)> {
        [
            (self.shutdown, Timer::Shutdown),
            (self.write_stall, Timer::WriteStall),
            (self.linger, Timer::Linger),
            (self.frame, Timer::Frame),
            (self.idle, Timer::Idle),
        ]
        .into_iter()
        .filter_map(|(at, timer)| at.map(|at| (at, timer)))
        .min_by_key(|&(at, _)| at)
    }

    /// The timers due at `now`, most severe first: a shutdown or a stall releases the
    /// connection outright, which makes the gentler ones moot.
    pub(crate) fn due(self, now: Instant) -> impl Iterator<Item = Timer> {
        [
            (self.shutdown, Timer::Shutdown),
            (self.write_stall, Timer::WriteStall),
            (self.linger, Timer::Linger),
            (self.frame, Timer::Frame),
            (self.idle, Timer::Idle),
        ]
        .into_iter()
        .filter(move |(at, _)| at.is_some_and(|at| at <= now))
        .map(|(_, timer)| timer)
    }
}

impl Timers {
    /// Deadlines given which timers the connection's phase lets run.
    pub(crate) fn deadlines(&self, d: &Durations, reading: bool) -> Deadlines {
        let after = |start: Option<Instant>, dur: Option<Duration>| Some(start? + dur?);
        Deadlines {
            idle: if reading {
                after(Some(self.last_progress), d.idle)
            } else {
                None
            },
            frame: if reading {
                after(self.frame_started, d.frame)
            } else {
                None
            },
            write_stall: after(self.stall_since, d.write_stall),
            linger: after(self.fin_at, d.linger),
            shutdown: after(self.shutdown_at, Some(d.shutdown)),
        }
    }
}
