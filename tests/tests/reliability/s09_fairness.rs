//! Scenario 9: fairness on one event loop. Firehose clients send and read as fast as
//! loopback goes while ten interactive clients make one small round trip at a time;
//! with `--threads 1` every connection shares one loop, and the read budget per turn
//! (16 reads) is what keeps a firehose from starving the others.
//!
//! All firehoses run on one client thread with non-blocking sockets: a thread per
//! firehose would make this 2-core machine's scheduler, not the server, decide the
//! interactive latency. So the server has one core, the firehoses the other.

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::figure;
use crate::kind::{Conn, Kind};
use crate::pattern::{ms, Latencies, Shape, Stream};
use crate::support::{serial, Server};

const FIREHOSES: usize = 4;
const INTERACTIVE: usize = 10;
/// How long the firehoses run: the measurement window.
const DURATION: Duration = Duration::from_secs(5);
/// An interactive client's think time between round trips.
const THINK: Duration = Duration::from_millis(10);
/// The interactive p99 this server holds beside the firehoses. One turn of the loop moves
/// at most 16 reads of 64 KiB per firehose — 4 MiB in all — before an interactive
/// client's turn: about 5 ms for a debug build at the 800 MiB/s it echoes here.
/// Measured: p99 14–49 ms on this 2-core machine (the client threads compete for the same
/// cores), up to 52 ms while another build ran beside it. A server that let one firehose
/// read until it blocks would starve the others for as long as the firehose lasts: this
/// bound catches that with a margin that a loaded CI machine does not reach.
const P99_BOUND: Duration = Duration::from_millis(200);
/// Slowest single round trip allowed. Measured: up to 110 ms under a concurrent build.
const MAX_BOUND: Duration = Duration::from_secs(1);

#[test]
fn scenario_09_interactive_clients_keep_their_latency_beside_firehoses() {
    let _serial = serial();
    let server = Server::start(Kind::Tcp, &["--mode", "raw", "--threads", "1"]);
    let going = Arc::new(AtomicBool::new(true));
    let moved = Arc::new(AtomicU64::new(0));
    let conns: Vec<Conn> = (0..FIREHOSES).map(|_| server.connect()).collect();
    let firehoses = {
        let going = Arc::clone(&going);
        let moved = Arc::clone(&moved);
        thread::spawn(move || firehose(conns, &going, &moved))
    };
    let started = Instant::now();
    let interactive: Vec<_> = (0..INTERACTIVE)
        .map(|i| {
            let mut conn = server.connect();
            thread::spawn(move || {
                let mut stream = Stream::new(950 + i as u64, Shape::Raw);
                let mut latencies = Latencies::default();
                while started.elapsed() < DURATION {
                    let message = stream.take(64);
                    let at = Instant::now();
                    conn.roundtrip(&message, &message)
                        .expect("interactive echo");
                    latencies.push(at.elapsed());
                    thread::sleep(THINK);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Latencies::default();
    for handle in interactive {
        latencies.extend(handle.join().unwrap());
    }
    let window = started.elapsed();
    going.store(false, Ordering::Release);
    firehoses.join().unwrap();
    let moved = moved.load(Ordering::Relaxed);
    let (p50, p99, max) = (
        latencies.percentile(50.0),
        latencies.percentile(99.0),
        latencies.max(),
    );
    figure(
        9,
        None,
        &format!(
            "--threads 1, {FIREHOSES} firehoses echoing {:.0} MiB/s beside {INTERACTIVE} \
             interactive clients ({} round trips of 64 B): p50 {}, p99 {} (bound {}), max {} \
             (bound {})",
            moved as f64 / (1 << 20) as f64 / window.as_secs_f64(),
            latencies.len(),
            ms(p50),
            ms(p99),
            ms(P99_BOUND),
            ms(max),
            ms(MAX_BOUND)
        ),
    );
    assert!(moved > 0, "the firehoses moved nothing");
    assert!(p99 <= P99_BOUND, "interactive p99 {}", ms(p99));
    assert!(max <= MAX_BOUND, "interactive max {}", ms(max));
}

/// Sends and reads on every firehose as fast as the sockets take it until `going` ends,
/// then half-closes each and reads the rest of its echo. Bytes are not verified: this
/// scenario is about time; the others verify content.
fn firehose(mut conns: Vec<Conn>, going: &AtomicBool, moved: &AtomicU64) {
    let chunk = Stream::new(900, Shape::Raw).take(256 << 10);
    let mut buf = vec![0u8; 256 << 10];
    for conn in &conns {
        conn.tcp().set_nonblocking(true).unwrap();
    }
    while going.load(Ordering::Acquire) {
        for conn in conns.iter_mut() {
            match conn.write(&chunk) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("firehose send: {e}"),
            }
            match conn.read(&mut buf) {
                Ok(0) => panic!("the server closed a firehose"),
                Ok(n) => {
                    moved.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("firehose read: {e}"),
            }
        }
    }
    for mut conn in conns {
        conn.tcp().set_nonblocking(false).unwrap();
        conn.finish().unwrap();
        conn.read_to_eof().expect("the rest of a firehose's echo");
    }
}
