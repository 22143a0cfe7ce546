//! One bench thread: a `mio` loop driving its share of the load connections.

use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::faults::{End, Expect, Expected};
use super::histogram::Histogram;
use super::load::{LoadConn, Measure};
use super::pattern::Pattern;
use super::schedule::Schedule;
use super::transport::{Layers, WireError, Wiring};
use crate::net::{self, ReadOutcome, Registration};

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
    /// Connections in the whole run: the `n`th re-opening of connection `k` has id
    /// `k + n × id_stride`, so ids stay unique however often connections are re-opened.
    pub(crate) id_stride: u64,
    pub(crate) connections: usize,
    pub(crate) pattern: Pattern,
    pub(crate) pipeline: usize,
    /// Open-loop rate for this thread, in messages per second.
    pub(crate) rate: Option<f64>,
    pub(crate) warmup: Duration,
    pub(crate) duration: Option<Duration>,
    /// This thread's share of `--requests` (measured messages).
    pub(crate) requests: Option<u64>,
    /// Longest wait for a connect, for an owed echo to progress, or for a due message
    /// to find a free connection (open loop, after the window).
    pub(crate) timeout: Duration,
    /// The run's common epoch.
    pub(crate) start: Instant,
    /// Messages verified, for the progress display.
    pub(crate) progress: Arc<AtomicU64>,
    /// `--idle`: each connection echoes one message, then is only held open.
    pub(crate) one_each: bool,
    /// Ends of connections the server announced: counted, then the connection re-opened.
    pub(crate) expect: Expect,
    /// What goes between socket and load: nothing (plain TCP), or a PROXY header, TLS,
    /// WebSocket.
    pub(crate) wiring: Wiring,
    /// `--connect-rate`, this thread's share in connections per second: churn instead of
    /// load. Connections fall due on an open-loop schedule; each connects, echoes one
    /// message, is checked and closed; `connections` bounds how many are open at once.
    pub(crate) churn: Option<f64>,
}

/// What one thread measured.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) latency: Histogram,
    pub(crate) connect: Histogram,
    /// TLS handshakes, from the connect to the session's being ready.
    pub(crate) tls_handshake: Histogram,
    /// WebSocket upgrades, from the request (after TLS, if any) to the 101.
    pub(crate) ws_handshake: Histogram,
    /// Measured messages (meant to be sent inside the measured window) echoed and
    /// verified, some of them in the drain after the window.
    pub(crate) messages: u64,
    /// Messages echoed and verified in total (warmup and drain included).
    pub(crate) verified: u64,
    /// Connections established, not counting re-openings.
    pub(crate) connected: u64,
    /// Connections established again after an expected end.
    pub(crate) reconnects: u64,
    pub(crate) connect_failures: u64,
    pub(crate) resets: u64,
    pub(crate) timeouts: u64,
    pub(crate) mismatches: u64,
    /// Connections the server broke TLS or WebSocket on, after the handshake.
    pub(crate) protocol_errors: u64,
    /// Messages sent and never echoed (connection closed, reset or timed out), except
    /// those lost to an expected end.
    pub(crate) lost: u64,
    /// Connections the server ended with no echo owed, before the run ended, unexpectedly.
    pub(crate) closed: u64,
    /// Resets and closes the server announced, and what they lost.
    pub(crate) expected: Expected,
    /// Open loop: measured messages that fell due, and of those, never sent.
    pub(crate) due: u64,
    pub(crate) unsent: u64,
    pub(crate) errors: Vec<String>,
    /// Connections still open when the run ended.
    pub(crate) open_at_end: u64,
    /// Start and end of the measured window (ns on the run's clock).
    pub(crate) window: (u64, u64),
    /// `--connect-rate`: connections that fell due in the window and completed their
    /// cycle (connect, handshakes, one echo verified)…
    pub(crate) cycles: u64,
    /// …and each one's time from when it fell due to its echo verified.
    pub(crate) cycle: Histogram,
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
    /// Connected; the PROXY header, TLS or WebSocket handshake is under way. Counted as
    /// connecting: no load is sent yet.
    Handshaking,
    Open,
    /// `--connect-rate`: the cycle is done and our end closed (after a WebSocket close
    /// frame or TLS's close_notify); waiting for the server's, so the slot is not reused
    /// under a connection still open.
    Closing,
    Closed,
}

struct Conn {
    stream: TcpStream,
    load: LoadConn,
    state: State,
    /// What the selector reports for this socket now.
    registration: Registration,
    /// When the connect started (ns): connect time and connect timeout. While `Closing`,
    /// when the close began.
    opened: u64,
    /// `--connect-rate`: when this connection fell due (ns), which may be before its
    /// connect started if every slot was busy.
    due: u64,
    /// How often this slot's connection was opened again after an expected end.
    generation: u64,
    /// The layers between socket and load; none for plain TCP, whose bytes go straight
    /// between the two.
    layers: Option<Box<Layers>>,
}

impl Conn {
    /// Connected, and not closed: bytes are read.
    fn live(&self) -> bool {
        matches!(
            self.state,
            State::Open | State::Handshaking | State::Closing
        )
    }

    /// Whether bytes wait to be written.
    fn wants_write(&self) -> bool {
        match &self.layers {
            None => self.load.wants_write(),
            Some(layers) => layers.wants_write(&self.load),
        }
    }
}

/// How reading a connection stopped.
#[derive(Debug)]
enum Stop {
    /// Nothing more to read for now: the connection goes on.
    Blocked,
    /// The server's end of stream (FIN).
    Eof,
    /// The socket failed.
    Failed(std::io::Error),
    /// An echo was wrong, or a layer failed: the connection is already closed and that
    /// counted.
    Ended,
}

/// Errors that mean the server reset the connection: a read or a write says so, or a
/// write finds the connection already torn down by the reset.
fn is_reset(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
    )
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
    /// The thread's selector, for connections opened again in the loop.
    selector: mio::Registry,
    conns: Vec<Conn>,
    /// One read buffer for every connection.
    buf: Vec<u8>,
    tally: Tally,
    phase: Phase,
    /// Messages meant to be sent at or after this time (ns) are measured.
    measure_from: u64,
    /// Closed loop, `--requests`: measured messages still to queue.
    to_measure: Option<u64>,
    /// Open loop: when messages fall due, and those waiting for a free connection.
    schedule: Option<Schedule>,
    /// Open loop, in the drain: the backlog has waited longer than the timeout and is
    /// given up (counted as not sent) instead of being sent ever later.
    abandoned: bool,
    /// Open loop: where the search for a free connection resumes.
    cursor: usize,
    /// Connections to top up and flush on this iteration.
    touched: Vec<usize>,
    /// Connections not closed, and of those, still connecting.
    open: usize,
    connecting: usize,
    /// `--connect-rate`: when connections fall due.
    churn: Option<Schedule>,
    /// `--connect-rate`: slots whose connection is closed, to open the next one in.
    free: Vec<usize>,
}

/// Runs the plan to completion and returns its tally.
pub(crate) fn run(plan: &Plan) -> std::io::Result<Tally> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let now = || nanos(plan.start.elapsed());
    // `--idle` sets the end of its connect phase when the last connect finishes.
    let mut warm_end = if plan.one_each {
        u64::MAX
    } else {
        nanos(plan.warmup)
    };
    let mut measure_end = plan.duration.map(|d| warm_end.saturating_add(nanos(d)));
    let timeout = nanos(plan.timeout);

    let mut w = Worker {
        plan,
        selector: poll.registry().try_clone()?,
        conns: Vec::with_capacity(plan.connections),
        buf: vec![0u8; READ_BUF],
        tally: Tally::default(),
        // `--idle` holds from the moment every connect has finished, one way or the other.
        phase: if warm_end == 0 && !plan.one_each {
            Phase::Measure
        } else {
            Phase::Warmup
        },
        // `--idle` has no warmup: its one echo per connection is measured.
        measure_from: if plan.one_each { 0 } else { warm_end },
        to_measure: plan.requests.filter(|_| plan.rate.is_none()),
        // The open-loop schedule starts with the run, warmup included.
        schedule: plan
            .rate
            .map(|rate| Schedule::new(rate, warm_end, plan.requests)),
        abandoned: false,
        cursor: 0,
        touched: Vec::new(),
        open: 0,
        connecting: 0,
        churn: plan.churn.map(|rate| Schedule::new(rate, warm_end, None)),
        free: Vec::new(),
    };
    // Churn opens its connections as they fall due, not all at the start.
    let initial = if plan.churn.is_some() {
        0
    } else {
        plan.connections
    };
    for i in 0..initial {
        match TcpStream::connect(plan.addr) {
            Ok(mut stream) => {
                let token = Token(w.conns.len());
                // Writability says when the connect finished.
                let interest = Interest::READABLE | Interest::WRITABLE;
                poll.registry().register(&mut stream, token, interest)?;
                w.conns.push(Conn {
                    stream,
                    load: LoadConn::new(plan.first_id + i as u64, plan.pattern),
                    state: State::Connecting,
                    registration: Registration::registered(BOTH),
                    opened: now(),
                    due: 0,
                    generation: 0,
                    layers: None,
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
    let mut next_scan = 0u64;
    let mut reported = 0u64;

    loop {
        let t = now();
        if plan.one_each && w.phase == Phase::Warmup && w.connecting == 0 {
            warm_end = t;
            measure_end = plan.duration.map(|d| t.saturating_add(nanos(d)));
        }
        // Messages meant for up to now fall due, but none past the window's end: every
        // message of the window has fallen due by the time it closes.
        if w.sending() {
            let until = measure_end.map_or(t, |end| t.min(end.saturating_sub(1)));
            if let Some(s) = &mut w.schedule {
                s.fall_due(until);
            }
            if let Some(s) = &mut w.churn {
                s.fall_due(until);
            }
        }
        if w.phase == Phase::Warmup && t >= warm_end {
            w.phase = Phase::Measure;
            w.tally.window.0 = warm_end;
        }
        if w.phase == Phase::Measure
            && (measure_end.is_some_and(|end| t >= end) || w.measure_complete())
        {
            w.phase = Phase::Drain;
            w.tally.window.1 = measure_end.map_or(t, |end| end.min(t));
        }
        // The drain waits for every owed echo, each one for as long as it progresses: the
        // timeout scan fails those that stall, so a large message still on its way is not
        // cut off at an arbitrary deadline.
        if w.phase == Phase::Drain {
            // A message still waiting for a connection after the timeout shows the rate
            // was not kept; sending the backlog ever later would only stretch the drain.
            let stale = [&w.schedule, &w.churn]
                .into_iter()
                .filter_map(|s| s.as_ref().and_then(Schedule::oldest))
                .any(|at| t.saturating_sub(at) > timeout);
            w.abandoned |= stale;
            // Churn: a connection owes its one echo from the moment it opens, and one
            // closing is waited for too (bounded by the timeout scan).
            let owed = w.conns.iter().any(|c| {
                (c.state == State::Open && (c.load.in_flight() > 0 || w.churn.is_some()))
                    || c.state == State::Closing
            });
            // A connect still under way (one opened again after an expected end, just
            // before the window closed) finishes or times out: it is not failed for
            // having been slower than the last echo.
            if !owed && !w.dispatching() && w.connecting == 0 {
                break;
            }
        }
        w.dispatch(t);
        w.churn_dispatch(t);
        w.service(t);
        if t >= next_scan {
            next_scan = t + TIMEOUT_SCAN_NS;
            w.expire(t, timeout);
        }
        // A hold lasts as long as asked even when the server closed every held
        // connection: that is a failure to report, not a reason to stop early.
        let holding = plan.one_each && w.tally.connected > 0;
        // Churn has no connection open between two that fall due.
        let churning = w.churn.is_some() && (w.sending() || w.dispatching());
        if w.open == 0 && !holding && !churning {
            if w.phase == Phase::Measure {
                w.tally.window.1 = t;
            }
            break;
        }

        // Wait for readiness, the next message due, a phase change or the next scan.
        let mut until = next_scan;
        if w.sending() {
            for s in [&w.schedule, &w.churn].into_iter().flatten() {
                until = until.min(s.next_due_at());
            }
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
            if w.conns.get(i).is_some_and(Conn::live)
                && (event.is_readable() || event.is_read_closed())
            {
                match w.read(i, t, event.is_read_closed()) {
                    Stop::Blocked | Stop::Ended => {}
                    Stop::Eof => w.server_closed(i, t),
                    Stop::Failed(e) => w.failed(i, t, "read", &e),
                }
            }
            if event.is_writable() && w.conns.get(i).is_some_and(|c| c.live() && c.wants_write()) {
                w.touched.push(i);
            }
        }
        if w.tally.verified > reported {
            plan.progress
                .fetch_add(w.tally.verified - reported, Ordering::Relaxed);
            reported = w.tally.verified;
        }
    }

    // Whatever is still owed now will not come.
    let mut closing = Vec::new();
    for (i, c) in w.conns.iter_mut().enumerate() {
        if matches!(c.state, State::Connecting | State::Handshaking) {
            w.tally.connect_failures += 1;
            let what = if c.state == State::Connecting {
                "connect"
            } else {
                "handshake"
            };
            w.tally
                .error(format!("{what}: not finished when the run ended"));
        }
        if c.state == State::Open {
            w.tally.open_at_end += 1;
            if c.load.in_flight() > 0 {
                w.tally.timeouts += 1;
                w.tally.lost += c.load.in_flight() as u64;
            }
        }
        // A WebSocket close frame and TLS's close_notify, in one last write (the server
        // may have stopped reading: the run does not wait for it), then a half-close, so
        // the server sees an orderly end, not a reset.
        if let (State::Open, Some(layers)) = (c.state, &mut c.layers) {
            layers.finish(&mut c.load);
            let _ = write_layers(&mut c.stream, layers, &mut c.load, now());
            closing.push(i);
        }
        let _ = c.stream.shutdown(Shutdown::Write);
    }
    w.await_closes(
        &mut poll,
        &mut events,
        &closing,
        now() + CLOSE_WAIT_NS.min(timeout),
    );
    // Churn's due and unsent count connections, as the report says.
    if let Some(s) = w.schedule.as_ref().or(w.churn.as_ref()) {
        w.tally.due = s.due_measured();
        w.tally.unsent = s.unsent_measured();
    }
    if w.tally.window.1 == 0 {
        w.tally.window.1 = now();
    }
    Ok(w.tally)
}

/// How long the end of a run waits for servers to answer the close of their
/// connections (a WebSocket close frame, TLS's close_notify) with their own.
const CLOSE_WAIT_NS: u64 = 1_000_000_000;

impl Worker<'_> {
    /// Reads, and drops, what the servers of the `closing` connections still send, until
    /// each has closed its side or `deadline` (ns) passes: closing a socket with bytes
    /// unread would answer the server's close frame or close_notify with a reset.
    fn await_closes(
        &mut self,
        poll: &mut Poll,
        events: &mut Events,
        closing: &[usize],
        deadline: u64,
    ) {
        let mut waiting: Vec<bool> = vec![false; self.conns.len()];
        let mut left = 0;
        for &i in closing {
            if self.drain(i) {
                waiting[i] = true;
                left += 1;
            }
        }
        let start = self.plan.start;
        while left > 0 {
            let t = nanos(start.elapsed());
            if t >= deadline {
                return;
            }
            match poll.poll(events, Some(Duration::from_nanos(deadline - t))) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
            for event in events.iter() {
                let i = event.token().0;
                if waiting.get(i) == Some(&true) && !self.drain(i) {
                    waiting[i] = false;
                    left -= 1;
                }
            }
        }
    }

    /// Reads connection `i` until it would block (then says it is still open) or ends.
    fn drain(&mut self, i: usize) -> bool {
        loop {
            match net::read_once(&mut self.conns[i].stream, &mut self.buf) {
                ReadOutcome::Data(_) => {}
                ReadOutcome::WouldBlock => return true,
                ReadOutcome::Closed | ReadOutcome::Failed(_) => return false,
            }
        }
    }

    /// Whether new messages may be queued (closed loop) or fall due (open loop).
    fn sending(&self) -> bool {
        self.phase < Phase::Drain && !self.measure_complete()
    }

    /// `--requests`: whether every measured message was queued (closed loop) or fell
    /// due (open loop).
    fn measure_complete(&self) -> bool {
        self.to_measure == Some(0) || self.schedule.as_ref().is_some_and(Schedule::complete)
    }

    /// Open loop: whether due messages still go out. In the drain too, so that one that
    /// fell due just before the window closed is not counted as unsent for want of a
    /// free connection at that instant.
    fn dispatching(&self) -> bool {
        let backlog = [&self.schedule, &self.churn]
            .into_iter()
            .any(|s| s.as_ref().is_some_and(|s| s.backlog() > 0));
        backlog && !self.abandoned
    }

    /// Churn: opens a connection for each one due, oldest first, in a free slot, while
    /// fewer than `connections` are open: the bound that keeps a dead server from using
    /// up the file descriptors. A connection that finds no slot waits and keeps its due
    /// time; one still waiting when the run ends is counted as never started.
    fn churn_dispatch(&mut self, t: u64) {
        if self.abandoned {
            return;
        }
        while self.churn.as_ref().is_some_and(|s| s.backlog() > 0) {
            let i = match self.free.pop() {
                Some(i) => i,
                None if self.conns.len() < self.plan.connections => self.conns.len(),
                None => return,
            };
            let due = self
                .churn
                .as_mut()
                .and_then(Schedule::take)
                .expect("checked: the backlog is not empty");
            self.connect_slot(i, due, t);
        }
    }

    /// Churn: opens slot `i`'s next connection (a new slot is pushed), due at `due`.
    fn connect_slot(&mut self, i: usize, due: u64, t: u64) {
        let generation = match self.conns.get_mut(i) {
            Some(c) => {
                let _ = self.selector.deregister(&mut c.stream);
                c.generation + 1
            }
            None => 0,
        };
        let id = self.plan.first_id + i as u64 + generation * self.plan.id_stride;
        let stream = connect_registered(&self.selector, self.plan.addr, Token(i));
        match stream {
            Ok(stream) => {
                let conn = Conn {
                    stream,
                    load: LoadConn::new(id, self.plan.pattern),
                    state: State::Connecting,
                    registration: Registration::registered(BOTH),
                    opened: t,
                    due,
                    generation,
                    layers: None,
                };
                match self.conns.get_mut(i) {
                    Some(c) => *c = conn,
                    None => self.conns.push(conn),
                }
                self.open += 1;
                self.connecting += 1;
            }
            Err(e) => {
                // The slot stays as it was (closed, or never filled) and free.
                if i < self.conns.len() {
                    self.free.push(i);
                }
                self.tally.connect_failures += 1;
                self.tally.error(format!("connect: {e}"));
            }
        }
    }

    /// Churn: connection `i` echoed its message: counts the cycle, then closes our end
    /// (a WebSocket close frame and TLS's close_notify first) and waits for the server's.
    fn end_cycle(&mut self, i: usize, t: u64) {
        let c = &mut self.conns[i];
        if c.due >= self.measure_from {
            self.tally.cycles += 1;
            self.tally.cycle.record(t.saturating_sub(c.due));
        }
        if let Some(layers) = &mut c.layers {
            layers.finish(&mut c.load);
            let _ = write_layers(&mut c.stream, layers, &mut c.load, t);
        }
        let _ = c.stream.shutdown(Shutdown::Write);
        c.state = State::Closing;
        c.opened = t;
    }

    /// Churn: connection `i`'s server closed its end too (or gave up on it): the slot is
    /// free for the next connection.
    fn release(&mut self, i: usize) {
        let c = &mut self.conns[i];
        let _ = self.selector.deregister(&mut c.stream);
        let _ = c.stream.shutdown(Shutdown::Both);
        c.state = State::Closed;
        self.open -= 1;
        self.free.push(i);
    }

    /// Open loop: hands due messages, oldest first, each to the next connection with a
    /// free slot, keeping its intended time.
    fn dispatch(&mut self, t: u64) {
        if !self.dispatching() {
            return;
        }
        let Some(schedule) = &mut self.schedule else {
            return;
        };
        let n = self.conns.len();
        let mut looked = 0;
        while schedule.backlog() > 0 && looked < n {
            let i = self.cursor % n;
            let c = &mut self.conns[i];
            if c.state == State::Open && c.load.in_flight() < self.plan.pipeline {
                let at = schedule.take().expect("checked: the backlog is not empty");
                c.load.queue(at, t);
                self.touched.push(i);
            } else {
                looked += 1;
            }
            self.cursor = self.cursor.wrapping_add(1);
        }
    }

    /// Whether a connection the server ended on purpose is opened again: while messages
    /// are still to be sent, so that the load goes on for as long as asked.
    fn reopening(&self) -> bool {
        self.sending() || self.dispatching()
    }

    /// Tops up (closed loop) and writes every touched connection, then asks for
    /// writability exactly while bytes wait.
    fn service(&mut self, t: u64) {
        let closed_loop = self.schedule.is_none();
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        touched.dedup();
        for &i in &touched {
            match self.conns[i].state {
                State::Open => {}
                // Handshakes go on: their bytes are written below.
                State::Handshaking => {}
                State::Connecting | State::Closing | State::Closed => continue,
            }
            // Churn: one message per connection, even one opened after the window closed
            // (it fell due inside it).
            let churn = self.churn.is_some();
            while closed_loop && self.conns[i].state == State::Open && (churn || self.sending()) {
                let c = &self.conns[i];
                let full = c.load.in_flight() >= self.plan.pipeline;
                if full || ((self.plan.one_each || churn) && c.load.queued() > 0) {
                    break;
                }
                self.conns[i].load.queue(t, t);
                if t >= self.measure_from {
                    self.to_measure = self.to_measure.map(|n| n - 1);
                }
            }
            let c = &mut self.conns[i];
            let stopped = match &mut c.layers {
                None if c.load.wants_write() => {
                    let outcome = net::write_until_blocked(&mut c.stream, c.load.pending());
                    c.load.wrote(outcome.written, t);
                    outcome.stopped
                }
                None => None,
                Some(layers) => write_layers(&mut c.stream, layers, &mut c.load, t),
            };
            if let Some(Err(e)) = stopped {
                // Echoes that arrived before the failure are still in the socket: check
                // them first, so that none counts as lost and a reset is placed after
                // every byte it let through. The kernel reports a reset once, so
                // reading on finds only the end of the stream: this error decides, but
                // for a broken pipe behind a FIN, which is the aftermath of a close
                // (the server's socket went away with our bytes unread), not a reset.
                match self.read(i, t, true) {
                    Stop::Ended => {}
                    Stop::Eof if e.kind() == ErrorKind::BrokenPipe => self.server_closed(i, t),
                    _ => self.failed(i, t, "write", &e),
                }
                continue;
            }
            let c = &mut self.conns[i];
            // The interest follows the connection's state, as in the server: writable
            // only while bytes wait, so a writable event always means "send the rest"
            // (the event loop touches the connection for it). Without that, a message
            // larger than the socket buffers never finishes: a line server echoes
            // nothing before the whole line, so no read comes to resume the sending.
            let want = Registration::interest(true, c.wants_write());
            if let Err(e) = c
                .registration
                .update(&self.selector, &mut c.stream, Token(i), want)
            {
                self.close(i, &format!("register: {e}"), e.kind());
            }
        }
        touched.clear();
        self.touched = touched;
    }

    /// Fails connects that have waited too long, and connections whose owed echo has not
    /// progressed for the timeout.
    fn expire(&mut self, t: u64, timeout: u64) {
        for i in 0..self.conns.len() {
            let c = &self.conns[i];
            match c.state {
                State::Connecting if t.saturating_sub(c.opened) > timeout => {
                    self.tally.connect_failures += 1;
                    self.close(i, "connect: timed out", ErrorKind::TimedOut);
                }
                State::Handshaking if t.saturating_sub(c.opened) > timeout => {
                    self.tally.connect_failures += 1;
                    let what = format!(
                        "handshake: not finished {} ms after the connect began",
                        timeout / 1_000_000
                    );
                    self.close(i, &what, ErrorKind::TimedOut);
                }
                // The server did not close its end: its slot is needed.
                State::Closing if t.saturating_sub(c.opened) > timeout => self.release(i),
                State::Open if c.load.stalled(t, timeout) => {
                    let owed = c.load.in_flight();
                    self.tally.timeouts += 1;
                    let what = format!(
                        "no echo for {} ms with {owed} messages in flight",
                        timeout / 1_000_000
                    );
                    self.close(i, &what, ErrorKind::TimedOut);
                }
                _ => {}
            }
        }
    }

    fn connect_done(&mut self, i: usize, t: u64) {
        match connected(&self.conns[i].stream) {
            Ok(true) => {
                let c = &mut self.conns[i];
                self.tally.connect.record(t.saturating_sub(c.opened));
                // Small messages must not wait for Nagle: latency is the point.
                let _ = c.stream.set_nodelay(true);
                if self.plan.wiring.plain() {
                    self.open(i);
                    return;
                }
                let layers = match (c.stream.local_addr(), c.stream.peer_addr()) {
                    (Ok(source), Ok(destination)) => {
                        self.plan
                            .wiring
                            .open(source, destination, t, self.plan.pattern.size)
                    }
                    (Err(e), _) | (_, Err(e)) => Err(format!("connect: {e}")),
                };
                match layers {
                    Ok(layers) => {
                        let ready = layers.ready();
                        c.layers = Some(Box::new(layers));
                        c.state = State::Handshaking;
                        self.touched.push(i);
                        if ready {
                            self.open(i);
                        }
                    }
                    Err(what) => {
                        self.tally.connect_failures += 1;
                        self.close(i, &what, ErrorKind::Other);
                    }
                }
            }
            Ok(false) => {}
            Err(e) => {
                self.tally.connect_failures += 1;
                self.close(i, &format!("connect: {e}"), e.kind());
            }
        }
    }

    /// Connection `i` is connected and every handshake done: load may flow.
    fn open(&mut self, i: usize) {
        let c = &mut self.conns[i];
        // Churn's connections are each new, not re-openings.
        if c.generation == 0 || self.churn.is_some() {
            self.tally.connected += 1;
        } else {
            self.tally.reconnects += 1;
        }
        c.state = State::Open;
        self.connecting -= 1;
        self.touched.push(i);
    }

    /// Reads what arrived and checks it, until the socket has nothing more or the
    /// connection ends; says which. A read shorter than the buffer has drained the socket:
    /// with edge-triggered readiness, bytes arriving later raise a new event, so the extra
    /// read that would only say `WouldBlock` is skipped — one syscall per echo. Not so
    /// when the event said the peer closed (`to_end`): its FIN came with these bytes or
    /// before them and raises no new event, so reading goes on to it.
    fn read(&mut self, i: usize, t: u64, to_end: bool) -> Stop {
        loop {
            let c = &mut self.conns[i];
            match net::read_once(&mut c.stream, &mut self.buf) {
                ReadOutcome::Data(n) => {
                    let before = c.load.verified();
                    let mut measure = Measure {
                        from: self.measure_from,
                        latency: &mut self.tally.latency,
                    };
                    let mut ended = false;
                    let result = match &mut c.layers {
                        None => c
                            .load
                            .received(&self.buf[..n], t, &mut measure)
                            .map_err(WireError::from),
                        Some(layers) => {
                            c.load.moved(t);
                            layers
                                .receive(&self.buf[..n], &mut c.load, t, &mut measure)
                                .map(|inbound| {
                                    if let Some(ns) = inbound.tls_handshake {
                                        self.tally.tls_handshake.record(ns);
                                    }
                                    if let Some(ns) = inbound.ws_handshake {
                                        self.tally.ws_handshake.record(ns);
                                    }
                                    ended = inbound.ended;
                                    inbound.measured
                                })
                        }
                    };
                    match result {
                        Ok(measured) => self.tally.messages += measured,
                        Err(WireError::Mismatch(m)) => {
                            self.tally.mismatches += 1;
                            self.close(i, &format!("mismatch: {m}"), ErrorKind::InvalidData);
                            return Stop::Ended;
                        }
                        Err(WireError::Handshake(what)) => {
                            self.tally.connect_failures += 1;
                            self.close(i, &what, ErrorKind::InvalidData);
                            return Stop::Ended;
                        }
                        Err(WireError::Protocol(what)) => {
                            self.tally.protocol_errors += 1;
                            self.close(i, &what, ErrorKind::InvalidData);
                            return Stop::Ended;
                        }
                    }
                    self.tally.verified += c.load.verified() - before;
                    if self.churn.is_some() && c.state == State::Open && c.load.verified() > 0 {
                        // Read on: to the server's FIN if it came, else to would-block.
                        self.end_cycle(i, t);
                        if ended {
                            return Stop::Eof;
                        }
                        continue;
                    }
                    self.touched.push(i);
                    if c.state == State::Handshaking && c.layers.as_ref().is_some_and(|l| l.ready())
                    {
                        self.open(i);
                    }
                    if ended {
                        return Stop::Eof;
                    }
                    if n < self.buf.len() && !to_end {
                        return Stop::Blocked;
                    }
                }
                ReadOutcome::Closed => {
                    if let Some(layers) = &mut c.layers {
                        layers.receive_end();
                    }
                    return Stop::Eof;
                }
                ReadOutcome::WouldBlock => return Stop::Blocked,
                ReadOutcome::Failed(e) => return Stop::Failed(e),
            }
        }
    }

    /// The server closed connection `i` (its FIN was read).
    fn server_closed(&mut self, i: usize, t: u64) {
        if self.conns[i].state == State::Closing {
            self.release(i);
            return;
        }
        if self.conns[i].state == State::Handshaking {
            self.tally.connect_failures += 1;
            self.close(
                i,
                "handshake: the server closed the connection",
                ErrorKind::Other,
            );
            return;
        }
        if self.count_expected(i, t, End::Close) {
            return;
        }
        let c = &self.conns[i];
        let owed = c.load.in_flight();
        if owed > 0 {
            let what = format!("server closed with {owed} messages in flight");
            self.close(i, &what, ErrorKind::UnexpectedEof);
        } else {
            // Nothing was lost, but the connection is gone before the run ended: a held
            // connection did not hold, a loaded one can carry no more load.
            self.tally.closed += 1;
            let after = Duration::from_nanos(t.saturating_sub(c.opened));
            let what = if self.plan.one_each {
                format!(
                    "server closed a held connection {:.2} s after it opened",
                    after.as_secs_f64()
                )
            } else {
                format!(
                    "server closed a connection {:.2} s after it opened",
                    after.as_secs_f64()
                )
            };
            self.close(i, &what, ErrorKind::UnexpectedEof);
        }
    }

    /// Reading or writing (`op`) connection `i` failed with `e`.
    fn failed(&mut self, i: usize, t: u64, op: &str, e: &std::io::Error) {
        // After the echo was verified, how the server ends the connection is its own
        // business: a reset to our FIN loses nothing.
        if self.conns[i].state == State::Closing {
            self.release(i);
            return;
        }
        if self.conns[i].state == State::Handshaking {
            self.tally.connect_failures += 1;
            self.close(i, &format!("handshake: {op}: {e}"), ErrorKind::Other);
            return;
        }
        if is_reset(e.kind()) && self.count_expected(i, t, End::Reset) {
            return;
        }
        self.close(i, &format!("{op}: {e}"), e.kind());
    }

    /// If the server was announced to end connections this way, counts the end of
    /// connection `i` with the bytes it echoed and the messages it still owed, opens a new
    /// connection in its place while there is load to send, and says so; otherwise does
    /// nothing and says not.
    fn count_expected(&mut self, i: usize, t: u64, end: End) -> bool {
        if !self.plan.expect.allows(end) {
            return false;
        }
        let c = &mut self.conns[i];
        debug_assert_eq!(c.state, State::Open, "only an open connection is ended");
        self.tally
            .expected
            .of(end)
            .record(c.load.echoed_bytes(), c.load.in_flight() as u64);
        c.state = State::Closed;
        self.open -= 1;
        if self.reopening() {
            self.reopen(i, t);
        }
        true
    }

    /// Opens connection `i` again, with a new id (so its messages differ from those of
    /// every earlier connection) and nothing in flight. The old socket is closed.
    fn reopen(&mut self, i: usize, t: u64) {
        let c = &mut self.conns[i];
        let _ = self.selector.deregister(&mut c.stream);
        let generation = c.generation + 1;
        let id = self.plan.first_id + i as u64 + generation * self.plan.id_stride;
        let stream = connect_registered(&self.selector, self.plan.addr, Token(i));
        match stream {
            Ok(stream) => {
                *c = Conn {
                    stream,
                    load: LoadConn::new(id, self.plan.pattern),
                    state: State::Connecting,
                    registration: Registration::registered(BOTH),
                    opened: t,
                    due: t,
                    generation,
                    layers: None,
                };
                self.open += 1;
                self.connecting += 1;
            }
            Err(e) => {
                self.tally.connect_failures += 1;
                self.tally.error(format!("reconnect: {e}"));
            }
        }
    }

    /// Ends a connection on an error: what it still owed is lost.
    fn close(&mut self, i: usize, what: &str, kind: ErrorKind) {
        let c = &mut self.conns[i];
        if c.state == State::Closed {
            return;
        }
        if matches!(c.state, State::Connecting | State::Handshaking) {
            self.connecting -= 1;
        }
        if is_reset(kind) {
            self.tally.resets += 1;
        }
        self.tally.lost += c.load.in_flight() as u64;
        c.state = State::Closed;
        self.open -= 1;
        self.tally.error(what.to_owned());
        if self.churn.is_some() {
            // The slot takes the next connection; this one's socket goes now.
            let _ = self.selector.deregister(&mut c.stream);
            let _ = c.stream.shutdown(Shutdown::Both);
            self.free.push(i);
        }
    }
}

/// Writes what the layers have for the socket until they have nothing more or the
/// socket is full, pumping the load's messages down through them as it goes. Returns why
/// it stopped early, as [`net::WriteOutcome::stopped`] does.
fn write_layers(
    stream: &mut TcpStream,
    layers: &mut Layers,
    load: &mut LoadConn,
    t: u64,
) -> Option<std::io::Result<()>> {
    loop {
        layers.pump(load);
        let bytes = layers.wire(load);
        if bytes.is_empty() {
            return None;
        }
        let outcome = net::write_until_blocked(stream, bytes);
        layers.wrote(outcome.written, load);
        if outcome.written > 0 {
            load.moved(t);
        }
        if outcome.stopped.is_some() {
            return outcome.stopped;
        }
    }
}

/// A duration in nanoseconds, saturating: 2⁶⁴ ns is 584 years.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
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

/// What a load connection is registered for from its connect on: writability says the
/// connect finished.
const BOTH: Interest = Interest::READABLE.add(Interest::WRITABLE);

/// A non-blocking connect to `addr`, registered for [`BOTH`] under `token`.
fn connect_registered(
    selector: &mio::Registry,
    addr: SocketAddr,
    token: Token,
) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr)?;
    selector.register(&mut stream, token, BOTH)?;
    Ok(stream)
}
