//! One bench thread: a `mio` loop driving its share of the load connections.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::histogram::Histogram;
use super::load::LoadConn;
use super::pattern::Pattern;

/// Bytes read per `read` call: one buffer per thread, reused for every connection.
const READ_BUF: usize = 64 * 1024;
/// Errors described in the report: the first few say what happened; the rest are counted.
const MAX_ERROR_LINES: usize = 5;

/// What one thread does.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) addr: SocketAddr,
    /// Id of this thread's first connection (ids are unique across the run).
    pub(crate) first_id: u64,
    pub(crate) connections: usize,
    pub(crate) pattern: Pattern,
    pub(crate) pipeline: usize,
    /// Open-loop rate for this thread, in messages per second.
    pub(crate) rate: Option<f64>,
    pub(crate) warmup: Duration,
    pub(crate) duration: Option<Duration>,
    /// This thread's share of `--requests` (measured messages).
    pub(crate) requests: Option<u64>,
    /// Longest wait for a connect, or for an echo while messages are in flight.
    pub(crate) timeout: Duration,
    /// The run's common epoch.
    pub(crate) start: Instant,
    /// Messages verified, for the progress display.
    pub(crate) progress: Arc<AtomicU64>,
    /// `--idle`: each connection echoes one message, then is only held open.
    pub(crate) one_each: bool,
}

/// What one thread measured.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) latency: Histogram,
    pub(crate) connect: Histogram,
    /// Messages echoed and verified inside the measured window.
    pub(crate) messages: u64,
    /// Messages echoed and verified in total (warmup and drain included).
    pub(crate) verified: u64,
    pub(crate) connected: u64,
    pub(crate) connect_failures: u64,
    pub(crate) resets: u64,
    pub(crate) timeouts: u64,
    pub(crate) mismatches: u64,
    /// Messages sent and never echoed (connection closed, reset or timed out).
    pub(crate) lost: u64,
    pub(crate) errors: Vec<String>,
    /// Connections still open when the run ended.
    pub(crate) open_at_end: u64,
    /// Start and end of the measured window (ns on the run's clock).
    pub(crate) window: (u64, u64),
}

impl Tally {
    fn error(&mut self, line: String) {
        if self.errors.len() < MAX_ERROR_LINES {
            self.errors.push(line);
        }
    }
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum State {
    Connecting,
    Open,
    Closed,
}

struct Conn {
    stream: TcpStream,
    load: LoadConn,
    state: State,
    /// Last time bytes came back (or the connect started).
    last_progress: u64,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy, PartialOrd, Ord)]
enum Phase {
    Warmup,
    Measure,
    Drain,
}

/// Runs the plan to completion and returns its tally.
pub(crate) fn run(plan: &Plan) -> std::io::Result<Tally> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut tally = Tally::default();
    let now = || plan.start.elapsed().as_nanos() as u64;
    let warm_end = plan.warmup.as_nanos() as u64;
    let measure_end = plan.duration.map(|d| warm_end + d.as_nanos() as u64);
    let timeout = plan.timeout.as_nanos() as u64;

    let mut conns: Vec<Conn> = Vec::with_capacity(plan.connections);
    for i in 0..plan.connections {
        let id = plan.first_id + i as u64;
        match TcpStream::connect(plan.addr) {
            Ok(mut stream) => {
                let token = Token(conns.len());
                poll.registry().register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
                conns.push(Conn {
                    stream,
                    load: LoadConn::new(id, plan.pattern),
                    state: State::Connecting,
                    last_progress: now(),
                });
            }
            Err(e) => {
                tally.connect_failures += 1;
                tally.error(format!("connect: {e}"));
            }
        }
    }

    let interval = plan.rate.map(|r| (1e9 / r).max(1.0));
    // The open-loop schedule starts with the run, warmup included.
    let mut next_send = 0.0f64;
    let mut backlog: VecDeque<u64> = VecDeque::new();
    let mut to_measure = plan.requests;
    let mut phase = if warm_end == 0 { Phase::Measure } else { Phase::Warmup };
    if phase == Phase::Measure {
        tally.window.0 = now();
    }
    let mut drain_deadline = u64::MAX;
    let mut buf = vec![0u8; READ_BUF];
    let mut reported = 0u64;

    loop {
        let t = now();
        // Phase changes.
        if phase == Phase::Warmup && t >= warm_end {
            phase = Phase::Measure;
            tally.window.0 = t;
        }
        let requests_done = plan.requests.is_some_and(|n| tally.messages >= n);
        if phase == Phase::Measure && (measure_end.is_some_and(|end| t >= end) || requests_done) {
            phase = Phase::Drain;
            tally.window.1 = t;
            drain_deadline = t + timeout;
            backlog.clear();
        }
        if phase == Phase::Drain {
            let busy = conns.iter().any(|c| c.state != State::Closed && c.load.in_flight() > 0);
            if !busy || t >= drain_deadline {
                break;
            }
        }
        let sending = phase < Phase::Drain && to_measure != Some(0);

        // Open loop: messages fall due on a fixed schedule, whether or not a connection is
        // free; those that wait keep their intended time.
        if let (Some(interval), true) = (interval, sending) {
            while next_send <= t as f64 {
                backlog.push_back(next_send as u64);
                next_send += interval;
            }
        }

        // Queue and write.
        for (i, c) in conns.iter_mut().enumerate() {
            if c.state != State::Open {
                continue;
            }
            if sending {
                while c.load.in_flight() < plan.pipeline
                    && to_measure != Some(0)
                    && !(plan.one_each && c.load.queued() > 0)
                {
                    let intended = if interval.is_some() {
                        match backlog.pop_front() {
                            Some(at) => at,
                            None => break,
                        }
                    } else {
                        t
                    };
                    c.load.queue(intended);
                    if phase == Phase::Measure {
                        to_measure = to_measure.map(|n| n - 1);
                    }
                }
            }
            if let Err(e) = flush(c) {
                close(c, &mut tally, &format!("write to connection {i}: {e}"), e.kind());
            }
        }

        // Timeouts: connects, and echoes owed for too long.
        for c in conns.iter_mut() {
            let waiting = c.state == State::Connecting
                || (c.state == State::Open && c.load.in_flight() > 0);
            if waiting && t.saturating_sub(c.last_progress) > timeout {
                if c.state == State::Connecting {
                    tally.connect_failures += 1;
                    tally.error("connect: timed out".to_owned());
                    c.state = State::Closed;
                } else {
                    tally.timeouts += 1;
                    tally.lost += c.load.in_flight() as u64;
                    tally.error(format!(
                        "no echo for {} ms with {} messages in flight",
                        timeout / 1_000_000,
                        c.load.in_flight()
                    ));
                    c.state = State::Closed;
                }
            }
        }
        if conns.iter().all(|c| c.state == State::Closed) {
            if phase == Phase::Measure {
                tally.window.1 = t;
            }
            break;
        }

        // Wait for readiness, the next scheduled send, or a timeout check.
        let mut wait = Duration::from_millis(100);
        if let (Some(_), true) = (interval, sending) {
            wait = wait.min(Duration::from_nanos((next_send - t as f64).max(0.0) as u64));
        }
        if phase == Phase::Warmup {
            wait = wait.min(Duration::from_nanos(warm_end - t));
        }
        if let (Phase::Measure, Some(end)) = (phase, measure_end) {
            wait = wait.min(Duration::from_nanos(end.saturating_sub(t)));
        }
        match poll.poll(&mut events, Some(wait)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let t = now();
        for event in events.iter() {
            let Some(c) = conns.get_mut(event.token().0) else { continue };
            if c.state == State::Connecting {
                match connected(&c.stream) {
                    Ok(true) => {
                        tally.connect.record(t.saturating_sub(c.last_progress));
                        c.state = State::Open;
                        c.last_progress = t;
                        tally.connected += 1;
                        // Small messages must not wait for Nagle: latency is the point.
                        let _ = c.stream.set_nodelay(true);
                    }
                    Ok(false) => continue,
                    Err(e) => {
                        tally.connect_failures += 1;
                        tally.error(format!("connect: {e}"));
                        c.state = State::Closed;
                        continue;
                    }
                }
            }
            if c.state != State::Open || !(event.is_readable() || event.is_read_closed()) {
                continue;
            }
            let measuring = phase == Phase::Measure;
            loop {
                match c.stream.read(&mut buf) {
                    Ok(0) => {
                        let owed = c.load.in_flight() as u64;
                        if owed > 0 {
                            tally.lost += owed;
                            tally.error(format!("server closed with {owed} messages in flight"));
                        }
                        c.state = State::Closed;
                        break;
                    }
                    Ok(n) => {
                        c.last_progress = t;
                        let before = c.load.verified();
                        let latency = measuring.then_some(&mut tally.latency);
                        if let Err(m) = c.load.received(&buf[..n], t, latency) {
                            tally.mismatches += 1;
                            tally.error(format!("mismatch: {m}"));
                            c.state = State::Closed;
                            break;
                        }
                        let done = c.load.verified() - before;
                        tally.verified += done;
                        if measuring {
                            tally.messages += done;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => {
                        close(c, &mut tally, &format!("read: {e}"), e.kind());
                        break;
                    }
                }
            }
        }
        if tally.verified > reported {
            plan.progress.fetch_add(tally.verified - reported, Ordering::Relaxed);
            reported = tally.verified;
        }
    }

    // Whatever is still owed now will not come.
    for c in &mut conns {
        if c.state == State::Open {
            tally.open_at_end += 1;
        }
        if c.state == State::Open && c.load.in_flight() > 0 {
            tally.timeouts += 1;
            tally.lost += c.load.in_flight() as u64;
        }
        // Half-close first so the server sees an orderly end, not a reset.
        let _ = c.stream.shutdown(Shutdown::Write);
    }
    if tally.window.1 == 0 {
        tally.window.1 = now();
    }
    Ok(tally)
}

/// Whether a non-blocking connect has completed (`Ok(false)`: not yet).
fn connected(stream: &TcpStream) -> std::io::Result<bool> {
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes what the connection has pending until done or the socket is full.
fn flush(c: &mut Conn) -> std::io::Result<()> {
    while !c.load.pending().is_empty() {
        match c.stream.write(c.load.pending()) {
            Ok(n) => c.load.wrote(n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn close(c: &mut Conn, tally: &mut Tally, what: &str, kind: ErrorKind) {
    if matches!(kind, ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted) {
        tally.resets += 1;
    }
    tally.lost += c.load.in_flight() as u64;
    tally.error(what.to_owned());
    c.state = State::Closed;
}
