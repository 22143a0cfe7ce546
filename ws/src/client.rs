//! The client side, for `reverb client` and `reverb bench` against `ws://` and `wss://`
//! servers: [`ClientWs`], one WebSocket client connection as bytes in and bytes out, so
//! any event loop can drive it (over a socket, or inside a TLS client session).
//!
//! tungstenite does the HTTP and header work, as for the server: `generate_request`
//! writes the upgrade request (with a random `Sec-WebSocket-Key`), `Response::try_parse`
//! (httparse) reads the answer, `derive_accept_key` gives the `Sec-WebSocket-Accept` to
//! expect, `FrameHeader` parses the server's frame headers and formats ours. Its
//! stream-owning `WebSocket` is not used, for the reason the server layer gives: it holds
//! each message whole, where a load generator checks a message's payload as it arrives
//! (a 16 MiB message is never held) and straight from the read buffer, with no copy.
//!
//! What this writes by hand: masking (tungstenite's is private to it), and the frame
//! sequence rules a client checks (no masked server frame, no reserved bit, control
//! frames whole and short, continuations only inside a message). A text message's UTF-8
//! is not checked here: `reverb bench` compares every byte with what it sent (ASCII), and
//! `reverb client` prints the bytes as they came.

use std::io::Cursor;

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::{generate_request, Response};
use tungstenite::handshake::derive_accept_key;
use tungstenite::handshake::machine::TryParse;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

use crate::frames::{MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD};
use crate::handshake::MAX_REQUEST;

/// The longest frame header: 2 bytes, 8 of length, 4 of mask.
const MAX_HEADER: usize = 14;

/// Why a WebSocket client connection failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientWsError {
    /// The URL cannot make an upgrade request.
    #[error("{0}")]
    Url(String),
    /// The server answered the upgrade with another status than 101.
    #[error("the server refused the upgrade: HTTP {status} {reason}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// The server's answer to the upgrade is not a valid WebSocket handshake.
    #[error("bad upgrade response: {0}")]
    Handshake(String),
    /// A frame from the server breaks RFC 6455.
    #[error("{0}")]
    Protocol(&'static str),
}

/// What the server's bytes said, one thing at a time.
#[derive(Debug, PartialEq, Eq)]
pub enum WsEvent<'a> {
    /// The server accepted the upgrade: messages may flow.
    Open,
    /// Payload of the current data message, in order, straight from the input.
    Data(&'a [u8]),
    /// The current data message ended: its type and its length in bytes.
    End {
        /// A text message (else binary).
        text: bool,
        /// Payload bytes in the whole message.
        len: u64,
    },
    /// The server's close frame, with its code if it gave one. The answering close frame
    /// is queued, unless ours went first.
    Close {
        /// The close code.
        code: Option<u16>,
        /// The reason, as sent (lossy UTF-8).
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The upgrade request is sent or queued; reading the answer.
    Handshaking,
    Open,
    /// The server's close frame came: nothing more is read.
    Closed,
    /// A protocol error: nothing more is read.
    Failed,
}

/// The frame being read.
#[derive(Debug, Clone, Copy)]
struct InFrame {
    /// `None`: a data frame (of the message under way).
    control: Option<Control>,
    fin: bool,
    remaining: u64,
}

/// The data message being read.
#[derive(Debug, Clone, Copy)]
struct InMessage {
    text: bool,
    len: u64,
}

/// One WebSocket client connection, bytes in and bytes out.
///
/// Write [`transmit`](Self::transmit) to the socket (the upgrade request is there from
/// the start) and report it with [`transmitted`](Self::transmitted); feed what the socket
/// read to [`receive`](Self::receive) until it returns `Ok(None)`. Messages handed to
/// [`send`](Self::send) before the server's `101` wait for it (RFC 6455 §4.1).
#[derive(Debug)]
pub struct ClientWs {
    state: State,
    /// The `Sec-WebSocket-Accept` the server must answer with.
    accept: String,
    /// Bytes to write, from `head` on.
    out: Vec<u8>,
    head: usize,
    /// Frames sent before the upgrade was accepted.
    held: Vec<u8>,
    /// An incomplete upgrade response or frame header, waiting for the rest.
    partial: Vec<u8>,
    frame: Option<InFrame>,
    message: Option<InMessage>,
    /// A data message that ended, to report on the next call.
    ended: Option<InMessage>,
    /// The payload of the control frame being read.
    control: Vec<u8>,
    /// Our close frame is queued.
    close_sent: bool,
}

impl ClientWs {
    /// A client for `url` (`ws://HOST:PORT/PATH` or `wss://…`: the `Host` header and the
    /// path come from it); its upgrade request is ready in [`transmit`](Self::transmit).
    pub fn new(url: &str) -> Result<Self, ClientWsError> {
        let request = url
            .into_client_request()
            .map_err(|e| ClientWsError::Url(format!("{url}: {e}")))?;
        let (bytes, key) =
            generate_request(request).map_err(|e| ClientWsError::Url(format!("{url}: {e}")))?;
        Ok(ClientWs {
            state: State::Handshaking,
            accept: derive_accept_key(key.as_bytes()),
            out: bytes,
            head: 0,
            held: Vec::new(),
            partial: Vec::new(),
            frame: None,
            message: None,
            ended: None,
            control: Vec::new(),
            close_sent: false,
        })
    }

    /// Whether the server accepted the upgrade and has not closed.
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Whether the upgrade is still under way.
    pub fn is_handshaking(&self) -> bool {
        self.state == State::Handshaking
    }

    /// Bytes to write to the socket (or the TLS session).
    pub fn transmit(&self) -> &[u8] {
        &self.out[self.head..]
    }

    /// `n` bytes of [`transmit`](Self::transmit) were written.
    pub fn transmitted(&mut self, n: usize) {
        self.head = (self.head + n).min(self.out.len());
        if self.head == self.out.len() {
            self.out.clear();
            self.head = 0;
        }
    }

    /// Queues `payload` as one message (text or binary) in one masked frame. Nothing is
    /// queued once our close frame is.
    pub fn send(&mut self, payload: &[u8], text: bool) {
        if self.close_sent {
            return;
        }
        let opcode = OpCode::Data(if text { Data::Text } else { Data::Binary });
        let out = if self.state == State::Handshaking {
            &mut self.held
        } else {
            &mut self.out
        };
        masked_frame(opcode, payload, out);
    }

    /// Queues our close frame with `code` (the close handshake's first half; the server
    /// answers with its own, then closes the connection).
    pub fn close(&mut self, code: u16) {
        if self.close_sent || matches!(self.state, State::Failed) {
            return;
        }
        self.close_sent = true;
        let out = if self.state == State::Handshaking {
            &mut self.held
        } else {
            &mut self.out
        };
        masked_frame(OpCode::Control(Control::Close), &code.to_be_bytes(), out);
    }

    /// Whether our close frame is queued (or sent).
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// Reads from `input` up to the next thing to report, advancing it past what was
    /// taken. `Ok(None)`: everything in `input` was taken and more is needed. After an
    /// error or the server's close, input is taken and ignored.
    pub fn receive<'a>(
        &mut self,
        input: &mut &'a [u8],
    ) -> Result<Option<WsEvent<'a>>, ClientWsError> {
        if let Some(message) = self.ended.take() {
            return Ok(Some(WsEvent::End {
                text: message.text,
                len: message.len,
            }));
        }
        loop {
            match self.state {
                State::Closed | State::Failed => {
                    *input = &[];
                    return Ok(None);
                }
                State::Handshaking => return self.fail_on_error(|ws| ws.handshake(input)),
                State::Open => {}
            }
            if input.is_empty() {
                return Ok(None);
            }
            let Some(frame) = self.frame else {
                match self.fail_on_error(|ws| ws.frame_header(input))? {
                    Some(event) => return Ok(Some(event)),
                    None => continue,
                }
            };
            let take = usize::try_from(frame.remaining)
                .unwrap_or(usize::MAX)
                .min(input.len());
            let (bytes, rest) = input.split_at(take);
            *input = rest;
            let remaining = frame.remaining - take as u64;
            self.frame = Some(InFrame { remaining, ..frame });
            match frame.control {
                None => {
                    let message = self
                        .message
                        .as_mut()
                        .expect("invariant: a data frame belongs to a message");
                    message.len += take as u64;
                    if remaining == 0 {
                        self.frame = None;
                        if frame.fin {
                            self.ended = self.message.take();
                        }
                    }
                    if take > 0 {
                        return Ok(Some(WsEvent::Data(bytes)));
                    }
                    if let Some(message) = self.ended.take() {
                        return Ok(Some(WsEvent::End {
                            text: message.text,
                            len: message.len,
                        }));
                    }
                }
                Some(control) => {
                    self.control.extend_from_slice(bytes);
                    if remaining == 0 {
                        self.frame = None;
                        if let Some(event) = self.fail_on_error(|ws| ws.control_frame(control))? {
                            return Ok(Some(event));
                        }
                    }
                }
            }
        }
    }

    /// Runs `step`; an error fails the connection for good.
    fn fail_on_error<T>(
        &mut self,
        step: impl FnOnce(&mut Self) -> Result<T, ClientWsError>,
    ) -> Result<T, ClientWsError> {
        let result = step(self);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    /// Reads the server's answer to the upgrade.
    fn handshake<'a>(
        &mut self,
        input: &mut &'a [u8],
    ) -> Result<Option<WsEvent<'a>>, ClientWsError> {
        let Some((from_input, response)) = self.complete(input, |buf| {
            Response::try_parse(buf).map_err(|e| ClientWsError::Handshake(e.to_string()))
        })?
        else {
            if self.partial.len() > MAX_REQUEST {
                return Err(ClientWsError::Handshake(format!(
                    "no end of the response headers in {MAX_REQUEST} bytes"
                )));
            }
            return Ok(None);
        };
        *input = &input[from_input..];
        let status = response.status();
        if status.as_u16() != 101 {
            return Err(ClientWsError::Refused {
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or("").to_owned(),
            });
        }
        let headers = response.headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if !header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
            return Err(ClientWsError::Handshake("no Upgrade: websocket".into()));
        }
        let upgrade_token = |v: &str| {
            v.split(',')
                .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
        };
        if !header("connection").is_some_and(upgrade_token) {
            return Err(ClientWsError::Handshake("no Connection: Upgrade".into()));
        }
        if header("sec-websocket-accept") != Some(self.accept.as_str()) {
            return Err(ClientWsError::Handshake(
                "Sec-WebSocket-Accept does not match the key sent".into(),
            ));
        }
        // We asked for none: an extension (compression) or subprotocol would change what
        // the frames mean.
        for unasked in ["sec-websocket-extensions", "sec-websocket-protocol"] {
            if headers.contains_key(unasked) {
                return Err(ClientWsError::Handshake(format!(
                    "{unasked} that the client did not ask for"
                )));
            }
        }
        self.state = State::Open;
        let held = std::mem::take(&mut self.held);
        self.out.extend_from_slice(&held);
        Ok(Some(WsEvent::Open))
    }

    /// Reads a frame header. `Ok(None)`: a frame started (or more input is needed).
    fn frame_header<'a>(
        &mut self,
        input: &mut &'a [u8],
    ) -> Result<Option<WsEvent<'a>>, ClientWsError> {
        let parsed = self.complete(input, |buf| {
            let mut cursor = Cursor::new(buf);
            let parsed = FrameHeader::parse(&mut cursor)
                .map_err(|_| ClientWsError::Protocol("a reserved opcode from the server"))?;
            Ok(parsed.map(|header| (cursor.position() as usize, header)))
        })?;
        let Some((from_input, (header, len))) = parsed else {
            return Ok(None);
        };
        *input = &input[from_input..];
        if header.mask.is_some() {
            return Err(ClientWsError::Protocol("a masked frame from the server"));
        }
        if header.rsv1 || header.rsv2 || header.rsv3 {
            return Err(ClientWsError::Protocol(
                "a reserved bit set by the server (no extension was agreed)",
            ));
        }
        let control = match header.opcode {
            OpCode::Control(control) => {
                if !header.is_final || len > MAX_CONTROL_PAYLOAD as u64 {
                    return Err(ClientWsError::Protocol(
                        "a fragmented or over-long control frame from the server",
                    ));
                }
                self.control.clear();
                Some(control)
            }
            OpCode::Data(Data::Continue) => {
                if self.message.is_none() {
                    return Err(ClientWsError::Protocol(
                        "a continuation frame outside a message",
                    ));
                }
                None
            }
            OpCode::Data(data) => {
                if self.message.is_some() {
                    return Err(ClientWsError::Protocol(
                        "a new message before the last one ended",
                    ));
                }
                self.message = Some(InMessage {
                    text: data == Data::Text,
                    len: 0,
                });
                None
            }
        };
        self.frame = Some(InFrame {
            control,
            fin: header.is_final,
            remaining: len,
        });
        // An empty frame has no payload to wait for.
        if len == 0 {
            self.frame = None;
            match control {
                None if header.is_final => {
                    let message = self.message.take().expect("invariant: set above");
                    return Ok(Some(WsEvent::End {
                        text: message.text,
                        len: message.len,
                    }));
                }
                None => {}
                Some(control) => return self.control_frame(control),
            }
        }
        Ok(None)
    }

    /// A whole control frame arrived (its payload in `self.control`).
    fn control_frame<'a>(
        &mut self,
        control: Control,
    ) -> Result<Option<WsEvent<'a>>, ClientWsError> {
        match control {
            Control::Ping => {
                if !self.close_sent {
                    let payload = std::mem::take(&mut self.control);
                    masked_frame(OpCode::Control(Control::Pong), &payload, &mut self.out);
                    self.control = payload;
                }
                Ok(None)
            }
            Control::Pong => Ok(None),
            Control::Close => {
                let (code, reason) = match self.control.as_slice() {
                    [] => (None, String::new()),
                    [_] => return Err(ClientWsError::Protocol("a one-byte close frame")),
                    [hi, lo, reason @ ..] => (
                        Some(u16::from_be_bytes([*hi, *lo])),
                        String::from_utf8_lossy(&reason[..reason.len().min(MAX_CLOSE_REASON)])
                            .into_owned(),
                    ),
                };
                if !self.close_sent {
                    // RFC 6455 §5.5.1: answer with a close frame, echoing the code.
                    self.close_sent = true;
                    let payload = code.map(u16::to_be_bytes);
                    masked_frame(
                        OpCode::Control(Control::Close),
                        payload.as_ref().map_or(&[][..], |p| &p[..]),
                        &mut self.out,
                    );
                }
                self.state = State::Closed;
                Ok(Some(WsEvent::Close { code, reason }))
            }
            Control::Reserved(_) => {
                Err(ClientWsError::Protocol("a reserved opcode from the server"))
            }
        }
    }

    /// Parses something that may be cut across reads (an HTTP response, a frame header)
    /// from what is kept of earlier input plus `input`. Returns how many bytes of `input`
    /// the parsed thing took, and the thing; or `None` (everything in `input` kept).
    fn complete<T>(
        &mut self,
        input: &mut &[u8],
        parse: impl Fn(&[u8]) -> Result<Option<(usize, T)>, ClientWsError>,
    ) -> Result<Option<(usize, T)>, ClientWsError> {
        if self.partial.is_empty() {
            if let Some((n, parsed)) = parse(input)? {
                return Ok(Some((n, parsed)));
            }
            self.partial.extend_from_slice(input);
            *input = &[];
            return Ok(None);
        }
        // Only a frame header is ever parsed from a few bytes at a time; a response is
        // bounded by the caller.
        let kept = self.partial.len();
        let limit = if self.state == State::Handshaking {
            input.len()
        } else {
            input.len().min(MAX_HEADER.saturating_sub(kept))
        };
        self.partial.extend_from_slice(&input[..limit]);
        match parse(&self.partial)? {
            Some((n, parsed)) => {
                self.partial.clear();
                Ok(Some((n - kept, parsed)))
            }
            None => {
                *input = &input[limit..];
                Ok(None)
            }
        }
    }
}

/// Appends one whole frame with FIN, masked with a fresh random key as RFC 6455 §5.3
/// asks of a client. Masking is hand-written: tungstenite's is private to it.
fn masked_frame(opcode: OpCode, payload: &[u8], out: &mut Vec<u8>) {
    let key: [u8; 4] = rand::random();
    let header = FrameHeader {
        is_final: true,
        opcode,
        mask: Some(key),
        ..FrameHeader::default()
    };
    header
        .format(payload.len() as u64, out)
        .expect("invariant: writing a frame header into memory cannot fail");
    let start = out.len();
    out.extend_from_slice(payload);
    mask(&mut out[start..], key);
}

/// XORs `bytes` with `key` repeated, eight bytes at a time where it can.
fn mask(bytes: &mut [u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = bytes.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes((&*chunk).try_into().expect("a chunk of 8")) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    // The remainder starts at a multiple of 8, so at the key's first byte.
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ws, WsConfig};
    use reverb_core::{Config, Echo, Instant, Layer};

    /// Moves bytes between a client and a server stack until both are quiet, collecting
    /// the client's events (payload bytes concatenated per message).
    fn exchange(client: &mut ClientWs, server: &mut Ws<Echo>, events: &mut Vec<String>) {
        for _ in 0..1000 {
            let mut moved = false;
            let up = client.transmit().to_vec();
            if !up.is_empty() {
                let n = server.receive(Instant::ZERO, &up);
                client.transmitted(n);
                moved |= n > 0;
            }
            let down = server.transmit().to_vec();
            if !down.is_empty() {
                server.transmitted(Instant::ZERO, down.len());
                // One byte at a time: every header and the response cut everywhere.
                for byte in down.chunks(1) {
                    let mut input = byte;
                    while let Some(event) = client.receive(&mut input).expect("valid frames") {
                        events.push(describe(&event));
                    }
                }
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("never settled");
    }

    fn describe(event: &WsEvent<'_>) -> String {
        match event {
            WsEvent::Open => "open".into(),
            WsEvent::Data(d) => format!("data {}", String::from_utf8_lossy(d)),
            WsEvent::End { text, len } => format!("end {text} {len}"),
            WsEvent::Close { code, reason } => format!("close {code:?} {reason}"),
        }
    }

    fn server() -> Ws<Echo> {
        let config = Config::default().validate().unwrap();
        Ws::new(
            &WsConfig::default(),
            Instant::ZERO,
            Echo::new(config, Instant::ZERO),
        )
    }

    #[test]
    fn a_client_gets_its_messages_back_whole_and_closes_cleanly() {
        let mut server = server();
        let mut client = ClientWs::new("ws://localhost:7080/echo").unwrap();
        assert!(client.transmit().starts_with(b"GET /echo HTTP/1.1\r\n"));
        // Sent before the 101: held until it comes.
        client.send(b"hello\nworld", true);
        let mut events = Vec::new();
        exchange(&mut client, &mut server, &mut events);
        assert!(client.is_open());
        client.send(&[0, 1, 2], false);
        client.send(b"", true);
        exchange(&mut client, &mut server, &mut events);
        client.close(1000);
        exchange(&mut client, &mut server, &mut events);
        let joined: String = events
            .iter()
            .filter(|e| !e.starts_with("data"))
            .cloned()
            .collect::<Vec<_>>()
            .join("|");
        assert_eq!(
            joined,
            "open|end true 11|end false 3|end true 0|close Some(1000) "
        );
        let data: String = events
            .iter()
            .filter_map(|e| e.strip_prefix("data "))
            .collect();
        assert_eq!(data, "hello\nworld\u{0}\u{1}\u{2}");
        assert!(!client.is_open());
    }

    #[test]
    fn a_refused_upgrade_says_its_status() {
        let mut client = ClientWs::new("ws://localhost:1/").unwrap();
        let mut input = &b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"[..];
        let error = client.receive(&mut input).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the server refused the upgrade: HTTP 404 Not Found"
        );
        assert!(client.receive(&mut &b"more"[..]).unwrap().is_none());
    }

    #[test]
    fn a_wrong_accept_key_is_refused() {
        let mut client = ClientWs::new("ws://localhost:1/").unwrap();
        let mut input = &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"[..];
        let error = client.receive(&mut input).unwrap_err();
        assert!(
            error.to_string().contains("Sec-WebSocket-Accept"),
            "{error}"
        );
    }

    /// An open client, past a handshake with a real server layer.
    fn open_client() -> ClientWs {
        let mut server = server();
        let mut client = ClientWs::new("ws://localhost:1/").unwrap();
        exchange(&mut client, &mut server, &mut Vec::new());
        assert!(client.is_open());
        client
    }

    #[test]
    fn fragments_pings_and_bad_frames() {
        let mut client = open_client();
        // "ab" in two frames with a ping between them: the pong is queued.
        let bytes = [
            0x01, 1, b'a', 0x89, 2, b'h', b'i', 0x80, 1, b'b', 0x82, 0, // then empty binary
        ];
        let mut input = &bytes[..];
        let mut events = Vec::new();
        while let Some(e) = client.receive(&mut input).unwrap() {
            events.push(describe(&e));
        }
        assert_eq!(
            events,
            ["data a", "data b", "end true 2", "end false 0"],
            "{events:?}"
        );
        let pong = client.transmit();
        assert_eq!(pong[0], 0x8A, "a pong");
        assert_eq!(pong[1], 0x80 | 2, "masked, 2 bytes");
        let key = [pong[2], pong[3], pong[4], pong[5]];
        assert_eq!([pong[6] ^ key[0], pong[7] ^ key[1]], *b"hi");

        for (bad, why) in [
            (&[0x81, 0x80, 0, 0, 0, 0][..], "masked"),
            (&[0xC1, 0][..], "reserved bit"),
            (&[0x80, 0][..], "continuation"),
            (&[0x09, 0][..], "fragmented"),
            (&[0x83, 0][..], "reserved opcode"),
        ] {
            let mut client = open_client();
            let error = client.receive(&mut &bad[..]).unwrap_err();
            assert!(error.to_string().contains(why), "{why}: {error}");
        }
    }

    #[test]
    fn masking_round_trips_for_every_length() {
        for len in 0..40 {
            let payload: Vec<u8> = (0..len as u8).collect();
            let mut out = Vec::new();
            masked_frame(OpCode::Data(Data::Binary), &payload, &mut out);
            let key = [out[2], out[3], out[4], out[5]];
            let unmasked: Vec<u8> = out[6..]
                .iter()
                .zip(key.iter().cycle())
                .map(|(b, k)| b ^ k)
                .collect();
            assert_eq!(unmasked, payload);
        }
    }
}
