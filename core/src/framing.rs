//! Cutting a byte stream into lines.

/// Position of the first `\n` in `bytes`.
#[inline]
pub(crate) fn find_newline(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', bytes)
}

/// Position just past the last `\n` in `bytes` (0 when there is none): where the partial
/// line begins.
#[inline]
pub(crate) fn partial_start(bytes: &[u8]) -> usize {
    memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1)
}

/// Splits a line into its content and its terminator: `\r\n`, `\n`, or nothing for a
/// trailing partial line. The terminator is echoed exactly as it was received.
#[inline]
pub(crate) fn split_terminator(line: &[u8]) -> (&[u8], &[u8]) {
    let cut = match line {
        [.., b'\r', b'\n'] => line.len() - 2,
        [.., b'\n'] => line.len() - 1,
        _ => line.len(),
    };
    line.split_at(cut)
}

/// Appends one echoed frame, `prefix + content + suffix + terminator`, to `out`: the one
/// place a frame is wrapped, for lines, raw chunks, collections and datagrams alike.
#[inline]
pub(crate) fn wrap(
    out: &mut Vec<u8>,
    prefix: &[u8],
    content: &[u8],
    suffix: &[u8],
    terminator: &[u8],
) {
    out.reserve(prefix.len() + content.len() + suffix.len() + terminator.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(content);
    out.extend_from_slice(suffix);
    out.extend_from_slice(terminator);
}

/// Whether a partial line (no `\n` yet) is already longer than `max_line` allows. One
/// extra byte is allowed when it is `\r`: it may turn out to be half of a `\r\n`.
#[inline]
pub(crate) fn partial_too_long(partial: &[u8], max_line: usize) -> bool {
    partial.len() > max_line + usize::from(partial.last() == Some(&b'\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminators_are_split_off_exactly_as_received() {
        assert_eq!(split_terminator(b"hi\r\n"), (&b"hi"[..], &b"\r\n"[..]));
        assert_eq!(split_terminator(b"hi\n"), (&b"hi"[..], &b"\n"[..]));
        assert_eq!(split_terminator(b"hi"), (&b"hi"[..], &b""[..]));
        assert_eq!(split_terminator(b"\r"), (&b"\r"[..], &b""[..]));
        assert_eq!(split_terminator(b"\n"), (&b""[..], &b"\n"[..]));
    }

    #[test]
    fn a_trailing_cr_may_be_half_a_terminator() {
        assert!(!partial_too_long(b"abc", 3));
        assert!(!partial_too_long(b"abc\r", 3));
        assert!(partial_too_long(b"abcd", 3));
        assert!(partial_too_long(b"abc\rx", 3));
    }
}
