//! `reverb bench` against in-test echo servers, honest and faulty, and against
//! `reverb serve`. Loopback only; every run is bounded by -n or a short duration.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Output};
use std::thread;

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
}

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
                    if stream.write_all(&out).is_err() {
                        return;
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
    let messages = json["messages"].as_u64().unwrap();
    assert!((2000..2000 + 4 * 3).contains(&messages), "{messages}");
    assert_eq!(json["verified"].as_u64().unwrap(), messages);
    assert_eq!(json["connected"], 4);
    for key in [
        "mismatches",
        "lost",
        "resets",
        "timeouts",
        "connect_failures",
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
fn bad_bench_arguments_are_a_usage_error() {
    let out = Command::new(support::binary())
        .args(["bench", "127.0.0.1:9", "--size", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--size must be at least 1"));
}
