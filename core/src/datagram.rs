//! UDP echo: one datagram in, one out, with the same prefix and suffix as TCP — and,
//! through [`DatagramEcho::answer`], never to a source that would make it a weapon: not
//! to a service's port, not to a peer in an echo loop with us, not beyond a source's
//! token bucket.

use thiserror::Error;

use crate::config::{Framing, ValidConfig};
use crate::framing::{split_terminator, wrap};
use crate::loops::{LoopDetector, LoopVerdict, PortPolicy};
use crate::sources::{Source, SourceLimiter, SourceLimits};
use crate::time::Instant;

/// Why a datagram got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DatagramError {
    /// The reply (prefix + payload + suffix) would exceed `max_datagram`.
    #[error("reply of {len} bytes exceeds max datagram ({limit} bytes)")]
    TooLarge {
        /// The reply's length.
        len: usize,
        /// The configured `max_datagram`.
        limit: usize,
    },
}

/// Why [`DatagramEcho::answer`] sent no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Unanswered {
    /// The source port is a datagram service's or, by default, below 1024: answering
    /// could start a loop with that service.
    #[error("source port {port} is a service's, not a client's: not answered")]
    SourcePort {
        /// The source port.
        port: u16,
    },
    /// The source keeps sending back what we last sent it: an echo loop. `found` is true
    /// for the datagram that showed it (log that one), false while it goes on.
    #[error("echo loop: the peer keeps sending back what we sent it")]
    Loop {
        /// Whether this datagram is the one that found the loop.
        found: bool,
    },
    /// The source address has used its token bucket (datagrams or bytes per second).
    #[error("over its source's rate limit")]
    RateLimited,
    /// The reply would not fit `max_datagram`.
    #[error(transparent)]
    Echo(#[from] DatagramError),
}

/// What [`DatagramEcho::answer`] checks each source against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DatagramGuards {
    /// Which source ports are answered at all.
    pub ports: PortPolicy,
    /// Each source address's token buckets.
    pub limits: SourceLimits,
    /// Keys the per-source tables' hashes: pass a random number, so that no sender can
    /// aim its forged sources at one table slot.
    pub seed: u64,
}

/// Counters of a [`DatagramEcho`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DatagramCounters {
    /// Datagrams answered.
    pub echoed: u64,
    /// Datagrams dropped (reply too large).
    pub dropped: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Reply bytes produced.
    pub bytes_out: u64,
    /// Datagrams not answered because of their source port.
    pub refused_port: u64,
    /// Datagrams not answered because their source is in an echo loop with us.
    pub looped: u64,
    /// Echo loops found (each logged once).
    pub loops_found: u64,
    /// Datagrams not answered because their source was over its rate limit.
    pub rate_limited: u64,
}

/// The UDP echo. Datagrams have no stream: each datagram is one frame. In `line` and
/// `collect` framing the suffix goes before a trailing line terminator, as on TCP; quit
/// and fault words do not apply. The only state per source is what [`answer`] keeps to
/// refuse loops and floods, in tables of fixed size.
///
/// [`answer`]: DatagramEcho::answer
#[derive(Debug)]
pub struct DatagramEcho {
    config: ValidConfig,
    counters: DatagramCounters,
    ports: PortPolicy,
    loops: LoopDetector,
    limiter: SourceLimiter,
}

impl DatagramEcho {
    /// A UDP echo with `config`'s prefix, suffix, framing and `max_datagram`, and the
    /// default guards (with a fixed seed: a driver facing a network passes its own
    /// through [`guarded`](Self::guarded)).
    pub fn new(config: ValidConfig) -> Self {
        Self::guarded(config, DatagramGuards::default())
    }

    /// A UDP echo whose [`answer`](Self::answer) checks sources against `guards`. The
    /// tables are allocated on the first datagram.
    pub fn guarded(config: ValidConfig, guards: DatagramGuards) -> Self {
        DatagramEcho {
            config,
            counters: DatagramCounters::default(),
            ports: guards.ports,
            loops: LoopDetector::new(guards.seed),
            limiter: SourceLimiter::new(guards.limits, guards.seed),
        }
    }

    /// The reply to `payload` from `source` at `now`, written into `reply`, or why there
    /// is none. In order: a refused source port; an echo loop with the source; the
    /// source's token buckets (charged with the reply's length); the reply's size. A
    /// datagram refused by one check costs nothing in the later ones.
    pub fn answer<'b>(
        &mut self,
        now: Instant,
        source: Source,
        payload: &[u8],
        reply: &'b mut Vec<u8>,
    ) -> Result<&'b [u8], Unanswered> {
        if self.ports.refuses(source.port) {
            self.counters.bytes_in += payload.len() as u64;
            self.counters.refused_port += 1;
            return Err(Unanswered::SourcePort { port: source.port });
        }
        match self.loops.check(now, source, payload) {
            LoopVerdict::Clear => {}
            verdict => {
                let found = verdict == LoopVerdict::Found;
                self.counters.bytes_in += payload.len() as u64;
                self.counters.looped += 1;
                self.counters.loops_found += u64::from(found);
                return Err(Unanswered::Loop { found });
            }
        }
        let echo = &self.config.echo;
        let len = echo.prefix.len() + payload.len() + echo.suffix.len();
        if len <= echo.max_datagram && !self.limiter.admit(now, source.ip, len) {
            self.counters.bytes_in += payload.len() as u64;
            self.counters.rate_limited += 1;
            return Err(Unanswered::RateLimited);
        }
        let reply = self.echo(payload, reply)?;
        self.loops.answered(now, source, reply);
        Ok(reply)
    }

    /// Writes the reply to `payload` into `reply` (cleared first) and returns it: the
    /// echo alone, with no check of where the datagram came from ([`answer`] makes
    /// those). The buffer is the caller's so a driver reuses one allocation for every
    /// datagram.
    ///
    /// [`answer`]: Self::answer
    pub fn echo<'b>(
        &mut self,
        payload: &[u8],
        reply: &'b mut Vec<u8>,
    ) -> Result<&'b [u8], DatagramError> {
        let echo = &self.config.echo;
        let (prefix, suffix) = (&echo.prefix, &echo.suffix);
        let len = prefix.len() + payload.len() + suffix.len();
        self.counters.bytes_in += payload.len() as u64;
        if len > echo.max_datagram {
            self.counters.dropped += 1;
            return Err(DatagramError::TooLarge {
                len,
                limit: echo.max_datagram,
            });
        }
        let (content, terminator) = match echo.framing {
            Framing::Raw => (payload, &[][..]),
            Framing::Line | Framing::Collect => split_terminator(payload),
        };
        reply.clear();
        wrap(reply, prefix, content, suffix, terminator);
        self.counters.echoed += 1;
        self.counters.bytes_out += len as u64;
        Ok(reply)
    }

    /// Counters so far.
    pub fn counters(&self) -> &DatagramCounters {
        &self.counters
    }

    /// The per-source token buckets (how many sources they track, how many were
    /// evicted).
    pub fn limiter(&self) -> &SourceLimiter {
        &self.limiter
    }

    /// The loop detector (how many peers it remembers).
    pub fn loop_detector(&self) -> &LoopDetector {
        &self.loops
    }
}
