//! `--admin ADDR`: a small HTTP/1.1 endpoint for operators, on the first worker's event
//! loop under tokens of its own (no thread, no runtime of its own). `GET /metrics` is
//! the Prometheus exposition, `GET /healthz` says `200 ok` while the server accepts and
//! `503 draining` from the first SIGTERM/SIGINT on, so a balancer stops sending before
//! the listeners close.
//!
//! One request per connection (`Connection: close`), and everything bounded: the request
//! head ([`MAX_REQUEST`]), what is read after the answer ([`MAX_DRAIN`]), the connections
//! open at once ([`MAX_CONNECTIONS`], the oldest silent one making room for a new one) and
//! each connection's whole life ([`TIMEOUT`]). Whatever a client sends is answered with a
//! status or a close, never a panic; the echo listeners never see any of it, and no
//! client can hold the loop they share.

use std::io::{self, Read};
use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};
use reverb_core::Instant;

use super::exposition::{self, Exposition};
use super::Control;
use crate::net::{classify_accept_error, write_until_blocked, AcceptError, Registration};

/// The largest request head read. A scraper's or a probe's is a few hundred bytes.
pub(crate) const MAX_REQUEST: usize = 8 * 1024;

/// Admin connections open at once; more are closed at once. Scrapers and probes open
/// one or two at a time.
pub(crate) const MAX_CONNECTIONS: usize = 16;

/// How long one admin connection may live, from accept to close: a request, its answer
/// and the client's close fit in milliseconds; a client that sends nothing or reads
/// nothing is dropped after this.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// What a client may still send once answered (read and dropped, so that closing with
/// unread bytes does not reset the answer away) before it is closed anyway: a pipelined
/// request or two. A client that keeps sending would otherwise keep the loop — the first
/// echo worker's — reading for it.
pub(crate) const MAX_DRAIN: usize = 64 * 1024;

/// Headers parsed per request; a request with more is answered 431.
const MAX_HEADERS: usize = 32;

/// Where one admin connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the request head.
    Reading,
    /// Writing the answer.
    Writing,
    /// Answer sent and our FIN too: reading (and dropping) until the client closes, so
    /// that a close with unread bytes cannot reset the answer away.
    Closing,
}

#[derive(Debug)]
struct AdminConn {
    stream: TcpStream,
    registration: Registration,
    phase: Phase,
    request: Vec<u8>,
    answer: Vec<u8>,
    written: usize,
    /// Bytes read and dropped after the answer.
    drained: usize,
    deadline: Instant,
}

/// The admin endpoint: its listener and its connections.
#[derive(Debug)]
pub(crate) struct Admin {
    listener: TcpListener,
    base: usize,
    conns: Vec<Option<AdminConn>>,
    /// Connections open: the loop asks for the deadline every turn, and with none open
    /// the answer must cost nothing.
    open: usize,
    exposition: Exposition,
    control: Arc<Control>,
}

/// What a request asked for, and the answer's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Metrics,
    Health,
    NotFound,
    MethodNotAllowed,
    BadRequest,
    TooLarge,
}

impl Admin {
    /// `base` is the listener's token; its connections take the next
    /// [`MAX_CONNECTIONS`] tokens.
    pub(crate) fn new(
        mut listener: TcpListener,
        selector: &mio::Registry,
        base: usize,
        exposition: Exposition,
        control: Arc<Control>,
    ) -> io::Result<Self> {
        selector.register(&mut listener, Token(base), Interest::READABLE)?;
        Ok(Admin {
            listener,
            base,
            conns: (0..MAX_CONNECTIONS).map(|_| None).collect(),
            open: 0,
            exposition,
            control,
        })
    }

    /// Whether the token is the admin listener's or one of its connections'.
    pub(crate) fn owns(base: usize, token: Token) -> bool {
        (base..=base + MAX_CONNECTIONS).contains(&token.0)
    }

    /// A readiness event for one of [`owns`](Self::owns)'s tokens.
    pub(crate) fn on_event(&mut self, selector: &mio::Registry, token: Token, now: Instant) {
        if token.0 == self.base {
            self.accept(selector, now);
        } else {
            self.advance(selector, token.0 - self.base - 1);
        }
    }

    /// The earliest connection deadline; none while no admin connection is open, so an
    /// idle endpoint never wakes its loop.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        if self.open == 0 {
            return None;
        }
        self.conns.iter().flatten().map(|c| c.deadline).min()
    }

    /// Drops the connections whose time is up.
    pub(crate) fn on_timeout(&mut self, selector: &mio::Registry, now: Instant) {
        if self.open == 0 {
            return;
        }
        for slot in 0..self.conns.len() {
            if self.conns[slot].as_ref().is_some_and(|c| c.deadline <= now) {
                self.close(selector, slot);
            }
        }
    }

    fn accept(&mut self, selector: &mio::Registry, now: Instant) {
        loop {
            let (mut stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                // Out of descriptors, the echo's own accept loop backs off and retries;
                // here the next probe's connection brings a new readiness event, and a
                // probe that got nothing retries anyway.
                Err(e) => match classify_accept_error(&e) {
                    AcceptError::WouldBlock | AcceptError::Exhausted => return,
                    AcceptError::Retry | AcceptError::Skip => continue,
                },
            };
            let Some(slot) = self.free_slot(selector) else {
                tracing::debug!(%peer, "admin: {MAX_CONNECTIONS} answers being written; closing a new connection");
                continue;
            };
            let token = Token(self.base + 1 + slot);
            if let Err(e) = selector.register(&mut stream, token, Interest::READABLE) {
                tracing::debug!(%peer, error = %e, "admin: cannot register a connection");
                continue;
            }
            self.open += 1;
            self.conns[slot] = Some(AdminConn {
                stream,
                registration: Registration::registered(Interest::READABLE),
                phase: Phase::Reading,
                request: Vec::new(),
                answer: Vec::new(),
                written: 0,
                drained: 0,
                deadline: now + TIMEOUT,
            });
            // Edge-triggered: the request may already be there.
            self.advance(selector, slot);
        }
    }

    /// A free slot; when every one is taken, the oldest connection that is not being
    /// answered gives up its own, so connections that send nothing cannot shut probes and
    /// scrapers out for [`TIMEOUT`]. `None` only while every connection is being written
    /// its answer.
    fn free_slot(&mut self, selector: &mio::Registry) -> Option<usize> {
        if let Some(slot) = self.conns.iter().position(Option::is_none) {
            return Some(slot);
        }
        let (slot, _) = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(slot, c)| c.as_ref().map(|c| (slot, c)))
            .filter(|(_, c)| c.phase != Phase::Writing)
            .min_by_key(|(_, c)| c.deadline)?;
        tracing::debug!("admin: {MAX_CONNECTIONS} connections open; closing the oldest silent one");
        self.close(selector, slot);
        Some(slot)
    }

    /// Moves one connection as far as its socket allows.
    fn advance(&mut self, selector: &mio::Registry, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if conn.phase == Phase::Reading {
            match read_request(conn) {
                Request::More => {}
                Request::Gone => return self.close(selector, slot),
                Request::Whole(route, head) => {
                    conn.answer = answer(route, head, &self.exposition, &self.control);
                    conn.phase = Phase::Writing;
                }
            }
        }
        if conn.phase == Phase::Writing {
            let out = write_until_blocked(&mut conn.stream, &conn.answer[conn.written..]);
            conn.written += out.written;
            if matches!(out.stopped, Some(Err(_))) {
                return self.close(selector, slot);
            }
            if conn.written == conn.answer.len() {
                conn.answer = Vec::new();
                if conn.stream.shutdown(Shutdown::Write).is_err() {
                    return self.close(selector, slot);
                }
                conn.phase = Phase::Closing;
            }
        }
        if conn.phase == Phase::Closing && drain_until_closed(&mut conn.stream, &mut conn.drained) {
            return self.close(selector, slot);
        }
        let want = match conn.phase {
            Phase::Writing => Interest::WRITABLE,
            Phase::Reading | Phase::Closing => Interest::READABLE,
        };
        let token = Token(self.base + 1 + slot);
        if conn
            .registration
            .update(selector, &mut conn.stream, token, Some(want))
            .is_err()
        {
            self.close(selector, slot);
        }
    }

    fn close(&mut self, selector: &mio::Registry, slot: usize) {
        if let Some(mut conn) = self.conns.get_mut(slot).and_then(Option::take) {
            self.open -= 1;
            if conn.registration.current().is_some() {
                let _ = selector.deregister(&mut conn.stream);
            }
        }
    }
}

/// What reading a request came to.
enum Request {
    /// The head is not whole yet.
    More,
    /// The client closed or failed before its head was whole: nothing to answer.
    Gone,
    /// The head is whole (or can never be): the route, and whether only the head of the
    /// answer is wanted (`HEAD`).
    Whole(Route, bool),
}

/// Reads what the socket has, up to [`MAX_REQUEST`] bytes, and parses it.
fn read_request(conn: &mut AdminConn) -> Request {
    let mut buf = [0u8; 1024];
    loop {
        let room = MAX_REQUEST - conn.request.len();
        if room == 0 {
            return Request::Whole(Route::TooLarge, false);
        }
        let want = room.min(buf.len());
        match conn.stream.read(&mut buf[..want]) {
            Ok(0) => return Request::Gone,
            Ok(n) => {
                conn.request.extend_from_slice(&buf[..n]);
                if let Some(whole) = parse(&conn.request) {
                    return whole;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Request::More,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Request::Gone,
        }
    }
}

/// The route of a whole request head; `None` while it is partial.
fn parse(bytes: &[u8]) -> Option<Request> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let parsed = request.parse(bytes);
    let route = match parsed {
        Ok(httparse::Status::Partial) => return None,
        Err(httparse::Error::TooManyHeaders) => Route::TooLarge,
        Err(_) => Route::BadRequest,
        Ok(httparse::Status::Complete(_)) => {
            let path = request.path.unwrap_or("");
            // The query does not change what is answered.
            let path = path.split('?').next().unwrap_or(path);
            let method = request.method.unwrap_or("");
            let head = method == "HEAD";
            let route = match path {
                "/metrics" => Route::Metrics,
                "/healthz" => Route::Health,
                _ => Route::NotFound,
            };
            let route = if route != Route::NotFound && method != "GET" && !head {
                Route::MethodNotAllowed
            } else {
                route
            };
            return Some(Request::Whole(route, head));
        }
    };
    Some(Request::Whole(route, false))
}

/// The whole answer to a request: status line, headers, and the body unless `head`.
fn answer(route: Route, head: bool, exposition: &Exposition, control: &Control) -> Vec<u8> {
    let text = "text/plain; charset=utf-8";
    let (status, content_type, body) = match route {
        Route::Metrics => ("200 OK", exposition::CONTENT_TYPE, exposition.render()),
        Route::Health if healthy(control) => ("200 OK", text, "ok\n".to_owned()),
        Route::Health => ("503 Service Unavailable", text, "draining\n".to_owned()),
        Route::NotFound => ("404 Not Found", text, "not found\n".to_owned()),
        Route::MethodNotAllowed => (
            "405 Method Not Allowed",
            text,
            "method not allowed\n".to_owned(),
        ),
        Route::BadRequest => ("400 Bad Request", text, "bad request\n".to_owned()),
        Route::TooLarge => (
            "431 Request Header Fields Too Large",
            text,
            "request too large\n".to_owned(),
        ),
    };
    let allow = if route == Route::MethodNotAllowed {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         {allow}Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// Healthy while the server accepts: not from the first signal on (nor once a worker
/// failed and everything stops).
fn healthy(control: &Control) -> bool {
    !control.draining.load(Ordering::Acquire) && !control.stopping.load(Ordering::Acquire)
}

/// Reads and drops what the client still sends; `true` once it closed (or failed), or
/// sent more than [`MAX_DRAIN`] in all (`drained` counts it): then it is closed anyway.
fn drain_until_closed(stream: &mut TcpStream, drained: &mut usize) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        if *drained > MAX_DRAIN {
            return true;
        }
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => *drained += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(request: &[u8]) -> Option<(Route, bool)> {
        match parse(request)? {
            Request::Whole(route, head) => Some((route, head)),
            _ => None,
        }
    }

    #[test]
    fn requests_are_routed_by_path_then_method() {
        let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            route(get("/metrics").as_bytes()),
            Some((Route::Metrics, false))
        );
        assert_eq!(
            route(get("/healthz?verbose").as_bytes()),
            Some((Route::Health, false))
        );
        assert_eq!(route(get("/").as_bytes()), Some((Route::NotFound, false)));
        assert_eq!(
            route(b"HEAD /healthz HTTP/1.0\r\n\r\n"),
            Some((Route::Health, true))
        );
        assert_eq!(
            route(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Some((Route::MethodNotAllowed, false))
        );
        assert_eq!(
            route(b"POST /nowhere HTTP/1.1\r\n\r\n"),
            Some((Route::NotFound, false))
        );
    }

    #[test]
    fn a_partial_head_waits_and_garbage_is_a_bad_request() {
        assert_eq!(route(b"GET /metrics HTTP/1.1\r\nHost"), None);
        assert_eq!(
            route(b"\x16\x03\x01\x02\x00 not http\r\n\r\n"),
            Some((Route::BadRequest, false))
        );
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(route(many.as_bytes()), Some((Route::TooLarge, false)));
    }
}
