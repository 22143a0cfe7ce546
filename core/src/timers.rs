//! A connection's timers: when each started, and which one is due first.

use core::time::Duration;

use crate::output::Timer;
use crate::time::Instant;

/// An emptied output queue keeps its allocation this long before giving it back: long
/// enough that a connection echoing at least once a second never allocates per message,
/// short enough that a burst's memory returns soon after the burst (10 000 connections
/// that each echoed 64 KiB once would otherwise hold 640 MB doing nothing).
pub(crate) const TRIM_AFTER: Duration = Duration::from_secs(1);

/// Start times of the running timers; a timer's deadline is its start plus its configured
/// duration. Keeping starts rather than deadlines makes "progress resets the idle timer" a
/// single store on the hot path.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Timers {
    /// Last progress in either direction (always set; the idle timer runs only if
    /// configured and the connection still reads).
    pub(crate) last_progress: Instant,
    /// When the current partial line got its first byte, moved later by the time reading
    /// was paused: the frame timer measures the peer, not our backpressure.
    pub(crate) frame_started: Option<Instant>,
    /// When reading was paused by backpressure, while it is.
    pub(crate) paused_since: Option<Instant>,
    /// When output became pending, or last moved.
    pub(crate) stall_since: Option<Instant>,
    /// When our FIN was sent.
    pub(crate) fin_at: Option<Instant>,
    /// When shutdown was requested.
    pub(crate) shutdown_at: Option<Instant>,
    /// When to give back buffers that grew large and are now empty.
    pub(crate) trim_at: Option<Instant>,
}

/// The configured durations, copied out of the config so deadlines need no lookups.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Durations {
    pub(crate) idle: Option<Duration>,
    pub(crate) frame: Option<Duration>,
    pub(crate) write_stall: Option<Duration>,
    pub(crate) flush: Duration,
    pub(crate) linger: Option<Duration>,
    pub(crate) shutdown: Duration,
}

/// Which timers a connection's state lets run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Running {
    /// Open and taking input: the idle timer runs.
    pub(crate) reading: bool,
    /// Reading paused by backpressure: the frame timer stands still.
    pub(crate) paused: bool,
    /// Closing and not yet past our FIN: the flush timer runs while output is pending.
    pub(crate) flushing: bool,
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
    /// Flush timeout: closing with output the peer does not read.
    pub flush: Option<Instant>,
    /// Linger after our FIN.
    pub linger: Option<Instant>,
    /// Shutdown deadline.
    pub shutdown: Option<Instant>,
}

impl Deadlines {
    /// Every timer with its deadline, most severe first: a shutdown, a stall or a flush
    /// timeout releases the connection outright, which makes the gentler ones moot.
    fn all(&self) -> [(Option<Instant>, Timer); 6] {
        [
            (self.shutdown, Timer::Shutdown),
            (self.write_stall, Timer::WriteStall),
            (self.flush, Timer::Flush),
            (self.linger, Timer::Linger),
            (self.frame, Timer::Frame),
            (self.idle, Timer::Idle),
        ]
    }

    /// The earliest deadline and its timer.
    pub fn earliest(&self) -> Option<(Instant, Timer)> {
        self.all()
            .into_iter()
            .filter_map(|(at, timer)| at.map(|at| (at, timer)))
            .min_by_key(|&(at, _)| at)
    }

    /// The timers due at `now`, most severe first.
    pub(crate) fn due(self, now: Instant) -> impl Iterator<Item = Timer> {
        self.all()
            .into_iter()
            .filter(move |(at, _)| at.is_some_and(|at| at <= now))
            .map(|(_, timer)| timer)
    }
}

impl Timers {
    /// Deadlines given which timers the connection's state lets run.
    pub(crate) fn deadlines(&self, d: &Durations, running: Running) -> Deadlines {
        let after = |start: Option<Instant>, dur: Option<Duration>| Some(start? + dur?);
        let when = |on: bool, at: Option<Instant>| if on { at } else { None };
        Deadlines {
            idle: when(running.reading, after(Some(self.last_progress), d.idle)),
            frame: when(
                running.reading && !running.paused,
                after(self.frame_started, d.frame),
            ),
            write_stall: after(self.stall_since, d.write_stall),
            flush: when(running.flushing, after(self.stall_since, Some(d.flush))),
            linger: after(self.fin_at, d.linger),
            shutdown: after(self.shutdown_at, Some(d.shutdown)),
        }
    }

    /// Reading paused by backpressure at `now`: the frame timer stops.
    pub(crate) fn pause(&mut self, now: Instant) {
        self.paused_since.get_or_insert(now);
    }

    /// Reading resumed at `now`: a partial line's frame timer goes on where it stopped.
    pub(crate) fn resume(&mut self, now: Instant) {
        if let Some(since) = self.paused_since.take() {
            if let Some(start) = &mut self.frame_started {
                *start = *start + now.saturating_since(since);
            }
        }
    }
}
