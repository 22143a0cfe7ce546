//! [`Proxy`]: the PROXY protocol header consumed, then a pass-through.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reverb_core::{
    CloseReason, Deadlines, EchoView, Event, Instant, Layer, LayerState, Leftover, ProtocolClose,
    Timer,
};

use crate::header::{parse, Invalid, Parse, ProxyHeader};

/// How long a client has to send its whole header, counted from the accept. A proxy
/// writes it with its first bytes, so any real one is far inside this; a client that
/// connects and says nothing must not hold a connection. The TLS and WebSocket
/// handshakes above it count from the accept too, with the same ten seconds.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The layer's name in close reasons and logs.
const LAYER: &str = "proxy";

/// Where a layer above may read the decoded header, once there is one: the layer sets it
/// (once), and whoever holds a clone reads it. Cloning is cheap (one reference count).
///
/// The [`Layer`] trait passes bytes up the stack, not facts about the connection, and
/// the layers in between (TLS, the fault layer) are boxed, so a layer above cannot ask
/// this one. The stack's builder hands the same slot to both instead, at accept time;
/// neither knows what the other is.
#[derive(Debug, Clone, Default)]
pub struct Announce(Arc<OnceLock<ProxyHeader>>);

impl Announce {
    /// An empty slot.
    pub fn new() -> Self {
        Announce::default()
    }

    /// The decoded header, once the connection's header was read.
    pub fn get(&self) -> Option<&ProxyHeader> {
        self.0.get()
    }

    fn set(&self, header: ProxyHeader) {
        let _ = self.0.set(header);
    }
}

/// Where the layer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the header: the first bytes of the connection.
    Header,
    /// The header was read: every byte passes through.
    Through,
    /// No valid header: the connection ends, for this reason, with nothing sent.
    Refused(CloseReason),
}

/// The PROXY protocol as a [`Layer`]: a load balancer's header first, then the stream of
/// the layer it wraps.
///
/// - **The header**: v1 (text) or v2 (binary, with TLVs skipped), read from the
///   connection's first bytes — at most [`MAX_V1_HEADER`](crate::MAX_V1_HEADER) or
///   [`MAX_V2_HEADER`](crate::MAX_V2_HEADER) of them, and never a byte past the header's
///   end that the layer above could not take — within [`HEADER_TIMEOUT`] of the accept.
///   It is never passed up: the layer above sees the client's stream as if it had
///   connected directly. What it said is [`header`](Proxy::header), and is set in the
///   [`Announce`] slot given with [`announce_to`](Proxy::announce_to).
/// - **Then a pass-through**: capacity, input, output (the inner layer's slice,
///   borrowed), state, events and deadlines are the inner layer's, untouched.
/// - **No valid header** (bytes that are not one, a malformed one, the end of the stream
///   or the timeout before it is whole): the connection closes with a FIN and nothing
///   sent, for a [`CloseReason::Protocol`] of layer `proxy` whose code is the header's
///   version (0 for bytes that are neither), or [`Timer::Handshake`]. The layer above
///   never sees a byte, so a TLS layer sends no alert and an HTTP layer no error page: a
///   client that skipped the proxy learns nothing but a closed connection.
#[derive(Debug)]
pub struct Proxy<L> {
    inner: L,
    phase: Phase,
    /// The header's bytes so far (only while reading it).
    buf: Vec<u8>,
    /// The header ends within the first `upto` bytes.
    upto: usize,
    deadline: Instant,
    header: Option<ProxyHeader>,
    announce: Option<Announce>,
}

impl<L: Layer> Proxy<L> {
    /// A connection accepted at `now` that must start with a PROXY header, around `inner`.
    pub fn new(now: Instant, inner: L) -> Self {
        Proxy {
            inner,
            phase: Phase::Header,
            buf: Vec::new(),
            upto: crate::header::V2_FIXED,
            deadline: now + HEADER_TIMEOUT,
            header: None,
            announce: None,
        }
    }

    /// Also sets the decoded header in `slot`, for a layer above to read.
    pub fn announce_to(mut self, slot: Announce) -> Self {
        self.announce = Some(slot);
        self
    }

    /// What the header said, once it was read.
    pub fn header(&self) -> Option<&ProxyHeader> {
        self.header.as_ref()
    }

    /// The layer this one wraps.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    fn refuse(&mut self, reason: CloseReason) {
        self.phase = Phase::Refused(reason);
        self.buf = Vec::new();
    }
}

fn refusal(why: Invalid) -> CloseReason {
    CloseReason::Protocol(ProtocolClose {
        layer: LAYER,
        code: why.version(),
        text: why.text(),
        graceful: false,
    })
}

impl<L: Layer> Layer for Proxy<L> {
    fn receive_capacity(&self) -> usize {
        match self.phase {
            // Never more than the header can still be, nor than the layer above could take
            // of what follows it in the same read.
            Phase::Header => (self.upto - self.buf.len()).min(self.inner.receive_capacity()),
            Phase::Through => self.inner.receive_capacity(),
            Phase::Refused(_) => 0,
        }
    }

    fn receive(&mut self, now: Instant, bytes: &[u8]) -> usize {
        if self.phase == Phase::Through {
            return self.inner.receive(now, bytes);
        }
        let take = bytes.len().min(self.receive_capacity());
        if take == 0 {
            return 0;
        }
        let before = self.buf.len();
        self.buf.extend_from_slice(&bytes[..take]);
        match parse(&self.buf) {
            Parse::Incomplete { upto } => self.upto = upto,
            Parse::Invalid(why) => self.refuse(refusal(why)),
            Parse::Complete { header, len } => {
                self.header = Some(header);
                if let Some(slot) = &self.announce {
                    slot.set(header);
                }
                self.phase = Phase::Through;
                self.buf = Vec::new();
                // What followed the header in this read goes up as it came, borrowed: no
                // more than the inner layer's capacity was read, so it takes all of it.
                let rest = &bytes[len - before..take];
                if !rest.is_empty() {
                    let taken = self.inner.receive(now, rest);
                    debug_assert_eq!(taken, rest.len(), "invariant: read within capacity");
                }
            }
        }
        take
    }

    fn receive_end(&mut self, now: Instant) {
        match self.phase {
            Phase::Through => self.inner.receive_end(now),
            // A connection that closes without a byte (a port probe) asked nothing.
            Phase::Header if self.buf.is_empty() => self.refuse(CloseReason::PeerClosed),
            Phase::Header => self.refuse(CloseReason::Protocol(ProtocolClose {
                layer: LAYER,
                code: 0,
                text: "the connection ended inside its PROXY header",
                graceful: false,
            })),
            Phase::Refused(_) => {}
        }
    }

    fn receive_boundary(&mut self, now: Instant) {
        if self.phase == Phase::Through {
            self.inner.receive_boundary(now);
        }
    }

    fn transmit(&self) -> &[u8] {
        match self.phase {
            Phase::Refused(_) => &[],
            _ => self.inner.transmit(),
        }
    }

    fn transmitted(&mut self, now: Instant, n: usize) {
        if !matches!(self.phase, Phase::Refused(_)) {
            self.inner.transmitted(now, n);
        }
    }

    fn close(&mut self, now: Instant, reason: CloseReason, leftover: Leftover) {
        match self.phase {
            Phase::Through => self.inner.close(now, reason, leftover),
            // Nothing was asked yet: nothing is owed.
            Phase::Header => self.refuse(reason),
            Phase::Refused(_) => {}
        }
    }

    fn state(&self) -> LayerState {
        match self.phase {
            Phase::Header => LayerState::Open,
            Phase::Through => self.inner.state(),
            Phase::Refused(reason) => LayerState::Done(reason),
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        match self.phase {
            Phase::Refused(_) => None,
            _ => self.inner.poll_event(),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Header => Some(
                self.inner
                    .deadline()
                    .map_or(self.deadline, |at| at.min(self.deadline)),
            ),
            Phase::Through => self.inner.deadline(),
            Phase::Refused(_) => None,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Header if now >= self.deadline => {
                self.refuse(CloseReason::TimedOut(Timer::Handshake));
            }
            Phase::Header | Phase::Through => {
                if self.inner.deadline().is_some_and(|at| at <= now) {
                    self.inner.handle_timeout(now);
                }
            }
            Phase::Refused(_) => {}
        }
    }

    fn timers(&self, deadlines: &mut Deadlines) {
        match self.phase {
            Phase::Header => {
                self.inner.timers(deadlines);
                let at = deadlines
                    .get(Timer::Handshake)
                    .map_or(self.deadline, |at| at.min(self.deadline));
                deadlines.set(Timer::Handshake, Some(at));
            }
            Phase::Through => self.inner.timers(deadlines),
            Phase::Refused(_) => {}
        }
    }

    fn held(&self) -> (usize, usize) {
        let (input, output) = match self.phase {
            Phase::Refused(_) => (0, 0),
            _ => self.inner.held(),
        };
        (input + self.buf.len(), output)
    }

    fn allocated(&self) -> usize {
        self.inner.allocated() + self.buf.capacity()
    }

    fn view(&self) -> Option<EchoView<'_>> {
        self.inner.view()
    }
}
