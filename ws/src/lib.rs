//! # reverb-ws: WebSocket as a reverb layer
//!
//! [`Ws`] is a [`Layer`](reverb_core::Layer): RFC 6455 frames below, the payload of each
//! message to the layer it wraps (the echo), and each message's echo back as one message
//! of the same type. It does no IO and reads no clock, like every layer: the stream
//! shell, the mio driver and the test harness drive a WebSocket stack exactly as they
//! drive the bare echo, and `Tls<Ws<…>>` is `wss://`.
//!
//! ## What the echo of a message is
//! Each text or binary message's payload is handed to the echo as it arrives, and its
//! end as [`receive_boundary`](reverb_core::Layer::receive_boundary); what the echo
//! produced from the message's first byte to its end goes back as one message of the same
//! type. So, with the echo's framing:
//! - **line** (the default): every line inside a message is echoed as over TCP, prefix and
//!   suffix included, its `\n` or `\r\n` kept; the message's end ends an unfinished line,
//!   which is echoed without a terminator. A message `hello` comes back `hello` (with the
//!   affixes around it, once); `a\nb` comes back `a\nb`; a line never spans two messages.
//!   The quit and fault words are lines, and `max_line` applies to each line.
//! - **raw**: every byte, prefix and suffix around each piece the server read at once, as
//!   over TCP: a message that arrives in one read (any small one) gets one of each.
//! - **collect**: lines are held until the quit word; everything held comes back as one
//!   message, of the quit message's type.
//!
//! A message whose echo is empty is not answered (the quit word's, one in `collect`
//! mode), except an empty message, which is answered with an empty message. A text
//! message goes up in whole characters only, so a text reply is valid UTF-8 whenever the
//! prefix and suffix are (the server refuses others for WebSocket listeners). A reply is
//! sent as frames of whatever output is at hand: a small message's echo is one frame, a
//! large one (or one arriving slowly) several, the last with FIN.
//!
//! ## Closing
//! The peer's close frame ends the stream for the echo (an unfinished line is echoed as
//! it is), and the close frame that answers it echoes its code. The echo ending the
//! connection (quit word, frame limit, an over-long line, a timer) sends its last echo,
//! then a close frame 1000 whose reason is the echo's (`quit word`); a server shutdown
//! sends 1001. A protocol error closes with its code after the echo already owed: 1002
//! (an unmasked client frame, reserved bits or opcodes, a fragmented or over-long control
//! frame, continuations out of order, a bad close code), 1007 (invalid UTF-8 in a text
//! message or a close reason), 1009 (a message over `max_message`). Each is a
//! [`CloseReason::Protocol`](reverb_core::CloseReason::Protocol) naming the code and what
//! happened. The fault word aborts the connection, as over TCP.
//!
//! ## The opening handshake
//! An HTTP/1.1 `GET` with `Upgrade: websocket`, on any path or only on
//! [`WsConfig::path`], is answered `101 Switching Protocols`; anything else with an HTTP
//! error and a close: 404 (another path), 405 (not `GET`), 426 (a plain HTTP request, or
//! a WebSocket version other than 13), 400 (a malformed request, no `Host`, a bad key),
//! 431 (headers over [`MAX_REQUEST`]), 505 (not HTTP/1.1). A handshake not complete
//! within [`HANDSHAKE_TIMEOUT`] of the accept aborts the connection. No subprotocol or
//! extension is agreed (so no compression: reserved bits are an error).
//!
//! ## The client side
//! [`ClientWs`] is one client connection as bytes in and bytes out, for `reverb client`
//! and `reverb bench` against `ws://` and `wss://` servers: the upgrade request and its
//! answer checked with tungstenite's handshake pieces, masked frames out, the server's
//! frames in, each message's payload handed on as it arrives (never held whole).
//!
//! ## Bounds
//! At most [`MAX_REQUEST`] bytes of request, [`READ_CHUNK`] bytes of unparsed frames,
//! 16 KiB of payload waiting for the echo and 64 KiB of frames waiting to be sent, beyond
//! which nothing more is read or pulled from the echo: backpressure reaches the kernel
//! as for TCP. Messages are streamed, never held whole, so `max_message` costs no memory.
//!
//! ## Why a crate of its own
//! Its WebSocket library, tungstenite, does not build for `wasm32-unknown-unknown` as the
//! core must: it depends on `rand`, whose `getrandom` has no entropy source there without
//! a JavaScript backend chosen at build time. Keeping WebSocket here keeps `reverb-core`
//! pure and the playground free of it, as `reverb-tls` does for rustls. Nothing outside
//! this crate names a tungstenite type.
//!
//! ## Why tungstenite, and which parts
//! tungstenite is the WebSocket implementation most of the Rust ecosystem runs on
//! (tokio-tungstenite, axum, warp), passes the Autobahn suite, and exposes its pieces:
//! this crate uses its frame header parser and formatter (`FrameHeader::parse` reads a
//! header from memory and says "not yet" for a partial one), its opcodes and close codes
//! (`CloseCode::is_allowed`), and its server handshake (`Request::try_parse` on httparse,
//! `create_response`, which checks the upgrade headers and derives the accept key,
//! `write_response`). Its `WebSocket` type is not used: it owns a `Read + Write` stream,
//! reads a whole message into memory before handing it out and writes whole messages,
//! where an echo must stream a message's payload up as the echo takes it (backpressure,
//! the frame timer) and send its echo as it comes. So the layer keeps the framing state
//! (which frame, which message, the mask's phase) itself; what it writes by hand, each
//! with a comment saying why, is unmasking (tungstenite's is private) and UTF-8 checked
//! across frames (std's `from_utf8` says where a character is cut).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod config;
mod frames;
mod handshake;
mod layer;

pub use client::{ClientWs, ClientWsError, WsEvent};
pub use config::{WsConfig, WsConfigError, DEFAULT_MAX_MESSAGE, HANDSHAKE_TIMEOUT};
pub use handshake::MAX_REQUEST;
pub use layer::{Ws, READ_CHUNK};
