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

use super::http::HttpClient;
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
    /// `http://`, `https://`: the requests' `Host` and path.
    pub(crate) http: Option<(String, String)>,
}

impl Wiring {
    /// Whether bytes go straight between socket and load: no layer at all.
    pub(crate) fn plain(&self) -> bool {
        self.proxy.is_none() && self.tls.is_none() && self.ws.is_none() && self.http.is_none()
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
                http: self
                    .http
                    .as_ref()
                    .map(|(host, path)| HttpClient::new(host, path, size)),
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

/// What is above TLS: WebSocket framing, HTTP requests, or the load directly.
#[derive(Debug)]
struct Upper {
    ws: Option<ClientWs>,
    http: Option<HttpClient>,
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
        if ready && load.wants_write() {
            let pending = load.pending();
            debug_assert_eq!(pending.len() % self.upper.size, 0, "whole messages");
            let n = pending.len();
            // Each message one WebSocket message, or one HTTP request's body.
            match (&mut self.upper.ws, &mut self.upper.http) {
                (Some(ws), _) => {
                    for message in pending.chunks(self.upper.size) {
                        ws.send(message, self.upper.text);
                    }
                    load.taken(n);
                }
                (None, Some(http)) => {
                    for message in pending.chunks(self.upper.size) {
                        http.send(message);
                    }
                    load.taken(n);
                }
                (None, None) => {}
            }
        }
        let Some(tls) = &mut self.tls else {
            return;
        };
        match self.upper.framed() {
            Some(_) => {
                while let Some(bytes @ [_, ..]) = self.upper.framed() {
                    let n = tls.send(bytes);
                    if n == 0 {
                        break;
                    }
                    self.upper.framed_sent(n);
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
        match &self.tls {
            Some(tls) => tls.transmit(),
            None => self.upper.framed().unwrap_or(load.pending()),
        }
    }

    /// `n` bytes of [`wire`](Self::wire) were written.
    pub(crate) fn wrote(&mut self, n: usize, load: &mut LoadConn) {
        if self.preamble_head < self.preamble.len() {
            self.preamble_head += n;
            return;
        }
        match &mut self.tls {
            Some(tls) => tls.transmitted(n),
            None if self.upper.framed().is_some() => self.upper.framed_sent(n),
            None => load.taken(n),
        }
    }

    /// Whether bytes wait to be written (after a [`pump`](Self::pump)).
    pub(crate) fn wants_write(&self, load: &LoadConn) -> bool {
        !self.wire(load).is_empty()
            || self.upper.framed().is_some_and(|b| !b.is_empty())
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
    /// WebSocket frames or HTTP requests waiting to go down; `None` when the load's
    /// messages go down as they are.
    fn framed(&self) -> Option<&[u8]> {
        match (&self.ws, &self.http) {
            (Some(ws), _) => Some(ws.transmit()),
            (None, Some(http)) => Some(http.transmit()),
            (None, None) => None,
        }
    }

    /// `n` bytes of [`framed`](Self::framed) went down.
    fn framed_sent(&mut self, n: usize) {
        match (&mut self.ws, &mut self.http) {
            (Some(ws), _) => ws.transmitted(n),
            (None, Some(http)) => http.transmitted(n),
            (None, None) => {}
        }
    }

    /// Plaintext (or, without TLS, the socket's bytes) into WebSocket, HTTP or the load.
    fn deliver(
        &mut self,
        bytes: &[u8],
        load: &mut LoadConn,
        now: u64,
        measure: &mut Measure<'_>,
        inbound: &mut Inbound,
    ) -> Result<(), WireError> {
        if let Some(http) = &mut self.http {
            let mut input = bytes;
            while let Some(data) = http.receive(&mut input).map_err(WireError::Protocol)? {
                inbound.measured += load.received(data, now, measure)?;
            }
            return Ok(());
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{Histogram, Pattern};
    use reverb_core::{Config, Echo, Instant, Layer};
    use reverb_tls::{ServerTls, Tls};
    use reverb_ws::{Ws, WsConfig};

    const SIZE: usize = 64;

    fn addrs() -> (SocketAddr, SocketAddr) {
        (
            "127.0.0.1:50000".parse().unwrap(),
            "127.0.0.1:7444".parse().unwrap(),
        )
    }

    /// Moves bytes between the layers and a server stack in memory until both are
    /// quiet, the server's output cut into pieces of `piece` bytes; returns what the
    /// layers reported, merged.
    fn exchange(
        layers: &mut Layers,
        load: &mut LoadConn,
        server: &mut impl Layer,
        now: u64,
        piece: usize,
    ) -> Inbound {
        let mut total = Inbound::default();
        let mut latency = Histogram::default();
        for _ in 0..1000 {
            let mut moved = false;
            layers.pump(load);
            let up = layers.wire(load).to_vec();
            if !up.is_empty() {
                let n = server.receive(Instant::ZERO, &up);
                layers.wrote(n, load);
                moved |= n > 0;
            }
            let down = server.transmit().to_vec();
            if !down.is_empty() {
                server.transmitted(Instant::ZERO, down.len());
                for chunk in down.chunks(piece) {
                    let mut measure = Measure {
                        from: 0,
                        latency: &mut latency,
                    };
                    let inbound = layers
                        .receive(chunk, load, now, &mut measure)
                        .unwrap_or_else(|e| panic!("{e:?}"));
                    total.measured += inbound.measured;
                    total.tls_handshake = total.tls_handshake.or(inbound.tls_handshake);
                    total.ws_handshake = total.ws_handshake.or(inbound.ws_handshake);
                    total.ended |= inbound.ended;
                }
                moved = true;
            }
            if !moved {
                return total;
            }
        }
        panic!("never settled");
    }

    #[test]
    fn wss_is_websocket_inside_tls_each_handshake_timed_and_every_byte_checked() {
        let server_tls = ServerTls::self_signed(&["localhost".into()]).unwrap();
        let config = Config::default().validate().unwrap();
        for piece in [1, 7, 1 << 16] {
            let mut server = Tls::new(
                &server_tls,
                Instant::ZERO,
                Ws::new(
                    &WsConfig::default(),
                    Instant::ZERO,
                    Echo::new(config.clone(), Instant::ZERO),
                ),
            );
            let wiring = Wiring {
                proxy: None,
                tls: Some((ClientTls::insecure(), "localhost".into())),
                ws: Some("ws://localhost:7444/".into()),
                text: true,
                http: None,
            };
            let (source, destination) = addrs();
            let mut layers = wiring.open(source, destination, 1_000, SIZE).unwrap();
            let mut load = LoadConn::new(
                7,
                Pattern {
                    size: SIZE,
                    line: true,
                },
            );
            assert!(!layers.ready());
            let inbound = exchange(&mut layers, &mut load, &mut server, 5_000, piece);
            assert!(layers.ready(), "piece {piece}");
            assert_eq!(inbound.tls_handshake, Some(4_000), "from the connect");
            assert_eq!(inbound.ws_handshake, Some(0), "from the end of TLS");
            for _ in 0..3 {
                load.queue(5_000, 5_000);
            }
            let inbound = exchange(&mut layers, &mut load, &mut server, 6_000, piece);
            assert_eq!((inbound.measured, load.verified()), (3, 3), "piece {piece}");
            assert_eq!(load.in_flight(), 0);
            // The end: a close frame, then close_notify; the server answers both.
            layers.finish(&mut load);
            let inbound = exchange(&mut layers, &mut load, &mut server, 7_000, piece);
            assert!(inbound.ended, "piece {piece}");
        }
    }

    #[test]
    fn a_proxy_header_goes_first_then_the_load_bytes_as_they_are() {
        let wiring = Wiring {
            proxy: Some(ProxyVersion::V1),
            ..Wiring::default()
        };
        assert!(!wiring.plain());
        let (source, destination) = addrs();
        let mut layers = wiring.open(source, destination, 0, SIZE).unwrap();
        assert!(layers.ready(), "no handshake to wait for");
        let mut load = LoadConn::new(
            1,
            Pattern {
                size: SIZE,
                line: false,
            },
        );
        load.queue(0, 0);
        let header = b"PROXY TCP4 127.0.0.1 127.0.0.1 50000 7444\r\n";
        assert_eq!(layers.wire(&load), header);
        layers.wrote(10, &mut load);
        assert_eq!(layers.wire(&load), &header[10..], "a short write resumes");
        layers.wrote(header.len() - 10, &mut load);
        let message = load.pending().to_vec();
        assert_eq!(layers.wire(&load), message, "then the message itself");
        layers.wrote(SIZE, &mut load);
        assert!(!layers.wants_write(&load));
    }

    #[test]
    fn a_refused_upgrade_is_a_failed_handshake() {
        let wiring = Wiring {
            ws: Some("ws://localhost:1/".into()),
            ..Wiring::default()
        };
        let (source, destination) = addrs();
        let mut layers = wiring.open(source, destination, 0, SIZE).unwrap();
        let mut load = LoadConn::new(
            1,
            Pattern {
                size: SIZE,
                line: false,
            },
        );
        let mut latency = Histogram::default();
        let mut measure = Measure {
            from: 0,
            latency: &mut latency,
        };
        let refusal = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        match layers.receive(refusal, &mut load, 0, &mut measure) {
            Err(WireError::Handshake(what)) => {
                assert_eq!(
                    what,
                    "websocket: the server refused the upgrade: HTTP 404 Not Found"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
