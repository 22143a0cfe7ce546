//! What the server did: per-worker counters, summed into the summary line printed at exit.

use std::fmt;
use std::ops::AddAssign;

use reverb_core::RegistryCounters;

/// Counters of one worker (or, summed, of the whole server).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkerStats {
    /// The core registry's counters. Its `refused` includes the connections the driver
    /// closed at once because the process-wide `--max-connections` was reached.
    pub tcp: RegistryCounters,
    /// UDP datagrams answered.
    pub datagrams_echoed: u64,
    /// UDP datagrams not answered (too large, or the socket was full).
    pub datagrams_dropped: u64,
}

impl AddAssign for WorkerStats {
    fn add_assign(&mut self, o: WorkerStats) {
        self.tcp += o.tcp;
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
        let (s, t) = (&self.stats, &self.stats.tcp);
        if let Some(signal) = self.signal {
            write!(f, "stopped by {signal}: ")?;
        } else {
            f.write_str("stopped: ")?;
        }
        write!(
            f,
            "{} ({} graceful, {}, {}, {} timed out, {} reset), {} refused, {} in, {} out, {} \
             echoed, {} dropped",
            count(t.closed, "connection"),
            t.graceful,
            count(t.faults, "fault"),
            count(t.peer_errors, "peer error"),
            t.timeouts,
            t.resets,
            t.refused,
            count(t.bytes_in, "byte"),
            count(t.bytes_out, "byte"),
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
                tcp: RegistryCounters {
                    closed: 1,
                    graceful: 1,
                    refused: 2,
                    bytes_in: 6,
                    bytes_out: 6,
                    ..RegistryCounters::default()
                },
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
