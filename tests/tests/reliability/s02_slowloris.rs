//! Scenario 2: slowloris. A thousand connections hold the server open as cheaply as they
//! can: most trickle a byte at a time and never finish a line (only the frame timeout
//! ends them: each byte is progress, so the idle timer never fires), the rest connect and
//! say nothing (the idle timeout ends them). All are closed by their timer, gracefully,
//! while a normal client is served.

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::figure;
use crate::kind::{Conn, Kind};
use crate::pattern::{ms, Latencies};
use crate::support::{mib, serial, Server, LIMIT};
use crate::sys;

const TRICKLERS: usize = 800;
const SILENT: usize = 200;
const FRAME_TIMEOUT: Duration = Duration::from_secs(1);
const IDLE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a trickler sends its next byte: a slowloris's pace is its own, so this is
/// a sleep by nature. It is also how soon a close is noticed.
const TRICKLE_INTERVAL: Duration = Duration::from_millis(100);
/// How late after its timer a connection may be closed. The server fires timers to the
/// millisecond; the rest is this client noticing (one interval) on a loaded machine.
/// Measured: under 0.2 s.
const CLOSE_SLACK: Duration = Duration::from_secs(3);
/// Slowest round trip of the normal client. Measured: a few milliseconds.
const NORMAL_BOUND: Duration = Duration::from_millis(500);

struct Loris {
    /// Dropped as soon as the server's FIN is seen: closing our side ends the server's
    /// linger at once.
    conn: Option<Conn>,
    trickles: bool,
    /// When its timer started from this side: the connect, or the first byte sent.
    since: Option<Instant>,
    closed_after: Option<Duration>,
}

#[test]
fn scenario_02_slowloris_connections_are_all_closed_by_their_timers() {
    let _serial = serial();
    let connections = TRICKLERS + SILENT;
    // Each side holds one descriptor per connection: this process, and the server,
    // which inherits the limit.
    if let Err(why) = sys::raise_nofile(connections as u64 + 256) {
        figure(2, None, &format!("SKIPPED: {why}"));
        return;
    }
    let server = Server::start(
        Kind::Tcp,
        &[
            "--threads",
            "2",
            "--frame-timeout",
            "1s",
            "--idle-timeout",
            "2s",
        ],
    );

    let done = Arc::new(AtomicBool::new(false));
    let normal = {
        let mut client = server.connect();
        let done = Arc::clone(&done);
        thread::spawn(move || {
            let mut latencies = Latencies::default();
            let mut i = 0u64;
            while !done.load(Ordering::Acquire) {
                let line = format!("normal client, line {i}\n");
                let at = Instant::now();
                client.roundtrip(line.as_bytes(), line.as_bytes()).unwrap();
                latencies.push(at.elapsed());
                i += 1;
                // An interactive pace, well inside the idle timeout.
                thread::sleep(Duration::from_millis(20));
            }
            latencies
        })
    };

    let mut lorises: Vec<Loris> = (0..connections)
        .map(|i| {
            let conn = server.connect();
            conn.tcp().set_nonblocking(true).unwrap();
            let trickles = i < TRICKLERS;
            Loris {
                conn: Some(conn),
                trickles,
                since: (!trickles).then(Instant::now),
                closed_after: None,
            }
        })
        .collect();
    let peak_connections_rss = server.rss_kib();

    let started = Instant::now();
    let mut buf = [0u8; 64];
    while lorises.iter().any(|l| l.closed_after.is_none()) {
        assert!(
            started.elapsed() < LIMIT,
            "{} connections still open after {LIMIT:?}",
            lorises.iter().filter(|l| l.closed_after.is_none()).count()
        );
        for loris in lorises.iter_mut() {
            let Some(conn) = loris.conn.as_mut() else {
                continue;
            };
            if loris.trickles {
                // After the server's FIN it still takes (and drops) bytes while it
                // lingers, so a write fails only on a reset.
                conn.write_all(b"x").expect("trickle a byte");
                loris.since.get_or_insert_with(Instant::now);
            }
            match conn.read(&mut buf) {
                Ok(0) => {
                    loris.closed_after = loris.since.map(|at| at.elapsed());
                    loris.conn = None;
                }
                Ok(n) => panic!(
                    "the server sent {:?} to a connection that never ended a line",
                    String::from_utf8_lossy(&buf[..n])
                ),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("a slowloris connection ended with {e}, not a FIN"),
            }
        }
        thread::sleep(TRICKLE_INTERVAL);
    }
    done.store(true, Ordering::Release);
    let mut latencies = normal.join().expect("the normal client lost its echo");
    let frame = server.await_count(&["connection closed", "reason=frame timeout"], TRICKLERS);
    let idle = server.await_count(&["connection closed", "reason=idle timeout"], SILENT);
    assert_eq!(frame.len(), TRICKLERS, "{frame:#?}");
    assert_eq!(idle.len(), SILENT, "{idle:#?}");

    let range = |trickles: bool| {
        let times: Vec<Duration> = lorises
            .iter()
            .filter(|l| l.trickles == trickles)
            .map(|l| l.closed_after.unwrap())
            .collect();
        (*times.iter().min().unwrap(), *times.iter().max().unwrap())
    };
    let (frame_min, frame_max) = range(true);
    let (idle_min, idle_max) = range(false);
    let (p99, max) = (latencies.percentile(99.0), latencies.max());
    figure(
        2,
        None,
        &format!(
            "{TRICKLERS} tricklers closed by the 1 s frame timeout after {:.2}–{:.2} s, \
             {SILENT} silent ones by the 2 s idle timeout after {:.2}–{:.2} s (bound: timer + \
             {} s), every one by FIN; server RSS {:.1} MiB with all {connections} open; normal \
             client {} round trips meanwhile, p99 {}, max {} (bound {})",
            frame_min.as_secs_f64(),
            frame_max.as_secs_f64(),
            idle_min.as_secs_f64(),
            idle_max.as_secs_f64(),
            CLOSE_SLACK.as_secs(),
            mib(peak_connections_rss),
            latencies.len(),
            ms(p99),
            ms(max),
            ms(NORMAL_BOUND),
        ),
    );
    // A millisecond clock may fire a hair before the wall clock says so.
    let early = Duration::from_millis(10);
    assert!(frame_min + early >= FRAME_TIMEOUT, "{frame_min:?}");
    assert!(frame_max <= FRAME_TIMEOUT + CLOSE_SLACK, "{frame_max:?}");
    assert!(idle_min + early >= IDLE_TIMEOUT, "{idle_min:?}");
    assert!(idle_max <= IDLE_TIMEOUT + CLOSE_SLACK, "{idle_max:?}");
    assert!(max <= NORMAL_BOUND, "the normal client waited {}", ms(max));
}
