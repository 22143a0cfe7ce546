//! Message boundaries: what a message-framed protocol below (WebSocket) tells the echo,
//! through the `Layer` trait. A message's end ends an unfinished line, so a client
//! sending `hello` in one message gets its echo without having to send a newline.

use reverb_core::{CloseReason, Config, Echo, EchoConfig, Framing, Instant, Layer, LayerState};

/// The echo as the layer below it sees it: messages in, everything sent out at once
/// unless `reading` is off.
struct Below {
    echo: Echo,
    out: Vec<u8>,
    reading: bool,
}

impl Below {
    fn new(config: EchoConfig) -> Self {
        let config = Config {
            echo: config,
            ..Config::default()
        }
        .validate()
        .unwrap();
        Below {
            echo: Echo::new(config, Instant::ZERO),
            out: Vec::new(),
            reading: true,
        }
    }

    /// One message: its bytes as the echo takes them, then its boundary.
    fn message(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let taken = self.echo.receive(Instant::ZERO, bytes);
            bytes = &bytes[taken..];
            if taken == 0 {
                assert!(self.reading, "the echo is full and nobody reads");
                self.drain();
            }
        }
        self.echo.receive_boundary(Instant::ZERO);
        if self.reading {
            self.drain();
        }
    }

    fn drain(&mut self) {
        loop {
            let n = self.echo.transmit().len();
            if n == 0 {
                return;
            }
            self.out.extend_from_slice(self.echo.transmit());
            self.echo.transmitted(Instant::ZERO, n);
        }
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.out).unwrap()
    }
}

#[test]
fn a_message_ends_its_unfinished_line() {
    let mut below = Below::new(EchoConfig {
        prefix: b"[".to_vec(),
        suffix: b"]".to_vec(),
        ..EchoConfig::default()
    });
    below.message(b"hello");
    assert_eq!(below.text(), "[hello]");
    below.message(b"two\nlines");
    assert_eq!(below.text(), "[hello][two]\n[lines]");
    below.message(b"ends in a newline\n");
    assert_eq!(below.text(), "[hello][two]\n[lines][ends in a newline]\n");
}

#[test]
fn a_quit_word_alone_in_a_message_closes() {
    let mut below = Below::new(EchoConfig::default());
    below.message(b"bye");
    below.message(b"quit");
    assert_eq!(below.text(), "bye");
    assert_eq!(below.echo.state(), LayerState::Done(CloseReason::Quit));
}

#[test]
fn a_boundary_behind_held_lines_waits_for_them() {
    let mut below = Below::new(EchoConfig {
        high_watermark: 64,
        low_watermark: 16,
        quit_word: None,
        ..EchoConfig::default()
    });
    below.reading = false;
    let mut payload = b"0123456789\n".repeat(20);
    payload.extend_from_slice(b"tail");
    // The echo takes all of it (it fits its input buffer) and pauses with lines held.
    assert_eq!(below.echo.receive(Instant::ZERO, &payload), payload.len());
    assert_eq!(below.echo.receive_capacity(), 0, "paused");
    below.echo.receive_boundary(Instant::ZERO);
    below.drain();
    assert!(
        below.out == payload,
        "every line, then the tail the message ended"
    );
}

#[test]
fn raw_framing_and_collect_keep_their_own_meaning() {
    let mut raw = Below::new(EchoConfig {
        framing: Framing::Raw,
        ..EchoConfig::default()
    });
    raw.message(b"as it is");
    assert_eq!(raw.text(), "as it is");
    let mut collect = Below::new(EchoConfig {
        framing: Framing::Collect,
        ..EchoConfig::default()
    });
    collect.message(b"first");
    collect.message(b"second\n");
    assert_eq!(collect.text(), "", "held until the quit word");
    collect.message(b"quit");
    assert_eq!(collect.text(), "firstsecond\nquit");
}
