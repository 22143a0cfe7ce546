//! What the server did: per-worker counters, summed into the summary line printed at exit.

use std::fmt;
use std::ops::AddAssign;

use reverb_core::RegistryCounters;

/// Counters of one worker (or, summed, of the whole server).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkerStats {
    /// The core registry's counters. Its `refused` includes the connections the driver
    /// closed at once because the process-wide `--max-connections` was reached, or the
    /// client's address held `--max-connections-per-ip`.
    pub tcp: RegistryCounters,
    /// Of `tcp.refused`, those refused for `--max-connections-per-ip`.
    pub refused_per_ip: u64,
    /// UDP datagrams answered.
    pub datagrams_echoed: u64,
    /// UDP datagrams not answered (too large, or the socket was full).
    pub datagrams_dropped: u64,
    /// UDP datagrams not answered for their source port.
    pub datagrams_source_port: u64,
    /// UDP datagrams not answered because their peer was in an echo loop with us.
    pub datagrams_looped: u64,
    /// Echo loops found.
    pub loops_found: u64,
    /// UDP datagrams not answered because their source was over its rate limit.
    pub datagrams_rate_limited: u64,
    /// UDP replies dropped on purpose (`--drop`).
    pub datagrams_fault_dropped: u64,
    /// UDP replies sent twice on purpose (`--duplicate`).
    pub datagrams_duplicated: u64,
    /// UDP replies held back and sent after the next one (`--reorder`).
    pub datagrams_reordered: u64,
    /// TCP connections whose PROXY protocol header was read.
    pub proxied: u64,
    /// TCP connections closed without a valid PROXY protocol header.
    pub proxy_refused: u64,
}

impl AddAssign for WorkerStats {
    fn add_assign(&mut self, o: WorkerStats) {
        self.tcp += o.tcp;
        self.refused_per_ip += o.refused_per_ip;
        self.datagrams_echoed += o.datagrams_echoed;
        self.datagrams_dropped += o.datagrams_dropped;
        self.datagrams_source_port += o.datagrams_source_port;
        self.datagrams_looped += o.datagrams_looped;
        self.loops_found += o.loops_found;
        self.datagrams_rate_limited += o.datagrams_rate_limited;
        self.datagrams_fault_dropped += o.datagrams_fault_dropped;
        self.datagrams_duplicated += o.datagrams_duplicated;
        self.datagrams_reordered += o.datagrams_reordered;
        self.proxied += o.proxied;
        self.proxy_refused += o.proxy_refused;
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
        )?;
        // What the security limits refused, only when they refused anything, so the
        // line stays short on an ordinary run.
        if s.proxied + s.proxy_refused > 0 {
            write!(
                f,
                "; {} with a PROXY header, {} without a valid one",
                count(s.proxied, "connection"),
                s.proxy_refused
            )?;
        }
        if s.refused_per_ip > 0 {
            write!(
                f,
                "; {} refused at --max-connections-per-ip",
                count(s.refused_per_ip, "connection")
            )?;
        }
        let unanswered = s.datagrams_source_port + s.datagrams_looped + s.datagrams_rate_limited;
        if unanswered > 0 {
            write!(
                f,
                "; {} not answered ({} over their source's rate, {} from service ports, {} in \
                 {})",
                count(unanswered, "datagram"),
                s.datagrams_rate_limited,
                s.datagrams_source_port,
                s.datagrams_looped,
                count(s.loops_found, "echo loop"),
            )?;
        }
        let injected = s.datagrams_fault_dropped + s.datagrams_duplicated + s.datagrams_reordered;
        if injected > 0 {
            write!(
                f,
                "; injected: {} dropped, {} duplicated, {} reordered",
                count(s.datagrams_fault_dropped, "reply"),
                s.datagrams_duplicated,
                s.datagrams_reordered,
            )?;
        }
        Ok(())
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

    #[test]
    fn what_the_security_limits_refused_is_added_with_its_reasons() {
        let summary = Summary {
            stats: WorkerStats {
                tcp: RegistryCounters {
                    refused: 3,
                    ..RegistryCounters::default()
                },
                refused_per_ip: 1,
                datagrams_echoed: 9,
                datagrams_rate_limited: 5,
                datagrams_source_port: 2,
                datagrams_looped: 1,
                loops_found: 1,
                ..WorkerStats::default()
            },
            signal: None,
        };
        assert!(
            summary.to_string().ends_with(
                "3 refused, 0 bytes in, 0 bytes out, 9 datagrams echoed, 0 dropped; 1 \
                 connection refused at --max-connections-per-ip; 8 datagrams not answered (5 \
                 over their source's rate, 2 from service ports, 1 in 1 echo loop)"
            ),
            "{summary}"
        );
    }
}
