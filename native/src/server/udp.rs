//! UDP echo on one socket of one event loop: each datagram through the core's
//! [`DatagramEcho::answer`], the reply sent back to its source. UDP is lossy by contract,
//! so a reply the socket cannot take now is dropped and counted, never queued.
//!
//! A datagram's source is only what its sender wrote, so the core decides per source
//! whether to answer at all (service ports, echo loops, token buckets); this module
//! turns the socket address into the core's [`Source`], logs the refusals through the
//! rate-limited [`Warnings`] and counts them.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;
use reverb_core::{
    DatagramEcho, DatagramGuards, Instant, Source, Unanswered, ValidConfig, LOOP_WINDOW,
};

use super::stats::WorkerStats;
use super::warnings::{Warning, Warnings};

/// Datagrams handled per readiness event before the socket goes to the back of the queue,
/// so a flood on UDP cannot starve the TCP connections of the same loop.
const DATAGRAM_BUDGET: usize = 64;

/// Room for the largest datagram (65 507 bytes over IPv4) with one byte to spare: a
/// datagram that fills the buffer entirely may have been truncated.
const RECV_BUFFER: usize = 64 * 1024;

/// One UDP echo socket.
#[derive(Debug)]
pub(crate) struct UdpEcho {
    pub(crate) socket: UdpSocket,
    echo: DatagramEcho,
    buf: Vec<u8>,
    reply: Vec<u8>,
    /// Replies the socket could not take (send buffer full, or an error).
    pub(crate) send_dropped: u64,
}

/// Whether a UDP socket has more to read than its budget allowed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Drained {
    /// Read until `WouldBlock`.
    Empty,
    /// The budget ran out: read again before sleeping (readiness will not repeat).
    More,
}

impl UdpEcho {
    pub(crate) fn new(socket: UdpSocket, config: ValidConfig, guards: DatagramGuards) -> Self {
        UdpEcho {
            socket,
            echo: DatagramEcho::guarded(config, guards),
            buf: vec![0; RECV_BUFFER],
            reply: Vec::new(),
            send_dropped: 0,
        }
    }

    /// What this socket answered and refused, as the worker's statistics count it.
    pub(crate) fn stats(&self) -> WorkerStats {
        let c = self.echo.counters();
        WorkerStats {
            datagrams_echoed: c.echoed,
            datagrams_dropped: c.dropped + self.send_dropped,
            datagrams_source_port: c.refused_port,
            datagrams_looped: c.looped,
            loops_found: c.loops_found,
            datagrams_rate_limited: c.rate_limited,
            ..WorkerStats::default()
        }
    }

    /// Reads and answers datagrams until `WouldBlock` or the budget.
    pub(crate) fn on_readable(&mut self, now: Instant, warnings: &mut Warnings) -> Drained {
        for _ in 0..DATAGRAM_BUDGET {
            let (len, from) = match self.socket.recv_from(&mut self.buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drained::Empty,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // An ICMP error for an earlier reply (port unreachable) surfaces here;
                    // it concerns that one peer only.
                    tracing::debug!(error = %e, "udp receive error");
                    continue;
                }
            };
            let answer = self
                .echo
                .answer(now, source(from), &self.buf[..len], &mut self.reply);
            let reply = match answer {
                Ok(reply) => reply,
                Err(refused) => {
                    log_refusal(refused, from, warnings, now);
                    continue;
                }
            };
            loop {
                match self.socket.send_to(reply, from) {
                    Ok(_) => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.send_dropped += 1;
                        tracing::debug!(peer = %from, error = %e, "udp reply dropped");
                        break;
                    }
                }
            }
        }
        Drained::More
    }
}

/// The core's name for a socket address: IPv4 as IPv4-mapped IPv6.
fn source(addr: SocketAddr) -> Source {
    match addr {
        SocketAddr::V4(a) => Source::v4(a.ip().octets(), a.port()),
        SocketAddr::V6(a) => Source::v6(a.ip().octets(), a.port()),
    }
}

fn log_refusal(refused: Unanswered, peer: SocketAddr, warnings: &mut Warnings, now: Instant) {
    let warning = match refused {
        Unanswered::SourcePort { .. } => Warning::UdpSourcePort,
        Unanswered::Loop { found: true } => Warning::UdpLoop,
        Unanswered::RateLimited => Warning::UdpRateLimit,
        Unanswered::Loop { found: false } | Unanswered::Echo(_) => {
            tracing::debug!(%peer, "udp datagram not answered: {refused}");
            return;
        }
    };
    if !warnings.allow(warning, now) {
        return;
    }
    match refused {
        Unanswered::SourcePort { port } => tracing::warn!(
            %peer,
            "udp datagram from source port {port} not answered: ports below 1024 are \
             services (7 echo, 19 chargen, ...), and answering one could start an endless \
             loop (--udp-allow-low-source-ports answers all but 0, 7, 9, 13, 17, 19, 37)"
        ),
        Unanswered::Loop { .. } => tracing::warn!(
            %peer,
            "udp echo loop: this peer keeps sending back what we sent it; not answering it \
             until it has been quiet for {} s",
            LOOP_WINDOW.as_secs()
        ),
        _ => tracing::warn!(
            %peer,
            "udp source over its rate limit (--udp-source-rate, --udp-source-bandwidth): \
             datagrams not answered until its bucket refills"
        ),
    }
}
