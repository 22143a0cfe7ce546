//! One bench thread: a `mio` loop driving its share of the load connections.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::histogram::Histogram;
use super::load::LoadConn;
use super::pattern::Pattern;
use crate::net::{self, ReadOutcome};

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

/// How often connections are checked for connect and echo timeouts: a full scan, so not
/// on every event.
const TIMEOUT_SCAN_NS: u64 = 100_000_000;

/// One thread's loop state. Work per event is proportional to the connections that had
/// events, never to all of them: only the timeout scan (every 100 ms) and the drain check
/// look at every connection.
struct Worker<'p> {
    plan: &'p Plan,
    conns: Vec<Conn>,
    tally: Tally,
    phase: Phase,
    /// Messages still to queue in the measured window (`--requests`).
    to_measure: Option<u64>,
    /// Open loop: interval between messages, next due time, and due messages that found
    /// no free connection yet (their intended send times).
    interval: Option<f64>,
    next_send: f64,
    backlog: VecDeque<u64>,
    /// Open loop: where the search for a free connection resumes.
    cursor: usize,
    /// Connections to top up and flush on this iteration.
    touched: Vec<usize>,
    /// Connections not closed, and of those, still connecting.
    open: usize,
    connecting: usize,
}

/// Runs the plan to completion and returns its tally.
pub(crate) fn run(plan: &Plan) -> std::io::Result<Tally> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let now = || plan.start.elapsed().as_nanos() as u64;
    // `--idle` sets the end of its connect phase when the last connect finishes.
    let mut warm_end = if plan.one_each {
        u64::MAX
    } else {
        plan.warmup.as_nanos() as u64
    };
    let mut measure_end = plan
        .duration
        .map(|d| warm_end.saturating_add(d.as_nanos() as u64));
    let timeout = plan.timeout.as_nanos() as u64;

    let mut w = Worker {
        plan,
        conns: Vec::with_capacity(plan.connections),
        tally: Tally::default(),
        // `--idle` holds from the moment every connect has finished, one way or the other.
        phase: if warm_end == 0 && !plan.one_each {
            Phase::Measure
        } else {
            Phase::Warmup
        },
        to_measure: plan.requests,
        interval: plan.rate.map(|r| (1e9 / r).max(1.0)),
        // The open-loop schedule starts with the run, warmup included.
        next_send: 0.0,
        backlog: VecDeque::new(),
        cursor: 0,
        touched: Vec::new(),
        open: 0,
        connecting: 0,
    };
    for i in 0..plan.connections {
        match TcpStream::connect(plan.addr) {
            Ok(mut stream) => {
                let token = Token(w.conns.len());
                let interest = Interest::READABLE | Interest::WRITABLE;
                poll.registry().register(&mut stream, token, interest)?;
                w.conns.push(Conn {
                    stream,
                    load: LoadConn::new(plan.first_id + i as u64, plan.pattern),
                    state: State::Connecting,
                    last_progress: now(),
                });
                w.open += 1;
                w.connecting += 1;
            }
            Err(e) => {
                w.tally.connect_failures += 1;
                w.tally.error(format!("connect: {e}"));
            }
        }
    }
    if w.phase == Phase::Measure {
        w.tally.window.0 = now();
    }
    let mut drain_deadline = u64::MAX;
    let mut next_scan = 0u64;
    let mut buf = vec![0u8; READ_BUF];
    let mut reported = 0u64;

    loop {
        let t = now();
        if plan.one_each && w.phase == Phase::Warmup && w.connecting == 0 {
            warm_end = t;
            measure_end = plan.duration.map(|d| t + d.as_nanos() as u64);
        }
        if w.phase == Phase::Warmup && t >= warm_end {
            w.phase = Phase::Measure;
            w.tally.window.0 = t;
        }
        let requests_done = plan.requests.is_some_and(|n| w.tally.messages >= n);
        if w.phase == Phase::Measure && (measure_end.is_some_and(|end| t >= end) || requests_done) {
            w.phase = Phase::Drain;
            w.tally.window.1 = t;
            drain_deadline = t + timeout;
            w.backlog.clear();
        }
        if w.phase == Phase::Drain {
            let owed = w
                .conns
                .iter()
                .any(|c| c.state == State::Open && c.load.in_flight() > 0);
            if !owed || t >= drain_deadline {
                break;
            }
        }
        w.schedule(t);
        w.service(t);
        if t >= next_scan {
            next_scan = t + TIMEOUT_SCAN_NS;
            w.expire(t, timeout);
        }
        if w.open == 0 {
            if w.phase == Phase::Measure {
                w.tally.window.1 = t;
            }
            break;
        }

        // Wait for readiness, the next scheduled send, a phase change or the next scan.
        let mut until = next_scan;
        if w.interval.is_some() && w.sending() {
            until = until.min(w.next_send as u64);
        }
        if w.phase == Phase::Warmup && !plan.one_each {
            until = until.min(warm_end);
        }
        if let (Phase::Measure, Some(end)) = (w.phase, measure_end) {
            until = until.min(end);
        }
        let wait = Duration::from_nanos(until.saturating_sub(t));
        match poll.poll(&mut events, Some(wait)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let t = now();
        for event in events.iter() {
            let i = event.token().0;
            if w.conns.get(i).is_some_and(|c| c.state == State::Connecting) {
                w.connect_done(i, t);
            }
            if w.conns.get(i).is_some_and(|c| c.state == State::Open)
                && (event.is_readable() || event.is_read_closed())
            {
                w.read(i, t, &mut buf);
            }
        }
        if w.tally.verified > reported {
            plan.progress
                .fetch_add(w.tally.verified - reported, Ordering::Relaxed);
            reported = w.tally.verified;
        }
    }

    // Whatever is still owed now will not come.
    for c in &mut w.conns {
        if c.state == State::Connecting {
            w.tally.connect_failures += 1;
            w.tally
                .error("connect: not finished when the run ended".to_owned());
        }
        if c.state == State::Open {
            w.tally.open_at_end += 1;
            if c.load.in_flight() > 0 {
                w.tally.timeouts += 1;
                w.tally.lost += c.load.in_flight() as u64;
            }
        }
        // Half-close first so the server sees an orderly end, not a reset.
        let _ = c.stream.shutdown(Shutdown::Write);
    }
    if w.tally.window.1 == 0 {
        w.tally.window.1 = now();
    }
    Ok(w.tally)
}

impl Worker<'_> {
    /// Whether new messages may be queued.
    fn sending(&self) -> bool {
        self.phase < Phase::Drain && self.to_measure != Some(0)
    }

    /// Open loop: messages fall due on a fixed schedule whether or not a connection is
    /// free; each goes to the next connection with a free slot, keeping its intended time.
    fn schedule(&mut self, t: u64) {
        let Some(interval) = self.interval else {
            return;
        };
        if !self.sending() {
            return;
        }
        while self.next_send <= t as f64 {
            self.backlog.push_back(self.next_send as u64);
            self.next_send += interval;
        }
        let n = self.conns.len();
        let mut looked = 0;
        while !self.backlog.is_empty() && looked < n && self.to_measure != Some(0) {
            let i = self.cursor % n;
            let c = &mut self.conns[i];
            if c.state == State::Open && c.load.in_flight() < self.plan.pipeline {
                let at = self.backlog.pop_front().expect("checked non-empty");
                c.load.queue(at);
                self.count_queued();
                self.touched.push(i);
            } else {
                looked += 1;
            }
            self.cursor = self.cursor.wrapping_add(1);
        }
    }

    fn count_queued(&mut self) {
        if self.phase == Phase::Measure {
            self.to_measure = self.to_measure.map(|n| n - 1);
        }
    }

    /// Tops up (closed loop) and writes every touched connection.
    fn service(&mut self, t: u64) {
        let closed_loop = self.interval.is_none();
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        touched.dedup();
        for &i in &touched {
            if self.conns[i].state != State::Open {
                continue;
            }
            while closed_loop && self.sending() {
                let c = &self.conns[i];
                let full = c.load.in_flight() >= self.plan.pipeline;
                if full || (self.plan.one_each && c.load.queued() > 0) {
                    break;
                }
                self.conns[i].load.queue(t);
                self.count_queued();
            }
            let c = &mut self.conns[i];
            let outcome = net::write_until_blocked(&mut c.stream, c.load.pending());
            c.load.wrote(outcome.written);
            if let Some(Err(e)) = outcome.stopped {
                self.close(i, &format!("write: {e}"), e.kind());
            }
        }
        touched.clear();
        self.touched = touched;
    }

    /// Fails connects and echoes that have waited too long.
    fn expire(&mut self, t: u64, timeout: u64) {
        for i in 0..self.conns.len() {
            let c = &self.conns[i];
            let waiting =
                c.state == State::Connecting || (c.state == State::Open && c.load.in_flight() > 0);
            if !waiting || t.saturating_sub(c.last_progress) <= timeout {
                continue;
            }
            if c.state == State::Connecting {
                self.tally.connect_failures += 1;
                self.close(i, "connect: timed out", ErrorKind::TimedOut);
            } else {
                let owed = c.load.in_flight();
                self.tally.timeouts += 1;
                let what = format!(
                    "no echo for {} ms with {owed} messages in flight",
                    timeout / 1_000_000
                );
                self.close(i, &what, ErrorKind::TimedOut);
            }
        }
    }

    fn connect_done(&mut self, i: usize, t: u64) {
        match connected(&self.conns[i].stream) {
            Ok(true) => {
                let c = &mut self.conns[i];
                self.tally.connect.record(t.saturating_sub(c.last_progress));
                self.tally.connected += 1;
                c.state = State::Open;
                c.last_progress = t;
                self.connecting -= 1;
                // Small messages must not wait for Nagle: latency is the point.
                let _ = c.stream.set_nodelay(true);
                self.touched.push(i);
            }
            Ok(false) => {}
            Err(e) => {
                self.tally.connect_failures += 1;
                self.close(i, &format!("connect: {e}"), e.kind());
            }
        }
    }

    /// Reads what arrived and checks it. A read shorter than the buffer has drained the
    /// socket: with edge-triggered readiness, bytes arriving later raise a new event, so
    /// the extra read that would only say `WouldBlock` is skipped — one syscall per echo.
    fn read(&mut self, i: usize, t: u64, buf: &mut [u8]) {
        let measuring = self.phase == Phase::Measure;
        loop {
            let c = &mut self.conns[i];
            match net::read_once(&mut c.stream, buf) {
                ReadOutcome::Data(n) => {
                    c.last_progress = t;
                    let before = c.load.verified();
                    let latency = measuring.then_some(&mut self.tally.latency);
                    if let Err(m) = c.load.received(&buf[..n], t, latency) {
                        self.tally.mismatches += 1;
                        self.close(i, &format!("mismatch: {m}"), ErrorKind::InvalidData);
                        return;
                    }
                    let done = c.load.verified() - before;
                    self.tally.verified += done;
                    if measuring {
                        self.tally.messages += done;
                    }
                    self.touched.push(i);
                    if n < buf.len() {
                        return;
                    }
                }
                ReadOutcome::Closed => {
                    let owed = c.load.in_flight();
                    if owed > 0 {
                        let what = format!("server closed with {owed} messages in flight");
                        self.close(i, &what, ErrorKind::UnexpectedEof);
                    } else {
                        c.state = State::Closed;
                        self.open -= 1;
                    }
                    return;
                }
                ReadOutcome::WouldBlock => return,
                ReadOutcome::Failed(e) => {
                    self.close(i, &format!("read: {e}"), e.kind());
                    return;
                }
            }
        }
    }

    /// Ends a connection on an error: what it still owed is lost.
    fn close(&mut self, i: usize, what: &str, kind: ErrorKind) {
        let c = &mut self.conns[i];
        if c.state == State::Closed {
            return;
        }
        if c.state == State::Connecting {
            self.connecting -= 1;
        }
        if matches!(
            kind,
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
        ) {
            self.tally.resets += 1;
        }
        self.tally.lost += c.load.in_flight() as u64;
        c.state = State::Closed;
        self.open -= 1;
        self.tally.error(what.to_owned());
    }
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
