//! One echo connection as a state machine: [`Connection`].

use std::collections::VecDeque;

use crate::buffer::OutputQueue;
use crate::config::{Framing, ValidConfig};
use crate::error::PeerError;
use crate::framing::{find_newline, partial_start, partial_too_long, split_terminator};
use crate::input::Input;
use crate::output::{CloseReason, Event, Output, Timer};
use crate::snapshot::{Counters, Phase, Snapshot};
use crate::time::Instant;
use crate::timers::{Deadlines, Durations, Running, Timers, TRIM_AFTER};

/// Longest error line the core ever queues (`error: collect exceeds <u64> bytes\n` is 49).
pub(crate) const MAX_ERROR_LINE: usize = 64;

/// Buffers up to this size are kept while a connection is idle: echoes of ordinary lines
/// then never allocate again, and an idle connection holds at most a few KiB. Larger ones
/// are given back [`TRIM_AFTER`] the connection went quiet.
const KEEP_WHEN_IDLE: usize = 4096;

/// One TCP echo connection, without the socket.
///
/// # Methods, by role
/// - **Inputs:** [`handle_input`](Self::handle_input) with an [`Input`] and the time.
/// - **Outputs:** [`poll_output`](Self::poll_output), drained until it returns
///   [`Output::Timeout`] after *every* input.
/// - **Readiness** (what to register with the selector):
///   [`receive_capacity`](Self::receive_capacity) (> 0: read) and
///   [`wants_write`](Self::wants_write) (write; register for writability only while true).
/// - **Introspection:** [`snapshot`](Self::snapshot), [`counters`](Self::counters),
///   [`phase`](Self::phase). Nothing is recorded for them beyond a few integers; a
///   snapshot is built only when asked for.
///
/// The full run loop is in the [crate docs](crate#the-run-loop-contract).
#[derive(Debug)]
pub struct Connection {
    config: ValidConfig,
    durations: Durations,
    /// The time of the latest input: outputs are drained right after an input, so this is
    /// "now" for anything `poll_output` starts (the linger timer).
    now: Instant,

    /// Peer bytes are taken (false once closing begins).
    reading: bool,
    /// The output queue reached the high watermark and has not yet drained to the low one.
    paused: bool,
    /// The peer's end-of-stream was seen.
    read_closed: bool,
    /// A short write happened; no `Transmit` until `Input::Writable`.
    write_blocked: bool,
    /// Length of the last `Transmit` offered, to recognise short writes.
    offered: usize,
    /// Why the connection is closing, once it is.
    closing: Option<CloseReason>,
    /// While closing: what becomes of input taken but not yet echoed.
    leftover: Leftover,
    fin_sent: bool,
    release: Option<CloseReason>,
    released: bool,

    /// `line`/`collect`: accepted bytes not yet echoed — whole lines taken while paused,
    /// then the partial line. Never longer than `config.input_capacity()`.
    input: Vec<u8>,
    /// `collect`: the echo being held, prefix and suffix applied. At most `max_collect`.
    collected: Vec<u8>,
    output: OutputQueue,

    events: VecDeque<Event>,
    /// Frames and bytes echoed by the current input, reported as one `Event::Echoed`.
    batch: (u64, u64),
    timers: Timers,
    counters: Counters,
}

/// What a closing connection does with input it took but has not echoed yet. Ordered from
/// the strictest: when a second reason to close comes, the stricter treatment wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Leftover {
    /// Drop it: the stream's own content ended the echo (the quit word, a limit, an
    /// error), and what came after it in the stream is not answered.
    Drop,
    /// Echo whole lines, drop the trailing partial line and any collection: a timer ended
    /// the connection, and the peer had finished those lines before time ran out (they
    /// were only waiting for our backpressure), but not the partial one.
    WholeLines,
    /// Echo all of it, a trailing partial line as it is and the collection too: the peer
    /// ended the stream, or the server is shutting down.
    All,
}

/// Whether line processing may go on after a line.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// What `poll_output` does next, without the borrow (so the registry can act on it).
pub(crate) enum Step {
    Event(Event),
    Transmit,
    CloseWrite,
    Release(CloseReason),
    Timeout(Option<Instant>),
}

impl Connection {
    /// A new connection, open and reading, at time `now`.
    pub fn new(config: ValidConfig, now: Instant) -> Self {
        let durations = Durations {
            idle: config.idle_timeout,
            frame: config.frame_timeout,
            write_stall: config.write_stall_timeout,
            flush: config.flush_timeout,
            linger: config.linger,
            shutdown: config.shutdown_timeout,
        };
        Connection {
            output: OutputQueue::new(config.record_frames),
            config,
            durations,
            now,
            reading: true,
            paused: false,
            read_closed: false,
            write_blocked: false,
            offered: 0,
            closing: None,
            leftover: Leftover::All,
            fin_sent: false,
            release: None,
            released: false,
            input: Vec::new(),
            collected: Vec::new(),
            events: VecDeque::new(),
            batch: (0, 0),
            timers: Timers {
                last_progress: now,
                ..Timers::default()
            },
            counters: Counters::default(),
        }
    }

    /// Feeds one input at time `now`. Returns how many bytes of [`Input::Received`] were
    /// taken (0 for every other input). Afterwards, drain [`poll_output`](Self::poll_output).
    ///
    /// Every input first fires the timers due at `now`, so an [`Input::Tick`] is only
    /// needed when nothing else happens.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) -> usize {
        // A clock that steps back must not rewind timers.
        self.now = self.now.max(now);
        if self.released || self.release.is_some() {
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
                self.begin_close(CloseReason::Shutdown, Leftover::All);
                0
            }
            Input::Reset => {
                self.fail(CloseReason::Reset);
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
            Step::Transmit => Output::Transmit(self.output.as_slice()),
            Step::CloseWrite => Output::CloseWrite,
            Step::Release(reason) => Output::Release {
                reason,
                counters: self.counters,
            },
            Step::Timeout(t) => Output::Timeout(t),
        }
    }

    pub(crate) fn step(&mut self) -> Step {
        if let Some(event) = self.events.pop_front() {
            return Step::Event(event);
        }
        if self.released {
            return Step::Timeout(None);
        }
        if let Some(reason) = self.release.take() {
            self.released = true;
            return Step::Release(reason);
        }
        if !self.output.is_empty() && !self.write_blocked {
            self.offered = self.output.len();
            return Step::Transmit;
        }
        if self.fin_due() {
            self.fin_sent = true;
            let reason = self.closing.unwrap_or(CloseReason::PeerClosed);
            if self.read_closed || self.durations.linger.is_none() {
                self.release = Some(reason);
            } else {
                self.timers.fin_at = Some(self.now);
            }
            return Step::CloseWrite;
        }
        Step::Timeout(self.next_deadline())
    }

    /// The bytes of the last `Transmit` (the registry's borrow-free path to them).
    pub(crate) fn transmit_slice(&self) -> &[u8] {
        self.output.as_slice()
    }

    /// How many bytes the connection takes now: 0 while paused by backpressure or closing,
    /// unlimited while lingering (they are discarded). Read at most this much.
    pub fn receive_capacity(&self) -> usize {
        if self.released || self.release.is_some() || self.read_closed {
            return 0;
        }
        if self.fin_sent {
            return usize::MAX;
        }
        if !self.reading || self.paused {
            return 0;
        }
        match self.config.framing {
            // Not paused means below the high watermark: room for at least one byte.
            Framing::Raw => self.config.high_watermark - self.output.len(),
            Framing::Line | Framing::Collect => self.config.input_capacity() - self.input.len(),
        }
    }

    /// Whether output is waiting to be written: register for writability only then.
    pub fn wants_write(&self) -> bool {
        !self.released && !self.output.is_empty()
    }

    /// Whether the connection is finished (its `Release` was polled).
    pub fn is_released(&self) -> bool {
        self.released
    }

    /// The earliest deadline, if any: of a timer, or of giving back buffers that grew
    /// large once the connection has been quiet for a moment.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.released || self.release.is_some() {
            return None;
        }
        let timer = self.deadlines().earliest().map(|(at, _)| at);
        match (timer, self.timers.trim_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Bytes allocated for this connection's buffers (their capacity, not their contents):
    /// what an idle connection costs beyond its fixed size.
    pub fn allocated(&self) -> usize {
        self.output.capacity() + self.input.capacity() + self.collected.capacity()
    }

    /// Traffic counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Where the connection is in its life.
    pub fn phase(&self) -> Phase {
        if self.released || self.release.is_some() {
            Phase::Released
        } else if self.fin_sent {
            Phase::Lingering
        } else if self.closing.is_some() {
            Phase::Closing
        } else {
            Phase::Open
        }
    }

    /// A view of everything buffered and every running timer. Borrows the buffers; costs a
    /// small allocation only for the frame list.
    pub fn snapshot(&self) -> Snapshot<'_> {
        let partial_from = if self.config.framing.is_line_based() {
            partial_start(&self.input)
        } else {
            0
        };
        Snapshot {
            phase: self.phase(),
            framing: self.config.framing,
            reading_paused: self.paused,
            read_closed: self.read_closed,
            write_closed: self.fin_sent,
            write_blocked: self.write_blocked,
            receive_capacity: self.receive_capacity(),
            input: &self.input,
            partial_len: self.input.len() - partial_from,
            collected: &self.collected,
            output: self.output.as_slice(),
            frame_ends: self.output.frame_ends(),
            input_capacity: self.config.input_capacity(),
            high_watermark: self.config.high_watermark,
            low_watermark: self.config.low_watermark,
            output_bound: self.config.output_bound(),
            close_reason: self.release.or(self.closing),
            counters: self.counters,
            deadlines: self.deadlines(),
        }
    }

    fn deadlines(&self) -> Deadlines {
        let running = Running {
            reading: self.reading,
            paused: self.paused,
            flushing: self.closing.is_some() && !self.fin_sent,
        };
        self.timers.deadlines(&self.durations, running)
    }

    // ---- inputs -------------------------------------------------------------------------

    fn receive(&mut self, bytes: &[u8]) -> usize {
        if self.fin_sent {
            // Lingering: take and drop, so the peer's close reaches us.
            self.counters.bytes_discarded += bytes.len() as u64;
            return bytes.len();
        }
        let take = bytes.len().min(self.receive_capacity());
        if take == 0 {
            return 0;
        }
        let data = &bytes[..take];
        self.counters.reads += 1;
        self.counters.bytes_in += take as u64;
        self.timers.last_progress = self.now;
        self.schedule_trim();
        match self.config.framing {
            Framing::Raw => self.echo_raw(data),
            Framing::Line | Framing::Collect => self.accept_lines(data),
        }
        take
    }

    fn peer_closed(&mut self) {
        if self.read_closed {
            return;
        }
        self.read_closed = true;
        if self.fin_sent {
            // The linger wait is over: the peer has read our FIN and closed too.
            self.release = self.closing;
        } else {
            self.begin_close(CloseReason::PeerClosed, Leftover::All);
        }
    }

    fn written(&mut self, n: usize) {
        let offered = if self.offered == 0 {
            self.output.len()
        } else {
            self.offered
        };
        debug_assert!(
            n <= offered,
            "driver reported {n} bytes written of {offered} offered"
        );
        let n = self.output.consume(n.min(offered));
        if n < offered {
            self.write_blocked = true;
        }
        self.offered = 0;
        if n > 0 {
            self.counters.writes += 1;
            self.counters.bytes_out += n as u64;
            self.timers.last_progress = self.now;
            self.timers.stall_since = Some(self.now);
            self.schedule_trim();
        }
        if self.paused && self.output.len() <= self.config.low_watermark {
            self.paused = false;
            self.timers.resume(self.now);
            if self.reading {
                self.events.push_back(Event::ReadResumed);
            }
        }
        self.pump();
    }

    // ---- echo ---------------------------------------------------------------------------

    fn echo_raw(&mut self, data: &[u8]) {
        let (prefix, suffix) = (&self.config.prefix, &self.config.suffix);
        self.output
            .reserve(prefix.len() + data.len() + suffix.len());
        self.output.extend(prefix);
        self.output.extend(data);
        self.output.extend(suffix);
        self.output.end_frame();
        if self.output.len() >= self.config.high_watermark {
            self.pause();
        }
        self.count_frame(data.len());
    }

    /// `line`/`collect`: completes the buffered partial line, echoes whole lines straight
    /// from `data` while the output queue has room, and keeps the rest.
    fn accept_lines(&mut self, data: &[u8]) {
        // The frame timer measures the partial line at the tail of what was taken.
        match (find_newline(data), data.last()) {
            (Some(_), Some(b'\n')) => self.timers.frame_started = None,
            (Some(_), _) => self.timers.frame_started = Some(self.now),
            (None, _) => {
                self.timers.frame_started.get_or_insert(self.now);
            }
        }
        let mut rest = data;
        if !self.input.is_empty() {
            // Not paused (input was taken), so `input` holds only a partial line.
            let Some(nl) = find_newline(rest) else {
                self.input.extend_from_slice(rest);
                self.check_partial();
                return;
            };
            self.input.extend_from_slice(&rest[..=nl]);
            rest = &rest[nl + 1..];
            let line = core::mem::take(&mut self.input);
            let flow = self.on_line(&line);
            if self.input.is_empty() {
                // Keep the allocation for the next partial line.
                self.input = line;
                self.input.clear();
            }
            if flow == Flow::Stop {
                return self.keep_rest(rest);
            }
        }
        while !self.paused {
            let Some(nl) = find_newline(rest) else { break };
            let (line, tail) = rest.split_at(nl + 1);
            rest = tail;
            if self.on_line(line) == Flow::Stop {
                break;
            }
        }
        self.keep_rest(rest);
    }

    /// Keeps input that was taken but not processed, unless the connection is closing
    /// and drops it.
    fn keep_rest(&mut self, rest: &[u8]) {
        if self.reading {
            self.input.extend_from_slice(rest);
            self.pump();
        }
    }

    /// Processes buffered input as far as the output queue allows: whole lines, then — once
    /// no more input will come — the trailing partial line; then, when closing, the
    /// collected echo.
    fn pump(&mut self) {
        if !self.config.framing.is_line_based() || self.release.is_some() {
            return;
        }
        if self.paused {
            return;
        }
        let buf = core::mem::take(&mut self.input);
        let mut at = 0;
        while !self.paused {
            let Some(nl) = find_newline(&buf[at..]) else {
                break;
            };
            let line = &buf[at..at + nl + 1];
            at += nl + 1;
            if self.on_line(line) == Flow::Stop {
                break;
            }
        }
        let keep = self.reading || (self.closing.is_some() && self.leftover != Leftover::Drop);
        if keep && self.release.is_none() {
            self.input = buf;
            self.input.drain(..at);
        }
        if self.paused || self.release.is_some() {
            return;
        }
        if self.reading {
            self.check_partial();
        } else {
            match self.leftover {
                Leftover::All => self.flush_buffered(),
                // Every whole line is echoed by now: what is left is the partial line.
                Leftover::WholeLines => self.input.clear(),
                Leftover::Drop => {}
            }
        }
    }

    /// When no more input comes: echoes the trailing partial line as it is, and releases
    /// the collected echo.
    fn flush_buffered(&mut self) {
        if !self.input.is_empty() {
            let partial = core::mem::take(&mut self.input);
            // Without a terminator, a partial line cannot be too long for the queue: it is
            // at most `max_line + 1` bytes, and the queue is below the high watermark.
            self.on_line(&partial);
        }
        if self.config.framing == Framing::Collect && !self.collected.is_empty() {
            let len = self.collected.len();
            self.output.append_block(&mut self.collected);
            self.count_frame(len);
        }
    }

    fn check_partial(&mut self) {
        if partial_too_long(&self.input, self.config.max_line) {
            self.line_too_long();
        }
    }

    /// One line, terminator included (or none, for a final partial line).
    fn on_line(&mut self, line: &[u8]) -> Flow {
        let (content, terminator) = split_terminator(line);
        if content.len() > self.config.max_line {
            self.line_too_long();
            return Flow::Stop;
        }
        if self.config.fault_word.as_deref() == Some(content) {
            self.events
                .push_back(Event::PeerError(PeerError::FaultInjected));
            self.fail(CloseReason::PeerError(PeerError::FaultInjected));
            return Flow::Stop;
        }
        let is_quit = self.config.quit_word.as_deref() == Some(content);
        let (prefix, suffix) = (&self.config.prefix, &self.config.suffix);
        match self.config.framing {
            Framing::Line if is_quit => {
                self.begin_close(CloseReason::Quit, Leftover::Drop);
                Flow::Stop
            }
            Framing::Line => {
                self.output
                    .reserve(prefix.len() + line.len() + suffix.len());
                self.output.extend(prefix);
                self.output.extend(content);
                self.output.extend(suffix);
                self.output.extend(terminator);
                self.output.end_frame();
                if self.output.len() >= self.config.high_watermark {
                    self.pause();
                }
                self.count_frame(line.len())
            }
            Framing::Collect => {
                let grown = self.collected.len() + prefix.len() + line.len() + suffix.len();
                if grown > self.config.max_collect {
                    let limit = self.config.max_collect;
                    self.collected.clear();
                    self.peer_error(PeerError::CollectTooLarge { limit });
                    return Flow::Stop;
                }
                self.collected.extend_from_slice(prefix);
                self.collected.extend_from_slice(content);
                self.collected.extend_from_slice(suffix);
                self.collected.extend_from_slice(terminator);
                if is_quit {
                    let len = self.collected.len();
                    self.output.append_block(&mut self.collected);
                    // Close first: the collection's reason is `Collected`, not the frame
                    // limit its one frame may also reach.
                    self.begin_close(CloseReason::Collected, Leftover::Drop);
                    self.count_frame(len);
                    return Flow::Stop;
                }
                Flow::Continue
            }
            Framing::Raw => unreachable!("invariant: raw framing never cuts lines"),
        }
    }

    /// Counts one echoed frame; closes once `max_frames` are echoed.
    fn count_frame(&mut self, bytes: usize) -> Flow {
        self.counters.frames += 1;
        self.batch.0 += 1;
        self.batch.1 += bytes as u64;
        if self
            .config
            .max_frames
            .is_some_and(|max| self.counters.frames >= max)
        {
            self.begin_close(CloseReason::FrameLimit, Leftover::Drop);
            return Flow::Stop;
        }
        Flow::Continue
    }

    fn pause(&mut self) {
        if !self.paused {
            self.paused = true;
            self.timers.pause(self.now);
            if self.reading {
                self.events.push_back(Event::ReadPaused);
            }
        }
    }

    // ---- closing ------------------------------------------------------------------------

    fn line_too_long(&mut self) {
        let limit = self.config.max_line;
        self.peer_error(PeerError::LineTooLong { limit });
    }

    /// A peer error that is answered with one error line and a graceful close.
    fn peer_error(&mut self, error: PeerError) {
        self.events.push_back(Event::PeerError(error));
        let line = format!("error: {error}\n");
        debug_assert!(line.len() <= MAX_ERROR_LINE);
        self.output.extend(line.as_bytes());
        self.output.end_frame();
        self.begin_close(CloseReason::PeerError(error), Leftover::Drop);
    }

    /// Stops reading and heads for the FIN. The first reason wins; `leftover` says what
    /// becomes of input taken but not yet echoed.
    fn begin_close(&mut self, reason: CloseReason, leftover: Leftover) {
        // A collection is echoed only whole, at the quit word or the end of the stream.
        let leftover = match (self.config.framing, leftover) {
            (Framing::Collect, Leftover::WholeLines) => Leftover::Drop,
            (_, leftover) => leftover,
        };
        if let Some(current) = self.closing {
            // Already closing and a buffered line ends the echo (a quit word, a limit, an
            // error): the rest is no longer echoed. After the peer's end-of-stream, that
            // line's verdict becomes the reason: in the stream it came before the end.
            if leftover == Leftover::Drop {
                if current == CloseReason::PeerClosed {
                    self.closing = Some(reason);
                }
                self.input.clear();
                self.collected.clear();
            }
            self.leftover = self.leftover.min(leftover);
            return;
        }
        self.closing = Some(reason);
        self.reading = false;
        self.leftover = leftover;
        self.timers.frame_started = None;
        self.events.push_back(Event::Closing(reason));
        match leftover {
            Leftover::All | Leftover::WholeLines => self.pump(),
            Leftover::Drop => {
                self.input.clear();
                self.collected.clear();
            }
        }
    }

    /// Ends the connection at once: nothing more is written, the socket is to be closed.
    fn fail(&mut self, reason: CloseReason) {
        self.reading = false;
        self.closing.get_or_insert(reason);
        self.release = Some(reason);
        self.input = Vec::new();
        self.collected = Vec::new();
        self.output.clear();
    }

    fn fin_due(&self) -> bool {
        self.closing.is_some()
            && !self.fin_sent
            && self.output.is_empty()
            && self.input.is_empty()
            && self.collected.is_empty()
    }

    /// Bookkeeping after every input: the write-stall clock, the echo event, high-water
    /// marks.
    fn settle(&mut self) {
        if self.output.is_empty() {
            self.timers.stall_since = None;
        } else if self.timers.stall_since.is_none() {
            self.timers.stall_since = Some(self.now);
        }
        if self.batch.0 > 0 {
            let (frames, bytes) = core::mem::take(&mut self.batch);
            self.events.push_back(Event::Echoed { frames, bytes });
        }
        let c = &mut self.counters;
        c.peak_input = c.peak_input.max(self.input.len() + self.collected.len());
        c.peak_output = c.peak_output.max(self.output.len());
    }

    fn fire_timers(&mut self) {
        let mut fired = false;
        // Each firing either releases the connection or stops reading, which stops the
        // timer that fired: the loop ends after at most two rounds.
        while self.release.is_none() {
            let Some(timer) = self.deadlines().due(self.now).next() else {
                break;
            };
            fired = true;
            self.events.push_back(Event::TimedOut(timer));
            match timer {
                // After our FIN everything owed was written: only the wait is cut short.
                Timer::Shutdown if self.fin_sent => {
                    self.release = Some(self.closing.unwrap_or(CloseReason::Shutdown));
                }
                Timer::Shutdown => self.fail(CloseReason::TimedOut(Timer::Shutdown)),
                Timer::WriteStall | Timer::Flush => self.fail(CloseReason::TimedOut(timer)),
                Timer::Linger => {
                    self.release = Some(self.closing.unwrap_or(CloseReason::PeerClosed));
                }
                Timer::Frame | Timer::Idle => {
                    self.begin_close(CloseReason::TimedOut(timer), Leftover::WholeLines);
                }
            }
        }
        if fired {
            self.settle();
        }
        if self.timers.trim_at.is_some_and(|at| at <= self.now) {
            self.trim();
        }
    }

    /// After progress: once the connection has been quiet for [`TRIM_AFTER`], give back
    /// buffers that grew past [`KEEP_WHEN_IDLE`]. Moving the deadline is one store; a
    /// connection busy more often than that never trims, so it never allocates per event.
    fn schedule_trim(&mut self) {
        if self.output.capacity() > KEEP_WHEN_IDLE || self.input.capacity() > KEEP_WHEN_IDLE {
            self.timers.trim_at = Some(self.now + TRIM_AFTER);
        }
    }

    /// Gives back what idle buffers hold beyond their contents. Output still pending
    /// stays where it is: a later drain schedules another trim.
    fn trim(&mut self) {
        self.timers.trim_at = None;
        let before = self.allocated();
        self.output.trim();
        if self.input.capacity() > KEEP_WHEN_IDLE {
            self.input.shrink_to_fit();
        }
        let released = before - self.allocated();
        if released > 0 {
            self.events.push_back(Event::BuffersReleased {
                bytes: released as u64,
            });
        }
    }
}
