//! Faults injected on purpose (`--delay`, `--rate`, `--chunk`, `--reset-after`,
//! `--close-after`, `--fault-chance`), seen by a real client over loopback.

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use crate::support::{all_bytes, Server};

/// Parses `name=N` from a log line.
fn field(line: &str, name: &str) -> u64 {
    let prefix = format!("{name}=");
    line.split_whitespace()
        .find_map(|f| f.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        .parse()
        .unwrap()
}

#[test]
fn the_fault_line_says_what_is_injected_and_how_to_repeat_it() {
    let mut server = Server::start(&["--delay", "10ms", "--chunk", "2..8", "--seed", "42"]);
    server.signal("TERM");
    let (_, out) = server.wait_exit();
    assert!(
        out.contains(
            "reverb: injecting faults: delay 10ms, chunks of 2..8 B; seed 42 \
             (repeat this run with --seed 42)"
        ),
        "{out}"
    );
}

#[test]
fn a_delay_holds_every_echo_that_long() {
    let server = Server::start(&["--delay", "200ms"]);
    let mut client = server.connect();
    for line in ["one\n", "two\n"] {
        let start = Instant::now();
        client.roundtrip(line.as_bytes(), line.as_bytes());
        let took = start.elapsed();
        assert!(
            // Whole server milliseconds: up to 1 ms sooner by the client's clock.
            took >= Duration::from_millis(195),
            "{line:?} after {took:?}"
        );
    }
}

#[test]
fn a_rate_paces_the_echo() {
    // 10 KiB/s: 5 KiB take 0.5 s, less the 50 ms burst the bucket starts with.
    let server = Server::start(&["--mode", "raw", "--rate", "10KiB/s"]);
    let mut client = server.connect();
    let payload = all_bytes(5 * 1024);
    let start = Instant::now();
    client.roundtrip(&payload, &payload);
    let took = start.elapsed();
    eprintln!("5 KiB at 10 KiB/s took {took:?}");
    assert!(took >= Duration::from_millis(440), "{took:?}");
}

#[test]
fn chunking_sends_the_echo_in_small_writes() {
    let server = Server::start(&["--mode", "raw", "--chunk", "3..5"]);
    let mut client = server.connect();
    let payload = all_bytes(1000);
    client.roundtrip(&payload, &payload);
    client.finish();
    assert_eq!(client.read_to_end().unwrap(), b"");
    let line = server.await_log(&["connection closed"]);
    let writes = field(&line, "writes");
    assert!(
        writes >= 200,
        "1000 bytes in pieces of 3 to 5: {writes} writes"
    );
}

#[test]
fn reset_after_resets_the_connection_after_that_many_bytes() {
    let server = Server::start(&["--reset-after", "10"]);
    let mut client = server.connect();
    client.send(b"0123456\n0123456\n");
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    let error = loop {
        match client.stream.read(&mut buf) {
            Ok(0) => panic!("a FIN, not a reset, after {got:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(got, b"0123456\n01");
    assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
    server.await_log(&["connection closed", "reason=injected reset"]);
}

#[test]
fn close_after_closes_the_connection_after_that_many_bytes() {
    let server = Server::start(&["--close-after", "12"]);
    let mut client = server.connect();
    client.send(b"hello\nworld\nagain\n");
    assert_eq!(client.read_to_end().unwrap(), b"hello\nworld\n");
    server.await_log(&["connection closed", "reason=injected close"]);
}

#[test]
fn a_certain_fault_chance_fails_the_connection_at_its_first_frame() {
    let server = Server::start(&["--fault-chance", "1"]);
    let mut client = server.connect();
    client.send(b"doomed\n");
    assert_eq!(client.read_until_closed(), b"");
    server.await_log(&["connection closed", "reason=injected fault"]);
    // The server itself carries on.
    let mut other = server.connect();
    other.send(b"also doomed\n");
    assert_eq!(other.read_until_closed(), b"");
}

/// A UDP client of `server`'s first UDP address.
fn udp_client(server: &Server) -> std::net::UdpSocket {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(server.udp[0]).unwrap();
    socket
}

fn recv(socket: &std::net::UdpSocket, wait: Duration) -> Option<Vec<u8>> {
    socket.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 2048];
    match socket.recv(&mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(e) if crate::support::is_timeout(&e) => None,
        Err(e) => panic!("udp receive: {e}"),
    }
}

#[test]
fn udp_drop_duplicate_and_reorder_act_on_replies() {
    let long = Duration::from_secs(5);
    // Certain drop: the datagram is read, nothing comes back; the summary counts it.
    let mut server = Server::start(&["--udp", "127.0.0.1:0", "--drop", "1"]);
    let socket = udp_client(&server);
    socket.send(b"lost\n").unwrap();
    assert_eq!(recv(&socket, Duration::from_millis(300)), None);
    server.signal("TERM");
    let (_, out) = server.wait_exit();
    assert!(out.contains("injected: 1 reply dropped"), "{out}");

    // Certain duplicate: every reply twice.
    let server = Server::start(&["--udp", "127.0.0.1:0", "--duplicate", "1"]);
    let socket = udp_client(&server);
    socket.send(b"twice\n").unwrap();
    assert_eq!(recv(&socket, long).as_deref(), Some(&b"twice\n"[..]));
    assert_eq!(recv(&socket, long).as_deref(), Some(&b"twice\n"[..]));

    // Certain reorder: the first reply is held back and overtaken by the second; a reply
    // that nothing overtakes still comes, after the hold.
    let server = Server::start(&["--udp", "127.0.0.1:0", "--reorder", "1"]);
    let socket = udp_client(&server);
    socket.send(b"first\n").unwrap();
    socket.send(b"second\n").unwrap();
    assert_eq!(recv(&socket, long).as_deref(), Some(&b"second\n"[..]));
    assert_eq!(recv(&socket, long).as_deref(), Some(&b"first\n"[..]));
    let start = Instant::now();
    socket.send(b"alone\n").unwrap();
    assert_eq!(recv(&socket, long).as_deref(), Some(&b"alone\n"[..]));
    // The server's clock counts whole milliseconds, so a 100 ms hold can end up to 1 ms
    // sooner by a client's clock.
    assert!(
        start.elapsed() >= Duration::from_millis(95),
        "held for the reorder hold"
    );
}
