//! `reverb client URL`: the tutorials' interactive client, done right, over TCP, TLS,
//! WebSocket or WebSocket inside TLS.
//!
//! Over TCP and TLS each line of stdin is sent as it is (bytes, not necessarily UTF-8);
//! whatever the server sends back is printed as it arrives, so echoes are never held back
//! waiting for the next line. Over WebSocket each line is one text message (its line
//! break not included; a line that is not UTF-8 goes as a binary message), and each
//! message received is printed as it arrives, ended by a line break. `q`, `quit`, `exit`
//! or the end of input end the client: it half-closes (WebSocket: its close frame, then
//! waits for the server's; TLS: close_notify, then FIN) and keeps printing until the
//! server's own close, so no echo in flight is lost. When the server closes first, the
//! client ends too. `--send-proxy v1|v2` sends a PROXY header first, announcing the
//! connection's real addresses.
//!
//! One thread reads stdin (a terminal cannot be polled portably) and hands lines over a
//! channel; the main thread runs one mio loop over the socket and the protocol sessions
//! (TLS, WebSocket), which are bytes in and bytes out like every layer of the server.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream as StdStream};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::thread;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use reverb_tls::{ClientSession, ClientTls};
use reverb_ws::{ClientWs, WsEvent};

use crate::bench::{proxy_header, Target};
use crate::cli::ClientArgs;

/// Lines that end the client instead of being sent.
const LOCAL_QUIT: [&[u8]; 3] = [b"q", b"quit", b"exit"];

/// The close code the client's WebSocket close frame carries: a normal closure.
const WS_NORMAL_CLOSURE: u16 = 1000;

const SOCKET: Token = Token(0);
const STDIN: Token = Token(1);

/// Why the client failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not one the client speaks.
    #[error("{0}")]
    Url(String),
    /// The address did not resolve.
    #[error("cannot resolve {addr}: {source}")]
    Resolve {
        /// What was given.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// No address accepted the connection.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// What was given.
        addr: String,
        /// The last error.
        source: io::Error,
    },
    /// The TLS settings or session failed.
    #[error("tls: {0}")]
    Tls(String),
    /// The WebSocket handshake or a frame failed.
    #[error("websocket: {0}")]
    Ws(String),
    /// The connection failed while running.
    #[error("connection to {addr} failed: {source}")]
    Io {
        /// The server.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

/// Runs the client on the process's stdin and stdout.
pub fn run(args: &ClientArgs) -> Result<(), ClientError> {
    let target = Target::parse(&args.addr).map_err(ClientError::Url)?;
    if target.scheme.is_http() {
        // Lines in, lines out: an HTTP exchange is no such thing (curl is the client).
        return Err(ClientError::Url(format!(
            "{}:// is for reverb bench; reverb client speaks tcp://, tls://, ws:// and wss://",
            target.scheme.name()
        )));
    }
    let tls = if target.scheme.is_tls() {
        let tls = match (&args.ca, args.insecure) {
            (Some(ca), _) => {
                ClientTls::trusting(ca).map_err(|e| ClientError::Tls(e.to_string()))?
            }
            (None, true) => ClientTls::insecure(),
            (None, false) => {
                return Err(ClientError::Tls(format!(
                    "{}:// needs --ca FILE (the server's --tls-write-cert, or its CA) or \
                     --insecure",
                    target.scheme.name()
                )))
            }
        };
        Some(
            tls.session(&target.host)
                .map_err(|e| ClientError::Tls(e.to_string()))?,
        )
    } else {
        None
    };
    let ws = if target.scheme.is_ws() {
        Some(ClientWs::new(&target.ws_url()).map_err(|e| ClientError::Ws(e.to_string()))?)
    } else {
        None
    };
    let mut stream = connect(&target, args)?;
    let addr = stream.peer_addr().map_err(|source| ClientError::Connect {
        addr: args.addr.clone(),
        source,
    })?;
    let fail = |source| ClientError::Io { addr, source };
    if let Some(version) = args.send_proxy {
        // First on the connection, before any TLS or WebSocket byte; the socket is still
        // blocking, so it all goes now.
        let source = stream.local_addr().map_err(fail)?;
        stream
            .write_all(&proxy_header(version, source, addr))
            .map_err(fail)?;
    }
    // Each line goes out at once rather than waiting for the previous echo's ACK.
    stream.set_nodelay(true).map_err(fail)?;
    stream.set_nonblocking(true).map_err(fail)?;
    let mut stream = TcpStream::from_std(stream);
    let mut poll = Poll::new().map_err(fail)?;
    poll.registry()
        .register(&mut stream, SOCKET, Interest::READABLE | Interest::WRITABLE)
        .map_err(fail)?;
    let waker = Arc::new(Waker::new(poll.registry(), STDIN).map_err(fail)?);
    // The loop keeps a handle too: when the stdin thread ends, its handle goes, and the
    // waker's descriptor must outlive it, or a wake not yet polled would vanish with it.
    let lines = read_lines(Arc::clone(&waker));
    let mut session = Session {
        tls,
        ws,
        pending: VecDeque::new(),
        tls_closed: false,
    };
    let result = drive(&mut poll, &mut stream, &mut session, &lines);
    drop(waker);
    match result {
        Ok(()) => Ok(()),
        Err(Failure::Io(e)) => Err(fail(e)),
        Err(Failure::Tls(e)) => Err(ClientError::Tls(e)),
        Err(Failure::Ws(e)) => Err(ClientError::Ws(e)),
    }
}

fn connect(target: &Target, args: &ClientArgs) -> Result<StdStream, ClientError> {
    let addrs = target.resolve().map_err(|source| ClientError::Resolve {
        addr: args.addr.clone(),
        source,
    })?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match StdStream::connect_timeout(&addr, args.connect_timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(ClientError::Connect {
        addr: args.addr.clone(),
        source: last,
    })
}

/// Reads stdin line by line on a thread of its own, until a local quit word or the end of
/// input (then the channel closes), waking the event loop for each line.
fn read_lines(waker: Arc<Waker>) -> Receiver<Vec<u8>> {
    let (send, receive) = mpsc::channel();
    thread::spawn(move || {
        let stdin = io::stdin();
        let mut input = stdin.lock();
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if is_local_quit(&line) || send.send(line).is_err() {
                break;
            }
            let _ = waker.wake();
        }
        drop(send);
        let _ = waker.wake();
    });
    receive
}

/// A line without its line break (`\n` or `\r\n`).
fn content(line: &[u8]) -> &[u8] {
    let content = line.strip_suffix(b"\n").unwrap_or(line);
    content.strip_suffix(b"\r").unwrap_or(content)
}

fn is_local_quit(line: &[u8]) -> bool {
    LOCAL_QUIT.contains(&content(line))
}

enum Failure {
    Io(io::Error),
    Tls(String),
    Ws(String),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

/// The protocol sessions between the lines and the socket.
struct Session {
    tls: Option<ClientSession>,
    ws: Option<ClientWs>,
    /// Without WebSocket: the bytes of lines not yet handed on (to TLS or the socket).
    pending: VecDeque<u8>,
    /// TLS's close_notify is queued: only once the handshake is done and everything
    /// above has been handed to the session.
    tls_closed: bool,
}

impl Session {
    /// A line from stdin: as it is, or as one WebSocket message.
    fn line(&mut self, line: Vec<u8>) {
        match &mut self.ws {
            None => self.pending.extend(line),
            Some(ws) => {
                let payload = content(&line);
                ws.send(payload, std::str::from_utf8(payload).is_ok());
            }
        }
    }

    /// Stdin ended: the WebSocket close handshake begins (the TCP and TLS close follow
    /// once everything is sent).
    fn input_done(&mut self) {
        if let Some(ws) = &mut self.ws {
            ws.close(WS_NORMAL_CLOSURE);
        }
    }

    /// Bytes waiting above TLS (or, without TLS, for the socket).
    fn upper(&mut self) -> &[u8] {
        match &self.ws {
            Some(ws) => ws.transmit(),
            None => self.pending.make_contiguous(),
        }
    }

    fn upper_taken(&mut self, n: usize) {
        match &mut self.ws {
            Some(ws) => ws.transmitted(n),
            None => {
                self.pending.drain(..n);
            }
        }
    }

    /// Whether the layers above TCP have said all they will: the end of input was sent
    /// (WebSocket: both close frames went), so close_notify and the FIN may follow.
    fn upper_done(&mut self, input_done: bool) -> bool {
        let sent = self.upper().is_empty();
        match &self.ws {
            Some(ws) => sent && !ws.is_open() && !ws.is_handshaking(),
            None => sent && input_done,
        }
    }

    /// Bytes for the socket.
    fn wire(&mut self) -> &[u8] {
        if self.tls.is_none() {
            return self.upper();
        }
        self.tls.as_ref().map_or(&[], ClientSession::transmit)
    }

    fn wire_written(&mut self, n: usize) {
        match &mut self.tls {
            Some(tls) => tls.transmitted(n),
            None => self.upper_taken(n),
        }
    }

    /// Moves bytes from above into TLS, and TLS's close_notify once all is said.
    fn pump(&mut self, input_done: bool) {
        if self.tls.is_none() {
            return;
        }
        loop {
            let Session {
                tls, ws, pending, ..
            } = self;
            let tls = tls.as_mut().expect("checked above");
            let upper: &[u8] = match ws {
                Some(ws) => ws.transmit(),
                None => pending.make_contiguous(),
            };
            if upper.is_empty() {
                break;
            }
            let taken = tls.send(upper);
            if taken == 0 {
                break;
            }
            self.upper_taken(taken);
        }
        let done = self.upper_done(input_done);
        if let Some(tls) = &mut self.tls {
            if done && !tls.is_handshaking() && !self.tls_closed {
                tls.close();
                self.tls_closed = true;
            }
        }
    }

    /// Whether the FIN may go: everything is said (TLS: close_notify queued, never
    /// before the handshake's end) and written.
    fn finished_sending(&mut self, input_done: bool) -> bool {
        self.upper_done(input_done)
            && (self.tls.is_none() || self.tls_closed)
            && self.wire().is_empty()
    }

    /// Something more to write now (a handshake flight, a pong, a close reply, messages
    /// held until the upgrade was accepted).
    fn has_output(&mut self) -> bool {
        !self.wire().is_empty() || !self.upper().is_empty()
    }
}

/// What the server sent (plaintext, or the socket's bytes without TLS), through the
/// WebSocket session if there is one, to stdout. Returns whether the server's WebSocket
/// close frame came.
fn print(
    ws: &mut Option<ClientWs>,
    bytes: &[u8],
    input_done: bool,
    out: &mut impl Write,
) -> Result<bool, Failure> {
    {
        let Some(ws) = ws else {
            out.write_all(bytes)?;
            return Ok(false);
        };
        let mut input = bytes;
        while let Some(event) = ws
            .receive(&mut input)
            .map_err(|e| Failure::Ws(e.to_string()))?
        {
            match event {
                WsEvent::Open => {}
                WsEvent::Data(data) => out.write_all(data)?,
                WsEvent::End { .. } => out.write_all(b"\n")?,
                WsEvent::Close { code, reason } => {
                    if !input_done {
                        let code = code.map_or("no code".to_owned(), |c| c.to_string());
                        eprintln!("reverb: the server closed the websocket ({code} {reason})");
                    }
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// The event loop: lines out, replies to stdout, until the server's close.
fn drive(
    poll: &mut Poll,
    stream: &mut TcpStream,
    session: &mut Session,
    lines: &Receiver<Vec<u8>>,
) -> Result<(), Failure> {
    let mut events = Events::with_capacity(16);
    let mut input_done = false;
    let mut write_closed = false;
    // The server's WebSocket close came: its end was announced, so the close message
    // after ours is not "the server closed".
    let mut ws_closed = false;
    let mut buf = vec![0u8; 64 * 1024];
    let stdout = io::stdout();
    loop {
        // Edge-triggered readiness: the loop sleeps only once every write has either
        // finished or met `WouldBlock` (then a writable event comes), never with bytes it
        // could still write (no event would ever come for them).
        let mut write_blocked = false;
        // Lines in.
        if !input_done {
            loop {
                match lines.try_recv() {
                    Ok(line) => session.line(line),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        input_done = true;
                        session.input_done();
                        break;
                    }
                }
            }
        }
        // Down through the sessions, and out.
        session.pump(input_done);
        while !session.wire().is_empty() {
            match stream.write(session.wire()) {
                Ok(n) => session.wire_written(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    write_blocked = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if server_gone(&e) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            session.pump(input_done);
        }
        // The FIN follows the close frames and close_notify, never a handshake's last word.
        if !write_closed && session.finished_sending(input_done) {
            write_closed = shut(stream)?;
        }
        // Replies out to stdout, until the server's close.
        loop {
            let n = match stream.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if server_gone(&e) => 0,
                Err(e) => return Err(e.into()),
            };
            let ended = n == 0;
            let mut out = stdout.lock();
            if let Some(tls) = &mut session.tls {
                if ended {
                    tls.receive_end();
                } else {
                    tls.receive(&buf[..n]).map_err(Failure::Tls)?;
                }
            }
            let Session { tls, ws, .. } = &mut *session;
            match tls {
                None if ended => {}
                None => ws_closed |= print(ws, &buf[..n], input_done, &mut out)?,
                Some(tls) => loop {
                    match tls.plaintext() {
                        Some([]) => break,
                        Some(text) => {
                            let len = text.len();
                            ws_closed |= print(ws, text, input_done, &mut out)?;
                            tls.consume(len);
                        }
                        None => return finish(input_done || ws_closed, &mut out),
                    }
                },
            }
            if ended {
                return finish(input_done || ws_closed, &mut out);
            }
            out.flush()?;
        }
        // Reading may have given the sessions more to say (the handshake's next flight,
        // a pong, a close reply).
        if session.has_output() && !write_blocked {
            continue;
        }
        poll.poll(&mut events, None).or_else(|e| match e.kind() {
            io::ErrorKind::Interrupted => Ok(()),
            _ => Err(e),
        })?;
    }
}

/// The server closed: flush what was printed; if stdin was still open, say so.
fn finish(announced: bool, out: &mut impl Write) -> Result<(), Failure> {
    out.flush()?;
    if !announced {
        eprintln!("reverb: the server closed the connection");
    }
    Ok(())
}

/// Half-closes the socket: the server echoes what it has, then closes its side too.
fn shut(stream: &TcpStream) -> Result<bool, Failure> {
    match stream.shutdown(Shutdown::Write) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// A server that closed first (broken pipe, reset) ends the client quietly.
fn server_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_quit_words_are_recognised_with_any_line_ending() {
        for line in [&b"q\n"[..], b"quit\r\n", b"exit"] {
            assert!(is_local_quit(line));
        }
        assert!(!is_local_quit(b"quitting\n"));
    }

    #[test]
    fn a_websocket_line_is_one_message_without_its_line_break() {
        let mut session = Session {
            tls: None,
            ws: Some(ClientWs::new("ws://localhost:1/").unwrap()),
            pending: VecDeque::new(),
            tls_closed: false,
        };
        let request = session.wire().len();
        session.wire_written(request);
        // Held until the upgrade is accepted: nothing more to write yet.
        session.line(b"hello\r\n".to_vec());
        assert!(session.wire().is_empty());
    }
}
