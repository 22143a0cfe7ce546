//! Half-close, and what happens beyond `--max-connections`.

use std::io::Write;
use std::thread;

use crate::support::{all_bytes, Server};

#[test]
fn half_close_with_a_large_payload_in_flight_loses_nothing() {
    let server = Server::start(&[
        "--mode",
        "raw",
        "--high-watermark",
        "32KiB",
        "--low-watermark",
        "8KiB",
    ]);
    let mut client = server.connect();
    let payload = all_bytes(4 << 20);
    let mut writer = client.stream.try_clone().unwrap();
    let sent = payload.clone();
    let sender = thread::spawn(move || {
        writer.write_all(&sent).unwrap();
        // FIN while most of the echo is still queued or in flight.
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let echoed = client.read_to_end().expect("a clean FIN, not a reset");
    sender.join().unwrap();
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "echo differs");
    server.await_log(&[
        "connection closed",
        "reason=peer closed",
        "bytes_out=4194304",
    ]);
}

#[test]
fn half_close_echoes_a_trailing_partial_line() {
    let server = Server::start(&["--prefix", "<", "--suffix", ">"]);
    let mut client = server.connect();
    client.send(b"whole\npartial");
    client.finish();
    assert_eq!(client.read_to_end().unwrap(), b"<whole>\n<partial>");
}

#[test]
fn connections_beyond_the_limit_are_closed_at_once_and_counted() {
    let mut server = Server::start(&["--max-connections", "2", "--threads", "2"]);
    let mut first = server.connect();
    let mut second = server.connect();
    first.roundtrip(b"1\n", b"1\n");
    second.roundtrip(b"2\n", b"2\n");
    // The limit is for the whole process, whichever thread accepts.
    for _ in 0..3 {
        let mut extra = server.connect();
        let _ = extra.stream.write_all(b"3\n");
        assert_eq!(
            extra.read_until_closed(),
            b"",
            "a third connection was served"
        );
    }
    // Logged: the first few refusals of each second as they are (rate-limited beyond
    // that; see the bad-peers test in `cli`).
    server.await_log(&[
        "WARN",
        "connection limit reached (2): closing new connections",
    ]);
    // A freed slot is usable again.
    first.finish();
    assert_eq!(first.read_to_end().unwrap(), b"");
    server.await_log(&["connection closed", "reason=peer closed"]);
    let mut again = server.connect();
    again.roundtrip(b"4\n", b"4\n");
    drop((second, again));
    server.signal("TERM");
    let (status, out) = server.wait_exit();
    assert!(status.success());
    assert!(out.contains(", 3 refused,"), "{out}");
    let warnings = server.log().matches("connection limit reached").count();
    assert_eq!(warnings, 3, "the first ones are kept:\n{}", server.log());
}

#[test]
fn data_and_fin_arriving_together_are_both_seen_every_time() {
    // The read loop stops at a short read on Linux (the socket is empty then); a FIN that
    // came with the data is already in that readiness event, and must still end the
    // connection: a few hundred tries, each a line and the FIN in quick succession.
    let server = Server::start(&["--threads", "1"]);
    for i in 0..300 {
        let mut client = server.connect();
        let line = format!("{i}\n");
        client.send(line.as_bytes());
        client.finish();
        assert_eq!(
            client.read_to_end().unwrap(),
            line.as_bytes(),
            "try {i}: the echo, then the server's FIN"
        );
    }
}
