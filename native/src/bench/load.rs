//! One load connection as a sans-IO state machine: what to send next, a byte-for-byte
//! check of what came back, and whether an owed echo has stalled. The event loop moves
//! bytes and reads the clock; this decides and verifies.

use std::collections::VecDeque;
use std::fmt;

use super::histogram::Histogram;
use super::pattern::{Pattern, HEADER};

/// How an echo went wrong. The first mismatch ends the connection: after it the stream is
/// out of step and every later byte would "mismatch" too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// Message `seq` came back with different bytes from `offset` on (a flipped or lost
    /// byte).
    Corrupted {
        /// The message being checked.
        seq: u64,
        /// The first differing byte within it.
        offset: usize,
    },
    /// Where message `expected` should start, message `got` (a later one) started:
    /// messages were lost or reordered.
    Skipped {
        /// The message due.
        expected: u64,
        /// The message that arrived.
        got: u64,
    },
    /// Where message `expected` should start, an earlier message `got` arrived again.
    Repeated {
        /// The message due.
        expected: u64,
        /// The message that arrived.
        got: u64,
    },
    /// Bytes arrived with no message in flight.
    Unsolicited,
    /// A WebSocket message came back holding `len` bytes, from message `seq` on, where
    /// each message was sent as one of `size`: the server split or joined messages.
    Boundary {
        /// The first message inside it.
        seq: u64,
        /// Its payload bytes.
        len: u64,
        /// Bytes per message sent.
        size: u64,
    },
    /// Message `seq` came back as a WebSocket message of the other type (`text`: it came
    /// back as text, sent as binary).
    Kind {
        /// The message.
        seq: u64,
        /// The type it came back as.
        text: bool,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Mismatch::Corrupted { seq, offset } => {
                write!(f, "message {seq} corrupted at byte {offset}")
            }
            Mismatch::Skipped { expected, got } => write!(
                f,
                "expected message {expected}, got {got}: {} lost or reordered",
                got - expected
            ),
            Mismatch::Repeated { expected, got } => {
                write!(
                    f,
                    "expected message {expected}, got {got} again: duplicated"
                )
            }
            Mismatch::Unsolicited => f.write_str("bytes arrived with no message in flight"),
            Mismatch::Boundary { seq, len, size } => write!(
                f,
                "message {seq} came back in a websocket message of {len} bytes, sent as one of {size}"
            ),
            Mismatch::Kind { seq, text } => {
                let (got, sent) = if text {
                    ("text", "binary")
                } else {
                    ("binary", "text")
                };
                write!(f, "message {seq} came back as a {got} message, sent as {sent}")
            }
        }
    }
}

/// The load side of one connection.
#[derive(Debug)]
pub struct LoadConn {
    id: u64,
    pattern: Pattern,
    /// Messages queued so far (the next one's sequence number).
    queued: u64,
    /// Messages fully echoed and verified.
    verified: u64,
    /// Bytes waiting to be written, from `out_head` on.
    out: Vec<u8>,
    out_head: usize,
    /// The message being verified, and how much of it matched so far.
    expect: Vec<u8>,
    expect_pos: usize,
    /// When each in-flight message was *meant* to be sent (ns on the run's clock): latency
    /// counts from there, so a late send cannot hide a slow server.
    intended: VecDeque<u64>,
    /// Last time the owed echo progressed (ns): a byte moved either way, or the connection
    /// began to owe one. What the stall timeout measures from.
    progress: u64,
}

/// Which completed echoes count in the results, and where their latencies go.
#[derive(Debug)]
pub struct Measure<'h> {
    /// Messages meant to be sent at or after this time (ns) are measured; earlier ones
    /// are warmup. No message is ever meant for after the window, so one bound does.
    pub from: u64,
    /// Latency of each measured message, from its intended send time.
    pub latency: &'h mut Histogram,
}

impl LoadConn {
    /// A connection with a run-unique `id`.
    pub fn new(id: u64, pattern: Pattern) -> Self {
        let mut expect = vec![0; pattern.size];
        pattern.fill(id, 0, &mut expect);
        LoadConn {
            id,
            pattern,
            queued: 0,
            verified: 0,
            out: Vec::new(),
            out_head: 0,
            expect,
            expect_pos: 0,
            intended: VecDeque::new(),
            progress: 0,
        }
    }

    /// Messages sent or queued and not yet echoed.
    pub fn in_flight(&self) -> usize {
        (self.queued - self.verified) as usize
    }

    /// Messages queued so far.
    pub fn queued(&self) -> u64 {
        self.queued
    }

    /// Messages echoed and verified.
    pub fn verified(&self) -> u64 {
        self.verified
    }

    /// Echoed bytes received and verified so far, the message under way included.
    pub fn echoed_bytes(&self) -> u64 {
        self.verified * self.pattern.size as u64 + self.expect_pos as u64
    }

    /// Queues the next message at `now` (ns), meant to be sent at `intended`. An open-loop
    /// message can be queued long after it was meant to go; its latency still counts from
    /// `intended`, but the stall clock of a connection that owed nothing starts now: the
    /// server cannot be late with an echo it has not been sent.
    pub fn queue(&mut self, intended: u64, now: u64) {
        if self.in_flight() == 0 {
            self.progress = now;
        }
        if self.out_head == self.out.len() {
            self.out.clear();
            self.out_head = 0;
        }
        let start = self.out.len();
        self.out.resize(start + self.pattern.size, 0);
        self.pattern
            .fill(self.id, self.queued, &mut self.out[start..]);
        self.queued += 1;
        self.intended.push_back(intended);
    }

    /// Bytes to write now.
    pub fn pending(&self) -> &[u8] {
        &self.out[self.out_head..]
    }

    /// Whether bytes wait to be written: the socket must report writability until they
    /// are gone.
    pub fn wants_write(&self) -> bool {
        self.out_head < self.out.len()
    }

    /// `n` bytes of [`pending`](Self::pending) were written at `now`. The server taking
    /// our bytes is progress too: a message of many megabytes is echoed only once the
    /// server has read all of it.
    pub fn wrote(&mut self, n: usize, now: u64) {
        self.taken(n);
        if n > 0 {
            self.moved(now);
        }
    }

    /// `n` bytes of [`pending`](Self::pending) were taken by a layer below (TLS,
    /// WebSocket framing), not yet by the server: no progress of the echo.
    pub fn taken(&mut self, n: usize) {
        self.out_head += n;
    }

    /// Bytes of this connection moved on the wire at `now`, either way (a TLS record, a
    /// WebSocket frame): progress, as a write or read of the load's own bytes is.
    pub fn moved(&mut self, now: u64) {
        self.progress = now;
    }

    /// A WebSocket message whose payload began with message `first` ended after `len`
    /// bytes, of type text or binary. Each message is sent as one WebSocket message, of
    /// the type `--line` chooses, so each must come back as one, of that type.
    pub fn message_end(&self, first: u64, len: u64, text: bool) -> Result<(), Mismatch> {
        let size = self.pattern.size as u64;
        if len != size {
            return Err(Mismatch::Boundary {
                seq: first,
                len,
                size,
            });
        }
        if text != self.pattern.line {
            return Err(Mismatch::Kind { seq: first, text });
        }
        Ok(())
    }

    /// Whether an echo is owed and nothing has moved for longer than `timeout` (ns).
    pub fn stalled(&self, now: u64, timeout: u64) -> bool {
        self.in_flight() > 0 && now.saturating_sub(self.progress) > timeout
    }

    /// Checks bytes received at `now` against what is owed. Returns how many measured
    /// messages they completed; each one's latency (from its intended send time to `now`)
    /// goes into `measure.latency`.
    pub fn received(
        &mut self,
        mut bytes: &[u8],
        now: u64,
        measure: &mut Measure<'_>,
    ) -> Result<u64, Mismatch> {
        let size = self.pattern.size;
        let mut measured = 0;
        if !bytes.is_empty() {
            self.progress = now;
        }
        while !bytes.is_empty() {
            if self.in_flight() == 0 {
                return Err(Mismatch::Unsolicited);
            }
            let want = (size - self.expect_pos).min(bytes.len());
            let (chunk, rest) = bytes.split_at(want);
            let expected = &self.expect[self.expect_pos..self.expect_pos + want];
            if chunk != expected {
                return Err(self.classify(chunk));
            }
            self.expect_pos += want;
            bytes = rest;
            if self.expect_pos == size {
                let sent = self
                    .intended
                    .pop_front()
                    .expect("invariant: one per in-flight");
                if sent >= measure.from {
                    measure.latency.record(now.saturating_sub(sent));
                    measured += 1;
                }
                self.verified += 1;
                self.expect_pos = 0;
                self.pattern.fill(self.id, self.verified, &mut self.expect);
            }
        }
        Ok(measured)
    }

    /// Names a mismatch from the received bytes of the current message.
    fn classify(&self, chunk: &[u8]) -> Mismatch {
        let mut message = self.expect[..self.expect_pos].to_vec();
        message.extend_from_slice(chunk);
        let offset = message
            .iter()
            .zip(&self.expect)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        let expected = self.verified;
        match self.pattern.header(&message) {
            Some(h) if offset < HEADER && h.conn == self.id && h.seq > expected => {
                Mismatch::Skipped {
                    expected,
                    got: h.seq,
                }
            }
            Some(h) if offset < HEADER && h.conn == self.id && h.seq < expected => {
                Mismatch::Repeated {
                    expected,
                    got: h.seq,
                }
            }
            _ => Mismatch::Corrupted {
                seq: expected,
                offset,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(id: u64, size: usize, line: bool) -> LoadConn {
        LoadConn::new(id, Pattern { size, line })
    }

    fn sent(conn: &mut LoadConn) -> Vec<u8> {
        let bytes = conn.pending().to_vec();
        conn.wrote(bytes.len(), 0);
        bytes
    }

    /// Checks `bytes` with every message measured, into a throwaway histogram.
    fn check(conn: &mut LoadConn, bytes: &[u8], now: u64) -> Result<u64, Mismatch> {
        let mut h = Histogram::default();
        conn.received(
            bytes,
            now,
            &mut Measure {
                from: 0,
                latency: &mut h,
            },
        )
    }

    #[test]
    fn an_exact_echo_in_any_split_verifies_and_records_latency() {
        let mut conn = conn(3, 40, true);
        for t in 0..5 {
            conn.queue(t * 10, t * 10);
        }
        let echo = sent(&mut conn);
        let mut h = Histogram::default();
        let mut measure = Measure {
            from: 0,
            latency: &mut h,
        };
        let mut measured = 0;
        for piece in echo.chunks(7) {
            measured += conn.received(piece, 100, &mut measure).unwrap();
        }
        assert_eq!(measured, 5);
        assert_eq!(conn.verified(), 5);
        assert_eq!(conn.in_flight(), 0);
        assert_eq!(h.len(), 5);
        assert_eq!(h.max(), 100);
    }

    #[test]
    fn only_messages_meant_for_the_measured_window_are_measured() {
        let mut conn = conn(3, 40, false);
        // Two warmup messages, then two meant for the window that starts at 1000.
        for intended in [900, 990, 1000, 1010] {
            conn.queue(intended, intended);
        }
        let echo = sent(&mut conn);
        let mut h = Histogram::default();
        let measured = conn
            .received(
                &echo,
                1100,
                &mut Measure {
                    from: 1000,
                    latency: &mut h,
                },
            )
            .unwrap();
        assert_eq!(measured, 2);
        assert_eq!(conn.verified(), 4);
        assert_eq!(h.len(), 2);
        assert_eq!(h.max(), 100, "latency from the intended send time");
    }

    #[test]
    fn a_message_queued_late_is_timed_from_its_intended_send_time() {
        let mut conn = conn(1, 16, false);
        // Meant for 1000, queued at 5000: the server saw it late, the user waited anyway.
        conn.queue(1_000, 5_000);
        let echo = sent(&mut conn);
        let mut h = Histogram::default();
        conn.received(
            &echo,
            5_100,
            &mut Measure {
                from: 0,
                latency: &mut h,
            },
        )
        .unwrap();
        assert_eq!(h.max(), 4_100);
    }

    #[test]
    fn the_stall_clock_of_an_idle_connection_starts_when_a_message_is_queued() {
        let timeout = 300;
        let mut conn = conn(1, 16, false);
        conn.queue(0, 0);
        let echo = sent(&mut conn);
        check(&mut conn, &echo, 10).unwrap();
        // Idle for far longer than the timeout: nothing is owed, so nothing is late.
        assert!(!conn.stalled(10_000, timeout));
        // A message queued now owes its echo from now, not from the last echo at 10.
        conn.queue(10_000, 10_000);
        assert!(!conn.stalled(10_001, timeout));
        assert!(!conn.stalled(10_000 + timeout, timeout));
        assert!(conn.stalled(10_001 + timeout, timeout));
    }

    #[test]
    fn bytes_moving_either_way_are_progress() {
        let timeout = 300;
        let mut conn = conn(1, 1000, false);
        conn.queue(0, 0);
        // The server takes the message slowly: each write restarts the clock.
        conn.wrote(400, 250);
        conn.wrote(600, 500);
        assert!(!conn.stalled(700, timeout));
        let echo: Vec<u8> = {
            let mut m = vec![0; 1000];
            Pattern {
                size: 1000,
                line: false,
            }
            .fill(1, 0, &mut m);
            m
        };
        check(&mut conn, &echo[..10], 750).unwrap();
        assert!(!conn.stalled(1_000, timeout));
        assert!(conn.stalled(1_051, timeout), "then nothing for 301");
        check(&mut conn, &echo[10..], 1_100).unwrap();
        assert!(!conn.stalled(u64::MAX, timeout), "nothing owed");
    }

    #[test]
    fn echoed_bytes_count_every_verified_byte_the_message_under_way_included() {
        let mut conn = conn(1, 64, false);
        conn.queue(0, 0);
        conn.queue(0, 0);
        let echo = sent(&mut conn);
        check(&mut conn, &echo[..64 + 10], 0).unwrap();
        assert_eq!(conn.echoed_bytes(), 74);
        assert_eq!(conn.in_flight(), 1, "the message under way is still owed");
    }

    #[test]
    fn unwritten_bytes_want_writability_until_written() {
        let mut conn = conn(1, 64, false);
        assert!(!conn.wants_write());
        conn.queue(0, 0);
        assert!(conn.wants_write());
        conn.wrote(10, 0);
        assert!(conn.wants_write());
        conn.wrote(54, 0);
        assert!(!conn.wants_write());
    }

    #[test]
    fn a_flipped_byte_is_corruption_at_its_offset() {
        let mut conn = conn(1, 64, false);
        conn.queue(0, 0);
        let mut echo = sent(&mut conn);
        echo[50] ^= 1;
        let err = check(&mut conn, &echo, 0).unwrap_err();
        assert_eq!(err, Mismatch::Corrupted { seq: 0, offset: 50 });
    }

    #[test]
    fn a_dropped_message_is_reported_as_skipped() {
        let mut conn = conn(1, 32, false);
        conn.queue(0, 0);
        conn.queue(0, 0);
        let echo = sent(&mut conn);
        let err = check(&mut conn, &echo[32..], 0).unwrap_err();
        assert_eq!(
            err,
            Mismatch::Skipped {
                expected: 0,
                got: 1
            }
        );
    }

    #[test]
    fn a_repeated_message_is_reported_as_repeated() {
        let mut conn = conn(1, 32, false);
        conn.queue(0, 0);
        conn.queue(0, 0);
        let echo = sent(&mut conn);
        check(&mut conn, &echo[..32], 0).unwrap();
        let err = check(&mut conn, &echo[..32], 0).unwrap_err();
        assert_eq!(
            err,
            Mismatch::Repeated {
                expected: 1,
                got: 0
            }
        );
    }

    #[test]
    fn a_websocket_message_must_hold_one_message_of_its_type() {
        let conn = conn(1, 64, true);
        assert_eq!(conn.message_end(3, 64, true), Ok(()));
        let joined = conn.message_end(3, 128, true).unwrap_err();
        assert_eq!(
            joined.to_string(),
            "message 3 came back in a websocket message of 128 bytes, sent as one of 64"
        );
        let kind = conn.message_end(3, 64, false).unwrap_err();
        assert_eq!(
            kind.to_string(),
            "message 3 came back as a binary message, sent as text"
        );
    }

    #[test]
    fn bytes_with_nothing_in_flight_are_unsolicited() {
        let mut conn = conn(1, 8, false);
        assert_eq!(check(&mut conn, b"x", 0), Err(Mismatch::Unsolicited));
    }
}
