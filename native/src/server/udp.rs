//! UDP echo on one socket of one event loop: each datagram through the core's
//! [`DatagramEcho`], the reply sent back to its source. UDP is lossy by contract, so a
//! reply the socket cannot take now is dropped and counted, never queued.

use std::io;

use mio::net::UdpSocket;
use reverb_core::{DatagramEcho, ValidConfig};

/// Datagrams handled per readiness event before the socket goes to the back of the queue,
/// so a flood on UDP cannot starve the TCP connections of the same loop.
const DATAGRAM_BUDGET: usize = 64;

/// Room for the largest datagram (65 507 bytes over IPv4) with one byte to spare: a
/// datagram that fills the buffer entirely may have been truncated.
const RECV_BUFFER: usize = 64 * 1024;

/// One UDP echo socket.
#[derive(Debug)]
pub(crate) struct UdpEcho {
    pub(crate) socket: UdpSocket,
    echo: DatagramEcho,
    buf: Vec<u8>,
    reply: Vec<u8>,
    /// Replies the socket could not take (send buffer full, or an error).
    pub(crate) send_dropped: u64,
}

/// Whether a UDP socket has more to read than its budget allowed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Drained {
    /// Read until `WouldBlock`.
    Empty,
    /// The budget ran out: read again before sleeping (readiness will not repeat).
    More,
}

impl UdpEcho {
    pub(crate) fn new(socket: UdpSocket, config: ValidConfig) -> Self {
        UdpEcho {
            socket,
            echo: DatagramEcho::new(config),
            buf: vec![0; RECV_BUFFER],
            reply: Vec::new(),
            send_dropped: 0,
        }
    }

    /// Datagrams echoed and dropped (reply too large for `max_datagram`, or unsendable).
    pub(crate) fn counts(&self) -> (u64, u64) {
        let c = self.echo.counters();
        (c.echoed, c.dropped + self.send_dropped)
    }

    /// Reads and answers datagrams until `WouldBlock` or the budget.
    pub(crate) fn on_readable(&mut self) -> Drained {
        for _ in 0..DATAGRAM_BUDGET {
            let (len, from) = match self.socket.recv_from(&mut self.buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drained::Empty,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // An ICMP error for an earlier reply (port unreachable) surfaces here;
                    // it concerns that one peer only.
                    tracing::debug!(error = %e, "udp receive error");
                    continue;
                }
            };
            let reply = match self.echo.echo(&self.buf[..len], &mut self.reply) {
                Ok(reply) => reply,
                Err(e) => {
                    tracing::debug!(peer = %from, "udp datagram dropped: {e}");
                    continue;
                }
            };
            loop {
                match self.socket.send_to(reply, from) {
                    Ok(_) => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.send_dropped += 1;
                        tracing::debug!(peer = %from, error = %e, "udp reply dropped");
                        break;
                    }
                }
            }
        }
        Drained::More
    }
}
