//! The fault layer: [`Faults`], latency and fragmentation on purpose, between the echo
//! and the wire.

use std::collections::VecDeque;

use crate::config::{Chunk, FaultConfig};
use crate::layer::{Layer, LayerState, Leftover};
use crate::output::{CloseReason, Event};
use crate::rng::Rng;
use crate::snapshot::EchoView;
use crate::time::Instant;
use crate::timers::Deadlines;
use core::mem::size_of;
use core::time::Duration;

/// Most release marks the delay keeps. Beyond it a new mark joins the newest one: those
/// bytes are released a little later than asked, never earlier and never out of order.
/// The inner layer's own bound (its high watermark) keeps the marks far below this in
/// practice; the cap makes the layer's memory bounded by a name, not by an argument.
const MAX_MARKS: usize = 1024;

/// A pass-through layer that injects faults into what its inner layer sends: each byte
/// held for a `delay` after the inner layer produced it, and output offered in `chunk`s of
/// random size, each its own write. Input passes through untouched; with no fault on,
/// output does too.
///
/// Like smoltcp's `FaultInjector`, it is itself a [`Layer`]: a fault is a wrapper with the
/// same interface, not a branch in the echo.
#[derive(Debug)]
pub struct Faults<L> {
    inner: L,
    delay: Option<Duration>,
    chunk: Option<Chunk>,
    rng: Rng,
    /// Bytes of the inner layer's output sent so far: the stream offset of the first byte
    /// of `inner.transmit()`.
    sent: u64,
    /// Offset up to which the inner layer's output has been seen.
    seen: u64,
    /// Offset up to which output may be sent (the delay has passed).
    released: u64,
    /// Output not yet released: where each piece ends, and when it may go. Oldest first.
    marks: VecDeque<(u64, Instant)>,
    /// Bytes left in the current chunk (when chunking).
    chunk_left: usize,
}

impl<L: Layer> Faults<L> {
    /// Faults from `config` around `inner`. `conn` distinguishes this connection's random
    /// choices from every other's under the same seed.
    pub fn new(config: &FaultConfig, conn: u64, inner: L) -> Self {
        let mut rng = Rng::new(config.seed ^ conn.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let chunk_left = config.chunk.map_or(0, |c| rng.in_range(c.min, c.max));
        let mut faults = Faults {
            inner,
            delay: config.delay,
            chunk: config.chunk,
            rng,
            sent: 0,
            seen: 0,
            released: 0,
            marks: VecDeque::new(),
            chunk_left,
        };
        // Whatever the inner layer holds from the start is released at once.
        faults.seen = faults.inner.transmit().len() as u64;
        faults.released = faults.seen;
        faults
    }

    /// The layer this one wraps.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// After every call into the inner layer: new output is stamped with when it may go.
    fn observe(&mut self, now: Instant) {
        let end = self.sent + self.inner.transmit().len() as u64;
        if end < self.seen {
            // The inner layer dropped output it had offered (it failed): forget it.
            self.seen = end;
            self.released = self.released.min(end);
            self.marks.retain(|&(at, _)| at <= end);
            return;
        }
        if end == self.seen {
            return;
        }
        self.seen = end;
        match self.delay {
            None => self.released = end,
            Some(delay) => {
                let due = now + delay;
                let full = self.marks.len() >= MAX_MARKS;
                match self.marks.back_mut() {
                    Some(last) if full || last.1 == due => {
                        *last = (end, last.1.max(due));
                    }
                    _ => self.marks.push_back((end, due)),
                }
            }
        }
    }

    /// Releases the output whose delay has passed at `now`.
    fn release(&mut self, now: Instant) {
        while let Some(&(end, due)) = self.marks.front() {
            if due > now {
                break;
            }
            self.released = end;
            self.marks.pop_front();
        }
    }
}

impl<L: Layer> Layer for Faults<L> {
    fn receive_capacity(&self) -> usize {
        self.inner.receive_capacity()
    }

    fn receive(&mut self, now: Instant, bytes: &[u8]) -> usize {
        let taken = self.inner.receive(now, bytes);
        self.observe(now);
        taken
    }

    fn receive_end(&mut self, now: Instant) {
        self.inner.receive_end(now);
        self.observe(now);
    }

    fn transmit(&self) -> &[u8] {
        let out = self.inner.transmit();
        // `released - sent` never exceeds what the inner layer offers (observe keeps
        // `released <= seen`), and fits a usize because the inner slice does.
        let mut len = out.len().min((self.released - self.sent) as usize);
        if self.chunk.is_some() {
            len = len.min(self.chunk_left);
        }
        &out[..len]
    }

    fn transmitted(&mut self, now: Instant, n: usize) {
        self.inner.transmitted(now, n);
        self.sent += n as u64;
        if let Some(chunk) = self.chunk {
            self.chunk_left -= n.min(self.chunk_left);
            if self.chunk_left == 0 {
                self.chunk_left = self.rng.in_range(chunk.min, chunk.max);
            }
        }
        self.observe(now);
    }

    fn close(&mut self, now: Instant, reason: CloseReason, leftover: Leftover) {
        self.inner.close(now, reason, leftover);
        self.observe(now);
    }

    fn state(&self) -> LayerState {
        // The inner layer is done only once it holds no output, so nothing is delayed
        // then either.
        self.inner.state()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.inner.poll_event()
    }

    fn deadline(&self) -> Option<Instant> {
        let release = self.marks.front().map(|&(_, due)| due);
        match (self.inner.deadline(), release) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.inner.deadline().is_some_and(|at| at <= now) {
            self.inner.handle_timeout(now);
            self.observe(now);
        }
        self.release(now);
    }

    fn timers(&self, deadlines: &mut Deadlines) {
        self.inner.timers(deadlines);
    }

    fn held(&self) -> (usize, usize) {
        self.inner.held()
    }

    fn allocated(&self) -> usize {
        self.inner.allocated() + self.marks.capacity() * size_of::<(u64, Instant)>()
    }

    fn view(&self) -> Option<EchoView<'_>> {
        self.inner.view()
    }
}
