//! [`Tls`]: a rustls server connection as a reverb layer, driven from memory.

use std::io::{self, BufRead, Write};

use reverb_core::{
    CloseReason, Deadlines, EchoView, Event, Instant, Layer, LayerState, Leftover, ProtocolClose,
    Timer,
};
use rustls::ServerConnection;

use crate::certs::{ServerTls, HANDSHAKE_TIMEOUT};

/// Most ciphertext the layer takes in one read. It is no more than rustls's plaintext
/// buffer holds (16 KiB), so what one read decrypts to always fits there even when the
/// layer above takes none of it; and it is a full TLS record, so a busy connection reads
/// a record per call.
pub const READ_CHUNK: usize = 16 * 1024;

/// Ciphertext queued to send before the layer stops taking plaintext from the layer above:
/// that is where backpressure from a slow reader reaches the echo. A few records' worth.
const OUT_LIMIT: usize = 64 * 1024;

/// Where the TLS session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The handshake is under way (it must finish before the handshake deadline).
    Handshaking,
    /// Application data flows both ways.
    Open,
    /// Our close_notify is queued, for this reason: nothing follows the queue.
    Closed(CloseReason),
    /// The session failed; its alert, if rustls queued one, is in the queue, then the
    /// connection closes.
    Broken(CloseReason),
    /// Aborted: nothing more is sent.
    Failed(CloseReason),
}

/// TLS as a [`Layer`]: ciphertext below, plaintext to the layer it wraps.
///
/// - **Reading**: ciphertext goes into rustls (`read_tls`, then `process_new_packets`);
///   plaintext goes up from rustls's own buffer, borrowed (`fill_buf`), and only what the
///   layer above takes is consumed. While plaintext waits for it, the layer takes no more
///   ciphertext: backpressure reaches the kernel.
/// - **Writing**: the layer above's output is handed to rustls's writer while fewer than
///   `OUT_LIMIT` bytes of records wait to be sent, and the records go out as this layer's
///   [`transmit`](Layer::transmit) slice.
/// - **Closing**: when the layer above is done, a close_notify follows its last byte; the
///   peer's close_notify (or a TCP end without one, which rustls calls a truncation and
///   this layer forgives, as most servers do) ends the stream for the layer above.
/// - **Failing**: a TLS error (plain text on a TLS port, a bad record, an alert) queues
///   rustls's alert, then closes with [`CloseReason::Protocol`] naming what went wrong.
/// - **Time**: a handshake not complete within [`HANDSHAKE_TIMEOUT`] aborts the
///   connection ([`Timer::Handshake`]).
#[derive(Debug)]
pub struct Tls<L> {
    conn: ServerConnection,
    inner: L,
    phase: Phase,
    /// When the handshake must be complete.
    handshake_deadline: Instant,
    /// Ciphertext received that rustls could not take yet (its buffers were full): fed
    /// before anything else. At most one read's worth.
    pending_in: Vec<u8>,
    /// Records to send: `out[head..]`.
    out: Vec<u8>,
    head: usize,
    /// rustls holds plaintext the layer above has not taken.
    plaintext_waiting: bool,
    /// The end of the stream was passed up.
    ended: bool,
}

impl<L: Layer> Tls<L> {
    /// A server session with `tls`'s certificate around `inner`, at time `now`.
    ///
    /// # Panics
    /// Only if rustls refuses a config it built itself (an invariant of
    /// [`ServerTls`]).
    pub fn new(tls: &ServerTls, now: Instant, inner: L) -> Self {
        let conn = ServerConnection::new(tls.config())
            .expect("invariant: a ServerConfig built by ServerTls makes a connection");
        Tls {
            conn,
            inner,
            phase: Phase::Handshaking,
            handshake_deadline: now + HANDSHAKE_TIMEOUT,
            pending_in: Vec::new(),
            out: Vec::new(),
            head: 0,
            plaintext_waiting: false,
            ended: false,
        }
    }

    /// The layer this one wraps.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// Whether the handshake is complete.
    pub fn is_handshake_complete(&self) -> bool {
        !self.conn.is_handshaking()
    }

    /// Whether the session still moves application data.
    fn live(&self) -> bool {
        matches!(self.phase, Phase::Handshaking | Phase::Open)
    }

    /// Feeds ciphertext to rustls; what it cannot take yet waits in `pending_in`.
    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() && self.live() {
            match self.conn.read_tls(&mut data) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if let Err(error) = self.conn.process_new_packets() {
                self.broken(&error);
            }
        }
        if self.live() {
            self.pending_in.extend_from_slice(data);
        }
    }

    /// Moves bytes every way they can go: pending ciphertext in, plaintext up, the layer
    /// above's output down, a close_notify after its last byte, records out.
    fn pump(&mut self, now: Instant) {
        // Plaintext taken up can make room for pending ciphertext, whose plaintext then
        // goes up in turn: two rounds cover it, as `pending_in` is at most one read.
        for _ in 0..2 {
            if !self.pending_in.is_empty() {
                let pending = std::mem::take(&mut self.pending_in);
                self.feed(&pending);
            }
            self.deliver(now);
        }
        if self.phase == Phase::Handshaking && !self.conn.is_handshaking() {
            self.phase = Phase::Open;
        }
        self.pull(now);
        if self.live() {
            match self.inner.state() {
                LayerState::Done(reason) => {
                    self.conn.send_close_notify();
                    self.phase = Phase::Closed(reason);
                }
                LayerState::Failed(reason) => self.phase = Phase::Failed(reason),
                LayerState::Open | LayerState::Closing(_) => {}
            }
        }
        self.flush_records();
    }

    /// Plaintext up, borrowed from rustls's buffer: only what the layer above takes is
    /// consumed.
    fn deliver(&mut self, now: Instant) {
        let Tls { conn, inner, .. } = self;
        let mut end = false;
        loop {
            let mut reader = conn.reader();
            match reader.fill_buf() {
                // The peer's close_notify, after all it sent.
                Ok([]) => {
                    end = true;
                    break;
                }
                Ok(plaintext) => {
                    let taken = inner.receive(now, plaintext);
                    reader.consume(taken);
                    if taken == 0 {
                        self.plaintext_waiting = true;
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.plaintext_waiting = false;
                    break;
                }
                // The TCP stream ended without a close_notify: a truncation in TLS's
                // terms, forgiven here as by most servers (an echo has nothing to protect
                // from it), so the layer above sees an ordinary end of stream.
                Err(_) => {
                    end = true;
                    break;
                }
            }
        }
        if end && !self.ended {
            self.ended = true;
            self.plaintext_waiting = false;
            self.inner.receive_end(now);
        }
    }

    /// The layer above's output into rustls, while few enough records wait to be sent.
    fn pull(&mut self, now: Instant) {
        while self.live() && self.out.len() - self.head < OUT_LIMIT {
            let plaintext = self.inner.transmit();
            if plaintext.is_empty() {
                break;
            }
            let written = self.conn.writer().write(plaintext).unwrap_or(0);
            if written == 0 {
                break;
            }
            self.inner.transmitted(now, written);
            self.flush_records();
        }
    }

    fn flush_records(&mut self) {
        if self.head == self.out.len() {
            self.out.clear();
            self.head = 0;
        }
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    /// rustls found an error: its alert (if any) is already queued; the connection closes
    /// once it is sent.
    fn broken(&mut self, error: &rustls::Error) {
        self.phase = Phase::Broken(CloseReason::Protocol(close_for(error)));
    }
}

/// A TLS error in a few words, with the alert that names it.
fn close_for(error: &rustls::Error) -> ProtocolClose {
    use rustls::Error as E;
    let (code, text) = match error {
        E::InvalidMessage(_) => (50, "not a TLS record (plain text on a TLS port?)"),
        E::AlertReceived(alert) => (u8::from(*alert), "the client sent an alert"),
        E::PeerIncompatible(_) => (40, "no protocol version or cipher suite in common"),
        E::NoApplicationProtocol => (120, "no application protocol (ALPN) in common"),
        E::DecryptError => (20, "a record failed to decrypt"),
        E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            (10, "an unexpected message")
        }
        E::PeerMisbehaved(_) => (47, "the client broke the protocol"),
        _ => (80, "a TLS error"),
    };
    ProtocolClose {
        layer: "tls",
        code: u16::from(code),
        text,
        graceful: false,
    }
}

impl<L: Layer> Layer for Tls<L> {
    fn receive_capacity(&self) -> usize {
        let open = self.inner.state() == LayerState::Open;
        if !self.live() || !open || self.ended || self.plaintext_waiting {
            return 0;
        }
        if !self.pending_in.is_empty() {
            return 0;
        }
        READ_CHUNK
    }

    fn receive(&mut self, now: Instant, bytes: &[u8]) -> usize {
        let take = bytes.len().min(self.receive_capacity());
        if take == 0 {
            return 0;
        }
        self.feed(&bytes[..take]);
        self.pump(now);
        take
    }

    fn receive_end(&mut self, now: Instant) {
        // Tell rustls the transport ended; its reader then reports the truncation (or the
        // clean close it already saw) once all plaintext is delivered.
        let _ = self.conn.read_tls(&mut &[][..]);
        self.pump(now);
        if !self.ended && !self.plaintext_waiting {
            self.ended = true;
            self.inner.receive_end(now);
            self.pump(now);
        }
    }

    fn receive_boundary(&mut self, now: Instant) {
        // TLS carries a byte stream: a boundary below means nothing to it or above it.
        let _ = now;
    }

    fn transmit(&self) -> &[u8] {
        &self.out[self.head..]
    }

    fn transmitted(&mut self, now: Instant, n: usize) {
        self.head = (self.head + n).min(self.out.len());
        self.pump(now);
    }

    fn close(&mut self, now: Instant, reason: CloseReason, leftover: Leftover) {
        self.inner.close(now, reason, leftover);
        self.pump(now);
    }

    fn state(&self) -> LayerState {
        let queued = self.head < self.out.len();
        match self.phase {
            Phase::Failed(reason) => LayerState::Failed(reason),
            Phase::Closed(reason) | Phase::Broken(reason) if queued => LayerState::Closing(reason),
            Phase::Closed(reason) | Phase::Broken(reason) => LayerState::Done(reason),
            Phase::Handshaking | Phase::Open => match self.inner.state() {
                // Done above is closing here until the close_notify is queued (the next
                // pump does it).
                LayerState::Done(reason) => LayerState::Closing(reason),
                other => other,
            },
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.inner.poll_event()
    }

    fn deadline(&self) -> Option<Instant> {
        let handshake = (self.phase == Phase::Handshaking).then_some(self.handshake_deadline);
        [handshake, self.inner.deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Handshaking && now >= self.handshake_deadline {
            self.phase = Phase::Failed(CloseReason::TimedOut(Timer::Handshake));
            return;
        }
        if self.inner.deadline().is_some_and(|at| at <= now) {
            self.inner.handle_timeout(now);
        }
        self.pump(now);
    }

    fn timers(&self, deadlines: &mut Deadlines) {
        self.inner.timers(deadlines);
        if self.phase == Phase::Handshaking {
            deadlines.set(Timer::Handshake, Some(self.handshake_deadline));
        }
    }

    fn held(&self) -> (usize, usize) {
        let (input, output) = self.inner.held();
        (
            input + self.pending_in.len(),
            output + self.out.len() - self.head,
        )
    }

    fn allocated(&self) -> usize {
        self.inner.allocated() + self.pending_in.capacity() + self.out.capacity()
    }

    fn view(&self) -> Option<EchoView<'_>> {
        self.inner.view()
    }
}
