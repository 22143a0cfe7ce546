//! Scenario 8: SIGTERM with 100 connections mid-echo, each client reading slowly. The
//! server stops taking input, flushes everything it accepted to clients that take their
//! time, sends its FINs and exits 0 within `--shutdown-timeout`. "Every pending byte
//! delivered" is checked per connection: what the client read equals what the server
//! says it took in and wrote out, and is exactly the start of what the client sent.
//!
//! With `--admin` and `--shutdown-delay`: `/healthz` says 503 from the signal on, while
//! the listeners still accept a new connection; after the delay they refuse one, and
//! `/healthz` still answers (503) while the slow readers drain.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::figure;
use crate::kind::{ConnectOptions, Kind};
use crate::pattern::{Shape, Stream};
use crate::support::{http_get, number, serial, Server};

const CLIENTS: usize = 100;
/// Most each client sends: a safety cap, never reached. A client sends until the signal,
/// so every connection is mid-echo with the server's reading paused when it lands.
const SENT: u64 = 256 << 20;
/// Each client reads this much, then pauses: at most 3.2 MB/s, slow next to loopback.
const READ_CHUNK: usize = 16 << 10;
const READ_PAUSE: Duration = Duration::from_millis(5);
/// The clients' receive buffer: small, so most of the pending echo is still the
/// server's to deliver when the signal lands.
const CLIENT_BUFFER: usize = 64 << 10;
/// Echo each client reads before the signal: enough that every one is mid-echo.
const BEFORE_SIGNAL: u64 = 128 << 10;
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the listeners keep accepting after the signal while `/healthz` says 503:
/// room for a probe and a new connection's echo on a loaded debug build.
const SHUTDOWN_DELAY: Duration = Duration::from_secs(3);

struct Outcome {
    peer: String,
    /// Echo read before the signal, and in all.
    before: u64,
    total: u64,
}

#[test]
fn scenario_08_sigterm_delivers_every_pending_byte_to_slow_readers_then_exits_zero() {
    let _serial = serial();
    for kind in Kind::ALL {
        sigterm_drains_slow_readers(kind);
    }
}

fn sigterm_drains_slow_readers(kind: Kind) {
    let mut server = Server::start(
        kind,
        &[
            "--mode",
            "raw",
            "--threads",
            "2",
            "--shutdown-timeout",
            "10s",
            "--shutdown-delay",
            &format!("{}s", SHUTDOWN_DELAY.as_secs()),
            "--admin",
            "127.0.0.1:0",
        ],
    );
    let admin = server.admin_addr();
    assert_eq!(http_get(admin, "/healthz"), (200, "ok\n".to_owned()));
    let options = ConnectOptions {
        receive_buffer: Some(CLIENT_BUFFER),
        ..ConnectOptions::default()
    };
    // Every reader waits here after its first BEFORE_SIGNAL bytes; the test thread is the
    // last party, and sends the signal once all have arrived.
    let barrier = Arc::new(Barrier::new(CLIENTS + 1));
    let stop_sending = Arc::new(AtomicBool::new(false));
    let mut signalled = Vec::new();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let conn = kind.connect(server.addr, &options).unwrap();
            let peer = conn.local_addr().to_string();
            let (mut reader, mut writer) = conn.split();
            let (tx, rx) = mpsc::channel::<()>();
            signalled.push(tx);
            let seed = 800 + i as u64;
            let stop = Arc::clone(&stop_sending);
            let sender = thread::spawn(move || {
                let mut stream = Stream::new(seed, Shape::Raw);
                while stream.offset < SENT && !stop.load(Ordering::Acquire) {
                    // Blocks while the server's reading is paused; after the signal the
                    // server flushes, sends its FIN, then lingers and drops what comes, so
                    // a blocked write ends then.
                    if let Err(e) = writer.write_all(&stream.take(64 << 10)) {
                        return Err(format!("send at {}: {e}", stream.offset));
                    }
                }
                // Our FIN ends the server's linger once it has sent its own.
                writer.finish().map_err(|e| e.to_string())
            });
            let barrier = Arc::clone(&barrier);
            let reader = thread::spawn(move || {
                let mut check = Stream::new(seed, Shape::Raw);
                let mut buf = vec![0u8; READ_CHUNK];
                let mut before = None;
                loop {
                    if before.is_none() && check.offset >= BEFORE_SIGNAL {
                        before = Some(check.offset);
                        barrier.wait();
                        rx.recv().unwrap();
                    }
                    let n = match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) => return Err(format!("read at {}: {e}", check.offset)),
                    };
                    check.check(&buf[..n])?;
                    thread::sleep(READ_PAUSE);
                }
                Ok((before.unwrap_or(check.offset), check.offset))
            });
            (peer, sender, reader)
        })
        .collect();
    barrier.wait();
    // Before the signal: the server's delay starts when it gets the signal, which is
    // after this, so the listeners cannot be seen closing sooner than the delay.
    let signal_at = Instant::now();
    server.signal("TERM");
    server.await_log(&["shutting down"]);
    // The balancer's view at once: draining, though a new connection is still served.
    assert_eq!(http_get(admin, "/healthz"), (503, "draining\n".to_owned()));
    let mut late = kind
        .connect(server.addr, &ConnectOptions::default())
        .expect("a new connection during the shutdown delay");
    late.roundtrip(b"still served", b"still served")
        .expect("an echo during the shutdown delay");
    drop(late);
    // After the delay the listeners close; the slow readers are still held back, so the
    // drain is under way, and the admin endpoint answers through it.
    server.await_count(&["stopped accepting"], 2);
    let closed_after = signal_at.elapsed();
    assert!(
        kind.connect(server.addr, &ConnectOptions::default())
            .is_err(),
        "a new connection after the shutdown delay"
    );
    assert_eq!(http_get(admin, "/healthz"), (503, "draining\n".to_owned()));
    stop_sending.store(true, Ordering::Release);
    for tx in signalled {
        tx.send(()).unwrap();
    }
    let mut outcomes = Vec::new();
    for (peer, sender, reader) in clients {
        let (before, total) = reader
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("{peer}: {e}"));
        sender
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("{peer}: {e}"));
        outcomes.push(Outcome {
            peer,
            before,
            total,
        });
    }
    let drained = signal_at.elapsed();
    let (status, summary, _) = server.wait_exit(SHUTDOWN_TIMEOUT + Duration::from_secs(5));
    let exited = signal_at.elapsed();
    let closes = server.log_lines(&["connection closed"]);
    for outcome in &outcomes {
        let line = closes
            .iter()
            .find(|l| l.contains(&format!("peer={} ", outcome.peer)))
            .unwrap_or_else(|| panic!("no close logged for {}", outcome.peer));
        assert!(line.contains("reason=shutdown"), "{line}");
        let (taken, written) = (number(line, "bytes_in"), number(line, "bytes_out"));
        assert!(
            kind.carries(taken, outcome.total) && kind.carries(written, outcome.total),
            "{}: the server took {taken} and wrote {written}; the client read {}",
            outcome.peer,
            outcome.total
        );
    }
    let pending: u64 = outcomes.iter().map(|o| o.total - o.before).sum();
    let least = outcomes.iter().map(|o| o.total - o.before).min().unwrap();
    figure(
        8,
        Some(kind),
        &format!(
            "SIGTERM with {CLIENTS} connections mid-echo, clients reading 16 KiB per 5 ms: \
             {:.1} MiB pending at the signal (at least {} KiB per connection), every byte \
             delivered and verified; /healthz 503 from the signal, a new connection served \
             in the {} s shutdown delay and refused after it (listeners closed at {:.2} s); \
             all drained in {:.2} s, exit {} after {:.2} s (shutdown timeout {} s); {summary}",
            pending as f64 / (1 << 20) as f64,
            least >> 10,
            SHUTDOWN_DELAY.as_secs(),
            closed_after.as_secs_f64(),
            drained.as_secs_f64(),
            status.code().unwrap_or(-1),
            exited.as_secs_f64(),
            SHUTDOWN_TIMEOUT.as_secs()
        ),
    );
    assert!(status.success(), "{status:?}");
    assert!(
        closed_after >= SHUTDOWN_DELAY,
        "listeners closed after {closed_after:?}"
    );
    assert!(
        exited < SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT,
        "exit after {exited:?}"
    );
    assert!(least > 0, "a connection had nothing pending at the signal");
    // The clients, and the one served during the shutdown delay.
    let all = CLIENTS + 1;
    assert!(
        summary.contains(&format!("{all} connections ({all} graceful")),
        "{summary}"
    );
}
