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
use std::sync::Arc;

use mio::net::UdpSocket;
use reverb_core::{
    DatagramCounters, DatagramEcho, DatagramFaults, DatagramGuards, Instant, Source, Unanswered,
    ValidConfig, Verdict, LOOP_WINDOW,
};

use super::metrics::{self, WorkerMetrics};
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
    /// Datagrams the core answered whose reply never went out: dropped on purpose
    /// (`--drop`), or every send of it failed. The core's `echoed` counts them; the
    /// metrics' `echoed` does not.
    unanswered: u64,
    /// `--drop`, `--duplicate`, `--reorder`, when any is on.
    faults: Option<DatagramFaults>,
    /// The one reply held back to be reordered, and where it goes.
    held: Option<(Vec<u8>, SocketAddr)>,
    injected: Injected,
    /// Reply bytes the socket took.
    sent_bytes: u64,
    /// Where this socket's totals are published for the metrics: the worker's cells and
    /// this socket's index among them.
    metrics: (Arc<WorkerMetrics>, usize),
}

/// What the datagram faults did.
#[derive(Debug, Default, Clone, Copy)]
struct Injected {
    dropped: u64,
    duplicated: u64,
    reordered: u64,
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
    /// `number` tells this socket's random fault choices from every other's.
    pub(crate) fn new(
        socket: UdpSocket,
        config: ValidConfig,
        guards: DatagramGuards,
        number: u64,
        metrics: (Arc<WorkerMetrics>, usize),
    ) -> Self {
        let faults = DatagramFaults::new(&config.faults, number);
        UdpEcho {
            socket,
            faults: faults.is_active().then_some(faults),
            echo: DatagramEcho::guarded(config, guards),
            buf: vec![0; RECV_BUFFER],
            reply: Vec::new(),
            send_dropped: 0,
            unanswered: 0,
            held: None,
            injected: Injected::default(),
            sent_bytes: 0,
            metrics,
        }
    }

    /// When the reply held back for reordering must go, if one is.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.faults.as_ref()?.deadline()
    }

    /// Sends the held reply once its hold is over, though nothing overtook it.
    pub(crate) fn on_timeout(&mut self, now: Instant) {
        if self.deadline().is_some_and(|at| at <= now) {
            self.send_held();
            self.publish();
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
            datagrams_fault_dropped: self.injected.dropped,
            datagrams_duplicated: self.injected.duplicated,
            datagrams_reordered: self.injected.reordered,
            ..WorkerStats::default()
        }
    }

    /// Publishes this socket's totals to the metrics.
    fn publish(&self) {
        publish(
            &self.metrics,
            self.echo.counters(),
            self.sent_bytes,
            self.send_dropped,
            self.injected.dropped,
            self.unanswered,
        );
    }

    /// Reads and answers datagrams until `WouldBlock` or the budget.
    pub(crate) fn on_readable(&mut self, now: Instant, warnings: &mut Warnings) -> Drained {
        let drained = self.answer_batch(now, warnings);
        self.publish();
        drained
    }

    fn answer_batch(&mut self, now: Instant, warnings: &mut Warnings) -> Drained {
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
            let verdict = match &mut self.faults {
                Some(faults) => faults.decide(now),
                None => Verdict::Send,
            };
            // Before the reply goes: a client that has its echo and then scrapes finds it
            // counted.
            publish(
                &self.metrics,
                self.echo.counters(),
                self.sent_bytes,
                self.send_dropped,
                self.injected.dropped,
                self.unanswered,
            );
            match verdict {
                Verdict::Send => {
                    let failed = send(&self.socket, reply, from);
                    tally(
                        &mut self.send_dropped,
                        &mut self.sent_bytes,
                        reply.len(),
                        failed,
                    );
                    self.unanswered += failed;
                }
                Verdict::SendTwice => {
                    self.injected.duplicated += 1;
                    let first = send(&self.socket, reply, from);
                    tally(
                        &mut self.send_dropped,
                        &mut self.sent_bytes,
                        reply.len(),
                        first,
                    );
                    let second = send(&self.socket, reply, from);
                    tally(
                        &mut self.send_dropped,
                        &mut self.sent_bytes,
                        reply.len(),
                        second,
                    );
                    // Answered if either copy went.
                    self.unanswered += first & second;
                }
                Verdict::Drop => {
                    self.injected.dropped += 1;
                    self.unanswered += 1;
                }
                Verdict::HoldBack => {
                    // The core holds back one reply at a time: nothing is held now.
                    self.injected.reordered += 1;
                    self.held = Some((reply.to_vec(), from));
                    continue;
                }
            }
            // A reply went out: the held one follows it, overtaken.
            self.send_held();
        }
        Drained::More
    }

    fn send_held(&mut self) {
        if let Some((held, to)) = self.held.take() {
            let failed = send(&self.socket, &held, to);
            tally(
                &mut self.send_dropped,
                &mut self.sent_bytes,
                held.len(),
                failed,
            );
            self.unanswered += failed;
            if let Some(faults) = &mut self.faults {
                faults.sent_held();
            }
        }
    }
}

/// Publishes a socket's totals (the core's counts and the socket's own) to the metrics:
/// stores of totals both already keep, so nothing is counted twice. `echoed` is what was
/// answered: the core's count less the datagrams whose reply never went out.
fn publish(
    (worker, i): &(Arc<WorkerMetrics>, usize),
    c: &DatagramCounters,
    sent_bytes: u64,
    send_dropped: u64,
    injected_dropped: u64,
    unanswered: u64,
) {
    let Some(cells) = worker.udp.get(*i) else {
        return;
    };
    cells.bytes_in.set(c.bytes_in);
    cells.bytes_out.set(sent_bytes);
    cells.echoed.set(c.echoed.saturating_sub(unanswered));
    for why in metrics::Unanswered::ALL {
        let n = match why {
            metrics::Unanswered::TooLarge => c.dropped,
            metrics::Unanswered::SendFailed => send_dropped,
            metrics::Unanswered::SourcePort => c.refused_port,
            metrics::Unanswered::EchoLoop => c.looped,
            metrics::Unanswered::RateLimited => c.rate_limited,
            metrics::Unanswered::Injected => injected_dropped,
        };
        cells.dropped[why as usize].set(n);
    }
}

/// Counts one reply of `len` bytes: sent, or dropped because the socket could not take it.
fn tally(dropped: &mut u64, sent_bytes: &mut u64, len: usize, failed: u64) {
    *dropped += failed;
    if failed == 0 {
        *sent_bytes += len as u64;
    }
}

/// Sends one reply; returns 1 if the socket could not take it (UDP is lossy by contract:
/// a full send buffer drops the reply, it is not queued), 0 otherwise.
fn send(socket: &UdpSocket, reply: &[u8], to: SocketAddr) -> u64 {
    loop {
        match socket.send_to(reply, to) {
            Ok(_) => return 0,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::debug!(peer = %to, error = %e, "udp reply dropped");
                return 1;
            }
        }
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
