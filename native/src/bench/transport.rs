//! What lies between the socket and a [`LoadConn`] when the bench speaks more than plain
//! TCP: a PROXY header first (`--send-proxy`), a TLS client session (`tls://`, `wss://`),
//! WebSocket framing (`ws://`, `wss://`). Sans-IO like `LoadConn`: wire bytes in and out,
//! the worker's loop does the IO. Plain TCP has no `Layers` at all, so its hot path is the
//! one it always was: socket straight to `LoadConn` and back.
//!
//! Out: the load's messages → one WebSocket message each (text with `--line`, binary
//! otherwise) → TLS records → after the PROXY header → the socket. In: the socket → TLS
//! plaintext → each WebSocket message's payload, straight from the read buffer or the
//! session's plaintext, into `LoadConn::received`, which checks every byte, and each
//! message's end into `LoadConn::message_end`, which checks that one message came back
//! for one sent, of its type.

use reverb_tls::{ClientSession, ClientTls};
use reverb_ws::{ClientWs, ClientWsError, WsEvent};

use std::net::SocketAddr;

use super::load::{LoadConn, Measure, Mismatch};
use super::proxy::{self, ProxyVersion};

/// How every connection of a run is wrapped.
#[derive(Debug, Clone, Default)]
pub(crate) struct Wiring {
    /// `--send-proxy`.
    pub(crate) proxy: Option<ProxyVersion>,
    /// TLS settings and the server name to ask for.
    pub(crate) tls: Option<(ClientTls, String)>,
    /// The WebSocket request's URL (its Host header and path).
    pub(crate) ws: Option<String>,
    /// WebSocket messages are text (`--line`) rather than binary.
    pub(crate) text: bool,
}

impl Wiring {
    /// Whether bytes go straight between socket and load: no layer at all.
    pub(crate) fn plain(&self) -> bool {
        self.proxy.is_none() && self.tls.is_none() && self.ws.is_none()
    }

    /// Opens the layers of one connection from `source` to `destination`, whose TCP
    /// connect finished at `now`.
    pub(crate) fn open(
        &self,
        source: SocketAddr,
        destination: SocketAddr,
        now: u64,
        size: usize,
    ) -> Result<Layers, String> {
        let tls = match &self.tls {
            Some((tls, host)) => Some(tls.session(host).map_err(|e| format!("tls: {e}"))?),
            None => None,
        };
        let ws = match &self.ws {
            Some(url) => Some(ClientWs::new(url).map_err(|e| format!("websocket: {e}"))?),
            None => None,
        };
        Ok(Layers {
            preamble: self
                .proxy
                .map(|v| proxy::header(v, source, destination))
                .unwrap_or_default(),
            preamble_head: 0,
            tls,
            upper: Upper {
                ws,
                text: self.text,
                size,
                started: now,
                ws_from: now,
                first_seq: None,
            },
        })
    }
}

/// Why a layer ended its connection.
#[derive(Debug)]
pub(crate) enum WireError {
    /// An echo was wrong.
    Mismatch(Mismatch),
    /// A handshake failed: the connection never carried load.
    Handshake(String),
    /// The server broke TLS or WebSocket after the handshake.
    Protocol(String),
}

impl From<Mismatch> for WireError {
    fn from(m: Mismatch) -> Self {
        WireError::Mismatch(m)
    }
}

/// What one read's bytes did.
#[derive(Debug, Default)]
pub(crate) struct Inbound {
    /// Measured messages completed (as `LoadConn::received` counts them).
    pub(crate) measured: u64,
    /// The TLS handshake finished: how long it took from the connect (ns).
    pub(crate) tls_handshake: Option<u64>,
    /// The WebSocket upgrade was accepted: how long it took from its request (ns).
    pub(crate) ws_handshake: Option<u64>,
    /// The server ended the stream inside the layers (TLS close_notify, a WebSocket
    /// close frame): as its FIN would.
    pub(crate) ended: bool,
}

/// One connection's layers.
#[derive(Debug)]
pub(crate) struct Layers {
    /// The PROXY header, written before anything else.
    preamble: Vec<u8>,
    preamble_head: usize,
    tls: Option<ClientSession>,
    upper: Upper,
}

/// What is above TLS: WebSocket framing, or the load directly.
#[derive(Debug)]
struct Upper {
    ws: Option<ClientWs>,
    text: bool,
    size: usize,
    /// When the TCP connect finished (ns): the TLS handshake is timed from there.
    started: u64,
    /// When the WebSocket request could go (the connect, or the TLS handshake's end).
    ws_from: u64,
    /// The first load message inside the WebSocket message under way.
    first_seq: Option<u64>,
}

impl Layers {
    /// Whether every handshake is done: the load may send.
    pub(crate) fn ready(&self) -> bool {
        self.tls.as_ref().is_none_or(|t| !t.is_handshaking())
            && self.upper.ws.as_ref().is_none_or(ClientWs::is_open)
    }

    /// Moves what waits above into the layers below: the load's messages (once every
    /// handshake is done), WebSocket frames into TLS.
    pub(crate) fn pump(&mut self, load: &mut LoadConn) {
        let ready = self.ready();
        if let Some(ws) = &mut self.upper.ws {
            if ready && load.wants_write() {
                let pending = load.pending();
                debug_assert_eq!(pending.len() % self.upper.size, 0, "whole messages");
                for message in pending.chunks(self.upper.size) {
                    ws.send(message, self.upper.text);
                }
                let n = pending.len();
                load.taken(n);
            }
        }
        let Some(tls) = &mut self.tls else {
            return;
        };
        match &mut self.upper.ws {
            Some(ws) => {
                while !ws.transmit().is_empty() {
                    let n = tls.send(ws.transmit());
                    if n == 0 {
                        break;
                    }
                    ws.transmitted(n);
                }
            }
            None if ready => {
                while load.wants_write() {
                    let n = tls.send(load.pending());
                    if n == 0 {
                        break;
                    }
                    load.taken(n);
                }
            }
            None => {}
        }
    }

    /// Bytes to write to the socket now.
    pub(crate) fn wire<'a>(&'a self, load: &'a LoadConn) -> &'a [u8] {
        if self.preamble_head < self.preamble.len() {
            return &self.preamble[self.preamble_head..];
        }
        match (&self.tls, &self.upper.ws) {
            (Some(tls), _) => tls.transmit(),
            (None, Some(ws)) => ws.transmit(),
            (None, None) => load.pending(),
        }
    }

    /// `n` bytes of [`wire`](Self::wire) were written.
    pub(crate) fn wrote(&mut self, n: usize, load: &mut LoadConn) {
        if self.preamble_head < self.preamble.len() {
            self.preamble_head += n;
            return;
        }
        match (&mut self.tls, &mut self.upper.ws) {
            (Some(tls), _) => tls.transmitted(n),
            (None, Some(ws)) => ws.transmitted(n),
            (None, None) => load.taken(n),
        }
    }

    /// Whether bytes wait to be written (after a [`pump`](Self::pump)).
    pub(crate) fn wants_write(&self, load: &LoadConn) -> bool {
        !self.wire(load).is_empty()
            || self
                .upper
                .ws
                .as_ref()
                .is_some_and(|ws| !ws.transmit().is_empty())
            || (self.ready() && load.wants_write())
    }

    /// Bytes the socket read at `now`: through TLS and WebSocket into the load.
    pub(crate) fn receive(
        &mut self,
        bytes: &[u8],
        load: &mut LoadConn,
        now: u64,
        measure: &mut Measure<'_>,
    ) -> Result<Inbound, WireError> {
        let mut inbound = Inbound::default();
        let Some(tls) = &mut self.tls else {
            self.upper
                .deliver(bytes, load, now, measure, &mut inbound)?;
            return Ok(inbound);
        };
        let mut rest = bytes;
        loop {
            let handshaking = tls.is_handshaking();
            let taken = tls.receive(rest).map_err(|e| {
                let what = format!("tls: {e}");
                if handshaking {
                    WireError::Handshake(what)
                } else {
                    WireError::Protocol(what)
                }
            })?;
            rest = &rest[taken..];
            if handshaking && !tls.is_handshaking() {
                inbound.tls_handshake = Some(now.saturating_sub(self.upper.started));
                self.upper.ws_from = now;
            }
            let mut delivered = false;
            loop {
                match tls.plaintext() {
                    Some([]) => break,
                    Some(text) => {
                        let len = text.len();
                        self.upper.deliver(text, load, now, measure, &mut inbound)?;
                        tls.consume(len);
                        delivered = true;
                    }
                    None => {
                        inbound.ended = true;
                        break;
                    }
                }
            }
            if rest.is_empty() || inbound.ended {
                return Ok(inbound);
            }
            if taken == 0 && !delivered {
                return Err(WireError::Protocol(
                    "tls: the session takes no more input".into(),
                ));
            }
        }
    }

    /// The socket reached its end: a TLS session learns it (a close without
    /// close_notify is still the end).
    pub(crate) fn receive_end(&mut self) {
        if let Some(tls) = &mut self.tls {
            tls.receive_end();
        }
    }

    /// The run is over for this connection: the WebSocket close frame and TLS's
    /// close_notify go into the wire, for one last write.
    pub(crate) fn finish(&mut self, load: &mut LoadConn) {
        if let Some(ws) = &mut self.upper.ws {
            if ws.is_open() {
                ws.close(1000);
            }
        }
        self.pump(load);
        if let Some(tls) = &mut self.tls {
            if !tls.is_handshaking() {
                tls.close();
            }
        }
    }
}

impl Upper {
    /// Plaintext (or, without TLS, the socket's bytes) into WebSocket or the load.
    fn deliver(
        &mut self,
        bytes: &[u8],
        load: &mut LoadConn,
        now: u64,
        measure: &mut Measure<'_>,
        inbound: &mut Inbound,
    ) -> Result<(), WireError> {
        let Some(ws) = &mut self.ws else {
            inbound.measured += load.received(bytes, now, measure)?;
            return Ok(());
        };
        let mut input = bytes;
        while let Some(event) = ws.receive(&mut input).map_err(|e| {
            let what = format!("websocket: {e}");
            match e {
                ClientWsError::Protocol(_) => WireError::Protocol(what),
                _ => WireError::Handshake(what),
            }
        })? {
            match event {
                WsEvent::Open => {
                    inbound.ws_handshake = Some(now.saturating_sub(self.ws_from));
                }
                WsEvent::Data(data) => {
                    self.first_seq.get_or_insert(load.verified());
                    inbound.measured += load.received(data, now, measure)?;
                }
                WsEvent::End { text, len } => {
                    let first = self.first_seq.take().unwrap_or(load.verified());
                    load.message_end(first, len, text)?;
                }
                WsEvent::Close { .. } => inbound.ended = true,
            }
        }
        Ok(())
    }
}
