//! One event loop: a `mio::Poll` with this thread's listeners, UDP sockets, connections
//! and a waker, sleeping until readiness or the core's next deadline — zero CPU while
//! idle.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use reverb_core::{DatagramGuards, Instant, RegistryCounters};

use super::admin::{self, Admin};
use super::exposition::Exposition;
use super::metrics::WorkerMetrics;
use super::stack::Plan;
use super::stats::WorkerStats;
use super::tcp::Connections;
use super::udp::{Drained, UdpEcho};
use super::warnings::Warning;
use super::{Control, ServerOptions, WorkerSockets};
use crate::clock::Clock;
use crate::net::{classify_accept_error, AcceptError};

/// Readiness events taken per poll.
const EVENTS_CAPACITY: usize = 1024;

/// Connections accepted per listener event before the listener goes to the back of the
/// queue, so a connect storm cannot starve established connections.
const ACCEPT_BUDGET: usize = 64;

/// First and longest wait before accepting again after running out of descriptors: long
/// enough that retrying costs nothing, short enough that service resumes promptly once a
/// connection closes.
const BACKOFF_MIN: Duration = Duration::from_millis(20);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// After the shutdown timeout the core has released every connection; this much more is
/// allowed before the loop gives up on its own, as a last line of defence against a hang.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Tokens that are not connections. A connection's token is its `ConnId` bits, whose
/// slot index stays below 2^24; these use the largest generation and indices near
/// `u32::MAX`, which no connection can have.
const RESERVED: usize = (u32::MAX as usize) << 32;
const WAKER: Token = Token(RESERVED | 0xFFFF_FFFF);
const LISTENER_BASE: usize = RESERVED | 0xFFFF_0000;
const UDP_BASE: usize = RESERVED | 0xFFFF_8000;
/// The admin listener; its connections take the tokens just above.
const ADMIN_BASE: usize = RESERVED | 0xFFFF_C000;

const _: () = assert!(ADMIN_BASE + admin::MAX_CONNECTIONS < WAKER.0);

enum Source {
    Waker,
    Listener(usize),
    Udp(usize),
    Admin,
    Connection,
}

fn source(token: Token) -> Source {
    match token.0 {
        t if Token(t) == WAKER => Source::Waker,
        t if (LISTENER_BASE..UDP_BASE).contains(&t) => Source::Listener(t - LISTENER_BASE),
        t if (UDP_BASE..ADMIN_BASE).contains(&t) => Source::Udp(t - UDP_BASE),
        t if Admin::owns(ADMIN_BASE, Token(t)) => Source::Admin,
        _ => Source::Connection,
    }
}

/// Tells the main thread (and the admin endpoint's loop, which outlives the others) that
/// a worker has ended, however it ended (panics included).
pub(crate) struct ExitNotice {
    control: Arc<Control>,
    wakers: Vec<Arc<Waker>>,
}

impl ExitNotice {
    pub(crate) fn new(control: Arc<Control>, wakers: Vec<Arc<Waker>>) -> Self {
        ExitNotice { control, wakers }
    }
}

impl Drop for ExitNotice {
    fn drop(&mut self) {
        self.control.finished.fetch_add(1, Ordering::AcqRel);
        for waker in &self.wakers {
            let _ = waker.wake();
        }
    }
}

/// One thread's event loop.
pub(crate) struct Worker {
    index: usize,
    poll: Poll,
    waker: Arc<Waker>,
    listeners: Vec<TcpListener>,
    /// What each listener gives its connections, by the same index.
    plans: Vec<Plan>,
    udp: Vec<UdpEcho>,
    tcp: Connections,
    control: Arc<Control>,
    clock: Clock,
    /// Listeners and UDP sockets whose budget ran out with work left.
    accept_queue: Vec<usize>,
    udp_queue: Vec<usize>,
    /// While out of descriptors: when to try accepting again, and the next wait.
    backoff_until: Option<Instant>,
    backoff: Duration,
    stopping_since: Option<Instant>,
    shutdown_timeout: Duration,
    /// What the UDP sockets closed at shutdown had counted.
    udp_totals: WorkerStats,
    /// The admin endpoint, on the first worker's loop when `--admin` is given.
    admin: Option<Admin>,
    /// Worker threads in all, which the admin endpoint's loop waits for at shutdown.
    threads: usize,
}

impl Worker {
    pub(crate) fn new(
        index: usize,
        sockets: WorkerSockets,
        options: &ServerOptions,
        control: Arc<Control>,
        metrics: Arc<WorkerMetrics>,
        exposition: Option<Exposition>,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut listeners = sockets.listeners;
        for (i, listener) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(listener, Token(LISTENER_BASE + i), Interest::READABLE)?;
        }
        let mut udp = Vec::new();
        for (i, mut socket) in sockets.udp.into_iter().enumerate() {
            poll.registry()
                .register(&mut socket, Token(UDP_BASE + i), Interest::READABLE)?;
            let guards = DatagramGuards {
                ports: options.udp_ports,
                limits: options.udp_limits,
                // Per process and socket, unknown to senders: they cannot aim forged
                // sources at one slot of the per-source tables.
                seed: RandomState::new().hash_one(i),
            };
            // Unique across threads, like a connection's number: it seeds the socket's
            // datagram faults.
            let number = (index as u64) << 40 | i as u64;
            udp.push(UdpEcho::new(
                socket,
                options.config.clone(),
                guards,
                number,
                (Arc::clone(&metrics), i),
            ));
        }
        let admin = match (sockets.admin, exposition) {
            (Some(listener), Some(exposition)) => Some(Admin::new(
                listener,
                poll.registry(),
                ADMIN_BASE,
                exposition,
                Arc::clone(&control),
            )?),
            _ => None,
        };
        Ok(Worker {
            index,
            poll,
            waker,
            listeners,
            plans: options
                .listen
                .iter()
                .map(|l| Plan::new(l, options))
                .collect(),
            udp,
            tcp: Connections::new(
                index,
                options.config.clone(),
                options.read_size,
                Arc::clone(&control),
                metrics,
                options.admin.is_some(),
            ),
            control,
            clock: Clock::start(),
            accept_queue: Vec::new(),
            udp_queue: Vec::new(),
            backoff_until: None,
            backoff: BACKOFF_MIN,
            stopping_since: None,
            shutdown_timeout: options.config.stream.shutdown_timeout,
            udp_totals: WorkerStats::default(),
            admin,
            threads: options.threads.max(1),
        })
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    pub(crate) fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Runs until a stop was asked for and every connection is released.
    pub(crate) fn run(mut self) -> io::Result<WorkerStats> {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        loop {
            if self.stopping_since.is_some() && self.tcp.is_empty() && !self.admin_waits() {
                break;
            }
            let busy = self.tcp.has_queued_reads()
                || !self.accept_queue.is_empty()
                || !self.udp_queue.is_empty();
            let timeout = if busy {
                Some(Duration::ZERO)
            } else {
                let deadline = self.next_deadline();
                self.clock.timeout_until(deadline)
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let (now, woke) = self.clock.read();
            // The echo latency of what this turn reads starts here, when readiness was
            // reported: one clock read per turn rather than one per read.
            self.tcp.woke = woke;
            for event in &events {
                match source(event.token()) {
                    Source::Waker => self.check_stop(now),
                    Source::Listener(i) => self.accept(i, now),
                    Source::Udp(i) => self.receive(i, now),
                    Source::Admin => {
                        if let Some(admin) = &mut self.admin {
                            admin.on_event(self.poll.registry(), event.token(), now);
                        }
                    }
                    Source::Connection => {
                        self.tcp
                            .on_event(self.poll.registry(), event.token(), event, now);
                    }
                }
            }
            self.tcp.run_read_queue(self.poll.registry(), now);
            for i in std::mem::take(&mut self.accept_queue) {
                self.accept(i, now);
            }
            for i in std::mem::take(&mut self.udp_queue) {
                self.receive(i, now);
            }
            if self.backoff_until.is_some_and(|at| at <= now) {
                self.backoff_until = None;
                for i in 0..self.listeners.len() {
                    self.accept(i, now);
                }
            }
            self.tcp.on_timeout(self.poll.registry(), now);
            for udp in &mut self.udp {
                udp.on_timeout(now);
            }
            if let Some(admin) = &mut self.admin {
                admin.on_timeout(self.poll.registry(), now);
            }
            self.tcp.warnings.report(now);
            self.tcp.memory.run(now);
            if self.stop_deadline().is_some_and(|at| at <= now) {
                if !self.tcp.is_empty() {
                    tracing::warn!(
                        open = self.tcp.registry().len(),
                        "shutdown timeout passed with connections still open; closing them"
                    );
                }
                break;
            }
        }
        Ok(self.stats())
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        [
            self.tcp.next_deadline(),
            self.tcp.warnings.next_deadline(),
            self.tcp.memory.deadline(),
            self.udp.iter().filter_map(UdpEcho::deadline).min(),
            self.backoff_until,
            self.stop_deadline(),
            self.admin.as_ref().and_then(Admin::deadline),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether this loop keeps running for the admin endpoint after its own connections
    /// are gone: until every other worker has drained (each wakes it as it ends).
    fn admin_waits(&self) -> bool {
        self.admin.is_some() && self.control.finished.load(Ordering::Acquire) + 1 < self.threads
    }

    fn stop_deadline(&self) -> Option<Instant> {
        self.stopping_since
            .map(|at| at + self.shutdown_timeout + STOP_GRACE)
    }

    /// Accepts until `WouldBlock` or the budget. Out of descriptors: back off; a failure
    /// of one connection: skip it.
    fn accept(&mut self, i: usize, now: Instant) {
        if self.backoff_until.is_some() {
            return;
        }
        let (Some(listener), Some(plan)) = (self.listeners.get(i), self.plans.get(i)) else {
            return;
        };
        for _ in 0..ACCEPT_BUDGET {
            match listener.accept() {
                Ok((stream, peer)) => {
                    self.backoff = BACKOFF_MIN;
                    self.tcp
                        .admit(self.poll.registry(), stream, peer, i, plan, now);
                }
                Err(e) => match classify_accept_error(&e) {
                    AcceptError::WouldBlock => return,
                    AcceptError::Retry => {}
                    AcceptError::Skip => {
                        tracing::debug!(error = %e, "accept failed for one connection; skipped");
                    }
                    AcceptError::Exhausted => {
                        self.warn_exhausted(&e, now);
                        self.backoff_until = Some(now + self.backoff);
                        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                        return;
                    }
                },
            }
        }
        self.accept_queue.push(i);
    }

    fn warn_exhausted(&mut self, error: &io::Error, now: Instant) {
        if self.tcp.warnings.allow(Warning::OutOfDescriptors, now) {
            tracing::warn!(
                error = %error,
                retry_in_ms = self.backoff.as_millis() as u64,
                "cannot accept: out of descriptors or memory; pending connections wait"
            );
        }
    }

    fn receive(&mut self, i: usize, now: Instant) {
        if let Some(udp) = self.udp.get_mut(i) {
            if udp.on_readable(now, &mut self.tcp.warnings) == Drained::More {
                self.udp_queue.push(i);
            }
        }
    }

    /// On the stop request: close the listeners and UDP sockets, and ask every connection
    /// to flush and close.
    fn check_stop(&mut self, now: Instant) {
        if self.stopping_since.is_some() || !self.control.stopping.load(Ordering::Acquire) {
            return;
        }
        self.stopping_since = Some(now);
        let registry = self.poll.registry();
        for mut listener in self.listeners.drain(..) {
            let _ = registry.deregister(&mut listener);
        }
        for mut udp in self.udp.drain(..) {
            self.udp_totals += udp.stats();
            let _ = registry.deregister(&mut udp.socket);
        }
        self.accept_queue.clear();
        self.udp_queue.clear();
        self.backoff_until = None;
        tracing::info!(
            "worker {}: stopped accepting; draining {} connections",
            self.index,
            self.tcp.registry().len()
        );
        self.tcp.shutdown(registry, now);
    }

    fn stats(&self) -> WorkerStats {
        let c = self.tcp.registry().counters();
        let mut stats = WorkerStats {
            tcp: RegistryCounters {
                refused: c.refused + self.tcp.refused,
                ..*c
            },
            refused_per_ip: self.tcp.refused_per_ip,
            proxied: self.tcp.proxied,
            proxy_refused: self.tcp.proxy_refused,
            ..self.udp_totals
        };
        for udp in &self.udp {
            stats += udp.stats();
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::MAX_CONNECTIONS_LIMIT;
    use reverb_core::ConnId;

    #[test]
    fn reserved_tokens_never_name_a_connection() {
        assert!(matches!(source(WAKER), Source::Waker));
        assert!(matches!(
            source(Token(LISTENER_BASE + 3)),
            Source::Listener(3)
        ));
        assert!(matches!(source(Token(UDP_BASE + 2)), Source::Udp(2)));
        assert!(matches!(source(Token(ADMIN_BASE)), Source::Admin));
        assert!(matches!(
            source(Token(ADMIN_BASE + admin::MAX_CONNECTIONS)),
            Source::Admin
        ));
        // The largest slot index any connection can have, at any generation.
        let last = (MAX_CONNECTIONS_LIMIT - 1) as u64;
        for generation in [0u64, 1, u64::from(u32::MAX)] {
            let id = ConnId::from_bits(generation << 32 | last);
            assert!(matches!(
                source(super::super::tcp::token(id)),
                Source::Connection
            ));
        }
    }
}
