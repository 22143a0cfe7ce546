//! The echo engine: [`Echo`], the application at the top of every stack.

use core::time::Duration;
use std::collections::VecDeque;

use crate::buffer::OutputQueue;
use crate::config::{Framing, ValidConfig};
use crate::error::{PeerError, MAX_ERROR_LINE};
use crate::framing::{find_newline, partial_start, partial_too_long, split_terminator, wrap};
use crate::layer::{Layer, LayerState, Leftover};
use crate::output::{CloseReason, Event, FrameKind};
use crate::snapshot::EchoView;
use crate::time::Instant;
use crate::timers::{Deadlines, Timer};

/// Buffers up to this size are kept while a connection is idle: echoes of ordinary lines
/// then never allocate again, and an idle connection holds at most a few KiB. Larger ones
/// are given back [`TRIM_AFTER`] the connection went quiet.
const KEEP_WHEN_IDLE: usize = 4096;

/// An emptied buffer keeps its allocation this long before giving it back: long enough
/// that a connection echoing at least once a second never allocates per message, short
/// enough that a burst's memory returns soon after the burst (10 000 connections that
/// each echoed 64 KiB once would otherwise hold 640 MB doing nothing).
const TRIM_AFTER: Duration = Duration::from_secs(1);

/// Where the echo is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Taking input and echoing it.
    Open,
    /// Taking no more input; echoing what `leftover` says of what it holds, then done.
    Closing {
        reason: CloseReason,
        leftover: Leftover,
    },
    /// Failed: everything it held is dropped.
    Failed(CloseReason),
}

/// Whether line processing may go on after a line.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// The echo as a [`Layer`]: framing, quit and fault words, prefix and suffix, `collect`,
/// the output queue and its backpressure, and the frame (slowloris) timer. Its
/// application side is itself: what it receives, it answers.
///
/// It closes on its own terms at a quit word, a frame limit, a collection, an over-long
/// line or collection (with one error line), or the frame timeout; and it fails at the
/// fault word.
#[derive(Debug)]
pub struct Echo {
    config: ValidConfig,
    /// The time of the latest call: "now" for anything a call starts.
    now: Instant,
    phase: Phase,
    /// The output queue reached the high watermark and has not yet drained to the low one.
    paused: bool,
    /// `line`/`collect`: accepted bytes not yet echoed — whole lines taken while paused,
    /// then the partial line. Never longer than `config.echo.input_capacity()`.
    input: Vec<u8>,
    /// `collect`: the echo being held, prefix and suffix applied. At most `max_collect`.
    collected: Vec<u8>,
    output: OutputQueue,
    events: VecDeque<Event>,
    /// Frames and bytes echoed by the current call, reported as one `Event::Echoed`.
    batch: (u64, u64),
    /// Frames echoed so far, for `max_frames`.
    frames: u64,
    /// When the current partial line got its first byte, moved later by the time reading
    /// was paused: the frame timer measures the peer, not our backpressure.
    frame_started: Option<Instant>,
    /// When reading was paused by backpressure, while it is.
    paused_since: Option<Instant>,
    /// When to give back buffers that grew large and are now empty.
    trim_at: Option<Instant>,
    /// A message of a framed protocol below ended while whole lines were still held by
    /// backpressure: once they are echoed, the partial line after them ends too.
    boundary: bool,
}

impl Echo {
    /// An open echo with `config`'s echo section, at time `now`.
    pub fn new(config: ValidConfig, now: Instant) -> Self {
        Echo {
            output: OutputQueue::new(config.echo.record_frames),
            config,
            now,
            phase: Phase::Open,
            paused: false,
            input: Vec::new(),
            collected: Vec::new(),
            events: VecDeque::new(),
            batch: (0, 0),
            frames: 0,
            frame_started: None,
            paused_since: None,
            trim_at: None,
            boundary: false,
        }
    }

    // ---- echo ---------------------------------------------------------------------------

    fn echo_raw(&mut self, data: &[u8]) {
        let echo = &self.config.echo;
        let len = self
            .output
            .push_frame(&echo.prefix, data, &echo.suffix, &[]);
        self.queued(FrameKind::Echo, len);
        if self.output.len() >= self.config.echo.high_watermark {
            self.pause();
        }
        self.count_frame(data.len());
    }

    /// `line`/`collect`: completes the buffered partial line, echoes whole lines straight
    /// from `data` while the output queue has room, and keeps the rest.
    fn accept_lines(&mut self, data: &[u8]) {
        // The frame timer measures the partial line at the tail of what was taken.
        match (find_newline(data), data.last()) {
            (Some(_), Some(b'\n')) => self.frame_started = None,
            (Some(_), _) => self.frame_started = Some(self.now),
            (None, _) => {
                self.frame_started.get_or_insert(self.now);
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

    /// Keeps input that was taken but not processed, unless the echo is closing and drops
    /// it.
    fn keep_rest(&mut self, rest: &[u8]) {
        if self.phase == Phase::Open {
            self.input.extend_from_slice(rest);
            self.pump();
        }
    }

    /// What becomes of held input, or `None` when it is dropped (failed, or closing with
    /// `Leftover::Drop`).
    fn keeping(&self) -> Option<Leftover> {
        match self.phase {
            Phase::Open => Some(Leftover::All),
            Phase::Closing { leftover, .. } if leftover != Leftover::Drop => Some(leftover),
            _ => None,
        }
    }

    /// Processes held input as far as the output queue allows: whole lines, then — once
    /// no more input will come — the trailing partial line as `leftover` says; then, when
    /// closing, the collected echo.
    fn pump(&mut self) {
        if !self.config.echo.framing.is_line_based() || self.paused {
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
        if self.keeping().is_some() {
            self.input = buf;
            self.input.drain(..at);
        }
        if self.paused {
            return;
        }
        match self.phase {
            Phase::Open if self.boundary => {
                self.boundary = false;
                self.end_partial();
            }
            Phase::Open => self.check_partial(),
            Phase::Closing { leftover, .. } => match leftover {
                Leftover::All => self.flush_buffered(),
                // Every whole line is echoed by now: what is left is the partial line.
                Leftover::WholeFrames => self.input.clear(),
                Leftover::Drop => {}
            },
            Phase::Failed(_) => {}
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
        if self.config.echo.framing == Framing::Collect && !self.collected.is_empty() {
            let len = self.collected.len();
            self.output.append_block(&mut self.collected);
            self.queued(FrameKind::Collected, len);
            self.count_frame(len);
        }
    }

    /// A message boundary: the partial line is a line of its own, echoed without a
    /// terminator (the message ended it, not a newline).
    fn end_partial(&mut self) {
        self.frame_started = None;
        if !self.input.is_empty() {
            let partial = core::mem::take(&mut self.input);
            if self.on_line(&partial) == Flow::Continue && self.input.is_empty() {
                // Keep the allocation for the next partial line.
                self.input = partial;
                self.input.clear();
            }
        }
    }

    fn check_partial(&mut self) {
        if partial_too_long(&self.input, self.config.echo.max_line) {
            self.line_too_long();
        }
    }

    /// One line, terminator included (or none, for a final partial line).
    fn on_line(&mut self, line: &[u8]) -> Flow {
        let (content, terminator) = split_terminator(line);
        let echo = &self.config.echo;
        if content.len() > echo.max_line {
            self.line_too_long();
            return Flow::Stop;
        }
        if echo.fault_word.as_deref() == Some(content) {
            self.events
                .push_back(Event::PeerError(PeerError::FaultInjected));
            self.fail(CloseReason::PeerError(PeerError::FaultInjected));
            return Flow::Stop;
        }
        let is_quit = echo.quit_word.as_deref() == Some(content);
        let (prefix, suffix) = (&echo.prefix, &echo.suffix);
        match echo.framing {
            Framing::Line if is_quit => {
                self.begin_close(CloseReason::Quit, Leftover::Drop);
                Flow::Stop
            }
            Framing::Line => {
                let len = self.output.push_frame(prefix, content, suffix, terminator);
                let kind = if terminator.is_empty() {
                    FrameKind::Partial
                } else {
                    FrameKind::Echo
                };
                self.queued(kind, len);
                if self.output.len() >= self.config.echo.high_watermark {
                    self.pause();
                }
                self.count_frame(line.len())
            }
            Framing::Collect => {
                let grown = self.collected.len() + prefix.len() + line.len() + suffix.len();
                if grown > echo.max_collect {
                    let limit = echo.max_collect;
                    self.collected.clear();
                    self.peer_error(PeerError::CollectTooLarge { limit });
                    return Flow::Stop;
                }
                wrap(&mut self.collected, prefix, content, suffix, terminator);
                if is_quit {
                    let len = self.collected.len();
                    self.output.append_block(&mut self.collected);
                    self.queued(FrameKind::Collected, len);
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
        self.frames += 1;
        self.batch.0 += 1;
        self.batch.1 += bytes as u64;
        if self
            .config
            .echo
            .max_frames
            .is_some_and(|max| self.frames >= max)
        {
            self.begin_close(CloseReason::FrameLimit, Leftover::Drop);
            return Flow::Stop;
        }
        Flow::Continue
    }

    /// Reports a frame just queued, when frames are recorded: views ask for it, a server
    /// does not, and pays one test of a flag.
    fn queued(&mut self, frame: FrameKind, len: usize) {
        if self.config.echo.record_frames {
            self.events.push_back(Event::Queued {
                frame,
                len: len as u64,
            });
        }
    }

    fn pause(&mut self) {
        if !self.paused {
            self.paused = true;
            self.paused_since = Some(self.now);
            if self.phase == Phase::Open {
                self.events.push_back(Event::ReadPaused);
            }
        }
    }

    /// The queue drained to the low watermark: input is taken again, and a partial line's
    /// frame timer goes on where it stood.
    fn resume(&mut self) {
        self.paused = false;
        if let (Some(since), Some(start)) = (self.paused_since.take(), &mut self.frame_started) {
            *start = *start + self.now.saturating_since(since);
        }
        if self.phase == Phase::Open {
            self.events.push_back(Event::ReadResumed);
        }
    }

    // ---- closing ------------------------------------------------------------------------

    fn line_too_long(&mut self) {
        let limit = self.config.echo.max_line;
        self.peer_error(PeerError::LineTooLong { limit });
    }

    /// A peer error that is answered with one error line and a graceful close.
    fn peer_error(&mut self, error: PeerError) {
        self.events.push_back(Event::PeerError(error));
        let line = format!("error: {error}\n");
        debug_assert!(line.len() <= MAX_ERROR_LINE);
        self.output.extend(line.as_bytes());
        self.output.end_frame();
        self.queued(FrameKind::Error, line.len());
        self.begin_close(CloseReason::PeerError(error), Leftover::Drop);
    }

    /// Stops reading and heads for done. The first reason wins; `leftover` says what
    /// becomes of input taken but not yet echoed.
    fn begin_close(&mut self, reason: CloseReason, leftover: Leftover) {
        // A collection is echoed only whole, at the quit word or the end of the stream.
        let leftover = match (self.config.echo.framing, leftover) {
            (Framing::Collect, Leftover::WholeFrames) => Leftover::Drop,
            (_, leftover) => leftover,
        };
        match &mut self.phase {
            Phase::Failed(_) => {}
            Phase::Closing {
                reason: current,
                leftover: kept,
            } => {
                // Already closing and a buffered line ends the echo (a quit word, a limit,
                // an error): the rest is no longer echoed. After the peer's end-of-stream,
                // that line's verdict becomes the reason: in the stream it came before the
                // end.
                if leftover == Leftover::Drop {
                    if *current == CloseReason::PeerClosed {
                        *current = reason;
                    }
                    self.input.clear();
                    self.collected.clear();
                }
                *kept = (*kept).min(leftover);
            }
            Phase::Open => {
                self.phase = Phase::Closing { reason, leftover };
                self.frame_started = None;
                self.events.push_back(Event::Closing(reason));
                match leftover {
                    Leftover::All | Leftover::WholeFrames => self.pump(),
                    Leftover::Drop => {
                        self.input.clear();
                        self.collected.clear();
                    }
                }
            }
        }
    }

    /// Ends the echo at once: nothing more is written.
    fn fail(&mut self, reason: CloseReason) {
        self.phase = Phase::Failed(reason);
        self.input = Vec::new();
        self.collected = Vec::new();
        self.output.clear();
    }

    // ---- bookkeeping ----------------------------------------------------------------------

    /// After every call: the echo event of what the call echoed.
    fn settle(&mut self) {
        if self.batch.0 > 0 {
            let (frames, bytes) = core::mem::take(&mut self.batch);
            self.events.push_back(Event::Echoed { frames, bytes });
        }
    }

    fn frame_deadline(&self) -> Option<Instant> {
        if self.phase != Phase::Open || self.paused {
            return None;
        }
        Some(self.frame_started? + self.config.echo.frame_timeout?)
    }

    /// After progress: once the echo has been quiet for [`TRIM_AFTER`], give back buffers
    /// that grew past [`KEEP_WHEN_IDLE`]. Moving the deadline is one store; an echo busy
    /// more often than that never trims, so it never allocates per event.
    fn schedule_trim(&mut self) {
        if self.output.capacity() > KEEP_WHEN_IDLE || self.input.capacity() > KEEP_WHEN_IDLE {
            self.trim_at = Some(self.now + TRIM_AFTER);
        }
    }

    /// Gives back what idle buffers hold beyond their contents. Output still pending
    /// stays where it is: a later drain schedules another trim.
    fn trim(&mut self) {
        self.trim_at = None;
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

impl Layer for Echo {
    fn receive_capacity(&self) -> usize {
        if self.phase != Phase::Open || self.paused {
            return 0;
        }
        let echo = &self.config.echo;
        match echo.framing {
            // Not paused means below the high watermark: room for at least one byte.
            Framing::Raw => echo.high_watermark - self.output.len(),
            Framing::Line | Framing::Collect => echo.input_capacity() - self.input.len(),
        }
    }

    fn receive(&mut self, now: Instant, bytes: &[u8]) -> usize {
        self.now = self.now.max(now);
        let take = bytes.len().min(self.receive_capacity());
        if take == 0 {
            return 0;
        }
        let data = &bytes[..take];
        match self.config.echo.framing {
            Framing::Raw => self.echo_raw(data),
            Framing::Line | Framing::Collect => self.accept_lines(data),
        }
        self.schedule_trim();
        self.settle();
        take
    }

    fn receive_end(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.begin_close(CloseReason::PeerClosed, Leftover::All);
        self.settle();
    }

    fn receive_boundary(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if self.phase != Phase::Open || !self.config.echo.framing.is_line_based() {
            return;
        }
        if self.paused {
            // Whole lines are still held: the boundary comes after them.
            self.boundary = true;
        } else {
            self.end_partial();
        }
        self.settle();
    }

    fn transmit(&self) -> &[u8] {
        self.output.as_slice()
    }

    fn transmitted(&mut self, now: Instant, n: usize) {
        self.now = self.now.max(now);
        if self.output.consume(n) > 0 {
            self.schedule_trim();
        }
        if self.paused && self.output.len() <= self.config.echo.low_watermark {
            self.resume();
        }
        self.pump();
        self.settle();
    }

    fn close(&mut self, now: Instant, reason: CloseReason, leftover: Leftover) {
        self.now = self.now.max(now);
        self.begin_close(reason, leftover);
        self.settle();
    }

    fn state(&self) -> LayerState {
        match self.phase {
            Phase::Open => LayerState::Open,
            Phase::Failed(reason) => LayerState::Failed(reason),
            Phase::Closing { reason, .. } => {
                let owed =
                    !self.output.is_empty() || !self.input.is_empty() || !self.collected.is_empty();
                if owed {
                    LayerState::Closing(reason)
                } else {
                    LayerState::Done(reason)
                }
            }
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn deadline(&self) -> Option<Instant> {
        match (self.frame_deadline(), self.trim_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if self.frame_deadline().is_some_and(|at| at <= self.now) {
            self.events.push_back(Event::TimedOut(Timer::Frame));
            self.begin_close(CloseReason::TimedOut(Timer::Frame), Leftover::WholeFrames);
        }
        if self.trim_at.is_some_and(|at| at <= self.now) {
            self.trim();
        }
        self.settle();
    }

    fn timers(&self, deadlines: &mut Deadlines) {
        deadlines.set(Timer::Frame, self.frame_deadline());
    }

    fn held(&self) -> (usize, usize) {
        (self.input.len() + self.collected.len(), self.output.len())
    }

    fn allocated(&self) -> usize {
        self.output.capacity() + self.input.capacity() + self.collected.capacity()
    }

    fn view(&self) -> Option<EchoView<'_>> {
        let config = &self.config.echo;
        let partial_len = if config.framing.is_line_based() {
            self.input.len() - partial_start(&self.input)
        } else {
            0
        };
        Some(EchoView {
            config,
            paused: self.paused,
            input: &self.input,
            partial_len,
            collected: &self.collected,
            output: self.output.as_slice(),
            frame_ends: self.output.frame_ends(),
        })
    }
}
