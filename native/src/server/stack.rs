//! The stacks of layers the server offers, as one type its registry holds: chosen once per
//! connection at accept time, from the listener's config.
//!
//! Each variant is a stack from `reverb-core` (and, as they land, from the protocol
//! crates); `Stack` only forwards the `Layer` calls to the one it holds, so the driver
//! never matches on a protocol. A listener kind added later is one more variant here.

use std::net::SocketAddr;

use reverb_core::{
    CloseReason, Deadlines, Echo, EchoView, Event, Faults, Instant, Layer, LayerState, Leftover,
    ValidConfig,
};
use reverb_http::{Http, HttpConfig, Peer};
use reverb_proxy::{Announce, Proxy, ProxyHeader};
use reverb_tls::{ServerTls, Tls};
use reverb_ws::{Ws, WsConfig};

use super::{Listener, ServerOptions};

/// What a listener gives each of its connections: its echo's config and, for `tls://`,
/// `wss://` and `https://`, the certificate, for `ws://` and `wss://` the WebSocket
/// settings, for `http://` and `https://` the HTTP echo's, and whether a PROXY header
/// comes first.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) config: ValidConfig,
    pub(crate) tls: Option<ServerTls>,
    pub(crate) ws: Option<WsConfig>,
    pub(crate) http: Option<HttpConfig>,
    pub(crate) proxy: bool,
}

impl Plan {
    /// The plan of one of the server's listeners.
    pub(crate) fn new(listener: &Listener, options: &ServerOptions) -> Plan {
        let tls = listener.scheme.is_tls().then(|| options.tls.clone());
        Plan {
            config: listener.config.clone(),
            tls: tls.flatten(),
            ws: listener.ws.clone(),
            http: listener.http,
            proxy: listener.proxy,
        }
    }
}

/// One connection's stack.
// The echo is held inline: it is most connections', and boxing it would cost each one an
// allocation and a pointer chase; the rarer, larger stacks are the ones boxed.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Stack {
    /// The echo alone.
    Echo(Echo),
    /// Any other composition, boxed: the echo (or the HTTP echo) under the fault layer
    /// (`--delay`, `--rate`, …), inside WebSocket, inside TLS, or several of these. One
    /// indirect call per layer method is nothing beside what those layers do.
    Composed(Box<dyn Layer + Send>),
    /// Any of these behind a PROXY protocol header, which is read below everything else:
    /// the driver asks it what the header said.
    Proxied(Proxy<Box<dyn Layer + Send>>),
}

impl Stack {
    /// The stack `plan` asks for, for connection number `conn` (its fault layer's random
    /// choices depend on it) from `peer` to `local`: the echo (the HTTP echo for
    /// `http://` and `https://`), then faults if any is on, then WebSocket, then TLS, if
    /// the listener speaks them, then the PROXY header's reader below all of them. The
    /// faults act on the application's bytes, so over WebSocket `--chunk` cuts each reply
    /// into frames; `wss://` is `Tls<Ws<…>>`, `https://` with `?proxy=1`
    /// `Proxy<Tls<Http>>`.
    pub(crate) fn new(
        plan: &Plan,
        conn: u64,
        now: Instant,
        peer: SocketAddr,
        local: Option<SocketAddr>,
    ) -> Stack {
        let config = &plan.config;
        let plain = plan.tls.is_none() && plan.ws.is_none() && plan.http.is_none();
        if !config.faults.is_active() && plain && !plan.proxy {
            return Stack::Echo(Echo::new(config.clone(), now));
        }
        // The HTTP echo reports the PROXY header's client in its JSON: the slot it reads
        // is the one the PROXY layer sets.
        let announce = (plan.proxy && plan.http.is_some()).then(Announce::new);
        let app: Box<dyn Layer + Send> = match &plan.http {
            Some(http) => {
                let peer = Peer {
                    addr: Some(peer),
                    local,
                    proxy: announce.clone(),
                };
                Box::new(Http::new(http, config, now, peer))
            }
            None => Box::new(Echo::new(config.clone(), now)),
        };
        let mut stack: Box<dyn Layer + Send> = if config.faults.is_active() {
            Box::new(Faults::new(&config.faults, conn, now, app))
        } else {
            app
        };
        if let Some(ws) = &plan.ws {
            stack = Box::new(Ws::new(ws, now, stack));
        }
        if let Some(tls) = &plan.tls {
            stack = Box::new(Tls::new(tls, now, stack));
        }
        if plan.proxy {
            let proxy = Proxy::new(now, stack);
            return Stack::Proxied(match announce {
                Some(slot) => proxy.announce_to(slot),
                None => proxy,
            });
        }
        Stack::Composed(stack)
    }

    /// What the connection's PROXY header said, once it was read; `None` before, and
    /// always for a listener that takes none.
    pub(crate) fn proxy_header(&self) -> Option<&ProxyHeader> {
        match self {
            Stack::Proxied(proxy) => proxy.header(),
            Stack::Echo(_) | Stack::Composed(_) => None,
        }
    }
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stack::Echo(echo) => f.debug_tuple("Echo").field(echo).finish(),
            Stack::Composed(_) => f.write_str("Composed(..)"),
            Stack::Proxied(proxy) => f.debug_tuple("Proxied").field(&proxy.header()).finish(),
        }
    }
}

/// Forwards a `Layer` method to the stack held.
macro_rules! forward {
    ($self:ident, $layer:ident => $call:expr) => {
        match $self {
            Stack::Echo($layer) => $call,
            Stack::Composed($layer) => $call,
            Stack::Proxied($layer) => $call,
        }
    };
}

impl Layer for Stack {
    fn receive_capacity(&self) -> usize {
        forward!(self, l => l.receive_capacity())
    }
    fn receive(&mut self, now: Instant, bytes: &[u8]) -> usize {
        forward!(self, l => l.receive(now, bytes))
    }
    fn receive_end(&mut self, now: Instant) {
        forward!(self, l => l.receive_end(now))
    }
    fn receive_boundary(&mut self, now: Instant) {
        forward!(self, l => l.receive_boundary(now))
    }
    fn transmit(&self) -> &[u8] {
        forward!(self, l => l.transmit())
    }
    fn transmitted(&mut self, now: Instant, n: usize) {
        forward!(self, l => l.transmitted(now, n))
    }
    fn close(&mut self, now: Instant, reason: CloseReason, leftover: Leftover) {
        forward!(self, l => l.close(now, reason, leftover))
    }
    fn state(&self) -> LayerState {
        forward!(self, l => l.state())
    }
    fn poll_event(&mut self) -> Option<Event> {
        forward!(self, l => l.poll_event())
    }
    fn deadline(&self) -> Option<Instant> {
        forward!(self, l => l.deadline())
    }
    fn handle_timeout(&mut self, now: Instant) {
        forward!(self, l => l.handle_timeout(now))
    }
    fn timers(&self, deadlines: &mut Deadlines) {
        forward!(self, l => l.timers(deadlines))
    }
    fn held(&self) -> (usize, usize) {
        forward!(self, l => l.held())
    }
    fn allocated(&self) -> usize {
        forward!(self, l => l.allocated())
    }
    fn view(&self) -> Option<EchoView<'_>> {
        forward!(self, l => l.view())
    }
}
