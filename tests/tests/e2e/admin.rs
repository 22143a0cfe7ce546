//! `--admin`: `/metrics` read by Prometheus's own checker (`promtool check metrics`,
//! Debian's `prometheus` package), its counters moved by exactly what `reverb bench`
//! reports, `/healthz`, and what the endpoint answers to requests it does not serve.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

use reverb_tests::http::{responses_with, Response};
use serde_json::Value;

use crate::support::{self, have, Server, LIMIT};

/// A server with an admin endpoint, and that endpoint's address (from its stdout).
fn start(args: &[&str]) -> (Server, SocketAddr) {
    let mut all = vec!["--admin", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let server = Server::start(&all);
    let line = server.await_stdout("admin endpoint on http://");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (server, addr)
}

/// Sends `request` as it is and reads the answer to the server's close.
fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    try_exchange(addr, request).expect("an answer, then the close")
}

fn try_exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, LIMIT)?;
    stream.set_read_timeout(Some(LIMIT))?;
    stream.set_write_timeout(Some(LIMIT))?;
    stream.write_all(request)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(answer)
}

fn request(addr: SocketAddr, method: &str, path: &str) -> Response {
    let head = method == "HEAD";
    let request = format!("{method} {path} HTTP/1.1\r\nHost: reverb\r\n\r\n");
    let answer = exchange(addr, request.as_bytes());
    let (mut all, used) = responses_with(&answer, if head { &[0] } else { &[] });
    assert_eq!(all.len(), 1, "one answer per connection");
    assert_eq!(used, answer.len(), "nothing after the answer");
    all.remove(0)
}

/// `/metrics`, checked to be the Prometheus text format, as `name{labels}` → value.
fn scrape(addr: SocketAddr) -> (String, HashMap<String, f64>) {
    let answer = request(addr, "GET", "/metrics");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = answer.text().to_owned();
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').expect("a sample line");
            (name.to_owned(), value.parse().expect("a number"))
        })
        .collect();
    (text, samples)
}

fn sample(samples: &HashMap<String, f64>, name: &str, labels: &str) -> f64 {
    let key = format!("{name}{{{labels}}}");
    *samples
        .get(&key)
        .unwrap_or_else(|| panic!("no sample {key}"))
}

#[test]
fn counters_move_by_exactly_what_reverb_bench_reports() {
    let (server, admin) = start(&["--mode", "line", "--threads", "2"]);
    let listener = format!("listener=\"tcp://{}\",protocol=\"tcp\"", server.addr);
    let (_, before) = scrape(admin);
    let out = Command::new(support::binary())
        .args(["bench", &server.addr.to_string(), "--line", "-s", "64"])
        .args(["-c", "4", "-n", "1000", "--warmup", "0s", "--json"])
        .output()
        .expect("run reverb bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {stdout}");
    let bench: Value = serde_json::from_str(stdout.trim()).expect("bench --json");
    let connections = bench["connections"].as_u64().unwrap();
    let verified = bench["verified"].as_u64().unwrap();
    assert_eq!(bench["reconnects"], 0);
    // The bench has closed its connections; the counters are final once the server has
    // released every one.
    server.await_log_text(|log| log.matches("connection closed").count() >= 4);
    let (_, after) = scrape(admin);
    let moved =
        |name: &str, labels: &str| sample(&after, name, labels) - sample(&before, name, labels);
    assert_eq!(
        moved("reverb_connections_accepted_total", &listener) as u64,
        connections
    );
    let graceful = format!("{listener},reason=\"graceful\"");
    assert_eq!(
        moved("reverb_connections_closed_total", &graceful) as u64,
        connections
    );
    assert_eq!(sample(&after, "reverb_connections_open", &listener), 0.0);
    // Every message is one 64-byte line, echoed as it came.
    assert_eq!(
        moved("reverb_received_bytes_total", &listener) as u64,
        verified * 64
    );
    assert_eq!(
        moved("reverb_sent_bytes_total", &listener) as u64,
        verified * 64
    );
    assert_eq!(
        moved("reverb_frames_echoed_total", &listener) as u64,
        verified
    );
    // One echo timed per message: each is read whole and written back before the next.
    let timed = moved("reverb_echo_latency_seconds_count", &listener) as u64;
    assert_eq!(timed, verified);
    let within_a_second = format!("{listener},le=\"1\"");
    assert_eq!(
        moved("reverb_echo_latency_seconds_bucket", &within_a_second) as u64,
        verified,
        "loopback echoes inside the server take far less than a second"
    );
}

#[test]
fn over_websocket_only_echoes_are_timed_not_handshakes_or_closes() {
    // A WebSocket connection writes its handshake answer and its close frame too: those
    // are the layer's own bytes, not an echo, and must not be counted as echo latencies.
    let (server, admin) = start(&["-l", "ws://127.0.0.1:0", "--threads", "1"]);
    let ws = server.ws[0];
    let listener = format!("listener=\"ws://{ws}\",protocol=\"ws\"");
    let out = Command::new(support::binary())
        .args([
            "bench",
            &format!("ws://{ws}/"),
            "--line",
            "-c",
            "3",
            "-n",
            "300",
        ])
        .args(["--warmup", "0s", "--json"])
        .output()
        .expect("run reverb bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {stdout}");
    let bench: Value = serde_json::from_str(stdout.trim()).expect("bench --json");
    let verified = bench["verified"].as_u64().unwrap();
    server.await_log_text(|log| log.matches("connection closed").count() >= 3);
    let (_, after) = scrape(admin);
    assert_eq!(
        sample(&after, "reverb_frames_echoed_total", &listener) as u64,
        verified
    );
    assert_eq!(
        sample(&after, "reverb_echo_latency_seconds_count", &listener) as u64,
        verified,
        "one timed echo per message, none for the 3 handshakes and 3 closes"
    );
}

#[test]
fn datagrams_dropped_on_purpose_are_not_counted_as_echoed() {
    let (server, admin) = start(&["--udp", "127.0.0.1:0", "--drop", "0.5", "--seed", "7"]);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    const SENT: u64 = 40;
    for i in 0..SENT {
        udp.send_to(format!("{i}\n").as_bytes(), server.udp[0])
            .unwrap();
    }
    // Every reply that comes, until the socket has been quiet a while (loopback delivers
    // at once; the wait only ends the count).
    udp.set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 64];
    let mut answered = 0u64;
    while udp.recv(&mut buf).is_ok() {
        answered += 1;
    }
    assert!(
        0 < answered && answered < SENT,
        "{answered} of {SENT} answered"
    );
    let (_, samples) = scrape(admin);
    let listener = format!("listener=\"udp://{}\",protocol=\"udp\"", server.udp[0]);
    let injected = format!("{listener},reason=\"injected\"");
    assert_eq!(
        sample(&samples, "reverb_datagrams_echoed_total", &listener) as u64,
        answered,
        "echoed is what was answered"
    );
    assert_eq!(
        sample(&samples, "reverb_datagrams_dropped_total", &injected) as u64,
        SENT - answered
    );
}

#[test]
fn promtool_accepts_the_exposition() {
    if !have("promtool") {
        return;
    }
    let (server, admin) = start(&[
        "-l",
        "127.0.0.1:0",
        "-l",
        "ws://127.0.0.1:0",
        "--udp",
        "127.0.0.1:0",
    ]);
    // Something in every family: a connection echoed and closed, a datagram echoed.
    let mut client = server.connect();
    client.roundtrip(b"hello\n", b"hello\n");
    drop(client);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(LIMIT)).unwrap();
    udp.send_to(b"ping\n", server.udp[0]).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(udp.recv(&mut buf).unwrap(), 5);
    server.await_log(&["connection closed"]);
    let (text, samples) = scrape(admin);
    let udp_listener = format!("listener=\"udp://{}\",protocol=\"udp\"", server.udp[0]);
    assert_eq!(
        sample(&samples, "reverb_datagrams_echoed_total", &udp_listener),
        1.0
    );
    assert!(text.contains("reverb_build_info{version=\""), "{text}");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn healthz_is_ok_and_other_requests_get_their_status() {
    let (_server, admin) = start(&[]);
    let health = request(admin, "GET", "/healthz");
    assert_eq!((health.status, health.text()), (200, "ok\n"));
    assert_eq!(health.header("connection"), Some("close"));
    let head = request(admin, "HEAD", "/healthz");
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(request(admin, "GET", "/").status, 404);
    assert_eq!(request(admin, "GET", "/metrics/more").status, 404);
    let post = request(admin, "POST", "/metrics");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
}

#[test]
fn a_malformed_or_oversized_request_is_refused_and_the_endpoint_serves_on() {
    let (server, admin) = start(&[]);
    // An echo client's line, sent to the wrong port, is not HTTP.
    let answer = exchange(admin, b"hello reverb\n\n");
    let (bad, _) = responses_with(&answer, &[]);
    assert_eq!(bad[0].status, 400);
    // A head that never ends within the bound: answered 431 once the bound is reached,
    // and the rest the client sends is read and dropped until it closes.
    let mut huge = b"GET /metrics HTTP/1.1\r\nX-Padding: ".to_vec();
    huge.resize(64 * 1024, b'a');
    let mut stream = TcpStream::connect_timeout(&admin, LIMIT).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.write_all(&huge).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let (large, _) = responses_with(&answer, &[]);
    assert_eq!(large[0].status, 431);
    assert_eq!(request(admin, "GET", "/healthz").status, 200);
    // The echo listener is untouched by all this.
    let mut client = server.connect();
    client.roundtrip(b"still here\n", b"still here\n");
}

#[test]
fn clients_that_say_nothing_cannot_shut_a_probe_out() {
    let (server, admin) = start(&[]);
    // Sixteen clients that send nothing take every slot, and more keep coming: each new
    // connection closes the oldest silent one, so a probe among them is still answered.
    let mut silent: Vec<TcpStream> = (0..16)
        .map(|_| TcpStream::connect_timeout(&admin, LIMIT).expect("connect to admin"))
        .collect();
    for _ in 0..5 {
        silent.push(TcpStream::connect_timeout(&admin, LIMIT).expect("connect to admin"));
        let answer = exchange(admin, b"GET /healthz HTTP/1.1\r\n\r\n");
        assert!(
            answer.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    // The oldest silent one was closed to make room, with nothing said.
    let mut oldest = silent.remove(0);
    oldest.set_read_timeout(Some(LIMIT)).unwrap();
    let mut nothing = Vec::new();
    let _ = oldest.read_to_end(&mut nothing);
    assert!(nothing.is_empty(), "{}", String::from_utf8_lossy(&nothing));
    server.connect().roundtrip(b"echo\n", b"echo\n");
}

#[test]
fn a_client_that_keeps_sending_after_its_answer_is_closed_and_holds_no_loop() {
    // One worker: the admin endpoint shares its loop with the echo.
    let (server, admin) = start(&["--threads", "1"]);
    let mut flood = TcpStream::connect_timeout(&admin, LIMIT).expect("connect to admin");
    flood.set_write_timeout(Some(LIMIT)).unwrap();
    flood.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").unwrap();
    // Keep sending after the request: the endpoint reads and drops up to 64 KiB, then
    // closes; writing stops with an error long before 64 MiB.
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0usize;
    while sent < 64 << 20 {
        match flood.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(
        sent < 64 << 20,
        "the endpoint read {sent} bytes after its answer"
    );
    // The loop serves the echo and the endpoint as before.
    server.connect().roundtrip(b"echo\n", b"echo\n");
    let answer = exchange(admin, b"GET /healthz HTTP/1.1\r\n\r\n");
    assert!(answer.starts_with(b"HTTP/1.1 200"));
}

#[test]
fn healthz_turns_503_at_sigterm_while_the_shutdown_delay_still_accepts() {
    let (mut server, admin) = start(&["--threads", "2", "--shutdown-delay", "2s"]);
    assert_eq!(request(admin, "GET", "/healthz").status, 200);
    server.signal("TERM");
    server.await_log(&["shutting down", "still accepting"]);
    let draining = request(admin, "GET", "/healthz");
    assert_eq!((draining.status, draining.text()), (503, "draining\n"));
    // A balancer that has not probed yet still gets its connections served.
    server.connect().roundtrip(b"late\n", b"late\n");
    server.await_log(&["worker 0", "stopped accepting"]);
    server.await_log(&["worker 1", "stopped accepting"]);
    assert!(
        TcpStream::connect_timeout(&server.addr, LIMIT).is_err(),
        "the listeners are closed after the delay"
    );
    let (status, out) = server.wait_exit();
    assert!(status.success(), "{out}");
}
