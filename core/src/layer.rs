//! The layer contract: [`Layer`], how a protocol sits between the stream and the echo.

use crate::output::{CloseReason, Event};
use crate::snapshot::EchoView;
use crate::time::Instant;
use crate::timers::Deadlines;

/// Where a layer is in its life, from the stream's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerState {
    /// Taking input and answering it.
    Open,
    /// Closing for this reason: taking no more input, still sending what it owes.
    Closing(CloseReason),
    /// Closed for this reason and nothing more will be sent: once
    /// [`transmit`](Layer::transmit) is empty, the stream sends its FIN.
    Done(CloseReason),
    /// Failed for this reason: the stream drops everything and aborts the connection.
    Failed(CloseReason),
}

impl LayerState {
    /// The reason, once the layer is closing, done or failed.
    pub const fn reason(self) -> Option<CloseReason> {
        match self {
            LayerState::Open => None,
            LayerState::Closing(r) | LayerState::Done(r) | LayerState::Failed(r) => Some(r),
        }
    }
}

/// What a layer asked to close does with input it took but has not answered yet. Ordered
/// from the strictest: when a second reason to close comes, the stricter treatment wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Leftover {
    /// Drop it: the stream's own content ended the conversation (a quit word, a limit, an
    /// error), and what came after it is not answered.
    Drop,
    /// Answer whole frames, drop an unfinished one: a timer ended the connection, and the
    /// peer had finished those frames before time ran out (they were only waiting for our
    /// backpressure), but not the unfinished one.
    WholeFrames,
    /// Answer all of it, an unfinished frame as it is: the peer ended the stream, or the
    /// server is shutting down.
    All,
}

/// A sans-IO protocol layer: how a protocol sits between the stream and the echo.
///
/// A [`Layer`] is a sans-IO state machine with two sides. Its **wire side** faces the
/// stream (or the layer below): it takes bytes the peer sent and hands out bytes to send.
/// Its **application side** faces the layer it wraps: a layer *owns* the layer above it
/// (its inner layer) and talks to it through this same trait, so that two layers stacked
/// are again a layer — `Faults<Echo>` is a `Layer`, and so would be `Tls<Faults<Echo>>`.
/// The top of every stack is an application that ends it: [`Echo`](crate::Echo).
///
/// The stream shell, [`Connection`](crate::Connection), drives exactly one layer, the
/// outermost; it sees one receive capacity, one output slice, one deadline, one state,
/// whatever the stack. A listener chooses its stack once, at accept time, as a type.
///
/// # The contract
/// - **Backpressure is capacity.** [`receive_capacity`](Layer::receive_capacity) is what
///   the layer takes now; [`receive`](Layer::receive) takes at most that and says how
///   much it took. A layer that cannot pass bytes up keeps at most a bounded amount (its
///   own named limit) and then reports 0: the rest stays in the kernel.
/// - **Bytes leave as borrowed slices.** [`transmit`](Layer::transmit) borrows the bytes
///   to send; [`transmitted`](Layer::transmitted) says how many of them went. A layer
///   that passes bytes through returns its inner layer's slice (or a prefix of it):
///   nothing is copied between layers that a borrow can avoid.
/// - **Each side closes on the layer's own terms.** The peer's end-of-stream arrives as
///   [`receive_end`](Layer::receive_end); the stream asks a stack to close with
///   [`close`](Layer::close). A layer finishes in its own way (the echo flushes its
///   lines, a TLS layer would send close_notify, a WebSocket layer a close frame) and
///   says it is [`Done`](LayerState::Done) once nothing more will be sent; a layer that
///   cannot go on says [`Failed`](LayerState::Failed), and the stream aborts.
/// - **Time is data.** Every input carries `now`. [`deadline`](Layer::deadline) is the
///   earliest deadline of the layer and of those it wraps; the stream calls
///   [`handle_timeout`](Layer::handle_timeout) once it has passed (an early or extra call
///   is a harmless no-op).
/// - **Events go up the stack.** [`poll_event`](Layer::poll_event) hands out what the
///   layer and those it wraps have to say. The stream passes them on as the driver polls
///   its outputs (before any other output, so before the next input), keeping no copy;
///   a layer may act on an event as it passes (the fault layer's chance per echoed
///   frame), and the stream looks at [`state`](Layer::state) again after each.
///
/// # What a layer never does
/// No IO, no clock, no allocation per event on a busy connection, no unbounded buffer,
/// no panic on peer input, and no knowledge of what is stacked above or below it beyond
/// this trait.
pub trait Layer {
    /// Bytes from below the layer takes now; 0 is backpressure, or closing.
    fn receive_capacity(&self) -> usize;

    /// Bytes from below. Returns how many were taken: all of them when there are no more
    /// than [`receive_capacity`](Self::receive_capacity).
    fn receive(&mut self, now: Instant, bytes: &[u8]) -> usize;

    /// Below has reached its end: the peer will send nothing more.
    fn receive_end(&mut self, now: Instant);

    /// The bytes received so far end a message of a message-framed protocol below (a
    /// WebSocket message): a line left unfinished ends here. A layer that passes bytes up
    /// passes this up too.
    fn receive_boundary(&mut self, now: Instant);

    /// Bytes to send now, borrowed; empty when there are none (yet).
    fn transmit(&self) -> &[u8];

    /// `n` bytes of [`transmit`](Self::transmit) were sent.
    fn transmitted(&mut self, now: Instant, n: usize);

    /// The stream asks the stack to close, for `reason`, treating what it holds as
    /// `leftover` says. Ignored once the layer is already closing for a reason of its own,
    /// except that a stricter `leftover` applies.
    fn close(&mut self, now: Instant, reason: CloseReason, leftover: Leftover);

    /// Where the layer is in its life.
    fn state(&self) -> LayerState;

    /// The next event of this layer or of those it wraps.
    fn poll_event(&mut self) -> Option<Event>;

    /// The earliest deadline of this layer and of those it wraps.
    fn deadline(&self) -> Option<Instant>;

    /// Time has passed: fire what is due at `now`.
    fn handle_timeout(&mut self, now: Instant);

    /// Adds this layer's running timers (and those of the layers it wraps) to a view.
    fn timers(&self, deadlines: &mut Deadlines);

    /// Bytes held on their way up (taken, not yet answered) and on their way down (not
    /// yet transmitted), for counters and bounds.
    fn held(&self) -> (usize, usize);

    /// Bytes of buffer capacity allocated by this layer and those it wraps.
    fn allocated(&self) -> usize;

    /// What the echo at the top of the stack holds, for snapshots and views; `None` for a
    /// stack whose application is not the echo.
    fn view(&self) -> Option<EchoView<'_>> {
        None
    }
}

/// A boxed layer is a layer: stacks chosen at run time (tests stack any number of fault
/// layers) cost one indirect call per method.
impl<L: Layer + ?Sized> Layer for Box<L> {
    fn receive_capacity(&self) -> usize {
        (**self).receive_capacity()
    }
    fn receive(&mut self, now: Instant, bytes: &[u8]) -> usize {
        (**self).receive(now, bytes)
    }
    fn receive_end(&mut self, now: Instant) {
        (**self).receive_end(now);
    }
    fn receive_boundary(&mut self, now: Instant) {
        (**self).receive_boundary(now);
    }
    fn transmit(&self) -> &[u8] {
        (**self).transmit()
    }
    fn transmitted(&mut self, now: Instant, n: usize) {
        (**self).transmitted(now, n);
    }
    fn close(&mut self, now: Instant, reason: CloseReason, leftover: Leftover) {
        (**self).close(now, reason, leftover);
    }
    fn state(&self) -> LayerState {
        (**self).state()
    }
    fn poll_event(&mut self) -> Option<Event> {
        (**self).poll_event()
    }
    fn deadline(&self) -> Option<Instant> {
        (**self).deadline()
    }
    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now);
    }
    fn timers(&self, deadlines: &mut Deadlines) {
        (**self).timers(deadlines);
    }
    fn held(&self) -> (usize, usize) {
        (**self).held()
    }
    fn allocated(&self) -> usize {
        (**self).allocated()
    }
    fn view(&self) -> Option<EchoView<'_>> {
        (**self).view()
    }
}
