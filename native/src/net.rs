//! Sockets and the syscalls around them, without any echo logic: binding `SO_REUSEPORT`
//! listeners, reading and writing on non-blocking sockets with `Interrupted` retried, and
//! sorting errors into "this connection" and "this process". A load generator on mio
//! reuses all of it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener as StdTcpListener, UdpSocket as StdUdpSocket};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Pending connections the kernel queues per listener before refusing. The kernel caps
/// it at `net.core.somaxconn` (4096 on current Linux); asking for that much lets a burst
/// of connects wait for the next accept instead of being refused.
const LISTEN_BACKLOG: i32 = 4096;

/// Whether the sockets of one address are shared between threads. With `Shared`, every
/// socket sets `SO_REUSEPORT` and the kernel spreads connections (or datagrams) across
/// them; `Exclusive` is an ordinary bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// One socket owns the address.
    Exclusive,
    /// Several sockets of this process share the address with `SO_REUSEPORT`.
    Shared,
}

fn socket_for(
    addr: SocketAddr,
    ty: Type,
    protocol: Protocol,
    sharing: Sharing,
) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), ty, Some(protocol))?;
    if addr.is_ipv6() {
        // `[::]:port` means IPv6 only, so that `0.0.0.0:port` can be listed beside it.
        socket.set_only_v6(true)?;
    }
    if ty == Type::STREAM {
        // Restarting the server must not fail on connections of the previous run that
        // are still in TIME_WAIT.
        socket.set_reuse_address(true)?;
    }
    if sharing == Sharing::Shared {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Fails with `AddrInUse` if anything already holds `addr`.
///
/// `SO_REUSEPORT` lets any socket of the same user join a port whose sockets all set it:
/// a second `reverb` on the same port would silently share the traffic of the first. An
/// ordinary bind first (released at once) turns that into the error a user expects.
/// Port 0 needs no check: the kernel picks a free port.
pub fn check_free(addr: SocketAddr, ty: Type) -> io::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    let protocol = if ty == Type::STREAM {
        Protocol::TCP
    } else {
        Protocol::UDP
    };
    let probe = socket_for(addr, ty, protocol, Sharing::Exclusive)?;
    probe.bind(&SockAddr::from(addr))?;
    Ok(())
}

/// A non-blocking TCP listener on `addr`.
pub fn tcp_listener(addr: SocketAddr, sharing: Sharing) -> io::Result<mio::net::TcpListener> {
    let socket = socket_for(addr, Type::STREAM, Protocol::TCP, sharing)?;
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(mio::net::TcpListener::from_std(StdTcpListener::from(
        socket,
    )))
}

/// A non-blocking UDP socket bound to `addr`.
pub fn udp_socket(addr: SocketAddr, sharing: Sharing) -> io::Result<mio::net::UdpSocket> {
    let socket = socket_for(addr, Type::DGRAM, Protocol::UDP, sharing)?;
    socket.bind(&SockAddr::from(addr))?;
    Ok(mio::net::UdpSocket::from_std(StdUdpSocket::from(socket)))
}

/// The result of reading from a non-blocking socket once.
#[derive(Debug)]
pub enum ReadOutcome {
    /// `n > 0` bytes were read.
    Data(usize),
    /// The peer's end-of-stream.
    Closed,
    /// Nothing to read now: wait for readiness.
    WouldBlock,
    /// The socket failed (reset, …): the connection is over.
    Failed(io::Error),
}

/// One read into `buf`, retrying `Interrupted`.
pub fn read_once<R: Read>(source: &mut R, buf: &mut [u8]) -> ReadOutcome {
    loop {
        return match source.read(buf) {
            Ok(0) => ReadOutcome::Closed,
            Ok(n) => ReadOutcome::Data(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => ReadOutcome::WouldBlock,
            Err(e) => ReadOutcome::Failed(e),
        };
    }
}

/// What writing a slice to a non-blocking socket achieved.
#[derive(Debug)]
pub struct WriteOutcome {
    /// Bytes written, from the start of the slice.
    pub written: usize,
    /// Why fewer than all were written: `Ok(())` means the socket is full (wait for
    /// writability); an error means the connection is over.
    pub stopped: Option<io::Result<()>>,
}

/// Writes as much of `bytes` as the socket takes now, retrying `Interrupted` and short
/// writes until the socket reports `WouldBlock`. A short count therefore always means the
/// socket is full, so edge-triggered writability will be reported when it drains.
pub fn write_until_blocked<W: Write>(sink: &mut W, bytes: &[u8]) -> WriteOutcome {
    let mut written = 0;
    while written < bytes.len() {
        match sink.write(&bytes[written..]) {
            Ok(0) => {
                return WriteOutcome {
                    written,
                    stopped: Some(Err(io::ErrorKind::WriteZero.into())),
                }
            }
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return WriteOutcome {
                    written,
                    stopped: Some(Ok(())),
                }
            }
            Err(e) => {
                return WriteOutcome {
                    written,
                    stopped: Some(Err(e)),
                }
            }
        }
    }
    WriteOutcome {
        written,
        stopped: None,
    }
}

/// The readiness a socket is registered for, kept beside it so the selector is told
/// only when it changes (one `epoll_ctl` per change, none per event).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Registration {
    current: Option<mio::Interest>,
}

impl Registration {
    /// A socket already registered with `interest`.
    pub fn registered(interest: mio::Interest) -> Self {
        Registration {
            current: Some(interest),
        }
    }

    /// What is registered now (`None`: not registered).
    pub fn current(&self) -> Option<mio::Interest> {
        self.current
    }

    /// The interest for "wants to read" and "wants to write"; `None` when neither.
    pub fn interest(readable: bool, writable: bool) -> Option<mio::Interest> {
        match (readable, writable) {
            (true, true) => Some(mio::Interest::READABLE | mio::Interest::WRITABLE),
            (true, false) => Some(mio::Interest::READABLE),
            (false, true) => Some(mio::Interest::WRITABLE),
            (false, false) => None,
        }
    }

    /// Registers, re-registers or deregisters `source` so that it is registered for
    /// `want`. Does nothing when that is already so. On error the socket counts as not
    /// registered.
    pub fn update<S: mio::event::Source + ?Sized>(
        &mut self,
        selector: &mio::Registry,
        source: &mut S,
        token: mio::Token,
        want: Option<mio::Interest>,
    ) -> io::Result<()> {
        if want == self.current {
            return Ok(());
        }
        let result = match (self.current, want) {
            (None, Some(want)) => selector.register(source, token, want),
            (Some(_), Some(want)) => selector.reregister(source, token, want),
            (Some(_), None) => selector.deregister(source),
            (None, None) => Ok(()),
        };
        self.current = if result.is_ok() { want } else { None };
        result
    }
}

/// How an `accept` error is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptError {
    /// No connection is waiting.
    WouldBlock,
    /// Retry at once (`EINTR`).
    Retry,
    /// The process or system is out of descriptors or memory: back off and retry later.
    /// The waiting connection stays queued in the kernel meanwhile.
    Exhausted,
    /// Something about that one connection (aborted before accept, a protocol error, a
    /// firewall's `EPERM`): skip it and accept the next.
    Skip,
}

/// Sorts an error from `accept`.
pub fn classify_accept_error(error: &io::Error) -> AcceptError {
    match error.kind() {
        io::ErrorKind::WouldBlock => return AcceptError::WouldBlock,
        io::ErrorKind::Interrupted => return AcceptError::Retry,
        io::ErrorKind::OutOfMemory => return AcceptError::Exhausted,
        _ => {}
    }
    // EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12 on Linux: std has no stable kind for
    // the first three.
    match error.raw_os_error() {
        Some(12 | 23 | 24 | 105) => AcceptError::Exhausted,
        _ => AcceptError::Skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_exhaustion_backs_off_and_aborts_are_skipped() {
        let emfile = io::Error::from_raw_os_error(24);
        assert_eq!(classify_accept_error(&emfile), AcceptError::Exhausted);
        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(classify_accept_error(&aborted), AcceptError::Skip);
        let again = io::Error::from(io::ErrorKind::WouldBlock);
        assert_eq!(classify_accept_error(&again), AcceptError::WouldBlock);
    }

    struct Trickle {
        accepted: Vec<u8>,
        room: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            // Two bytes per call: every write is short.
            let n = buf.len().min(2).min(self.room);
            self.accepted.extend_from_slice(&buf[..n]);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn short_writes_are_retried_until_the_socket_is_full() {
        let mut sink = Trickle {
            accepted: vec![],
            room: 5,
        };
        let out = write_until_blocked(&mut sink, b"abcdefgh");
        assert_eq!(out.written, 5);
        assert!(matches!(out.stopped, Some(Ok(()))));
        assert_eq!(sink.accepted, b"abcde");
        sink.room = 100;
        let out = write_until_blocked(&mut sink, b"fgh");
        assert_eq!(out.written, 3);
        assert!(out.stopped.is_none());
    }
}
