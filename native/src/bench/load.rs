//! One load connection as a sans-IO state machine: what to send next, and a byte-for-byte
//! check of what came back. The event loop moves bytes; this decides and verifies.

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

    /// Queues the next message, meant to be sent at `intended` (ns).
    pub fn queue(&mut self, intended: u64) {
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

    /// `n` bytes of [`pending`](Self::pending) were written.
    pub fn wrote(&mut self, n: usize) {
        self.out_head += n;
    }

    /// Checks received bytes against what is owed; each completed message's latency
    /// (from its intended send time to `now`) goes into `latency` when given.
    pub fn received(
        &mut self,
        mut bytes: &[u8],
        now: u64,
        mut latency: Option<&mut Histogram>,
    ) -> Result<(), Mismatch> {
        let size = self.pattern.size;
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
                if let Some(h) = latency.as_deref_mut() {
                    h.record(now.saturating_sub(sent));
                }
                self.verified += 1;
                self.expect_pos = 0;
                self.pattern.fill(self.id, self.verified, &mut self.expect);
            }
        }
        Ok(())
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
        conn.wrote(bytes.len());
        bytes
    }

    #[test]
    fn an_exact_echo_in_any_split_verifies_and_records_latency() {
        let mut conn = conn(3, 40, true);
        for t in 0..5 {
            conn.queue(t * 10);
        }
        let echo = sent(&mut conn);
        let mut h = Histogram::default();
        for piece in echo.chunks(7) {
            conn.received(piece, 100, Some(&mut h)).unwrap();
        }
        assert_eq!(conn.verified(), 5);
        assert_eq!(conn.in_flight(), 0);
        assert_eq!(h.len(), 5);
        assert_eq!(h.max(), 100);
    }

    #[test]
    fn a_flipped_byte_is_corruption_at_its_offset() {
        let mut conn = conn(1, 64, false);
        conn.queue(0);
        let mut echo = sent(&mut conn);
        echo[50] ^= 1;
        let err = conn.received(&echo, 0, None).unwrap_err();
        assert_eq!(err, Mismatch::Corrupted { seq: 0, offset: 50 });
    }

    #[test]
    fn a_dropped_message_is_reported_as_skipped() {
        let mut conn = conn(1, 32, false);
        conn.queue(0);
        conn.queue(0);
        let echo = sent(&mut conn);
        let err = conn.received(&echo[32..], 0, None).unwrap_err();
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
        conn.queue(0);
        conn.queue(0);
        let echo = sent(&mut conn);
        conn.received(&echo[..32], 0, None).unwrap();
        let err = conn.received(&echo[..32], 0, None).unwrap_err();
        assert_eq!(
            err,
            Mismatch::Repeated {
                expected: 1,
                got: 0
            }
        );
    }

    #[test]
    fn bytes_with_nothing_in_flight_are_unsolicited() {
        let mut conn = conn(1, 8, false);
        assert_eq!(conn.received(b"x", 0, None), Err(Mismatch::Unsolicited));
    }
}
