//! The fault layer: [`Faults`], latency, pacing, fragmentation and failures on purpose,
//! between the echo and the wire.

use core::mem::size_of;
use core::time::Duration;
use std::collections::VecDeque;

use crate::config::{Chunk, FaultConfig, Probability};
use crate::layer::{Layer, LayerState, Leftover};
use crate::output::{CloseReason, Event, Fault};
use crate::rng::Rng;
use crate::snapshot::EchoView;
use crate::time::Instant;
use crate::timers::Deadlines;

/// Most release marks the delay keeps. Beyond it a new mark joins the newest one: those
/// bytes are released a little later than asked, never earlier and never out of order.
/// The inner layer's own bound (its high watermark) keeps the marks far below this in
/// practice; the cap makes the layer's memory bounded by a name, not by an argument.
const MAX_MARKS: usize = 1024;

/// How much sending a paced connection may save up, in time at its rate: 50 ms makes
/// pacing smooth to the eye of a client (no gap longer than that) while a fast rate still
/// writes in large pieces, not a syscall per byte.
const PACE_BURST_MS: u64 = 50;

/// A pass-through layer that injects faults into what its inner layer sends:
/// - **delay** (and **jitter**): each byte held for a while after the inner layer produced
///   it; order is kept;
/// - **rate**: output paced by a token bucket; the stream learns when to write next from
///   the layer's deadline, never by sleeping;
/// - **chunk**: output offered in pieces of random size, each its own write;
/// - **reset after** / **close after** so many bytes sent: the connection is reset or
///   closed;
/// - **fault chance**: each echoed frame fails the connection with that probability.
///
/// Input passes through untouched; with no fault on, output does too. Every random choice
/// comes from one seeded generator per connection, so a run is reproducible.
///
/// Like smoltcp's `FaultInjector`, it is itself a [`Layer`]: a fault is a wrapper with the
/// same interface, not a branch in the echo.
#[derive(Debug)]
pub struct Faults<L> {
    inner: L,
    delay: Option<Duration>,
    jitter_ms: u64,
    chunk: Option<Chunk>,
    pace: Option<Pace>,
    /// The byte count at which the connection is reset or closed, and which of the two.
    limit: Option<(u64, Fault)>,
    /// Frames left before the next injected failure, when `fault_chance` is on.
    frames_left: Option<u64>,
    chance: Option<Probability>,
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
    /// The fault injected, once one is.
    injected: Option<Fault>,
    /// The event announcing it, until polled.
    announce: Option<Event>,
    /// Whether to report what the delay holds and releases ([`Faults::recording`]).
    record: bool,
    /// Those reports, until polled: empty (and unallocated) unless recording.
    reports: VecDeque<Event>,
}

/// A token bucket in thousandths of a byte, refilled by the time that passed.
#[derive(Debug, Clone, Copy)]
struct Pace {
    /// Bytes per second, which is also thousandths of a byte per millisecond.
    rate: u64,
    tokens: u64,
    capacity: u64,
    refilled_at: Instant,
}

impl Pace {
    fn new(rate: u64, now: Instant) -> Self {
        let capacity = rate.saturating_mul(PACE_BURST_MS).max(1000);
        Pace {
            rate,
            tokens: capacity,
            capacity,
            refilled_at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let ms = now.saturating_since(self.refilled_at).as_millis() as u64;
        let gained = self.rate.saturating_mul(ms);
        self.tokens = self.tokens.saturating_add(gained).min(self.capacity);
        self.refilled_at = self.refilled_at.max(now);
    }

    /// Whole bytes that may be sent now.
    fn allowance(&self) -> u64 {
        self.tokens / 1000
    }

    fn spend(&mut self, bytes: u64) {
        self.tokens = self.tokens.saturating_sub(bytes.saturating_mul(1000));
    }

    /// When enough tokens will have come to send `pending` bytes (or a full bucket's
    /// worth, if less): `None` if they are there already.
    fn ready_at(&self, pending: u64) -> Option<Instant> {
        let need = pending.saturating_mul(1000).min(self.capacity);
        if pending == 0 || self.tokens >= need {
            return None;
        }
        let ms = (need - self.tokens).div_ceil(self.rate);
        Some(self.refilled_at + Duration::from_millis(ms))
    }
}

impl<L: Layer> Faults<L> {
    /// Faults from `config` around `inner`, at time `now`. `conn` distinguishes this
    /// connection's random choices from every other's under the same seed.
    pub fn new(config: &FaultConfig, conn: u64, now: Instant, inner: L) -> Self {
        let mut rng = Rng::new(config.seed ^ conn.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let chunk_left = config.chunk.map_or(0, |c| rng.in_range(c.min, c.max));
        // The smaller byte count wins; on a tie, the reset.
        let limit = match (config.reset_after, config.close_after) {
            (Some(r), Some(c)) if c < r => Some((c, Fault::Close)),
            (Some(r), _) => Some((r, Fault::Reset)),
            (None, Some(c)) => Some((c, Fault::Close)),
            (None, None) => None,
        };
        let mut faults = Faults {
            inner,
            delay: config.delay.or(config.jitter.map(|_| Duration::ZERO)),
            jitter_ms: config.jitter.map_or(0, |j| j.as_millis() as u64),
            chunk: config.chunk,
            pace: config.rate.map(|rate| Pace::new(rate, now)),
            limit,
            frames_left: None,
            chance: config.fault_chance,
            rng,
            sent: 0,
            seen: 0,
            released: 0,
            marks: VecDeque::new(),
            chunk_left,
            injected: None,
            announce: None,
            record: false,
            reports: VecDeque::new(),
        };
        faults.frames_left = faults.draw_frames();
        // Whatever the inner layer holds from the start is released at once.
        faults.seen = faults.inner.transmit().len() as u64;
        faults.released = faults.seen;
        faults
    }

    /// The same layer, reporting what its delay holds back ([`Event::Held`]) and when it
    /// lets it go ([`Event::Released`]), so a view can show a delay without comparing
    /// states. Views ask for it (the playground does when it records frames); a server
    /// does not, and pays nothing.
    pub fn recording(mut self) -> Self {
        self.record = true;
        self
    }

    /// The layer this one wraps.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    fn report(&mut self, event: Event) {
        if self.record {
            self.reports.push_back(event);
        }
    }

    /// Frames until the next injected failure: a geometric draw (the number of trials to
    /// the first success at the fault chance), so a frame costs a subtraction, not a draw.
    fn draw_frames(&mut self) -> Option<u64> {
        let p = self.chance?.get();
        if p >= 1.0 {
            return Some(1);
        }
        // A uniform draw in (0, 1]: 53 random bits, never zero.
        let u = ((self.rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        let frames = (u.ln() / (1.0 - p).ln()).ceil();
        Some(if frames >= 1.0 { frames as u64 } else { 1 })
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
        let bytes = end - self.seen;
        self.seen = end;
        let Some(delay) = self.delay else {
            self.released = end;
            return;
        };
        let jitter = if self.jitter_ms > 0 {
            self.rng.in_range(0, self.jitter_ms as usize) as u64
        } else {
            0
        };
        let due = now + delay + Duration::from_millis(jitter);
        let full = self.marks.len() >= MAX_MARKS;
        let until = match self.marks.back_mut() {
            Some(last) if full || last.1 == due => {
                *last = (end, last.1.max(due));
                last.1
            }
            _ => {
                self.marks.push_back((end, due));
                due
            }
        };
        self.report(Event::Held { bytes, until });
    }

    /// Releases the output whose delay has passed at `now`.
    fn release(&mut self, now: Instant) {
        let before = self.released;
        while let Some(&(end, due)) = self.marks.front() {
            if due > now {
                break;
            }
            self.released = end;
            self.marks.pop_front();
        }
        if self.released > before {
            self.report(Event::Released {
                bytes: self.released - before,
                held: self.seen - self.released,
            });
        }
    }

    /// Bytes the inner layer offers that delay and the byte limit let go (before pacing
    /// and chunking).
    fn pending(&self) -> u64 {
        let mut len = (self.inner.transmit().len() as u64).min(self.released - self.sent);
        if let Some((limit, _)) = self.limit {
            len = len.min(limit.saturating_sub(self.sent));
        }
        len
    }

    fn inject(&mut self, fault: Fault) {
        if self.injected.is_none() {
            self.injected = Some(fault);
            self.announce = Some(Event::Injected(fault));
        }
    }

    /// What every call does after the inner layer's part: stamp new output, refill the
    /// bucket.
    fn after(&mut self, now: Instant) {
        self.observe(now);
        if let Some(pace) = &mut self.pace {
            pace.refill(now);
        }
    }
}

impl<L: Layer> Layer for Faults<L> {
    fn receive_capacity(&self) -> usize {
        if self.injected.is_some() {
            return 0;
        }
        self.inner.receive_capacity()
    }

    fn receive(&mut self, now: Instant, bytes: &[u8]) -> usize {
        if self.injected.is_some() {
            return 0;
        }
        let taken = self.inner.receive(now, bytes);
        self.after(now);
        taken
    }

    fn receive_end(&mut self, now: Instant) {
        self.inner.receive_end(now);
        self.after(now);
    }

    fn receive_boundary(&mut self, now: Instant) {
        self.inner.receive_boundary(now);
        self.after(now);
    }

    fn transmit(&self) -> &[u8] {
        let out = self.inner.transmit();
        if self.injected.is_some() {
            return &[];
        }
        // `pending` never exceeds what the inner layer offers, so it fits a usize.
        let mut len = self.pending() as usize;
        if self.chunk.is_some() {
            len = len.min(self.chunk_left);
        }
        if let Some(pace) = &self.pace {
            len = len.min(usize::try_from(pace.allowance()).unwrap_or(usize::MAX));
        }
        &out[..len]
    }

    fn transmitted(&mut self, now: Instant, n: usize) {
        self.inner.transmitted(now, n);
        self.sent += n as u64;
        if let Some(pace) = &mut self.pace {
            pace.spend(n as u64);
        }
        if let Some(chunk) = self.chunk {
            self.chunk_left -= n.min(self.chunk_left);
            if self.chunk_left == 0 {
                self.chunk_left = self.rng.in_range(chunk.min, chunk.max);
            }
        }
        if let Some((limit, fault)) = self.limit {
            if self.sent >= limit {
                self.inject(fault);
            }
        }
        self.after(now);
    }

    fn close(&mut self, now: Instant, reason: CloseReason, leftover: Leftover) {
        self.inner.close(now, reason, leftover);
        self.after(now);
    }

    fn state(&self) -> LayerState {
        match self.injected {
            Some(Fault::Close) => LayerState::Done(CloseReason::Injected(Fault::Close)),
            Some(fault) => LayerState::Failed(CloseReason::Injected(fault)),
            // The inner layer is done only once it holds no output, so nothing is delayed
            // then either.
            None => self.inner.state(),
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        if let Some(event) = self.announce.take() {
            return Some(event);
        }
        // The inner layer's events of a call first (the frames it queued), then what this
        // layer made of them (held, released).
        let Some(event) = self.inner.poll_event() else {
            return self.reports.pop_front();
        };
        if let (Event::Echoed { frames, .. }, Some(left)) = (event, self.frames_left) {
            if frames >= left {
                self.inject(Fault::Chance);
            } else {
                self.frames_left = Some(left - frames);
            }
        }
        Some(event)
    }

    fn deadline(&self) -> Option<Instant> {
        if self.injected.is_some() {
            return None;
        }
        let release = self.marks.front().map(|&(_, due)| due);
        let paced = self.pace.and_then(|pace| pace.ready_at(self.pending()));
        [self.inner.deadline(), release, paced]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.inner.deadline().is_some_and(|at| at <= now) {
            self.inner.handle_timeout(now);
        }
        self.after(now);
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
