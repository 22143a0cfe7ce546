//! `reverb bench` against in-test echo servers, honest and faulty, and against
//! `reverb serve`, faults injected on purpose included. Loopback only; every run is
//! bounded by -n or a short duration.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Output};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::support::{self, Server};

/// What an in-test server does to the bytes it echoes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// Flips one bit of byte 1000 of each connection's stream.
    Flip,
    /// Drops the 64-byte message that starts at byte 640.
    DropMessage,
    /// Swaps the two 64-byte messages starting at byte 640.
    Reorder,
    /// Closes each connection after 640 bytes, echoing nothing more.
    Hangup,
    /// Echoes each read only after `SLOW_ECHO`: a server slower than the load asked of it.
    Slow,
    /// Closes a connection that sent nothing for `IDLE_HANGUP`, as an idle timeout does.
    HangUpWhenIdle,
    /// Closes each connection as soon as it has echoed its first 64 bytes, so the FIN
    /// follows the echo at once.
    CloseAfterEcho,
}

/// How long the `Slow` server takes per echo.
const SLOW_ECHO: Duration = Duration::from_millis(50);
/// How long the `HangUpWhenIdle` server keeps a silent connection.
const IDLE_HANGUP: Duration = Duration::from_millis(100);

/// A thread-per-connection echo server on 127.0.0.1 that applies `fault` to each
/// connection's byte stream. It lives as long as the test process; each connection thread
/// ends when its client closes.
fn echo_server(fault: Fault) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                if fault == Fault::HangUpWhenIdle {
                    // The read below fails after this long in silence, and the thread
                    // returns: the drop closes the connection.
                    stream.set_read_timeout(Some(IDLE_HANGUP)).unwrap();
                }
                let mut buf = [0u8; 4096];
                // Bytes of the stream seen so far, and a small window kept for reordering.
                let mut seen = 0usize;
                let mut held: Vec<u8> = Vec::new();
                loop {
                    let n = match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let mut out = Vec::with_capacity(n);
                    for &b in &buf[..n] {
                        let at = seen;
                        seen += 1;
                        match fault {
                            Fault::Flip if at == 1000 => out.push(b ^ 0x04),
                            Fault::DropMessage if (640..704).contains(&at) => {}
                            Fault::Reorder if (640..704).contains(&at) => held.push(b),
                            Fault::Reorder if (704..768).contains(&at) => {
                                out.push(b);
                                if at == 767 {
                                    out.append(&mut held);
                                }
                            }
                            Fault::Hangup if at >= 640 => return,
                            _ => out.push(b),
                        }
                    }
                    if fault == Fault::Slow {
                        thread::sleep(SLOW_ECHO);
                    }
                    if stream.write_all(&out).is_err() {
                        return;
                    }
                    if fault == Fault::CloseAfterEcho && seen >= 64 {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// An echo server on 127.0.0.1 that echoes each line only once all of it has arrived, as
/// a line-mode server does: a line longer than the socket buffers can come back only if
/// the client keeps sending it while nothing comes back.
fn line_echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                let mut line = Vec::new();
                loop {
                    let n = match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    // Only the new bytes can hold the end of the line.
                    let end = buf[..n].iter().position(|&b| b == b'\n');
                    match end {
                        None => line.extend_from_slice(&buf[..n]),
                        Some(at) => {
                            line.extend_from_slice(&buf[..=at]);
                            if stream.write_all(&line).is_err() {
                                return;
                            }
                            // The bench sends the next line only after this echo.
                            line.clear();
                            line.extend_from_slice(&buf[at + 1..n]);
                        }
                    }
                }
            });
        }
    });
    addr
}

fn bench(args: &[&str]) -> (Output, Value) {
    let out = Command::new(support::binary())
        .arg("bench")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("--json output does not parse ({e}): {stdout}"));
    (out, json)
}

#[test]
fn an_exact_echo_server_passes_with_every_message_counted() {
    let addr = echo_server(Fault::None).to_string();
    let (out, json) = bench(&[
        &addr,
        "-c",
        "4",
        "-n",
        "2000",
        "--warmup",
        "0s",
        "--pipeline",
        "3",
    ]);
    assert!(out.status.success(), "{json}");
    assert_eq!(json["ok"], true);
    assert_eq!(json["messages"], 2000, "exactly the messages asked for");
    assert_eq!(json["verified"], 2000);
    assert_eq!(json["connected"], 4);
    for key in [
        "mismatches",
        "lost",
        "resets",
        "timeouts",
        "connect_failures",
        "closed",
        "unsent",
    ] {
        assert_eq!(json[key], 0, "{key}");
    }
    assert!(json["latency_us"]["p99"].as_f64().unwrap() > 0.0);
    assert!(json["round_trips_per_cpu_second"].as_f64().unwrap() > 0.0);
}

/// A short run against a server with `fault`: it must fail. Returns the JSON report.
fn failing_run(fault: Fault, extra: &[&str]) -> Value {
    let addr = echo_server(fault).to_string();
    let mut args = vec![addr.as_str(), "-n", "100", "--warmup", "0s"];
    args.extend_from_slice(extra);
    let (out, json) = bench(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a faulty server must fail the run: {json}"
    );
    assert_eq!(json["ok"], false);
    json
}

fn first_error(json: &Value) -> &str {
    json["errors"][0].as_str().unwrap_or_default()
}

#[test]
fn a_flipped_bit_is_a_mismatch_and_fails_the_run() {
    let json = failing_run(Fault::Flip, &["-c", "2"]);
    assert_eq!(json["mismatches"], 2, "one per connection: {json}");
    assert!(
        first_error(&json).contains("message 15 corrupted at byte 40"),
        "{json}"
    );
}

#[test]
fn a_dropped_message_is_detected_as_skipped() {
    // Pipelined, so the next message arrives where the dropped one should have.
    let json = failing_run(Fault::DropMessage, &["-c", "1", "--pipeline", "4"]);
    assert_eq!(json["mismatches"], 1);
    assert!(
        first_error(&json).contains("expected message 10, got 11"),
        "{json}"
    );
}

#[test]
fn a_dropped_message_without_pipelining_is_a_timeout_and_a_loss() {
    let json = failing_run(Fault::DropMessage, &["-c", "1", "--timeout", "300ms"]);
    assert_eq!(json["timeouts"], 1, "{json}");
    assert_eq!(json["lost"], 1, "{json}");
    assert_eq!(json["verified"], 10, "messages 0..9 came back: {json}");
}

#[test]
fn reordered_messages_are_detected() {
    let json = failing_run(Fault::Reorder, &["-c", "1", "--pipeline", "4"]);
    assert_eq!(json["mismatches"], 1);
    assert!(
        first_error(&json).contains("expected message 10, got 11"),
        "{json}"
    );
}

#[test]
fn a_server_that_hangs_up_loses_messages_and_fails_the_run() {
    let json = failing_run(Fault::Hangup, &["-c", "2", "--pipeline", "2"]);
    assert!(json["lost"].as_u64().unwrap() >= 2, "{json}");
}

#[test]
fn idle_holds_every_connection_to_the_end() {
    let addr = echo_server(Fault::None).to_string();
    let (out, json) = bench(&[&addr, "--idle", "200", "--hold", "300ms", "--threads", "2"]);
    assert!(out.status.success(), "{json}");
    assert_eq!(json["mode"], "idle");
    assert_eq!(json["connected"], 200);
    assert_eq!(json["verified"], 200, "one echo per connection");
    assert_eq!(json["open_at_end"], 200);
    assert_eq!(json["closed"], 0);
}

#[test]
fn a_held_connection_the_server_closes_fails_the_hold_which_still_lasts_as_asked() {
    // The server closes each connection 100 ms after its echo, 300 ms before the hold ends.
    let addr = echo_server(Fault::HangUpWhenIdle).to_string();
    let (out, json) = bench(&[&addr, "--idle", "20", "--hold", "400ms"]);
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert_eq!(json["verified"], 20, "{json}");
    assert_eq!(json["closed"], 20, "{json}");
    assert_eq!(json["open_at_end"], 0, "{json}");
    assert!(
        first_error(&json).contains("server closed a held connection"),
        "{json}"
    );
    let held = json["seconds"].as_f64().unwrap();
    assert!(held >= 0.4, "the hold lasts as asked, not {held} s: {json}");
    assert!(json["wall_seconds"].as_f64().unwrap() >= 0.4, "{json}");
}

#[test]
fn a_fin_that_arrives_with_the_echo_is_seen() {
    // The FIN follows each echo at once: often both are there for the same read event.
    let addr = echo_server(Fault::CloseAfterEcho).to_string();
    let (out, json) = bench(&[&addr, "--idle", "50", "--hold", "200ms"]);
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert_eq!(json["verified"], 50, "{json}");
    assert_eq!(json["lost"], 0, "{json}");
    assert_eq!(json["closed"], 50, "every close is seen: {json}");
    assert_eq!(json["open_at_end"], 0, "{json}");
}

#[test]
fn reverb_serve_in_line_mode_passes_a_line_bench() {
    let server = Server::start(&["--mode", "line", "--threads", "1"]);
    let addr = server.addr.to_string();
    let (out, json) = bench(&[
        &addr, "-c", "8", "-d", "300ms", "--warmup", "100ms", "--line",
    ]);
    assert!(out.status.success(), "{json}");
    assert!(json["messages"].as_u64().unwrap() > 100, "{json}");
    assert_eq!(json["mismatches"], 0);
}

#[test]
fn reverb_serve_in_raw_mode_passes_a_pipelined_bench_of_large_messages() {
    let server = Server::start(&["--mode", "raw", "--threads", "1"]);
    let addr = server.addr.to_string();
    let (out, json) = bench(&[
        &addr,
        "-c",
        "4",
        "-s",
        "16KiB",
        "-n",
        "400",
        "--pipeline",
        "8",
        "--warmup",
        "0s",
        "--threads",
        "2",
    ]);
    assert!(out.status.success(), "{json}");
    assert!(json["messages"].as_u64().unwrap() >= 400);
    assert_eq!(json["size"], 16384);
}

#[test]
fn a_message_larger_than_the_socket_buffers_is_sent_on_write_readiness() {
    // 16 MiB is more than the kernel buffers between the two ends hold, and the server
    // echoes nothing before the whole line: only writable events can finish the send.
    let addr = line_echo_server().to_string();
    let (out, json) = bench(&[
        &addr,
        "--line",
        "-s",
        "16MiB",
        "-c",
        "1",
        "-n",
        "1",
        "--warmup",
        "0s",
        "--timeout",
        "2s",
    ]);
    assert!(out.status.success(), "{json}");
    assert_eq!(json["verified"], 1, "{json}");
}

#[test]
fn a_server_that_alters_every_echo_fails_the_bench() {
    // A prefix changes every echo: the bench must notice, not count it as throughput.
    let server = Server::start(&["--mode", "line", "--prefix", ">"]);
    let addr = server.addr.to_string();
    let (out, json) = bench(&[&addr, "-c", "1", "-n", "10", "--warmup", "0s", "--line"]);
    assert!(!out.status.success());
    assert_eq!(json["mismatches"], 1, "{json}");
}

#[test]
fn the_open_loop_keeps_its_rate_and_verifies_every_echo() {
    let server = Server::start(&["--mode", "raw", "--threads", "1"]);
    let addr = server.addr.to_string();
    let (out, json) = bench(&[
        &addr, "-c", "4", "--rate", "2000", "-d", "500ms", "--warmup", "0s",
    ]);
    assert!(out.status.success(), "{json}");
    let rate = json["messages_per_sec"].as_f64().unwrap();
    assert!(
        (1500.0..2500.0).contains(&rate),
        "asked 2000/s, measured {rate}/s"
    );
    assert_eq!(json["due"], 1000, "{json}");
    assert_eq!(json["unsent"], 0, "{json}");
    assert_eq!(json["messages"], 1000, "every due message echoed: {json}");
}

#[test]
fn an_open_loop_times_an_echo_from_its_send_not_from_the_previous_echo() {
    // Each of the 10 connections gets a message every 500 ms and its echo takes 50 ms:
    // idle for longer than the 300 ms timeout between messages, never waiting that long.
    let addr = echo_server(Fault::Slow).to_string();
    let (out, json) = bench(&[
        &addr,
        "-c",
        "10",
        "--rate",
        "20",
        "-d",
        "1s",
        "--warmup",
        "0s",
        "--timeout",
        "300ms",
    ]);
    assert!(out.status.success(), "{json}");
    assert_eq!(json["timeouts"], 0, "{json}");
    assert_eq!(json["due"], 20, "{json}");
    assert_eq!(json["messages"], 20, "{json}");
}

#[test]
fn an_open_loop_that_cannot_keep_its_rate_accounts_for_every_due_message_and_fails() {
    // Two connections to a server taking 50 ms per echo carry 40 msg/s at most: of the 100
    // messages due in half a second at 200/s, most cannot be sent.
    let addr = echo_server(Fault::Slow).to_string();
    let (out, json) = bench(&[
        &addr,
        "-c",
        "2",
        "--rate",
        "200",
        "-d",
        "500ms",
        "--warmup",
        "0s",
        "--timeout",
        "300ms",
    ]);
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert_eq!(json["due"], 100, "{json}");
    let unsent = json["unsent"].as_u64().unwrap();
    assert!(unsent >= 50, "{json}");
    let echoed = json["messages"].as_u64().unwrap();
    assert_eq!(
        echoed + unsent,
        100,
        "each due message is echoed or counted as not sent: {json}"
    );
    for key in ["lost", "mismatches", "timeouts", "closed"] {
        assert_eq!(json[key], 0, "{key}: {json}");
    }
    // The ones that went out went late, and are timed from when they were due.
    let max = json["latency_us"]["max"].as_f64().unwrap();
    assert!(max > 250_000.0, "max latency {max} µs: {json}");
}

#[test]
fn the_text_report_says_what_was_verified_and_draws_no_progress_bar_in_a_pipe() {
    let addr = echo_server(Fault::None).to_string();
    let out = Command::new(support::binary())
        .args(["bench", &addr, "-c", "2", "-n", "50", "--warmup", "0s"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("ok: every echoed byte verified"), "{text}");
    assert!(text.contains("round trips per CPU-second"), "{text}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains('\r'),
        "no progress bar in a pipe"
    );
}

#[test]
fn bench_help_shows_each_default_once() {
    let out = Command::new(support::binary())
        .args(["bench", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for line in help.lines() {
        assert!(line.matches("[default:").count() <= 1, "{line}");
    }
    assert!(
        help.contains("Connections to open [default: 50]\n"),
        "{help}"
    );
    assert!(help.contains("[default: closed loop]"), "{help}");
}

#[test]
fn bad_bench_arguments_are_a_usage_error() {
    let out = Command::new(support::binary())
        .args(["bench", "127.0.0.1:9", "--size", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--size must be at least 1"));
}

/// Runs `reverb bench` with `args` and a text report: its exit status and stdout.
fn bench_text(args: &[&str]) -> (Output, String) {
    let out = Command::new(support::binary())
        .arg("bench")
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, text)
}

/// The byte count in the server's startup line, after `what` (`"reset after"` in
/// `reverb: injecting faults: reset after 1024 B; seed 42 …`).
fn announced(server: &Server, what: &str) -> u64 {
    let line = server.await_stdout("injecting faults");
    line.split_once(what)
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {what:?} N B in {line:?}"))
}

/// `json[key]` as a number (0 when absent or null).
fn n(json: &Value, key: &str) -> u64 {
    json[key].as_u64().unwrap_or(0)
}

#[test]
fn a_reset_the_bench_does_not_expect_fails_the_run() {
    let server = Server::start(&["--reset-after", "1KiB", "--threads", "1"]);
    let addr = server.addr.to_string();
    let (out, json) = bench(&[&addr, "-c", "2", "-n", "100", "--warmup", "0s", "--line"]);
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert!(n(&json, "resets") >= 1, "{json}");
    assert!(json["expected_resets"].is_null(), "{json}");
}

#[test]
fn expected_resets_are_counted_after_the_announced_bytes_and_the_load_goes_on() {
    let server = Server::start(&["--reset-after", "1KiB", "--seed", "42", "--threads", "1"]);
    let after = announced(&server, "reset after");
    assert_eq!(after, 1024);
    let addr = server.addr.to_string();
    let (out, json) = bench(&[
        &addr,
        "-c",
        "4",
        "-d",
        "1s",
        "--warmup",
        "0s",
        "--line",
        "--expect-resets",
    ]);
    assert!(out.status.success(), "{json}");
    for key in [
        "resets",
        "closed",
        "lost",
        "mismatches",
        "timeouts",
        "connect_failures",
    ] {
        assert_eq!(json[key], 0, "{key}: {json}");
    }
    let resets = &json["expected_resets"];
    let count = resets["count"].as_u64().unwrap();
    // Each connection carries 16 messages of 64 bytes before its reset: more than that
    // many per connection were echoed only because connections were opened again.
    let messages = n(&json, "messages");
    assert!(count > 4 && messages > 4 * 16, "{json}");
    assert!(
        json["seconds"].as_f64().unwrap() >= 0.95,
        "the load went on for the whole second: {json}"
    );
    // Every reset is opened again, except those in the drain after the window (at most
    // one per connection).
    let reconnects = n(&json, "reconnects");
    assert!(
        reconnects <= count && reconnects + 4 >= count,
        "{reconnects} reconnects for {count} resets: {json}"
    );
    // The client saw every byte the server announced it would send, and no more.
    assert_eq!(resets["echoed_bytes"]["min"], after, "{json}");
    assert_eq!(resets["echoed_bytes"]["max"], after, "{json}");
    assert!(json["expected_closes"].is_null(), "{json}");
}

#[test]
fn every_message_lost_to_an_expected_reset_is_counted() {
    // 100-byte lines against a reset after 1024 bytes: each reset cuts the 11th line of
    // its connection, so each loses at least that one.
    let server = Server::start(&["--reset-after", "1KiB", "--threads", "1"]);
    let addr = server.addr.to_string();
    let (out, json) = bench(&[
        &addr,
        "-c",
        "4",
        "-s",
        "100",
        "-n",
        "500",
        "--warmup",
        "0s",
        "--line",
        "--expect-resets",
    ]);
    assert!(out.status.success(), "{json}");
    let resets = &json["expected_resets"];
    let (count, lost) = (
        resets["count"].as_u64().unwrap(),
        resets["lost"].as_u64().unwrap(),
    );
    assert!(count >= 40 && lost >= count, "{json}");
    assert_eq!(
        n(&json, "messages") + lost,
        500,
        "each message is echoed or lost to an expected reset: {json}"
    );
    assert_eq!(resets["echoed_bytes"]["min"], 1024, "{json}");
    assert_eq!(resets["echoed_bytes"]["max"], 1024, "{json}");
    assert_eq!(json["lost"], 0, "{json}");
}

#[test]
fn expected_closes_are_counted_after_the_announced_bytes_and_the_load_goes_on() {
    let server = Server::start(&["--close-after", "1KiB", "--threads", "1"]);
    let after = announced(&server, "close after");
    let addr = server.addr.to_string();
    let (out, json) = bench(&[
        &addr,
        "-c",
        "4",
        "-d",
        "1s",
        "--warmup",
        "0s",
        "--line",
        "--expect-closes",
    ]);
    assert!(out.status.success(), "{json}");
    for key in ["resets", "closed", "lost", "mismatches", "timeouts"] {
        assert_eq!(json[key], 0, "{key}: {json}");
    }
    let closes = &json["expected_closes"];
    assert!(closes["count"].as_u64().unwrap() > 4, "{json}");
    assert!(n(&json, "messages") > 4 * 16, "{json}");
    assert!(json["seconds"].as_f64().unwrap() >= 0.95, "{json}");
    assert_eq!(closes["echoed_bytes"]["min"], after, "{json}");
    assert_eq!(closes["echoed_bytes"]["max"], after, "{json}");
    assert!(json["expected_resets"].is_null(), "{json}");
}

#[test]
fn expecting_resets_does_not_excuse_a_close() {
    let server = Server::start(&["--close-after", "1KiB", "--threads", "1"]);
    let addr = server.addr.to_string();
    let (out, json) = bench(&[
        &addr,
        "-c",
        "2",
        "-n",
        "100",
        "--warmup",
        "0s",
        "--line",
        "--expect-resets",
    ]);
    assert_eq!(out.status.code(), Some(1), "{json}");
    // Each connection's close comes with its 16th echo (closed, nothing owed) or just
    // after the 17th message went out (a lost message).
    assert!(n(&json, "closed") + n(&json, "lost") >= 1, "{json}");
    assert_eq!(json["expected_resets"]["count"], 0, "{json}");
}

#[test]
fn a_fault_chance_is_expected_with_both_flags_and_every_loss_is_counted() {
    // A failed connection is closed as a crashing handler's would be: a FIN, or a reset
    // when the server had input it had not read.
    let server = Server::start(&["--fault-chance", "5%", "--seed", "7", "--threads", "1"]);
    let addr = server.addr.to_string();
    let (out, json) = bench(&[
        &addr,
        "-c",
        "4",
        "-n",
        "1000",
        "--pipeline",
        "2",
        "--warmup",
        "0s",
        "--line",
        "--expect-resets",
        "--expect-closes",
    ]);
    assert!(out.status.success(), "{json}");
    let (resets, closes) = (&json["expected_resets"], &json["expected_closes"]);
    let ends = n(resets, "count") + n(closes, "count");
    let lost = n(resets, "lost") + n(closes, "lost");
    // About one frame in 20 fails its connection: 50 of 1000, give or take.
    assert!((10..=150).contains(&ends), "{ends} ends: {json}");
    assert!(lost >= ends, "the failing frame is never echoed: {json}");
    assert_eq!(
        n(&json, "messages") + lost,
        1000,
        "each message is echoed or lost to an expected end: {json}"
    );
    assert_eq!(json["lost"], 0, "{json}");
    assert_eq!(json["mismatches"], 0, "{json}");
}

/// Nanoseconds from a report's duration (`373µs`, `50.59ms`, `1.20s`).
fn report_duration(text: &str) -> f64 {
    let (number, scale) = if let Some(v) = text.strip_suffix("µs") {
        (v, 1e3)
    } else if let Some(v) = text.strip_suffix("ms") {
        (v, 1e6)
    } else if let Some(v) = text.strip_suffix('s') {
        (v, 1e9)
    } else {
        panic!("not a duration: {text:?}")
    };
    number.parse::<f64>().unwrap() * scale
}

#[test]
fn under_a_delay_the_latency_percentiles_show_it() {
    let server = Server::start(&["--delay", "50ms", "--threads", "1"]);
    let addr = server.addr.to_string();
    let (out, text) = bench_text(&[&addr, "-c", "4", "-d", "1s", "--warmup", "200ms", "--line"]);
    assert!(out.status.success(), "{text}");
    // "  latency     p50 50.59ms  p90 50.86ms  p99 53.04ms  p99.9 53.04ms  max 53.04ms"
    let latency = text
        .lines()
        .find(|l| l.trim_start().starts_with("latency"))
        .unwrap_or_else(|| panic!("no latency line: {text}"));
    let p50 = latency
        .split_whitespace()
        .skip_while(|w| *w != "p50")
        .nth(1)
        .map(report_duration)
        .unwrap_or_else(|| panic!("no p50 in {latency:?}"));
    let ms = p50 / 1e6;
    // At least the delay, and the delay once: well under twice it.
    assert!((50.0..100.0).contains(&ms), "p50 {ms} ms: {text}");
    // Closed loop, pipeline 1: each connection has one echo per 50 ms or so.
    let messages: u64 = text
        .lines()
        .find(|l| l.trim_start().starts_with("messages"))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(|m| m.replace(',', "").parse().unwrap())
        .unwrap();
    assert!((40..=80).contains(&messages), "{messages} messages: {text}");
}

#[test]
fn under_a_rate_the_throughput_per_connection_is_the_rate() {
    // 16 KiB/s per connection, 1 KiB messages: 16 echoes a second on each connection. The
    // warmup spends the burst the server's bucket starts with.
    let server = Server::start(&["--mode", "raw", "--rate", "16KiB/s", "--threads", "1"]);
    let addr = server.addr.to_string();
    let (out, json) = bench(&[
        &addr, "-c", "2", "-s", "1KiB", "-d", "2s", "--warmup", "250ms",
    ]);
    assert!(out.status.success(), "{json}");
    let per_connection = json["bytes_per_sec_per_connection"].as_f64().unwrap();
    // Within 10 %: a message more or less per connection in the window is 3 %.
    assert!(
        (0.9 * 16384.0..=1.1 * 16384.0).contains(&per_connection),
        "{per_connection} B/s per connection at --rate 16KiB/s: {json}"
    );
}

#[test]
fn expecting_ends_makes_no_sense_for_held_connections() {
    let out = Command::new(support::binary())
        .args([
            "bench",
            "127.0.0.1:9",
            "--idle",
            "10",
            "--hold",
            "1s",
            "--expect-closes",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

// ---- URLs: tls://, ws://, wss://, and a PROXY header first ----

/// A file name for this test's certificate, unique to the process and the test.
fn temp_file(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("reverb-e2e-bench-{}-{name}", std::process::id()))
}

/// One `reverb serve` with a listener of each scheme, its certificate written to `cert`.
fn every_scheme(extra: &[&str], cert: &std::path::Path) -> Server {
    let mut args = vec![
        "-l",
        "127.0.0.1:0",
        "-l",
        "tls://127.0.0.1:0",
        "-l",
        "ws://127.0.0.1:0",
        "-l",
        "wss://127.0.0.1:0",
        "--tls-write-cert",
        cert.to_str().unwrap(),
        "--threads",
        "1",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// The URL of each listener of an `every_scheme` server, with whether it speaks TLS and
/// WebSocket.
fn urls(server: &Server) -> Vec<(String, bool, bool)> {
    vec![
        (format!("tcp://{}", server.tcp[0]), false, false),
        (
            format!("tls://localhost:{}", server.tls[0].port()),
            true,
            false,
        ),
        (format!("ws://{}/echo", server.ws[0]), false, true),
        (
            format!("wss://localhost:{}", server.wss[0].port()),
            true,
            true,
        ),
    ]
}

#[test]
fn every_scheme_passes_a_verified_bench_and_times_its_handshakes_apart() {
    let cert = temp_file("schemes.pem");
    let server = every_scheme(&[], &cert);
    for (url, tls, ws) in urls(&server) {
        let mut args = vec![
            url.as_str(),
            "-c",
            "4",
            "-n",
            "400",
            "--warmup",
            "0s",
            "--line",
        ];
        if tls {
            args.extend(["--ca", cert.to_str().unwrap()]);
        }
        let (out, json) = bench(&args);
        assert!(out.status.success(), "{url}: {json}");
        assert_eq!(json["messages"], 400, "{url}: {json}");
        assert_eq!(json["connected"], 4, "{url}: {json}");
        assert_eq!(json["protocol_errors"], 0, "{url}: {json}");
        assert_eq!(json["addr"], url.as_str(), "{json}");
        let handshake = &json["handshake_us"];
        for (on, which) in [(tls, "tls"), (ws, "websocket")] {
            if on {
                assert!(
                    handshake[which]["p50"].as_f64().unwrap() > 0.0,
                    "{url}: {which}: {json}"
                );
                assert!(
                    handshake[which]["max"].as_f64() >= handshake[which]["p50"].as_f64(),
                    "{json}"
                );
            } else {
                assert!(handshake[which].is_null(), "{url}: {which}: {json}");
            }
        }
    }
    let _ = std::fs::remove_file(cert);
}

#[test]
fn the_text_report_has_a_line_per_handshake_apart_from_the_connect() {
    let cert = temp_file("lines.pem");
    let server = every_scheme(&[], &cert);
    let url = format!("wss://localhost:{}", server.wss[0].port());
    let (out, text) = bench_text(&[&url, "-c", "2", "-n", "50", "--warmup", "0s", "--insecure"]);
    assert!(out.status.success(), "{text}");
    let line = |label: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("  {label} ")))
            .unwrap_or_else(|| panic!("no {label} line: {text}"))
            .to_owned()
    };
    assert!(line("connect").contains("p50 "), "{text}");
    let tls = line("tls");
    assert!(
        tls.contains("p50 ")
            && tls.contains("p99 ")
            && tls.ends_with("handshake after the connect"),
        "{text}"
    );
    assert!(line("websocket").ends_with("handshake after tls"), "{text}");
    assert!(text.contains(", protocol 0\n"), "{text}");
    assert!(text.starts_with(&format!("reverb bench {url}: ")), "{text}");
    // Plain TCP's report has neither line, nor the protocol count.
    let (out, text) = bench_text(&[
        &server.tcp[0].to_string(),
        "-c",
        "1",
        "-n",
        "10",
        "--warmup",
        "0s",
        "--line",
    ]);
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains("  tls ") && !text.contains("handshake"),
        "{text}"
    );
    assert!(!text.contains("protocol"), "{text}");
    let _ = std::fs::remove_file(cert);
}

#[test]
fn a_server_that_alters_every_echo_fails_the_bench_inside_tls_and_websocket() {
    let cert = temp_file("alter.pem");
    let server = every_scheme(&["--prefix", ">"], &cert);
    for (url, tls, _) in urls(&server) {
        let mut args = vec![
            url.as_str(),
            "-c",
            "1",
            "-n",
            "10",
            "--warmup",
            "0s",
            "--line",
        ];
        if tls {
            args.extend(["--ca", cert.to_str().unwrap()]);
        }
        let (out, json) = bench(&args);
        assert_eq!(out.status.code(), Some(1), "{url}: {json}");
        assert_eq!(json["mismatches"], 1, "{url}: {json}");
        assert!(
            first_error(&json).contains("message 0 corrupted at byte 0"),
            "{url}: {json}"
        );
    }
    let _ = std::fs::remove_file(cert);
}

/// A TCP relay on 127.0.0.1 to `upstream` that flips one bit of the byte at `flip_at`
/// in what the server sends back: a corruption on the wire, below TLS.
fn corrupting_relay(upstream: SocketAddr, flip_at: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let Ok(mut server) = std::net::TcpStream::connect(upstream) else {
                return;
            };
            let (mut client_in, mut server_out) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            thread::spawn(move || {
                let _ = std::io::copy(&mut client_in, &mut server_out);
                let _ = server_out.shutdown(std::net::Shutdown::Write);
            });
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut seen = 0usize;
                loop {
                    let n = match server.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if (seen..seen + n).contains(&flip_at) {
                        buf[flip_at - seen] ^= 0x04;
                    }
                    seen += n;
                    if client.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_bit_flipped_inside_a_tls_record_is_a_protocol_error_that_fails_the_run() {
    let cert = temp_file("flip.pem");
    let server = every_scheme(&[], &cert);
    // Far past the handshake: 1000 messages of 64 bytes are about 86 KB of records.
    let relay = corrupting_relay(server.tls[0], 20_000);
    let url = format!("tls://localhost:{}", relay.port());
    let (out, json) = bench(&[
        &url,
        "-c",
        "1",
        "-n",
        "1000",
        "--warmup",
        "0s",
        "--line",
        "--ca",
        cert.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert_eq!(json["protocol_errors"], 1, "{json}");
    assert_eq!(
        json["mismatches"], 0,
        "TLS caught it, not the pattern: {json}"
    );
    assert!(first_error(&json).starts_with("tls: "), "{json}");
    let _ = std::fs::remove_file(cert);
}

/// What an in-test WebSocket server does to the messages it echoes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WsFault {
    /// Flips one bit of byte 1000 of the payload stream.
    Flip,
    /// Echoes each message as two, cut in the middle.
    Split,
    /// Echoes every message as binary.
    Binary,
}

/// A thread-per-connection WebSocket echo server (tungstenite's) on 127.0.0.1 that applies
/// `fault` to what it echoes.
fn ws_echo_server(fault: WsFault) -> SocketAddr {
    use tungstenite::Message;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            thread::spawn(move || {
                let Ok(mut ws) = tungstenite::accept(stream) else {
                    return;
                };
                let mut seen = 0usize;
                loop {
                    let (mut payload, text) = match ws.read() {
                        Ok(Message::Text(t)) => (t.as_bytes().to_vec(), true),
                        Ok(Message::Binary(b)) => (b.to_vec(), false),
                        Ok(_) => continue,
                        Err(_) => return,
                    };
                    if fault == WsFault::Flip && (seen..seen + payload.len()).contains(&1000) {
                        payload[1000 - seen] ^= 0x04;
                    }
                    seen += payload.len();
                    let message = |bytes: Vec<u8>| match (text, fault) {
                        (true, WsFault::Binary) | (false, _) => Message::binary(bytes),
                        (true, _) => Message::text(String::from_utf8(bytes).unwrap()),
                    };
                    let parts = if fault == WsFault::Split {
                        let half = payload.split_off(payload.len() / 2);
                        vec![payload, half]
                    } else {
                        vec![payload]
                    };
                    for part in parts {
                        if ws.send(message(part)).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn websocket_echoes_are_checked_byte_by_byte_and_message_by_message() {
    // Binary 64-byte messages: byte 1000 is byte 40 of message 15, as over TCP.
    let addr = ws_echo_server(WsFault::Flip);
    let json = failing_ws_run(addr, &[]);
    assert!(
        first_error(&json).contains("message 15 corrupted at byte 40"),
        "{json}"
    );
    let json = failing_ws_run(ws_echo_server(WsFault::Split), &[]);
    assert!(
        first_error(&json)
            .contains("message 0 came back in a websocket message of 32 bytes, sent as one of 64"),
        "{json}"
    );
    let json = failing_ws_run(ws_echo_server(WsFault::Binary), &["--line"]);
    assert!(
        first_error(&json).contains("message 0 came back as a binary message, sent as text"),
        "{json}"
    );
}

/// A short bench of `ws://addr` that must fail with one mismatch.
fn failing_ws_run(addr: SocketAddr, extra: &[&str]) -> Value {
    let url = format!("ws://{addr}/");
    let mut args = vec![url.as_str(), "-c", "1", "-n", "100", "--warmup", "0s"];
    args.extend_from_slice(extra);
    let (out, json) = bench(&args);
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert_eq!(json["mismatches"], 1, "{json}");
    json
}

/// A listener on 127.0.0.1 that reads a PROXY header (v1: up to its CRLF; v2: its 16
/// bytes and the block they announce) at the start of each connection and sends it, with
/// the connection's real client and listener addresses, to the test; then echoes the
/// rest, or relays it to `upstream`.
pub(crate) fn proxy_listener(
    upstream: Option<SocketAddr>,
) -> (
    SocketAddr,
    std::sync::mpsc::Receiver<(Vec<u8>, SocketAddr, SocketAddr)>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let send = send.clone();
            thread::spawn(move || {
                stream.set_read_timeout(Some(support::LIMIT)).unwrap();
                let mut header = vec![0u8; 16];
                if stream.read_exact(&mut header).is_err() {
                    return;
                }
                if header.starts_with(b"PROXY ") {
                    let mut byte = [0u8; 1];
                    while !header.ends_with(b"\r\n") && header.len() < 107 {
                        if stream.read_exact(&mut byte).is_err() {
                            return;
                        }
                        header.push(byte[0]);
                    }
                } else {
                    let len = usize::from(u16::from_be_bytes([header[14], header[15]]));
                    let mut block = vec![0u8; len];
                    if stream.read_exact(&mut block).is_err() {
                        return;
                    }
                    header.extend(block);
                }
                let peer = stream.peer_addr().unwrap();
                let local = stream.local_addr().unwrap();
                let _ = send.send((header, peer, local));
                stream.set_read_timeout(None).unwrap();
                match upstream {
                    None => {
                        let mut reader = stream.try_clone().unwrap();
                        let _ = std::io::copy(&mut reader, &mut stream);
                    }
                    Some(upstream) => {
                        let mut server = std::net::TcpStream::connect(upstream).unwrap();
                        let (mut client_in, mut server_out) =
                            (stream.try_clone().unwrap(), server.try_clone().unwrap());
                        thread::spawn(move || {
                            let _ = std::io::copy(&mut client_in, &mut server_out);
                            let _ = server_out.shutdown(std::net::Shutdown::Write);
                        });
                        let _ = std::io::copy(&mut server, &mut stream);
                    }
                }
            });
        }
    });
    (addr, receive)
}

/// The header the spec gives for a TCP/IPv4 connection from `source` to `destination`,
/// written out by hand from HAProxy's proxy-protocol.txt.
pub(crate) fn expected_header(
    version: &str,
    source: SocketAddr,
    destination: SocketAddr,
) -> Vec<u8> {
    let (SocketAddr::V4(s), SocketAddr::V4(d)) = (source, destination) else {
        panic!("IPv4 loopback only");
    };
    match version {
        "v1" => format!(
            "PROXY TCP4 {} {} {} {}\r\n",
            s.ip(),
            d.ip(),
            s.port(),
            d.port()
        )
        .into_bytes(),
        _ => {
            // §2.2: the 12-byte signature, version 2 and PROXY (0x21), TCP over IPv4
            // (0x11), 12 bytes of addresses, then source and destination address and port.
            let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
            h.extend([0x21, 0x11, 0, 12]);
            h.extend(s.ip().octets());
            h.extend(d.ip().octets());
            h.extend(s.port().to_be_bytes());
            h.extend(d.port().to_be_bytes());
            h
        }
    }
}

#[test]
fn send_proxy_puts_the_exact_header_first_on_every_connection() {
    for version in ["v1", "v2"] {
        let (addr, headers) = proxy_listener(None);
        let (out, json) = bench(&[
            &addr.to_string(),
            "-c",
            "3",
            "-n",
            "30",
            "--warmup",
            "0s",
            "--send-proxy",
            version,
        ]);
        assert!(out.status.success(), "{version}: {json}");
        assert_eq!(json["messages"], 30, "{json}");
        for _ in 0..3 {
            let (header, client, listener) = headers.recv_timeout(support::LIMIT).unwrap();
            assert_eq!(
                header,
                expected_header(version, client, listener),
                "{version}: {:?}",
                String::from_utf8_lossy(&header)
            );
        }
    }
}

#[test]
fn send_proxy_goes_before_the_tls_handshake() {
    let cert = temp_file("proxy.pem");
    let server = every_scheme(&[], &cert);
    // The listener takes the header off and relays the rest to the TLS listener.
    let (addr, headers) = proxy_listener(Some(server.wss[0]));
    let url = format!("wss://localhost:{}", addr.port());
    let (out, json) = bench(&[
        &url,
        "-c",
        "2",
        "-n",
        "20",
        "--warmup",
        "0s",
        "--line",
        "--send-proxy",
        "v2",
        "--ca",
        cert.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{json}");
    for _ in 0..2 {
        let (header, client, listener) = headers.recv_timeout(support::LIMIT).unwrap();
        assert_eq!(header, expected_header("v2", client, listener));
    }
    let _ = std::fs::remove_file(cert);
}

#[test]
fn tls_settings_belong_to_tls_urls() {
    let cases: [(&[&str], &str); 3] = [
        (&["tls://127.0.0.1:9"], "needs --ca FILE"),
        (
            &["127.0.0.1:9", "--insecure"],
            "are for tls://, wss:// and https://",
        ),
        (&["gopher://127.0.0.1:9"], "unknown scheme"),
    ];
    for (args, why) in cases {
        let out = Command::new(support::binary())
            .arg("bench")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
    }
}

// ---- --connect-rate: churn ----

#[test]
fn churn_opens_echoes_and_closes_every_connection_that_falls_due_over_every_scheme() {
    let cert = temp_file("churn.pem");
    let server = every_scheme(&["--mode", "raw"], &cert);
    for (url, tls, ws) in urls(&server) {
        // 50 connections/s for 400 ms: connections 0..19 fall due (one every 20 ms).
        let mut args = vec![
            url.as_str(),
            "--connect-rate",
            "50",
            "-c",
            "8",
            "-d",
            "400ms",
            "--warmup",
            "0s",
        ];
        if tls {
            args.extend(["--ca", cert.to_str().unwrap()]);
        }
        let (out, json) = bench(&args);
        assert!(out.status.success(), "{url}: {json}");
        assert_eq!(json["mode"], "churn", "{json}");
        assert_eq!(json["due"], 20, "{url}: {json}");
        assert_eq!(json["unsent"], 0, "{url}: {json}");
        assert_eq!(
            json["cycles"], 20,
            "each connected, echoed, closed: {url}: {json}"
        );
        assert_eq!(json["connected"], 20, "{url}: {json}");
        assert_eq!(json["verified"], 20, "one echo each: {url}: {json}");
        assert_eq!(json["open_at_end"], 0, "{url}: {json}");
        for key in [
            "connect_failures",
            "resets",
            "timeouts",
            "mismatches",
            "lost",
            "closed",
        ] {
            assert_eq!(json[key], 0, "{url}: {key}: {json}");
        }
        assert!(json["cycle_us"]["p50"].as_f64().unwrap() > 0.0, "{json}");
        assert!(
            json["cycle_us"]["max"].as_f64() >= json["connect_us"]["max"].as_f64(),
            "a cycle holds its connect: {json}"
        );
        let handshake = &json["handshake_us"];
        for (on, which) in [(tls, "tls"), (ws, "websocket")] {
            assert_eq!(handshake[which].is_object(), on, "{url}: {which}: {json}");
        }
    }
    // The server saw each of the 4 × 20 connections end in order: closed gracefully,
    // none reset.
    let mut server = server;
    server.signal("TERM");
    let (_, out) = server.wait_exit();
    assert!(
        out.contains("80 connections (80 graceful, 0 faults, 0 peer errors, 0 timed out, 0 reset)"),
        "{out}"
    );
    let _ = std::fs::remove_file(cert);
}

#[test]
fn churn_against_a_server_that_never_echoes_keeps_at_most_c_connections_open() {
    // A listener that accepts nothing: the kernel completes each connect into its
    // backlog, and no echo ever comes. Each slot is held for the timeout (1 s), longer
    // than the run's 300 ms, so only the first 4 of the 60 due connections are opened.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (out, json) = bench(&[
        &addr,
        "--connect-rate",
        "200",
        "-c",
        "4",
        "-d",
        "300ms",
        "--warmup",
        "0s",
        "--timeout",
        "1s",
    ]);
    drop(listener);
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert_eq!(json["due"], 60, "{json}");
    let opened = 60 - json["unsent"].as_u64().unwrap();
    // A slot freed by the timeout scan just before the backlog is given up may take one
    // more connection: never more than one per slot.
    assert!((4..=8).contains(&opened), "{opened} opened: {json}");
    assert_eq!(json["cycles"], 0, "{json}");
    assert_eq!(json["timeouts"].as_u64(), Some(opened), "{json}");
    assert_eq!(json["ok"], false);
}

#[test]
fn churn_refuses_flags_it_cannot_honour() {
    for (extra, why) in [
        (
            &["--connect-rate", "0"][..],
            "--connect-rate must be a positive",
        ),
        (
            &["--connect-rate", "10", "--rate", "10"][..],
            "cannot be used with",
        ),
        (
            &["--connect-rate", "10", "--pipeline", "2"][..],
            "cannot be used with",
        ),
    ] {
        let mut args = vec!["127.0.0.1:9"];
        args.extend_from_slice(extra);
        let (out, _) = bench_text(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
    }
}

// ---- http:// and https://: reverb's HTTP echo ----

#[test]
fn the_http_echo_passes_a_verified_bench_pipelined_and_over_tls() {
    let cert = temp_file("http.pem");
    let server = Server::start(&[
        "-l",
        "http://127.0.0.1:0",
        "-l",
        "https://127.0.0.1:0",
        "-l",
        "http://127.0.0.1:0?format=json",
        "--tls-write-cert",
        cert.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    let http = format!("http://{}/echo", server.http[0]);
    let https = format!("https://localhost:{}", server.https[0].port());
    for (url, tls) in [(&http, false), (&https, true)] {
        let mut args = vec![
            url.as_str(),
            "-c",
            "4",
            "-n",
            "400",
            "--pipeline",
            "4",
            "-s",
            "1KiB",
            "--warmup",
            "0s",
        ];
        if tls {
            args.extend(["--ca", cert.to_str().unwrap()]);
        }
        let (out, json) = bench(&args);
        assert!(out.status.success(), "{url}: {json}");
        assert_eq!(json["scheme"], if tls { "https" } else { "http" });
        assert_eq!(json["messages"], 400, "{url}: {json}");
        assert_eq!(json["protocol_errors"], 0, "{url}: {json}");
        assert_eq!(json["handshake_us"]["tls"].is_object(), tls, "{json}");
        assert!(json["handshake_us"]["websocket"].is_null(), "{json}");
    }
    // Churn over HTTP: a request and its answer per connection.
    let (out, json) = bench(&[
        &http,
        "--connect-rate",
        "50",
        "-c",
        "4",
        "-d",
        "200ms",
        "--warmup",
        "0s",
    ]);
    assert!(out.status.success(), "{json}");
    assert_eq!(json["cycles"], 10, "{json}");
    // A JSON answer is not the request sent back: a protocol error, named.
    let json_url = format!("http://{}", server.http[1]);
    let (out, json) = bench(&[&json_url, "-c", "1", "-n", "5", "--warmup", "0s"]);
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert_eq!(json["protocol_errors"], 1, "{json}");
    assert!(
        first_error(&json).contains("is the listener's format raw?"),
        "{json}"
    );
    let _ = std::fs::remove_file(cert);
}

#[test]
fn reverb_client_leaves_http_to_the_bench() {
    let (status, _, err) = support::run(&["client", "http://127.0.0.1:9"], b"");
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("http:// is for reverb bench"), "{err}");
}
