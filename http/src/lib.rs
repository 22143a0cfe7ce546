//! # reverb-http: an HTTP/1.1 echo as a reverb layer
//!
//! [`Http`] is a [`Layer`](reverb_core::Layer) at the top of its stack, where the echo
//! is for other listeners: it answers every HTTP/1.1 (or 1.0) request `200 OK` with the
//! request as received, so whoever sent it through a proxy sees what the proxy changed —
//! headers added, paths rewritten, bodies re-chunked. Like every layer it does no IO and
//! reads no clock: the stream shell, the mio driver and the test harness drive it as they
//! drive the echo; `https://` is `Tls<Http>`, and with the PROXY protocol it is
//! `Proxy<…>` around either.
//!
//! ## The answer
//! - **`raw`** ([`Format::Raw`], the default): the body is exactly the bytes received for
//!   that request — request line, header fields in order and in the case sent, the blank
//!   line, then the body as it came (a chunked body with its chunk sizes, extensions and
//!   trailers). `Content-Type: message/http`.
//! - **`json`** ([`Format::Json`]): one JSON document — `method`, `target`, `path`,
//!   `query`, `version`, `headers` as `[name, value]` pairs in order, `body` (text, or
//!   base64 when it is not UTF-8 text: `body_encoding`), `body_length`, `chunked`,
//!   `trailers`, `peer` (the socket's peer), `proxy` (what a PROXY header said, or
//!   `null`), `client` (its source, else the peer) and `local` (the listener's
//!   address). `Content-Type: application/json`.
//! - A `HEAD` request gets the headers a `GET` would, without the body; a request with
//!   `Expect: 100-continue` gets `100 Continue` as soon as its head is read.
//!
//! ## Connections
//! Keep-alive as the client asks (HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
//! `Connection: keep-alive`), and pipelining: requests sent back to back are answered in
//! order. The echo's `max_frames` (`--once`, `--max-frames`) counts requests: the last
//! answer says `Connection: close`. The client's half-close ends the connection once
//! every whole request before it is answered.
//!
//! ## Errors and limits
//! A request that cannot be answered gets an error status whose body says why, then
//! `Connection: close` and the end of the connection, with a
//! [`CloseReason::Protocol`](reverb_core::CloseReason::Protocol) of layer `http` naming
//! the status: 400 (malformed, no `Host`, ambiguous framing — both `Content-Length` and
//! `Transfer-Encoding`, a coding list not ending in `chunked`, bad chunk framing), 405
//! (`CONNECT`: this echo does not tunnel), 413 (a body over
//! [`max_body`](HttpConfig::max_body), refused from its `Content-Length` before it is
//! sent, or as chunks announce it), 414 and 431 (a request line or head over
//! [`max_header`](HttpConfig::max_header); 431 for more than 128 fields), 417 (an
//! `Expect` other than `100-continue`), 505 (not HTTP/1.x).
//!
//! ## Timers and bounds
//! The stream's timers are unchanged (idle, write stall, flush, linger). The echo's frame
//! timeout is the request timeout: a request must be whole within it from its first
//! byte — head and body, so a slow body (slow POST) is cut like slow headers
//! (slowloris) — or it is answered 408 and the connection closes. Like the echo's, the
//! clock stands still while backpressure pauses reading. The layer holds at most one
//! request and what is pipelined behind it ([`HttpConfig::input_limit`]), and answers
//! up to the high watermark plus one answer ([`HttpConfig::answer_bound`]).
//!
//! ## Why a request is held whole
//! An HTTP client sends its whole request before it reads the answer (curl, Python's
//! `http.client`, browsers, and proxies that buffer): an answer streamed while its
//! request still arrives would fill the client's receive buffer while it is still
//! sending, and both sides would wait for each other once the socket buffers are full.
//! So the layer reads a request whole (at most `max_header` + `max_body`, plus a chunked
//! body's framing, up to `max_header` more), then answers, as every server that answers
//! from the body does; its buffers are given back after a second of quiet, as the
//! echo's are.
//!
//! ## Why a crate of its own
//! `reverb-core` holds the echo every stack shares and depends on nothing but `memchr`
//! and `thiserror`; the HTTP echo is another application with its own parser, JSON and
//! base64. Kept here, it costs the core, the playground's WebAssembly and the other
//! listeners nothing, and it is one more layer chosen per listener at accept time, as
//! TLS and WebSocket are. It needs nothing from the core it does not export.
//!
//! ## Why httparse, and what is ours
//! httparse parses a request head from memory without allocating and says "partial" for
//! a head not yet whole: the parser hyper and most of the ecosystem use. Ours: the
//! framing checks RFC 9112 asks of a server (which of `Content-Length` and
//! `Transfer-Encoding` frames the body and when to refuse both; one `Host`), and the
//! chunked decoding, which must run on bodies cut anywhere across reads
//! (`chunked.rs` says why not httparse's).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod answer;
mod chunked;
mod config;
mod layer;
mod request;

pub use config::{
    Format, HttpConfig, HttpConfigError, Peer, DEFAULT_MAX_BODY, DEFAULT_MAX_HEADER, MAX_LIMIT,
    MIN_MAX_HEADER,
};
pub use layer::Http;
