//! A reference model: the echo a connection owes its peer, computed from the whole input
//! at once, with none of the core's buffering, backpressure or incremental parsing.

use reverb_core::{CloseReason, Config, Framing, PeerError};

/// What the peer receives and why the connection ends, for a client that sends `input`
/// and then closes its side, reading everything.
///
/// Covers configurations whose meaning does not depend on how the stream is cut: `line`
/// and `collect` framing with any words and limits, and `raw` framing without prefix,
/// suffix or frame limit. With a fault word the model's bytes are an upper bound: a
/// fault drops whatever was not yet written, and how much that is depends on timing.
pub fn echo(config: &Config, input: &[u8]) -> (Vec<u8>, CloseReason) {
    let echo = &config.echo;
    match echo.framing {
        Framing::Raw => {
            assert!(
                echo.prefix.is_empty() && echo.suffix.is_empty() && echo.max_frames.is_none(),
                "raw framing with affixes or a frame limit depends on chunking"
            );
            (input.to_vec(), CloseReason::PeerClosed)
        }
        Framing::Line | Framing::Collect => lines(config, input),
    }
}

fn lines(config: &Config, input: &[u8]) -> (Vec<u8>, CloseReason) {
    let config = &config.echo;
    let collect = config.framing == Framing::Collect;
    let mut out = Vec::new();
    let mut held = Vec::new();
    let mut frames = 0u64;
    let mut rest = input;
    while !rest.is_empty() {
        let (line, tail) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => rest.split_at(i + 1),
            None => (rest, &[][..]),
        };
        rest = tail;
        let (content, terminator) = if let Some(c) = line.strip_suffix(b"\r\n") {
            (c, &b"\r\n"[..])
        } else if let Some(c) = line.strip_suffix(b"\n") {
            (c, &b"\n"[..])
        } else {
            (line, &b""[..])
        };
        if content.len() > config.max_line {
            let error = PeerError::LineTooLong {
                limit: config.max_line,
            };
            out.extend_from_slice(format!("error: {error}\n").as_bytes());
            return (out, CloseReason::PeerError(error));
        }
        if config.fault_word.as_deref() == Some(content) {
            return (out, CloseReason::PeerError(PeerError::FaultInjected));
        }
        let quit = config.quit_word.as_deref() == Some(content);
        if quit && !collect {
            return (out, CloseReason::Quit);
        }
        let mut frame = config.prefix.clone();
        frame.extend_from_slice(content);
        frame.extend_from_slice(&config.suffix);
        frame.extend_from_slice(terminator);
        if collect {
            if held.len() + frame.len() > config.max_collect {
                let error = PeerError::CollectTooLarge {
                    limit: config.max_collect,
                };
                out.extend_from_slice(format!("error: {error}\n").as_bytes());
                return (out, CloseReason::PeerError(error));
            }
            held.extend_from_slice(&frame);
            if quit {
                out.append(&mut held);
                return (out, CloseReason::Collected);
            }
        } else {
            out.extend_from_slice(&frame);
            frames += 1;
            if config.max_frames == Some(frames) {
                return (out, CloseReason::FrameLimit);
            }
        }
    }
    out.append(&mut held);
    (out, CloseReason::PeerClosed)
}
