//! The small pieces of frame work tungstenite leaves to its caller when it does not own
//! the stream: unmasking a payload as it arrives, checking UTF-8 across frame and read
//! boundaries, and writing a server frame (header from tungstenite, payload as is).

use tungstenite::protocol::frame::coding::{CloseCode, OpCode};
use tungstenite::protocol::frame::FrameHeader;

/// Most payload bytes of a control frame (RFC 6455 §5.5).
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;

/// Most bytes of a close frame's reason: a control payload less the two-byte code.
pub(crate) const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

/// Appends `masked` to `out` unmasked with `key`, the first byte being byte `offset` of
/// its frame's payload. Hand-written: tungstenite's `apply_mask` is private to the crate,
/// and it is one XOR per byte.
pub(crate) fn unmask_into(masked: &[u8], key: [u8; 4], offset: u64, out: &mut Vec<u8>) {
    out.reserve(masked.len());
    let start = (offset % 4) as usize;
    out.extend(
        masked
            .iter()
            .zip(key.iter().cycle().skip(start))
            .map(|(byte, k)| byte ^ k),
    );
}

/// Appends an unmasked server frame header for a payload of `len` bytes.
pub(crate) fn header(opcode: OpCode, fin: bool, len: usize, out: &mut Vec<u8>) {
    let header = FrameHeader {
        is_final: fin,
        opcode,
        mask: None,
        ..FrameHeader::default()
    };
    header
        .format(len as u64, out)
        .expect("invariant: writing a frame header into memory cannot fail");
}

/// Appends a whole unmasked frame.
pub(crate) fn frame(opcode: OpCode, payload: &[u8], out: &mut Vec<u8>) {
    header(opcode, true, payload.len(), out);
    out.extend_from_slice(payload);
}

/// Whether a peer may send this close code (RFC 6455 §7.4; 1005, 1006 and 1015 are only
/// for reporting, never sent).
pub(crate) fn close_code_allowed(code: u16) -> bool {
    CloseCode::from(code).is_allowed()
}

/// How much of `bytes` (a text message's payload so far, from `from` on not yet checked)
/// is known to be whole, valid UTF-8 characters: `Ok(n)` with the rest being the start of
/// a character still arriving (at most 3 bytes), or `Err(n)` when it cannot be UTF-8
/// whatever follows, `n` bytes being valid before the first bad one.
pub(crate) fn utf8_prefix(bytes: &[u8], from: usize) -> Result<usize, usize> {
    match std::str::from_utf8(&bytes[from..]) {
        Ok(_) => Ok(bytes.len()),
        Err(e) if e.error_len().is_none() => Ok(from + e.valid_up_to()),
        Err(e) => Err(from + e.valid_up_to()),
    }
}

/// The largest `n <= limit` that ends on a character boundary of valid UTF-8 `text`.
pub(crate) fn char_boundary(text: &[u8], limit: usize) -> usize {
    let mut n = limit.min(text.len());
    // A continuation byte is 0b10xx_xxxx: the boundary is before its lead byte.
    while n > 0 && n < text.len() && text[n] & 0xC0 == 0x80 {
        n -= 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmasking_follows_the_payload_offset() {
        let key = [1, 2, 3, 4];
        let plain = b"hello, world";
        let masked: Vec<u8> = plain
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        let mut out = Vec::new();
        for (i, piece) in masked.chunks(5).enumerate() {
            unmask_into(piece, key, (i * 5) as u64, &mut out);
        }
        assert_eq!(out, plain);
    }

    #[test]
    fn utf8_is_checked_across_pieces() {
        let e_acute = "é".as_bytes();
        assert_eq!(utf8_prefix(&[b'a', e_acute[0]], 0), Ok(1));
        assert_eq!(utf8_prefix(&[b'a', e_acute[0], e_acute[1]], 1), Ok(3));
        assert_eq!(utf8_prefix(&[b'a', 0xFF], 0), Err(1));
        assert_eq!(utf8_prefix(&[0xC3, b'a'], 0), Err(0));
        let text = "aé€".as_bytes();
        assert_eq!(char_boundary(text, 2), 1);
        assert_eq!(char_boundary(text, 3), 3);
        assert_eq!(char_boundary(text, 5), 3);
        assert_eq!(char_boundary(text, 99), text.len());
    }

    #[test]
    fn close_codes_that_may_not_be_sent_are_refused() {
        for ok in [1000, 1001, 1003, 1007, 1011, 3000, 4999] {
            assert!(close_code_allowed(ok), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert!(!close_code_allowed(bad), "{bad}");
        }
    }
}
