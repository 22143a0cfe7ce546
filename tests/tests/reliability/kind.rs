//! Listener kinds, and a client connection for each.
//!
//! A scenario that every listener must pass (1, 4, 8 and 12) runs once per [`Kind::ALL`]
//! and talks to the server only through [`Conn`], [`Reader`] and [`Writer`]: plain bytes
//! in, plain bytes out, a half-close. A kind added later (WebSocket, HTTP) is a new
//! variant here — its `listen_args`, its handshake in `connect`, its framing in the halves
//! — and those scenarios run it without a line of theirs changing.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// A listener kind `reverb serve` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Plain TCP: `-l ADDR`.
    Tcp,
    /// TLS over TCP: `-l tls://ADDR`, the client a `reverb-tls` session relayed to the
    /// scenario's plain socket (see `tls_relay`).
    Tls,
}

/// How a client socket is set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectOptions {
    /// Blocking reads and writes give up after this: a scenario that reaches it has
    /// failed (or, for a client that expects to stall, learns that it did).
    pub(crate) timeout: Duration,
    /// `SO_RCVBUF`, set before connecting so the window is small from the handshake on:
    /// a client that reads slowly then has little in flight towards it.
    pub(crate) receive_buffer: Option<usize>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: crate::support::LIMIT,
            receive_buffer: None,
        }
    }
}

impl Kind {
    /// Every kind: the scenarios every listener must pass loop over these.
    pub(crate) const ALL: [Kind; 2] = [Kind::Tcp, Kind::Tls];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Tls => "tls",
        }
    }

    /// Whether `logged` bytes — what the server counted crossing its socket — carry
    /// exactly `plain` bytes of echo: the same number over TCP; over TLS at least that
    /// many, each record adding its header and tag, and the handshake its own (the bytes
    /// themselves are checked one by one at the client either way).
    pub(crate) fn carries(self, logged: u64, plain: u64) -> bool {
        match self {
            Kind::Tcp => logged == plain,
            Kind::Tls => logged >= plain,
        }
    }

    /// The `reverb serve` arguments for one such listener on a free loopback port.
    pub(crate) fn listen_args(self) -> Vec<String> {
        match self {
            Kind::Tcp => vec!["-l".into(), "127.0.0.1:0".into()],
            Kind::Tls => vec!["-l".into(), "tls://127.0.0.1:0".into()],
        }
    }

    /// The address from the server's `reverb: listening on tcp://ADDR (...)` line.
    pub(crate) fn parse_listening(self, line: &str) -> SocketAddr {
        let scheme = format!("listening on {}://", self.name());
        let at = line
            .find(&scheme)
            .unwrap_or_else(|| panic!("no {scheme} in {line}"))
            + scheme.len();
        line[at..]
            .split(' ')
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line}"))
    }

    /// A connected client, with any handshake done.
    pub(crate) fn connect(self, addr: SocketAddr, options: &ConnectOptions) -> io::Result<Conn> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        if let Some(size) = options.receive_buffer {
            socket.set_recv_buffer_size(size)?;
        }
        socket.connect_timeout(&SockAddr::from(addr), options.timeout)?;
        let stream = TcpStream::from(socket);
        stream.set_read_timeout(Some(options.timeout))?;
        stream.set_write_timeout(Some(options.timeout))?;
        // Round trips of small messages must not wait on Nagle and delayed ACKs.
        stream.set_nodelay(true)?;
        match self {
            Kind::Tcp => Ok(Conn::Tcp(stream)),
            Kind::Tls => {
                let app = crate::tls_relay::connect(&stream)?;
                app.set_read_timeout(Some(options.timeout))?;
                app.set_write_timeout(Some(options.timeout))?;
                Ok(Conn::Tls { app, tcp: stream })
            }
        }
    }
}

/// One client connection. Usable as it is from one thread, or, after
/// [`split`](Conn::split), as a reading and a writing half from two.
pub(crate) enum Conn {
    // One descriptor until split: a scenario holds 10,000 of these.
    Tcp(TcpStream),
    /// The plain end the relay thread serves, and the TCP socket under the TLS session
    /// (for its options and addresses).
    Tls {
        app: UnixStream,
        tcp: TcpStream,
    },
}

impl Conn {
    pub(crate) fn split(self) -> (Reader, Writer) {
        match self {
            Conn::Tcp(stream) => {
                let reader = stream.try_clone().expect("clone a client socket");
                (Reader::Tcp(reader), Writer::Tcp(stream))
            }
            Conn::Tls { app, .. } => {
                let reader = app.try_clone().expect("clone a client socket");
                (Reader::Tls(reader), Writer::Tls(app))
            }
        }
    }

    /// The TCP socket under the kind's framing: for socket options and addresses.
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Tcp(stream) | Conn::Tls { tcp: stream, .. } => stream,
        }
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.tcp().local_addr().expect("local address")
    }

    /// Sends `bytes` and reads back exactly `expected.len()` bytes, which must equal it.
    pub(crate) fn roundtrip(&mut self, bytes: &[u8], expected: &[u8]) -> io::Result<()> {
        self.write_all(bytes)?;
        let mut got = vec![0; expected.len()];
        self.read_exact(&mut got)?;
        if got != expected {
            return Err(io::Error::other(format!(
                "echo {:?} instead of {:?}",
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(expected)
            )));
        }
        Ok(())
    }

    /// Half-close: no more from us, keep reading.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        match self {
            Conn::Tcp(stream) => stream.shutdown(Shutdown::Write),
            Conn::Tls { app, .. } => app.shutdown(Shutdown::Write),
        }
    }

    /// Reads until the server's end-of-stream; a reset instead is an error.
    pub(crate) fn read_to_eof(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_to_end(&mut out)?;
        Ok(out)
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(stream) => stream.read(buf),
            Conn::Tls { app, .. } => app.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(stream) => stream.write(buf),
            Conn::Tls { app, .. } => app.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Tcp(stream) => stream.flush(),
            Conn::Tls { app, .. } => app.flush(),
        }
    }
}

/// The receiving half: the echo as plain bytes.
pub(crate) enum Reader {
    Tcp(TcpStream),
    Tls(UnixStream),
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Reader::Tcp(stream) => stream.read(buf),
            Reader::Tls(app) => app.read(buf),
        }
    }
}

/// The sending half: plain bytes in, and a half-close.
pub(crate) enum Writer {
    Tcp(TcpStream),
    Tls(UnixStream),
}

impl Writer {
    /// Ends our direction (TCP: FIN) and leaves the other open.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        match self {
            Writer::Tcp(stream) => stream.shutdown(Shutdown::Write),
            Writer::Tls(app) => app.shutdown(Shutdown::Write),
        }
    }

    /// Sets how long a blocked write waits before failing with a timeout.
    pub(crate) fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Writer::Tcp(stream) => stream.set_write_timeout(Some(timeout)),
            Writer::Tls(app) => app.set_write_timeout(Some(timeout)),
        }
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Writer::Tcp(stream) => stream.write(buf),
            Writer::Tls(app) => app.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Writer::Tcp(stream) => stream.flush(),
            Writer::Tls(app) => app.flush(),
        }
    }
}

/// Whether `e` is a blocking call's timeout rather than a failure.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
