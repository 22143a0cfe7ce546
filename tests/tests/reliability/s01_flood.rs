//! Scenario 1: a client that sends hundreds of MiB and never reads.
//!
//! Its echo fills its own receive buffer, then the server's send buffer, then the
//! connection's output queue up to the high watermark; there the core stops taking input,
//! the server's receive buffer fills and the flooder's writes block. The server's memory
//! must stay within its configured buffers all along, the other clients must keep getting
//! their echo promptly, and the write-stall timeout must abort the flooder.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::figure;
use crate::kind::{is_timeout, Kind};
use crate::pattern::{ms, Latencies, Shape, Stream};
use crate::support::{mib, number, serial, Server, LIMIT};

/// What the flooder tries to send: far beyond every buffer between it and the core.
const FLOOD: usize = 256 << 20;
const STALL: &str = "2s";
/// Clients that keep echoing beside the flooder.
const BYSTANDERS: usize = 4;

/// Growth of the server's peak RSS over its RSS with the bystanders connected. The
/// configured buffers of the five connections come to 5 × 64 KiB (high watermark) plus
/// one 64-byte frame each; the read buffers (64 KiB per thread) exist from the start.
/// Measured: 64 KiB. The bound leaves a wide margin for allocator slack and is still far
/// below what the flooder pushes (about 10 MiB).
const RSS_GROWTH_BOUND_KIB: u64 = 2 * 1024;
/// Slowest bystander round trip allowed while the flood is on. A debug server on a loaded
/// 2-core CI machine: measured p99 around a millisecond, max in the tens.
const BYSTANDER_BOUND: Duration = Duration::from_millis(500);

#[test]
fn scenario_01_a_flooder_that_never_reads_is_bounded_and_aborted() {
    let _serial = serial();
    for kind in Kind::ALL {
        flooder_is_bounded(kind);
    }
}

fn flooder_is_bounded(kind: Kind) {
    let server = Server::start(
        kind,
        &[
            "--mode",
            "raw",
            "--threads",
            "2",
            "--write-stall-timeout",
            STALL,
        ],
    );
    let mut bystanders: Vec<_> = (0..BYSTANDERS).map(|_| server.connect()).collect();
    for (i, client) in bystanders.iter_mut().enumerate() {
        let hello = format!("bystander {i}");
        client
            .roundtrip(hello.as_bytes(), hello.as_bytes())
            .unwrap();
    }
    let baseline = server.rss_kib();
    server.reset_peak_rss();

    let flooder = server.connect();
    let flooder_addr = flooder.local_addr();
    // The reading half stays alive (and unread) until the end: dropping it is harmless
    // for TCP, but a kind with shared state may close on it.
    let (_unread, mut writer) = flooder.split();
    let flooding = Arc::new(AtomicBool::new(true));
    let started = Instant::now();
    let flood = {
        let flooding = Arc::clone(&flooding);
        thread::spawn(move || {
            // A short timeout so the loop notices a stall and keeps trying; the server's
            // abort ends it, or the safety limit.
            writer.set_timeout(Duration::from_millis(100)).unwrap();
            let chunk = Stream::new(1, Shape::Raw).take(1 << 20);
            let mut sent = 0usize;
            let outcome = loop {
                if sent >= FLOOD {
                    break Err(format!("the server took all {FLOOD} bytes without reading"));
                }
                if started.elapsed() > LIMIT {
                    break Err(format!("not aborted within {LIMIT:?}"));
                }
                match writer.write(&chunk) {
                    Ok(n) => sent += n,
                    Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => break Ok(e),
                }
            };
            flooding.store(false, Ordering::Release);
            (outcome, sent, started.elapsed())
        })
    };

    // Bystanders echo while the flood is on, one thread each; each round trip is timed.
    let echoing: Vec<_> = bystanders
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            let flooding = Arc::clone(&flooding);
            thread::spawn(move || {
                let mut latencies = Latencies::default();
                let mut stream = Stream::new(100 + i as u64, Shape::Raw);
                while flooding.load(Ordering::Acquire) {
                    let message = stream.take(64);
                    let at = Instant::now();
                    client.roundtrip(&message, &message).unwrap();
                    latencies.push(at.elapsed());
                }
                latencies
            })
        })
        .collect();

    let (outcome, sent, took) = flood.join().unwrap();
    let error = outcome.unwrap_or_else(|e| panic!("the flooder: {e}"));
    assert!(
        matches!(
            error.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
        ),
        "the flooder ended with {error}, not the server's abort"
    );
    let mut latencies = Latencies::default();
    for handle in echoing {
        latencies.extend(handle.join().expect("a bystander lost its echo"));
    }
    let line = server.await_log(&[
        "connection closed",
        &flooder_addr.to_string(),
        "reason=write stall timeout",
    ]);
    assert!(number(&line, "duration_ms") >= 2000, "{line}");
    let growth = server.peak_rss_kib().saturating_sub(baseline);
    let (p99, max) = (latencies.percentile(99.0), latencies.max());
    figure(
        1,
        Some(kind),
        &format!(
            "flooder pushed {:.1} MiB of {} MiB attempted, aborted after {:.1} s by the \
             {STALL} write-stall timeout; server RSS {:.1} MiB, peak growth {} KiB (bound {} \
             KiB); {} bystander round trips meanwhile, p99 {}, max {} (bound {})",
            sent as f64 / (1 << 20) as f64,
            FLOOD >> 20,
            took.as_secs_f64(),
            mib(baseline),
            growth,
            RSS_GROWTH_BOUND_KIB,
            latencies.len(),
            ms(p99),
            ms(max),
            ms(BYSTANDER_BOUND),
        ),
    );
    assert!(
        growth <= RSS_GROWTH_BOUND_KIB,
        "the server's RSS grew by {growth} KiB under the flood"
    );
    assert!(latencies.len() >= BYSTANDERS, "the bystanders never echoed");
    assert!(
        max <= BYSTANDER_BOUND,
        "a bystander waited {} for its echo",
        ms(max)
    );
    // And the server still serves.
    server.connect().roundtrip(b"after", b"after").unwrap();
}
