//! [`Ws`]: a WebSocket server connection as a reverb layer, driven from memory.

use std::collections::VecDeque;
use std::io::Cursor;
use std::time::Duration;

use reverb_core::{
    CloseReason, Deadlines, EchoView, Event, Instant, Layer, LayerState, Leftover, ProtocolClose,
    Timer,
};
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

use crate::config::{WsConfig, HANDSHAKE_TIMEOUT};
use crate::frames::{
    char_boundary, close_code_allowed, frame, header, unmask_into, utf8_prefix, MAX_CLOSE_REASON,
    MAX_CONTROL_PAYLOAD,
};
use crate::handshake::{answer, Answer, Refusal, MAX_REQUEST};

/// Most wire bytes the layer takes in one read once the connection is open: what it does
/// not turn into payload at once waits here, so this bounds it. 16 KiB is a TLS record.
pub const READ_CHUNK: usize = 16 * 1024;

/// Unmasked payload of the current message waiting for the layer above to take it. While
/// any waits, no more frames are read: backpressure reaches the kernel.
const PAYLOAD_LIMIT: usize = 16 * 1024;

/// Frames queued to send before the layer stops taking the layer above's output (and
/// reading new frames, whose answers would join the queue): where a slow reader's
/// backpressure reaches the echo. The echo's own high watermark, so a stack holds at most
/// twice what the echo alone would.
const OUT_LIMIT: usize = 64 * 1024;

/// Messages received whose reply has not been framed yet; beyond it no more frames are
/// read. Replies are framed as soon as there is room to send them, so only a client that
/// sends many messages whose echo is empty while not reading ever gets near it.
const MAX_PENDING_REPLIES: usize = 1024;

/// Buffers up to this size are kept while a connection is quiet, as the echo does; larger
/// ones are given back [`TRIM_AFTER`] after the last progress.
const KEEP_WHEN_IDLE: usize = 4096;

/// How long a connection must be quiet before its grown buffers are given back: the
/// echo's own second.
const TRIM_AFTER: Duration = Duration::from_secs(1);

/// The layer's name in close reasons and logs.
const LAYER: &str = "websocket";

/// A data message's type, which its echo keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

impl Kind {
    fn opcode(self) -> OpCode {
        match self {
            Kind::Text => OpCode::Data(Data::Text),
            Kind::Binary => OpCode::Data(Data::Binary),
        }
    }
}

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the HTTP upgrade request (it must end before the handshake deadline).
    Handshake,
    /// Messages flow both ways.
    Open,
    /// No more frames are read: the rest of the layer above's output is framed, then a
    /// close frame saying `close`, then the connection is done for `reason`.
    Ending { close: Close, reason: CloseReason },
    /// Our last bytes (a close frame, or an HTTP refusal) are queued: done once they are
    /// sent.
    Closed(CloseReason),
    /// Aborted: nothing more is sent.
    Failed(CloseReason),
}

/// What our close frame says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// The peer's close echoed: its code, or nothing when it sent none.
    Echo(Option<u16>),
    /// Our own close: a code, and the reason's words.
    Own(u16),
}

/// The frame being read.
#[derive(Debug, Clone, Copy)]
struct Incoming {
    /// `Some` for a control frame, whose payload is gathered whole.
    control: Option<Control>,
    fin: bool,
    key: [u8; 4],
    /// Payload bytes read so far (the mask's phase).
    read: u64,
    /// Payload bytes still to come.
    left: u64,
}

/// The data message being read.
#[derive(Debug, Clone, Copy)]
struct Message {
    kind: Kind,
    /// Payload bytes so far, over all its frames.
    size: u64,
    /// Its final frame was read: once its payload is taken, the layer above is told the
    /// message ended.
    complete: bool,
}

/// Where the echo of a received message ends in the layer above's output.
#[derive(Debug, Clone, Copy)]
struct End {
    /// The offset in that output, counted from the connection's start.
    at: u64,
    kind: Kind,
    /// The message was empty: its echo is an empty message, not nothing.
    empty: bool,
}

/// WebSocket as a [`Layer`]: frames below, the payload of each message to the layer it
/// wraps (the echo), and each message's echo back as one message of the same type.
///
/// - **Handshake**: the HTTP upgrade request is answered `101 Switching Protocols`, or
///   with an HTTP error status and a close (crate docs), and must come within
///   [`HANDSHAKE_TIMEOUT`] ([`Timer::Handshake`]).
/// - **Reading**: each frame is checked (masked, no reserved bits or opcodes, control
///   frames whole and short, continuations in order, the message within `max_message`),
///   its payload unmasked into a bounded buffer and handed up as the layer above takes it
///   — a text message only in whole characters, checked as valid UTF-8 as it comes. At a
///   message's end the layer above gets [`receive_boundary`](Layer::receive_boundary).
///   While payload or a boundary waits for the layer above, no more frames are read.
/// - **Writing**: the layer above's output is framed as it comes: each message's echo is
///   one message of its type, sent as frames of whatever output is at hand, the last with
///   FIN where the echo of that message ends (where the boundary left the output). Pongs
///   and the close frame go between frames. The echo's bytes are copied behind each
///   header rather than borrowed: the stream writes one slice at a time, so borrowing
///   would cost a write (a syscall) per header, where a copy costs less and lets many
///   replies go out in one write.
/// - **Closing**: the peer's close frame ends the stream for the layer above, then ours
///   echoes its code; the layer above closing (the quit word, a limit, a timer, a
///   shutdown) ends with a close frame 1000 (1001 for a shutdown); a protocol error with
///   1002, 1007 or 1009. The layer above's pending echo is sent first every time; then
///   the connection is done and the stream sends its FIN.
#[derive(Debug)]
pub struct Ws<L> {
    inner: L,
    config: WsConfig,
    phase: Phase,
    /// When the handshake must be complete.
    handshake_deadline: Instant,
    /// Wire bytes not parsed yet: the request, then at most a partial frame header or
    /// control frame (or, while payload waits for the layer above, what was read since).
    inbuf: Vec<u8>,
    frame: Option<Incoming>,
    message: Option<Message>,
    /// The current message's unmasked payload not yet taken by the layer above.
    payload: Vec<u8>,
    /// `payload[..ready]` may go up: all of a binary payload, the whole characters of a
    /// text one.
    ready: usize,
    /// A control frame's payload, gathered whole.
    control: Vec<u8>,
    /// Frames to send: `out[head..]`.
    out: Vec<u8>,
    head: usize,
    /// Bytes of the layer above's output framed so far.
    pulled: u64,
    /// Where the echoes of received messages end, oldest first.
    ends: VecDeque<End>,
    /// The reply message under way (a frame of it went without FIN), and its type.
    reply: Option<Kind>,
    /// The type of the latest message begun: output after the last known end belongs to
    /// it.
    latest: Kind,
    /// The time of the latest call.
    now: Instant,
    /// When to give back buffers that grew large, once quiet.
    trim_at: Option<Instant>,
    /// An event of this layer's own, until polled.
    event: Option<Event>,
}

impl<L: Layer> Ws<L> {
    /// A server connection with `config` around `inner`, at time `now` (the accept): it
    /// waits for the upgrade request.
    pub fn new(config: &WsConfig, now: Instant, inner: L) -> Self {
        Ws {
            inner,
            config: config.clone(),
            phase: Phase::Handshake,
            handshake_deadline: now + HANDSHAKE_TIMEOUT,
            inbuf: Vec::new(),
            frame: None,
            message: None,
            payload: Vec::new(),
            ready: 0,
            control: Vec::new(),
            out: Vec::new(),
            head: 0,
            pulled: 0,
            ends: VecDeque::new(),
            reply: None,
            latest: Kind::Text,
            now,
            trim_at: None,
            event: None,
        }
    }

    /// The layer this one wraps.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    fn pending_out(&self) -> usize {
        self.out.len() - self.head
    }

    /// Payload or a message's end waits for the layer above: read no more frames.
    fn stalled(&self) -> bool {
        self.ready > 0 || self.message.is_some_and(|m| m.complete)
    }

    // ---- handshake --------------------------------------------------------------------

    /// Answers the request once it is complete; `from` is where this read's bytes begin.
    fn handshake(&mut self, now: Instant, from: usize) {
        // A request ends with an empty line: parse only when a line ended, so a client
        // sending a byte at a time costs one parse per line, not per byte.
        let line_ended = self.inbuf[from..].contains(&b'\n');
        let verdict = if line_ended {
            answer(&self.inbuf, self.config.path.as_deref())
        } else {
            Answer::Incomplete
        };
        match verdict {
            Answer::Incomplete if self.inbuf.len() >= MAX_REQUEST => {
                self.refuse(now, Refusal::TOO_LARGE);
            }
            Answer::Incomplete => {}
            Answer::Accept { consumed, response } => {
                self.out.extend_from_slice(&response);
                self.inbuf.drain(..consumed);
                self.phase = Phase::Open;
            }
            Answer::Refuse(refusal) => self.refuse(now, refusal),
        }
    }

    fn refuse(&mut self, now: Instant, refusal: Refusal) {
        let reason = protocol_close(refusal.status, refusal.text);
        self.out.extend_from_slice(&refusal.response());
        self.inbuf = Vec::new();
        self.inner.close(now, reason, Leftover::Drop);
        self.phase = Phase::Closed(reason);
    }

    // ---- reading frames ---------------------------------------------------------------

    /// Reads frames from `inbuf` and hands payload up, as far as the layer above takes it.
    fn read_frames(&mut self, now: Instant) {
        let mut at = 0;
        while self.phase == Phase::Open && self.inner.state() == LayerState::Open {
            self.feed(now);
            if self.stalled() {
                break;
            }
            let available = self.inbuf.len() - at;
            let Some(mut frame) = self.frame.take() else {
                let mut cursor = Cursor::new(&self.inbuf[at..]);
                match FrameHeader::parse(&mut cursor) {
                    Ok(None) => break,
                    Ok(Some((header, len))) => {
                        at += cursor.position() as usize;
                        self.begin_frame(now, &header, len);
                    }
                    // The only error parsing from memory can give: opcodes 3-7 and 11-15.
                    Err(_) => self.fail(now, 1002, "a reserved opcode"),
                }
                continue;
            };
            let n = usize::try_from(frame.left).map_or(available, |left| left.min(available));
            let n = match frame.control {
                Some(_) => n,
                None => n.min(PAYLOAD_LIMIT - self.payload.len()),
            };
            let target = match frame.control {
                Some(_) => &mut self.control,
                None => &mut self.payload,
            };
            unmask_into(&self.inbuf[at..at + n], frame.key, frame.read, target);
            at += n;
            frame.read += n as u64;
            frame.left -= n as u64;
            if frame.control.is_none() && !self.check_text(now, frame) {
                continue;
            }
            if frame.left > 0 {
                self.frame = Some(frame);
                if n == 0 {
                    break;
                }
                continue;
            }
            match frame.control {
                Some(control) => self.on_control(now, control),
                None if frame.fin => {
                    if let Some(message) = &mut self.message {
                        message.complete = true;
                    }
                }
                None => {}
            }
        }
        self.inbuf.drain(..at.min(self.inbuf.len()));
    }

    /// After payload was added: how much of it may go up. False when the connection
    /// failed on invalid UTF-8 (after the valid bytes before it went up, as they would
    /// have had they come in an earlier read).
    fn check_text(&mut self, now: Instant, frame: Incoming) -> bool {
        if self.message.is_some_and(|m| m.kind == Kind::Binary) {
            self.ready = self.payload.len();
            return true;
        }
        let valid = match utf8_prefix(&self.payload, self.ready) {
            // A character cut by the message's end can never be completed.
            Ok(ready) if frame.fin && frame.left == 0 && ready < self.payload.len() => ready,
            Ok(ready) => {
                self.ready = ready;
                return true;
            }
            Err(valid) => valid,
        };
        self.ready = valid;
        self.feed(now);
        self.fail(now, 1007, "invalid utf-8 in a text message");
        false
    }

    /// A frame header: checked, then its payload is read.
    fn begin_frame(&mut self, now: Instant, header: &FrameHeader, len: u64) {
        if header.rsv1 || header.rsv2 || header.rsv3 {
            return self.fail(now, 1002, "reserved bits set (no extension was agreed)");
        }
        let Some(key) = header.mask else {
            return self.fail(now, 1002, "an unmasked frame from the client");
        };
        let control = match header.opcode {
            OpCode::Control(control) => {
                if !header.is_final {
                    return self.fail(now, 1002, "a fragmented control frame");
                }
                if len > MAX_CONTROL_PAYLOAD as u64 {
                    return self.fail(now, 1002, "a control frame over 125 bytes");
                }
                self.control.clear();
                Some(control)
            }
            OpCode::Data(data) => {
                let message = match (data, self.message) {
                    (Data::Continue, Some(message)) => message,
                    (Data::Continue, None) => {
                        return self.fail(now, 1002, "a continuation with no message to continue")
                    }
                    (Data::Text | Data::Binary, Some(_)) => {
                        return self.fail(now, 1002, "a new message inside a fragmented one")
                    }
                    (Data::Text, None) => self.begin_message(Kind::Text),
                    (Data::Binary, None) => self.begin_message(Kind::Binary),
                    (Data::Reserved(_), _) => return self.fail(now, 1002, "a reserved opcode"),
                };
                let size = message.size.saturating_add(len);
                if size > self.config.max_message {
                    return self.fail(now, 1009, "a message over the size limit");
                }
                self.message = Some(Message { size, ..message });
                None
            }
        };
        self.frame = Some(Incoming {
            control,
            fin: header.is_final,
            key,
            read: 0,
            left: len,
        });
    }

    fn begin_message(&mut self, kind: Kind) -> Message {
        self.latest = kind;
        Message {
            kind,
            size: 0,
            complete: false,
        }
    }

    /// A whole control frame.
    fn on_control(&mut self, now: Instant, control: Control) {
        match control {
            Control::Ping => {
                let payload = std::mem::take(&mut self.control);
                frame(OpCode::Control(Control::Pong), &payload, &mut self.out);
                self.control = payload;
            }
            Control::Pong => {}
            Control::Close => match self.control.as_slice() {
                [] => self.peer_closed(now, None),
                [_] => self.fail(now, 1002, "a close frame with a 1-byte payload"),
                [hi, lo, reason @ ..] => {
                    let code = u16::from_be_bytes([*hi, *lo]);
                    if !close_code_allowed(code) {
                        self.fail(now, 1002, "a close code that may not be sent");
                    } else if std::str::from_utf8(reason).is_err() {
                        self.fail(now, 1007, "invalid utf-8 in a close reason");
                    } else {
                        self.peer_closed(now, Some(code));
                    }
                }
            },
            // Refused by `FrameHeader::parse`.
            Control::Reserved(_) => self.fail(now, 1002, "a reserved opcode"),
        }
    }

    /// Hands payload up as far as the layer above takes it, then the message's end.
    fn feed(&mut self, now: Instant) {
        while self.ready > 0 {
            let capacity = self.inner.receive_capacity();
            if capacity == 0 {
                break;
            }
            let mut n = capacity.min(self.ready);
            if self.message.is_some_and(|m| m.kind == Kind::Text) && n < self.ready {
                // Whole characters only, so that each piece the echo wraps in its prefix
                // and suffix is valid UTF-8. Unless the layer above takes less than one
                // character and has no output whose sending would make room (a line at
                // its length limit): waiting would stall it, so it gets what it takes.
                let whole = char_boundary(&self.payload[..self.ready], n);
                if whole > 0 || self.inner.held().1 > 0 {
                    n = whole;
                }
            }
            if n == 0 {
                break;
            }
            let taken = self.inner.receive(now, &self.payload[..n]);
            self.payload.drain(..taken);
            self.ready -= taken;
            if taken == 0 {
                break;
            }
        }
        let Some(message) = self.message else { return };
        if message.complete && self.payload.is_empty() && self.inner.receive_capacity() > 0 {
            // The layer above takes input, so it is not holding lines back: the boundary
            // ends its partial line at once, and its output for this message is complete
            // now. Everything it holds to send, after what was framed, is this echo.
            self.inner.receive_boundary(now);
            let (_, held) = self.inner.held();
            self.ends.push_back(End {
                at: self.pulled + held as u64,
                kind: message.kind,
                empty: message.size == 0,
            });
            self.message = None;
            self.ready = 0;
        }
    }

    // ---- closing ----------------------------------------------------------------------

    /// A protocol error: no more frames are read; the echo owed so far is sent, then a
    /// close frame with `code`.
    fn fail(&mut self, now: Instant, code: u16, text: &'static str) {
        let reason = protocol_close(code, text);
        self.phase = Phase::Ending {
            close: Close::Own(code),
            reason,
        };
        self.drop_input();
        self.inner.close(now, reason, Leftover::WholeFrames);
    }

    /// The peer's close frame: the end of its stream, for the layer above; our close frame
    /// will echo its code.
    fn peer_closed(&mut self, now: Instant, code: Option<u16>) {
        let reason = CloseReason::Protocol(ProtocolClose {
            layer: LAYER,
            // 1005: "no status code was present", for reporting only.
            code: code.unwrap_or(1005),
            text: "closed by the client",
            graceful: matches!(code, None | Some(1000 | 1001)),
        });
        self.phase = Phase::Ending {
            close: Close::Echo(code),
            reason,
        };
        self.drop_input();
        self.inner.receive_end(now);
    }

    /// Frames not read any more are dropped (a character cut by the end included).
    fn drop_input(&mut self) {
        self.inbuf.clear();
        self.payload.clear();
        self.ready = 0;
        self.frame = None;
        self.message = None;
    }

    /// Follows the layer above: its failure aborts; its closing (the quit word, a limit, a
    /// timer) ends the connection with a close frame after its last echo.
    fn follow_inner(&mut self) {
        match (self.phase, self.inner.state()) {
            (Phase::Open | Phase::Ending { .. }, LayerState::Failed(reason)) => {
                self.phase = Phase::Failed(reason);
            }
            (Phase::Open, LayerState::Closing(reason) | LayerState::Done(reason)) => {
                self.phase = Phase::Ending {
                    close: Close::Own(close_code(reason)),
                    reason,
                };
                self.drop_input();
            }
            _ => {}
        }
    }

    /// Once the layer above is done and all its output is framed: the close frame.
    fn finish(&mut self) {
        let Phase::Ending { close, reason } = self.phase else {
            return;
        };
        let done = matches!(self.inner.state(), LayerState::Done(_));
        // Once the layer above is done and offers nothing, nothing more comes from it:
        // an echo it was cut short of (a fault layer's close-after) never will. Only the
        // replies already due (an empty message's) wait for room to be framed.
        let due = self.ends.front().is_some_and(|end| end.at <= self.pulled);
        if !done || !self.inner.transmit().is_empty() || due {
            return;
        }
        self.ends.clear();
        if self.reply.take().is_some() {
            header(OpCode::Data(Data::Continue), true, 0, &mut self.out);
        }
        let mut payload = Vec::new();
        match close {
            Close::Echo(None) => {}
            Close::Echo(Some(code)) => payload.extend_from_slice(&code.to_be_bytes()),
            Close::Own(code) => {
                payload.extend_from_slice(&code.to_be_bytes());
                let text = match reason {
                    CloseReason::Protocol(p) => p.text.to_owned(),
                    other => other.to_string(),
                };
                let cut = char_boundary(text.as_bytes(), MAX_CLOSE_REASON);
                payload.extend_from_slice(&text.as_bytes()[..cut]);
            }
        }
        frame(OpCode::Control(Control::Close), &payload, &mut self.out);
        self.phase = Phase::Closed(reason);
    }

    // ---- writing ----------------------------------------------------------------------

    /// The layer above's output into frames, while the queue has room.
    fn pull(&mut self, now: Instant) {
        if self.head > 0 && self.head >= self.pending_out() {
            self.out.drain(..self.head);
            self.head = 0;
        }
        while matches!(self.phase, Phase::Open | Phase::Ending { .. })
            && self.pending_out() < OUT_LIMIT
        {
            let front = self.ends.front().copied();
            if let Some(end) = front.filter(|end| end.at <= self.pulled) {
                // A message whose echo is all framed (or was empty).
                self.ends.pop_front();
                if self.reply.take().is_some() {
                    header(OpCode::Data(Data::Continue), true, 0, &mut self.out);
                } else if end.empty {
                    header(end.kind.opcode(), true, 0, &mut self.out);
                }
                continue;
            }
            let available = self.inner.transmit().len();
            let (n, fin, kind) = match front {
                Some(end) => {
                    // `end.at - pulled` is at most what the layer above holds: a usize.
                    let left = usize::try_from(end.at - self.pulled).unwrap_or(usize::MAX);
                    (available.min(left), available >= left, end.kind)
                }
                // The message being received, or the last output of a closing echo.
                None => (available, false, self.latest),
            };
            if n == 0 {
                break;
            }
            let opcode = match self.reply {
                Some(_) => OpCode::Data(Data::Continue),
                None => kind.opcode(),
            };
            let start = self.out.len();
            header(opcode, fin, n, &mut self.out);
            self.out.extend_from_slice(&self.inner.transmit()[..n]);
            self.inner.transmitted(now, n);
            self.pulled += n as u64;
            let last = self.ends.is_empty()
                && matches!(self.inner.state(), LayerState::Done(_))
                && self.inner.transmit().is_empty();
            if fin {
                self.ends.pop_front();
            }
            if fin || last {
                // The closing echo's last bytes: its frame is the reply's last.
                self.out[start] |= 0x80;
                self.reply = None;
            } else {
                self.reply = Some(kind);
            }
        }
    }

    /// Moves bytes every way they can go until nothing moves: frames in, payload up,
    /// output down, the close frame. Pulling output can resume a paused echo, which can
    /// then take waiting payload, which can produce output: a few rounds at most.
    fn pump(&mut self, now: Instant) {
        self.now = self.now.max(now);
        let start = self.progress();
        for _ in 0..64 {
            let before = self.progress();
            if self.phase == Phase::Open {
                self.read_frames(now);
            }
            self.follow_inner();
            self.pull(now);
            self.finish();
            if self.progress() == before {
                break;
            }
        }
        if self.progress() != start {
            self.schedule_trim();
        }
    }

    /// What changes whenever anything moves.
    fn progress(&self) -> (u64, usize, usize, usize, usize, bool, Phase) {
        (
            self.pulled,
            self.inbuf.len(),
            self.payload.len(),
            self.ends.len(),
            self.out.len(),
            self.message.is_some(),
            self.phase,
        )
    }

    // ---- memory -----------------------------------------------------------------------

    fn grown(&self) -> bool {
        [
            self.inbuf.capacity(),
            self.payload.capacity(),
            self.out.capacity(),
            self.ends.capacity() * size_of::<End>(),
        ]
        .into_iter()
        .any(|c| c > KEEP_WHEN_IDLE)
    }

    fn schedule_trim(&mut self) {
        if self.grown() {
            self.trim_at = Some(self.now + TRIM_AFTER);
        }
    }

    /// Gives back what grown buffers hold beyond their contents.
    fn trim(&mut self) {
        self.trim_at = None;
        let before = self.own_allocated();
        if self.head == self.out.len() {
            self.out.clear();
            self.head = 0;
        }
        for buffer in [&mut self.inbuf, &mut self.payload, &mut self.out] {
            if buffer.capacity() > KEEP_WHEN_IDLE {
                buffer.shrink_to_fit();
            }
        }
        if self.ends.capacity() * size_of::<End>() > KEEP_WHEN_IDLE {
            self.ends.shrink_to_fit();
        }
        let released = before - self.own_allocated();
        if released > 0 {
            self.event = Some(Event::BuffersReleased {
                bytes: released as u64,
            });
        }
    }

    fn own_allocated(&self) -> usize {
        self.inbuf.capacity()
            + self.payload.capacity()
            + self.control.capacity()
            + self.out.capacity()
            + self.ends.capacity() * size_of::<End>()
    }
}

/// A close of this layer's own making.
fn protocol_close(code: u16, text: &'static str) -> CloseReason {
    CloseReason::Protocol(ProtocolClose {
        layer: LAYER,
        code,
        text,
        graceful: false,
    })
}

/// The close code for the layer above ending the connection: 1001 ("going away") when
/// the server shuts down, 1000 for every other ending of its own (the quit word, a limit,
/// a timer); the reason's words go with it.
fn close_code(reason: CloseReason) -> u16 {
    match reason {
        CloseReason::Shutdown => 1001,
        CloseReason::Protocol(p) if p.layer == LAYER => p.code,
        _ => 1000,
    }
}

impl<L: Layer> Layer for Ws<L> {
    fn receive_capacity(&self) -> usize {
        match self.phase {
            Phase::Handshake => MAX_REQUEST - self.inbuf.len(),
            Phase::Open => {
                let blocked = self.inner.state() != LayerState::Open
                    || self.stalled()
                    || self.pending_out() >= OUT_LIMIT
                    || self.ends.len() >= MAX_PENDING_REPLIES;
                if blocked {
                    0
                } else {
                    READ_CHUNK.saturating_sub(self.inbuf.len())
                }
            }
            Phase::Ending { .. } | Phase::Closed(_) | Phase::Failed(_) => 0,
        }
    }

    fn receive(&mut self, now: Instant, bytes: &[u8]) -> usize {
        let take = bytes.len().min(self.receive_capacity());
        if take == 0 {
            return 0;
        }
        let from = self.inbuf.len();
        self.inbuf.extend_from_slice(&bytes[..take]);
        if self.phase == Phase::Handshake {
            self.handshake(now, from);
        }
        self.pump(now);
        take
    }

    fn receive_end(&mut self, now: Instant) {
        match self.phase {
            // Nothing was asked: nothing is answered.
            Phase::Handshake => {
                self.inner
                    .close(now, CloseReason::PeerClosed, Leftover::Drop);
                self.phase = Phase::Closed(CloseReason::PeerClosed);
            }
            // The stream ended without a close frame: what came is echoed, an unfinished
            // message as it is, then our close frame.
            Phase::Open => {
                self.payload.truncate(self.ready);
                self.feed(now);
                self.inner.receive_end(now);
            }
            _ => {}
        }
        self.pump(now);
    }

    fn receive_boundary(&mut self, now: Instant) {
        // WebSocket frames its own messages: a boundary from below means nothing to it.
        let _ = now;
    }

    fn transmit(&self) -> &[u8] {
        &self.out[self.head..]
    }

    fn transmitted(&mut self, now: Instant, n: usize) {
        self.head = (self.head + n).min(self.out.len());
        if self.head == self.out.len() {
            self.out.clear();
            self.head = 0;
        }
        self.pump(now);
    }

    fn close(&mut self, now: Instant, reason: CloseReason, leftover: Leftover) {
        self.inner.close(now, reason, leftover);
        match self.phase {
            // No WebSocket yet: nothing to close but the stream.
            Phase::Handshake => self.phase = Phase::Closed(reason),
            Phase::Open => {
                self.phase = Phase::Ending {
                    close: Close::Own(close_code(reason)),
                    reason,
                };
                self.drop_input();
            }
            _ => {}
        }
        self.pump(now);
    }

    fn state(&self) -> LayerState {
        match self.phase {
            Phase::Handshake => LayerState::Open,
            Phase::Open => match self.inner.state() {
                LayerState::Open => LayerState::Open,
                LayerState::Failed(reason) => LayerState::Failed(reason),
                // Our close frame is still to follow.
                LayerState::Closing(reason) | LayerState::Done(reason) => {
                    LayerState::Closing(reason)
                }
            },
            Phase::Ending { reason, .. } => match self.inner.state() {
                LayerState::Failed(reason) => LayerState::Failed(reason),
                _ => LayerState::Closing(reason),
            },
            Phase::Closed(reason) if self.pending_out() > 0 => LayerState::Closing(reason),
            Phase::Closed(reason) => LayerState::Done(reason),
            Phase::Failed(reason) => LayerState::Failed(reason),
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.event.take().or_else(|| self.inner.poll_event())
    }

    fn deadline(&self) -> Option<Instant> {
        let handshake = (self.phase == Phase::Handshake).then_some(self.handshake_deadline);
        [handshake, self.trim_at, self.inner.deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if self.phase == Phase::Handshake && now >= self.handshake_deadline {
            self.phase = Phase::Failed(CloseReason::TimedOut(Timer::Handshake));
            return;
        }
        if self.inner.deadline().is_some_and(|at| at <= now) {
            self.inner.handle_timeout(now);
        }
        if self.trim_at.is_some_and(|at| at <= now) {
            self.trim();
        }
        self.pump(now);
    }

    fn timers(&self, deadlines: &mut Deadlines) {
        self.inner.timers(deadlines);
        if self.phase == Phase::Handshake {
            deadlines.set(Timer::Handshake, Some(self.handshake_deadline));
        }
    }

    fn held(&self) -> (usize, usize) {
        let (input, output) = self.inner.held();
        (
            input + self.inbuf.len() + self.payload.len(),
            output + self.pending_out(),
        )
    }

    fn allocated(&self) -> usize {
        self.inner.allocated() + self.own_allocated()
    }

    fn view(&self) -> Option<EchoView<'_>> {
        self.inner.view()
    }
}
