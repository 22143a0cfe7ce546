//! The chunked transfer coding (RFC 9112 §7.1), decoded as the bytes come: where a
//! chunked body ends, how large it is, and (for the JSON answer) its data.
//!
//! Written here rather than taken from httparse, whose `parse_chunk_size` reads one size
//! line at a time from a whole buffer: a body arrives in reads cut anywhere, and its
//! framing must be counted against a limit as it comes, so one byte-wise state machine
//! for the framing (data goes through in runs) is simpler than re-parsing lines. Line
//! ends are strict `\r\n`: a bare `\n` in chunk framing is how request smuggling
//! through a lenient proxy begins, and is refused.

use crate::request::Refusal;

/// Where the decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In a chunk-size line's hex digits.
    Size,
    /// After the size: extensions (ignored) up to the line's end.
    Extension,
    /// After the size line's `\r`.
    SizeLf,
    /// In a chunk's data: bytes left.
    Data(usize),
    /// After a chunk's data: its `\r\n`.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// In a trailer field line.
    TrailerLine,
    /// After a trailer line's `\r`.
    TrailerLf,
    /// After the final empty line's `\r`.
    EndLf,
    /// The body ended.
    Done,
}

/// A chunked body being read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunked {
    state: State,
    /// The current chunk's size so far, and whether it has a digit.
    size: usize,
    digits: bool,
    /// Data bytes so far.
    pub(crate) body: usize,
    /// Framing bytes so far (size lines, data line ends, trailers).
    framing: usize,
    /// Wire bytes read so far.
    pub(crate) read: usize,
    /// Where the trailer section starts, in wire bytes from the body's start.
    pub(crate) trailers_at: usize,
}

fn malformed() -> Refusal {
    Refusal::new(400, "malformed chunked body")
}

impl Chunked {
    pub(crate) fn new() -> Self {
        Chunked {
            state: State::Size,
            size: 0,
            digits: false,
            body: 0,
            framing: 0,
            read: 0,
            trailers_at: 0,
        }
    }

    /// Reads `wire` (the bytes after those read so far), appending data to `data` when
    /// given. Returns whether the body ended (then `read` says where); an error is the
    /// answer to give.
    pub(crate) fn advance(
        &mut self,
        wire: &[u8],
        mut data: Option<&mut Vec<u8>>,
        max_body: usize,
        max_framing: usize,
    ) -> Result<bool, Refusal> {
        let mut at = 0;
        while at < wire.len() {
            if let State::Data(left) = self.state {
                let n = left.min(wire.len() - at);
                if let Some(data) = data.as_deref_mut() {
                    data.extend_from_slice(&wire[at..at + n]);
                }
                at += n;
                self.state = if n == left {
                    State::DataCr
                } else {
                    State::Data(left - n)
                };
                continue;
            }
            let byte = wire[at];
            at += 1;
            self.framing += 1;
            if self.framing > max_framing {
                self.read += at;
                return Err(Refusal::new(413, "chunked framing over the size limit"));
            }
            self.state = match (self.state, byte) {
                (State::Size, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
                    let digit = (byte as char).to_digit(16).unwrap_or(0) as usize;
                    self.size = self
                        .size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(digit))
                        .filter(|&s| self.body.saturating_add(s) <= max_body)
                        .ok_or(Refusal::new(413, "a body over the size limit"))?;
                    self.digits = true;
                    State::Size
                }
                (State::Size, b';' | b' ' | b'\t') if self.digits => State::Extension,
                (State::Size, b'\r') if self.digits => State::SizeLf,
                (State::Extension, b'\r') => State::SizeLf,
                (State::Extension, b'\n') => return Err(malformed()),
                (State::Extension, _) => State::Extension,
                (State::SizeLf, b'\n') if self.size == 0 => {
                    self.trailers_at = self.read + at;
                    State::TrailerStart
                }
                (State::SizeLf, b'\n') => {
                    self.body += self.size;
                    let size = self.size;
                    self.size = 0;
                    self.digits = false;
                    State::Data(size)
                }
                (State::DataCr, b'\r') => State::DataLf,
                (State::DataLf, b'\n') => State::Size,
                (State::TrailerStart, b'\r') => State::EndLf,
                (State::TrailerStart | State::TrailerLine, b'\n') => return Err(malformed()),
                (State::TrailerLine, b'\r') => State::TrailerLf,
                (State::TrailerStart | State::TrailerLine, _) => State::TrailerLine,
                (State::TrailerLf, b'\n') => State::TrailerStart,
                (State::EndLf, b'\n') => {
                    self.read += at;
                    self.state = State::Done;
                    return Ok(true);
                }
                _ => return Err(malformed()),
            };
        }
        self.read += at;
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` fed in pieces of `step` bytes.
    fn decode(wire: &[u8], step: usize) -> Result<(Vec<u8>, usize), u16> {
        let mut chunked = Chunked::new();
        let mut data = Vec::new();
        let mut at = 0;
        while at < wire.len() {
            let end = (at + step).min(wire.len());
            let done = chunked
                .advance(&wire[at..end], Some(&mut data), 1000, 200)
                .map_err(|r| r.status)?;
            at = chunked.read;
            if done {
                return Ok((data, chunked.read));
            }
        }
        Err(0)
    }

    #[test]
    fn a_chunked_body_decodes_the_same_whatever_the_reads() {
        let wire = b"5;name=value\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: yes\r\n\r\nNEXT";
        for step in 1..wire.len() {
            let (data, read) = decode(wire, step).unwrap();
            assert_eq!(data, b"hello, world!!!");
            assert_eq!(read, wire.len() - 4, "ends before what follows it");
        }
        let mut chunked = Chunked::new();
        assert!(chunked.advance(b"0\r\n\r\n", None, 0, 10).unwrap());
        assert_eq!(chunked.trailers_at, 3);
    }

    #[test]
    fn bad_framing_and_limits_are_refused() {
        assert_eq!(decode(b"5\r\nhelloX\r\n0\r\n\r\n", 64), Err(400));
        assert_eq!(decode(b"5\nhello\r\n0\r\n\r\n", 64), Err(400));
        assert_eq!(decode(b"\r\n", 64), Err(400));
        assert_eq!(decode(b"g\r\n", 64), Err(400));
        assert_eq!(decode(b"0\r\nX: y\n\r\n", 64), Err(400));
        assert_eq!(decode(b"3E9\r\n", 64), Err(413), "1001 bytes over 1000");
        assert_eq!(decode(b"FFFFFFFFFFFFFFFFFFFF\r\n", 64), Err(413));
        let framing = format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(200));
        assert_eq!(decode(framing.as_bytes(), 64), Err(413));
        assert_eq!(
            decode(b"3E8\r\n", 64),
            Err(0),
            "1000 bytes are allowed: incomplete"
        );
    }
}
