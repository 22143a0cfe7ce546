//! Scenario 10: 10,000 concurrent connections, each echoing, with zero errors; and what
//! the server holds per idle connection, measured as its RSS growth over the ten
//! thousand.

use std::io::{Read, Write};
use std::time::Instant;

use crate::figure;
use crate::kind::{Conn, Kind};
use crate::support::{serial, Server, LIMIT};
use crate::sys;

const CONNECTIONS: usize = 10_000;
/// Server memory per idle connection after an echo: its core state, its slot, its
/// socket's registration and a small output buffer (kernel socket memory is not in
/// RSS). Measured: 0.7 KiB; the bound keeps it under twice that.
const PER_CONNECTION_BOUND: f64 = 1.5 * 1024.0;

#[test]
fn scenario_10_ten_thousand_concurrent_connections_echo_with_zero_errors() {
    let _serial = serial();
    // One descriptor per connection on each side; the server inherits the limit.
    if let Err(why) = sys::raise_nofile(CONNECTIONS as u64 + 512) {
        figure(10, None, &format!("SKIPPED: {why}"));
        return;
    }
    let mut server = Server::start(
        Kind::Tcp,
        &["--threads", "2", "--max-connections", "10000", "-q"],
    );
    // What a first connection allocates for good (the workers' read buffers are there
    // from the start) is not per connection.
    let mut warm = server.connect();
    warm.roundtrip(b"warm up\n", b"warm up\n").unwrap();
    warm.finish().unwrap();
    warm.read_to_eof().unwrap();
    drop(warm);
    let baseline = server.rss_kib();

    let started = Instant::now();
    let mut conns: Vec<Conn> = Vec::with_capacity(CONNECTIONS);
    let mut errors: Vec<String> = Vec::new();
    for i in 0..CONNECTIONS {
        match Kind::Tcp.connect(server.addr, &Default::default()) {
            Ok(conn) => conns.push(conn),
            Err(e) => errors.push(format!("connect {i}: {e}")),
        }
        assert!(errors.len() < 10, "{errors:#?}");
    }
    let connected = started.elapsed();
    let echo_round = |round: usize, conns: &mut [Conn], errors: &mut Vec<String>| {
        // Every connection has its line in flight before any echo is read: ten thousand
        // concurrent echoes, not one after another.
        for (i, conn) in conns.iter_mut().enumerate() {
            let line = format!("connection {i} round {round}\n");
            if let Err(e) = conn.write_all(line.as_bytes()) {
                errors.push(format!("send {i}: {e}"));
            }
        }
        for (i, conn) in conns.iter_mut().enumerate() {
            let line = format!("connection {i} round {round}\n");
            let mut got = vec![0; line.len()];
            match conn.read_exact(&mut got) {
                Ok(()) if got == line.as_bytes() => {}
                Ok(()) => errors.push(format!("echo {i}: {:?}", String::from_utf8_lossy(&got))),
                Err(e) => errors.push(format!("echo {i}: {e}")),
            }
        }
    };
    echo_round(1, &mut conns, &mut errors);
    let held = server.rss_kib().saturating_sub(baseline);
    let descriptors = server.open_descriptors();
    echo_round(2, &mut conns, &mut errors);
    for conn in conns.iter_mut() {
        if let Err(e) = conn.finish() {
            errors.push(format!("half-close: {e}"));
        }
    }
    for (i, conn) in conns.iter_mut().enumerate() {
        match conn.read_to_eof() {
            Ok(rest) if rest.is_empty() => {}
            Ok(rest) => errors.push(format!("close {i}: {} unexpected bytes", rest.len())),
            Err(e) => errors.push(format!("close {i}: {e}")),
        }
    }
    drop(conns);
    let total = started.elapsed();
    server.signal("TERM");
    let (status, summary, _) = server.wait_exit(LIMIT);
    let per_connection = held as f64 * 1024.0 / CONNECTIONS as f64;
    figure(
        10,
        None,
        &format!(
            "{CONNECTIONS} connections open at once ({descriptors} server descriptors), \
             connected in {:.1} s, all echoing concurrently, two rounds, {} errors; server \
             RSS {:.1} MiB idle → +{:.1} MiB: {per_connection:.0} B per idle connection \
             (bound {PER_CONNECTION_BOUND:.0} B); {:.1} s in all; {summary}",
            connected.as_secs_f64(),
            errors.len(),
            baseline as f64 / 1024.0,
            held as f64 / 1024.0,
            total.as_secs_f64()
        ),
    );
    assert!(errors.is_empty(), "{} errors: {errors:#?}", errors.len());
    assert!(descriptors > CONNECTIONS, "{descriptors} descriptors");
    assert!(status.success(), "{status:?}");
    assert!(
        summary.contains(&format!(
            "{} connections ({} graceful, 0 faults, 0 peer errors, 0 timed out, 0 reset), 0 \
             refused",
            CONNECTIONS + 1,
            CONNECTIONS + 1
        )),
        "{summary}"
    );
    assert!(
        per_connection <= PER_CONNECTION_BOUND,
        "{per_connection:.0} bytes per idle connection"
    );
}
