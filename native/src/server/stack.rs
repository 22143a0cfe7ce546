//! The stacks of layers the server offers, as one type its registry holds: chosen once per
//! connection at accept time, from the listener's config.
//!
//! Each variant is a stack from `reverb-core` (and, as they land, from the protocol
//! crates); `Stack` only forwards the `Layer` calls to the one it holds, so the driver
//! never matches on a protocol. A listener kind added later is one more variant here.

use reverb_core::{
    CloseReason, Deadlines, Echo, EchoView, Event, Faults, Instant, Layer, LayerState, Leftover,
    ValidConfig,
};

/// One connection's stack.
// The echo is held inline: it is every connection's, and boxing it would cost each one an
// allocation and a pointer chase; the rarer, larger fault stack is the one boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Stack {
    /// The echo alone.
    Echo(Echo),
    /// The echo under the fault layer (`--delay`, `--rate`, `--chunk`, …), boxed: most
    /// connections have no faults, and an idle one should cost only what it uses.
    Faults(Box<Faults<Echo>>),
}

impl Stack {
    /// The stack `config` asks for, for connection number `conn` (its fault layer's
    /// random choices depend on it).
    pub(crate) fn new(config: &ValidConfig, conn: u64, now: Instant) -> Stack {
        let echo = Echo::new(config.clone(), now);
        if config.faults.is_active() {
            Stack::Faults(Box::new(Faults::new(&config.faults, conn, now, echo)))
        } else {
            Stack::Echo(echo)
        }
    }
}

/// Forwards a `Layer` method to the stack held.
macro_rules! forward {
    ($self:ident, $layer:ident => $call:expr) => {
        match $self {
            Stack::Echo($layer) => $call,
            Stack::Faults($layer) => $call,
        }
    };
}

impl Layer for Stack {
    fn receive_capacity(&self) -> usize {
        forward!(self, l => l.receive_capacity())
    }
    fn receive(&mut self, now: Instant, bytes: &[u8]) -> usize {
        forward!(self, l => l.receive(now, bytes))
    }
    fn receive_end(&mut self, now: Instant) {
        forward!(self, l => l.receive_end(now))
    }
    fn receive_boundary(&mut self, now: Instant) {
        forward!(self, l => l.receive_boundary(now))
    }
    fn transmit(&self) -> &[u8] {
        forward!(self, l => l.transmit())
    }
    fn transmitted(&mut self, now: Instant, n: usize) {
        forward!(self, l => l.transmitted(now, n))
    }
    fn close(&mut self, now: Instant, reason: CloseReason, leftover: Leftover) {
        forward!(self, l => l.close(now, reason, leftover))
    }
    fn state(&self) -> LayerState {
        forward!(self, l => l.state())
    }
    fn poll_event(&mut self) -> Option<Event> {
        forward!(self, l => l.poll_event())
    }
    fn deadline(&self) -> Option<Instant> {
        forward!(self, l => l.deadline())
    }
    fn handle_timeout(&mut self, now: Instant) {
        forward!(self, l => l.handle_timeout(now))
    }
    fn timers(&self, deadlines: &mut Deadlines) {
        forward!(self, l => l.timers(deadlines))
    }
    fn held(&self) -> (usize, usize) {
        forward!(self, l => l.held())
    }
    fn allocated(&self) -> usize {
        forward!(self, l => l.allocated())
    }
    fn view(&self) -> Option<EchoView<'_>> {
        forward!(self, l => l.view())
    }
}
