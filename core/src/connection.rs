//! The stream shell: [`Connection`], one TCP connection's rules around a stack of layers.

use core::time::Duration;
use std::collections::VecDeque;

use crate::config::ValidConfig;
use crate::counters::Counters;
use crate::echo::Echo;
use crate::input::Input;
use crate::layer::{Layer, LayerState, Leftover};
use crate::output::{CloseReason, Event, Output};
use crate::snapshot::{Phase, Snapshot};
use crate::time::Instant;
use crate::timers::{Deadlines, Timer};

/// One TCP connection, without the socket: the stream's rules around a stack of layers
/// (by default the bare [`Echo`]).
///
/// The stream owns what every protocol over TCP shares: how much to read, the peer's
/// end-of-stream and our FIN, half-close and lingering, the idle, write-stall, flush,
/// linger and shutdown timers, and the release. What the bytes mean is the stack's
/// business; see [`Layer`].
///
/// # Methods, by role
/// - **Inputs:** [`handle_input`](Self::handle_input) with an [`Input`] and the time.
/// - **Outputs:** [`poll_output`](Self::poll_output), drained until it returns
///   [`Output::Timeout`] after *every* input.
/// - **Readiness** (what to register with the selector):
///   [`receive_capacity`](Self::receive_capacity) (> 0: read) and
///   [`wants_write`](Self::wants_write) (write; register for writability only while true).
/// - **Introspection:** [`snapshot`](Self::snapshot), [`counters`](Self::counters),
///   [`phase`](Self::phase), [`allocated`](Self::allocated). Nothing is recorded for them
///   beyond a few integers; a snapshot is built only when asked for.
///
/// The full run loop is in the [crate docs](crate#the-run-loop-contract).
#[derive(Debug)]
pub struct Connection<L = Echo> {
    stack: L,
    /// The stream's durations are read from here (one pointer for all of them: an idle
    /// connection's size is what a server with many of them pays).
    config: ValidConfig,
    /// The time of the latest input: outputs are drained right after an input, so this is
    /// "now" for anything `poll_output` starts (the linger timer).
    now: Instant,
    state: State,
    /// The peer's end-of-stream was seen.
    read_closed: bool,
    /// Our FIN was sent.
    fin_sent: bool,
    /// A short write happened; no `Transmit` until `Input::Writable`.
    write_blocked: bool,
    /// Length of the last `Transmit` offered, to recognise short writes.
    offered: usize,
    events: VecDeque<Event>,
    timers: Starts,
    counters: Counters,
}

/// The stream's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Moving bytes: both ways while the stack is open, outwards while it closes.
    Active,
    /// Our FIN is sent; the peer's input is read and dropped until its end-of-stream (or
    /// the linger timeout), so that it reads its echo before any reset.
    Lingering(CloseReason),
    /// Finished for this reason; the `Release` is yet to be polled.
    Releasing(CloseReason),
    /// Released.
    Released,
}

/// When each stream timer started; a deadline is its start plus its duration. Keeping
/// starts makes "progress resets the idle timer" a single store on the hot path.
#[derive(Debug, Default, Clone, Copy)]
struct Starts {
    /// Last progress in either direction.
    last_progress: Instant,
    /// When output became pending, or last moved.
    stall_since: Option<Instant>,
    /// When our FIN was sent.
    fin_at: Option<Instant>,
    /// When shutdown was requested.
    shutdown_at: Option<Instant>,
}

/// What `poll_output` does next, without the borrow (so the registry can act on it).
pub(crate) enum Step {
    Event(Event),
    Transmit,
    CloseWrite,
    Release(CloseReason),
    Timeout(Option<Instant>),
}

impl Connection<Echo> {
    /// A new echo connection, open and reading, at time `now`.
    pub fn new(config: ValidConfig, now: Instant) -> Self {
        let echo = Echo::new(config.clone(), now);
        Connection::with_stack(&config, echo, now)
    }
}

impl<L: Layer> Connection<L> {
    /// A new connection over `stack`, open and reading, at time `now`; the stream's rules
    /// come from `config.stream`.
    pub fn with_stack(config: &ValidConfig, stack: L, now: Instant) -> Self {
        Connection {
            stack,
            config: config.clone(),
            now,
            state: State::Active,
            read_closed: false,
            fin_sent: false,
            write_blocked: false,
            offered: 0,
            events: VecDeque::new(),
            timers: Starts {
                last_progress: now,
                ..Starts::default()
            },
            counters: Counters::default(),
        }
    }

    /// The stack this connection drives.
    pub fn stack(&self) -> &L {
        &self.stack
    }

    /// Feeds one input at time `now`. Returns how many bytes of [`Input::Received`] were
    /// taken (0 for every other input). Afterwards, drain [`poll_output`](Self::poll_output).
    ///
    /// Every input first fires the timers due at `now`, so an [`Input::Tick`] is only
    /// needed when nothing else happens.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) -> usize {
        // A clock that steps back must not rewind timers.
        self.now = self.now.max(now);
        if !matches!(self.state, State::Active | State::Lingering(_)) {
            return 0;
        }
        let taken = match input {
            Input::Received(bytes) => self.receive(bytes),
            Input::PeerClosed => {
                self.peer_closed();
                0
            }
            Input::Written(n) => {
                self.written(n);
                0
            }
            Input::Writable => {
                self.write_blocked = false;
                0
            }
            Input::Tick => 0,
            Input::Shutdown => {
                self.timers.shutdown_at.get_or_insert(self.now);
                if self.state == State::Active {
                    self.stack
                        .close(self.now, CloseReason::Shutdown, Leftover::All);
                }
                0
            }
            Input::Reset => {
                self.state = State::Releasing(CloseReason::Reset);
                0
            }
        };
        self.settle();
        self.fire_timers();
        taken
    }

    /// The next thing to do; see [`Output`] for the order. Drain until `Timeout`.
    pub fn poll_output(&mut self) -> Output<'_> {
        match self.step() {
            Step::Event(e) => Output::Event(e),
            Step::Transmit => Output::Transmit(self.stack.transmit()),
            Step::CloseWrite => Output::CloseWrite,
            Step::Release(reason) => Output::Release {
                reason,
                counters: self.counters,
            },
            Step::Timeout(t) => Output::Timeout(t),
        }
    }

    pub(crate) fn step(&mut self) -> Step {
        // Our own events first: any of the stack's that came before them were moved in
        // ahead of them (`push_event`); then the stack's, straight from its queue.
        if let Some(event) = self.events.pop_front().or_else(|| self.stack.poll_event()) {
            if let Event::Echoed { frames, .. } = event {
                self.counters.frames += frames;
            }
            // A layer may act on what passes through it (the fault layer's chance per
            // echoed frame): a failure it decides on here counts from here.
            if let (State::Active, LayerState::Failed(reason)) = (self.state, self.stack.state()) {
                self.state = State::Releasing(reason);
            }
            return Step::Event(event);
        }
        match self.state {
            State::Released => return Step::Timeout(None),
            State::Releasing(reason) => {
                self.state = State::Released;
                return Step::Release(reason);
            }
            State::Active | State::Lingering(_) => {}
        }
        let pending = self.stack.transmit().len();
        if pending > 0 && !self.write_blocked {
            self.offered = pending;
            return Step::Transmit;
        }
        if let (State::Active, 0, LayerState::Done(reason)) =
            (self.state, pending, self.stack.state())
        {
            self.fin_sent = true;
            self.state = if self.read_closed || self.config.stream.linger.is_none() {
                State::Releasing(reason)
            } else {
                self.timers.fin_at = Some(self.now);
                State::Lingering(reason)
            };
            return Step::CloseWrite;
        }
        Step::Timeout(self.next_deadline())
    }

    /// The bytes of the last `Transmit` (the registry's borrow-free path to them).
    pub(crate) fn transmit_slice(&self) -> &[u8] {
        self.stack.transmit()
    }

    /// How many bytes the connection takes now: 0 while paused by backpressure or closing,
    /// unlimited while lingering (they are discarded). Read at most this much.
    pub fn receive_capacity(&self) -> usize {
        match self.state {
            State::Releasing(_) | State::Released => 0,
            _ if self.read_closed => 0,
            State::Lingering(_) => usize::MAX,
            State::Active => self.stack.receive_capacity(),
        }
    }

    /// Whether output is waiting to be written: register for writability only then.
    pub fn wants_write(&self) -> bool {
        self.state == State::Active && !self.stack.transmit().is_empty()
    }

    /// Whether the connection is finished (its `Release` was polled).
    pub fn is_released(&self) -> bool {
        self.state == State::Released
    }

    /// The earliest deadline, if any: of a timer of the stream's or of the stack's (its
    /// timers, and giving back buffers once the connection has been quiet for a moment).
    pub fn next_deadline(&self) -> Option<Instant> {
        if !matches!(self.state, State::Active | State::Lingering(_)) {
            return None;
        }
        let own = self.own_deadlines().earliest().map(|(at, _)| at);
        let stack = match self.state {
            State::Active => self.stack.deadline(),
            _ => None,
        };
        match (own, stack) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Traffic counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Bytes allocated for the connection's buffers (their capacity, not their contents):
    /// what an idle connection costs beyond its fixed size.
    pub fn allocated(&self) -> usize {
        self.stack.allocated()
    }

    /// Where the connection is in its life.
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Releasing(_) | State::Released => Phase::Released,
            State::Lingering(_) => Phase::Lingering,
            State::Active if self.stack.state() == LayerState::Open => Phase::Open,
            State::Active => Phase::Closing,
        }
    }

    /// A view of everything buffered and every running timer. Borrows the buffers; costs a
    /// small allocation only for the frame list.
    pub fn snapshot(&self) -> Snapshot<'_> {
        let view = self.stack.view();
        let echo = view.as_ref();
        let config = echo.map(|v| v.config);
        let mut deadlines = self.own_deadlines();
        if self.state == State::Active {
            self.stack.timers(&mut deadlines);
        }
        let close_reason = match self.state {
            State::Lingering(reason) | State::Releasing(reason) => Some(reason),
            _ => self.stack.state().reason(),
        };
        Snapshot {
            phase: self.phase(),
            framing: config.map(|c| c.framing).unwrap_or_default(),
            reading_paused: echo.is_some_and(|v| v.paused),
            read_closed: self.read_closed,
            write_closed: self.fin_sent,
            write_blocked: self.write_blocked,
            receive_capacity: self.receive_capacity(),
            input: echo.map_or(&[][..], |v| v.input),
            partial_len: echo.map_or(0, |v| v.partial_len),
            collected: echo.map_or(&[][..], |v| v.collected),
            output: echo.map_or(self.stack.transmit(), |v| v.output),
            frame_ends: view.map(|v| v.frame_ends).unwrap_or_default(),
            input_capacity: config.map_or(0, |c| c.input_capacity()),
            high_watermark: config.map_or(0, |c| c.high_watermark),
            low_watermark: config.map_or(0, |c| c.low_watermark),
            output_bound: config.map_or(0, |c| c.output_bound()),
            close_reason,
            counters: self.counters,
            deadlines,
        }
    }

    // ---- inputs -------------------------------------------------------------------------

    fn receive(&mut self, bytes: &[u8]) -> usize {
        if let State::Lingering(_) = self.state {
            // Take and drop, so the peer's close reaches us.
            self.counters.bytes_discarded += bytes.len() as u64;
            return bytes.len();
        }
        let take = bytes.len().min(self.receive_capacity());
        if take == 0 {
            return 0;
        }
        let taken = self.stack.receive(self.now, &bytes[..take]);
        debug_assert_eq!(
            taken, take,
            "invariant: a layer takes what its capacity offered"
        );
        self.counters.reads += 1;
        self.counters.bytes_in += taken as u64;
        self.timers.last_progress = self.now;
        taken
    }

    fn peer_closed(&mut self) {
        if self.read_closed {
            return;
        }
        self.read_closed = true;
        match self.state {
            // The linger wait is over: the peer has read our FIN and closed too.
            State::Lingering(reason) => self.state = State::Releasing(reason),
            State::Active => self.stack.receive_end(self.now),
            State::Releasing(_) | State::Released => {}
        }
    }

    fn written(&mut self, n: usize) {
        let offered = if self.offered == 0 {
            self.stack.transmit().len()
        } else {
            self.offered
        };
        debug_assert!(
            n <= offered,
            "driver reported {n} bytes written of {offered} offered"
        );
        let n = n.min(offered);
        if n < offered {
            self.write_blocked = true;
        }
        self.offered = 0;
        if n > 0 {
            self.counters.writes += 1;
            self.counters.bytes_out += n as u64;
            self.timers.last_progress = self.now;
            self.timers.stall_since = Some(self.now);
            self.stack.transmitted(self.now, n);
        }
    }

    // ---- bookkeeping --------------------------------------------------------------------

    /// Queues an event of the shell's own after every event the stack has queued so far,
    /// so events come out in the order they happened.
    fn push_event(&mut self, event: Event) {
        while let Some(earlier) = self.stack.poll_event() {
            self.events.push_back(earlier);
        }
        self.events.push_back(event);
    }

    /// After every call into the stack: a failure releases the connection, and the
    /// write-stall clock and the peaks follow what the stack now holds. The stack's events
    /// stay in its own queue until they are polled, so a connection keeps no second queue
    /// of them (an idle connection's memory).
    fn settle(&mut self) {
        if let (State::Active, LayerState::Failed(reason)) = (self.state, self.stack.state()) {
            self.state = State::Releasing(reason);
        }
        if self.stack.transmit().is_empty() {
            self.timers.stall_since = None;
        } else if self.timers.stall_since.is_none() {
            self.timers.stall_since = Some(self.now);
        }
        let (input, output) = self.stack.held();
        let c = &mut self.counters;
        c.peak_input = c.peak_input.max(input);
        c.peak_output = c.peak_output.max(output);
    }

    /// The stream's own timers, given its state and the stack's.
    fn own_deadlines(&self) -> Deadlines {
        let mut d = Deadlines::default();
        let after = |start: Option<Instant>, dur: Option<Duration>| Some(start? + dur?);
        let t = &self.timers;
        let s = &self.config.stream;
        match self.state {
            State::Active => {
                if self.stack.state() == LayerState::Open {
                    d.set(Timer::Idle, after(Some(t.last_progress), s.idle_timeout));
                } else {
                    // Closing: it must end, whatever the peer does.
                    d.set(Timer::Flush, after(t.stall_since, Some(s.flush_timeout)));
                }
                d.set(
                    Timer::WriteStall,
                    after(t.stall_since, s.write_stall_timeout),
                );
            }
            State::Lingering(_) => d.set(Timer::Linger, after(t.fin_at, s.linger)),
            State::Releasing(_) | State::Released => return d,
        }
        d.set(
            Timer::Shutdown,
            after(t.shutdown_at, Some(s.shutdown_timeout)),
        );
        d
    }

    /// Fires what is due at `now`, the most severe first: the stream's releasing timers,
    /// then the stack's, then the idle timer (which asks the stack to close). A firing can
    /// make another timer due at once (an idle close starts the flush timer, which may be
    /// past already), so it goes round until nothing is due.
    fn fire_timers(&mut self) {
        let now = self.now;
        // Each round releases the connection or closes the stack, and neither happens
        // twice: a few rounds at most. The bound only guards against a layer whose
        // deadline stays in the past after its timeout was handled.
        for _ in 0..=Timer::ALL.len() {
            if !matches!(self.state, State::Active | State::Lingering(_)) {
                break;
            }
            let own = self.own_deadlines();
            let due = |timer| own.get(timer).is_some_and(|at| at <= now);
            let releasing = [
                Timer::Shutdown,
                Timer::WriteStall,
                Timer::Flush,
                Timer::Linger,
            ]
            .into_iter()
            .find(|&timer| due(timer));
            if let Some(timer) = releasing {
                self.push_event(Event::TimedOut(timer));
                self.state = match (timer, self.state) {
                    // After our FIN everything owed was written: only the wait is cut short.
                    (Timer::Shutdown | Timer::Linger, State::Lingering(reason)) => {
                        State::Releasing(reason)
                    }
                    _ => State::Releasing(CloseReason::TimedOut(timer)),
                };
            } else if self.state == State::Active
                && self.stack.deadline().is_some_and(|at| at <= now)
            {
                self.stack.handle_timeout(now);
            } else if self.state == State::Active && due(Timer::Idle) {
                self.push_event(Event::TimedOut(Timer::Idle));
                self.stack.close(
                    now,
                    CloseReason::TimedOut(Timer::Idle),
                    Leftover::WholeFrames,
                );
            } else {
                break;
            }
            self.settle();
        }
    }
}
