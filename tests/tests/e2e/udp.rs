//! UDP echo through the core's datagram function.

use std::net::UdpSocket;
use std::time::Duration;

use crate::support::{all_bytes, Server, LIMIT};

fn socket(server: &Server) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(LIMIT)).unwrap();
    socket.connect(server.udp[0]).unwrap();
    socket
}

#[test]
fn each_datagram_gets_one_reply_with_prefix_and_suffix() {
    let server = Server::start(&["--udp", "127.0.0.1:0", "--prefix", "> ", "--suffix", "!"]);
    let socket = socket(&server);
    let mut buf = [0u8; 2048];
    socket.send(b"hello\n").unwrap();
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"> hello!\n");
    socket.send(b"no newline").unwrap();
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"> no newline!");
    // TCP still works beside it.
    server.connect().roundtrip(b"tcp\n", b"> tcp!\n");
}

#[test]
fn raw_datagrams_carry_every_byte_value() {
    let server = Server::start(&["--udp", "127.0.0.1:0", "--mode", "raw"]);
    let socket = socket(&server);
    let payload = all_bytes(1024);
    socket.send(&payload).unwrap();
    let mut buf = [0u8; 2048];
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], &payload[..]);
}

#[test]
fn a_reply_over_max_datagram_is_dropped_and_the_next_answered() {
    let server = Server::start(&["--udp", "127.0.0.1:0", "--max-datagram", "8"]);
    let socket = socket(&server);
    socket.send(b"way too long for eight").unwrap();
    socket.send(b"short").unwrap();
    let mut buf = [0u8; 64];
    // UDP keeps order on loopback: the first reply to arrive is the short one's.
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"short");
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    assert!(
        socket.recv(&mut buf).is_err(),
        "the long datagram was answered"
    );
}
