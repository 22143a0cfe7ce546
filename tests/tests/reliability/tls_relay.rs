//! A TLS client for the scenarios, with the plain client's shape: the scenario holds one
//! end of a local socket pair and reads, writes and half-closes it as it would a TCP
//! stream, while a thread of the connection's own carries those bytes through a
//! `reverb-tls` client session over the real TCP connection. So every scenario that loops
//! over `Kind::ALL` runs over TLS without a line of its own changing.
//!
//! The relay holds at most one read's worth in each direction beyond what the TLS session
//! itself buffers (rustls bounds that), so a scenario that stops reading meets
//! backpressure over TLS exactly as over TCP: the server's queue fills and it stops
//! reading.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::thread;

use mio::net::{TcpStream as MioTcp, UnixStream as MioUnix};
use mio::{Events, Interest, Poll, Token};
use reverb_tls::{ClientSession, ClientTls};

const APP: Token = Token(0);
const NET: Token = Token(1);

/// Bytes moved per read on either side.
const CHUNK: usize = 16 * 1024;

/// Starts a TLS session over `tcp` (already connected) and returns the plain end the
/// scenario talks to. The server's certificate is not checked: identity is not what these
/// scenarios test.
pub(crate) fn connect(tcp: &TcpStream) -> io::Result<UnixStream> {
    let session = ClientTls::insecure()
        .session("localhost")
        .map_err(|e| io::Error::other(e.to_string()))?;
    let (app, relay_end) = UnixStream::pair()?;
    let tcp = tcp.try_clone()?;
    thread::Builder::new()
        .name("tls-relay".into())
        .spawn(move || {
            // The relay ends when either side does; its errors end the connection, which
            // the scenario sees as a closed or reset socket.
            let _ = relay(relay_end, tcp, session);
        })?;
    Ok(app)
}

fn relay(app: UnixStream, tcp: TcpStream, mut tls: ClientSession) -> io::Result<()> {
    app.set_nonblocking(true)?;
    tcp.set_nonblocking(true)?;
    let mut app = MioUnix::from_std(app);
    let mut net = MioTcp::from_std(tcp);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut app, APP, Interest::READABLE | Interest::WRITABLE)?;
    poll.registry()
        .register(&mut net, NET, Interest::READABLE | Interest::WRITABLE)?;
    let mut events = Events::with_capacity(8);
    let mut from_app: Vec<u8> = Vec::new();
    let mut from_net: Vec<u8> = Vec::new();
    let mut app_done = false;
    let mut net_done = false;
    let mut closed_tls = false;
    let mut shut_net = false;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut progress = false;
        // The scenario's bytes into the session, as far as it takes them.
        if from_app.is_empty() && !app_done {
            match app.read(&mut buf) {
                Ok(0) => app_done = true,
                Ok(n) => from_app.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => app_done = true,
            }
        }
        if !from_app.is_empty() {
            let n = tls.send(&from_app);
            from_app.drain(..n);
            progress |= n > 0;
        }
        if app_done && from_app.is_empty() && !tls.is_handshaking() && !closed_tls {
            tls.close();
            closed_tls = true;
        }
        // Records out.
        while !tls.transmit().is_empty() {
            match net.write(tls.transmit()) {
                Ok(n) => {
                    tls.transmitted(n);
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return Ok(()),
            }
        }
        if closed_tls && tls.transmit().is_empty() && !shut_net {
            let _ = net.shutdown(Shutdown::Write);
            shut_net = true;
        }
        // Records in, while the session can take them.
        if from_net.is_empty() && !net_done {
            match net.read(&mut buf) {
                Ok(0) => {
                    net_done = true;
                    tls.receive_end();
                }
                Ok(n) => from_net.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // A reset: the scenario sees its socket closed.
                Err(_) => return Ok(()),
            }
        }
        if !from_net.is_empty() {
            let n = tls.receive(&from_net).map_err(io::Error::other)?;
            from_net.drain(..n);
            progress |= n > 0;
        }
        // Plaintext to the scenario, as far as it reads.
        loop {
            match tls.plaintext() {
                Some([]) => break,
                Some(text) => match app.write(text) {
                    Ok(n) => {
                        tls.consume(n);
                        progress = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => return Ok(()),
                },
                None => {
                    // The server's close: the scenario reads its end of stream.
                    let _ = app.shutdown(Shutdown::Write);
                    if app_done {
                        return Ok(());
                    }
                    break;
                }
            }
        }
        if net_done && from_net.is_empty() && tls.plaintext().is_some_and(<[u8]>::is_empty) {
            // The TCP stream ended without a close_notify after everything was passed on.
            let _ = app.shutdown(Shutdown::Write);
            if app_done {
                return Ok(());
            }
        }
        if !progress {
            poll.poll(&mut events, Some(crate::support::LIMIT))?;
            if events.is_empty() {
                // Nothing for a whole safety limit: the scenario has failed or gone.
                return Ok(());
            }
        }
    }
}
