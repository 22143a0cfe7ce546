//! What the server did: per-worker counters, summed into the summary line printed at exit.

use std::fmt;
use std::ops::AddAssign;

/// Counters of one worker (or, summed, of the whole server).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkerStats {
    /// Connections accepted into a registry.
    pub accepted: u64,
    /// Connections closed at once: limit reached or shutting down.
    pub refused: u64,
    /// Connections closed after being served.
    pub closed: u64,
    /// …gracefully.
    pub graceful: u64,
    /// …by the fault word.
    pub faults: u64,
    /// …by another peer error.
    pub peer_errors: u64,
    /// …by a timer.
    pub timeouts: u64,
    /// …by a transport failure.
    pub resets: u64,
    /// Bytes taken from TCP peers.
    pub bytes_in: u64,
    /// Bytes written to TCP peers.
    pub bytes_out: u64,
    /// Frames echoed over TCP.
    pub frames: u64,
    /// UDP datagrams answered.
    pub datagrams_echoed: u64,
    /// UDP datagrams not answered (too large, or the socket was full).
    pub datagrams_dropped: u64,
}

impl AddAssign for WorkerStats {
    fn add_assign(&mut self, o: WorkerStats) {
        self.accepted += o.accepted;
        self.refused += o.refused;
        self.closed += o.closed;
        self.graceful += o.graceful;
        self.faults += o.faults;
        self.peer_errors += o.peer_errors;
        self.timeouts += o.timeouts;
        self.resets += o.resets;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        self.frames += o.frames;
        self.datagrams_echoed += o.datagrams_echoed;
        self.datagrams_dropped += o.datagrams_dropped;
    }
}

/// What a server did, over all its threads.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Worker statistics, summed.
    pub stats: WorkerStats,
    /// The signal that stopped the server, if one did.
    pub signal: Option<&'static str>,
}

impl Summary {
    pub(crate) fn add(&mut self, stats: &WorkerStats) {
        self.stats += *stats;
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        if let Some(signal) = self.signal {
            write!(f, "stopped by {signal}: ")?;
        } else {
            f.write_str("stopped: ")?;
        }
        write!(
            f,
            "{} ({} graceful, {}, {}, {} timed out, {} reset), {} refused, {} in, {} out, {} \
             echoed, {} dropped",
            count(s.closed, "connection"),
            s.graceful,
            count(s.faults, "fault"),
            count(s.peer_errors, "peer error"),
            s.timeouts,
            s.resets,
            s.refused,
            count(s.bytes_in, "byte"),
            count(s.bytes_out, "byte"),
            count(s.datagrams_echoed, "datagram"),
            s.datagrams_dropped,
        )
    }
}

/// `1 connection`, `2 connections`.
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_reads_as_a_sentence() {
        let summary = Summary {
            stats: WorkerStats {
                closed: 1,
                graceful: 1,
                refused: 2,
                bytes_in: 6,
                bytes_out: 6,
                ..WorkerStats::default()
            },
            signal: Some("SIGTERM"),
        };
        assert_eq!(
            summary.to_string(),
            "stopped by SIGTERM: 1 connection (1 graceful, 0 faults, 0 peer errors, 0 timed \
             out, 0 reset), 2 refused, 6 bytes in, 6 bytes out, 0 datagrams echoed, 0 dropped"
        );
    }
}
