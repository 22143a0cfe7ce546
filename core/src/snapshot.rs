//! Introspection: what a connection holds and has done, for logs, tools and the
//! playground. Built on demand; nothing here is maintained on the hot path beyond
//! [`Counters`].

use crate::config::{EchoConfig, Framing};
use crate::counters::Counters;
use crate::output::CloseReason;
use crate::timers::Deadlines;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Phase {
    /// Taking input and echoing it.
    Open,
    /// Not taking input; flushing what is owed before the FIN.
    Closing,
    /// FIN sent; discarding input until the peer's end-of-stream or the linger timeout.
    Lingering,
    /// Finished: the socket is to be (or was) closed.
    Released,
}

impl Phase {
    /// A short lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            Phase::Open => "open",
            Phase::Closing => "closing",
            Phase::Lingering => "lingering",
            Phase::Released => "released",
        }
    }
}

/// What the echo at the top of a stack holds, for a [`Snapshot`]: borrowed, built on
/// demand (see [`Layer::view`](crate::Layer::view)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoView<'a> {
    /// The echo's config.
    pub config: &'a EchoConfig,
    /// Input paused by backpressure.
    pub paused: bool,
    /// Input taken but not yet echoed.
    pub input: &'a [u8],
    /// Length of the partial line at the end of `input`.
    pub partial_len: usize,
    /// `collect` framing: the echo being held.
    pub collected: &'a [u8],
    /// Output queued and not yet written.
    pub output: &'a [u8],
    /// Where frames end in `output` (empty unless `record_frames` is on).
    pub frame_ends: Vec<usize>,
}

/// A view of one connection at one moment: its buffers (borrowed, not copied), limits,
/// counters and running timers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Snapshot<'a> {
    /// Life phase.
    pub phase: Phase,
    /// Framing in use.
    pub framing: Framing,
    /// Input paused by backpressure (output at or above the high watermark).
    pub reading_paused: bool,
    /// The peer's end-of-stream was seen.
    pub read_closed: bool,
    /// Our FIN was sent.
    pub write_closed: bool,
    /// A short write happened; waiting for writability.
    pub write_blocked: bool,
    /// What [`Connection::receive_capacity`](crate::Connection::receive_capacity) says.
    pub receive_capacity: usize,
    /// Input taken but not yet echoed: whole lines held by backpressure, then the partial
    /// line.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_forms::bytes::serialize")
    )]
    pub input: &'a [u8],
    /// Length of the partial line at the end of `input`.
    pub partial_len: usize,
    /// `collect` framing: the echo being held.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_forms::bytes::serialize")
    )]
    pub collected: &'a [u8],
    /// Output queued and not yet written.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_forms::bytes::serialize")
    )]
    pub output: &'a [u8],
    /// Where frames end in `output` (offsets past each frame's last byte). Empty unless
    /// `record_frames` is on.
    pub frame_ends: Vec<usize>,
    /// Most bytes `input` can hold.
    pub input_capacity: usize,
    /// Output high watermark.
    pub high_watermark: usize,
    /// Output low watermark.
    pub low_watermark: usize,
    /// Most bytes `output` can ever hold.
    pub output_bound: usize,
    /// Why the connection is closing or closed, once it is.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_forms::close_reason_opt::serialize")
    )]
    pub close_reason: Option<CloseReason>,
    /// Counters so far.
    pub counters: Counters,
    /// Running timers.
    pub deadlines: Deadlines,
}
