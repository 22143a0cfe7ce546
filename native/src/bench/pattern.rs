//! The bytes of every message: a pure function of (connection, sequence), so the echo can
//! be checked byte for byte without keeping a copy of what was sent.
//!
//! A message is printable: a 14-character header (connection id in 6 base-64 digits,
//! sequence number in 8) and filler from a small PRNG seeded by both. With `--line` the
//! last byte is `\n`, the only newline in it. A message too short for the header is all
//! filler: any dropped, shifted or flipped byte still shows, only the diagnosis is vaguer.

/// The 64 printable symbols a message is made of: no newline, no carriage return, no
/// space, so a line-mode server sees exactly one line per message.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Header length: 6 digits of connection id (36 bits) and 8 of sequence number (48 bits).
pub(crate) const HEADER: usize = 14;
const CONN_DIGITS: usize = 6;
const SEQ_DIGITS: usize = 8;

/// How messages of one run look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern {
    /// Bytes per message.
    pub size: usize,
    /// Whether each message ends in `\n` (for line-mode servers).
    pub line: bool,
}

/// What a received message's header says, when it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) conn: u64,
    pub(crate) seq: u64,
}

impl Pattern {
    /// Writes message `seq` of connection `conn` into `out` (`out.len()` must be `size`).
    pub(crate) fn fill(&self, conn: u64, seq: u64, out: &mut [u8]) {
        debug_assert_eq!(out.len(), self.size);
        let head = if self.has_header() { HEADER } else { 0 };
        if head > 0 {
            encode(conn, &mut out[..CONN_DIGITS]);
            encode(seq, &mut out[CONN_DIGITS..CONN_DIGITS + SEQ_DIGITS]);
        }
        let mut state = seed(conn, seq);
        for chunk in out[head..].chunks_mut(8) {
            state = xorshift(state);
            for (i, b) in chunk.iter_mut().enumerate() {
                *b = ALPHABET[((state >> (i * 6)) & 63) as usize];
            }
        }
        if self.line {
            out[self.size - 1] = b'\n';
        }
    }

    fn has_header(&self) -> bool {
        self.size - usize::from(self.line) >= HEADER
    }

    /// Reads the header of a received message, if it is long enough and well-formed.
    pub(crate) fn header(&self, message: &[u8]) -> Option<Header> {
        if !self.has_header() || message.len() < HEADER {
            return None;
        }
        Some(Header {
            conn: decode(&message[..CONN_DIGITS])?,
            seq: decode(&message[CONN_DIGITS..HEADER])?,
        })
    }
}

fn encode(mut value: u64, digits: &mut [u8]) {
    for d in digits.iter_mut().rev() {
        *d = ALPHABET[(value & 63) as usize];
        value >>= 6;
    }
}

fn decode(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        let v = ALPHABET.iter().position(|&a| a == d)?;
        Some(acc << 6 | v as u64)
    })
}

fn seed(conn: u64, seq: u64) -> u64 {
    // Any odd multipliers do; these are splitmix64's. Never zero: xorshift would stick.
    (conn.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seq.wrapping_mul(0xBF58_476D_1CE4_E5B9)) | 1
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(p: Pattern, conn: u64, seq: u64) -> Vec<u8> {
        let mut m = vec![0; p.size];
        p.fill(conn, seq, &mut m);
        m
    }

    #[test]
    fn line_messages_have_exactly_one_newline_at_the_end() {
        let p = Pattern {
            size: 64,
            line: true,
        };
        for seq in 0..100 {
            let m = message(p, 7, seq);
            assert_eq!(m.iter().filter(|&&b| b == b'\n').count(), 1);
            assert_eq!(m.last(), Some(&b'\n'));
            assert!(m.iter().all(|&b| b != b'\r'));
        }
    }

    #[test]
    fn the_header_names_connection_and_sequence() {
        let p = Pattern {
            size: 32,
            line: false,
        };
        let m = message(p, 123_456, 987_654_321);
        assert_eq!(
            p.header(&m),
            Some(Header {
                conn: 123_456,
                seq: 987_654_321
            })
        );
    }

    #[test]
    fn messages_differ_between_sequences_and_connections() {
        for size in [1, 2, 8, 14, 15, 64, 1024] {
            let p = Pattern { size, line: false };
            let a = message(p, 1, 1);
            assert_ne!(a, message(p, 1, 2), "size {size}");
            if size > 5 {
                assert_ne!(a, message(p, 2, 1), "size {size}");
            }
        }
    }
}
