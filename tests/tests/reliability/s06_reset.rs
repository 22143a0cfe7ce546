//! Scenario 6: clients that reset mid-echo. Each sends half a megabyte, reads one byte of
//! its echo and closes with `SO_LINGER` 0: its kernel sends a reset while the server still
//! has echo queued for it. The server logs each with its reason and peer, and the clients
//! echoing beside them see every byte.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use socket2::SockRef;

use crate::figure;
use crate::kind::{is_timeout, Kind};
use crate::pattern::{ms, Latencies, Shape, Stream};
use crate::support::{serial, Server, LIMIT};

const RUDE: usize = 50;
const BYSTANDERS: usize = 10;
const SENT: usize = 512 << 10;
/// Slowest bystander round trip. Measured: a few milliseconds.
const BYSTANDER_BOUND: Duration = Duration::from_millis(500);

#[test]
fn scenario_06_clients_resetting_mid_echo_are_logged_and_touch_no_one_else() {
    let _serial = serial();
    let mut server = Server::start(Kind::Tcp, &["--mode", "raw", "--threads", "2"]);
    let going = Arc::new(AtomicBool::new(true));
    let bystanders: Vec<_> = (0..BYSTANDERS)
        .map(|i| {
            let mut conn = server.connect();
            let going = Arc::clone(&going);
            thread::spawn(move || {
                let mut stream = Stream::new(600 + i as u64, Shape::Raw);
                let mut latencies = Latencies::default();
                let mut bytes = 0u64;
                while going.load(Ordering::Acquire) {
                    let message = stream.take(1024);
                    let at = Instant::now();
                    conn.roundtrip(&message, &message)
                        .unwrap_or_else(|e| panic!("bystander {i} after {bytes} bytes: {e}"));
                    latencies.push(at.elapsed());
                    bytes += message.len() as u64;
                }
                conn.finish().unwrap();
                assert!(conn.read_to_eof().unwrap().is_empty());
                (latencies, bytes)
            })
        })
        .collect();

    let mut rude_peers = Vec::new();
    for i in 0..RUDE {
        let mut conn = server.connect();
        rude_peers.push(conn.local_addr().to_string());
        let payload = Stream::new(700 + i as u64, Shape::Raw).take(SENT);
        // Half a megabyte cannot all be echoed into a client that reads one byte: the
        // server is mid-echo when the reset lands. Once every buffer on the way is full
        // the writes block: that is as far as this client goes.
        conn.tcp()
            .set_write_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut sent = 0;
        while sent < SENT {
            match conn.write(&payload[sent..]) {
                Ok(n) => sent += n,
                Err(e) if is_timeout(&e) => break,
                Err(e) => panic!("rude client {i}: {e}"),
            }
        }
        let mut first = [0u8; 1];
        conn.read_exact(&mut first).unwrap();
        assert_eq!(first[0], payload[0]);
        SockRef::from(conn.tcp())
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(conn);
    }
    let resets = server.await_count(&["connection closed", "reason=reset"], RUDE);
    going.store(false, Ordering::Release);
    let mut latencies = Latencies::default();
    let mut echoed = 0;
    for handle in bystanders {
        let (l, bytes) = handle.join().expect("a bystander was disturbed");
        latencies.extend(l);
        echoed += bytes;
    }
    for peer in &rude_peers {
        assert!(
            resets
                .iter()
                .any(|line| line.contains(&format!("peer={peer} "))),
            "no reset logged for {peer}:\n{}",
            resets.join("\n")
        );
    }
    server.signal("TERM");
    let (status, summary, _) = server.wait_exit(LIMIT);
    assert!(status.success(), "{status:?}");
    let (p99, max) = (latencies.percentile(99.0), latencies.max());
    figure(
        6,
        None,
        &format!(
            "{RUDE} clients reset mid-echo, each logged as reason=reset with its peer; \
             {BYSTANDERS} bystanders echoed {:.1} MiB meanwhile, every byte verified, round \
             trip p99 {}, max {} (bound {}); {summary}",
            echoed as f64 / (1 << 20) as f64,
            ms(p99),
            ms(max),
            ms(BYSTANDER_BOUND)
        ),
    );
    assert_eq!(resets.len(), RUDE, "{}", resets.join("\n"));
    assert!(
        summary.contains(&format!(
            "{} connections ({BYSTANDERS} graceful, 0 faults, 0 peer errors, 0 timed out, \
             {RUDE} reset)",
            RUDE + BYSTANDERS
        )),
        "{summary}"
    );
    assert!(max <= BYSTANDER_BOUND, "a bystander waited {}", ms(max));
}
