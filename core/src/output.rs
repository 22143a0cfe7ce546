//! What a connection tells its driver.

use core::fmt;

use crate::counters::Counters;
use crate::error::PeerError;
use crate::time::Instant;
use crate::timers::Timer;

/// The next thing a driver must do for a connection, from
/// [`Connection::poll_output`](crate::Connection::poll_output).
///
/// Outputs come in this order: events first, then bytes to send, then our FIN, then the
/// release; `Timeout` last, meaning "nothing more until this deadline or the next input".
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "kind", rename_all = "snake_case")
)]
pub enum Output<'a> {
    /// Something the driver may log or show; it requires no action.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_forms::event::serialize")
    )]
    Event(Event),
    /// Write these bytes, then report how many were written with
    /// [`Input::Written`](crate::Input::Written). The slice borrows the output queue:
    /// no copy is made between the core and the socket.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_forms::named_bytes::serialize")
    )]
    Transmit(&'a [u8]),
    /// Shut down our write side (send FIN). Comes once, after all output was written.
    CloseWrite,
    /// Close the socket and forget the connection: it is finished, for this reason, with
    /// these final counters (for the driver's log line: a registry forgets the connection
    /// as it hands this out). Comes once; afterwards `poll_output` only returns
    /// `Timeout(None)`.
    Release {
        /// Why it ended.
        #[cfg_attr(
            feature = "serde",
            serde(serialize_with = "crate::serde_forms::close_reason::serialize")
        )]
        reason: CloseReason,
        /// Its traffic, all told.
        counters: Counters,
    },
    /// Everything is drained. Call [`Input::Tick`](crate::Input::Tick) at this deadline
    /// (if any) unless another input comes first.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_forms::at::serialize")
    )]
    Timeout(Option<Instant>),
}

/// Something that happened on a connection, for logs and views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "kind", rename_all = "snake_case")
)]
pub enum Event {
    /// Frames were queued for echo by one input: how many, and how many payload bytes.
    Echoed {
        /// Frames completed.
        frames: u64,
        /// Bytes of those frames as received (without prefix and suffix).
        bytes: u64,
    },
    /// The output queue reached the high watermark: no input is taken for now.
    ReadPaused,
    /// The output queue drained to the low watermark: input is taken again. A driver on
    /// edge-triggered readiness must read now; no new readiness event will say so.
    ReadResumed,
    /// A timer fired.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::timer"))]
    TimedOut(Timer),
    /// The peer caused an error; the connection is closing because of it.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::error"))]
    PeerError(PeerError),
    /// The connection stopped taking input and is flushing towards its FIN.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::reason"))]
    Closing(CloseReason),
    /// The connection had been quiet for a while and gave back buffer memory that a burst
    /// had made it grow: this many bytes of capacity. A driver may ask its allocator to
    /// return freed memory to the system now.
    BuffersReleased {
        /// Bytes of capacity given back.
        bytes: u64,
    },
    /// The fault layer injected a fault, on purpose.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::fault"))]
    Injected(Fault),
    /// One frame joined the output queue, at its tail: what kind, and how many bytes of
    /// the output stream it takes (prefix, suffix and terminator included). Only when
    /// `record_frames` is on, for views: a server pays nothing for it. An input's frames
    /// come in the order they were queued, before its [`Event::Echoed`]; until the next
    /// input they are the last bytes of the queue (unless a failure dropped them all).
    Queued {
        /// What was queued.
        frame: FrameKind,
        /// Its length in the output stream.
        len: u64,
    },
    /// The fault layer holds bytes the layer above just produced, until a time (`delay`,
    /// `jitter`). Only from a fault layer built [`recording`](crate::Faults::recording).
    Held {
        /// Bytes newly held.
        bytes: u64,
        /// When they may go.
        until: Instant,
    },
    /// The fault layer's delay ended for bytes it held: they may be written now. Only
    /// from a fault layer built [`recording`](crate::Faults::recording).
    Released {
        /// Bytes released now.
        bytes: u64,
        /// Bytes it still holds after this release.
        held: u64,
    },
}

/// What a frame in the output queue is, in [`Event::Queued`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum FrameKind {
    /// An echo: a whole line with its terminator, or what one read took in `raw` framing.
    Echo,
    /// A partial line flushed without a terminator: at the peer's end of stream, or at
    /// the end of a message of a framed protocol below.
    Partial,
    /// `collect` framing's collection, whole, at the quit word or the end of the stream.
    Collected,
    /// The error line answering a peer error (`error: line exceeds 64 bytes`), before a
    /// graceful close.
    Error,
}

impl FrameKind {
    /// A short lowercase name for logs and views.
    pub const fn name(self) -> &'static str {
        match self {
            FrameKind::Echo => "echo",
            FrameKind::Partial => "partial line",
            FrameKind::Collected => "collection",
            FrameKind::Error => "error line",
        }
    }
}

impl Event {
    /// The layer the event comes from: `"stream"` for the stream's own timers, `"echo"`
    /// for everything the echo does. A layer added later brings variants of its own.
    pub const fn layer(&self) -> &'static str {
        match self {
            Event::TimedOut(Timer::Frame) => "echo",
            Event::TimedOut(_) => "stream",
            Event::Injected(_) | Event::Held { .. } | Event::Released { .. } => "faults",
            Event::Echoed { .. }
            | Event::Queued { .. }
            | Event::ReadPaused
            | Event::ReadResumed
            | Event::PeerError(_)
            | Event::Closing(_)
            | Event::BuffersReleased { .. } => "echo",
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "kind", rename_all = "snake_case")
)]
pub enum CloseReason {
    /// The peer closed its side; everything was echoed.
    PeerClosed,
    /// The peer sent the quit word.
    Quit,
    /// `max_frames` frames were echoed.
    FrameLimit,
    /// `collect` framing echoed its collection.
    Collected,
    /// A timer ended it.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::timer"))]
    TimedOut(Timer),
    /// The peer caused an error.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::error"))]
    PeerError(PeerError),
    /// The server shut down.
    Shutdown,
    /// The driver reported a transport failure.
    Reset,
    /// The fault layer ended it, on purpose.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_forms::fault"))]
    Injected(Fault),
    /// A protocol layer (TLS, WebSocket, HTTP) ended it on its own terms.
    #[cfg_attr(
        feature = "serde",
        serde(
            serialize_with = "crate::serde_forms::protocol::serialize",
            skip_deserializing
        )
    )]
    Protocol(ProtocolClose),
}

/// How a protocol layer ended a connection: in its own words and with its own code (a TLS
/// alert, a WebSocket close code, an HTTP status). The words are the layer's, chosen when
/// it was written, so they cost nothing to carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtocolClose {
    /// The layer: `"tls"`, `"websocket"`, `"http"`.
    pub layer: &'static str,
    /// The protocol's own code for it.
    pub code: u16,
    /// What happened, in a few lowercase words.
    pub text: &'static str,
    /// Whether it was an ordinary ending (a WebSocket close 1000, a TLS close_notify).
    pub graceful: bool,
}

/// A fault the fault layer injects on purpose: never the peer's doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Fault {
    /// `reset_after` bytes were sent: the connection is reset (RST).
    Reset,
    /// `close_after` bytes were sent: the connection is closed (FIN).
    Close,
    /// A frame drew the `fault_chance`: the connection fails, as at the fault word.
    Chance,
}

impl Fault {
    /// A short lowercase name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            Fault::Reset => "injected reset",
            Fault::Close => "injected close",
            Fault::Chance => "injected fault",
        }
    }
}

impl CloseReason {
    /// Whether this is an ordinary ending (the peer got everything it was owed) rather
    /// than an error, a timeout or a reset.
    pub fn is_graceful(self) -> bool {
        matches!(
            self,
            CloseReason::PeerClosed
                | CloseReason::Quit
                | CloseReason::FrameLimit
                | CloseReason::Collected
                | CloseReason::Shutdown
                | CloseReason::Injected(Fault::Close)
        ) || matches!(self, CloseReason::Protocol(p) if p.graceful)
    }

    /// Whether the driver should end the connection with a reset (RST) rather than a
    /// plain close: only when a reset was asked for.
    pub const fn wants_reset(self) -> bool {
        matches!(self, CloseReason::Injected(Fault::Reset))
    }

    /// Which of the counted kinds of ending this is: one answer for the registry's
    /// counters, the server's summary and its metrics, so they always agree.
    pub fn class(self) -> CloseClass {
        match self {
            r if r.is_graceful() => CloseClass::Graceful,
            CloseReason::PeerError(PeerError::FaultInjected)
            | CloseReason::Injected(Fault::Chance) => CloseClass::Fault,
            CloseReason::PeerError(_) | CloseReason::Protocol(_) => CloseClass::PeerError,
            CloseReason::TimedOut(_) => CloseClass::Timeout,
            _ => CloseClass::Reset,
        }
    }
}

/// The kinds of ending that counters tell apart (see [`CloseReason::class`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseClass {
    /// An ordinary ending: the peer got everything it was owed.
    Graceful,
    /// The fault word or an injected fault failed it.
    Fault,
    /// Another peer error: a line or collection too large, a protocol's own error.
    PeerError,
    /// A timer ended it.
    Timeout,
    /// A transport failure, or an injected reset.
    Reset,
}

impl CloseClass {
    /// Every class, in the order of their discriminants (for tables indexed by class).
    pub const ALL: [CloseClass; 5] = [
        CloseClass::Graceful,
        CloseClass::Fault,
        CloseClass::PeerError,
        CloseClass::Timeout,
        CloseClass::Reset,
    ];

    /// A short snake_case name (a metric's label value).
    pub const fn name(self) -> &'static str {
        match self {
            CloseClass::Graceful => "graceful",
            CloseClass::Fault => "fault",
            CloseClass::PeerError => "peer_error",
            CloseClass::Timeout => "timeout",
            CloseClass::Reset => "reset",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("peer closed"),
            CloseReason::Quit => f.write_str("quit word"),
            CloseReason::FrameLimit => f.write_str("frame limit"),
            CloseReason::Collected => f.write_str("collect complete"),
            CloseReason::TimedOut(timer) => f.write_str(timer.name()),
            CloseReason::PeerError(e) => write!(f, "{e}"),
            CloseReason::Shutdown => f.write_str("shutdown"),
            CloseReason::Reset => f.write_str("reset"),
            CloseReason::Injected(fault) => f.write_str(fault.name()),
            CloseReason::Protocol(p) => write!(f, "{}: {} ({})", p.layer, p.text, p.code),
        }
    }
}
