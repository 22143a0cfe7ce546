//! The command line: what it prints, its errors and exit codes, and `reverb client`.

use std::net::TcpListener;

use crate::support::{run, Server};

#[test]
fn port_0_prints_the_real_port_and_serves_on_every_thread() {
    let server = Server::start(&["--threads", "2"]);
    let log_line = format!(
        "reverb: listening on tcp://{} (line mode, 2 threads)",
        server.addr
    );
    let mut clients: Vec<_> = (0..8).map(|_| server.connect()).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        let line = format!("{i}\n");
        client.roundtrip(line.as_bytes(), line.as_bytes());
    }
    assert!(
        server.tcp.len() == 1 && server.addr.port() != 0,
        "{log_line}"
    );
}

#[test]
fn several_listeners_and_ipv6_loopback() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    }
    let server = Server::start(&["-l", "127.0.0.1:0", "-l", "[::1]:0", "--mode", "raw"]);
    assert_eq!(server.tcp.len(), 2);
    assert!(server.tcp[1].is_ipv6());
    for addr in &server.tcp {
        crate::support::Client::connect(*addr).roundtrip(b"v4 or v6", b"v4 or v6");
    }
}

#[test]
fn an_address_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for threads in ["1", "2"] {
        let (status, _, err) = run(&["serve", "-l", &addr, "--threads", threads], b"");
        assert_eq!(status.code(), Some(1), "{err}");
        assert_eq!(
            err.trim(),
            format!("reverb: error: cannot listen on tcp://{addr}: address already in use")
        );
    }
}

#[test]
fn a_udp_address_in_use_is_a_clear_error_too() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, _, err) = run(&["serve", "-l", "127.0.0.1:0", "--udp", &addr], b"");
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        format!("reverb: error: cannot listen on udp://{addr}: address already in use")
    );
}

#[test]
fn a_second_reverb_on_the_same_port_is_refused_despite_so_reuseport() {
    let first = Server::start(&["--threads", "2"]);
    let addr = first.addr.to_string();
    let (status, _, err) = run(&["serve", "-l", &addr, "--threads", "2"], b"");
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("address already in use"), "{err}");
    first.connect().roundtrip(b"still mine\n", b"still mine\n");
}

#[test]
fn invalid_settings_exit_2_with_one_line_and_no_backtrace() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--low-watermark", "64KiB", "--high-watermark", "16KiB"],
            "reverb: error: low watermark (65536 bytes) must be below high watermark (16384 bytes)",
        ),
        (
            &["--mode", "collect", "--no-quit-word"],
            "reverb: error: collect framing needs a quit word",
        ),
        (
            &["--quit-word", "x", "--fault-word", "x"],
            "reverb: error: quit word and fault word must differ",
        ),
        (
            &["--threads", "0"],
            "reverb: error: threads must be between 1 and 256",
        ),
        (
            &["--read-size", "0"],
            "reverb: error: read size must be between 1 byte and 16MiB, not 0",
        ),
        // Sizes beyond what the platform can hold: once a panic, or a silently wrapped
        // input buffer.
        (
            &["--max-line", "18446744073709551615"],
            "reverb: error: max line 18446744073709551615 is too large; the largest \
             allowed is 1152921504606846975",
        ),
        // Configurations that start but could never echo.
        (
            &["--mode", "collect", "--max-collect", "4"],
            "reverb: error: max collect (4 bytes) cannot hold the quit line with prefix \
             and suffix (6 bytes)",
        ),
        (
            &[
                "--udp",
                "127.0.0.1:0",
                "--prefix",
                "0123456789",
                "--max-datagram",
                "10",
            ],
            "reverb: error: prefix and suffix (10 bytes) leave no room in max datagram (10 \
             bytes): every reply would be dropped",
        ),
        (
            &["--mode", "raw", "--fault-word", "boom"],
            "reverb: error: a fault word needs line or collect mode: raw mode does not cut \
             lines",
        ),
        (
            &["--flush-timeout", "0s"],
            "reverb: error: flush timeout must be longer than zero",
        ),
    ];
    for (args, expected) in cases {
        let mut argv = vec!["serve", "-l", "127.0.0.1:0"];
        argv.extend_from_slice(args);
        let (status, out, err) = run(&argv, b"");
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim(), *expected);
        assert!(out.is_empty(), "nothing is listened on: {out}");
    }
    // Values clap parses with our parsers: a duration needs its unit, a value too long
    // is called too long however many digits it has, and an escape is exact.
    for (args, expected) in [
        (["--idle-timeout", "30"], "needs a unit"),
        (["--idle-timeout", "99999999999999999999s"], "is too long"),
        (["--idle-timeout", "9999999999999999999s"], "is too long"),
        (["--max-line", "99999999999999999999"], "is too large"),
        (["--prefix", r"\x+1"], "needs two hex digits"),
    ] {
        let (status, _, err) = run(&["serve", args[0], args[1]], b"");
        assert_eq!(status.code(), Some(2), "{args:?}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("backtrace"));
    }
}

#[test]
fn help_gives_every_flag_one_line_and_its_default() {
    let (status, out, _) = run(&["serve", "--help"], b"");
    assert!(status.success());
    for expected in [
        "--listen <URL>",
        "--tls-cert <FILE>",
        "--tls-write-cert <FILE>",
        "[default: 127.0.0.1:7007]",
        "--udp <ADDR>",
        "--mode <MODE>",
        "[default: line]",
        "--prefix <TEXT>",
        "--suffix <TEXT>",
        "--quit-word <WORD>",
        "[default: quit]",
        "--fault-word <WORD>",
        "--once",
        "--max-frames <N>",
        "--max-line <SIZE>",
        "[default: 16KiB]",
        "--idle-timeout <DURATION>",
        "--frame-timeout <DURATION>",
        "--write-stall-timeout <DURATION>",
        "--flush-timeout <DURATION>",
        "[default: 10s]",
        "--linger <DURATION>",
        "[default: 2s]",
        "--max-connections <N>",
        "[default: 10000]",
        "--high-watermark <SIZE>",
        "[default: 64KiB]",
        "--low-watermark <SIZE>",
        "--read-size <SIZE>",
        "--threads <N>",
        "[default: available cores]",
        "--shutdown-timeout <DURATION>",
        "[default: 5s]",
        "--log-format <LOG_FORMAT>",
        "-v, --verbose",
        "-q, --quiet",
    ] {
        assert!(out.contains(expected), "--help lacks {expected:?}:\n{out}");
    }
}

#[test]
fn the_client_in_a_pipe_prints_every_echo_and_exits_zero() {
    let server = Server::start(&["--prefix", "Buffer: "]);
    let addr = server.addr.to_string();
    let (status, out, err) = run(&["client", &addr], b"a\nb\n");
    assert!(status.success(), "{err}");
    assert_eq!(out, "Buffer: a\nBuffer: b\n");
    // A local quit word ends the client: nothing after it is sent.
    let (status, out, _) = run(&["client", &addr], b"one\nq\ntwo\n");
    assert!(status.success());
    assert_eq!(out, "Buffer: one\n");
}

#[test]
fn the_client_ends_when_the_server_closes_first() {
    let server = Server::start(&["--once"]);
    let addr = server.addr.to_string();
    // More input than the server will take: the client must not hang on it.
    let (status, out, _) = run(&["client", &addr], b"first\nsecond\nthird\n");
    assert!(status.success());
    assert_eq!(out, "first\n");
}

#[test]
fn the_client_reports_a_refused_connection() {
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (status, _, err) = run(&["client", &free.to_string()], b"");
    assert_eq!(status.code(), Some(1));
    assert!(
        err.starts_with(&format!("reverb: error: cannot connect to {free}")),
        "{err}"
    );
}

#[test]
fn json_logs_carry_the_connection_fields() {
    let server = Server::start(&["--log-format", "json"]);
    let mut client = server.connect();
    client.roundtrip(b"hello\n", b"hello\n");
    client.finish();
    assert_eq!(client.read_to_end().unwrap(), b"");
    let line = server.await_log(&["\"message\":\"connection closed\""]);
    for field in [
        "\"level\":\"INFO\"",
        &format!("\"peer\":\"{}\"", client.local_addr()),
        "\"bytes_in\":6",
        "\"bytes_out\":6",
        "\"frames\":1",
        "\"duration_ms\":",
        "\"reason\":\"peer closed\"",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}

#[test]
fn quiet_logs_only_warnings() {
    let server = Server::start(&["-q", "--fault-word", "boom"]);
    let mut client = server.connect();
    client.roundtrip(b"hello\n", b"hello\n");
    client.send(b"boom\n");
    assert_eq!(client.read_until_closed(), b"");
    server.await_log(&["WARN", "fault word"]);
    assert!(
        !server.log().contains("connection opened"),
        "{}",
        server.log()
    );
}

#[test]
fn warnings_from_many_bad_peers_are_rate_limited_and_every_one_counted() {
    const PEERS: usize = 2000;
    let server = Server::start(&["-q", "--max-line", "8", "--threads", "1"]);
    // Each peer sends an over-long line and is answered with one error line and a FIN.
    // A few hundred at a time, so the test process stays far below its descriptor limit.
    for batch in 0..PEERS / 250 {
        let mut clients: Vec<_> = (0..250).map(|_| server.connect()).collect();
        for client in &mut clients {
            client.send(b"far too long\n");
        }
        for client in &mut clients {
            assert_eq!(
                client.read_until_closed(),
                b"error: line exceeds 8 bytes\n",
                "{batch}"
            );
        }
    }
    // Every warning is either logged or counted in a summary line; the summaries come
    // when their one-second window ends, without further traffic.
    let counted = |log: &str| {
        let logged = log
            .lines()
            .filter(|l| l.contains("line exceeds 8 bytes"))
            .count();
        let suppressed: usize = log
            .lines()
            .filter_map(|l| l.split_once("suppressed=")?.1.split_whitespace().next())
            .map(|n| n.parse::<usize>().unwrap())
            .sum();
        (logged, suppressed)
    };
    let log = server.await_log_text(|log| {
        let (logged, suppressed) = counted(log);
        logged + suppressed >= PEERS
    });
    let (logged, suppressed) = counted(&log);
    eprintln!("{PEERS} bad peers: {logged} warnings logged, {suppressed} counted in summaries");
    assert_eq!(logged + suppressed, PEERS);
    assert!(logged <= 100, "{logged} lines: the log was flooded");
    assert!(log.contains("more \"line too long\" warnings in the last 1 s were not logged"));
}
