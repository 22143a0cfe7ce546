//! # reverb-core: the sans-IO echo engine
//!
//! reverb-core is everything an echo server decides, and nothing it does: bytes and time
//! go in, bytes to send, events and the next deadline come out. It owns no socket, reads
//! no clock, starts no thread. The same engine runs under the `mio` event loop of the
//! `reverb` binary, under the JavaScript socket shim of the browser playground, and under
//! the deterministic drivers of the tests.
//!
//! - [`Connection`]: one TCP connection as a state machine — the stream's rules around a
//!   stack of [`Layer`]s — driven with [`Input`]s and drained of [`Output`]s.
//! - [`Layer`]: the contract every protocol is built to: bytes from below and a borrowed
//!   slice to send, its own state, deadline and events. [`Echo`] is the application at
//!   the top of every stack; [`Faults`] wraps any layer with delay and chunking.
//! - [`Registry`]: owns the connections of one event loop, by generational [`ConnId`];
//!   enforces `max_connections`, finds the earliest deadline in O(1), keeps counters. One
//!   connection's failure is that connection's release and nothing else.
//! - [`DatagramEcho`]: the UDP echo, which answers no service port, no echo loop
//!   ([`LoopDetector`]) and no source beyond its token buckets ([`SourceLimiter`]).
//! - [`Config`] / [`ValidConfig`]: the echo semantics and every limit, checked once.
//! - [`Snapshot`]: a read-only view of a connection's buffers and timers.
//!
//! ## Echo semantics
//! - **`raw`** framing echoes every accepted byte, in order (RFC 862). Prefix and suffix
//!   wrap each accepted *chunk*, so where they land depends on how the transport split the
//!   stream: that is the lesson of `recv(2)`, not a bug.
//! - **`line`** framing cuts input at `\n` and echoes each line with its own terminator
//!   (`\n` or `\r\n`), as `prefix + content + suffix + terminator`. A line equal to the
//!   quit word (terminator stripped) is not echoed: the connection flushes and closes.
//! - **`collect`** framing holds every line (prefix and suffix applied) until the quit
//!   word's line arrives, then echoes all of it, quit line included, and closes.
//! - The **fault word** fails its connection at once, as a crashing handler would; the
//!   registry and every other connection carry on.
//! - **Limits:** a line over `max_line` gets the one-line reply `error: line exceeds N
//!   bytes` and a graceful close; output at the high watermark pauses input until it
//!   drains to the low one; `collect` holds at most `max_collect`.
//! - **Half-close:** on the peer's end-of-stream, buffered input is echoed (a trailing
//!   partial line as it is, prefix and suffix applied), output is flushed, then our FIN,
//!   then the release.
//! - **Closing** gracefully means: stop reading, flush, FIN, then *linger* — read and drop
//!   the peer's input until its end-of-stream (at most `linger`), so that closing never
//!   resets a connection whose client has not yet read its echo. A closing connection
//!   whose peer reads none of its pending output for `flush_timeout` is released at once:
//!   every state has a deadline.
//! - **Timers measure the peer.** The frame timer stands still while backpressure pauses
//!   reading; a timeout echoes the whole lines already accepted and drops only the
//!   unfinished one.
//!
//! ## The run-loop contract
//! Every driver follows the same four rules.
//!
//! 1. **Read no more than the connection takes.** Before reading, ask
//!    [`Connection::receive_capacity`]; pass what was read as [`Input::Received`]. A read
//!    of 0 bytes is [`Input::PeerClosed`].
//! 2. **After every input, drain.** Call `poll_output` until it returns
//!    [`Output::Timeout`]. Outputs come in a fixed order: `Event`s, `Transmit`, `CloseWrite`,
//!    `Release`, then `Timeout`.
//! 3. **Write from the borrowed slice and say how much went out.** For
//!    [`Output::Transmit`], write what the socket takes and report it with
//!    [`Input::Written`] — a short count is normal and means "the socket is full": the
//!    connection offers nothing more until [`Input::Writable`].
//! 4. **Wait for readiness or the deadline.** Register for readability while
//!    `receive_capacity() > 0` and for writability only while
//!    [`Connection::wants_write`]; sleep until the `Timeout` deadline at most, and then
//!    send [`Input::Tick`]. An early or extra tick is a harmless no-op. After
//!    [`Event::ReadResumed`] read at once: edge-triggered readiness will not repeat itself.
//!
//! Every input carries `now` as an [`Instant`], milliseconds since an epoch the driver
//! picks. With a [`Registry`] the rules are the same, per connection, plus: after
//! [`Registry::handle_timeout`] or [`Registry::shutdown`], drain each connection
//! [`Registry::poll_ready`] names.
//!
//! ## Example: one connection over an in-memory socket
//! A complete driver. The socket is a stand-in that delivers at most two bytes per read
//! (the tutorials' `recv(2)`) and accepts at most three per write, so every path —
//! fragmented frames, short writes, writability — is taken.
//!
//! ```
//! use reverb_core::{CloseReason, Config, Connection, EchoConfig, Input, Instant, Output};
//!
//! struct Socket {
//!     incoming: Vec<u8>,   // what the client sent, not yet read
//!     sent: Vec<u8>,       // what reached the client
//!     fin: bool,
//! }
//!
//! let config = Config {
//!     echo: EchoConfig {
//!         prefix: b"Buffer: ".to_vec(),
//!         suffix: b"~".to_vec(),
//!         ..EchoConfig::default() // line framing, quit word "quit"
//!     },
//!     ..Config::default()
//! }
//! .validate()?;
//! let mut now = Instant::ZERO;
//! let mut conn = Connection::new(config, now);
//! let mut socket = Socket { incoming: b"hello\r\nquit\n".to_vec(), sent: vec![], fin: false };
//!
//! let reason = 'run: loop {
//!     // Rule 1: read at most the capacity (and at most 2 bytes: recv(2)).
//!     let cap = conn.receive_capacity();
//!     if cap > 0 {
//!         let n = cap.min(2).min(socket.incoming.len());
//!         let input = if n == 0 {
//!             Input::PeerClosed
//!         } else {
//!             Input::Received(&socket.incoming[..n])
//!         };
//!         let taken = conn.handle_input(now, input);
//!         assert_eq!(taken, n, "a driver that respects the capacity sees all taken");
//!         socket.incoming.drain(..taken);
//!     }
//!     // Rule 2: drain until Timeout.
//!     loop {
//!         match conn.poll_output() {
//!             Output::Event(_event) => {} // log it
//!             Output::Transmit(bytes) => {
//!                 // Rule 3: a short write is normal; report what went out.
//!                 let n = bytes.len().min(3);
//!                 socket.sent.extend_from_slice(&bytes[..n]);
//!                 let short = n < bytes.len();
//!                 conn.handle_input(now, Input::Written(n));
//!                 if short {
//!                     // Here the socket would become writable again later.
//!                     conn.handle_input(now, Input::Writable);
//!                 }
//!             }
//!             Output::CloseWrite => socket.fin = true,
//!             Output::Release { reason, .. } => break 'run reason,
//!             Output::Timeout(deadline) => {
//!                 // Rule 4: wait for readiness or the deadline.
//!                 if let Some(at) = deadline {
//!                     if socket.incoming.is_empty() && conn.receive_capacity() == 0 {
//!                         now = at;
//!                         conn.handle_input(now, Input::Tick);
//!                     }
//!                 }
//!                 break;
//!             }
//!         }
//!     }
//! };
//! assert_eq!(socket.sent, b"Buffer: hello~\r\n");
//! assert!(socket.fin);
//! assert_eq!(reason, CloseReason::Quit);
//! # Ok::<(), reverb_core::ConfigError>(())
//! ```
//!
//! ## What this crate never does
//! No IO, no `std::net`, no clock, no threads, no `unsafe`, no JavaScript. It builds for
//! `wasm32-unknown-unknown` unchanged, and peer input never makes it panic.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod buffer;
mod config;
mod connection;
mod counters;
mod datagram;
mod datagram_faults;
mod echo;
mod error;
mod faults;
mod framing;
mod input;
mod layer;
mod loops;
mod output;
mod registry;
mod rng;
#[cfg(feature = "serde")]
mod serde_forms;
mod snapshot;
mod sources;
mod table;
mod time;
mod timers;

pub use config::{
    Chunk, Config, EchoConfig, FaultConfig, Framing, Probability, StreamConfig, ValidConfig,
    MAX_AFFIX_LEN, MAX_CONNECTIONS, MAX_DELAY, MAX_SIZE, MAX_UDP_PAYLOAD, MIN_INPUT_BUFFER,
};
pub use connection::Connection;
pub use counters::Counters;
pub use datagram::{DatagramCounters, DatagramEcho, DatagramError, DatagramGuards, Unanswered};
pub use datagram_faults::{DatagramFaults, Verdict, REORDER_HOLD};
pub use echo::Echo;
pub use error::{ConfigError, PeerError, RegistryError};
pub use faults::Faults;
pub use input::Input;
pub use layer::{Layer, LayerState, Leftover};
pub use loops::{
    LoopDetector, LoopVerdict, PortPolicy, LOOP_PRONE_PORTS, LOOP_STRIKES, LOOP_TABLE_SIZE,
    LOOP_WINDOW,
};
pub use output::{CloseClass, CloseReason, Event, Fault, FrameKind, Output, ProtocolClose};
pub use registry::{ConnId, Registry, RegistryCounters};
pub use snapshot::{EchoView, Phase, Snapshot};
pub use sources::{
    Source, SourceLimiter, SourceLimits, SourceLimitsError, DEFAULT_BURST,
    DEFAULT_BYTES_PER_SECOND, DEFAULT_DATAGRAMS_PER_SECOND, MAX_BURST, MAX_BYTES_PER_SECOND,
    MAX_DATAGRAMS_PER_SECOND, SOURCE_TABLE_SIZE,
};
pub use time::Instant;
pub use timers::{Deadlines, Timer};
