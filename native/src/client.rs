//! `reverb client URL`: the tutorials' interactive client, done right, over TCP or TLS.
//!
//! Each line of stdin is sent as it is (bytes, not necessarily UTF-8); whatever the server
//! sends back is printed as it arrives, so echoes are never held back waiting for the next
//! line. `q`, `quit`, `exit` or the end of input end the client: it half-closes (TLS:
//! close_notify, then FIN) and keeps printing until the server's own close, so no echo in
//! flight is lost. When the server closes first, the client ends too.
//!
//! One thread reads stdin (a terminal cannot be polled portably) and hands lines over a
//! channel; the main thread runs one mio loop over the socket and the TLS session, which
//! is bytes in and bytes out like every layer of the server.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream as StdStream, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::thread;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use reverb_tls::{ClientSession, ClientTls};

use crate::cli::ClientArgs;

/// Lines that end the client instead of being sent.
const LOCAL_QUIT: [&[u8]; 3] = [b"q", b"quit", b"exit"];

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
    /// The connection failed while running.
    #[error("connection to {addr} failed: {source}")]
    Io {
        /// The server.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

/// A server to talk to: `tcp://HOST:PORT`, `tls://HOST:PORT`, or a bare `HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    tls: bool,
    /// `HOST:PORT` as given.
    host_port: String,
    /// The host, for TLS's server name.
    host: String,
}

fn target(text: &str) -> Result<Target, ClientError> {
    let (tls, rest) = match text.split_once("://") {
        Some(("tcp", rest)) => (false, rest),
        Some(("tls", rest)) => (true, rest),
        Some((other, _)) => {
            return Err(ClientError::Url(format!(
                "{text:?}: unknown scheme {other:?} (use tcp://, tls:// or HOST:PORT)"
            )))
        }
        None => (false, text),
    };
    let host_port = rest.trim_end_matches('/').to_owned();
    let host = match host_port.rsplit_once(':') {
        Some((host, _)) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        None => {
            return Err(ClientError::Url(format!(
                "{text:?}: give HOST:PORT (e.g. 127.0.0.1:7007)"
            )))
        }
    };
    Ok(Target {
        tls,
        host_port,
        host,
    })
}

/// Runs the client on the process's stdin and stdout.
pub fn run(args: &ClientArgs) -> Result<(), ClientError> {
    let target = target(&args.addr)?;
    let mut session = if target.tls {
        let tls = match (&args.ca, args.insecure) {
            (Some(ca), _) => {
                ClientTls::trusting(ca).map_err(|e| ClientError::Tls(e.to_string()))?
            }
            (None, true) => ClientTls::insecure(),
            (None, false) => {
                return Err(ClientError::Tls(
                    "tls:// needs --ca FILE (the server's --tls-write-cert, or its CA) or \
                     --insecure"
                        .into(),
                ))
            }
        };
        Some(
            tls.session(&target.host)
                .map_err(|e| ClientError::Tls(e.to_string()))?,
        )
    } else {
        None
    };
    let stream = connect(&target.host_port, args)?;
    let addr = stream.peer_addr().map_err(|source| ClientError::Connect {
        addr: args.addr.clone(),
        source,
    })?;
    let fail = |source| ClientError::Io { addr, source };
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
    let result = drive(&mut poll, &mut stream, session.as_mut(), &lines);
    drop(waker);
    match result {
        Ok(()) => Ok(()),
        Err(Failure::Io(e)) => Err(fail(e)),
        Err(Failure::Tls(e)) => Err(ClientError::Tls(e)),
    }
}

fn connect(host_port: &str, args: &ClientArgs) -> Result<StdStream, ClientError> {
    let addrs: Vec<SocketAddr> = host_port
        .to_socket_addrs()
        .map_err(|source| ClientError::Resolve {
            addr: args.addr.clone(),
            source,
        })?
        .collect();
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

fn is_local_quit(line: &[u8]) -> bool {
    let content = line.strip_suffix(b"\n").unwrap_or(line);
    let content = content.strip_suffix(b"\r").unwrap_or(content);
    LOCAL_QUIT.contains(&content)
}

enum Failure {
    Io(io::Error),
    Tls(String),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

/// The event loop: lines out, replies to stdout, until the server's close.
fn drive(
    poll: &mut Poll,
    stream: &mut TcpStream,
    mut tls: Option<&mut ClientSession>,
    lines: &Receiver<Vec<u8>>,
) -> Result<(), Failure> {
    let mut events = Events::with_capacity(16);
    // Plaintext waiting for the session (or, without TLS, for the socket).
    let mut pending: VecDeque<u8> = VecDeque::new();
    let mut input_done = false;
    let mut write_closed = false;
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
                    Ok(line) => pending.extend(line),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        input_done = true;
                        break;
                    }
                }
            }
        }
        // Plaintext into the session, ciphertext (or plaintext) out.
        if let Some(tls) = tls.as_deref_mut() {
            while !pending.is_empty() {
                let taken = tls.send(pending.make_contiguous());
                if taken == 0 {
                    break;
                }
                pending.drain(..taken);
            }
            let closing = input_done && pending.is_empty() && !tls.is_handshaking();
            if closing {
                tls.close();
            }
            while !tls.transmit().is_empty() {
                match stream.write(tls.transmit()) {
                    Ok(n) => tls.transmitted(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        write_blocked = true;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if server_gone(&e) => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
            }
            // The FIN follows the close_notify, never the handshake's last word.
            if closing && tls.transmit().is_empty() && !write_closed {
                write_closed = shut(stream)?;
            }
        } else {
            while !pending.is_empty() {
                match stream.write(pending.make_contiguous()) {
                    Ok(n) => {
                        pending.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        write_blocked = true;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if server_gone(&e) => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
            }
            if input_done && pending.is_empty() && !write_closed {
                write_closed = shut(stream)?;
            }
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
            match tls.as_deref_mut() {
                None => out.write_all(&buf[..n])?,
                Some(tls) => {
                    if ended {
                        tls.receive_end();
                    } else {
                        tls.receive(&buf[..n]).map_err(Failure::Tls)?;
                    }
                    loop {
                        match tls.plaintext() {
                            Some([]) => break,
                            Some(text) => {
                                let len = text.len();
                                out.write_all(text)?;
                                tls.consume(len);
                            }
                            None => return finish(input_done, &mut out),
                        }
                    }
                }
            }
            if ended {
                return finish(input_done, &mut out);
            }
            out.flush()?;
        }
        // Reading may have given the session more to say (the handshake's next flight).
        let more = match tls.as_deref() {
            Some(tls) => !tls.transmit().is_empty(),
            None => false,
        };
        if more && !write_blocked {
            continue;
        }
        poll.poll(&mut events, None).or_else(|e| match e.kind() {
            io::ErrorKind::Interrupted => Ok(()),
            _ => Err(e),
        })?;
    }
}

/// The server closed: flush what was printed; if stdin was still open, say so.
fn finish(input_done: bool, out: &mut impl Write) -> Result<(), Failure> {
    out.flush()?;
    if !input_done {
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
    fn urls_choose_tls_and_keep_the_host_for_its_name() {
        let t = target("tls://localhost:7443").unwrap();
        assert!(t.tls);
        assert_eq!(
            (t.host.as_str(), t.host_port.as_str()),
            ("localhost", "localhost:7443")
        );
        let t = target("[::1]:7007").unwrap();
        assert!(!t.tls);
        assert_eq!(t.host, "::1");
        assert!(target("http://x:1").is_err());
        assert!(target("tcp://nohostport").is_err());
    }

    #[test]
    fn local_quit_words_are_recognised_with_any_line_ending() {
        for line in [&b"q\n"[..], b"quit\r\n", b"exit"] {
            assert!(is_local_quit(line));
        }
        assert!(!is_local_quit(b"quitting\n"));
    }
}
