//! [`Http`]: the HTTP/1.1 echo as a reverb layer, the application at the top of its stack.

use std::collections::VecDeque;
use std::time::Duration;

use reverb_core::{
    CloseReason, Deadlines, EchoConfig, EchoView, Event, Framing, Instant, Layer, LayerState,
    Leftover, ProtocolClose, Timer, ValidConfig,
};

use crate::answer::{self, Connection, CONTINUE};
use crate::chunked::Chunked;
use crate::config::{Format, HttpConfig, Peer};
use crate::request::{read_head, Body, Head, Refusal, Status};

/// Buffers up to this size are kept while a connection is quiet, as the echo does; larger
/// ones are given back [`TRIM_AFTER`] after the last progress.
const KEEP_WHEN_IDLE: usize = 4096;

/// How long a connection must be quiet before its grown buffers are given back: the
/// echo's own second.
const TRIM_AFTER: Duration = Duration::from_secs(1);

/// The layer's name in close reasons and logs.
const LAYER: &str = "http";

/// Where the layer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Taking requests and answering them.
    Open,
    /// Taking no more input, for `reason`; whole requests already received are still
    /// answered while `answer_rest`, then the connection is done once its answers are
    /// sent.
    Closing {
        reason: CloseReason,
        answer_rest: bool,
    },
}

/// The request being read: its head is parsed, its body is coming.
#[derive(Debug, Clone, Copy)]
struct Current {
    head: Head,
    /// The chunked decoder, for a chunked body.
    chunked: Option<Chunked>,
}

/// The HTTP/1.1 echo as a [`Layer`]: requests in, each answered `200 OK` with the
/// request as received, in order.
///
/// - **Reading**: a request's head is parsed (httparse) once a line of it has ended;
///   then its body is read as its head frames it (`Content-Length`, or chunked, decoded
///   as it comes). A request is answered once it is whole; the bytes after it are the
///   next request (pipelining), answered in turn.
/// - **Answering**: `100 Continue` as soon as a head asking for it is read; `200 OK` with
///   the request's bytes (`message/http`) or a JSON document describing it; an error
///   status and a close for a request that cannot be answered (400, 405, 413, 414, 417,
///   431, 505). A `HEAD` request gets the headers of a `GET`'s answer and no body.
/// - **Keeping the connection**: as the client asks (`Connection: close`, HTTP/1.0 and
///   `keep-alive`); after `max_frames` answers the last says `Connection: close`.
/// - **Backpressure**: once the answers waiting to be sent reach the high watermark, no
///   request is answered and no byte is read until they drain to the low one.
/// - **Time**: the echo's frame timeout is the request timeout: a request whose first
///   byte came must be whole within it, or it is answered `408` and the connection
///   closes ([`Timer::Frame`]). The clock stands still while backpressure pauses reading.
#[derive(Debug)]
pub struct Http {
    config: HttpConfig,
    /// The echo section of the stream's config: watermarks, `max_frames`, the frame
    /// timeout.
    echo: ValidConfig,
    /// The layer's bounds in the echo's terms, for snapshots (see [`Layer::view`]).
    view_config: EchoConfig,
    peer: Peer,
    now: Instant,
    phase: Phase,
    /// Input: the current request starts at `buf[start]`, pipelined ones follow it.
    buf: Vec<u8>,
    start: usize,
    /// How much of the current head was looked at already: it is parsed again only once
    /// a line ends after that.
    scanned: usize,
    current: Option<Current>,
    /// The JSON answer's body data, for a chunked body.
    body: Vec<u8>,
    /// Answers to send: `out[head..]`.
    out: Vec<u8>,
    head: usize,
    paused: bool,
    paused_since: Option<Instant>,
    /// When the current request's first byte came (moved later by pauses).
    frame_started: Option<Instant>,
    answered: u64,
    events: VecDeque<Event>,
    /// Requests and bytes answered by the current call, for one `Event::Echoed`.
    batch: (u64, u64),
    trim_at: Option<Instant>,
}

impl Http {
    /// An HTTP echo with `config`, the watermarks, `max_frames` and frame timeout of
    /// `echo`'s echo section, at time `now`, for a connection from `peer`.
    pub fn new(config: &HttpConfig, echo: &ValidConfig, now: Instant, peer: Peer) -> Self {
        let view_config = EchoConfig {
            // The layer holds what `collect` would: input up to a bound, then one answer
            // of up to `answer_bound` on top of the high watermark.
            framing: Framing::Collect,
            prefix: Vec::new(),
            suffix: Vec::new(),
            quit_word: None,
            fault_word: None,
            max_line: config.input_limit() - 2,
            max_collect: config.answer_bound() + CONTINUE.len(),
            ..echo.echo.clone()
        };
        Http {
            config: *config,
            echo: echo.clone(),
            view_config,
            peer,
            now,
            phase: Phase::Open,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            current: None,
            body: Vec::new(),
            out: Vec::new(),
            head: 0,
            paused: false,
            paused_since: None,
            frame_started: None,
            answered: 0,
            events: VecDeque::new(),
            batch: (0, 0),
            trim_at: None,
        }
    }

    /// Requests answered `200` so far.
    pub fn answered(&self) -> u64 {
        self.answered
    }

    fn pending(&self) -> usize {
        self.out.len() - self.head
    }

    fn answering(&self) -> bool {
        !self.paused
            && matches!(
                self.phase,
                Phase::Open
                    | Phase::Closing {
                        answer_rest: true,
                        ..
                    }
            )
    }

    /// Answers every whole request the input holds, as far as backpressure lets it.
    fn process(&mut self) {
        while self.answering() {
            if !self.step() {
                // Nothing more to do until more input comes; while closing, none will.
                if let Phase::Closing { reason, .. } = self.phase {
                    self.phase = Phase::Closing {
                        reason,
                        answer_rest: false,
                    };
                    self.drop_input();
                }
                break;
            }
        }
    }

    /// One step on the current request: its head read, or its body, or its answer.
    /// False when more input is needed.
    fn step(&mut self) -> bool {
        let data = &self.buf[self.start..];
        let Some(mut current) = self.current else {
            if data.is_empty() {
                self.frame_started = None;
                return false;
            }
            if self.phase == Phase::Open {
                self.frame_started.get_or_insert(self.now);
            }
            // Parse only when a line has ended since the last look (or the limit is
            // reached): a client sending a byte at a time costs a parse per line.
            let fresh = &data[self.scanned.min(data.len())..];
            if !fresh.contains(&b'\n') && data.len() < self.config.max_header {
                self.scanned = data.len();
                return false;
            }
            self.scanned = data.len();
            return match read_head(data, &self.config) {
                Status::Partial => false,
                Status::Refused(refusal) => {
                    self.refuse(refusal, false, None);
                    false
                }
                Status::Complete(head) => {
                    if head.expect_continue {
                        self.compact_out();
                        self.out.extend_from_slice(CONTINUE);
                    }
                    self.body.clear();
                    self.current = Some(Current {
                        head,
                        chunked: (head.body == Body::Chunked).then(Chunked::new),
                    });
                    true
                }
            };
        };
        let head = current.head;
        let total = match (head.body, &mut current.chunked) {
            (Body::None, _) => head.len,
            (Body::Length(n), _) if data.len() >= head.len + n => head.len + n,
            (Body::Length(_), _) => return false,
            (Body::Chunked, Some(chunked)) => {
                let wire = &data[head.len + chunked.read..];
                let json = self.config.format == Format::Json;
                let max_body = self.config.max_body;
                let body = json.then_some(&mut self.body);
                match chunked.advance(wire, body, max_body, self.config.max_header) {
                    Ok(true) => head.len + chunked.read,
                    Ok(false) => {
                        self.current = Some(current);
                        return false;
                    }
                    Err(refusal) => {
                        self.refuse(refusal, head.head_only, None);
                        return false;
                    }
                }
            }
            (Body::Chunked, None) => unreachable!("invariant: a chunked body has a decoder"),
        };
        self.answer(head, current.chunked, total);
        true
    }

    /// The current request is whole, `total` bytes from `start`: answer it.
    fn answer(&mut self, head: Head, chunked: Option<Chunked>, total: usize) {
        let wire = &self.buf[self.start..self.start + total];
        let trailers = chunked.map(|c| &wire[head.len + c.trailers_at..]);
        // Trailer fields must be fields: the decoder checked only their line ends.
        let fields_ok = trailers.is_none_or(|trailers| {
            let mut fields = [httparse::EMPTY_HEADER; crate::request::MAX_HEADERS];
            matches!(
                httparse::parse_headers(trailers, &mut fields),
                Ok(httparse::Status::Complete(_))
            )
        });
        if !fields_ok {
            return self.refuse(Refusal::new(400, "malformed trailer fields"), false, None);
        }
        let wire = &self.buf[self.start..self.start + total];
        let trailers = chunked.map(|c| &wire[head.len + c.trailers_at..]);
        self.answered += 1;
        let limit = self
            .echo
            .echo
            .max_frames
            .is_some_and(|max| self.answered >= max);
        let connection = if !head.keep_alive || limit {
            Connection::Close
        } else if head.http10 {
            Connection::KeepAlive
        } else {
            Connection::Default
        };
        let body = match chunked {
            Some(_) => &self.body[..],
            None => &wire[head.len..],
        };
        let request = answer::Request {
            wire,
            head: &head,
            body,
            trailers,
        };
        if self.head > 0 {
            self.out.drain(..self.head);
            self.head = 0;
        }
        answer::ok(
            &mut self.out,
            self.config.format,
            &request,
            &self.peer,
            connection,
        );
        self.batch.0 += 1;
        self.batch.1 += total as u64;
        self.start += total;
        self.current = None;
        self.scanned = 0;
        self.frame_started = None;
        if connection == Connection::Close {
            let reason = if limit {
                CloseReason::FrameLimit
            } else {
                CloseReason::Protocol(ProtocolClose {
                    layer: LAYER,
                    code: 200,
                    text: if head.http10 {
                        "an HTTP/1.0 request without keep-alive"
                    } else {
                        "the client asked to close"
                    },
                    graceful: true,
                })
            };
            self.begin_close(reason, false);
        }
        if self.pending() >= self.echo.echo.high_watermark {
            self.pause();
        }
    }

    /// Answers with an error status, and closes: nothing after it is read.
    fn refuse(&mut self, refusal: Refusal, head_only: bool, reason: Option<CloseReason>) {
        self.compact_out();
        answer::error(&mut self.out, refusal, head_only);
        let reason = reason.unwrap_or(CloseReason::Protocol(ProtocolClose {
            layer: LAYER,
            code: refusal.status,
            text: refusal.text,
            graceful: false,
        }));
        self.begin_close(reason, false);
    }

    fn compact_out(&mut self) {
        if self.head > 0 {
            self.out.drain(..self.head);
            self.head = 0;
        }
    }

    /// Stops reading, for `reason`; while `answer_rest`, whole requests received are
    /// still answered. The first reason wins; a later one can only stop the answering.
    fn begin_close(&mut self, reason: CloseReason, answer_rest: bool) {
        match &mut self.phase {
            Phase::Closing {
                answer_rest: rest, ..
            } => {
                if !answer_rest {
                    *rest = false;
                    self.drop_input();
                }
            }
            Phase::Open => {
                self.phase = Phase::Closing {
                    reason,
                    answer_rest,
                };
                self.frame_started = None;
                self.events.push_back(Event::Closing(reason));
                if answer_rest {
                    self.process();
                } else {
                    self.drop_input();
                }
            }
        }
    }

    fn drop_input(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.scanned = 0;
        self.current = None;
        self.body.clear();
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

    /// The answers drained to the low watermark: requests are answered and input taken
    /// again, and the request timer goes on where it stood.
    fn resume(&mut self) {
        self.paused = false;
        if let (Some(since), Some(start)) = (self.paused_since.take(), &mut self.frame_started) {
            *start = *start + self.now.saturating_since(since);
        }
        if self.phase == Phase::Open {
            self.events.push_back(Event::ReadResumed);
        }
    }

    fn frame_deadline(&self) -> Option<Instant> {
        if self.phase != Phase::Open || self.paused {
            return None;
        }
        Some(self.frame_started? + self.echo.echo.frame_timeout?)
    }

    /// After every call: the echo event of what the call answered, and when to give back
    /// grown buffers.
    fn settle(&mut self) {
        if self.batch.0 > 0 {
            let (frames, bytes) = std::mem::take(&mut self.batch);
            self.events.push_back(Event::Echoed { frames, bytes });
        }
        let grown = [
            self.buf.capacity(),
            self.out.capacity(),
            self.body.capacity(),
        ]
        .into_iter()
        .any(|c| c > KEEP_WHEN_IDLE);
        if grown {
            self.trim_at = Some(self.now + TRIM_AFTER);
        }
    }

    fn trim(&mut self) {
        self.trim_at = None;
        let before = self.allocated();
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.compact_out();
        if self.current.is_none() {
            self.body = Vec::new();
        }
        for buffer in [&mut self.buf, &mut self.out] {
            if buffer.capacity() > KEEP_WHEN_IDLE {
                buffer.shrink_to_fit();
            }
        }
        let released = before - self.allocated();
        if released > 0 {
            self.events.push_back(Event::BuffersReleased {
                bytes: released as u64,
            });
        }
    }
}

impl Layer for Http {
    fn receive_capacity(&self) -> usize {
        if self.phase != Phase::Open || self.paused {
            return 0;
        }
        self.config.input_limit() - (self.buf.len() - self.start)
    }

    fn receive(&mut self, now: Instant, bytes: &[u8]) -> usize {
        self.now = self.now.max(now);
        let take = bytes.len().min(self.receive_capacity());
        if take == 0 {
            return 0;
        }
        if self.start > 0 {
            // What the answered requests left: the next request's first bytes, if any.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(&bytes[..take]);
        self.process();
        self.settle();
        take
    }

    fn receive_end(&mut self, now: Instant) {
        self.now = self.now.max(now);
        // Whole requests received before the end are answered; an unfinished one cannot be.
        self.begin_close(CloseReason::PeerClosed, true);
        self.settle();
    }

    fn receive_boundary(&mut self, now: Instant) {
        // HTTP frames its own requests: a boundary from below means nothing to it.
        let _ = now;
    }

    fn transmit(&self) -> &[u8] {
        &self.out[self.head..]
    }

    fn transmitted(&mut self, now: Instant, n: usize) {
        self.now = self.now.max(now);
        self.head = (self.head + n).min(self.out.len());
        if self.head == self.out.len() {
            self.out.clear();
            self.head = 0;
        }
        if self.paused && self.pending() <= self.echo.echo.low_watermark {
            self.resume();
        }
        self.process();
        self.settle();
    }

    fn close(&mut self, now: Instant, reason: CloseReason, leftover: Leftover) {
        self.now = self.now.max(now);
        self.begin_close(reason, leftover != Leftover::Drop);
        self.settle();
    }

    fn state(&self) -> LayerState {
        match self.phase {
            Phase::Open => LayerState::Open,
            Phase::Closing {
                reason,
                answer_rest,
            } => {
                if answer_rest || self.pending() > 0 {
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
        [self.frame_deadline(), self.trim_at]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if self.frame_deadline().is_some_and(|at| at <= self.now) {
            self.events.push_back(Event::TimedOut(Timer::Frame));
            let head_only = self.current.is_some_and(|c| c.head.head_only);
            self.refuse(
                Refusal::new(408, "the request did not arrive in time"),
                head_only,
                Some(CloseReason::TimedOut(Timer::Frame)),
            );
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
        (self.buf.len() - self.start, self.pending())
    }

    fn allocated(&self) -> usize {
        self.buf.capacity() + self.out.capacity() + self.body.capacity()
    }

    /// The layer's input and answers, with its bounds in the echo's terms: it holds what
    /// `collect` framing would — input up to its limit (one whole request and what is
    /// pipelined behind it), and answers up to the high watermark plus one answer.
    fn view(&self) -> Option<EchoView<'_>> {
        Some(EchoView {
            config: &self.view_config,
            paused: self.paused,
            input: &self.buf[self.start..],
            partial_len: 0,
            collected: &[],
            output: &self.out[self.head..],
            frame_ends: Vec::new(),
        })
    }
}
