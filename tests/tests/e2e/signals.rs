//! SIGINT/SIGTERM: stop accepting, let every connection flush its pending echo and close,
//! exit 0 with a summary; a second signal exits at once.

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{all_bytes, Client, Server};

#[test]
fn sigterm_drains_connections_mid_echo_then_exits_zero() {
    let mut server = Server::start(&[
        "--mode",
        "raw",
        "--threads",
        "2",
        "--high-watermark",
        "32KiB",
        "--low-watermark",
        "8KiB",
    ]);
    let payload = all_bytes(2 << 20);
    // Four clients push 2 MiB each and do not read yet: each server connection has echo
    // queued and its reading paused when the signal arrives.
    let mut clients: Vec<Client> = (0..4).map(|_| server.connect()).collect();
    let senders: Vec<_> = clients
        .iter()
        .map(|client| {
            let mut writer = client.stream.try_clone().unwrap();
            let payload = payload.clone();
            thread::spawn(move || {
                // Stops when the server stops taking input and closes: that is the drain.
                let _ = writer.write_all(&payload);
                let _ = writer.shutdown(std::net::Shutdown::Write);
            })
        })
        .collect();
    for client in &mut clients {
        // Something was echoed: the connection is mid-echo.
        assert_eq!(client.recv(1000), &payload[..1000]);
    }
    server.signal("TERM");
    server.await_log(&["shutting down"]);
    server.await_log(&["worker 0", "stopped accepting"]);
    server.await_log(&["worker 1", "stopped accepting"]);
    // New connections are no longer accepted.
    assert!(std::net::TcpStream::connect(server.addr).is_err());
    for client in &mut clients {
        let rest = client
            .read_to_end()
            .expect("drained with a FIN, not a reset");
        let echoed = 1000 + rest.len();
        assert!(echoed > 32 * 1024, "only {echoed} bytes echoed");
        assert!(
            payload[1000..echoed] == rest[..],
            "the drained echo is not the input"
        );
    }
    drop(clients);
    for sender in senders {
        sender.join().unwrap();
    }
    let (status, out) = server.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        out.contains("reverb: stopped by SIGTERM: 4 connections (4 graceful"),
        "{out}"
    );
}

#[test]
fn sigint_on_an_idle_server_exits_zero_at_once() {
    let mut server = Server::start(&[]);
    server.connect().roundtrip(b"x\n", b"x\n");
    let start = Instant::now();
    server.signal("INT");
    let (status, out) = server.wait_exit();
    assert!(status.success());
    assert!(out.contains("stopped by SIGINT: 1 connection ("), "{out}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn the_shutdown_timeout_bounds_a_client_that_never_reads() {
    let mut server = Server::start(&["--mode", "raw", "--shutdown-timeout", "300ms"]);
    let mut client = server.connect();
    client
        .stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while client.stream.write(&chunk).is_ok() {}
    let start = Instant::now();
    server.signal("TERM");
    let (status, out) = server.wait_exit();
    let took = start.elapsed();
    assert!(status.success());
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(out.contains("1 timed out"), "{out}");
}

#[test]
fn a_second_signal_exits_at_once() {
    let mut server = Server::start(&["--shutdown-timeout", "30s", "--linger", "30s"]);
    let mut client = server.connect();
    client.roundtrip(b"x\n", b"x\n");
    server.signal("TERM");
    server.await_log(&["shutting down"]);
    // The client holds its side open: the drain would wait for the linger.
    assert_eq!(client.read_to_end().unwrap(), b"");
    let start = Instant::now();
    server.signal("TERM");
    let (status, out) = server.wait_exit();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(status.code(), Some(128 + 15));
    assert!(
        !out.contains("stopped"),
        "no summary after a forced exit: {out}"
    );
}

#[test]
fn sighup_is_ignored_with_a_log_line_and_serving_goes_on() {
    let mut server = Server::start(&[]);
    let mut before = server.connect();
    before.roundtrip(b"one\n", b"one\n");
    server.signal("HUP");
    server.await_log(&["SIGHUP", "ignored", "restart"]);
    // The open connection and a new one are both served.
    before.roundtrip(b"two\n", b"two\n");
    server.connect().roundtrip(b"three\n", b"three\n");
    // Closed first, so the drain has no linger to wait out.
    drop(before);
    server.signal("TERM");
    let (status, out) = server.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    assert!(out.contains("stopped by SIGTERM: 2 connections"), "{out}");
}
