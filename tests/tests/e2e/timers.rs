//! Every timer, short (200–300 ms), awaited as the server's close or its log line.

use std::io::{ErrorKind, Write};
use std::time::{Duration, Instant};

use crate::support::Server;

/// Parses `duration_ms=N` from a "connection closed" log line.
fn duration_ms(line: &str) -> u64 {
    let field = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("duration_ms="))
        .unwrap_or_else(|| panic!("no duration in {line}"));
    field.parse().unwrap()
}

#[test]
fn idle_timeout_closes_a_silent_connection() {
    let server = Server::start(&["--idle-timeout", "200ms"]);
    let mut client = server.connect();
    client.roundtrip(b"hi\n", b"hi\n");
    let quiet_since = Instant::now();
    assert_eq!(client.read_to_end().unwrap(), b"");
    let waited = quiet_since.elapsed();
    assert!(
        waited >= Duration::from_millis(190),
        "closed after {waited:?}"
    );
    server.await_log(&["connection closed", "reason=idle timeout"]);
}

#[test]
fn traffic_keeps_an_idle_timer_from_firing() {
    let server = Server::start(&["--idle-timeout", "300ms"]);
    let mut client = server.connect();
    let start = Instant::now();
    // Ten round trips 100 ms apart outlast the timeout three times over; the deadline
    // under test is the server's, so the client paces itself with its own read timeout.
    for i in 0..10 {
        let line = format!("{i}\n");
        client.roundtrip(line.as_bytes(), line.as_bytes());
        client
            .stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut byte = [0u8; 1];
        let err = std::io::Read::read(&mut client.stream, &mut byte).unwrap_err();
        assert!(crate::support::is_timeout(&err), "closed early: {err}");
        client
            .stream
            .set_read_timeout(Some(crate::support::LIMIT))
            .unwrap();
    }
    assert!(start.elapsed() > Duration::from_millis(900));
    assert!(!server.log().contains("idle timeout"));
}

#[test]
fn frame_timeout_closes_a_slowloris() {
    let server = Server::start(&["--frame-timeout", "200ms"]);
    let mut client = server.connect();
    client.roundtrip(b"complete\n", b"complete\n");
    client.send(b"a line that never ends");
    let started = Instant::now();
    assert_eq!(client.read_to_end().unwrap(), b"");
    assert!(started.elapsed() >= Duration::from_millis(190));
    server.await_log(&["connection closed", "reason=frame timeout"]);
}

#[test]
fn write_stall_timeout_aborts_a_client_that_never_reads() {
    let server = Server::start(&["--mode", "raw", "--write-stall-timeout", "300ms"]);
    let mut client = server.connect();
    client
        .stream
        .set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // Send without ever reading: the echo fills our receive buffer, the server's output
    // queue reaches its high watermark and it stops reading; then nothing it has can be
    // written, and after 300 ms it gives up. Its abort reaches us as a reset.
    let chunk = vec![b'x'; 64 * 1024];
    let started = Instant::now();
    let err = loop {
        match client.stream.write(&chunk) {
            Ok(_) => {}
            Err(e) if crate::support::is_timeout(&e) => {}
            Err(e) => break e,
        }
        assert!(
            started.elapsed() < crate::support::LIMIT,
            "the server never aborted the stalled connection"
        );
    };
    assert!(
        matches!(
            err.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
        ),
        "{err}"
    );
    let line = server.await_log(&["connection closed", "reason=write stall timeout"]);
    assert!(duration_ms(&line) >= 300, "{line}");
    server.connect().roundtrip(b"next\n", b"next\n");
}

#[test]
fn a_connection_closing_towards_a_client_that_never_reads_is_reset_by_the_flush_timeout() {
    // The idle timeout starts a graceful close, but the client reads nothing: without the
    // flush timeout the connection stayed ESTABLISHED for good, holding its echo.
    let server = Server::start(&[
        "-v",
        "--mode",
        "raw",
        "--idle-timeout",
        "200ms",
        "--flush-timeout",
        "500ms",
    ]);
    let mut client = server.connect();
    client
        .stream
        .set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let started = Instant::now();
    let err = loop {
        match client.stream.write(&chunk) {
            Ok(_) => {}
            Err(e) if crate::support::is_timeout(&e) => {}
            Err(e) => break e,
        }
        assert!(
            started.elapsed() < crate::support::LIMIT,
            "the server never gave up on the closing connection"
        );
    };
    assert!(
        matches!(
            err.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
        ),
        "{err}"
    );
    server.await_log(&["idle timeout"]);
    let line = server.await_log(&["connection closed", "reason=flush timeout"]);
    eprintln!("stuck connection gone after {} ms", duration_ms(&line));
    assert!(duration_ms(&line) >= 500, "{line}");
    server.connect().roundtrip(b"next\n", b"next\n");
}

#[test]
fn linger_waits_for_the_clients_close_then_gives_up() {
    let server = Server::start(&["--linger", "300ms"]);
    let mut client = server.connect();
    client.send(b"bye\nquit\n");
    // Our FIN comes right after the echo...
    assert_eq!(client.read_to_end().unwrap(), b"bye\n");
    // ...but the server keeps the connection until the linger timeout, since this client
    // never closes its side.
    let line = server.await_log(&["connection closed", "reason=quit word"]);
    assert!(
        duration_ms(&line) >= 300,
        "released before the linger ran out: {line}"
    );
    drop(client);
}

#[test]
fn linger_ends_at_once_when_the_client_closes() {
    let server = Server::start(&["--linger", "5s"]);
    let mut client = server.connect();
    client.send(b"quit\n");
    assert_eq!(client.read_to_end().unwrap(), b"");
    drop(client);
    let line = server.await_log(&["connection closed", "reason=quit word"]);
    assert!(duration_ms(&line) < 2000, "{line}");
}
