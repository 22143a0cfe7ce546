//! The TCP connections of one event loop: sockets beside a core [`Registry`], driven by
//! the run-loop contract of `reverb-core`.
//!
//! Per connection this module only moves bytes and time: it reads at most
//! `receive_capacity()`, drains `poll_output` after every input, writes the borrowed
//! slices, and derives the registered interest from the core after every drain. What is
//! echoed, when to close and why are the core's decisions.

use std::collections::VecDeque;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use mio::net::TcpStream;
use mio::{Interest, Token};
use reverb_core::{
    CloseReason, ConnId, Counters, Event, Input, Instant, Output, PeerError, Registry,
    RegistryError, Timer, ValidConfig,
};

use super::memory::MemoryReturn;
use super::metrics::{ListenerCells, Refusal, WorkerMetrics};
use super::stack::{Plan, Stack};
use super::warnings::{Warning, Warnings};
use super::Control;
use crate::net::{read_once, write_until_blocked, ReadOutcome, Registration};

/// Reads per readiness event before the connection goes to the back of the queue: with
/// 64 KiB reads, one firehose client moves 1 MiB per turn and then lets the others go.
const READ_BUDGET: usize = 16;

/// How far one readiness event's reading goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadUntil {
    /// Until a read returns less than it asked for. On Linux a stream socket's read that
    /// returns short has emptied the receive queue, and edge-triggered epoll reports data
    /// arriving after it as a new event; so the read that would only say `WouldBlock` is
    /// skipped: 2 syscalls per echo instead of 3 (what tokio does on epoll).
    ShortRead,
    /// Until `WouldBlock`: where no event vouches for the next one (the read queue, the
    /// peer's FIN already reported) and on other systems.
    WouldBlock,
}

/// The selector token of a connection: its id's bits. Slot indices stay below
/// [`MAX_CONNECTIONS_LIMIT`](super::MAX_CONNECTIONS_LIMIT), far from the reserved
/// tokens of listeners and wakers.
pub(crate) fn token(id: ConnId) -> Token {
    Token(id.to_bits() as usize)
}

const _: () = assert!(
    usize::BITS >= 64,
    "a connection token holds a 64-bit ConnId"
);

/// Where a connection stands with the PROXY protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proxied {
    /// Its listener takes no PROXY header.
    No,
    /// Its header is still to come.
    Awaiting,
    /// Its header was read: the client it names (`None`: none, a balancer's own health
    /// check, so the peer is the client).
    Read(Option<SocketAddr>),
}

/// One open connection's socket and what the driver keeps about it.
#[derive(Debug)]
struct Conn {
    id: ConnId,
    stream: TcpStream,
    peer: SocketAddr,
    /// The PROXY header, for listeners that take one: the client it names is the one the
    /// logs give.
    proxied: Proxied,
    /// What is registered with the selector now.
    registration: Registration,
    opened: Instant,
    /// `worker/n` for logs: the n-th connection of that worker.
    name: ConnName,
    /// Whether `--max-connections-per-ip` counts it (to uncount at release).
    per_ip: bool,
    /// Whether the connection is in the read queue.
    queued: bool,
    /// Its listener's index, for the metrics.
    listener: usize,
    /// With `--admin`: when the loop woke to read the bytes whose echo is being written,
    /// for the echo latency histogram.
    received_at: Option<StdInstant>,
    /// Whether the core echoed frames since then: what a layer writes of its own — a
    /// TLS handshake flight, a WebSocket handshake answer or close frame — is no echo.
    echoed: bool,
}

/// A connection's name in the logs, `worker/n`: formatted when a line is written, so an
/// idle connection holds two numbers rather than a string of its own on the heap.
#[derive(Debug, Clone, Copy)]
struct ConnName {
    worker: usize,
    number: u64,
}

impl std::fmt::Display for ConnName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.worker, self.number)
    }
}

/// Every TCP connection of one event loop.
#[derive(Debug)]
pub(crate) struct Connections {
    registry: Registry<Stack>,
    conns: Vec<Option<Conn>>,
    buf: Vec<u8>,
    /// Connections to read from before the next poll: their read budget ran out with data
    /// left, or the core resumed reading (`Event::ReadResumed`). Edge-triggered readiness
    /// will not report either again.
    read_queue: VecDeque<ConnId>,
    control: Arc<Control>,
    worker: usize,
    /// Connections closed at once because `--max-connections` were open, or their
    /// address held `--max-connections-per-ip`.
    pub(crate) refused: u64,
    /// Of `refused`, those refused for `--max-connections-per-ip`.
    pub(crate) refused_per_ip: u64,
    /// This event loop's rate-limited warnings (the worker's too).
    pub(crate) warnings: Warnings,
    /// Freed buffer memory waiting to be returned to the system.
    pub(crate) memory: MemoryReturn,
    /// Connections whose PROXY header was read.
    pub(crate) proxied: u64,
    /// Connections closed without a valid PROXY header.
    pub(crate) proxy_refused: u64,
    /// This loop's metric cells, per listener.
    metrics: Arc<WorkerMetrics>,
    /// Whether to time echoes (`--admin` given): one clock read per echo, skipped when
    /// nobody can see the histogram.
    timing: bool,
    /// When the loop last woke with readiness to handle: where the latency of the echoes
    /// of what it reads starts.
    pub(crate) woke: StdInstant,
}

impl Connections {
    pub(crate) fn new(
        worker: usize,
        config: ValidConfig,
        read_size: usize,
        control: Arc<Control>,
        metrics: Arc<WorkerMetrics>,
        timing: bool,
    ) -> Self {
        Connections {
            registry: Registry::new(config),
            conns: Vec::new(),
            buf: vec![0; read_size],
            read_queue: VecDeque::new(),
            control,
            worker,
            refused: 0,
            refused_per_ip: 0,
            warnings: Warnings::new(),
            memory: MemoryReturn::default(),
            proxied: 0,
            proxy_refused: 0,
            metrics,
            timing,
            woke: StdInstant::now(),
        }
    }

    /// The metric cells of a connection's listener.
    fn cells(&self, listener: usize) -> Option<&ListenerCells> {
        self.metrics.tcp.get(listener)
    }

    pub(crate) fn registry(&self) -> &Registry<Stack> {
        &self.registry
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.registry.is_empty()
    }

    pub(crate) fn has_queued_reads(&self) -> bool {
        !self.read_queue.is_empty()
    }

    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.registry.next_deadline()
    }

    /// Takes a freshly accepted socket, or closes it at once when a limit is reached (the
    /// process's, or the client address's) or the loop is shutting down.
    pub(crate) fn admit(
        &mut self,
        selector: &mio::Registry,
        mut stream: TcpStream,
        peer: SocketAddr,
        listener: usize,
        plan: &Plan,
        now: Instant,
    ) {
        let max = self.registry.config().stream.max_connections;
        if self.control.live.fetch_add(1, Ordering::AcqRel) >= max {
            self.control.live.fetch_sub(1, Ordering::AcqRel);
            self.refused += 1;
            if let Some(cells) = self.cells(listener) {
                cells.refused(Refusal::MaxConnections);
            }
            if self.warnings.allow(Warning::ConnectionLimit, now) {
                tracing::warn!(%peer, "{}: closing new connections", RegistryError::Full(max));
            }
            return;
        }
        let per_ip = match self.control.per_ip.open(peer.ip()) {
            Ok(counted) => counted,
            Err(limit) => {
                self.control.live.fetch_sub(1, Ordering::AcqRel);
                self.refused += 1;
                self.refused_per_ip += 1;
                if let Some(cells) = self.cells(listener) {
                    cells.refused(Refusal::MaxConnectionsPerIp);
                }
                if self.warnings.allow(Warning::PerIpLimit, now) {
                    tracing::warn!(
                        %peer,
                        "{limit} connections from this address are open \
                         (--max-connections-per-ip): closing its new ones"
                    );
                }
                return;
            }
        };
        // Connection numbers are unique across threads: the worker's index above its own
        // count. They seed each connection's fault layer.
        let number = (self.worker as u64) << 40 | self.registry.counters().accepted;
        let local = stream.local_addr().ok();
        let stack = Stack::new(plan, number, now, peer, local);
        let id = match self.registry.accept_with(now, stack) {
            Ok(id) => id,
            Err(e) => {
                self.control.live.fetch_sub(1, Ordering::AcqRel);
                if per_ip {
                    self.control.per_ip.close(peer.ip());
                }
                let why = match e {
                    RegistryError::Full(_) => Refusal::MaxConnections,
                    _ => Refusal::ShuttingDown,
                };
                if let Some(cells) = self.cells(listener) {
                    cells.refused(why);
                }
                tracing::debug!(%peer, "connection refused: {e}");
                return;
            }
        };
        if let Some(cells) = self.cells(listener) {
            cells.accepted.add(1);
        }
        // Echoing a large message in pieces meets Nagle plus delayed ACK without this:
        // ~40 ms per round trip.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
        }
        let interest = Interest::READABLE;
        let registered = selector.register(&mut stream, token(id), interest);
        let index = id.index() as usize;
        if self.conns.len() <= index {
            self.conns.resize_with(index + 1, || None);
        }
        let name = ConnName {
            worker: self.worker,
            number: self.registry.counters().accepted,
        };
        if self.registry.config().faults.is_active() {
            let seed = self.registry.config().faults.seed;
            tracing::info!(%peer, conn = %name, fault_seed = seed, fault_conn = number, "connection opened");
        } else {
            tracing::info!(%peer, conn = %name, "connection opened");
        }
        self.conns[index] = Some(Conn {
            id,
            stream,
            peer,
            proxied: if plan.proxy {
                Proxied::Awaiting
            } else {
                Proxied::No
            },
            registration: Registration::registered(interest),
            opened: now,
            name,
            per_ip,
            queued: false,
            listener,
            received_at: None,
            echoed: false,
        });
        if let Err(e) = registered {
            tracing::warn!(%peer, error = %e, "cannot register connection");
            if let Some(conn) = self.conns[index].as_mut() {
                conn.registration = Registration::default();
            }
            self.input(id, now, Input::Reset);
            self.drain(selector, id, now);
        }
    }

    /// A readiness event for a connection's token. Events for released connections (a
    /// stale token) are ignored.
    pub(crate) fn on_event(
        &mut self,
        selector: &mio::Registry,
        token: Token,
        event: &mio::event::Event,
        now: Instant,
    ) {
        let id = ConnId::from_bits(token.0 as u64);
        let Some(conn) = self.conn(id) else { return };
        if event.is_error() {
            let error = match conn.stream.take_error() {
                Ok(Some(e)) | Err(e) => Some(e),
                Ok(None) => None,
            };
            if let Some(e) = error {
                tracing::debug!(peer = %conn.peer, error = %e, "socket error");
                self.input(id, now, Input::Reset);
                self.drain(selector, id, now);
                return;
            }
        }
        if event.is_writable() && self.registry.get(id).is_some_and(|c| c.wants_write()) {
            self.input(id, now, Input::Writable);
            self.drain(selector, id, now);
        }
        if event.is_readable() || event.is_read_closed() {
            // With the peer's FIN (or an error) in the event, no further event will come:
            // read until the end is seen. Otherwise a short read has emptied the socket.
            let until = if !cfg!(target_os = "linux") || event.is_read_closed() || event.is_error()
            {
                ReadUntil::WouldBlock
            } else {
                ReadUntil::ShortRead
            };
            self.read(selector, id, now, until);
        }
    }

    /// Reads from every queued connection once (each with a fresh budget).
    pub(crate) fn run_read_queue(&mut self, selector: &mio::Registry, now: Instant) {
        for _ in 0..self.read_queue.len() {
            let Some(id) = self.read_queue.pop_front() else {
                break;
            };
            if let Some(conn) = self.conn_mut(id) {
                conn.queued = false;
                // No event says what is there now: read until the socket says so.
                self.read(selector, id, now, ReadUntil::WouldBlock);
            }
        }
    }

    /// Fires due timers and drains every connection they touched.
    pub(crate) fn on_timeout(&mut self, selector: &mio::Registry, now: Instant) {
        self.registry.handle_timeout(now);
        self.drain_ready(selector, now);
    }

    /// Asks every connection to flush and close within `shutdown_timeout`.
    pub(crate) fn shutdown(&mut self, selector: &mio::Registry, now: Instant) {
        self.registry.shutdown(now);
        self.drain_ready(selector, now);
    }

    fn drain_ready(&mut self, selector: &mio::Registry, now: Instant) {
        while let Some(id) = self.registry.poll_ready() {
            self.drain(selector, id, now);
        }
    }

    fn conn(&self, id: ConnId) -> Option<&Conn> {
        let conn = self.conns.get(id.index() as usize)?.as_ref()?;
        (conn.id == id).then_some(conn)
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        let conn = self.conns.get_mut(id.index() as usize)?.as_mut()?;
        (conn.id == id).then_some(conn)
    }

    /// Feeds one input (a stale id takes nothing).
    fn input(&mut self, id: ConnId, now: Instant, input: Input<'_>) -> usize {
        self.registry.handle_input(id, now, input).unwrap_or(0)
    }

    /// Reads until `WouldBlock`, the core's capacity, or the budget; drains after each
    /// read (rule 2), so the echo of one read is written before the next read.
    fn read(&mut self, selector: &mio::Registry, id: ConnId, now: Instant, until: ReadUntil) {
        let mut buf = std::mem::take(&mut self.buf);
        let timing = self.timing.then_some(self.woke);
        for _ in 0..READ_BUDGET {
            let capacity = self.registry.get(id).map_or(0, |c| c.receive_capacity());
            let Some(conn) = self.conn_mut(id).filter(|_| capacity > 0) else {
                // Paused, closing, or gone: `ReadResumed` brings it back to the queue.
                self.buf = buf;
                return;
            };
            let limit = capacity.min(buf.len());
            let outcome = read_once(&mut conn.stream, &mut buf[..limit]);
            match outcome {
                ReadOutcome::Data(n) => {
                    if conn.received_at.is_none() {
                        conn.received_at = timing;
                    }
                    let listener = conn.listener;
                    if let Some(cells) = self.metrics.tcp.get(listener) {
                        cells.bytes_in.add(n as u64);
                    }
                    let taken = self.input(id, now, Input::Received(&buf[..n]));
                    debug_assert_eq!(taken, n, "a read within the capacity is taken whole");
                    if n < limit && until == ReadUntil::ShortRead {
                        self.drain(selector, id, now);
                        self.buf = buf;
                        return;
                    }
                }
                ReadOutcome::Closed => {
                    self.input(id, now, Input::PeerClosed);
                }
                ReadOutcome::WouldBlock => {
                    self.buf = buf;
                    return;
                }
                ReadOutcome::Failed(e) => {
                    tracing::debug!(peer = %conn.peer, error = %e, "read failed");
                    self.input(id, now, Input::Reset);
                }
            }
            self.drain(selector, id, now);
        }
        self.buf = buf;
        self.enqueue_read(id);
    }

    fn enqueue_read(&mut self, id: ConnId) {
        if let Some(conn) = self.conn_mut(id) {
            if !conn.queued {
                conn.queued = true;
                self.read_queue.push_back(id);
            }
        }
    }

    /// Rule 2: after an input, drain `poll_output` until `Timeout`, doing what each output
    /// asks; then derive the interest from the core's state.
    fn drain(&mut self, selector: &mio::Registry, id: ConnId, now: Instant) {
        let mut resumed = false;
        let mut wrote = false;
        loop {
            let Some(conn) = self
                .conns
                .get_mut(id.index() as usize)
                .and_then(Option::as_mut)
                .filter(|c| c.id == id)
            else {
                return;
            };
            if conn.proxied == Proxied::Awaiting {
                note_proxy(conn, &self.registry, &mut self.proxied);
            }
            let cells = self.metrics.tcp.get(conn.listener);
            let (written, error) = match self.registry.poll_output(id) {
                Output::Event(event) => {
                    resumed |= event == Event::ReadResumed;
                    conn.echoed |= matches!(event, Event::Echoed { .. });
                    if let Some(cells) = cells {
                        count_event(cells, event);
                    }
                    if let Event::BuffersReleased { .. } = event {
                        self.memory.released();
                    }
                    log_event(event, conn.peer, &mut self.warnings, now);
                    continue;
                }
                Output::Transmit(bytes) => {
                    // Rule 3: a short count means the socket is full; the core waits for
                    // `Writable` and the interest below asks for it.
                    let out = write_until_blocked(&mut conn.stream, bytes);
                    if let Some(cells) = cells {
                        cells.bytes_out.add(out.written as u64);
                    }
                    wrote |= out.written > 0;
                    (Some(out.written), out.stopped.and_then(Result::err))
                }
                Output::CloseWrite => match conn.stream.shutdown(Shutdown::Write) {
                    Ok(()) => continue,
                    // The peer reset first: nothing more can be sent or received.
                    Err(e) => (None, Some(e)),
                },
                Output::Release { reason, counters } => {
                    self.release(selector, id, reason, &counters, now);
                    return;
                }
                Output::Timeout(_) => break,
            };
            if let Some(written) = written {
                self.input(id, now, Input::Written(written));
            }
            if let Some(e) = error {
                let peer = self.conn(id).map(|c| c.peer);
                tracing::debug!(peer = ?peer, error = %e, "write failed");
                self.input(id, now, Input::Reset);
            }
        }
        if self.timing {
            self.time_echo(id, wrote);
        }
        self.update_interest(selector, id, now);
        if resumed {
            // Rule 4: edge-triggered readiness will not say so again.
            self.enqueue_read(id);
        }
    }

    /// After a drain: once nothing is left to write, the echo of what was read is out. If
    /// this drain wrote and the core echoed frames, that is an echo's latency; if not, the
    /// bytes read made no echo (a partial line, a handshake, a close frame) and the clock
    /// starts again at the next read.
    fn time_echo(&mut self, id: ConnId, wrote: bool) {
        let pending = self.registry.get(id).is_some_and(|c| c.wants_write());
        let Some(conn) = self.conn_mut(id).filter(|_| !pending) else {
            return;
        };
        let echoed = std::mem::take(&mut conn.echoed);
        let (Some(since), listener) = (conn.received_at.take(), conn.listener) else {
            return;
        };
        if wrote && echoed {
            if let Some(cells) = self.metrics.tcp.get(listener) {
                cells.latency.observe(since.elapsed());
            }
        }
    }

    /// READABLE while the core takes input, WRITABLE only while output is pending;
    /// the selector is told only when that changes.
    fn update_interest(&mut self, selector: &mio::Registry, id: ConnId, now: Instant) {
        let Some(core) = self.registry.get(id) else {
            return;
        };
        let want = Registration::interest(core.receive_capacity() > 0, core.wants_write());
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        let result = conn
            .registration
            .update(selector, &mut conn.stream, token(id), want);
        if let Err(e) = result {
            tracing::warn!(peer = %conn.peer, error = %e, "cannot update readiness interest");
            let _ = selector.deregister(&mut conn.stream);
            self.input(id, now, Input::Reset);
            self.drain(selector, id, now);
        }
    }

    /// `Release`: forget the socket and close it.
    fn release(
        &mut self,
        selector: &mio::Registry,
        id: ConnId,
        reason: CloseReason,
        counters: &Counters,
        now: Instant,
    ) {
        let Some(mut conn) = self.conns[id.index() as usize].take() else {
            return;
        };
        if conn.registration.current().is_some() {
            let _ = selector.deregister(&mut conn.stream);
        }
        self.control.live.fetch_sub(1, Ordering::AcqRel);
        if conn.per_ip {
            self.control.per_ip.close(conn.peer.ip());
        }
        if let Some(cells) = self.metrics.tcp.get(conn.listener) {
            cells.closed(reason.class());
        }
        // No valid header came: bytes that are not one, or none in time.
        let no_header = matches!(reason, CloseReason::Protocol(p) if p.layer == "proxy")
            || reason == CloseReason::TimedOut(Timer::Handshake);
        if conn.proxied == Proxied::Awaiting && no_header {
            self.proxy_refused += 1;
        }
        log_close(&conn, reason, counters, now);
        if reason.wants_reset() {
            // A zero linger makes the close a reset (RST) instead of a FIN.
            let linger = socket2::SockRef::from(&conn.stream).set_linger(Some(Duration::ZERO));
            if let Err(e) = linger {
                tracing::debug!(peer = %conn.peer, error = %e, "cannot set SO_LINGER for a reset");
            }
        }
        // Dropping the stream closes the socket.
    }
}

/// Once a connection's PROXY header was read: logs the client it names, which the
/// connection's later log lines give as its peer.
fn note_proxy(conn: &mut Conn, registry: &Registry<Stack>, proxied: &mut u64) {
    let Some(header) = registry.get(conn.id).and_then(|c| c.stack().proxy_header()) else {
        return;
    };
    conn.proxied = Proxied::Read(header.source);
    *proxied += 1;
    match (header.source, header.destination) {
        (Some(client), Some(destination)) => tracing::info!(
            peer = %conn.peer,
            conn = %conn.name,
            %client,
            %destination,
            version = header.version,
            "proxy header"
        ),
        _ => tracing::info!(
            peer = %conn.peer,
            conn = %conn.name,
            version = header.version,
            "proxy header naming no client (a health check): the peer is the client"
        ),
    }
}

/// The events the metrics count: frames echoed, backpressure pauses, timers fired.
fn count_event(cells: &ListenerCells, event: Event) {
    match event {
        Event::Echoed { frames, .. } => cells.frames.add(frames),
        Event::ReadPaused => cells.pauses.add(1),
        Event::TimedOut(timer) => cells.timer(timer),
        _ => {}
    }
}

fn log_close(conn: &Conn, reason: CloseReason, c: &Counters, now: Instant) {
    let duration_ms = now.saturating_since(conn.opened).as_millis() as u64;
    if let Proxied::Read(Some(client)) = conn.proxied {
        // The client the PROXY header named is the peer; the socket's peer is the proxy.
        tracing::info!(
            peer = %client,
            proxy = %conn.peer,
            conn = %conn.name,
            bytes_in = c.bytes_in,
            bytes_out = c.bytes_out,
            frames = c.frames,
            writes = c.writes,
            duration_ms,
            reason = %reason,
            "connection closed"
        );
        return;
    }
    tracing::info!(
        peer = %conn.peer,
        conn = %conn.name,
        bytes_in = c.bytes_in,
        bytes_out = c.bytes_out,
        frames = c.frames,
        writes = c.writes,
        duration_ms,
        reason = %reason,
        "connection closed"
    );
}

fn log_event(event: Event, peer: SocketAddr, warnings: &mut Warnings, now: Instant) {
    match event {
        Event::PeerError(error) if !warnings.allow(Warning::of(error), now) => {}
        Event::PeerError(PeerError::FaultInjected) => {
            tracing::warn!(%peer, "fault word received: failing this connection only");
        }
        Event::PeerError(error) => tracing::warn!(%peer, "{error}"),
        Event::TimedOut(timer) => tracing::debug!(%peer, "{}", timer.name()),
        Event::Closing(reason) => tracing::debug!(%peer, reason = %reason, "closing"),
        Event::ReadPaused => tracing::trace!(%peer, "output at high watermark: reading paused"),
        Event::ReadResumed => tracing::trace!(%peer, "output drained: reading resumed"),
        Event::Echoed { frames, bytes } => tracing::trace!(%peer, frames, bytes, "echoed"),
        Event::Injected(fault) => tracing::info!(%peer, "{}", fault.name()),
        Event::BuffersReleased { bytes } => {
            tracing::trace!(%peer, bytes, "quiet: buffers given back");
        }
        // Reports for views, which a server never asks for (`record_frames` is off and its
        // fault layers are not built `recording`): they never come here.
        Event::Queued { .. } | Event::Held { .. } | Event::Released { .. } => {}
    }
}
