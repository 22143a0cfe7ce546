//! # reverb-proxy: the PROXY protocol as a reverb layer
//!
//! An L4 load balancer (HAProxy's `send-proxy`/`send-proxy-v2`, AWS NLB, nginx's
//! `proxy_protocol`) connects to its backend itself, so the backend's peer is the
//! balancer; the PROXY protocol has it send one header first that names the real client.
//! [`Proxy`] is a [`Layer`](reverb_core::Layer) that reads that header from the
//! connection's first bytes, decodes it into a [`ProxyHeader`], and then passes every
//! byte through untouched, both ways (the inner layer's slices, borrowed): the layer
//! above — the echo, TLS, WebSocket, HTTP — sees the client's stream as if it had
//! connected directly. It goes below everything else: `tls://` with the PROXY protocol is
//! `Proxy<Tls<…>>`, as the balancer sends the header before the TLS handshake.
//!
//! ## The header
//! Version 1 (one text line, at most [`MAX_V1_HEADER`] bytes) or version 2 (binary: a
//! 16-byte fixed part, the addresses, then TLVs, which are checked to be whole and
//! skipped, at most [`MAX_V2_TLVS`] bytes of them). A v2 `LOCAL` header (a balancer's own
//! health check) and a v1 `UNKNOWN` one are valid and name no client: the connection's
//! peer is the client then. Anything else — a connection that does not start with a
//! header, a malformed one, one not whole within [`HEADER_TIMEOUT`] — closes the
//! connection with nothing sent and a reason for the log (see [`Proxy`]).
//!
//! ## Who learns the client's address
//! [`Proxy::header`] for the driver, which holds the outermost layer (the server logs
//! the client and counts proxied connections); an [`Announce`] slot for a layer above,
//! which cannot reach this one through the boxed layers between them (the HTTP echo
//! reports it in its JSON answer).
//!
//! ## Why `ppp`, and why the framing is ours
//! `ppp` parses both versions from memory, is strict where the specification is (ports
//! without leading zeros, addresses of the named family, v2's version, command, family
//! and protocol nibbles) and iterates TLVs with bounds checks; it is Apache-2.0 and
//! depends on nothing but `thiserror`. It also reports "incomplete", but reads a v1 line
//! cut right after its source port's space as a bad port, which would refuse a header
//! split across reads there; so this crate finds where a header ends itself (v1 at its
//! `\n`, v2 at the length its fixed part announces) and hands `ppp` only whole headers.
//!
//! ## Why a crate of its own
//! The PROXY protocol is no part of the echo, and `reverb-core` keeps its dependencies to
//! what every stack needs; like TLS and WebSocket, it is one more layer in a crate of its
//! own, chosen per listener at accept time.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod header;
mod layer;

pub use header::{
    build, Invalid, ProxyHeader, MAX_V1_HEADER, MAX_V2_ADDRESSES, MAX_V2_HEADER, MAX_V2_TLVS,
    V2_FIXED,
};
pub use layer::{Announce, Proxy, HEADER_TIMEOUT};
