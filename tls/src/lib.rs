//! # reverb-tls: TLS as a reverb layer
//!
//! [`Tls`] is a [`Layer`](reverb_core::Layer): ciphertext below, plaintext to the layer it
//! wraps (the echo). It drives rustls's `ServerConnection` from memory — bytes in through
//! `read_tls`, plaintext up through its buffered reader without a copy, the inner layer's
//! output into its writer, records out through `write_tls` into a bounded queue — so it
//! does no IO and reads no clock, like every layer. The stream shell, the mio driver and
//! the test harness drive a TLS stack exactly as they drive the bare echo.
//!
//! [`ServerTls`] is what a `tls://` listener needs once: its certificate (from PEM files,
//! or generated at start and self-signed) and the rustls configuration all its
//! connections share. [`ClientTls`] and [`ClientSession`] are the client side, bytes in
//! and bytes out, for `reverb client` and `reverb bench`.
//!
//! ## Why a crate of its own
//! rustls and its `ring` provider compile C and assembly that do not build for
//! `wasm32-unknown-unknown` as the core must; keeping TLS here keeps `reverb-core` pure
//! and the playground free of it. Nothing outside this crate names a rustls type.
//!
//! ## Defaults
//! TLS 1.2 and 1.3 only (rustls supports nothing older), rustls's safe cipher suites, no
//! renegotiation (rustls has none), a handshake timeout so a silent client cannot hold a
//! connection, and a generated key that is never written anywhere.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod certs;
mod client;
mod layer;

pub use certs::{fingerprint, CertError, ServerTls, HANDSHAKE_TIMEOUT};
pub use client::{ClientSession, ClientTls, QUEUE_LIMIT};
pub use layer::{Tls, READ_CHUNK};
